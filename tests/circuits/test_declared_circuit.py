"""A new circuit needs only a TOML file (issue 14): ``data/two_layer_bdsp.toml`` declares
two layers of bursting pyramidal neurons (Payeur et al. 2021), a BDSP connection that
transmits events forward and a feedback connection that transmits bursts only.

Checked against independent computations: the same spikes on numpy and
cpp_standalone (and on cython, opt-in: ``-m slow``, for its cold compilation of ~5 min); the feedback conductance jumps exactly at the delayed bursts of each
neuron's presynaptic partners; the final BDSP weights equal a NumPy integration of the
paper's rule dw/dt = eta [B_post - P_bar E_post] E_tilde_pre over the recorded event and
burst trains."""

from pathlib import Path

import numpy as np
import pytest

from dendritic.backend import Backend
from dendritic.circuits import build_circuit, load_circuit

FILE = Path(__file__).parent / "data" / "two_layer_bdsp.toml"
PLASTIC = "layer1_to_layer2_g_ampa_s"
FEEDBACK = "layer2_to_layer1_g_ampa_d"


def _run(target, build_dir=None):
    spec = load_circuit(FILE)
    with Backend(target, build_dir=build_dir, seed=spec.run["seed"], dt=spec.run["dt"]) as backend:
        circuit = build_circuit(spec, backend)
        plastic = circuit.synapses[PLASTIC]
        # (standalone values exist only after the run)
        initial = np.asarray(plastic.w[:]).copy() if target != "cpp_standalone" else None
        backend.run(circuit.network, spec.run["duration"])
        monitor, _, neurons = circuit.state_monitors["layer1"]
        return {
            "spec": spec,
            "records": circuit.spike_records(),
            "plastic": {"i": np.asarray(plastic.i[:]), "j": np.asarray(plastic.j[:]), "w0": initial,
                        "w": np.asarray(plastic.w[:])},
            "feedback": {"i": np.asarray(circuit.synapses[FEEDBACK].i[:]),
                         "j": np.asarray(circuit.synapses[FEEDBACK].j[:])},
            "g_ampa_d": np.asarray(monitor.g_ampa_d[:]).T, "neurons": np.asarray(neurons),
        }


@pytest.fixture(scope="module")
def runtime_run():
    """The runtime run that the other tests read (numpy: 6 s, no compilation; it reads
    the initial weights before the run, which standalone cannot)."""
    return _run("numpy")


@pytest.fixture(scope="module")
def standalone_run(tmp_path_factory):
    return _run("cpp_standalone", tmp_path_factory.mktemp("declared") / "build")


def _assert_same_run(ours, theirs):
    for name in ("layer1", "layer2", "drive"):
        assert len(ours["records"][name]["t"]) > 300, name
        np.testing.assert_array_equal(ours["records"][name]["i"], theirs["records"][name]["i"])
        np.testing.assert_array_equal(ours["records"][name]["t"], theirs["records"][name]["t"])
    for name in ("layer1", "layer2"):
        assert len(ours["records"][name]["burst_t"]) > 50, name
        for key in ("event_t", "burst_t"):
            np.testing.assert_array_equal(ours["records"][name][key], theirs["records"][name][key])
    np.testing.assert_allclose(theirs["plastic"]["w"], ours["plastic"]["w"], rtol=1e-9, atol=1e-12)


@pytest.mark.standalone
def test_declared_circuit_gives_identical_spikes_on_numpy_and_standalone(runtime_run, standalone_run):
    _assert_same_run(runtime_run, standalone_run)


@pytest.mark.slow
@pytest.mark.standalone
def test_declared_circuit_gives_identical_spikes_on_cython_and_standalone(standalone_run):
    _assert_same_run(_run("cython"), standalone_run)


def _steps(times, dt):
    return np.round(np.asarray(times) / dt).astype(int)


def _classified_steps(records, dt):
    """Per neuron: the steps of its events and of its bursts, from its spike train
    (Payeur et al. 2021: an event is a spike >= 16 ms after the previous one; a burst
    is the second spike of a train, within 16 ms of an event)."""
    window = int(round(16e-3 / dt))
    events, bursts = {}, {}
    steps = _steps(records["t"], dt)
    for neuron in np.unique(records["i"]):
        train = np.sort(steps[records["i"] == neuron])
        last, in_burst = None, False
        for step in train:
            if last is None or step - last >= window:
                events.setdefault(neuron, []).append(step)
                in_burst = False
            elif not in_burst:
                bursts.setdefault(neuron, []).append(step)
                in_burst = True
            last = step
    return events, bursts


def test_events_and_bursts_follow_the_papers_definition(runtime_run):
    dt = float(runtime_run["spec"].run["dt"])
    for name in ("layer1", "layer2"):
        records = runtime_run["records"][name]
        events, bursts = _classified_steps(records, dt)
        assert sorted(s for v in events.values() for s in v) == sorted(_steps(records["event_t"], dt))
        assert sorted(s for v in bursts.values() for s in v) == sorted(_steps(records["burst_t"], dt))


def test_feedback_connection_transmits_bursts_only(runtime_run):
    """No background reaches the dendrites of layer 1: g_ampa_d jumps only when a
    presynaptic layer-2 neuron bursts, 0.8 ms (8 steps) later."""
    spec = runtime_run["spec"]
    dt = float(spec.run["dt"])
    delay = int(round(float(spec.run["synaptic_delay"]) / dt))
    events, bursts = _classified_steps(runtime_run["records"]["layer2"], dt)
    g = runtime_run["g_ampa_d"]  # (samples, neurons), one sample per step at its start
    feedback = runtime_run["feedback"]
    n_steps = g.shape[0]
    checked = 0
    for column, neuron in enumerate(runtime_run["neurons"]):
        partners = feedback["i"][feedback["j"] == neuron]
        expected = sorted({s + delay for p in partners for s in bursts.get(p, [])})
        expected = [s for s in expected if s + 1 < n_steps]
        # sampled at the start of each step: a jump applied in step s first shows in
        # sample s + 1, otherwise the conductance only decays
        jumps = list(np.flatnonzero(np.diff(g[:, column]) > 1e-12))
        assert jumps == expected, neuron
        events_only = {s + delay for p in partners for s in events.get(p, [])} - set(expected)
        assert not events_only & set(jumps)
        checked += len(expected)
    assert checked > 20


def test_bdsp_weights_follow_the_rule_on_the_recorded_trains(runtime_run):
    """NumPy integration of the BDSP rule (Payeur et al. 2021, Methods; no homeostasis):
    at a postsynaptic burst w += eta E_tilde_pre, at a postsynaptic event
    w -= eta P_bar E_tilde_pre, P_bar = B_bar/E_bar before the event is added (P_max
    while E_bar = 0), E_tilde_pre the presynaptic event trace including the events of
    the same step; traces and averages decay by exp(-dt/tau) per step; w clipped to [0, 1]."""
    spec = runtime_run["spec"]
    p = next(c for c in spec.values["connections"] if c["plasticity"])["plasticity"]
    dt = float(spec.run["dt"])
    eta, tau_pre, tau_avg = p["eta"], float(p["tau_pre"]), float(p["tau_avg"])
    pre_events, _ = _classified_steps(runtime_run["records"]["layer1"], dt)
    post_events, post_bursts = _classified_steps(runtime_run["records"]["layer2"], dt)
    n_post = int(runtime_run["records"]["layer2"]["N"])
    # P_bar of each postsynaptic event, from the moving averages
    p_bar = {}
    for neuron in range(n_post):
        marks = sorted([(s, "event") for s in post_events.get(neuron, [])] +
                       [(s, "burst") for s in post_bursts.get(neuron, [])])
        e_bar = b_bar = 0.0
        last = 0
        for step, kind in marks:
            decay = np.exp(-(step - last) * dt / tau_avg)
            e_bar, b_bar, last = e_bar * decay, b_bar * decay, step
            if kind == "event":
                p_bar[(neuron, step)] = p["P_max"] if e_bar <= 0 else min(b_bar / e_bar, p["P_max"])
                e_bar += 1 / tau_avg
            else:
                b_bar += 1 / tau_avg

    def trace(neuron, step):
        k = np.asarray([s for s in pre_events.get(neuron, []) if s <= step])
        return float(np.sum(np.exp(-(step - k) * dt / tau_pre)))

    plastic = runtime_run["plastic"]
    expected = plastic["w0"].copy()
    for n, (i, j) in enumerate(zip(plastic["i"], plastic["j"])):
        updates = sorted([(s, -1) for s in post_events.get(j, [])] + [(s, 1) for s in post_bursts.get(j, [])])
        w = expected[n]
        for step, sign in updates:
            factor = 1.0 if sign > 0 else p_bar[(j, step)]
            w = min(max(w + sign * eta * factor * trace(i, step), p["w_min"]), p["w_max"])
        expected[n] = w
    changed = np.abs(expected - plastic["w0"]) > 1e-3
    assert changed.mean() > 0.5
    np.testing.assert_allclose(plastic["w"], expected, rtol=1e-9, atol=1e-12)
