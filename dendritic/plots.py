"""Figures (matplotlib, Agg backend), saved atomically next to the results file."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dendritic.io import atomic_path  # noqa: E402

__all__ = ["save_figure", "population_figure", "population_rate"]


def save_figure(figure, path, dpi: int = 120) -> Path:
    """Save ``figure`` to ``path`` (format from the suffix) through a temporary file and
    an atomic rename, then close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def population_rate(times_s, n_neurons: int, duration_s: float, bin_s: float = 0.01):
    """Population firing rate (Hz) in bins of ``bin_s``: (bin centres, rate)."""
    edges = np.arange(0.0, duration_s + bin_s / 2, bin_s)
    counts, _ = np.histogram(times_s, bins=edges)
    return (edges[:-1] + edges[1:]) / 2, counts / (n_neurons * bin_s)


def population_figure(results: dict, population: str, duration_s: float, title: str = ""):
    """Raster, example compartment potentials, population rate, and each neuron's
    measured firing rate against its mean Poisson intensity phi(u)."""
    spikes = results["spikes"][population]
    states = results["states"][population]
    i, t = np.asarray(spikes["i"]), np.asarray(spikes["t"])
    n = int(spikes["N"])
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))

    ax = axes[0, 0]
    shown = i < min(n, 100)
    ax.plot(t[shown], i[shown], "|", ms=3, color="k")
    ax.set(xlabel="time (s)", ylabel="neuron", title=f"{population}: spikes (first {min(n, 100)})", xlim=(0, duration_s))

    ax = axes[0, 1]
    time = np.asarray(states["t"])
    for name, style in [("v_basal", "C0"), ("v_apical", "C1"), ("u", "k"), ("dendritic_prediction", "C2--")]:
        if name in states:
            ax.plot(time, np.asarray(states[name][0]) * 1e3, style, lw=1, label=name)
    ax.set(xlabel="time (s)", ylabel="potential (mV)", title="neuron 0: compartments")
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[1, 0]
    centres, rate = population_rate(t, n, duration_s)
    ax.plot(centres, rate, color="k")
    ax.set(xlabel="time (s)", ylabel="rate (Hz)", title="population rate (10 ms bins)", xlim=(0, duration_s))

    ax = axes[1, 1]
    if "rate" in states:
        neurons = np.asarray(states["neurons"])
        expected = np.asarray(states["rate"]).mean(axis=1)
        measured = np.bincount(i, minlength=n)[neurons] / duration_s
        ax.plot(expected, measured, ".", alpha=0.6)
        top = max(expected.max(), measured.max()) * 1.05
        ax.plot([0, top], [0, top], "k--", lw=1, label="identity")
        ax.set(xlabel="mean phi(u) (Hz)", ylabel="measured rate (Hz)", title="Poisson output matches phi(u)")
        ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
