"""Code-generation targets: numpy, cython and cpp_standalone agree; run_args reruns
the same binary and equal a recompile with the new value."""

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, StateMonitor, mV, ms, nA, nS

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, circuit_from_mapping
from dendritic.neurons import neuron_from_mapping

THRESHOLD_NEURON = {
    "model": "pyramidal", "source": "test: NEST Urbanczik values with threshold output",
    "transfer": "sigmoid", "spiking": "threshold",
    "parameters": {"C": "300 pF", "g_L": "30 nS", "g_B": "600 nS", "g_A": "200 nS", "E_L": "-70 mV",
                   "tau_basal": "10 ms", "tau_apical": "20 ms", "t_ref": "3 ms", "phi_max": "0.15 /ms",
                   "k": 0.5, "beta": "1/3 /mV", "theta": "-55 mV", "V_threshold": "-55 mV", "V_reset": "-70 mV"},
}


class DeterministicCircuit:
    """Driver neurons with graded somatic currents project onto the basal and apical
    dendrites of a second population: spikes, synaptic jumps and all compartments,
    with no random numbers anywhere."""

    def __init__(self, backend):
        model = neuron_from_mapping(THRESHOLD_NEURON)
        rng = np.random.default_rng(5)
        self.driver = model.make_group(20, name="driver")
        self.driver.I_soma = np.linspace(14, 25, 20) * nA
        self.target = model.make_group(10, name="target")
        from brian2 import Synapses, volt

        self.basal = Synapses(self.driver, self.target, "w : volt (constant)", on_pre="v_basal_post += w", name="ff")
        self.basal.connect(i=np.repeat(np.arange(20), 10), j=np.tile(np.arange(10), 20))
        self.basal.w = rng.uniform(0.5, 2.0, 200) * 1e-3 * volt
        self.apical = Synapses(self.driver, self.target, "w : volt (constant)", on_pre="v_apical_post += w", name="fb")
        self.apical.connect(i=np.arange(0, 20, 2), j=np.arange(10))
        self.apical.w = rng.uniform(-3.0, 3.0, 10) * 1e-3 * volt
        self.groups = {"driver": self.driver, "target": self.target}
        backend.parameters_set(self.groups)
        model.initialise(self.driver)
        model.initialise(self.target)
        self.spikes = SpikeMonitor(self.target, name="target_spikes")
        self.states = StateMonitor(self.target, ["u", "v_basal", "v_apical"], record=True, name="target_states")
        self.network = Network(self.driver, self.target, self.basal, self.apical, self.spikes, self.states)

    def collect(self):
        return {"i": np.asarray(self.spikes.i[:]), "t": np.asarray(self.spikes.t[:]),
                "u": np.asarray(self.states.u[:]), "v_basal": np.asarray(self.states.v_basal[:]),
                "v_apical": np.asarray(self.states.v_apical[:])}


def _run_deterministic(target, tmp_path):
    with Backend(target, build_dir=tmp_path / f"build_{target}", seed=None) as backend:
        circuit = DeterministicCircuit(backend)
        backend.run(circuit.network, 200 * ms)
        return circuit.collect()


@pytest.mark.standalone
def test_deterministic_network_is_identical_on_all_targets(tmp_path):
    results = {target: _run_deterministic(target, tmp_path) for target in ("numpy", "cython", "cpp_standalone")}
    reference = results["numpy"]
    assert len(reference["t"]) > 50, "the test network must spike"
    for target in ("cython", "cpp_standalone"):
        other = results[target]
        np.testing.assert_array_equal(other["i"], reference["i"])
        np.testing.assert_array_equal(other["t"], reference["t"])
        for variable in ("u", "v_basal", "v_apical"):
            scale = np.max(np.abs(reference[variable]))
            assert np.max(np.abs(other[variable] - reference[variable])) / scale <= 1e-9, (target, variable)


NOISY_CIRCUIT = {
    "run": {"duration": "300 ms", "seed": 7},
    "populations": [{"name": "pyramidal", "neuron": "sacramento2018_pyramidal", "N": 40}],
    "inputs": [{"name": "feedforward", "N": 30, "rate": "20 Hz"}],
    "connections": [{"pre": "feedforward", "post": "pyramidal", "target": "basal", "fan_in": 10,
                     "weight": "1 mV", "weight_std": "0.5 mV"}],
    "record": {"spikes": ["pyramidal", "feedforward"]},
}


def _run_circuit(target, build_dir, mapping=NOISY_CIRCUIT):
    spec = circuit_from_mapping(mapping)
    with Backend(target, build_dir=build_dir, seed=spec.run["seed"]) as backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, spec.run["duration"])
        return circuit.collect()


@pytest.mark.standalone
def test_seeded_poisson_network_gives_identical_spikes_on_cython_and_standalone(tmp_path):
    # Brian's runtime targets and the standalone device draw rand() from the same
    # Mersenne-Twister sequence for the same seed, in the same order (schedule order).
    cython = _run_circuit("cython", None)
    standalone = _run_circuit("cpp_standalone", tmp_path / "build")
    for name in ("pyramidal", "feedforward"):
        assert len(cython["spikes"][name]["i"]) > 100
        np.testing.assert_array_equal(cython["spikes"][name]["i"], standalone["spikes"][name]["i"])
        np.testing.assert_array_equal(np.asarray(cython["spikes"][name]["t"]), np.asarray(standalone["spikes"][name]["t"]))
    # another seed gives other spikes (the comparison above can fail)
    other = _run_circuit("cython", None, {**NOISY_CIRCUIT, "run": {"duration": "300 ms", "seed": 8}})
    assert not np.array_equal(other["spikes"]["pyramidal"]["i"], cython["spikes"]["pyramidal"]["i"])


def _binary_state(build_dir):
    binary = build_dir / "main"
    sources = sorted((build_dir / "code_objects").glob("*.cpp"))
    return binary.stat().st_mtime_ns, {p.name: p.stat().st_mtime_ns for p in sources}


@pytest.mark.standalone
def test_run_args_equal_a_recompile_without_recompiling(tmp_path):
    build = tmp_path / "sweep"
    new_values = {"g_L": 0.4 * nS, "E_L": 2 * mV}
    spec = circuit_from_mapping(NOISY_CIRCUIT)
    with Backend("cpp_standalone", build_dir=build, seed=7) as backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, spec.run["duration"])
        first = circuit.collect()
        before = _binary_state(build)
        group = circuit.groups["pyramidal"]
        backend.rerun({getattr(group, key): value for key, value in new_values.items()})
        rerun = circuit.collect()
        assert _binary_state(build) == before, "rerun must not regenerate or recompile"
    assert rerun["parameters"]["pyramidal"]["g_L"] == 0.4 * nS
    assert rerun["parameters"]["pyramidal"]["E_L"] == 2 * mV
    assert len(rerun["spikes"]["pyramidal"]["i"]) != len(first["spikes"]["pyramidal"]["i"])

    # the same values compiled in from the parameter file
    mapping = {**NOISY_CIRCUIT}
    recompiled_spec = circuit_from_mapping(mapping)
    recompiled_spec.models["pyramidal"] = recompiled_spec.models["pyramidal"].with_parameters(**new_values)
    with Backend("cpp_standalone", build_dir=tmp_path / "recompiled", seed=7) as backend:
        circuit = build_circuit(recompiled_spec, backend)
        backend.run(circuit.network, recompiled_spec.run["duration"])
        recompiled = circuit.collect()
    for name in ("pyramidal", "feedforward"):
        np.testing.assert_array_equal(rerun["spikes"][name]["i"], recompiled["spikes"][name]["i"])
        np.testing.assert_array_equal(np.asarray(rerun["spikes"][name]["t"]), np.asarray(recompiled["spikes"][name]["t"]))


def test_runtime_sweep_matches_separate_builds():
    spec = circuit_from_mapping(NOISY_CIRCUIT)
    backend = Backend("numpy", seed=7)

    def build(b):
        return build_circuit(spec, b)

    def collect(circuit):
        return circuit.collect()

    swept = backend.sweep(build, 100 * ms, [{("pyramidal", "g_L"): 0.2 * nS}], collect)[0]
    changed = circuit_from_mapping(NOISY_CIRCUIT)
    changed.models["pyramidal"] = changed.models["pyramidal"].with_parameters(g_L=0.2 * nS)
    with Backend("numpy", seed=7) as b:
        circuit = build_circuit(changed, b)
        b.run(circuit.network, 100 * ms)
        direct = circuit.collect()
    np.testing.assert_array_equal(swept["spikes"]["pyramidal"]["i"], direct["spikes"]["pyramidal"]["i"])
    assert swept["parameters"]["pyramidal"]["g_L"] == 0.2 * nS
