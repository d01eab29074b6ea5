"""Two-compartment interneuron: soma and dendrite, nudged by the pyramidal layer above::

    C du/dt = g_L (E_L - u) + g_D (v_dendrite - u) + nudge g_som (u_target - u)
              + I_soma [+ I_noise]
    tau_dendrite dv_dendrite/dt = E_L + v_dendrite_drive - v_dendrite  (+ synaptic jumps)

Dendritic prediction (what the soma would be without nudging):

    dendritic_prediction = E_L + g_D / (g_L + g_D) (v_dendrite - E_L).

The attenuation factor is g_D / (g_L + g_D); a public re-implementation of Sacramento
et al. wrote it ``g_d/g_lk + g_d`` by operator precedence, which is wrong.

In Sacramento et al. (2018, NeurIPS, doi:10.48550/arXiv.1810.11393) each interneuron is nudged towards the somatic potential
of one pyramidal neuron of the next layer (``u_target``) through g_som; defaults
g_D = 1.0, g_som = 0.8 (``models/neurons/sacramento2018_interneuron.toml``).
The nudging gate ``nudge`` starts at 1 for interneurons.
"""

from brian2 import mV, ms, nS, pF

from dendritic import config as cfg
from dendritic.neurons.compartments import coupled_soma
from dendritic.neurons.kinds import CompartmentalKind, register

PARAMETERS = {
    "C": cfg.Quantity(unit=pF, bound="positive", doc="somatic capacitance"),
    "g_L": cfg.Quantity(unit=nS, bound="positive", doc="somatic leak conductance"),
    "g_D": cfg.Quantity(unit=nS, bound="nonnegative", doc="dendrite-to-soma coupling conductance"),
    "g_som": cfg.Quantity(unit=nS, bound="nonnegative", doc="somatic nudging conductance"),
    "E_L": cfg.Quantity(unit=mV, doc="leak reversal (resting) potential"),
    "tau_dendrite": cfg.Quantity(unit=ms, bound="positive", doc="dendritic time constant"),
    "t_ref": cfg.Quantity(unit=ms, bound="nonnegative", doc="refractory period"),
}

INPUTS = {
    "I_soma": "amp",
    "nudge": "1",
    "u_target": "volt",
    "v_dendrite_drive": "volt",
}


COUPLINGS = (("g_D", "dendrite"),)


def body(noise: bool, soma_flags: str = "") -> str:
    return coupled_soma(COUPLINGS, predicting="dendrite", noise=noise, soma_flags=soma_flags)


INTERNEURON = register(
    CompartmentalKind(
        name="interneuron",
        parameters=PARAMETERS,
        inputs=INPUTS,
        body=body,
        dendrites=tuple(d for _, d in COUPLINGS),
        initial_inputs={"nudge": "1"},
    )
)
