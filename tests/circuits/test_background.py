"""Background input drawn spike by spike: a Bernoulli process with p = 1 - exp(-rate dt)
per step ("poisson") or p = rate dt ("auryn", the published PoissonGroup), the same on
every target."""

import numpy as np
import pytest
from brian2 import EventMonitor, Hz, Network, NeuronGroup, ms
from scipy import stats

from dendritic.backend import Backend
from dendritic.circuits.background import BackgroundSource, combine, spike_probability

DT = 0.1 * ms
STEPS = 4000
N = 1000


def _simulate(target, tmp_path, rate=500 * Hz, weight=0.5, seed=4, probability="poisson"):
    source = BackgroundSource("g", rate, weight, probability)
    lines, events, code = combine([(source, "1")])
    with Backend(target, build_dir=tmp_path / "build", seed=seed, dt=DT) as backend:
        group = NeuronGroup(N, "\n".join(("g : 1",) + lines), events=events, name="target", namespace={})
        for event, statements in code.items():
            group.run_on_event(event, "\n".join(statements))
        source.set_parameters(group, DT)
        backend.parameters_set()
        source.initialise(group, np.random.default_rng(seed), DT)
        monitor = EventMonitor(group, source.event, name="arrivals")
        backend.run(Network(group, monitor), STEPS * DT)
        steps = np.round(np.asarray(monitor.t[:] / DT)).astype(np.int64)
        return np.asarray(monitor.i[:]), steps, np.asarray(group.g[:])


def _auryn_poisson_group_probability(rate, dt, neurons=1000, steps=20000, seed=0):
    """Fraction of occupied neuron-steps of Auryn's ``PoissonGroup`` algorithm
    (``set_rate``, ``evolve``): a pointer over the neurons of each step, advanced after
    every spike by floor(X/dt + 1.5) with X exponential of rate 1/(1/rate - dt)."""
    rng = np.random.default_rng(seed)
    lam = 1.0 / (1.0 / rate - dt)
    x, count = int(rng.exponential(1 / lam) / dt + 0.5), 0
    for _ in range(steps):
        while x < neurons:
            count += 1
            x += int(rng.exponential(1 / lam) / dt + 1.5)
        x -= neurons
    return count / (neurons * steps)


@pytest.mark.parametrize("probability", ["poisson", "auryn"])
def test_counts_and_intervals_are_those_of_a_bernoulli_process(tmp_path, probability):
    i, steps, g = _simulate("numpy", tmp_path, probability=probability)
    p = spike_probability(500 * Hz, DT, probability)
    if probability == "poisson":
        assert p == pytest.approx(1 - np.exp(-0.05))
    else:  # the published generator's occupancy, within 4 standard errors of 2e7 neuron-steps
        assert abs(_auryn_poisson_group_probability(500.0, 1e-4) - p) < 4 * np.sqrt(p * (1 - p) / 2e7)
    counts = np.bincount(i, minlength=N)
    # every spike added the weight once
    np.testing.assert_allclose(g, 0.5 * counts)
    # counts ~ Binomial(STEPS, p): mean and variance within 4 standard errors
    mean, var = STEPS * p, STEPS * p * (1 - p)
    assert abs(counts.mean() - mean) < 4 * np.sqrt(var / N)
    assert abs(counts.var(ddof=1) / var - 1) < 4 * np.sqrt(2 / (N - 1))
    # at most one spike per step and neuron, and intervals geometric: chi-square on 1..15 steps
    order = np.lexsort((steps, i))
    i, steps = i[order], steps[order]
    same = i[1:] == i[:-1]
    intervals = np.diff(steps)[same]
    k = np.arange(1, 16)
    observed = np.array([(intervals == value).sum() for value in k] + [(intervals > 15).sum()])
    expected = len(intervals) * np.append(stats.geom.pmf(k, p), stats.geom.sf(15, p))
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # the first spike step is geometric from 0 too (a process started at t = 0, not at a spike)
    first = steps[np.r_[True, ~same]]
    assert abs(first.mean() - (1 - p) / p) < 4 * np.sqrt((1 - p) / p**2 / N)


def test_rate_change_changes_the_counts(tmp_path):
    """The test above can fail: at half the rate the mean count is far outside its band."""
    i, _, _ = _simulate("numpy", tmp_path, rate=250 * Hz)
    counts = np.bincount(i, minlength=N)
    p = spike_probability(500 * Hz, DT)
    assert abs(counts.mean() - STEPS * p) > 20 * np.sqrt(STEPS * p * (1 - p) / N)


@pytest.mark.standalone
def test_same_trains_on_numpy_and_standalone(tmp_path):
    runtime = _simulate("numpy", tmp_path / "numpy")
    standalone = _simulate("cpp_standalone", tmp_path / "standalone")
    for a, b in zip(runtime, standalone):
        np.testing.assert_array_equal(a, b)


def test_bad_sources_are_refused():
    with pytest.raises(ValueError, match="negative"):
        BackgroundSource("g", -1 * Hz, 1.0)
    source = BackgroundSource("g", 500 * Hz, 1.0)
    with pytest.raises(ValueError, match="two background sources onto g"):
        combine([(source, "1"), (source, "1")])
