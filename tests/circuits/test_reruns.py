"""A circuit's TimedArray inputs and initial weights are exposed for standalone reruns:
one binary, new input rates and new weights through ``run_args``, the same spikes as a
runtime run built with those values from the start."""

import numpy as np
import pytest
from brian2 import Hz, TimedArray, ms, volt

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, circuit_from_mapping

CIRCUIT = {
    "run": {"duration": "200 ms", "seed": 3},
    "populations": [{"name": "pyramidal", "neuron": "sacramento2018_pyramidal", "N": 20}],
    "inputs": [{"name": "drive", "N": 15, "rates": "drive_rates"}],
    "connections": [{"pre": "drive", "post": "pyramidal", "target": "basal", "fan_in": 5,
                     "weight": "2 mV", "weight_std": "0.5 mV"}],
    "record": {"spikes": ["pyramidal", "drive"]},
}
SYNAPSES = "drive_to_pyramidal_basal"


def _rates(scale):
    """Rates per 50 ms and source (Hz): a ramp across the sources, growing in time."""
    return scale * (5 + np.outer(np.arange(4) + 1, np.linspace(1, 3, 15)) * 10)


def _runtime(rates, weights=None):
    spec = circuit_from_mapping(CIRCUIT)
    with Backend("cython", seed=spec.run["seed"]) as backend:
        circuit = build_circuit(spec, backend, arrays={"drive_rates": TimedArray(rates * Hz, dt=50 * ms)})
        if weights is not None:
            circuit.synapses[SYNAPSES].w = weights
        backend.run(circuit.network, spec.run["duration"])
        return circuit.collect()["spikes"], np.asarray(circuit.synapses[SYNAPSES].w[:])


@pytest.mark.standalone
def test_standalone_reruns_with_new_timed_array_and_weights(tmp_path):
    spec = circuit_from_mapping(CIRCUIT)
    first, weights = _runtime(_rates(1.0))
    new_weights = weights * 1.5
    second, _ = _runtime(_rates(2.0), new_weights * volt)
    assert len(second["drive"]["t"]) > 1.5 * len(first["drive"]["t"]) > 100  # the new input is another input
    with Backend("cpp_standalone", build_dir=tmp_path / "build", seed=spec.run["seed"]) as backend:
        circuit = build_circuit(spec, backend, arrays={"drive_rates": TimedArray(_rates(1.0) * Hz, dt=50 * ms)})
        backend.run(circuit.network, spec.run["duration"])
        runs = [circuit.collect()["spikes"]]
        backend.rerun({circuit.arrays["drive_rates"]: _rates(2.0) * Hz,
                       circuit.synapses[SYNAPSES].w: new_weights * volt})
        runs.append(circuit.collect()["spikes"])
    for standalone, runtime in zip(runs, (first, second)):
        for name in ("drive", "pyramidal"):
            np.testing.assert_array_equal(standalone[name]["i"], runtime[name]["i"])
            np.testing.assert_array_equal(np.asarray(standalone[name]["t"]), np.asarray(runtime[name]["t"]))


def test_a_missing_timed_array_is_named():
    spec = circuit_from_mapping(CIRCUIT)
    with Backend("numpy", seed=3) as backend, pytest.raises(KeyError, match="drive_rates"):
        build_circuit(spec, backend)


@pytest.mark.standalone
def test_another_seed_builds_the_same_sources_while_the_first_backend_lives(tmp_path):
    """``--seeds 1-5`` builds seed after seed in one process while the command line's
    backend (the first seed's) is still referenced: the later builds generate the same
    source files (no suffixed code-object names), so only main.cpp, which holds the seed,
    is compiled again. :meth:`Backend.with_seed` keeps the build folder."""
    spec = circuit_from_mapping(CIRCUIT)
    arrays = {"drive_rates": TimedArray(_rates(1.0) * Hz, dt=50 * ms)}
    first = Backend("cpp_standalone", build_dir=tmp_path / "build", seed=3)
    names = []
    for backend in (first, first.with_seed(4)):
        assert backend.build_dir == tmp_path / "build"
        with backend:
            circuit = build_circuit(spec, backend, arrays=arrays)
            backend.run(circuit.network, spec.run["duration"])
            del circuit
        names.append(sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "build").rglob("*.cpp")))
    assert names[1] == names[0]
