"""Three-compartment pyramidal neuron: soma, basal and apical dendrite::

    C du/dt = g_L (E_L - u) + g_B (v_basal - u) + g_A (v_apical - u)
              + nudge g_som (u_target - u) + I_soma [+ I_noise]
    tau_basal  dv_basal/dt  = E_L + v_basal_drive  - v_basal   (+ synaptic jumps)
    tau_apical dv_apical/dt = E_L + v_apical_drive - v_apical  (+ synaptic jumps)

    output: Poisson spikes at rate phi(u), or threshold-and-reset.

Optional (parameter-file header): ``synaptic_current = true`` gives each dendrite an
exponentially decaying synaptic input current with its own time constant
``tau_syn_<dendrite>``, so that its PSP kernel is the difference of exponentials of
Urbanczik & Senn 2014 and NEST ``pp_cond_exp_mc_urbanczik`` (tau_L = 10 ms, tau_s = 3 ms);
``integration = "exact"`` integrates the linear soma-dendrite system exactly over each
step instead of holding the dendrites at their start-of-step values in the soma's
exponential-Euler step (an error of first order in dt: 0.031 mV in u for a 1.7 mV
PSP of the Urbanczik-Senn neuron at dt = 0.1 ms, 0.015 mV at 0.05 ms;
``tests/neurons/test_compartmental.py``). See :func:`dendritic.neurons.compartments.coupled_soma`.

With both dendrites clamped and no nudging, the soma relaxes with the effective time
constant C / (g_L + g_B + g_A) to

    u* = (g_L E_L + g_B v_basal + g_A v_apical) / (g_L + g_B + g_A).

The *dendritic prediction* of the soma from basal input alone (apical at rest) is

    dendritic_prediction = E_L + g_B / (g_L + g_B + g_A) (v_basal - E_L),

which for E_L = 0 is Sacramento's v_hat_B = g_B / (g_L + g_B + g_A) v_B and, with
g_A = 0, Urbanczik & Senn's V* = g_D / (g_L + g_D) V_w.

Sources: Urbanczik & Senn 2014 (Neuron, doi:10.1016/j.neuron.2013.11.030); Sacramento
et al. 2018 (NeurIPS, doi:10.48550/arXiv.1810.11393); Meulemans et al. 2021 (NeurIPS,
doi:10.48550/arXiv.2106.07887) section 5. Parameter sets: ``models/neurons/*.toml``.

Parameters (all ``(shared, constant)`` equation variables):

==============  ===========  ==============================================
C               capacitance  somatic membrane capacitance
g_L             conductance  somatic leak
g_B, g_A        conductance  basal / apical -> soma coupling (0 disconnects)
g_som           conductance  somatic nudging conductance (gated by ``nudge``)
E_L             voltage      leak reversal = resting potential
tau_basal       time         basal PSP / dendritic time constant
tau_apical      time         apical PSP / dendritic time constant
t_ref           time         refractory period
tau_syn_basal   time         basal synaptic-current time constant (only with
tau_syn_apical               ``synaptic_current``; NEST tau_syn_ex = 3 ms)
==============  ===========  ==============================================

Inputs (per neuron, or an expression given by the network): ``I_soma`` (amp),
``nudge`` (0..1 gate of g_som), ``u_target`` (volt), ``v_basal_drive``,
``v_apical_drive`` (volt, shift of each dendrite's resting point).
"""

from brian2 import mV, ms, nS, pF

from dendritic import config as cfg
from dendritic.neurons.compartments import coupled_soma
from dendritic.neurons.kinds import CompartmentalKind, register

PARAMETERS = {
    "C": cfg.Quantity(unit=pF, bound="positive", doc="somatic capacitance"),
    "g_L": cfg.Quantity(unit=nS, bound="positive", doc="somatic leak conductance"),
    "g_B": cfg.Quantity(unit=nS, bound="nonnegative", doc="basal-to-soma coupling conductance"),
    "g_A": cfg.Quantity(unit=nS, bound="nonnegative", doc="apical-to-soma coupling conductance"),
    "g_som": cfg.Quantity(unit=nS, bound="nonnegative", doc="somatic nudging conductance", default="0 nS"),
    "E_L": cfg.Quantity(unit=mV, doc="leak reversal (resting) potential"),
    "tau_basal": cfg.Quantity(unit=ms, bound="positive", doc="basal dendritic time constant"),
    "tau_apical": cfg.Quantity(unit=ms, bound="positive", doc="apical dendritic time constant"),
    "t_ref": cfg.Quantity(unit=ms, bound="nonnegative", doc="refractory period"),
}

INPUTS = {
    "I_soma": "amp",
    "nudge": "1",
    "u_target": "volt",
    "v_basal_drive": "volt",
    "v_apical_drive": "volt",
}


COUPLINGS = (("g_B", "basal"), ("g_A", "apical"))


def body(noise: bool, soma_flags: str = "", synaptic_current: bool = False, exact: bool = False) -> str:
    return coupled_soma(COUPLINGS, predicting="basal", noise=noise, soma_flags=soma_flags,
                        synaptic_current=synaptic_current, exact=exact)


PYRAMIDAL = register(
    CompartmentalKind(
        name="pyramidal",
        parameters=PARAMETERS,
        inputs=INPUTS,
        body=body,
        dendrites=tuple(d for _, d in COUPLINGS),
        options=frozenset({"synaptic_current", "exact"}),
    )
)
