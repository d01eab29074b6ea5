"""``dendritic run xor`` (Payeur et al. 2021, Fig. 4) at a tiny size: the weights change
only inside the learning windows, the teaching current has the sign of the target, an
interrupted run resumes with the same numbers, and (opt-in, ``-m slow``) cython and
cpp_standalone give the same spikes. (The chunk mechanics are compared across targets in
``tests/test_continuation.py``, the XOR neuron in ``tests/neurons/test_burst_poisson.py``.)"""

import numpy as np
import pytest
from brian2 import pA

from dendritic.backend import Backend
from dendritic.experiments import xor

# 25 neurons per population (all-to-all: p = 0.2 x 500/25 capped at 1, weights x 4),
# one epoch of 0.4 s examples, learning in their last 0.2 s, every spike recorded
SMALL = ["run.neurons=25", 'run.chunk="0.2 s"', "run.record_spikes=true", 'readout.bin="100 ms"',
         'protocol.burn_in="0.2 s"', 'protocol.example_duration="0.4 s"', 'protocol.learning_window="0.2 s"',
         "protocol.epochs=1", "protocol.test_before=false", "protocol.test_after=false"]


def _backend(config, target, build_dir=None):
    return Backend.for_config(config, target, build_dir=build_dir)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small run on cpp_standalone (the cython target needs ~40 s per simulated
    second for the ~250 code objects of this network; the binary runs it in a second)."""
    config = xor.load_config("xor", SMALL)
    folder = tmp_path_factory.mktemp("xor")
    output = folder / "run.h5"
    result = xor.run_one(config, _backend(config, "cpp_standalone", folder / "build"), output, progress=False)
    return config, result, output, folder / "build"


def test_weights_change_only_inside_the_learning_windows(small):
    config, result, _, _ = small
    windows = [(e.learning, e.end) for e in config.protocol.examples() if e.phase == "train"]
    t = np.asarray(result["weights"]["t"], float)  # chunk ends, every 0.2 s
    moved = 0
    for name, means in result["weights"]["mean"].items():
        change = np.abs(np.diff(np.r_[means[0], means]))  # the first chunk starts at the initial weights
        for k, end in enumerate(t):
            inside = any(a < end - 1e-9 and b > end - 0.2 + 1e-9 for a, b in windows)
            if not inside:
                assert change[k] == 0, f"{name} changed in the chunk ending at {end} s, outside the learning windows"
            moved += inside and change[k] > 0
    assert moved > 0


def test_teaching_current_has_the_sign_of_the_target(small):
    config, result, _, _ = small
    averages = result["output_averages"]
    t = np.asarray(averages["t"], float)
    teaching = np.asarray(averages["I_dend"] / pA) - 400.0  # the baseline of the output dendrites
    examples = [e for e in config.protocol.examples() if e.phase == "train"]
    for e in examples:
        inside = (t > e.learning + 1e-9) & (t < e.end - 1e-9)
        outside = (t > e.start + 1e-9) & (t < e.learning - 1e-9)
        assert inside.any() and outside.any()
        np.testing.assert_allclose(teaching[outside], 0, atol=1e-9)
        if e.target == 1:
            assert np.all(teaching[inside] > 0)
        else:
            assert np.all(teaching[inside] <= 0)


def test_interrupted_run_resumes_with_the_same_numbers(small, tmp_path):
    config, result, _, build = small  # the same binary (its sources unchanged: nothing to recompile)
    checkpoint = tmp_path / "run.seed1.checkpoint.h5"
    part = xor.train(config, _backend(config, "cpp_standalone", build), checkpoint, progress=False, max_chunks=4)
    assert not part["complete"] and checkpoint.exists()
    rest = xor.train(config, _backend(config, "cpp_standalone", build), checkpoint, progress=False)
    assert rest["complete"] and rest["timing"]["chunks_run"] == config.chunks() - 4
    resumed = xor.analyse(config, rest)
    np.testing.assert_array_equal(resumed["examples"]["cost_pre"], result["examples"]["cost_pre"])
    for name in xor.POPULATIONS:
        np.testing.assert_array_equal(np.asarray(resumed["signals"][name]["event_rate"]),
                                      np.asarray(result["signals"][name]["event_rate"]))
    for name, weights in rest["final_weights"].items():
        np.testing.assert_array_equal(weights, result["weights"]["final"][name])


def test_checkpoint_of_another_configuration_is_refused(small, tmp_path):
    config, _, output, _ = small
    other = xor.load_config("xor", SMALL + ["protocol.input_one=\"100 pA\""])
    from dendritic import config as cfg

    with pytest.raises(cfg.ConfigError, match="another configuration"):
        xor.train(other, _backend(other, "numpy"), xor.checkpoint_path(output, 1), progress=False)


@pytest.mark.slow  # compiling the ~250 Cython extensions of this network takes ~10 min on a fresh machine
def test_cython_and_standalone_give_the_same_spikes(small):
    config, result, _, _ = small
    cython = xor.train(config, _backend(config, "cython"), None, progress=False)
    for name in xor.POPULATIONS:
        a, b = cython["spikes"][name], result["spikes"][name]
        assert len(a["t"]) > 5
        np.testing.assert_array_equal(np.asarray(a["i"]), np.asarray(b["i"]))
        np.testing.assert_allclose(np.asarray(a["t"]), np.asarray(b["t"]), atol=1e-12)
    for name, weights in cython["final_weights"].items():
        np.testing.assert_array_equal(weights, result["weights"]["final"][name])


def test_learning_rate_scale_multiplies_every_bdsp_eta_and_changes_the_fingerprint():
    published, scaled = xor.load_config("xor"), xor.load_config("xor", ["run.learning_rate_scale=3"])
    etas = [(c["plasticity"]["eta"], d["plasticity"]["eta"]) for c, d in
            zip(published.spec.values["connections"], scaled.spec.values["connections"]) if c["plasticity"]]
    assert len(etas) == 6 and all(b == pytest.approx(3 * a) for a, b in etas)
    assert xor._fingerprint(published) != xor._fingerprint(scaled)


def test_an_explicit_seed_runs_that_seed_only_and_seeds_run_them_all():
    """``--seed k`` runs seed k alone even where the file lists several seeds
    (``xor_short`` lists 1-5); ``--seeds`` runs the given ones; neither: the file's."""
    from dendritic.cli import parse_args

    def seeds(*options):
        return xor.configure(parse_args(["run", "xor", "--config", "xor_short", *options])).seeds

    assert seeds() == (1, 2, 3, 4, 5)
    assert seeds("--seed", "3") == (3,)
    assert seeds("--seeds", "2-3") == (2, 3)
