"""Chunked runs (:mod:`dendritic.continuation`): time runs on, the state carries over, a
run resumed from a saved state gives the same spikes as one that went on, and cython and
cpp_standalone give the same chunks."""

import numpy as np
import pytest
from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, TimedArray, mV, ms

from dendritic.backend import Backend
from dendritic.continuation import Chunks, chunk_seed

LENGTH = 50 * ms


def _network(backend):
    """Leaky neurons with a random threshold, a drive that changes in time, and a
    weight that grows at every presynaptic spike: state that must carry over. (Only
    ``rand()``: the cython target buffers ``rand()`` and ``randn()`` draws separately,
    so a model mixing them draws in another order there than on standalone.)"""
    drive = TimedArray(np.array([0.0, 1.0, 0.5, 2.0, 1.5, 0.0, 1.0, 2.0]) * mV / ms, dt=25 * ms)
    group = NeuronGroup(20, "dv/dt = -v/(10*ms) + drive(t) : volt\n"
                            "r : hertz", threshold="rand() < r*dt*int(v > 5*mV)", reset="v = 0*mV",
                        refractory=2 * ms, method="euler", name="cells", namespace={"drive": drive})
    group.r = 400 * Hz
    synapses = Synapses(group, group, "w : volt", on_pre="v_post += w\nw = clip(w + 0.01*mV, 0*mV, 1*mV)",
                        name="links")
    synapses.connect(i=np.arange(19), j=np.arange(1, 20))
    synapses.w = 0.1 * mV
    backend.parameters_set({"cells": group})
    group.v = "rand()*10*mV"
    spikes = SpikeMonitor(group, name="cell_spikes")
    trace = StateMonitor(group, "v", record=[0], dt=5 * ms, name="cell_trace")
    network = Network(group, synapses, spikes, trace)
    return network, spikes, trace, synapses


def _chunked(target, tmp_path, chunks, resume_at=None):
    """Spike (t, i) per chunk, the recorded times, and the final weights; with
    ``resume_at`` the run stops before that chunk and a fresh build resumes it."""
    out, state = [], None
    stops = [range(chunks)] if resume_at is None else [range(resume_at), range(resume_at, chunks)]
    for part in stops:
        backend = Backend(target, seed=3, build_dir=tmp_path / f"build_{target}_{part.start}")
        with backend:
            network, spikes, trace, synapses = _network(backend)
            runner = Chunks(network, backend, LENGTH, seed=3)
            runner.prepare()
            for k in part:
                runner.run(k, state=state)
                state = None
                t, i = runner.take(spikes, "t"), runner.take(spikes, "i")
                out.append((np.asarray(t), np.asarray(i), np.asarray(runner.take(trace, "t"))))
            state = runner.state()
            weights = np.asarray(synapses.w_).copy()
    return out, weights


def test_chunk_seeds_differ_between_chunks_and_seeds():
    seeds = {chunk_seed(s, k) for s in range(3) for k in range(50)}
    assert len(seeds) == 150 and all(0 <= s < 2**31 - 64 for s in seeds)


@pytest.fixture(scope="module")
def cython_straight(tmp_path_factory):
    return _chunked("cython", tmp_path_factory.mktemp("straight"), 4)


def test_time_runs_on_from_chunk_to_chunk(cython_straight):
    chunks, _ = cython_straight
    for k, (t, i, recorded) in enumerate(chunks):
        assert len(t) > 0
        assert np.all(t >= float(k * LENGTH) - 1e-12) and np.all(t < float((k + 1) * LENGTH))
        np.testing.assert_allclose(recorded, float(k * LENGTH) + np.arange(10) * 0.005, atol=1e-9)


def _assert_same_chunks(a, b):
    """The same spikes (neuron for neuron, times to 1e-12 s) and sample times in every chunk."""
    assert len(a) == len(b)
    for (t1, i1, r1), (t2, i2, r2) in zip(a, b):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(t1, t2, atol=1e-12)
        np.testing.assert_allclose(r1, r2, atol=1e-12)


def test_resumed_run_gives_the_same_spikes(cython_straight, tmp_path):
    straight, weights = cython_straight
    resumed, resumed_weights = _chunked("cython", tmp_path, 4, resume_at=2)
    _assert_same_chunks(straight, resumed)
    np.testing.assert_array_equal(weights, resumed_weights)
    assert weights.max() > 0.1e-3  # the weights did change along the run


def test_standalone_chunks_equal_cython_chunks(cython_straight, tmp_path):
    straight, weights = cython_straight
    standalone, standalone_weights = _chunked("cpp_standalone", tmp_path, 4, resume_at=3)
    _assert_same_chunks(straight, standalone)
    np.testing.assert_allclose(weights, standalone_weights, rtol=0, atol=1e-15)
