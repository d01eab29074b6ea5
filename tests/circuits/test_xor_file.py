"""``models/networks/xor.toml`` (the published XOR network, Payeur et al. 2021 Fig. 4,
``sim/sim_xor.cpp``) is a valid circuit of the circuit layer: built small and run
briefly, the inputs follow their TimedArrays, the feedback transmits bursts only, and
the BDSP weights stay put while the learning gate is closed and move when it opens.
(The protocol is the experiment's: ``models/experiments/xor.toml``.)"""

import numpy as np
from brian2 import TimedArray, ms, pA

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, load_circuit

def _spec(N=60):
    everything = '["input1", "input2", "hidden1", "hidden2", "output"]'
    return load_circuit("xor", overrides=[f"record.spikes={everything}"]).resized(N)


def test_xor_circuit_loads_with_the_published_structure():
    spec = _spec(500)
    populations = {p["name"]: (p["neuron"], p["N"]) for p in spec.values["populations"]}
    assert len(populations) == 5 and all(neuron == "payeur2021_xor" and n == 500 for neuron, n in populations.values())
    connections = spec.values["connections"]
    plastic = [c for c in connections if c["plasticity"] is not None]
    assert len(plastic) == 6 and all(c["plasticity"]["rule"] == "bdsp" and c["transmit"] == "events" for c in plastic)
    feedback = [c for c in connections if c["transmit"] == "bursts"]
    assert {c["post"] for c in feedback} == {"hidden1", "hidden2"} and all(c["pre"] == "output" for c in feedback)
    assert all(c["probability"] == 0.2 for c in connections)  # 0.05 x 2000 / 500


def test_small_xor_circuit_runs_and_learns_only_inside_the_gate():
    spec = _spec()
    one, zero = 150.0, -350.0
    inputs1 = TimedArray(np.r_[np.full(20, one), np.full(20, zero)] * pA, dt=10 * ms)
    inputs2 = TimedArray(np.r_[np.full(20, zero), np.full(20, one)] * pA, dt=10 * ms)
    gate = TimedArray(np.r_[np.zeros(20), np.ones(20)], dt=10 * ms)
    with Backend("numpy", seed=spec.run["seed"], dt=spec.run["dt"]) as backend:
        circuit = build_circuit(spec, backend, arrays={"xor_input1": inputs1, "xor_input2": inputs2,
                                                       "xor_learning": gate, "xor_teaching": gate,
                                                       "xor_target": TimedArray([1.0], dt=10 * ms)})
        plastic = [spec.connection_name(c) for c in spec.values["connections"] if c["plasticity"]]
        initial = {name: np.asarray(circuit.weights(name)).copy() for name in plastic}
        backend.run(circuit.network, 200 * ms)
        closed = {name: np.asarray(circuit.weights(name)).copy() for name in plastic}
        backend.run(circuit.network, 200 * ms)
        opened = {name: np.asarray(circuit.weights(name)) for name in plastic}
        records = circuit.spike_records()
    for name in plastic:
        np.testing.assert_array_equal(closed[name], initial[name])
    assert any(np.abs(opened[name] - closed[name]).max() > 0 for name in plastic)
    assert all(len(records[name]["t"]) > 0 for name in ("input1", "input2", "hidden1", "hidden2", "output"))
