"""Burst-dependent synaptic plasticity (BDSP).

Source: Payeur, Guerguiev, Zenke, Richards & Naud 2021 (Nature Neuroscience), Eq. for
dw/dt in Methods; published code ``AdaptiveEBCPConnection.cpp`` in
``apayeur/spikingburstprop``::

    dw/dt = eta [B_post(t) - P_bar(t) E_post(t)] E_tilde_pre(t)

- ``E_post``, ``B_post``: the postsynaptic event and burst trains (sums of deltas,
  :mod:`dendritic.bursts`);
- ``E_tilde_pre``: presynaptic event trace, E_tilde += 1 at each presynaptic event,
  decaying with tau_pre (20 ms in Fig. 2, 100 ms in the XOR network);
- ``P_bar = min(B_bar / E_bar, P_max)``: the postsynaptic neuron's running burst
  probability, from moving averages of its event and burst trains (tau_avg; 5 s, 2 s in
  XOR), E_bar += 1/tau_avg at each event and B_bar += 1/tau_avg at each burst, so both
  read as rates in Hz; P_max = 1 caps it, and P_bar = 0 while E_bar = 0.

So at each postsynaptic event w -= eta P_bar E_tilde_pre, at each postsynaptic burst
w += eta E_tilde_pre: potentiation when the burst probability exceeds its running
average, depression when below, zero on average at P = P_bar.

Optional homeostasis (as in the published code; off when ``homeostasis = 0``):
at postsynaptic events and bursts an extra depression
eta * homeostasis * max(E_bar/rate_max - 1, 0) * E_tilde_pre, and at each presynaptic
event an extra potentiation eta * homeostasis * max(1 - E_bar/rate_min, 0).
(The published code adds rate differences in Hz to a rule scaled by E_bar; here the
terms are made dimensionless by the target rates.) Weights are clipped to
[w_min, w_max] = [0, 1] after each update, as in the published code.

Implementation, so that it scales and is exact on every target:

- per neuron, once: the presynaptic trace E_tilde and the postsynaptic averages E_bar,
  B_bar decay by the exact factor exp(-dt/tau) once per step (a ``run_regularly`` at
  the end of the step, the factor hoisted out of the loop by Brian), so that their
  value during step n is their value at t_n; at each
  postsynaptic event the neuron computes P_bar and its homeostatic factor *before*
  adding the event to its averages (the running estimate excludes the current event),
  then increments; these neuron updates run before synaptic propagation
  (:func:`dendritic.bursts.register_event_code`), so the presynaptic trace seen at time
  t includes events at t;
- per synapse, only on postsynaptic events and bursts (``on_post`` pathways triggered by
  the custom events), and on presynaptic events when homeostasis is on: one
  multiply-add and a clip. No clock-driven synaptic work, no ``network_operation``.
"""

from __future__ import annotations

import numpy as np
from brian2 import Synapses, ms, second

from dendritic import config as cfg

__all__ = ["PARAMETERS", "presynaptic_equations", "presynaptic_event_code", "postsynaptic_equations",
           "postsynaptic_event_code", "attach_presynaptic", "attach_postsynaptic", "initialise_postsynaptic",
           "synapses", "reference_weights"]

#: Parameters of the rule (for TOML files; defaults from Payeur et al. 2021, Fig. 2).
PARAMETERS = {
    "eta": cfg.Number(bound="nonnegative", doc="learning rate", default=0.1),
    "tau_pre": cfg.Quantity(unit=ms, bound="positive", doc="presynaptic event trace", default="20 ms"),
    "tau_avg": cfg.Quantity(unit=ms, bound="positive", doc="moving averages E_bar, B_bar", default="5 s"),
    "P_max": cfg.Number(bound="nonnegative", maximum=1.0, doc="cap of P_bar", default=1.0),
    "w_min": cfg.Number(doc="lower weight bound", default=0.0),
    "w_max": cfg.Number(doc="upper weight bound", default=1.0),
    "homeostasis": cfg.Number(bound="nonnegative", doc="gain of the homeostatic terms (0: off)", default=0.0),
    "rate_min": cfg.Quantity(unit=1 / second, bound="positive", doc="event rate below which w grows",
                             default="2 Hz"),
    "rate_max": cfg.Quantity(unit=1 / second, bound="positive", doc="event rate above which w shrinks",
                             default="10 Hz"),
}

_SYNAPSE_PARAMETERS = ("eta", "w_min", "w_max", "homeostasis")


def presynaptic_equations() -> str:
    return "E_tilde : 1  # presynaptic event trace\ntau_trace : second (shared, constant)  # tau_pre of the paper"


def presynaptic_event_code() -> dict:
    return {"event": ["E_tilde += 1"]}


def postsynaptic_equations() -> str:
    return "\n".join([
        "E_bar : hertz  # moving average of the event train",
        "B_bar : hertz  # moving average of the burst train",
        "P_bar : 1  # running burst probability, before the current event",
        "homeostatic_depression : 1",
        "homeostatic_potentiation = homeostasis_gain*clip(1 - E_bar/rate_min, 0, 1) : 1",
        "tau_avg : second (shared, constant)",
        "P_max : 1 (shared, constant)",
        "homeostasis_gain : 1 (shared, constant)",
        "rate_min : hertz (shared, constant)",
        "rate_max : hertz (shared, constant)",
    ])


def postsynaptic_event_code() -> dict:
    depression = "homeostatic_depression = homeostasis_gain*clip(E_bar/rate_max - 1, 0, inf)"
    return {
        "event": [
            "P_bar = clip(B_bar/(E_bar + int(E_bar == 0*hertz)*hertz), 0, P_max)",
            depression,
            "E_bar += 1/tau_avg",
        ],
        "burst": [depression, "B_bar += 1/tau_avg"],
    }


def attach_presynaptic(group, tau_pre) -> None:
    """Set tau_pre and the exact per-step decay of E_tilde (the group must include
    :func:`presynaptic_equations` and :func:`presynaptic_event_code`)."""
    group.tau_trace = tau_pre
    group.run_regularly("E_tilde = E_tilde*exp(-dt/tau_trace)", when="end", name=f"{group.name}_bdsp_pre_decay")


def attach_postsynaptic(group, tau_avg, P_max=1.0, homeostasis=0.0, rate_min=None, rate_max=None) -> None:
    """Set the averaging parameters and the exact per-step decay of E_bar and B_bar."""
    defaults = cfg.validate({}, PARAMETERS)
    group.tau_avg = tau_avg
    group.P_max = P_max
    group.homeostasis_gain = homeostasis
    group.rate_min = rate_min if rate_min is not None else defaults["rate_min"]
    group.rate_max = rate_max if rate_max is not None else defaults["rate_max"]
    group.run_regularly("E_bar = E_bar*exp(-dt/tau_avg)\nB_bar = B_bar*exp(-dt/tau_avg)", when="end",
                        name=f"{group.name}_bdsp_post_decay")


def initialise_postsynaptic(group, event_rate=0.0, burst_probability=0.0) -> None:
    """Starting estimates of the moving averages (the published protocols start at
    E_bar = the event rate, B_bar = 0.2 E_bar)."""
    from brian2 import Hz

    group.E_bar = float(event_rate) * Hz
    group.B_bar = float(event_rate) * float(burst_probability) * Hz
    group.P_bar = burst_probability
    group.homeostatic_depression = 0


def synapses(pre, post, i, j, w, eta: float, w_min: float = 0.0, w_max: float = 1.0, homeostasis: float = 0.0,
             transmit: str | None = None, transmit_on: str = "spike", name: str | None = None) -> Synapses:
    """BDSP synapses from ``pre`` (with the presynaptic trace) to ``post`` (with the
    averages and the custom events ``event``, ``burst``), connected by the index
    arrays ``i``, ``j`` with initial weights ``w``.

    ``transmit``: optional code for the synaptic effect on ``transmit_on`` presynaptic
    events (e.g. ``"g_ampa_d_post += w"``). The learning rate and bounds are
    ``(shared, constant)`` synaptic variables, changeable through ``run_args``.
    ``homeostasis`` > 0 adds the presynaptic homeostatic pathway (its gain is the
    postsynaptic group's ``homeostasis_gain``).
    """
    model = "\n".join(["w : 1", "eta : 1 (shared, constant)", "w_min : 1 (shared, constant)",
                       "w_max : 1 (shared, constant)"])
    on_pre, on_event = {}, {}
    if transmit:
        on_pre["transmit"] = transmit
        on_event["transmit"] = transmit_on
    if homeostasis > 0:
        on_pre["homeostasis"] = "w = clip(w + eta*homeostatic_potentiation_post, w_min, w_max)"
        on_event["homeostasis"] = "event"
    on_post = {
        "post_event": "w = clip(w - eta*(P_bar_post + homeostatic_depression_post)*E_tilde_pre, w_min, w_max)",
        "post_burst": "w = clip(w + eta*(1 - homeostatic_depression_post)*E_tilde_pre, w_min, w_max)",
    }
    on_event.update({"post_event": "event", "post_burst": "burst"})
    connection = Synapses(pre, post, model, on_pre=on_pre, on_post=on_post, on_event=on_event,
                          name=name or "bdsp*", namespace={})
    connection.connect(i=np.asarray(i), j=np.asarray(j))
    connection.w = w
    connection.eta = eta
    connection.w_min = w_min
    connection.w_max = w_max
    return connection


# ---------------------------------------------------------------------------------------
# Independent NumPy recomputation


def reference_weights(pre_events, post_events, post_bursts, i, j, w_initial, dt: float, eta: float,
                      tau_pre: float, tau_avg: float, E_bar_initial: float, B_bar_initial: float,
                      P_max: float = 1.0, w_min: float = 0.0, w_max: float = 1.0):
    """The final weights of BDSP synapses (no homeostasis) from event and burst times.

    ``pre_events``: one array of event times per presynaptic neuron; ``post_events`` and
    ``post_bursts``: the same per postsynaptic neuron (seconds, on the dt grid);
    ``i``, ``j``: synapse indices; ``w_initial``: starting weights. Traces are summed
    directly over all past events (no recursion), with the conventions of the Brian
    implementation: E_tilde(t) includes presynaptic events at t; P_bar at an event
    uses the averages before that event (E_bar(0), B_bar(0) decaying from t = 0).
    """
    def steps(times):
        return np.rint(np.asarray(times, dtype=float) / dt).astype(np.int64)

    pre_steps = [steps(times) for times in pre_events]
    weights = np.array(w_initial, dtype=float)
    for post in np.unique(j):
        event_steps, burst_steps = steps(post_events[post]), steps(post_bursts[post])
        updates = []  # (step, kind): kind 0 = event, 1 = burst
        for n in event_steps:
            earlier_events = event_steps[event_steps < n]
            earlier_bursts = burst_steps[burst_steps < n]
            decay0 = np.exp(-n * dt / tau_avg)
            E_bar = E_bar_initial * decay0 + np.exp(-(n - earlier_events) * dt / tau_avg).sum() / tau_avg
            B_bar = B_bar_initial * decay0 + np.exp(-(n - earlier_bursts) * dt / tau_avg).sum() / tau_avg
            P_bar = 0.0 if E_bar == 0 else min(max(B_bar / E_bar, 0.0), P_max)
            updates.append((n, -P_bar))
        updates += [(n, 1.0) for n in burst_steps]
        updates.sort()
        for synapse in np.flatnonzero(j == post):
            spikes = pre_steps[i[synapse]]
            w = weights[synapse]
            for n, factor in updates:
                earlier = spikes[spikes <= n]
                trace = np.exp(-(n - earlier) * dt / tau_pre).sum()
                w = min(max(w + eta * factor * trace, w_min), w_max)
            weights[synapse] = w
    return weights
