"""Connections of a declared circuit go through the target neuron's synaptic stage:
onto ``urbanczik2014`` neurons the basal PSP is the published difference of
exponentials (NEST ``pp_cond_exp_mc_urbanczik``: tau_syn = 3 ms current into a
tau_L = 10 ms dendrite), not a jump of the dendritic potential."""

import numpy as np
from brian2 import mV, second

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, circuit_from_mapping

WEIGHT = 2e-3  # V, the PSP integral is WEIGHT * tau_L as for the single exponential


def test_circuit_synapses_onto_urbanczik_neurons_use_the_current_stage():
    raw = {
        "run": {"duration": "300 ms", "dt": "0.1 ms", "seed": 2},
        "populations": [{"name": "pyramidal", "neuron": "urbanczik2014", "N": 1}],
        "inputs": [{"name": "feedforward", "N": 8, "rate": "20 Hz"}],
        "connections": [{"pre": "feedforward", "post": "pyramidal", "target": "basal", "fan_in": 8,
                         "weight": f"{WEIGHT * 1e3} mV", "weight_std": "0 mV"}],
        "record": {"spikes": ["feedforward"],
                   "states": [{"population": "pyramidal", "variables": ["v_basal"], "neurons": 1, "dt": "0.1 ms"}]},
    }
    spec = circuit_from_mapping(raw)
    with Backend("numpy", seed=2) as backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, 300e-3 * second)
        results = circuit.collect()
    spikes = np.asarray(results["spikes"]["feedforward"]["t"] / second)
    assert len(spikes) > 10
    v_basal = np.asarray(results["states"]["pyramidal"]["v_basal"] / mV)[0] * 1e-3
    E_L = -70e-3
    tau_L, tau_s, dt = 10e-3, 3e-3, 1e-4
    # the monitor samples at the start of each step; a spike at t_k acts from t_k + dt
    t = np.arange(len(v_basal)) * dt
    lag = t[:, None] - (spikes[None, :] + dt)
    kernel = np.where(lag >= 0, tau_L / (tau_L - tau_s) * (np.exp(-lag / tau_L) - np.exp(-lag / tau_s)), 0.0)
    expected = E_L + WEIGHT * kernel.sum(axis=1)
    single = E_L + WEIGHT * np.where(lag >= 0, np.exp(-lag / tau_L), 0.0).sum(axis=1)
    assert np.max(np.abs(expected - single)) > 1e-3
    np.testing.assert_allclose(v_basal, expected, atol=2e-3 * WEIGHT)


def test_connectivity_orders():
    """``order="pre"`` sorts a fan-in draw's synapses by presynaptic neuron without
    changing the pairs; a probability draw in either order has the expected count and no
    duplicate pair."""
    from dendritic.circuits import draw_connectivity

    by_post = draw_connectivity(np.random.default_rng(5), 50, 40, fan_in=7)
    by_pre = draw_connectivity(np.random.default_rng(5), 50, 40, fan_in=7, order="pre")
    assert sorted(zip(*by_post)) == sorted(zip(*by_pre))
    assert np.all(np.diff(by_pre[0]) >= 0) and np.all(np.diff(by_post[1]) >= 0)
    for order, key in (("pre", 0), ("post", 1)):
        i, j = draw_connectivity(np.random.default_rng(6), 300, 200, probability=0.05, order=order)
        assert np.all(np.diff(np.asarray((i, j))[key]) >= 0)
        assert len(set(zip(i.tolist(), j.tolist()))) == len(i)
        assert abs(len(i) - 0.05 * 300 * 200) < 4 * np.sqrt(0.05 * 0.95 * 300 * 200)
