"""The teaching current of the XOR network (``generate_error``, ``sim/sim_xor.cpp``):
set per neuron at each window's onset from its online event-rate estimate, held while
the window is open, added to the constant dendritic input."""

import numpy as np
import pytest
from brian2 import TimedArray, ms, pA

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, circuit_from_mapping

A, E_MIN, E_MAX, TOL = 1000.0, 2.0, 10.0, 1.0
CIRCUIT = {
    "run": {"duration": "1 s", "seed": 2, "initial_potential_sd": "5 mV", "background_probability": "auryn"},
    "populations": [{"name": "out", "neuron": "payeur2021_xor", "N": 40, "inputs": {"I_dend": "400 pA"}}],
    "inputs": [{"name": "drive", "N": 50, "rate": "10 Hz"}],
    "background": [{"population": "out", "target": "g_ampa_s", "rate": "500 Hz", "weight": 0.4},
                   {"population": "out", "target": "g_gaba_s", "rate": "500 Hz", "weight": 0.35}],
    "connections": [{"pre": "drive", "post": "out", "target": "g_ampa_s", "fan_in": 10, "weight": 0.3}],
    "teachers": [{"population": "out", "input": "I_dend", "estimate": "E_bar", "target": "y", "window": "window",
                  "amplitude": f"{A} pA", "rate_min": f"{E_MIN} Hz", "rate_max": f"{E_MAX} Hz",
                  "tolerance": f"{TOL} Hz"}],
    "record": {"spikes": ["out"], "states": [{"population": "out", "variables": ["E_bar", "I_teach_I_dend", "I_dend"],
                                              "neurons": 40, "dt": "0.1 ms"}]},
}


def generate_error(estimate, output):
    """``generate_error`` of sim_xor.cpp, per neuron (pA)."""
    current = np.empty_like(estimate)
    for n, er in enumerate(estimate):
        if output == 0:
            if er < E_MAX - TOL:
                current[n] = 0.0 if er <= E_MIN + TOL else -A / (E_MAX - er)
            else:
                current[n] = -A
        else:
            if er > E_MIN + TOL:
                current[n] = 0.0 if er >= E_MAX - TOL else A / (er - E_MIN)
            else:
                current[n] = A
    return current


@pytest.mark.standalone
def test_teaching_current_follows_generate_error(tmp_path):
    # a BDSP-free circuit has no E_bar: a plastic connection provides the estimate
    mapping = dict(CIRCUIT)
    mapping["populations"] = [dict(CIRCUIT["populations"][0]), {"name": "pre", "neuron": "payeur2021_xor", "N": 20}]
    mapping["connections"] = CIRCUIT["connections"] + [
        {"pre": "drive", "post": "pre", "target": "g_ampa_s", "fan_in": 20, "weight": 0.6},
        {"pre": "pre", "post": "out", "target": "g_ampa_s", "probability": 0.5, "weight": 0.1, "transmit": "events",
         "plasticity": {"rule": "bdsp", "eta": 0.0, "tau_avg": "200 ms"}}]
    spec = circuit_from_mapping(mapping)
    grid = 10 * ms  # windows [500, 600) ms target 1 (recomputed at 550 ms), [800, 850) ms target 0
    window = np.zeros(100)
    window[50:55] = window[80:85] = 1
    window[55:60] = 2
    y = np.zeros(100)
    y[50:60] = 1
    # cpp_standalone: one build in a minute; cython compiles for 3 min on a cold cache
    with Backend("cpp_standalone", seed=2, build_dir=tmp_path / "build") as backend:
        circuit = build_circuit(spec, backend, arrays={"y": TimedArray(y, dt=grid), "window": TimedArray(window, dt=grid)})
        backend.run(circuit.network, 1000 * ms)
        monitor = circuit.state_monitors["out"][0]
        estimate, current, dend = monitor.E_bar[:].T, monitor.I_teach_I_dend[:].T / pA, monitor.I_dend[:].T / pA
        spikes = circuit.spike_records()["out"]
    assert np.all(current[:5000] == 0)
    checked = 0
    for onset, stop, output in ((5000, 5500, 1), (5500, 6000, 1), (8000, 8500, 0)):
        # the current set in the onset step, from the estimate at that step (sampled at its start;
        # a neuron with an event in that step adds it first: left out)
        spiking = set(spikes["i"][np.round(spikes["t"] / 1e-4).astype(int) == onset])
        keep = np.array([n not in spiking for n in range(40)])
        expected = generate_error(np.asarray(estimate[onset]), output)
        np.testing.assert_allclose(current[onset + 1][keep], expected[keep], rtol=1e-3, atol=1e-6)
        assert np.all(current[onset + 1:stop + 1] == current[onset + 1])  # held through the window
        np.testing.assert_allclose(dend[onset + 1:stop], 400 + current[onset + 1:stop], rtol=1e-12)
        assert np.any(current[onset] != current[onset + 1]) or onset == 5000  # recomputed, not carried on
        checked += keep.sum()
        regimes = {float(v) for v in expected}
        assert len(regimes) > 1 or abs(expected[0]) in (0.0, A)
    np.testing.assert_allclose(dend[6001:8000], 400, rtol=1e-12)  # closed window: the constant input alone
    assert checked > 90


def test_teacher_needs_a_rate_estimate_and_a_current_input():
    spec = circuit_from_mapping(CIRCUIT)
    arrays = {"y": TimedArray([0.0, 1.0], dt=1 * ms), "window": TimedArray([0.0, 1.0], dt=1 * ms)}
    with Backend("numpy", seed=2) as backend, pytest.raises(ValueError, match="teachers\\[0\\].estimate"):
        build_circuit(spec, backend, arrays=arrays)
    bad = {**CIRCUIT, "teachers": [{**CIRCUIT["teachers"][0], "input": "V_bogus"}]}
    from dendritic import config as cfg

    with pytest.raises(cfg.ConfigError, match="teachers\\[0\\].input"):
        circuit_from_mapping(bad)
