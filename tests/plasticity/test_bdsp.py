"""BDSP with its homeostatic terms and the learning gate, against an independent NumPy
recomputation from the spikes recorded by Brian (the validation NEST uses for its
plasticity models), on numpy, cython and cpp_standalone.

The reference below is written from the published code, ``src/AdaptiveEBCPConnection.cpp``
with its bases ``src/EBCPConnection.cpp`` and ``src/BCPConnection.cpp`` in
``apayeur/spikingburstprop`` (Payeur et al. 2021, doi:10.1038/s41593-021-00857-x), in
Auryn's step order: within a step, first every presynaptic event (homeostatic
potentiation eta (min - S_hom), S_hom in Hz the moving average of all postsynaptic
spikes that ``BCPConnection::on_pre`` reads, ``tr_hom``: the ``on_pre`` of
``AdaptiveEBCPConnection``, with E_bar, is not virtual and never called; E_bar with
``potentiation_estimate = "events"``), then every postsynaptic spike (an event:
valence -B_bar/E_bar, -1 when that ratio is not below 1 or is 0/0, then E_bar += 1; a
burst: B_bar += 1, valence +1; both with the extra -(E_bar - max)/E_bar above max,
times the presynaptic event trace), each update skipped while ``stdp_active`` is false
and followed by the clip to [0, 1]; after the step, every trace decays. Traces here are
sums over past events (no recursion): a trace read at step n holds the events of steps
< n, plus, for the presynaptic trace, those of step n (incremented before the
postsynaptic pass of the same step).
"""

import numpy as np
import pytest
from brian2 import EventMonitor, Hz, Network, SpikeGeneratorGroup, SpikeMonitor, Synapses, TimedArray, second

from dendritic import bursts
from dendritic.backend import Backend
from dendritic.experiments.plasticity_protocol import burst_poisson_train
from dendritic.plasticity import bdsp

DT = 0.1e-3
DURATION = 1.0
N_PRE = 10
ETA, TAU_PRE, TAU_AVG, TAU_HOM = 0.02, 0.020, 0.5, 0.8
RATE_MIN, RATE_MAX = 5.0, 15.0
# postsynaptic neurons: (event rate, burst probability, E_bar(0), S_hom(0)); neuron 0
# starts at E_bar = 0 below rate_min, neuron 2 fires above rate_max; S_hom starts below
# rate_min for neurons 0 and 3 and above it for 1 and 2
POST = [(4.0, 0.3, 0.0, 0.1), (8.0, 0.3, 8.0, 9.0), (25.0, 0.15, 30.0, 30.0), (12.0, 0.7, 2.0, 1.0)]
P_BAR0 = 0.2
# learning gate: on in [0, 0.3 s), off in [0.3, 0.6 s), on in [0.6, 1 s)
GATE_DT = 0.1
GATE = np.array([1, 1, 1, 0, 0, 0, 1, 1, 1, 1], dtype=float)


def _protocol():
    rng = np.random.default_rng(11)
    pre = [burst_poisson_train(rng, 12.0, 0.3, DURATION - 0.01, DT) for _ in range(N_PRE)]
    post = [burst_poisson_train(rng, rate, p, DURATION - 0.01, DT) for rate, p, _, _ in POST]
    # presynaptic neuron 2 fires with postsynaptic neuron 0: presynaptic and postsynaptic
    # events in the same step, below rate_min
    pre[2] = post[0].copy()
    i = np.repeat(np.arange(N_PRE), len(POST))
    j = np.tile(np.arange(len(POST)), N_PRE)
    w0 = rng.uniform(0.1, 0.9, len(i))
    w0[i == 0], w0[i == 1] = 0.002, 0.998  # next to the bounds, so that clipping is exercised
    return pre, post, i, j, w0


def _generator(trains, name):
    indices = np.concatenate([np.full(len(train), k) for k, train in enumerate(trains)])
    return SpikeGeneratorGroup(len(trains), indices, np.concatenate(trains) * second, name=name)


def _run(target, build_dir=None, gate=True, rerun_eta=None, learning_on=None, estimate="spikes"):
    """Run the protocol; on standalone with ``rerun_eta``, also rerun the binary with that
    learning rate through ``run_args`` and return both results. ``learning_on`` sets the
    shared-constant gate (without the TimedArray); ``estimate``: potentiation_estimate."""
    pre_trains, post_trains, pre_index, post_index, w0 = _protocol()
    with Backend(target, build_dir=build_dir, seed=1, dt=DT * second) as backend:
        drive_pre, drive_post = _generator(pre_trains, "drive_pre"), _generator(post_trains, "drive_post")
        pre = bursts.relay_group(N_PRE, "pre", bdsp.presynaptic_equations(), bdsp.presynaptic_event_code())
        post = bursts.relay_group(len(POST), "post", bdsp.postsynaptic_equations(), bdsp.postsynaptic_event_code())
        bdsp.attach_presynaptic(pre, TAU_PRE * second)
        bdsp.attach_postsynaptic(post, TAU_AVG * second, homeostasis=True, rate_min=RATE_MIN * Hz,
                                 rate_max=RATE_MAX * Hz, potentiation_estimate=estimate, tau_hom=TAU_HOM * second)
        forcing = []
        for source, relay in ((drive_pre, pre), (drive_post, post)):
            synapses = Synapses(source, relay, on_pre="forced_post = 1", name=f"force_{relay.name}")
            synapses.connect(j="i")
            forcing.append(synapses)
        plastic = bdsp.synapses(pre, post, pre_index, post_index, w0, eta=ETA, homeostasis=True,
                                gate=TimedArray(GATE, dt=GATE_DT * second) if gate else None, name="plastic")
        if learning_on is not None:
            plastic.learning_on = learning_on
        backend.parameters_set()
        for group in (pre, post):
            bursts.initialise_detection(group)
        bdsp.initialise_postsynaptic(post, [E0 for _, _, E0, _ in POST], P_BAR0, [S0 for _, _, _, S0 in POST])
        monitors = {"pre_event": EventMonitor(pre, "event"), "post_event": EventMonitor(post, "event"),
                    "post_burst": EventMonitor(post, "burst"), "post_spike": SpikeMonitor(post)}
        network = Network(drive_pre, drive_post, pre, post, *forcing, plastic, *monitors.values())
        backend.run(network, DURATION * second)

        def collect():
            recorded = {name: (np.asarray(m.i[:]), np.asarray(m.t[:] / second)) for name, m in monitors.items()}
            return {"w": np.asarray(plastic.w[:]), "i": np.asarray(plastic.i[:]), "j": np.asarray(plastic.j[:]),
                    "w0": w0, "E_bar": np.asarray(post.E_bar[:] / Hz), "recorded": recorded}

        if rerun_eta is None:
            return collect()
        first = collect()
        backend.rerun({plastic.eta: rerun_eta})
        return first, collect()


def _steps(indices, times, k):
    return np.rint(times[indices == k] / DT).astype(np.int64)


def published_weights(recorded, i, j, w_initial, eta=ETA, gate=GATE, homeostasis=True, valence_at_zero=-1.0,
                      estimate="spikes"):
    """Final weights and final E_bar (Hz) from the recorded events and bursts, written
    from ``AdaptiveEBCPConnection`` (module docstring); also counts of the updates that
    exercised each branch while the gate was on. ``valence_at_zero``: -P_bar at an event
    with E_bar = 0 (published: the ratio 0/0 is not below 1, so -1). ``estimate``: the
    rate of the presynaptic potentiation, "spikes" (S_hom, published) or "events" (E_bar)."""
    n_post = len(POST)
    pre = [_steps(*recorded["pre_event"], k) for k in range(N_PRE)]
    spikes = [_steps(*recorded["post_spike"], k) for k in range(n_post)]
    events = [_steps(*recorded["post_event"], k) for k in range(n_post)]
    burst_steps = [_steps(*recorded["post_burst"], k) for k in range(n_post)]
    steps_per_gate_bin = int(round(GATE_DT / DT))

    def gate_on(n):
        return gate is None or gate[min(n // steps_per_gate_bin, len(gate) - 1)] > 0

    def average(initial, past, n, tau=TAU_AVG):  # moving average (Hz) read at step n: past steps only
        past = past[past < n]
        return initial * np.exp(-n * DT / tau) + np.exp(-(n - past) * DT / tau).sum() / tau

    def pre_trace(k, n):  # presynaptic event trace at step n, including step n
        past = pre[k][pre[k] <= n]
        return np.exp(-(n - past) * DT / TAU_PRE).sum()

    counts = {"E_bar_zero": 0, "depression": 0, "potentiation": 0, "same_step_potentiation": 0, "gated_off": 0}
    weights = np.array(w_initial, dtype=float)
    for post in range(n_post):
        E0, S0 = POST[post][2], POST[post][3]
        B0 = E0 * P_BAR0
        for synapse in np.flatnonzero(j == post):
            k = i[synapse]
            # (step, 0 = presynaptic event first, 1 = postsynaptic event, 2 = burst)
            updates = sorted([(n, 0) for n in pre[k]] + [(n, 1) for n in events[post]]
                             + [(n, 2) for n in burst_steps[post]])
            w = weights[synapse]
            for n, kind in updates:
                if not gate_on(n):
                    counts["gated_off"] += 1
                    continue
                E_bar = average(E0, events[post], n)
                if kind == 0:
                    rate = average(S0, spikes[post], n, TAU_HOM) if estimate == "spikes" else E_bar
                    dw = eta * (RATE_MIN - rate) if homeostasis and rate < RATE_MIN else 0.0
                    counts["potentiation"] += dw > 0
                    counts["same_step_potentiation"] += dw > 0 and n in events[post]
                else:
                    hom_neg = -(E_bar - RATE_MAX) / E_bar if homeostasis and E_bar > RATE_MAX else 0.0
                    counts["depression"] += hom_neg < 0
                    if kind == 1:
                        if E_bar > 0:
                            ratio = average(B0, burst_steps[post], n) / E_bar
                            valence = -ratio if ratio < 1 else -1.0
                        else:
                            valence = valence_at_zero
                            counts["E_bar_zero"] += 1
                    else:
                        valence = 1.0
                    dw = eta * (valence + hom_neg) * pre_trace(k, n)
                w = min(max(w + dw, 0.0), 1.0)
            weights[synapse] = w
    n_end = int(round(DURATION / DT))
    E_bar_final = np.array([average(POST[p][2], events[p], n_end) for p in range(n_post)])
    return weights, E_bar_final, counts


def _relative_error(actual, expected):
    relative = np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-12)
    relative[expected == 0] = np.abs(actual[expected == 0])
    return relative.max()


def _check_against_published(result, eta=ETA, estimate="spikes"):
    recorded = result["recorded"]
    # the online detector agrees with the NumPy classification of the recorded spikes
    _, is_event, is_burst = bursts.classify_spikes(*recorded["post_spike"], 0.016)
    assert is_event.sum() == len(recorded["post_event"][0]) and is_burst.sum() == len(recorded["post_burst"][0])
    expected, E_bar, counts = published_weights(recorded, result["i"], result["j"], result["w0"], eta=eta,
                                                estimate=estimate)
    print("counts:", counts)
    # every branch is exercised while the gate is on, and the gate holds some updates back
    assert counts["E_bar_zero"] > 0 and counts["depression"] > 50 and counts["potentiation"] > 50
    assert counts["same_step_potentiation"] > 0
    assert counts["gated_off"] > 50
    # the run moves the weights and reaches both bounds, without saturating them all
    assert np.mean(np.abs(expected - result["w0"])) > 0.02
    assert np.any(expected == 0.0) and np.any(expected == 1.0)
    assert np.mean((expected > 0) & (expected < 1)) > 0.5
    error = _relative_error(result["w"], expected)
    print(f"largest relative weight error against the published rule: {error:.2e}")
    assert error < 1e-3, error
    # the averages kept running while the gate was off
    np.testing.assert_allclose(result["E_bar"], E_bar, rtol=1e-9)
    return expected


@pytest.fixture(scope="module")
def numpy_run():
    return _run("numpy")


def test_bdsp_with_homeostasis_and_gate_equals_published_rule_numpy(numpy_run):
    _check_against_published(numpy_run)


@pytest.mark.slow  # 3 min of Cython compilation on a cold cache; numpy and cpp_standalone run by default
def test_bdsp_with_homeostasis_and_gate_equals_published_rule_cython():
    _check_against_published(_run("cython"))


def test_potentiation_on_the_event_average_numpy():
    """potentiation_estimate = "events": the E_bar that AdaptiveEBCPConnection::on_pre reads."""
    _check_against_published(_run("numpy", estimate="events"), estimate="events")


@pytest.mark.standalone
def test_bdsp_with_homeostasis_and_gate_equals_published_rule_standalone(tmp_path):
    """... and the same binary rerun with another learning rate through ``run_args``."""
    first, rerun = _run("cpp_standalone", tmp_path / "bdsp", rerun_eta=2 * ETA)
    _check_against_published(first)
    _check_against_published(rerun, eta=2 * ETA)


def test_recomputation_sees_each_ingredient(numpy_run):
    """The comparison can fail: from the same recorded spikes, another learning rate, no
    homeostasis, no gate, P_bar = 0 at E_bar = 0 or potentiation from E_bar give other weights."""
    recorded, i, j, w0 = numpy_run["recorded"], numpy_run["i"], numpy_run["j"], numpy_run["w0"]
    for variant in ({"eta": ETA * 1.01}, {"homeostasis": False}, {"gate": None}, {"valence_at_zero": 0.0},
                    {"estimate": "events"}):
        other, _, _ = published_weights(recorded, i, j, w0, **variant)
        assert _relative_error(numpy_run["w"], other) > 1e-3, variant


def test_gate_off_freezes_weights_but_not_the_averages():
    """learning_on = 0 (the shared-constant gate, as set between runs or through run_args):
    no weight changes, the moving averages as with learning on."""
    result = _run("numpy", gate=False, learning_on=0)
    np.testing.assert_array_equal(result["w"], result["w0"])
    recorded = {**result["recorded"], "pre_event": (np.zeros(0, int), np.zeros(0)),
                "post_burst": (np.zeros(0, int), np.zeros(0))}
    _, E_bar, _ = published_weights(recorded, result["i"], result["j"], result["w0"])
    np.testing.assert_allclose(result["E_bar"], E_bar, rtol=1e-9)


def test_initial_weights_outside_the_bounds_are_refused():
    from brian2 import NeuronGroup

    pre = NeuronGroup(1, bdsp.presynaptic_equations(), name="pre")
    post = bursts.relay_group(1, "post", bdsp.postsynaptic_equations(), bdsp.postsynaptic_event_code())
    with pytest.raises(ValueError, match=r"\[w_min, w_max\] = \[0.0, 1.0\]"):
        bdsp.synapses(pre, post, [0], [0], [1.5], eta=0.1)
    with pytest.raises(TypeError, match="TimedArray"):
        bdsp.synapses(pre, post, [0], [0], [0.5], eta=0.1, gate=[1, 0])


def test_transmission_at_presynaptic_events_only_by_default():
    """``EBCPConnection::compute_presyn_event_rate`` transmits at presynaptic events only;
    ``transmit_on="spike"`` transmits every spike."""
    times = np.array([0.010, 0.015, 0.100, 0.200, 0.205, 0.209])  # 3 events, 6 spikes
    with Backend("numpy", seed=1, dt=DT * second) as backend:
        drive = _generator([times], "drive_pre")
        pre = bursts.relay_group(1, "pre", bdsp.presynaptic_equations(), bdsp.presynaptic_event_code())
        post = bursts.relay_group(1, "post", bdsp.postsynaptic_equations() + "\nat_events : 1\nat_spikes : 1",
                                  bdsp.postsynaptic_event_code())
        bdsp.attach_presynaptic(pre, TAU_PRE * second)
        bdsp.attach_postsynaptic(post, TAU_AVG * second)
        forcing = Synapses(drive, pre, on_pre="forced_post = 1", name="force_pre")
        forcing.connect(j="i")
        by_default = bdsp.synapses(pre, post, [0], [0], [0.5], eta=0.0, transmit="at_events_post += w")
        every_spike = bdsp.synapses(pre, post, [0], [0], [0.5], eta=0.0, transmit="at_spikes_post += w",
                                    transmit_on="spike")
        for group in (pre, post):
            bursts.initialise_detection(group)
        backend.run(Network(drive, pre, post, forcing, by_default, every_spike), 0.3 * second)
        assert post.at_events[0] == 1.5 and post.at_spikes[0] == 3.0
