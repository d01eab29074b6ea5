"""Tsodyks-Markram short-term plasticity with facilitation, kept per presynaptic neuron.

Source: Markram, Wang & Tsodyks 1998 (PNAS); Payeur et al. 2021 (Nature Neuroscience,
doi:10.1038/s41593-021-00857-x), published code Auryn's ``STPConnection.cpp`` (the
``apayeur/auryn`` fork) and ``src/STPeTMConnection.cpp`` in ``apayeur/spikingburstprop``.
Between presynaptic spikes the resources x recover to 1 and the utilisation u relaxes
to U::

    tau_D dx/dt = 1 - x,        tau_F du/dt = U - u

At a transmitted spike the synapse releases ``u x`` (the efficacy that multiplies the
weight), then ``x -> x - u x`` and ``u -> u + f (1 - u)`` (u is the utilisation before
the spike's facilitation). At the start of the run x = 1 and u = u_0.

What the published circuits run (the default presets): ``STPeTMConnection`` adds the
facilitation increment f = 0.1 of the extended model in its own ``push_attributes``, but
that method is never called: ``STPConnection::push_attributes`` is not virtual and
``STPeTMConnection`` does not override ``propagate``, so ``STPConnection::propagate``
runs the base class's update ``u -> u + U (1 - u)``; the published dynamics have f = U.
And ``STPConnection::init`` sets u to 0.01 (its default U) before the circuit's
``set_ujump``, so u starts at 0.01 and relaxes to U from t = 0. The ``*_extended``
presets are the extended model as the paper describes it (f = 0.1, u_0 = U).

Presets (U, tau_D, tau_F from ``set_Depressing_connection`` and
``set_Facilitating_connection`` in ``sim_propagation.cpp``):

=======================  =====  ======  ======  =====  =====
preset                   U      tau_D   tau_F   f      u_0
=======================  =====  ======  ======  =====  =====
depressing               0.9    20 ms   1 s     0.9    0.01   (feedforward: transmits events)
facilitating             0.02   100 ms  100 ms  0.02   0.01   (feedback: transmits bursts)
depressing_extended      0.9    20 ms   1 s     0.1    0.9
facilitating_extended    0.02   100 ms  100 ms  0.1    0.02
=======================  =====  ======  ======  =====  =====

In the multiplexing circuit (Fig. 3) the difference decides the result: with f = 0.1
the feedback synapses facilitate several times more within a burst, population 1's
burst probability nearly doubles and its event rate stops following its somatic input
(r = 0.36 instead of the published code's 0.94, see the README).

As in Auryn the state lives in the presynaptic neuron, not in each synapse: all
synapses of one projection from a neuron share x and u, so the update costs two
exponentials per presynaptic spike, and each synapse only multiplies its weight by
``release_<name>_pre``. Between spikes the solution is exact (evaluated lazily at the
next spike from the time of the last one), so there is no integration error; Auryn's
``STPConnection::evolve`` takes Euler steps of dt instead (a relative difference of
(dt/tau)^2/2 per step: below 0.1 % of x over 10 ms at tau_D = 20 ms).

Use::

    model = model.with_equations(short_term.neuron_equations("ff"))
    group = model.make_group(N, event_code={"spike": [short_term.event_code("ff")]})
    short_term.set_parameters(group, "ff", **short_term.PRESETS["depressing"])
    ...  # Backend.parameters_set
    short_term.initialise(group, "ff")
    Synapses(group, target, "w : 1", on_pre=f"g_ampa_s_post += w*{short_term.efficacy('ff')}")

The idealised alternatives of the published XOR network need no state: transmit only
events or only bursts with ``Synapses(..., on_event={"pre": "event"})`` or ``"burst"``
(see :func:`transmission_event`).
"""

from __future__ import annotations

from brian2 import ms, second

__all__ = ["PRESETS", "TRANSMISSION", "neuron_equations", "event_code", "set_parameters", "initialise",
           "efficacy", "transmission_event"]

PRESETS = {
    "depressing": {"U": 0.9, "tau_D": 20 * ms, "tau_F": 1 * second, "f": 0.9, "u_0": 0.01},
    "facilitating": {"U": 0.02, "tau_D": 100 * ms, "tau_F": 100 * ms, "f": 0.02, "u_0": 0.01},
    "depressing_extended": {"U": 0.9, "tau_D": 20 * ms, "tau_F": 1 * second, "f": 0.1, "u_0": 0.9},
    "facilitating_extended": {"U": 0.02, "tau_D": 100 * ms, "tau_F": 100 * ms, "f": 0.1, "u_0": 0.02},
}

#: What a projection transmits: every spike, only events (first spikes of trains) or
#: only bursts (second spikes), the last two being the idealised channels of the XOR
#: network in Payeur et al. 2021.
TRANSMISSION = {"spikes": "spike", "events": "event", "bursts": "burst"}


def neuron_equations(name: str) -> str:
    """State and parameters of one short-term plasticity channel, for the presynaptic group."""
    return "\n".join([
        f"x_{name} : 1  # available resources",
        f"u_{name} : 1  # utilisation",
        f"release_{name} : 1  # u*x released by the neuron's last transmitted spike",
        f"t_{name} : second  # time of the last transmitted spike",
        f"U_{name} : 1 (shared, constant)",
        f"tau_D_{name} : second (shared, constant)",
        f"tau_F_{name} : second (shared, constant)",
        f"f_{name} : 1 (shared, constant)",
        f"u_0_{name} : 1 (shared, constant)  # utilisation at the start of the run",
    ])


def event_code(name: str) -> str:
    """Neuron code run at each transmitted spike (before synaptic propagation)."""
    return "\n".join([
        f"x_{name} = 1 - (1 - x_{name})*exp(-(t - t_{name})/tau_D_{name})",
        f"u_{name} = U_{name} + (u_{name} - U_{name})*exp(-(t - t_{name})/tau_F_{name})",
        f"release_{name} = u_{name}*x_{name}",
        f"x_{name} = x_{name} - u_{name}*x_{name}",
        f"u_{name} = u_{name} + f_{name}*(1 - u_{name})",
        f"t_{name} = t",
    ])


def set_parameters(group, name: str, U, tau_D, tau_F, f, u_0=None) -> None:
    """The channel's parameters; ``u_0`` (utilisation at the start) defaults to U."""
    for key, value in {"U": U, "tau_D": tau_D, "tau_F": tau_F, "f": f, "u_0": U if u_0 is None else u_0}.items():
        setattr(group, f"{key}_{name}", value)


def initialise(group, name: str) -> None:
    """Full resources (x = 1) and u = u_0 at t = 0 (the start of a new network's run);
    u relaxes to U from there until the first spike (evaluated lazily at that spike)."""
    setattr(group, f"x_{name}", 1.0)
    setattr(group, f"u_{name}", f"u_0_{name}")
    setattr(group, f"release_{name}", 0.0)
    setattr(group, f"t_{name}", 0 * second)


def efficacy(name: str) -> str:
    """Expression for synaptic code: the release of the presynaptic neuron's current spike."""
    return f"release_{name}_pre"


def transmission_event(transmit: str) -> str:
    """Brian event name of a projection that transmits ``"spikes"``, ``"events"`` or ``"bursts"``."""
    if transmit not in TRANSMISSION:
        raise ValueError(f"unknown transmission {transmit!r}; expected one of {', '.join(TRANSMISSION)}")
    return TRANSMISSION[transmit]
