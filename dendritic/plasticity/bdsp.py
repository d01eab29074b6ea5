"""Burst-dependent synaptic plasticity (BDSP) with its homeostatic terms and a learning gate.

Source: Payeur, Guerguiev, Zenke, Richards & Naud 2021, Nature Neuroscience 24:1010,
doi:10.1038/s41593-021-00857-x (Methods, dw/dt); published code
``src/AdaptiveEBCPConnection.cpp`` (with its bases ``src/EBCPConnection.cpp`` and
``src/BCPConnection.cpp``) in ``apayeur/spikingburstprop``::

    dw/dt = eta [B_post(t) - P_bar(t) E_post(t)] E_tilde_pre(t)

- ``E_post``, ``B_post``: postsynaptic event and burst trains (sums of deltas,
  :mod:`dendritic.bursts`);
- ``E_tilde_pre``: presynaptic event trace, +1 at each presynaptic event (not at the
  later spikes of a burst), decaying with tau_pre;
- ``E_bar``, ``B_bar``: the postsynaptic moving averages, +1/tau_avg at each event and
  burst, decaying with tau_avg (Hz); ``P_bar = min(B_bar/E_bar, P_max)`` is read at each
  event *before* that event is added to E_bar. At E_bar = 0 (a neuron whose averages
  start at 0, at its first event) the published ratio is 0/0, which fails its
  ``BP_estimate < 1`` test, so P_bar = 1 there (here P_max, the cap; 1 by default).

So at each postsynaptic event w += eta (-P_bar - h_dep) E_tilde_pre, at each
postsynaptic burst w += eta (1 - h_dep) E_tilde_pre.

Homeostasis (``homeostasis``; on in the published ``AdaptiveEBCPConnection``, off in
the Fig. 2 burst-Poisson script, which has none), as published:

- depression above the maximal event rate, at postsynaptic events and bursts:
  ``h_dep = (E_bar - rate_max)/E_bar`` if E_bar > rate_max, else 0 (E_bar read before the
  event is added, at a burst after its event was added);
- potentiation below the minimal rate, at each presynaptic event:
  ``w += eta (rate_min - R_post)`` with the rates as numbers in Hz (the published
  code adds Hz to a dimensionless weight; here ``(rate_min - R) * 1 s``), R_post
  without a postsynaptic spike or event of the same time step (the published code
  handles the presynaptic events of a step before the postsynaptic ones). Which rate R
  is compared (``potentiation_estimate``):

  - ``"spikes"`` (default, what the published code computes): S_hom, a moving average
    of *all* postsynaptic spikes (events and the later spikes of bursts alike), +1/tau_hom
    per spike, decaying with ``tau_hom`` = 30 s, starting at ``rate_hom_initial`` = 0.1 Hz.
    ``AdaptiveEBCPConnection`` defines an ``on_pre`` that reads E_bar, but ``on_pre`` is
    not virtual, and the presynaptic pass it inherits (``EBCPConnection::
    propagate_forward``) calls ``BCPConnection::on_pre``, which reads ``tr_hom``: the
    destination group's post trace of 30 s (``BCPConnection::init``:
    ``dst->get_post_trace(30.0)``, set to 30 s x min_rate with min_rate 0.1 Hz at that
    point), with the connection's min_rate (2 Hz in the XOR network);
  - ``"events"``: E_bar, as ``AdaptiveEBCPConnection::on_pre`` is written (never
    called in the published simulations). At E_bar = 0 this is eta * rate_min.

Weights are clipped to [w_min, w_max] after every update (published: [0, max_weight],
max_weight 1).

Learning gate (``stdp_active`` in the published code): every weight update, postsynaptic
and presynaptic (homeostatic) alike, is multiplied by the synaptic variable
``learning_on`` -- 1: plasticity on, 0: off. Either a ``(shared, constant)`` variable
(default 1; set between runs or through ``run_args``), or, with ``gate=`` a
``TimedArray``, ``learning_on = gate(t)``, so that plasticity switches within one run
(e.g. on only in the teaching window of each example). While the gate is off, the
traces and averages (E_tilde, E_bar, B_bar) keep running, as in the published code,
where ``stdp_active = false`` skips only the weight updates.

Defaults: eta 0.1, tau_pre 50 ms and tau_avg 15 s as in the Fig. 2 burst-Poisson script
(``analysis/plasticity-protocol/plot_all_adaptive_rule.py``); other published values:
tau_pre 100 ms with tau_avg 5 s (``sim/run_plasticity_rule.sh``) and 2 s (XOR,
``sim/run_xor.sh``). rate_min 2 Hz and rate_max 12 Hz are the constructor values of
``AdaptiveEBCPConnection``; the XOR network sets rate_max = 10 Hz (``sim/sim_xor.cpp``).

Implementation, exact on every target and without clock-driven synaptic work:

- per neuron: E_tilde, E_bar and B_bar decay by exp(-dt/tau) once per step, at the end of
  the step (as the published traces evolve after the step's plasticity), so that their
  value during step n is their value at t_n; the event code computes P_bar and h_dep and
  then adds the event; it runs before synaptic propagation
  (:func:`dendritic.bursts.register_event_code`), so the presynaptic trace seen at t
  includes the presynaptic events at t, as published; ``event_now`` marks a
  postsynaptic event of the current step, so that the presynaptic pathway sees E_bar
  without it;
- per synapse, only at postsynaptic events and bursts (``on_post`` pathways triggered by
  the custom events) and, with homeostasis, at presynaptic events: one multiply-add
  and a clip. Presynaptic pathways run before postsynaptic ones (Brian's order -1 and
  1), and the homeostatic update after the transmission (pathway names sort so), as
  published. No ``network_operation``.
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, Synapses, TimedArray, ms, second

from dendritic import config as cfg

__all__ = ["PARAMETERS", "presynaptic_equations", "presynaptic_event_code", "postsynaptic_equations",
           "postsynaptic_event_code", "attach_presynaptic", "attach_postsynaptic", "initialise_postsynaptic",
           "synapses"]

#: Parameters of the rule (for TOML files; sources in the module docstring).
PARAMETERS = {
    "eta": cfg.Number(bound="nonnegative", doc="learning rate", default=0.1),
    "tau_pre": cfg.Quantity(unit=ms, bound="positive", doc="presynaptic event trace", default="50 ms"),
    "tau_avg": cfg.Quantity(unit=ms, bound="positive", doc="moving averages E_bar, B_bar", default="15 s"),
    "P_max": cfg.Number(bound="nonnegative", maximum=1.0, doc="cap of P_bar", default=1.0),
    "w_min": cfg.Number(doc="lower weight bound", default=0.0),
    "w_max": cfg.Number(doc="upper weight bound", default=1.0),
    "homeostasis": cfg.Flag(doc="the published homeostatic terms on", default=False),
    "rate_min": cfg.Quantity(unit=1 / second, bound="nonnegative", doc="event rate below which w grows",
                             default="2 Hz"),
    "rate_max": cfg.Quantity(unit=1 / second, bound="positive", doc="event rate above which w shrinks",
                             default="12 Hz"),
    "potentiation_estimate": cfg.Choice(options=("spikes", "events"), default="spikes",
                                        doc="rate compared with rate_min at presynaptic events: 'spikes' the "
                                            "published tr_hom (all spikes, tau_hom), 'events' E_bar"),
    "tau_hom": cfg.Quantity(unit=ms, bound="positive", doc="moving average of all spikes (tr_hom)", default="30 s"),
    "rate_hom_initial": cfg.Quantity(unit=1 / second, bound="nonnegative", doc="starting value of that average",
                                     default="0.1 Hz"),
}

_NO_EVENT_YET = "int(E_bar <= 0*hertz)"  # E_bar = 0 before a neuron's first event


def presynaptic_equations() -> str:
    return "E_tilde : 1  # presynaptic event trace\ntau_trace : second (shared, constant)  # tau_pre of the paper"


def presynaptic_event_code() -> dict:
    return {"event": ["E_tilde += 1"]}


def postsynaptic_equations() -> str:
    return "\n".join([
        "E_bar : hertz  # moving average of the event train",
        "B_bar : hertz  # moving average of the burst train",
        "P_bar : 1  # running burst probability at the last event, before it",
        "homeostatic_depression : 1  # h_dep at the last event or burst",
        "event_now : 1  # 1 during a step with an event",
        "S_hom : hertz  # moving average of all spikes (the published tr_hom)",
        "spike_now : 1  # 1 during a step with a spike",
        # the rate without this step's spike or event: what the published presynaptic pass reads
        "homeostatic_rate = hom_from_spikes*(S_hom - spike_now/tau_hom) + (1 - hom_from_spikes)*(E_bar - "
        "event_now/tau_avg) : hertz",
        "homeostatic_potentiation = homeostasis*clip((rate_min - homeostatic_rate)*second, 0, inf) : 1",
        "tau_avg : second (shared, constant)",
        "tau_hom : second (shared, constant)",
        "hom_from_spikes : 1 (shared, constant)  # 1: potentiation_estimate 'spikes', 0: 'events'",
        "P_max : 1 (shared, constant)",
        "homeostasis : 1 (shared, constant)  # 1: published homeostatic terms, 0: none",
        "rate_min : hertz (shared, constant)",
        "rate_max : hertz (shared, constant)",
    ])


def postsynaptic_event_code() -> dict:
    depression = (f"homeostatic_depression = homeostasis*clip((E_bar - rate_max)/(E_bar + {_NO_EVENT_YET}*hertz), "
                  "0, 1)")
    return {
        "event": [
            f"P_bar = {_NO_EVENT_YET}*P_max + (1 - {_NO_EVENT_YET})*clip(B_bar/(E_bar + {_NO_EVENT_YET}*hertz), "
            "0, P_max)",
            depression,
            "E_bar += 1/tau_avg",
            "event_now = 1",
        ],
        "burst": [depression, "B_bar += 1/tau_avg"],
        "spike": ["S_hom += 1/tau_hom", "spike_now = 1"],
    }


def attach_presynaptic(group, tau_pre) -> None:
    """Set tau_pre and the exact per-step decay of E_tilde (the group must include
    :func:`presynaptic_equations` and :func:`presynaptic_event_code`)."""
    group.tau_trace = tau_pre
    group.run_regularly("E_tilde = E_tilde*exp(-dt/tau_trace)", when="end", name=f"{group.name}_bdsp_pre_decay")


def attach_postsynaptic(group, tau_avg, P_max=1.0, homeostasis=False, rate_min=None, rate_max=None,
                        potentiation_estimate=None, tau_hom=None) -> None:
    """Set the averaging and homeostasis parameters (defaults: :data:`PARAMETERS`) and the
    exact per-step decay of E_bar, B_bar and S_hom. ``homeostasis`` must match the one
    given to :func:`synapses` for the presynaptic term."""
    defaults = cfg.validate({}, PARAMETERS)
    estimate = potentiation_estimate if potentiation_estimate is not None else defaults["potentiation_estimate"]
    options = PARAMETERS["potentiation_estimate"].options
    if estimate not in options:
        raise ValueError(f"bdsp: potentiation_estimate must be one of {options}, got {estimate!r}")
    group.tau_avg = tau_avg
    group.P_max = P_max
    group.homeostasis = float(bool(homeostasis))
    group.rate_min = rate_min if rate_min is not None else defaults["rate_min"]
    group.rate_max = rate_max if rate_max is not None else defaults["rate_max"]
    group.tau_hom = tau_hom if tau_hom is not None else defaults["tau_hom"]
    group.hom_from_spikes = float(estimate == "spikes")
    group.run_regularly("E_bar = E_bar*exp(-dt/tau_avg)\nB_bar = B_bar*exp(-dt/tau_avg)\nevent_now = 0\n"
                        "S_hom = S_hom*exp(-dt/tau_hom)\nspike_now = 0",
                        when="end", name=f"{group.name}_bdsp_post_decay")


def initialise_postsynaptic(group, event_rate=0.0, burst_probability=0.0, spike_rate=None) -> None:
    """Starting estimates of the moving averages, per neuron or for all (numbers in Hz;
    the published protocols start at E_bar = the event rate, B_bar = 0.2 E_bar; the
    published networks at E_bar = B_bar = 0 and S_hom = 0.1 Hz, ``rate_hom_initial``, the
    default of ``spike_rate``)."""
    event_rate = np.asarray(event_rate, dtype=float)
    burst_probability = np.asarray(burst_probability, dtype=float)
    group.E_bar = event_rate * Hz
    group.B_bar = event_rate * burst_probability * Hz
    group.P_bar = burst_probability
    group.homeostatic_depression = 0
    group.event_now = 0
    if spike_rate is None:
        spike_rate = float(cfg.validate({}, PARAMETERS)["rate_hom_initial"] / Hz)
    group.S_hom = np.asarray(spike_rate, dtype=float) * Hz
    group.spike_now = 0


def synapses(pre, post, i, j, w, eta: float, w_min: float = 0.0, w_max: float = 1.0, homeostasis: bool = False,
             gate: TimedArray | None = None, transmit: str | None = None, transmit_on: str = "event",
             name: str | None = None, delay=None) -> Synapses:
    """BDSP synapses from ``pre`` (with the presynaptic trace) to ``post`` (with the
    averages and the custom events ``event``, ``burst``), connected by the index
    arrays ``i``, ``j`` with initial weights ``w`` (inside [w_min, w_max], so that the
    clip leaves them unchanged while the gate is off).

    ``transmit``: optional code for the synaptic effect (e.g. ``"g_ampa_d_post += w"``),
    on presynaptic events by default, as published (``EBCPConnection.cpp`` transmits
    from ``compute_presyn_event_rate``, at events only); ``transmit_on="spike"``
    transmits every spike, the later spikes of bursts too. The learning rate and bounds are
    ``(shared, constant)`` synaptic variables, changeable through ``run_args``.
    ``homeostasis``: add the presynaptic homeostatic pathway (the postsynaptic terms
    follow ``post.homeostasis``, see :func:`attach_postsynaptic`).
    ``gate``: ``None`` for a ``(shared, constant)`` ``learning_on`` (1), or a
    ``TimedArray`` of 0/1 giving ``learning_on(t)``. ``delay``: axonal delay of the
    presynaptic pathways (transmission and homeostatic update; None: none).
    """
    if not isinstance(w, str):
        values = np.asarray(w, dtype=float)
        if np.any(values < w_min) or np.any(values > w_max):
            raise ValueError(f"bdsp.synapses: initial weights must lie in [w_min, w_max] = [{w_min}, {w_max}], "
                             f"got values in [{values.min()}, {values.max()}]")
    model = ["w : 1", "eta : 1 (shared, constant)", "w_min : 1 (shared, constant)", "w_max : 1 (shared, constant)"]
    namespace = {}
    if gate is None:
        model.append("learning_on : 1 (shared, constant)  # 1: plasticity on, 0: off")
    elif isinstance(gate, TimedArray):
        model.append("learning_on = bdsp_learning_gate(t) : 1 (shared)")
        namespace["bdsp_learning_gate"] = gate
    else:
        raise TypeError(f"bdsp.synapses: gate must be None or a brian2.TimedArray, got {type(gate).__name__}")
    on_pre, on_event = {}, {}
    if transmit:
        on_pre["transmit"] = transmit
        on_event["transmit"] = transmit_on
    if homeostasis:
        # named to sort after "transmit": the published code transmits, then updates
        on_pre["update_pre"] = "w = clip(w + learning_on*eta*homeostatic_potentiation_post, w_min, w_max)"
        on_event["update_pre"] = "event"
    on_post = {
        "post_event": "w = clip(w - learning_on*eta*(P_bar_post + homeostatic_depression_post)*E_tilde_pre, "
                      "w_min, w_max)",
        "post_burst": "w = clip(w + learning_on*eta*(1 - homeostatic_depression_post)*E_tilde_pre, w_min, w_max)",
    }
    on_event.update({"post_event": "event", "post_burst": "burst"})
    connection = Synapses(pre, post, "\n".join(model), on_pre=on_pre, on_post=on_post, on_event=on_event,
                          name=name or "bdsp*", namespace=namespace,
                          delay={pathway: delay for pathway in on_pre} if delay is not None else None)
    connection.connect(i=np.asarray(i), j=np.asarray(j))
    connection.w = w
    connection.eta = eta
    connection.w_min = w_min
    connection.w_max = w_max
    if gate is None:
        connection.learning_on = 1
    return connection
