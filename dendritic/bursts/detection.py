"""Events and bursts: online detection in Brian 2 and its NumPy reference.

Definitions (Payeur et al. 2021, Nature Neuroscience, doi:10.1038/s41593-021-00857-x,
Methods "burst detection"):

- an **event** is the first spike of a train: a spike whose previous spike lies at
  least ``burst_window`` (16 ms) earlier, or the neuron's first spike;
- a **burst** is counted once per train, at its second spike: a spike within
  ``burst_window`` of the previous spike, when that previous spike was an event.
  Third and later spikes of a train are neither events nor new bursts.

Event rate E, burst rate B and burst probability P = B / E follow.

Online, in Brian 2, every group that includes :func:`detection_equations` carries
``t_last_spike`` (time of its last spike) and ``in_burst`` (1 after the second spike
of a train, until the next event), and gets two custom events, ``"event"`` and
``"burst"``, from :func:`detection_events`. Their conditions are evaluated in the
threshold slot on the same state as the spike condition, before the spike's reset
(:func:`detection_reset`) moves ``t_last_spike`` forward. Custom events work on every
target (numpy, cython, cpp_standalone): record them with ``EventMonitor(group,
"event")``, or let synapses act on them (``Synapses(..., on_event={"pre": "burst"})``).

The published Auryn code detects bursts with a spike trace of 16 ms time constant
crossing exp(-1) (``BCPConnection.cpp``); for two spikes that is the same criterion,
for longer trains the trace sums spikes while the definition here uses the last
inter-spike interval, the criterion stated in the paper.
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = [
    "detection_equations",
    "detection_events",
    "detection_reset",
    "initialise_detection",
    "register_event_code",
    "relay_group",
    "classify_spikes",
    "NEVER",
]

#: ``t_last_spike`` of a neuron that has not spiked yet (far in the past, finite so
#: that differences stay finite on every target).
NEVER = -1e4  # seconds


def detection_equations() -> str:
    """State of the online detector and its (run_args-tunable) window."""
    return "\n".join([
        "t_last_spike : second  # time of the neuron's last spike",
        "in_burst : 1  # 1 from the second spike of a train until the next event",
        "burst_window : second (shared, constant)  # maximal interval within a burst",
    ])


def detection_events(spike_condition: str) -> dict:
    """Custom events ``event`` and ``burst`` for a group spiking on ``spike_condition``."""
    spike = f"({spike_condition})"
    return {
        "event": f"{spike} and (t - t_last_spike >= burst_window)",
        "burst": f"{spike} and (t - t_last_spike < burst_window) and (in_burst == 0)",
    }


def detection_reset() -> str:
    """Lines to append to the spike reset (after the custom event conditions were read)."""
    return "in_burst = int(t - t_last_spike < burst_window)\nt_last_spike = t"


def initialise_detection(group, burst_window=None) -> None:
    """No spike yet; optionally set the window (default: keep the group's value)."""
    from brian2 import second

    group.t_last_spike = NEVER * second
    group.in_burst = 0
    if burst_window is not None:
        group.burst_window = burst_window


def register_event_code(group, reset: str, event_code=None) -> None:
    """Attach the spike reset and any extra code triggered by ``spike``, ``event`` or
    ``burst`` to ``group``, all in the ``after_thresholds`` slot, after the custom
    events' thresholders (which Brian places in that slot with order 0).

    Brian allows one code block per event and group, so every module's lines for an
    event are joined here (``event_code`` maps an event to a list of code strings).
    Running them before the ``synapses`` slot means synapses see this step's updates:
    the short-term plasticity release of the current spike, and presynaptic traces
    that include the current event (trace(t) sums events at times <= t).
    """
    event_code = {key: list(lines) for key, lines in (event_code or {}).items()}
    if "spike" not in group.events:
        raise ValueError(f"{group.name}: no threshold")
    unknown = set(event_code) - set(group.events)
    if unknown:
        raise ValueError(f"{group.name}: no event(s) {sorted(unknown)}; it has {sorted(group.events)}")
    event_code.setdefault("spike", [])
    event_code["spike"].insert(0, reset)
    for event, lines in event_code.items():
        code = "\n".join(line for line in lines if line)
        if code:
            # custom-event thresholders also sit in "after_thresholds" (order 0): run after them
            group.run_on_event(event, code, when="after_thresholds", order=1)


@contextlib.contextmanager
def reset_added_later():
    """Create a thresholded ``NeuronGroup`` whose reset :func:`register_event_code` adds
    afterwards, without Brian's warning about a threshold without reset."""
    import logging

    logger = logging.getLogger("brian2.groups.neurongroup.only_threshold")
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


def relay_group(N: int, name: str, extra_equations: str = "", event_code=None, burst_window=16e-3):
    """Neurons that spike when told to (``forced = 1``, e.g. by a ``SpikeGeneratorGroup``
    through ``Synapses(..., on_pre="forced_post = 1")``, one step later), with the same
    online event and burst detection as the bursting neuron: imposed spike trains for
    plasticity protocols and tests."""
    from brian2 import NeuronGroup, second

    equations = "\n".join(["forced : 1", detection_equations(), extra_equations])
    with reset_added_later():
        group = NeuronGroup(N, equations, threshold="forced > 0.5", events=detection_events("forced > 0.5"),
                            name=name, namespace={})
    register_event_code(group, "forced = 0\n" + detection_reset(), event_code)
    group.burst_window = burst_window * second
    return group


# ---------------------------------------------------------------------------------------
# NumPy reference


def classify_spikes(i, t, burst_window: float):
    """Classify recorded spikes into events and bursts, neuron by neuron.

    ``i``, ``t``: spike indices and times (seconds, plain floats), in any order.
    Returns ``(order, is_event, is_burst)``: ``order`` sorts the spikes by neuron then
    time, and the two boolean arrays refer to the sorted spikes. A plain NumPy
    reimplementation of the online detector, used to check it.
    """
    i = np.asarray(i)
    t = np.asarray(t, dtype=float)
    order = np.lexsort((t, i))
    i_sorted, t_sorted = i[order], t[order]
    same_neuron = np.zeros(len(t_sorted), dtype=bool)
    same_neuron[1:] = i_sorted[1:] == i_sorted[:-1]
    interval = np.full(len(t_sorted), np.inf)
    interval[1:] = t_sorted[1:] - t_sorted[:-1]
    close = same_neuron & (interval < burst_window)
    is_event = ~close
    is_burst = np.zeros(len(t_sorted), dtype=bool)
    is_burst[1:] = close[1:] & is_event[:-1]  # second spike of a train
    return order, is_event, is_burst
