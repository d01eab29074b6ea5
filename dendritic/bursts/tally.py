"""Population event and burst counts in coarse bins, recorded at almost no cost.

The published networks record each population's event and burst rates in bins
(``BurstRateMonitor`` of ``apayeur/spikingburstprop``, 0.4 s bins in ``sim_xor.cpp``),
not spike by spike: over the 16,000 s of the XOR protocol a spike monitor of the 2,500
neurons would hold hundreds of millions of spikes. Here a one-neuron-per-population
group (``population_tally``) counts every event and burst of each population
(``Synapses`` from each neuron to its population's counter, triggered by the custom
events ``event`` and ``burst``, :mod:`dendritic.bursts.detection`), and a
``StateMonitor`` samples the running counts every ``bin``. Differences of consecutive
samples are the counts in [t_k, t_k + bin)::

    E_k = (n_events(t_{k+1}) - n_events(t_k)) / (N bin),   B_k likewise,   P_k = B_k / E_k

The counters are state (``n_events``, ``n_bursts``), so a chunked run
(:mod:`dendritic.continuation`) carries them on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import NeuronGroup, StateMonitor, Synapses

__all__ = ["Tally", "population_tally", "binned_rates"]


@dataclass
class Tally:
    """The counter group, its synapses and monitor (``objects``, to add to the network),
    the counted populations in order and their sizes."""

    group: NeuronGroup
    synapses: list
    monitor: StateMonitor
    names: tuple
    sizes: tuple

    @property
    def objects(self) -> list:
        return [self.group, *self.synapses, self.monitor]


def population_tally(groups: dict, bin, name: str = "population_tally") -> Tally:
    """Counters of events and bursts of each group of ``groups`` (name -> bursting
    ``NeuronGroup``), sampled every ``bin``."""
    names = tuple(groups)
    counter = NeuronGroup(len(names), "n_events : 1\nn_bursts : 1", name=name)
    synapses = []
    for k, key in enumerate(names):
        group = groups[key]
        if "event" not in group.events or "burst" not in group.events:
            raise ValueError(f"population_tally: group {key!r} has no custom events 'event' and 'burst' "
                             "(a bursting population)")
        counting = Synapses(group, counter, on_pre={"count_event": "n_events_post += 1", "count_burst": "n_bursts_post += 1"},
                            on_event={"count_event": "event", "count_burst": "burst"}, name=f"{name}_{key}")
        counting.connect(i=np.arange(len(group)), j=np.full(len(group), k))
        synapses.append(counting)
    monitor = StateMonitor(counter, ["n_events", "n_bursts"], record=True, dt=bin, name=f"{name}_monitor")
    return Tally(counter, synapses, monitor, names, tuple(len(groups[key]) for key in names))


def binned_rates(t, events, bursts, sizes, bin) -> dict:
    """Rates from sampled running counts: ``t`` (n,) sample times in s, ``events`` and
    ``bursts`` (populations, n); returns ``t`` (bin starts, n - 1), ``event_rate`` and
    ``burst_rate`` (populations, n - 1) in Hz, ``burst_probability`` (NaN where no event)."""
    t = np.asarray(t, float)
    events, bursts = np.atleast_2d(events).astype(float), np.atleast_2d(bursts).astype(float)
    if events.shape != bursts.shape or events.shape[-1] != t.size:
        raise ValueError(f"binned_rates: counts of shape {events.shape} and {bursts.shape} for {t.size} samples")
    if t.size > 1 and not np.allclose(np.diff(t), float(bin), rtol=0, atol=1e-9):
        raise ValueError("binned_rates: the samples are not evenly spaced by the bin (a chunk missing?)")
    norm = np.asarray(sizes, float)[:, None] * float(bin)
    d_events, d_bursts = np.diff(events, axis=1), np.diff(bursts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(d_events > 0, d_bursts / d_events, np.nan)
    return {"t": t[:-1], "event_rate": d_events / norm, "burst_rate": d_bursts / norm,
            "burst_probability": probability}
