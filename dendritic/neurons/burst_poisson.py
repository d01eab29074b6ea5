"""The neuron of the XOR network of Payeur et al. 2021: bursts drawn at random from the
dendritic potential instead of a dendritic plateau.

Source: Payeur, Guerguiev, Zenke, Richards & Naud 2021 (Nature Neuroscience 24:1010,
doi:10.1038/s41593-021-00857-x), Fig. 4; published code ``src/BurstPoissonGroup.cpp``
and ``src/BurstPoissonGroup.h`` in ``apayeur/spikingburstprop`` (a subclass of
``NaudGroup``, ``src/auryn/NaudGroup.cpp`` in ``apayeur/auryn``, whose ``init`` sets
every value the subclass does not), used for all five populations by
``sim/sim_xor.cpp`` (run by ``sim/run_xor.sh``). Parameter file:
``models/neurons/payeur2021_xor.toml``. The plateau neuron of the other figures is
:mod:`dendritic.neurons.bursting` (``payeur_pyramidal``).

Model (``model = "burst_poisson"``)::

    C_s dV_s/dt = -(C_s/tau_s)(V_s - E_L) + b w_s + I_soma + I_syn,s
    C_d dV_d/dt = -(C_d/tau_d)(V_d - E_L) + a w_d + I_dend + I_syn,d
    tau_ws dw_s/dt = -w_s
    tau_wd dw_d/dt = -w_d + (V_d - E_L)
    tau_thr dV_thr/dt = V_T - V_thr
    p(V_d) = 1 / (1 + exp(-(V_d - E_d)/D_d))          (burst probability)

There is no plateau current (neither g_s f(V_d) into the soma nor g_d f(V_d) into the
dendrite), no back-propagated spike, and no coupling between the compartments at all:
``BurstPoissonGroup::integrate_membrane`` has leak, adaptation and synaptic input in
each compartment and nothing else. The dendrite acts on the soma only through the
burst probability. Synapses are NaudGroup's
(:func:`dendritic.neurons.bursting.two_compartment_synapses`): conductances in units of the compartment's leak, decaying
by exp(-dt/tau) per step, AMPA only (``sim_xor.cpp``'s ``initialize_pyr_neurons`` sets
``set_nmda_ampa_current_ampl_ratio(0.)``), and the dendritic synapses' driving force
from the somatic potential (``LinearComboSynapse``/``ExpCobaSynapse`` read the group's
``mem``); the header option ``dendritic_driving_force = "dendrite"`` gives the physical
form, as for ``payeur_pyramidal``.

Spikes (``BurstPoissonGroup::check_thresholds``), with two integer counters, the
refractory counter R and the burst counter K, both 0 at the start:

- **somatic spike** when V_s > V_thr and R = 0: reset V_s = V_reset, V_thr +=
  delta_thr, w_s += 1, R = t_ref/dt (200 steps: a 20 ms absolute refractory period;
  V_s is *not* clamped while refractory, it integrates on from V_reset, only the
  spike condition is blocked). Two uniform numbers are drawn, r then r_dur; if
  r < p(V_d), with V_d the dendritic potential of this step after its update, then
  K = int((burst_delay_min + r_dur burst_delay_range)/dt) (truncated, as the C++
  cast), 50 to 149 steps with the published 5 ms and 10 ms;
- **second spike** (else, i.e. not on a step with a somatic spike) when K = 1: a
  spike without reset, without threshold or adaptation increment, which sets R =
  t_ref/dt again.

Both counters are decremented by one (when non-zero) in every step's membrane update,
before the spike check, so a counter set to n on step k reads n - j on step k + j: the
second spike comes on step k + n - 1, 49 to 148 steps (4.9 to 14.8 ms) after the
first, each with probability 1/100; the next somatic spike at the earliest on step
k + 200, or 200 steps after a second spike. With the published values the second spike
always falls inside the refractory period of the first, so the two branches never
compete; the code keeps the published precedence anyway (a somatic spike wins and a
pending K = 1 then counts down to 0 unless the new draw replaces it).

Per-step order, as ``BurstPoissonGroup::evolve``: the synapse objects compute their
currents from the start-of-step conductances and V_s, then decay the conductances;
``integrate_membrane`` takes one forward-Euler step of V_s and V_d from the
start-of-step values, decrements the counters, decays w_s by exp(-dt/tau_ws), updates
w_d from the *updated* V_d (written V_d + dt dV_d/dt here) and moves V_thr towards V_T;
then ``check_thresholds``. Brian's forward Euler (``method = "euler"``) uses start-of-step
values for every variable, which is that order; the counters are decremented by a
``run_regularly`` in the ``before_thresholds`` slot, and the spike branches, the draws
(``rand()``, r before r_dur as in the C++) and the resets are the ``NeuronGroup``'s
threshold and reset code: nothing runs in Python, so the kind runs on numpy, cython and
cpp_standalone. Brian's reset code draws r and r_dur for every spiking neuron,
second spikes included (their numbers are not used), so the random stream is not
Auryn's (a boost ``mt19937`` seeded from the simulation seed) but the distribution is.
Injected currents enter the Euler step, as for ``payeur_pyramidal`` (Auryn's
``CurrentInjector`` adds dt I/C after the spike check).

Events and bursts (``detects_bursts``): the custom events ``event`` and ``burst`` of
:mod:`dendritic.bursts` on the same spike condition, so burst-transmitting synapses and
BDSP act on them. The second spike lies 4.9 to 14.8 ms after the first, inside the
16 ms window, and the next spike at least 20 ms later: every somatic spike is an event
and every second spike a burst. The published connections (``TransmitBurstConnection``,
``TransmitEventConnection``, ``EBCPConnection``/``AdaptiveEBCPConnection``) classify
instead with a spike trace of 16 ms time constant against exp(-1), which sums over
spikes: a somatic spike up to about 21-25 ms after the second spike of a burst (trace
exp(-s/16 ms)(1 + exp(-delay/16 ms)) > exp(-1)) or in regular firing near 50 Hz is
there neither event nor burst, while :mod:`dendritic.bursts` counts it as an event. The
presynaptic traces (``SpikingGroup::evolve_traces``) count spikes after the group's
axonal delay (``MINDELAY``, 8 steps), which lengthens the presynaptic window by about
0.8 ms; the postsynaptic ones count them at once.

Defaults (``payeur2021_xor.toml``): NaudGroup's ``init`` for the soma, the dendrite,
the threshold and the synapses (C_s 370 pF, tau_s 16 ms, b -200 pA, tau_ws 100 ms, V_T
-50 mV, delta_thr 2 mV, tau_thr 27 ms, V_reset = E_L = -70 mV, C_d 170 pF, tau_d 7 ms,
a -13 nS, tau_wd 30 ms, tau_ampa 5 ms, tau_gaba 10 ms, E_inh -80 mV, D_d = 1/xi = 6 mV);
``BurstPoissonGroup``'s constructor for E_d = -57 mV (``e_dend``), t_ref = 20 ms
(``abs_ref_period``), burst_delay_range = 10 ms (``burst_duration``) and, in
``check_thresholds``, burst_delay_min = 5 ms. ``sim_xor.cpp`` changes no neuron
parameter; what it sets per population (the somatic potential drawn from N(-70 mV,
5 mV), constant dendritic currents of 400 pA into the output and 500 pA into hidden
population 2) belongs to the circuit. At rest w_d starts at 0.1 mV (``NaudGroup::clear``).
Every parameter is a ``(shared, constant)`` equation variable (``run_args``-tunable);
t_ref/dt is rounded to whole steps (the C++ truncates; the same for 20 ms at 0.1 ms).

``src/EventBurstPoissonGroup.cpp`` (no simulation of the repository uses it, the XOR
network included) differs by an escape-noise somatic spike, probability 1 -
exp(-dt exp((V_s - e_thr)/e_spk_thr)) per step with e_thr = -52 mV, by resetting and
adapting on the second spike too, and by setting the burst counter to ``burst_duration``
(10e-3 cast to an unsigned integer: 0), so that it never bursts; it is not a kind here.
"""

from __future__ import annotations

from collections.abc import Mapping

from brian2 import mV, ms

from dendritic import config as cfg
from dendritic.neurons.bursting import (PYRAMIDAL_PARAMETERS, TWO_COMPARTMENT, _decay, initial_two_compartment,
                                        two_compartment_synapses)
from dendritic.neurons.kinds import ConductanceKind, register

__all__ = ["BURST_POISSON", "SPIKE_CONDITION"]

_SHARED = ("C_s", "tau_s", "E_L", "b", "tau_ws", "V_T", "delta_thr", "tau_thr", "V_reset", "C_d", "tau_d", "a",
           "tau_wd", "burst_window", "tau_ampa", "tau_gaba", "E_exc", "E_inh")

PARAMETERS = {
    **{key: PYRAMIDAL_PARAMETERS[key] for key in _SHARED},
    "E_d": cfg.Quantity(unit=mV, doc="dendritic potential of burst probability 1/2 (e_dend)"),
    "D_d": cfg.Quantity(unit=mV, bound="positive", doc="slope of the burst probability (1/xi)"),
    "t_ref": cfg.Quantity(unit=ms, bound="nonnegative", doc="absolute refractory period after each spike"),
    "burst_delay_min": cfg.Quantity(unit=ms, bound="nonnegative", doc="shortest delay of the second spike"),
    "burst_delay_range": cfg.Quantity(unit=ms, bound="nonnegative",
                                      doc="width of the uniform delay of the second spike (burst_duration)"),
}

_FIRST = "V_s > V_thr and refractory_count == 0"
#: a somatic spike, or the second spike of a burst
SPIKE_CONDITION = f"({_FIRST}) or burst_count == 1"

_RESET = "\n".join([
    f"somatic = int({_FIRST})",
    "burst_drawn = somatic*int(rand() < burst_probability)",
    "burst_steps = int((burst_delay_min + rand()*burst_delay_range)/dt)",
    "burst_count = burst_drawn*burst_steps + (1 - burst_drawn)*burst_count",
    "V_s = somatic*V_reset + (1 - somatic)*V_s",
    "V_thr += somatic*delta_thr",
    "w_s += somatic",
    "refractory_count = int(t_ref/dt + 0.5)",
])

_COUNTDOWN = "\n".join([
    "refractory_count -= int(refractory_count > 0)",
    "burst_count -= int(burst_count > 0)",
])


def _body(options: Mapping[str, str]) -> str:
    return "\n".join([
        "dV_s/dt = (E_L - V_s)/tau_s + (b*w_s + I_soma + I_syn_s)/C_s : volt",
        "dV_d/dt = dendritic_slope : volt",
        "dendritic_slope = (E_L - V_d)/tau_d + (a*w_d + I_dend + I_syn_d)/C_d : volt/second",
        _decay("w_s", "tau_ws"),
        # from the end-of-step V_d, V_d + dt dV_d/dt, as BurstPoissonGroup::integrate_membrane
        "dw_d/dt = (V_d + dt*dendritic_slope - E_L - w_d)/tau_wd : volt",
        "dV_thr/dt = (V_T - V_thr)/tau_thr : volt",
        *two_compartment_synapses(options),
        "burst_probability = 1/(1 + exp(-(V_d - E_d)/D_d)) : 1",
        "refractory_count : integer  # steps left of the absolute refractory period",
        "burst_count : integer  # the second spike comes when it reaches 1",
    ])


def _initial_state(model, group) -> None:
    initial_two_compartment(model, group)
    group.refractory_count = 0
    group.burst_count = 0


BURST_POISSON = register(ConductanceKind(
    name="burst_poisson",
    parameters=PARAMETERS,
    **TWO_COMPARTMENT,
    body=_body,
    threshold=SPIKE_CONDITION,
    reset=_RESET,
    before_thresholds=_COUNTDOWN,
    initial_state=_initial_state,
))
