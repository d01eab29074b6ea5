"""The spiking DFC network: populations of three-compartment Poisson neurons and a
rate-unit controller (Brian 2, every target).

Each rate unit i of layer l is a population of M Poisson pyramidal neurons
(``sacramento2018_pyramidal`` kind: soma u, passive basal and apical dendrites, rate
phi(u), no reset). Layer 0 is M Poisson sources per input unit at the input rates x.
All potentials below are relative to rest E_L::

    basal      v_B,a(t) = b_i g_tot/g_B + sum_j (W_ij / M) sum_{b in unit j} psp_b(t)
               psp_b = sum_k exp(-(t - t_b^k)/tau_B)       (``on_pre: v_basal += w``)
    apical     tau_A dv_A,a/dt = -v_A,a + sum_k Qa_ik c_k(t)     (summed variable)
    soma       C du_a/dt = -g_L u_a + g_B (v_B,a - u_a) + g_A (v_A,a - u_a)
    output     Poisson spikes at rate phi(E_L + u_a)

Controller (one rate unit per output unit, no spikes: the ``rate_controller`` kind of
:mod:`~dendritic.spiking_dfc.controller`, ``models/neurons/dfc_controller.toml``), fed by
the output spikes:

    tau_f dr_k/dt = -r_k + (tau_f / M) sum_{a in output unit k} S_a(t)    (filtered rate)
    e_k = r*_k - r_k
    c_k = on(t) (c_int,k + k_p e_k)
    tau_c dc_int,k/dt = on(t) (e_k - alpha c_k) - (1 - on(t)) c_int,k tau_c / tau_f

``on(t)`` switches the controller off during the feedforward phase of each sample
(:class:`~dendritic.spiking_dfc.protocol.Protocol`).

:class:`SpikingDFC` maps a :class:`~dendritic.spiking_dfc.reduction.RateReduction` onto
the spiking weights (W = W~ g_tot / (g_B tau_B'), Qa = Q~ g_tot / g_A, basal drive
b g_tot / g_B); :func:`circuit_mapping` writes it as a circuit (the schema of
:mod:`dendritic.circuits.spec`, with the all-to-all weights, drives and schedules given by
code), :func:`build_circuit` builds it through :func:`dendritic.circuits.build_circuit`
(object names ``layer_0`` .. ``layer_L``, ``controller``, ``basal_l``, ``apical_l``,
``readout``, ``spikes_l``, ``controller_states``), :class:`Circuit` reads out population
rates, the windowed updates
(:class:`~dendritic.spiking_dfc.protocol.WindowedUpdateRule`) and the controller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Hz, Network, NeuronGroup, StateMonitor, TimedArray, second, volt
from brian2.units.fundamentalunits import get_dimensions

from dendritic import circuits
from dendritic.circuits.spec import written
from dendritic.neurons import load_neuron
from dendritic.neurons.model import NeuronModel
from dendritic.spiking_dfc.controller import CONTROLLER_EQUATIONS
from dendritic.spiking_dfc.protocol import WINDOWED_RULE, ControllerParameters, Protocol, WindowedUpdateRule
from dendritic.spiking_dfc.reduction import RateReduction

__all__ = ["SpikingDFC", "Circuit", "CONTROLLER_EQUATIONS", "build_circuit", "circuit_mapping", "coupling_factors",
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


def circuit_mapping(spec: SpikingDFC, protocol: Protocol, dt, controller_record_dt=1e-3) -> tuple[dict, dict]:
    """The circuit of ``spec`` in the circuit-file schema, and what code gives
    :func:`dendritic.circuits.build_circuit`: ``arrays`` (input and target rates, the
    controller's switch, the measuring windows), ``synapses`` (all-to-all basal and
    apical weights, the readout of unit k's M output neurons) and ``values`` (the basal
    drives). The layers are ``spec.neuron``'s parameter file with its changed parameters."""
    m, sizes, depth = spec.population, spec.reduction.sizes, spec.reduction.depth
    grid = protocol.grid * second
    windows = {f"window_{k}": TimedArray(protocol.schedule(protocol.measuring_start(), length, interval_end=True),
                                         dt=grid) for k, length in enumerate(protocol.windows)}
    arrays = {
        "input_rate": TimedArray(np.repeat(protocol.inputs, m, axis=1) * Hz, dt=protocol.slot * second),
        "target_rate": TimedArray(protocol.targets * Hz, dt=protocol.slot * second),
        "control_on": TimedArray(protocol.schedule(protocol.feedforward, protocol.slot - protocol.feedforward),
                                 dt=grid),
        **windows,
    }
    c = spec.controller
    populations = [{"name": f"layer_{l}", "neuron": str(spec.neuron.file), "N": m * sizes[l],
                    "parameters": _changed_parameters(spec.neuron)} for l in range(1, depth + 1)]
    populations.append({"name": "controller", "neuron": "dfc_controller", "N": sizes[-1],
                        "parameters": {"alpha": c.alpha, "k_p": c.k_p, "tau_c": written(c.tau_c * second),
                                       "tau_filter": written(c.tau_filter * second)},
                        "driven": {"r_target": "target_rate", "on": "control_on"}})
    plasticity = {"rule": WINDOWED_RULE.name, "eta": "0 mV*second", "interval": written(spec.learning_interval * second),
                  "windows": list(windows)}
    connections, synapses, values = [], {}, {}
    for l, (w, q, b) in enumerate(zip(spec.basal_weights(dt), spec.apical_weights(), spec.basal_drives()), start=1):
        n_pre, n_post = m * sizes[l - 1], m * sizes[l]
        i, j = np.tile(np.arange(n_pre), n_post), np.repeat(np.arange(n_post), n_pre)
        connections.append({"name": f"basal_{l}", "pre": f"layer_{l - 1}", "post": f"layer_{l}", "target": "basal",
                            "connectivity": "given", "plasticity": plasticity})
        synapses[f"basal_{l}"] = (i, j, w[j // m, i // m] / m * volt)
        k, a = np.tile(np.arange(sizes[-1]), n_post), np.repeat(np.arange(n_post), sizes[-1])
        connections.append({"name": f"apical_{l}", "pre": "controller", "post": f"layer_{l}",
                            "target": "v_apical_drive", "summed": "c", "connectivity": "given"})
        synapses[f"apical_{l}"] = (k, a, q[a // m, k] * volt / Hz)
        values[f"layer_{l}"] = {"v_basal_drive": np.repeat(b, m) * volt}
    output = np.arange(m * sizes[-1])
    connections.append({"name": "readout", "pre": f"layer_{depth}", "post": "controller", "target": "r_output",
                        "connectivity": "given"})
    synapses["readout"] = (output, output // m, np.full(len(output), 1.0 / (m * c.tau_filter)) * Hz)
    layers = [f"layer_{l}" for l in range(1, depth + 1)]
    mapping = {
        "description": "spiking Deep Feedback Control (dendritic.spiking_dfc)",
        "run": {"dt": written(dt)},
        "populations": populations,
        "inputs": [{"name": "layer_0", "N": m * sizes[0], "rates": "input_rate"}],
        "connections": connections,
        "record": {"spikes": layers, "spike_monitors": {name: f"spikes_{name[6:]}" for name in layers},
                   "states": [{"population": "controller", "variables": ["c", "r_output", "r_target"],
                               "neurons": sizes[-1], "dt": written(controller_record_dt * second)}]},
    }
    return mapping, {"arrays": arrays, "synapses": synapses, "values": values}


def _changed_parameters(neuron: NeuronModel) -> dict:
    """The parameters of ``neuron`` that differ from its file's, as a circuit file writes them."""
    if neuron.file is None or neuron.extra_equations or neuron.spike_actions:
        raise ValueError("spiking DFC: the neuron must be a parameter file's model, with changed parameters at most")
    file = load_neuron(neuron.file)
    if dict(file.options) != dict(neuron.options):
        raise ValueError(f"spiking DFC: the neuron's options {neuron.options} differ from {neuron.file}'s")
    return {key: written(value) for key, value in neuron.parameters.items()
            if get_dimensions(value) is not get_dimensions(file.parameters[key])
            or float(value) != float(file.parameters[key])}


def build_circuit(spec: SpikingDFC, protocol: Protocol, backend, controller_record_dt=1e-3) -> Circuit:
    """Create the spiking network on ``backend`` (already activated) through the circuit
    layer (:func:`circuit_mapping`); returns the circuit.

    Call ``backend.run(circuit.network, protocol.duration * second)`` next.
    """
    mapping, given = circuit_mapping(spec, protocol, backend.dt, controller_record_dt)
    built = circuits.build_circuit(circuits.circuit_from_mapping(mapping, source="spiking DFC circuit"), backend,
                                   duration=protocol.duration * second, **given)
    depth = spec.reduction.depth
    rule = WINDOWED_RULE.rule(built.spec.values["connections"][0], built.models["layer_1"])
    return Circuit(built.network, [built.groups[f"layer_{l}"] for l in range(depth + 1)], built.groups["controller"],
                   [built.synapses[f"basal_{l}"] for l in range(1, depth + 1)],
                   [built.spike_monitors[f"layer_{l}"] for l in range(1, depth + 1)],
                   built.state_monitors["controller"][0], spec, protocol, rule)
