"""Population tallies (:mod:`dendritic.bursts.tally`) count what event monitors record."""

import numpy as np
import pytest
from brian2 import ms

from dendritic.backend import Backend
from dendritic.bursts.tally import binned_rates, population_tally
from dendritic.circuits import build_circuit, circuit_from_mapping

CIRCUIT = {
    "run": {"seed": 4, "initial_potential_sd": "5 mV", "background_probability": "auryn"},
    "populations": [{"name": "a", "neuron": "payeur2021_xor", "N": 30, "inputs": {"I_dend": "500 pA"}},
                    {"name": "b", "neuron": "payeur2021_xor", "N": 20, "inputs": {"I_dend": "300 pA"}}],
    "background": [{"population": p, "target": "g_ampa_s", "rate": "500 Hz", "weight": 0.45} for p in "ab"],
    "record": {"bursts": ["a", "b"]},
}
BIN = 50 * ms


def test_tally_counts_the_events_and_bursts_of_each_population():
    spec = circuit_from_mapping(CIRCUIT)
    with Backend("numpy", seed=4) as backend:  # (repeated post indices: Brian's numpy target adds with ufunc.at)
        circuit = build_circuit(spec, backend)
        tally = population_tally({"a": circuit.groups["a"], "b": circuit.groups["b"]}, BIN)
        circuit.network.add(*tally.objects)
        backend.run(circuit.network, 500 * ms)
        rates = binned_rates(tally.monitor.t_, tally.monitor.n_events, tally.monitor.n_bursts, tally.sizes, BIN)
        monitors = {name: (np.asarray(e.t_), np.asarray(b.t_)) for name, (e, b) in circuit.event_monitors.items()}
    edges = np.arange(0, 0.5 + 1e-9, float(BIN))[: len(rates["t"]) + 1]
    np.testing.assert_allclose(rates["t"], edges[:-1], atol=1e-12)
    for k, (name, size) in enumerate(zip(tally.names, tally.sizes)):
        events, bursts = (np.histogram(times, bins=edges - 1e-6)[0] for times in monitors[name])
        assert events.sum() > 20 and bursts.sum() > 2
        np.testing.assert_allclose(rates["event_rate"][k] * size * float(BIN), events, rtol=0, atol=1e-9)
        np.testing.assert_allclose(rates["burst_rate"][k] * size * float(BIN), bursts, rtol=0, atol=1e-9)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(rates["burst_probability"][k], np.where(events > 0, bursts / events, np.nan))


def test_binned_rates_refuses_uneven_samples():
    with pytest.raises(ValueError, match="evenly spaced"):
        binned_rates([0.0, 0.05, 0.2], [[0, 1, 2]], [[0, 0, 1]], [10], BIN)
