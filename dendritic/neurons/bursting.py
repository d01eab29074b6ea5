"""Bursting two-compartment pyramidal neuron (soma + apical dendrite with a regenerative
plateau) and the adaptive exponential interneurons of the same circuits.

Source: Payeur, Guerguiev, Zenke, Richards & Naud 2021 (Nature Neuroscience 24:1010,
doi:10.1038/s41593-021-00857-x), a reduction of Naud, Bathellier & Gerstner 2014; published code ``NaudGroup.cpp`` in
``apayeur/auryn`` (neuron) and ``apayeur/spikingburstprop`` (circuits). Parameter
files: ``models/neurons/payeur2021.toml`` (pyramidal), ``payeur2021_pv.toml`` and
``payeur2021_som.toml`` (interneurons).

Pyramidal neuron (``model = "payeur_pyramidal"``)::

    C_s dV_s/dt = -(C_s/tau_s)(V_s - E_L) + g_s f(V_d) + b w_s + I_soma + I_syn,s
    C_d dV_d/dt = -(C_d/tau_d)(V_d - E_L) + g_d f(V_d) + a w_d + I_bAP + I_dend + I_syn,d
    tau_ws dw_s/dt = -w_s                        (w_s += 1 at each spike)
    tau_wd dw_d/dt = -w_d + (V_d - E_L)
    tau_thr dV_thr/dt = V_T - V_thr              (V_thr += delta_thr at each spike)
    f(V) = 1 / (1 + exp(-(V - E_d)/D_d))         (dendritic plateau)
    I_bAP = bap_amplitude for bap_duration after each somatic spike
    spike: V_s > V_thr;  reset V_s = V_reset

Synaptic input is conductance-based, with conductances in units of the compartment's
leak (as in Auryn): I_syn,s = (C_s/tau_s)[g_ampa_s (E_exc - V_s) + g_gaba_s (E_inh - V_s)]
and I_syn,d = (C_d/tau_d)[g_ampa_d (E_exc - V_drive) + g_gaba_d (E_inh - V_drive)].
Synapses add jumps to ``g_ampa_s``, ``g_gaba_s``, ``g_ampa_d``, ``g_gaba_d``; they decay
by the exact factor exp(-dt/tau) per step, tau_ampa or tau_gaba, as Auryn's
``LinearComboSynapse``/``ExpCobaSynapse`` (``scale_ampa``).

The driving force of the dendritic synapses is a named option of the parameter file,
``dendritic_driving_force``:

- ``"soma"`` (the published code, default of ``payeur2021.toml``): V_drive = V_s.
  ``NaudGroup`` builds all four synapse objects on the group, and
  ``LinearComboSynapse::evolve`` and ``ExpCobaSynapse::evolve`` take the driving force
  from the group's ``mem``, which is the somatic potential; so a dendritic synapse
  injects g (E_rev - V_s) into the dendrite.
- ``"dendrite"``: V_drive = V_d, the physical form (the synapse sits on the dendrite).

The published circuits set the NMDA share of ``LinearComboSynapse`` to zero
(``set_nmda_ampa_current_ampl_ratio(0.)`` in ``sim_propagation.cpp``), so excitation is
AMPA only here too.

Somatic input alone drives mostly isolated spikes (threshold adaptation and somatic
adaptation space them out); depolarising the apical dendrite brings V_d near the
plateau, the back-propagated spike then triggers it, and g_s f(V_d) drives further
spikes within a few milliseconds: a burst.

Defaults (``payeur2021.toml``, Payeur et al. 2021 Methods; ``NaudGroup::init``):

==================  ===============  =====================================================
C_s, tau_s          370 pF, 16 ms    somatic capacitance, membrane time constant
g_s                 1300 pA          plateau current into the soma
b, tau_ws           -200 pA, 100 ms  somatic adaptation (w_s += 1 per spike)
V_T, delta_thr      -50 mV, 2 mV     threshold at rest, jump per spike
tau_thr             27 ms            threshold relaxation
V_reset, E_L        -70 mV           reset and rest
C_d, tau_d          170 pF, 7 ms     dendritic capacitance and time constant
g_d                 1200 pA          regenerative plateau current into the dendrite
a, tau_wd           -13 nS, 30 ms    dendritic adaptation
E_d, D_d            -38 mV, 6 mV     half-activation and slope of f
bap_amplitude       2600 pA          back-propagated spike, for bap_duration = 2 ms
tau_ampa, tau_gaba  5 ms, 10 ms      synaptic time constants; E_exc 0 mV, E_inh -80 mV
burst_window        16 ms            see :mod:`dendritic.bursts`
==================  ===============  =====================================================

Integration method: forward Euler at dt = 0.1 ms, as published (``NaudGroup::
integrate_membrane``). The plateau term f(V_d) makes the dendrite nonlinear in its own
variable, so Brian's exact and exponential-Euler integrators do not apply; the model
was tuned with Euler at 0.1 ms and its bursts (a few spikes, 4-10 ms apart) are
shaped by that discretisation, so Euler reproduces the published neuron rather than
a more accurate integration of different numbers. The fastest time scale besides the
spike itself is the plateau's regeneration, g_d/(C_d D_d) = 1.2 mV/ms per mV; at
0.1 ms the Euler step is well inside its stability range. The step follows Auryn's
order: w_d is updated from the end-of-step V_d (written V_d + dt dV_d/dt), everything
else from the start-of-step values.
At rest w_d starts at 0.1 mV, as ``NaudGroup::clear`` (``state_wdend->set_all(1e-4)``).
The back-propagated current is on during the 20 steps after the spike, as Auryn's
box kernel (a half-step margin makes the comparison immune to rounding of t).

Interneurons (``model = "adex"``, Auryn's ``AdExGroup``; PV and SOM parameter sets from
``sim_propagation.cpp``)::

    C dV/dt = g_L (E_L - V) + g_L delta_T exp((V - V_T)/delta_T) - w
              + g_L [g_ampa (E_exc - V) + g_gaba (E_inh - V)] + I_ext
    tau_w dw/dt = a (V - E_L) - w
    spike: V > V_peak;  reset V = V_reset, w += b;  refractory for t_ref after the spike step

While refractory the potential follows the option ``refractory_potential``:

- ``"rest"`` (the published code, default): clamped to E_L during the t_ref steps after
  the spike (``AdExGroup::evolve`` sets ``t_mem[i] = e_rest`` while ``t_ref[i] > 0``), so
  V_reset only holds in the step of the spike (where w sees it) and the neuron
  restarts from E_L; written as the Euler step V <- V + dt (E_L - V)/dt while
  ``not_refractory`` is false, which lands on E_L exactly.
- ``"reset"``: held at V_reset (Brian's ``unless refractory``).

Auryn also clips V to [E_inh, 20 mV] after each step; with conductance-based input and
Euler steps far below the synaptic time constants V cannot leave that range before
the spike, so the clip is left out.

Both kinds are registered in :mod:`dendritic.neurons.kinds`; their files load with
:func:`dendritic.neurons.load_neuron` like every other neuron. Every parameter is a
``(shared, constant)`` equation variable, so a standalone binary can change it through
``run_args``.
"""

from __future__ import annotations

from collections.abc import Mapping

from brian2 import mV, ms, nS, pA, pF

from dendritic import bursts
from dendritic import config as cfg
from dendritic.neurons.kinds import ConductanceKind, register

__all__ = ["PAYEUR_PYRAMIDAL", "ADEX", "INITIAL_W_D", "DRIVING_FORCE_HEADER", "TWO_COMPARTMENT",
           "two_compartment_synapses", "initial_two_compartment"]

#: Dendritic adaptation at rest, as Auryn's ``NaudGroup::clear`` (1e-4 V).
INITIAL_W_D = 0.1 * mV

_SYNAPSES = {
    "tau_ampa": cfg.Quantity(unit=ms, bound="positive", doc="AMPA conductance decay", default="5 ms"),
    "tau_gaba": cfg.Quantity(unit=ms, bound="positive", doc="GABA conductance decay", default="10 ms"),
    "E_exc": cfg.Quantity(unit=mV, doc="excitatory reversal potential", default="0 mV"),
    "E_inh": cfg.Quantity(unit=mV, doc="inhibitory reversal potential", default="-80 mV"),
}

PYRAMIDAL_PARAMETERS = {
    "C_s": cfg.Quantity(unit=pF, bound="positive", doc="somatic capacitance"),
    "tau_s": cfg.Quantity(unit=ms, bound="positive", doc="somatic membrane time constant"),
    "E_L": cfg.Quantity(unit=mV, doc="resting potential"),
    "g_s": cfg.Quantity(unit=pA, doc="plateau current into the soma at f = 1"),
    "b": cfg.Quantity(unit=pA, doc="somatic adaptation current per unit w_s"),
    "tau_ws": cfg.Quantity(unit=ms, bound="positive", doc="somatic adaptation time constant"),
    "V_T": cfg.Quantity(unit=mV, doc="spike threshold at rest"),
    "delta_thr": cfg.Quantity(unit=mV, bound="nonnegative", doc="threshold jump per spike"),
    "tau_thr": cfg.Quantity(unit=ms, bound="positive", doc="threshold relaxation time constant"),
    "V_reset": cfg.Quantity(unit=mV, doc="somatic reset potential"),
    "C_d": cfg.Quantity(unit=pF, bound="positive", doc="dendritic capacitance"),
    "tau_d": cfg.Quantity(unit=ms, bound="positive", doc="dendritic membrane time constant"),
    "g_d": cfg.Quantity(unit=pA, doc="regenerative plateau current into the dendrite at f = 1"),
    "a": cfg.Quantity(unit=nS, doc="dendritic adaptation conductance"),
    "tau_wd": cfg.Quantity(unit=ms, bound="positive", doc="dendritic adaptation time constant"),
    "E_d": cfg.Quantity(unit=mV, doc="half-activation voltage of the plateau f(V_d)"),
    "D_d": cfg.Quantity(unit=mV, bound="positive", doc="slope of the plateau sigmoid"),
    "bap_amplitude": cfg.Quantity(unit=pA, doc="back-propagated spike current"),
    "bap_duration": cfg.Quantity(unit=ms, bound="nonnegative", doc="back-propagated spike duration"),
    "burst_window": cfg.Quantity(unit=ms, bound="positive", doc="maximal inter-spike interval in a burst",
                                 default="16 ms"),
    **_SYNAPSES,
}

ADEX_PARAMETERS = {
    "C": cfg.Quantity(unit=pF, bound="positive", doc="membrane capacitance"),
    "g_L": cfg.Quantity(unit=nS, bound="positive", doc="leak conductance"),
    "E_L": cfg.Quantity(unit=mV, doc="resting potential"),
    "V_T": cfg.Quantity(unit=mV, doc="exponential threshold"),
    "delta_T": cfg.Quantity(unit=mV, bound="positive", doc="slope factor"),
    "V_peak": cfg.Quantity(unit=mV, doc="spike detection voltage", default="0 mV"),
    "V_reset": cfg.Quantity(unit=mV, doc="reset potential"),
    "a": cfg.Quantity(unit=nS, doc="subthreshold adaptation"),
    "b": cfg.Quantity(unit=pA, doc="spike-triggered adaptation"),
    "tau_w": cfg.Quantity(unit=ms, bound="positive", doc="adaptation time constant"),
    "t_ref": cfg.Quantity(unit=ms, bound="nonnegative", doc="refractory period"),
    **_SYNAPSES,
}

#: header option of the kinds with NaudGroup's synapses
DRIVING_FORCE_HEADER = {"dendritic_driving_force": cfg.Choice(
    options=("soma", "dendrite"), default="soma",
    doc="potential that sets the driving force of the dendritic synapses: the soma's, as in "
        "Auryn's NaudGroup (published), or the dendrite's (physical)")}


def _decay(variable: str, tau: str) -> str:
    """Linear decay by the exact factor exp(-dt/tau) per Euler step (Auryn's
    ``scale_*`` constants); the factor is loop-invariant, so Brian computes it once per
    step."""
    return f"d{variable}/dt = -{variable}*(1 - exp(-dt/{tau}))/dt : 1"


def two_compartment_synapses(options: Mapping[str, str]) -> list[str]:
    """The four conductances of a soma + dendrite neuron (exact decay per step) and their
    currents I_syn_s, I_syn_d; the dendritic ones driven by the potential the option
    ``dendritic_driving_force`` names (Auryn's ``NaudGroup`` synapses)."""
    drive = {"soma": "V_s", "dendrite": "V_d"}[options["dendritic_driving_force"]]
    return [
        _decay("g_ampa_s", "tau_ampa"), _decay("g_gaba_s", "tau_gaba"),
        _decay("g_ampa_d", "tau_ampa"), _decay("g_gaba_d", "tau_gaba"),
        "I_syn_s = C_s/tau_s*(g_ampa_s*(E_exc - V_s) + g_gaba_s*(E_inh - V_s)) : amp",
        f"I_syn_d = C_d/tau_d*(g_ampa_d*(E_exc - {drive}) + g_gaba_d*(E_inh - {drive})) : amp",
    ]


def _pyramidal_body(options: Mapping[str, str]) -> str:
    return "\n".join([
        "dV_s/dt = (E_L - V_s)/tau_s + (g_s*plateau + b*w_s + I_soma + I_syn_s)/C_s : volt",
        "dV_d/dt = dendritic_slope : volt",
        "dendritic_slope = (E_L - V_d)/tau_d + (g_d*plateau + a*w_d + I_bap + I_dend + I_syn_d)/C_d : volt/second",
        "dw_s/dt = -w_s*(1 - exp(-dt/tau_ws))/dt : 1",
        # from the end-of-step V_d, V_d + dt dV_d/dt, as NaudGroup::integrate_membrane
        "dw_d/dt = (V_d + dt*dendritic_slope - E_L - w_d)/tau_wd : volt",
        "dV_thr/dt = (V_T - V_thr)/tau_thr : volt",
        *two_compartment_synapses(options),
        "plateau = 1/(1 + exp(-(V_d - E_d)/D_d)) : 1",
        "I_bap = bap_amplitude*int(t - t_last_spike < bap_duration + 0.5*dt) : amp",
    ])


def _adex_body(options: Mapping[str, str]) -> str:
    current = "(g_L*(E_L - V) + g_L*delta_T*exp((V - V_T)/delta_T) - w + I_syn + I_ext)/C"
    if options["refractory_potential"] == "rest":
        membrane = f"dV/dt = int(not_refractory)*{current} + (1 - int(not_refractory))*(E_L - V)/dt : volt"
    else:
        membrane = f"dV/dt = {current} : volt (unless refractory)"
    return "\n".join([
        membrane,
        "dw/dt = (a*(V - E_L) - w)/tau_w : amp",
        _decay("g_ampa", "tau_ampa"), _decay("g_gaba", "tau_gaba"),
        "I_syn = g_L*(g_ampa*(E_exc - V) + g_gaba*(E_inh - V)) : amp",
    ])


def initial_two_compartment(model, group) -> None:
    """``NaudGroup::clear``: dendrite at rest, threshold at V_T, no adaptation but w_d at
    :data:`INITIAL_W_D`; no spike yet for the burst detection."""
    group.V_d = "E_L"
    group.V_thr = "V_T"
    group.w_s = 0
    group.w_d = INITIAL_W_D
    bursts.initialise_detection(group)


def _initial_adex(model, group) -> None:
    group.w = 0 * pA


#: what the kinds with a soma and a dendrite (NaudGroup and its subclasses) share: the
#: inputs, the driving-force option, the conductances, the drawn potential, burst detection
TWO_COMPARTMENT = dict(
    inputs={"I_soma": "amp", "I_dend": "amp"},
    header=DRIVING_FORCE_HEADER,
    potential="V_s",
    conductances=("g_ampa_s", "g_gaba_s", "g_ampa_d", "g_gaba_d"),
    random_potential=True,
    detects_bursts=True,
)

PAYEUR_PYRAMIDAL = register(ConductanceKind(
    name="payeur_pyramidal",
    parameters=PYRAMIDAL_PARAMETERS,
    **TWO_COMPARTMENT,
    body=_pyramidal_body,
    threshold="V_s > V_thr",
    reset="V_s = V_reset\nV_thr += delta_thr\nw_s += 1",
    initial_state=initial_two_compartment,
))

ADEX = register(ConductanceKind(
    name="adex",
    parameters=ADEX_PARAMETERS,
    inputs={"I_ext": "amp"},
    header={"refractory_potential": cfg.Choice(
        options=("rest", "reset"), default="rest",
        doc="potential while refractory: clamped to E_L, as Auryn's AdExGroup (published), or held at "
            "V_reset")},
    potential="V",
    conductances=("g_ampa", "g_gaba"),
    random_potential=True,
    body=_adex_body,
    threshold="V > V_peak",
    reset="V = V_reset\nw += b",
    # refractory for the t_ref/dt steps after the spike step, as AdExGroup's counter
    # (Brian's plain refractory=t_ref counts the spike step itself: one step less)
    refractory="t - lastspike < t_ref + 0.5*dt",
    initial_state=_initial_adex,
))
