"""The controller of the spiking DFC network as a neuron kind, ``rate_controller``: one
rate unit per output unit, no spikes (Meulemans et al. 2021, DFC,
doi:10.48550/arXiv.2106.07887, a PI controller on the output error)::

    tau_f dr_k/dt = -r_k                     (+ 1/(M tau_f) per spike of output unit k)
    e_k = r*_k - r_k
    c_k = on(t) (c_int,k + k_p e_k)
    tau_c dc_int,k/dt = on(t) (e_k - alpha c_k) - (1 - on(t)) c_int,k tau_c / tau_f

Inputs: the target rate ``r_target`` (r*, Hz) and the switch ``on`` (0 or 1: the
controller is off during the feedforward phase of each sample, its integral then decays
with tau_f), both driven by ``TimedArray`` inputs in a circuit. Synapses add their weight
to the filtered output rate ``r_output`` (r, Hz; the readout of the output spikes).
Parameters (``models/neurons/dfc_controller.toml``): leak alpha, proportional gain k_p,
integration time constant tau_c, low-pass tau_filter of the output spikes.
"""

from __future__ import annotations

from brian2 import Hz, ms

from dendritic import config as cfg
from dendritic.neurons.compartments import unit_name
from dendritic.neurons.kinds import RateKind, register

__all__ = ["CONTROLLER_EQUATIONS", "RATE_CONTROLLER"]

CONTROLLER_EQUATIONS = """
dr_output/dt = -r_output/tau_filter : Hz
error = r_target - r_output : Hz
c = on*(c_int + k_p*error) : Hz
dc_int/dt = on*(error - alpha*c)/tau_c - (1 - on)*c_int/tau_filter : Hz
"""

RATE_CONTROLLER = register(RateKind(
    name="rate_controller",
    parameters={
        "alpha": cfg.Quantity(unit=1, bound="nonnegative", doc="leak: steady state r* - r = alpha c"),
        "k_p": cfg.Quantity(unit=1, bound="nonnegative", doc="proportional gain"),
        "tau_c": cfg.Quantity(unit=ms, bound="positive", doc="integration time constant"),
        "tau_filter": cfg.Quantity(unit=ms, bound="positive", doc="low-pass of the output spikes"),
    },
    inputs={"r_target": unit_name(Hz), "on": "1"},
    synaptic_variables={"r_output": unit_name(Hz)},
    potential="c",
    body=CONTROLLER_EQUATIONS,
))
