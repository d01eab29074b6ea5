"""Population signals of events and bursts: event rate E, burst rate B (Hz per neuron)
and burst probability P = B / E in time bins (Payeur et al. 2021, Nature Neuroscience,
doi:10.1038/s41593-021-00857-x, Methods)."""

from __future__ import annotations

import numpy as np

__all__ = ["population_signals"]


def population_signals(event_times, burst_times, n_neurons: int, t_start: float, t_stop: float,
                       bin_width: float, smoothing: float = 0.0) -> dict:
    """Population event rate, burst rate (Hz per neuron) and burst probability.

    Counts in bins of ``bin_width`` seconds between ``t_start`` and ``t_stop``;
    ``smoothing`` > 0 convolves the counts with a Gaussian of that standard deviation
    (seconds) before the rates and the ratio are taken. Burst probability = bursts /
    events per bin (NaN in bins without events).
    """
    edges = np.arange(t_start, t_stop + bin_width / 2, bin_width)
    events, _ = np.histogram(np.asarray(event_times, dtype=float), bins=edges)
    bursts, _ = np.histogram(np.asarray(burst_times, dtype=float), bins=edges)
    events, bursts = events.astype(float), bursts.astype(float)
    if smoothing > 0:
        events, bursts = _gaussian_smooth(events, smoothing / bin_width), _gaussian_smooth(bursts, smoothing / bin_width)
    scale = 1.0 / (n_neurons * bin_width)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(events > 0, bursts / events, np.nan)
    return {
        "time": (edges[:-1] + edges[1:]) / 2,
        "event_rate": events * scale,
        "burst_rate": bursts * scale,
        "burst_probability": probability,
    }


def _gaussian_smooth(counts, sigma_bins: float):
    half = int(np.ceil(4 * sigma_bins))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    kernel /= kernel.sum()
    # normalise by the kernel mass inside the window, so the edges are not biased low;
    # the full convolution cut at the kernel's centre keeps the signal's length even when
    # the kernel is longer than the signal (numpy's mode="same" returns the longer one)
    window = slice(half, half + len(counts))
    smoothed = np.convolve(counts, kernel, mode="full")[window]
    mass = np.convolve(np.ones_like(counts), kernel, mode="full")[window]
    return smoothed / mass
