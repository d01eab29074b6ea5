"""The spiking DFC network: populations of three-compartment Poisson neurons and a
rate-unit controller (Brian 2, every target).

Each rate unit i of layer l is a population of M Poisson pyramidal neurons
(``sacramento2018_pyramidal`` kind: soma u, passive basal and apical dendrites, rate
phi(u), no reset). Layer 0 is M Poisson sources per input unit at the input rates x.
All potentials below are relative to rest E_L.

    basal      v_B,a(t) = b_i g_tot/g_B + sum_j (W_ij / M) sum_{b in unit j} psp_b(t)
               psp_b = sum_k exp(-(t - t_b^k)/tau_B)       (``on_pre: v_basal += w``)
    apical     tau_A dv_A,a/dt = -v_A,a + sum_k Qa_ik c_k(t)     (summed variable)
    soma       C du_a/dt = -g_L u_a + g_B (v_B,a - u_a) + g_A (v_A,a - u_a)
    output     Poisson spikes at rate phi(E_L + u_a)

Controller (one rate unit per output unit, no spikes, :data:`CONTROLLER_EQUATIONS`), fed
by the output spikes:

    tau_f dr_k/dt = -r_k + (tau_f / M) sum_{a in output unit k} S_a(t)    (filtered rate)
    e_k = r*_k - r_k
    c_k = on(t) (c_int,k + k_p e_k)
    tau_c dc_int,k/dt = on(t) (e_k - alpha c_k) - (1 - on(t)) c_int,k tau_c / tau_f

``on(t)`` switches the controller off during the feedforward phase of each sample
(:class:`~dendritic.spiking_dfc.protocol.Protocol`).

:class:`SpikingDFC` maps a :class:`~dendritic.spiking_dfc.reduction.RateReduction` onto
the spiking weights (W = W~ g_tot / (g_B tau_B'), Qa = Q~ g_tot / g_A, basal drive
b g_tot / g_B); :func:`build_circuit` creates the Brian objects, :class:`Circuit` reads
out population rates, the windowed updates
(:class:`~dendritic.spiking_dfc.protocol.WindowedUpdateRule`) and the controller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import (Hz, NeuronGroup, Network, SpikeMonitor, StateMonitor, Synapses, TimedArray, mV, second,
                    volt)

from dendritic.neurons import compartments
from dendritic.neurons.model import NeuronModel
from dendritic.plasticity.dendritic_prediction import spike_source
from dendritic.spiking_dfc.protocol import ControllerParameters, Protocol, WindowedUpdateRule
from dendritic.spiking_dfc.reduction import RateReduction

__all__ = ["SpikingDFC", "Circuit", "CONTROLLER_EQUATIONS", "build_circuit", "coupling_factors",
           "psp_time_constant"]


def coupling_factors(neuron: NeuronModel) -> tuple[float, float]:
    """(g_B/g_tot, g_A/g_tot), g_tot = g_L + g_B + g_A: the somatic weights of the dendrites."""
    p = neuron.parameters
    total = float(p["g_L"] + p["g_B"] + p["g_A"])
    return float(p["g_B"]) / total, float(p["g_A"]) / total


def psp_time_constant(neuron: NeuronModel, dt) -> float:
    """Mean PSP trace per presynaptic rate (seconds) on the time grid: a trace that decays
    exactly by exp(-dt/tau_B) per step and jumps by 1 with probability r dt per step has
    mean r dt / (1 - exp(-dt/tau_B))."""
    step, tau = float(dt), float(neuron.parameters["tau_basal"])
    return step / -np.expm1(-step / tau)


@dataclass
class SpikingDFC:
    """The spiking network of a :class:`RateReduction`: M neurons per unit.

    The spiking weights follow from the reduction's: W = W~ g_tot / (g_B tau_B'),
    Qa = Q~ g_tot / g_A, basal drive b g_tot / g_B (see the module docstring).
    """

    neuron: NeuronModel
    reduction: RateReduction
    population: int
    controller: ControllerParameters
    learning_interval: float

    def basal_weights(self, dt) -> list[np.ndarray]:
        """Unit-level basal weights W_l in volt per unit of the population-mean PSP."""
        basal, _ = coupling_factors(self.neuron)
        scale = 1e-3 / (basal * psp_time_constant(self.neuron, dt))
        return [w * scale for w in self.reduction.weights]

    def apical_weights(self) -> list[np.ndarray]:
        """Qa_l in volt per Hz of control."""
        _, apical = coupling_factors(self.neuron)
        return [q * 1e-3 / apical for q in self.reduction.feedback]

    def basal_drives(self) -> list[np.ndarray]:
        basal, _ = coupling_factors(self.neuron)
        return [b * 1e-3 / basal for b in self.reduction.biases]


@dataclass
class Circuit:
    """Brian objects of one spiking DFC network and how to read them out."""

    network: Network
    layers: list  # NeuronGroups: layer 0 (inputs) .. L
    controller: NeuronGroup
    basal_synapses: list
    spikes: list  # SpikeMonitors of layers 1..L
    controller_monitor: StateMonitor
    spec: SpikingDFC
    protocol: Protocol
    rule: WindowedUpdateRule

    @property
    def groups(self) -> dict:
        return {group.name: group for group in [*self.layers, self.controller]}

    def updates(self) -> list[list[np.ndarray]]:
        """Unit-level spiking updates per window and layer: sum_{a in i, b in j} update_ab (Hz)."""
        m = self.spec.population
        sizes = self.spec.reduction.sizes
        out = []
        for k in range(len(self.protocol.windows)):
            per_layer = []
            for l, synapses in enumerate(self.basal_synapses):
                total = np.zeros((sizes[l + 1], sizes[l]))
                values = np.asarray(getattr(synapses, self.rule.accumulator(k)) / Hz)
                np.add.at(total, (np.asarray(synapses.j) // m, np.asarray(synapses.i) // m), values)
                per_layer.append(total)
            out.append(per_layer)
        return out

    def spike_trains(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(neuron index, time in s) of each layer 1..L."""
        return [(np.asarray(mon.i), np.asarray(mon.t / second)) for mon in self.spikes]

    def population_rates(self, start: float, length: float) -> list[np.ndarray]:
        """Time-averaged rate (Hz) of every unit in [start, start + length) of each slot:
        per layer (B, n_l), spike counts over M neurons and the window."""
        m, p = self.spec.population, self.protocol
        rates = []
        for (index, times), n in zip(self.spike_trains(), self.spec.reduction.sizes[1:]):
            slot = np.floor(times / p.slot + 1e-12).astype(int)
            within = times - slot * p.slot
            keep = (within >= start - 1e-9) & (within < start + length - 1e-9)
            counts = np.zeros((p.samples, n))
            np.add.at(counts, (slot[keep], index[keep] // m), 1.0)
            rates.append(counts / (m * length))
        return rates

    def controller_trace(self) -> dict:
        mon = self.controller_monitor
        return {"t": np.asarray(mon.t / second), "control": np.asarray(mon.c / Hz).T,
                "r_output": np.asarray(mon.r_output / Hz).T, "r_target": np.asarray(mon.r_target / Hz).T}


CONTROLLER_EQUATIONS = """
dr_output/dt = -r_output/tau_filter : Hz
error = r_target - r_output : Hz
c = control_on(t)*(c_int + k_p*error) : Hz
dc_int/dt = control_on(t)*(error - alpha*c)/tau_c - (1 - control_on(t))*c_int/tau_filter : Hz
r_target = target_rate(t, i) : Hz
alpha : 1 (shared, constant)
k_p : 1 (shared, constant)
tau_c : second (shared, constant)
tau_filter : second (shared, constant)
"""


def build_circuit(spec: SpikingDFC, protocol: Protocol, backend, controller_record_dt=1e-3) -> Circuit:
    """Create the spiking network on ``backend`` (already activated); returns the circuit.

    Call ``backend.run(circuit.network, protocol.duration * second)`` next.
    """
    m = spec.population
    sizes = spec.reduction.sizes
    depth = spec.reduction.depth
    grid = protocol.grid * second
    start = protocol.measuring_start()
    namespace = {
        "input_rate": TimedArray(np.repeat(protocol.inputs, m, axis=1) * Hz, dt=protocol.slot * second),
        "target_rate": TimedArray(protocol.targets * Hz, dt=protocol.slot * second),
        "control_on": TimedArray(protocol.schedule(protocol.feedforward, protocol.slot - protocol.feedforward),
                                 dt=grid),
    }
    windows = []
    for k, length in enumerate(protocol.windows):
        name = f"window_{k}"
        namespace[name] = TimedArray(protocol.schedule(start, length, interval_end=True), dt=grid)
        windows.append(name)
    rule = WindowedUpdateRule(form="rate", eta=0 * mV * second, interval=spec.learning_interval * second,
                              windows=tuple(windows))
    output_model = rule.postsynaptic(spec.neuron)  # the output layer projects to no basal synapse: no trace
    model = rule.presynaptic(output_model)
    models = {l: (output_model if l == depth else model) for l in range(1, depth + 1)}

    layers = [spike_source(m * sizes[0], compartments.poisson_threshold("input_rate(t, i)"), "layer_0", traces=(rule.trace,),
                           namespace=namespace)]
    for l in range(1, depth + 1):
        layers.append(models[l].make_group(m * sizes[l], name=f"layer_{l}", namespace=namespace))
    controller = NeuronGroup(sizes[-1], CONTROLLER_EQUATIONS, method="euler", name="controller", namespace=namespace)
    c = spec.controller
    controller.alpha = c.alpha
    controller.k_p = c.k_p
    controller.tau_c = c.tau_c * second
    controller.tau_filter = c.tau_filter * second

    basal_synapses, apical_synapses = [], []
    for l, (w, q, b) in enumerate(zip(spec.basal_weights(backend.dt), spec.apical_weights(), spec.basal_drives())):
        pre, post = layers[l], layers[l + 1]
        n_pre, n_post = m * sizes[l], m * sizes[l + 1]
        i = np.tile(np.arange(n_pre), n_post)
        j = np.repeat(np.arange(n_post), n_pre)
        weights = w[j // m, i // m] / m
        basal_synapses.append(rule.connect(pre, post, i, j, weights * volt, model, name=f"basal_{l + 1}",
                                           namespace=namespace))
        post.v_basal_drive = np.repeat(b, m) * volt
        apical = Synapses(controller, post, "q : volt/hertz\nv_apical_drive_post = q*c_pre : volt (summed)",
                          name=f"apical_{l + 1}", namespace=namespace)
        k_index = np.tile(np.arange(sizes[-1]), n_post)
        a_index = np.repeat(np.arange(n_post), sizes[-1])
        apical.connect(i=k_index, j=a_index)
        apical.q = q[a_index // m, k_index] * volt / Hz
        apical_synapses.append(apical)
    readout = Synapses(layers[-1], controller, "jump : hertz", on_pre="r_output_post += jump", name="readout",
                       namespace=namespace)
    readout.connect(i=np.arange(m * sizes[-1]), j=np.arange(m * sizes[-1]) // m)
    readout.jump = 1.0 / (m * c.tau_filter) * Hz

    backend.parameters_set({group.name: group for group in [*layers, controller]})
    for l, group in enumerate(layers[1:], start=1):
        models[l].initialise(group)

    spikes = [SpikeMonitor(group, name=f"spikes_{l}") for l, group in enumerate(layers[1:], start=1)]
    controller_monitor = StateMonitor(controller, ["c", "r_output", "r_target"], record=True,
                                      dt=controller_record_dt * second, name="controller_states")
    network = Network(*layers, controller, *basal_synapses, *apical_synapses, readout, *spikes, controller_monitor)
    return Circuit(network, layers, controller, basal_synapses, spikes, controller_monitor, spec, protocol, rule)
