"""Engine settings of issue 22 (:data:`dendritic.backend.ENGINES`).

- ``"vectorised"`` changes compiler flags and the threshold loop only: a seeded
  standalone run gives the spikes of the ``"reference"`` build, spike for spike.
- ``background = "combined"`` (engines ``"combined"``, ``"float32"``) runs all
  background sources of a group in one pass. On numpy the draws come in the same order
  as with one custom event per source, so the trains are identical; on standalone with a
  single source too; with several sources the order of the draws changes, and the trains
  are checked against the Bernoulli process they must be (counts, intervals), as the
  per-source trains are in ``tests/circuits/test_background.py``.
"""

import numpy as np
import pytest
from brian2 import Hz, Network, NeuronGroup, StateMonitor, ms
from scipy import stats

from dendritic.backend import ENGINES, Backend, engine_setting
from dendritic.circuits import background
from dendritic.circuits.background import BackgroundSource, combine, spike_probability

DT = 0.1 * ms
STEPS = 3000
SOURCES = (("g", 500 * Hz, 0.5), ("h", 150 * Hz, 0.25), ("k", 500 * Hz, 0.05))


def _arrivals(target, tmp_path, mode, sources=SOURCES, N=400, seed=4, engine="reference"):
    """Background trains of ``N`` neurons: per variable, (neuron, step) of each arrival,
    read from the recorded next-step counters (a counter moves on at each arrival, from
    the arrival's step), and the final conductances."""
    made = [BackgroundSource(v, rate, weight, "auryn") for v, rate, weight in sources]
    with Backend(target, build_dir=tmp_path / "build", seed=seed, dt=DT, engine=engine) as backend:
        lines, events, code = combine([(s, "1") for s in made], mode=mode)
        variables = tuple(f"{s.variable} : 1" for s in made)
        group = NeuronGroup(N, "\n".join(variables + lines), events=events or None, name="target", namespace={})
        for event, statements in code.items():
            group.run_on_event(event, "\n".join(statements))
        for s in made:
            s.set_parameters(group, DT)
        backend.parameters_set()
        for s in made:
            s.initialise(group, np.random.default_rng(seed), DT)
        monitor = StateMonitor(group, [s.next_step for s in made], record=True, when="end", name="counters")
        start = {s.variable: np.asarray(getattr(group, s.next_step)[:]).copy() for s in made}
        backend.run(Network(group, monitor), STEPS * DT)
        trains, final = {}, {}
        for s in made:
            counters = np.vstack([start[s.variable], np.asarray(getattr(monitor, s.next_step)[:]).T])  # steps+1 x N
            moved = np.diff(counters, axis=0) != 0
            step, neuron = np.nonzero(moved)
            trains[s.variable] = (neuron, counters[step, neuron])  # the arrival's step, before it moved
            final[s.variable] = np.asarray(getattr(group, s.variable)[:])
    return trains, final


def _check_bernoulli(neuron, steps, p, N):
    """Counts per neuron binomial, intervals geometric (chi-square), as for the
    per-source trains."""
    counts = np.bincount(neuron, minlength=N)
    mean, var = STEPS * p, STEPS * p * (1 - p)
    assert abs(counts.mean() - mean) < 4 * np.sqrt(var / N)
    assert abs(counts.var(ddof=1) / var - 1) < 4 * np.sqrt(2 / (N - 1))
    order = np.lexsort((steps, neuron))
    neuron, steps = neuron[order], steps[order]
    intervals = np.diff(steps)[neuron[1:] == neuron[:-1]]
    assert intervals.min() >= 1  # at most one arrival per step and source
    k = np.arange(1, 13)
    observed = np.array([(intervals == value).sum() for value in k] + [(intervals > 12).sum()])
    expected = len(intervals) * np.append(stats.geom.pmf(k, p), stats.geom.sf(12, p))
    return stats.chisquare(observed, expected).pvalue


def test_engines_are_named_and_checked():
    assert ENGINES["reference"] == {}
    assert ENGINES["combined"]["background"] == "combined"
    with pytest.raises(ValueError, match="unknown engine"):
        Backend("numpy", engine="warp")
    with Backend("numpy", engine="combined"):
        assert engine_setting("background") == "combined"
    assert engine_setting("background") is None  # cleared on exit
    with pytest.raises(ValueError, match="unknown background mode"):
        combine([(BackgroundSource("g", 5 * Hz, 1.0), "1")], mode="merged")


def test_background_gap_draws_only_where_hit():
    np.random.seed(2)
    hit = (np.random.rand(200000) < 0.3).astype(np.int32)
    p = 0.05
    gaps = background._gap_numpy(hit, 1.0 / np.log(1 - p))
    assert np.all(gaps[hit == 0] == 0)
    drawn = gaps[hit == 1]
    assert drawn.min() >= 1
    k = np.arange(1, 30)
    observed = np.array([(drawn == value).sum() for value in k] + [(drawn >= 30).sum()])
    expected = len(drawn) * np.append(stats.geom.pmf(k, p), stats.geom.sf(29, p))
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # the numbers drawn are exactly one per hit: the generator moved on by that many
    np.random.seed(5)
    background._gap_numpy(hit, 1.0 / np.log(1 - p))
    after = np.random.rand()
    np.random.seed(5)
    np.random.rand(int(hit.sum()))
    assert np.random.rand() == after


@pytest.fixture(scope="module")
def numpy_combined(tmp_path_factory):
    return _arrivals("numpy", tmp_path_factory.mktemp("combined"), "combined")


def test_combined_pass_on_numpy_gives_the_trains_of_the_separate_events(tmp_path, numpy_combined):
    separate, g_separate = _arrivals("numpy", tmp_path, "separate")
    combined, g_combined = numpy_combined
    for v in separate:
        for a, b in zip(separate[v], combined[v]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(g_separate[v], g_combined[v])
        assert len(separate[v][0]) > 1000


def test_combined_pass_keeps_the_process(numpy_combined):
    trains, final = numpy_combined
    for v, rate, weight in SOURCES:
        neuron, steps = trains[v]
        assert _check_bernoulli(neuron, steps, spike_probability(rate, DT, "auryn"), 400) > 1e-3
        np.testing.assert_allclose(final[v], weight * np.bincount(neuron, minlength=400))


def test_the_check_can_fail(numpy_combined):
    """A train at 150 Hz is not the 500 Hz process the check expects."""
    trains, _ = numpy_combined
    neuron, steps = trains["h"]
    with pytest.raises(AssertionError):
        _check_bernoulli(neuron, steps, spike_probability(500 * Hz, DT, "auryn"), 400)


@pytest.mark.standalone
def test_combined_pass_on_standalone(tmp_path):
    """One source: the draws come in the order of the per-source event, so the trains are
    the numpy target's; three sources: interleaved draws, the same process."""
    single = SOURCES[:1]
    reference, _ = _arrivals("numpy", tmp_path / "numpy", "separate", sources=single)
    standalone, _ = _arrivals("cpp_standalone", tmp_path / "one", None, sources=single, engine="combined")
    for a, b in zip(reference["g"], standalone["g"]):
        np.testing.assert_array_equal(a, b)
    trains, final = _arrivals("cpp_standalone", tmp_path / "three", None, engine="combined")
    for v, rate, weight in SOURCES:
        neuron, steps = trains[v]
        assert _check_bernoulli(neuron, steps, spike_probability(rate, DT, "auryn"), 400) > 1e-3
        np.testing.assert_allclose(final[v], weight * np.bincount(neuron, minlength=400))


@pytest.mark.slow
@pytest.mark.standalone
def test_combined_pass_on_standalone_against_the_separate_events(tmp_path):
    """Three sources, the same seed: per-neuron counts distributed alike, trains not identical."""
    trains, _ = _arrivals("cpp_standalone", tmp_path / "three", None, engine="combined")
    separate, _ = _arrivals("cpp_standalone", tmp_path / "three_separate", None, engine="vectorised")
    for v, _, _ in SOURCES:
        counts = np.bincount(trains[v][0], minlength=400)
        counts_separate = np.bincount(separate[v][0], minlength=400)
        assert stats.ks_2samp(counts, counts_separate).pvalue > 1e-3
    assert any(not np.array_equal(np.bincount(trains[v][0], minlength=400),
                                  np.bincount(separate[v][0], minlength=400)) for v, _, _ in SOURCES)


def _small_xor_like(N=80, two=True):
    """Two burst-Poisson populations with the XOR network's background, events from ``a``
    onto the soma of ``b`` and bursts from ``b`` onto the dendrite of ``a``; or (``two``
    false) ``a`` alone, its bursts onto its own dendrites."""
    from dendritic.circuits import circuit_from_mapping

    names = ("a", "b") if two else ("a",)
    backgrounds = [{"population": pop, "target": target, "rate": rate, "weight": weight}
                   for pop in names
                   for target, rate, weight in (("g_ampa_s", "500 Hz", 0.35), ("g_gaba_s", "500 Hz", 0.35),
                                                ("g_ampa_d", "500 Hz", 0.05), ("g_gaba_d", "500 Hz", 0.05))]
    raw = {
        "run": {"dt": "0.1 ms", "duration": "300 ms", "seed": 3, "synaptic_delay": "0 ms",
                "initial_potential_sd": "5 mV", "background_probability": "auryn"},
        "populations": [{"name": "a", "neuron": "payeur2021_xor", "N": N, "inputs": {"I_soma": "150 pA"}},
                        {"name": "b", "neuron": "payeur2021_xor", "N": N, "inputs": {"I_dend": "400 pA"}}],
        "background": backgrounds,
        "connections": [{"pre": "a", "post": "b", "target": "g_ampa_s", "probability": 0.2, "weight": 0.234,
                         "transmit": "events"},
                        {"pre": "b", "post": "a", "target": "g_ampa_d", "probability": 0.2, "weight": 0.26,
                         "transmit": "bursts"}],
        "record": {"spikes": ["a", "b"], "bursts": ["a", "b"]},
    }
    if not two:
        raw["populations"] = raw["populations"][:1]
        raw["populations"][0]["inputs"] = {"I_soma": "150 pA", "I_dend": "300 pA"}
        raw["connections"] = [{"pre": "a", "post": "a", "target": "g_ampa_d", "probability": 0.2, "weight": 0.26,
                               "transmit": "bursts"}]
        raw["record"] = {"spikes": ["a"], "bursts": ["a"]}
    return circuit_from_mapping(raw)


def _run_circuit(spec, tmp_path, engine):
    from brian2 import second

    from dendritic.circuits import build_circuit

    with Backend("cpp_standalone", build_dir=tmp_path / engine, seed=spec.run["seed"], dt=spec.run["dt"],
                 engine=engine) as backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, float(spec.run["duration"]) * second)
        return circuit.spike_records()


def _same_spikes(spec, tmp_path, names):
    reference = _run_circuit(spec, tmp_path, "reference")
    vectorised = _run_circuit(spec, tmp_path, "vectorised")
    for name in names:
        assert len(reference[name]["t"]) > 100 and len(reference[name]["burst_t"]) > 5
        for key in ("i", "t", "event_t", "burst_t"):
            np.testing.assert_array_equal(reference[name][key], vectorised[name][key])


@pytest.mark.standalone
def test_vectorised_engine_gives_the_reference_spikes(tmp_path):
    """Compiler flags, the blocked threshold loop and the network loop leave the
    arithmetic and the random stream alone: the same spikes, events and bursts as the
    reference build (one population, its background, bursts onto its dendrites)."""
    _same_spikes(_small_xor_like(two=False), tmp_path, ("a",))


@pytest.mark.slow
@pytest.mark.standalone
def test_vectorised_engine_gives_the_reference_spikes_between_populations(tmp_path):
    _same_spikes(_small_xor_like(), tmp_path, ("a", "b"))


def test_float32_engine_keeps_times_in_double():
    from dendritic.neurons import load_neuron

    model = load_neuron("payeur2021_xor")
    with Backend("numpy", engine="float32"):
        group = model.make_group(3, name="xor")
        assert group.variables["V_s"].dtype == np.float32
        assert group.variables["w_d"].dtype == np.float32
        assert group.variables["t_last_spike"].dtype == np.float64
    with Backend("numpy"):
        group = model.make_group(3, name="xor")
        assert group.variables["V_s"].dtype == np.float64


def test_vector_math_declares_libmvec_and_is_undone(tmp_path):
    from brian2 import prefs

    from dendritic.backend import VECTOR_MATH_HEADER

    before = (list(prefs.codegen.cpp.headers), list(prefs.codegen.cpp.libraries),
              list(prefs.codegen.cpp.extra_compile_args_gcc))
    with Backend("cpp_standalone", build_dir=tmp_path, engine="vector_math"):
        assert f'"{VECTOR_MATH_HEADER}"' in prefs.codegen.cpp.headers
        assert "mvec" in prefs.codegen.cpp.libraries
        assert "__simd__" in (tmp_path / VECTOR_MATH_HEADER).read_text()
        assert any("vect-max-version-for-alias-checks" in a for a in prefs.codegen.cpp.extra_compile_args_gcc)
        # Brian's own flags are kept (-fno-finite-math-only included)
        assert set(before[2]) <= set(prefs.codegen.cpp.extra_compile_args_gcc)
    assert (list(prefs.codegen.cpp.headers), list(prefs.codegen.cpp.libraries),
            list(prefs.codegen.cpp.extra_compile_args_gcc)) == before
