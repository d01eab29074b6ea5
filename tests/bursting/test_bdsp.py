"""BDSP weights against an independent NumPy recomputation from the recorded spikes
(the validation NEST uses for its plasticity models), on cython and cpp_standalone."""

import numpy as np
import pytest
from brian2 import EventMonitor, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses, second

from dendritic import bursts
from dendritic.backend import Backend
from dendritic.experiments.plasticity_protocol import burst_poisson_train, limit_make_jobs
from dendritic.plasticity import bdsp

DT = 0.1e-3
DURATION = 1.0
N_PRE, N_POST = 10, 4
ETA, TAU_PRE, TAU_AVG = 0.15, 0.020, 0.5
E_BAR0, P_BAR0 = 10.0, 0.2


def _protocol():
    rng = np.random.default_rng(11)
    pre = [burst_poisson_train(rng, 12.0, 0.3, DURATION - 0.01, DT) for _ in range(N_PRE)]
    post = [burst_poisson_train(rng, 12.0, p, DURATION - 0.01, DT) for p in np.linspace(0.05, 0.7, N_POST)]
    i = np.repeat(np.arange(N_PRE), N_POST)
    j = np.tile(np.arange(N_POST), N_PRE)
    w0 = rng.uniform(0.0, 1.0, len(i))
    w0[i == 0], w0[i == 1] = 0.002, 0.998  # next to the bounds, so that clipping is exercised
    return pre, post, i, j, w0


def _generator(trains, name):
    indices = np.concatenate([np.full(len(train), k) for k, train in enumerate(trains)])
    return SpikeGeneratorGroup(len(trains), indices, np.concatenate(trains) * second, name=name)


def _run(target, build_dir=None):
    limit_make_jobs()
    pre_trains, post_trains, i, j, w0 = _protocol()
    with Backend(target, build_dir=build_dir, seed=1, dt=DT * second) as backend:
        drive_pre, drive_post = _generator(pre_trains, "drive_pre"), _generator(post_trains, "drive_post")
        pre = bursts.relay_group(N_PRE, "pre", bdsp.presynaptic_equations(), bdsp.presynaptic_event_code())
        post = bursts.relay_group(N_POST, "post", bdsp.postsynaptic_equations(), bdsp.postsynaptic_event_code())
        bdsp.attach_presynaptic(pre, TAU_PRE * second)
        bdsp.attach_postsynaptic(post, TAU_AVG * second)
        forcing = []
        for source, relay in ((drive_pre, pre), (drive_post, post)):
            synapses = Synapses(source, relay, on_pre="forced_post = 1", name=f"force_{relay.name}")
            synapses.connect(j="i")
            forcing.append(synapses)
        plastic = bdsp.synapses(pre, post, i, j, w0, eta=ETA, name="plastic")
        backend.parameters_set()
        for group in (pre, post):
            bursts.initialise_detection(group)
        bdsp.initialise_postsynaptic(post, E_BAR0, P_BAR0)
        monitors = {"pre": SpikeMonitor(pre), "post": SpikeMonitor(post),
                    "event": EventMonitor(post, "event"), "burst": EventMonitor(post, "burst")}
        network = Network(drive_pre, drive_post, pre, post, *forcing, plastic, *monitors.values())
        backend.run(network, DURATION * second)
        recorded = {name: (np.asarray(m.i[:]), np.asarray(m.t[:] / second)) for name, m in monitors.items()}
        return np.asarray(plastic.w[:]), np.asarray(plastic.i[:]), np.asarray(plastic.j[:]), w0, recorded


def _per_neuron(i, t, n):
    order, is_event, is_burst = bursts.classify_spikes(i, t, 0.016)
    i, t = i[order], t[order]
    return ([t[is_event & (i == k)] for k in range(n)], [t[is_burst & (i == k)] for k in range(n)])


def _check_against_numpy(result):
    weights, i, j, w0, recorded = result
    pre_events, _ = _per_neuron(*recorded["pre"], N_PRE)
    post_events, post_bursts = _per_neuron(*recorded["post"], N_POST)
    # the online detector agrees with the NumPy classification
    assert sum(len(e) for e in post_events) == len(recorded["event"][0])
    assert sum(len(b) for b in post_bursts) == len(recorded["burst"][0])
    assert sum(len(b) for b in post_bursts) > 10
    expected = bdsp.reference_weights(pre_events, post_events, post_bursts, i, j, w0, DT, eta=ETA,
                                      tau_pre=TAU_PRE, tau_avg=TAU_AVG, E_bar_initial=E_BAR0,
                                      B_bar_initial=E_BAR0 * P_BAR0)
    # the run must move the weights, and reach both bounds, for the comparison to mean something
    assert np.mean(np.abs(expected - w0)) > 0.02
    assert np.any(expected == 0.0) and np.any(expected == 1.0)
    relative = np.abs(weights - expected) / np.maximum(np.abs(expected), 1e-12)
    relative[expected == 0] = np.abs(weights[expected == 0])
    assert relative.max() < 1e-3, relative.max()


def test_bdsp_weights_equal_numpy_recomputation_cython():
    _check_against_numpy(_run("cython"))


@pytest.mark.standalone
def test_bdsp_weights_equal_numpy_recomputation_standalone(tmp_path):
    _check_against_numpy(_run("cpp_standalone", tmp_path / "bdsp"))


def test_numpy_recomputation_sees_a_wrong_learning_rate():
    # the comparison can fail: the same recorded spikes with another eta give other weights
    weights, i, j, w0, recorded = _run("numpy")
    pre_events, _ = _per_neuron(*recorded["pre"], N_PRE)
    post_events, post_bursts = _per_neuron(*recorded["post"], N_POST)
    other = bdsp.reference_weights(pre_events, post_events, post_bursts, i, j, w0, DT, eta=ETA * 1.01,
                                   tau_pre=TAU_PRE, tau_avg=TAU_AVG, E_bar_initial=E_BAR0,
                                   B_bar_initial=E_BAR0 * P_BAR0)
    assert np.max(np.abs(weights - other) / np.maximum(np.abs(other), 1e-12)) > 1e-3
