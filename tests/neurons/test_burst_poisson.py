"""The XOR neuron (``burst_poisson``, ``models/neurons/payeur2021_xor.toml``) against a
NumPy re-implementation of the published ``BurstPoissonGroup`` and against the
statistics of its random bursts.

Reference written here from the published sources (``apayeur/spikingburstprop``
``src/BurstPoissonGroup.cpp``; its parent ``apayeur/auryn`` ``src/auryn/NaudGroup.cpp``
for ``init``/``clear`` and the synapse objects), not from the package:

- ``BurstPoissonGroup::evolve``: the four synapse objects (current g (E_rev - mem), mem
  the somatic potential, then g *= exp(-dt/tau)), ``integrate_membrane``,
  ``check_thresholds``;
- ``integrate_membrane``: soma leak and b w_s, dendrite leak and a w_d, *then* the
  refractory and burst counters decremented if non-zero, then the synaptic currents,
  w_s *= exp(-dt/tau_ws), w_d from the updated V_d, threshold towards e_thr;
- ``check_thresholds``: p = sigmoid(xi (V_d - e_dend)) with e_dend = -57 mV, xi = 1/6 mV;
  if V_s > thr and the refractory counter is 0: spike, counter = int(20 ms/dt), reset,
  thr += 2 mV, w_s += 1, draws r then r_dur, burst counter = int((5 ms + r_dur 10 ms)/dt)
  if r < p; else if the burst counter is 1: spike and counter = int(20 ms/dt) only.

Injected currents enter the Euler step (see ``test_published_neuron.py``), conductance
jumps of step n act from step n + 1.
"""

import numpy as np
import pytest
from brian2 import EventMonitor, Network, SpikeMonitor, StateMonitor, mV, ms, pA, second
from scipy import stats
from test_published_neuron import conductance_jumps  # tests/neurons, on pytest's path

from dendritic.backend import Backend
from dendritic.neurons import load_neuron

DT = 1e-4  # s, auryn_timestep
NAME = "payeur2021_xor"


def _sigmoid(x, beta, threshold):  # AurynVector::sigmoid
    return 1 / (1 + np.exp(-beta * (x - threshold)))


def _burst_poisson_reference(steps, I_soma, I_dend, jumps, bursts, e_dend=-57e-3):
    """Published BurstPoissonGroup, one neuron. ``bursts(p)`` is called at each somatic
    spike with the burst probability and returns the burst counter to set (0: none).
    Returns per step (end of step) V_s, V_d, w_s, w_d, thr, the two counters, and the
    spike steps."""
    e_rest, e_reset, e_inh, e_thr, tau_thr, e_spk_thr = -70e-3, -70e-3, -80e-3, -50e-3, 27e-3, 2e-3
    tau_soma, Cs, tau_wsoma, b_wsoma = 16e-3, 370e-12, 100e-3, -200e-12
    tau_dend, Cd, tau_wdend, a_wdend = 7e-3, 170e-12, 30e-3, -13e-9
    xi = 1.0 / 6e-3
    tau_ampa, tau_gaba = 5e-3, 10e-3
    abs_ref_period = int(20e-3 / DT)
    mem, vd, wsoma, wdend, thr = e_rest, e_rest, 0.0, 1e-4, e_thr
    g = {"g_ampa_s": 0.0, "g_gaba_s": 0.0, "g_ampa_d": 0.0, "g_gaba_d": 0.0}
    refractory, burst = 0, 0
    out = {key: np.empty(steps) for key in ("V_s", "V_d", "w_s", "w_d", "thr", "refractory", "burst")}
    spikes = []
    for n in range(steps):
        # synapse objects: currents from the somatic potential, then decay
        exc_s, inh_s = g["g_ampa_s"] * (0.0 - mem), g["g_gaba_s"] * (e_inh - mem)
        exc_d, inh_d = g["g_ampa_d"] * (0.0 - mem), g["g_gaba_d"] * (e_inh - mem)
        g["g_ampa_s"] *= np.exp(-DT / tau_ampa)
        g["g_ampa_d"] *= np.exp(-DT / tau_ampa)
        g["g_gaba_s"] *= np.exp(-DT / tau_gaba)
        g["g_gaba_d"] *= np.exp(-DT / tau_gaba)
        # integrate_membrane
        mem += DT / tau_soma * (e_rest - mem) + DT * b_wsoma / Cs * wsoma + DT * I_soma / Cs
        vd += DT / tau_dend * (e_rest - vd) + DT * a_wdend / Cd * wdend + DT * I_dend / Cd
        if refractory:
            refractory -= 1
        if burst:
            burst -= 1
        mem += DT / tau_soma * (exc_s + inh_s)
        vd += DT / tau_dend * (exc_d + inh_d)
        wsoma *= np.exp(-DT / tau_wsoma)
        wdend += DT / tau_wdend * ((vd - e_rest) - wdend)
        thr += DT / tau_thr * (e_thr - thr)
        # check_thresholds
        p = _sigmoid(vd, xi, e_dend)
        if mem > thr and not refractory:
            spikes.append(n)
            refractory = abs_ref_period
            mem, thr, wsoma = e_reset, thr + e_spk_thr, wsoma + 1.0
            chosen = bursts(p)
            if chosen:
                burst = chosen
        elif burst == 1:
            spikes.append(n)
            refractory = abs_ref_period
        for key, table in jumps.items():
            g[key] += table.get(n, 0.0)
        for key, value in (("V_s", mem), ("V_d", vd), ("w_s", wsoma), ("w_d", wdend), ("thr", thr),
                           ("refractory", refractory), ("burst", burst)):
            out[key][n] = value
    return out, np.array(spikes)


def _brian(steps, I_soma, I_dend, jumps, model):
    with Backend("numpy", seed=None, dt=DT * second) as backend:
        group = model.make_group(1, name="xor")
        group.I_soma, group.I_dend = I_soma * 1e12 * pA, I_dend * 1e12 * pA
        objects = [group, *conductance_jumps(group, jumps)]
        backend.parameters_set()
        model.initialise(group)
        variables = ("V_s", "V_d", "w_s", "w_d", "V_thr", "refractory_count", "burst_count")
        state = StateMonitor(group, variables, record=0, when="end")
        spikes = SpikeMonitor(group)
        Network(*objects, state, spikes).run(steps * DT * second)
        out = {key: np.asarray(getattr(state, var)[0]) for key, var in zip(
            ("V_s", "V_d", "w_s", "w_d", "thr", "refractory", "burst"), variables)}
        return out, np.round(np.asarray(spikes.t / second) / DT).astype(int)


# dendritic and somatic excitation and inhibition (driving force: the soma)
JUMPS = {
    "g_ampa_d": {n: 0.5 for n in range(200, 6000, 150)},
    "g_gaba_d": {n: 0.5 for n in range(1300, 6000, 100)},
    "g_ampa_s": {n: 0.1 for n in range(500, 6000, 100)},
    "g_gaba_s": {n: 0.1 for n in range(550, 6000, 130)},
}
STEPS = 6000
I_SOMA, I_DEND = 1000e-12, 300e-12


def _compare(ref, ours, ref_spikes, spikes):
    np.testing.assert_array_equal(spikes, ref_spikes)
    for key in ("V_s", "V_d", "thr", "w_d"):
        assert np.max(np.abs(ours[key] - ref[key])) < 1e-9, key  # volts: rounding only
    assert np.max(np.abs(ours["w_s"] - ref["w_s"])) < 1e-9
    np.testing.assert_array_equal(ours["refractory"], ref["refractory"])
    np.testing.assert_array_equal(ours["burst"], ref["burst"])


def test_without_bursts_matches_published_burstpoissongroup():
    """E_d far above V_d: p = 0. Leak, adaptation, threshold, synapses and the 20 ms
    refractory counter, step for step; V_s is not clamped while refractory."""
    probabilities = []

    def no_bursts(p):
        probabilities.append(p)
        return 0

    ref, ref_spikes = _burst_poisson_reference(STEPS, I_SOMA, I_DEND, JUMPS, no_bursts, e_dend=1.0)
    model = load_neuron(NAME).with_parameters(E_d=1000 * mV)
    ours, spikes = _brian(STEPS, I_SOMA, I_DEND, JUMPS, model)
    assert len(ref_spikes) > 10 and max(probabilities) < 1e-50
    assert np.ptp(ref["V_d"]) > 5e-3  # the synapses move the dendrite
    assert np.min(np.diff(ref_spikes)) >= 200
    _compare(ref, ours, ref_spikes, spikes)
    # while refractory V_s integrates on from the reset and crosses the threshold unheard
    after = ref_spikes[:-1, None] + np.arange(1, 200)
    assert np.all(np.abs(ours["V_s"][after[:, 0]] - (-70e-3)) > 1e-5)
    assert np.any(ours["V_s"][after] > ours["thr"][after])


def test_forced_bursts_with_fixed_delay_match_published_burstpoissongroup():
    """E_d far below V_d (p = 1) and no delay spread: a second spike 49 steps after each
    somatic spike (counter int(5 ms/dt) = 50, decremented before the check), without
    reset or adaptation, restarting the refractory counter."""
    ref, ref_spikes = _burst_poisson_reference(STEPS, I_SOMA, I_DEND, JUMPS, lambda p: int((5e-3 + 0.0) / DT),
                                               e_dend=-1.0)
    model = load_neuron(NAME).with_parameters(E_d=-1000 * mV, burst_delay_range=0 * ms)
    ours, spikes = _brian(STEPS, I_SOMA, I_DEND, JUMPS, model)
    _compare(ref, ours, ref_spikes, spikes)
    firsts, seconds = ref_spikes[::2], ref_spikes[1::2]
    assert len(seconds) > 5 and np.all(seconds - firsts[:len(seconds)] == 49)
    assert np.all(ours["refractory"][seconds] == 200) and np.all(ours["refractory"][seconds - 1] == 200 - 48)
    # no reset at the second spike: V_s goes on, the threshold and w_s are not raised
    assert np.all(ours["V_s"][seconds] > -69e-3)
    assert np.all(ours["thr"][seconds] < ours["thr"][seconds - 1])
    assert np.all(firsts[1:] - seconds[:len(firsts) - 1] >= 200)


def test_forced_bursts_land_in_the_published_window():
    """p = 1 with the published delays: each somatic spike is followed by one second
    spike 49-148 steps later (int((5 ms + U 10 ms)/dt) - 1); given those delays, the
    reference reproduces every trace and both counters."""
    model = load_neuron(NAME).with_parameters(E_d=-1000 * mV)
    ours, spikes = _brian(STEPS, I_SOMA, I_DEND, JUMPS, model)
    firsts, seconds = spikes[::2], spikes[1::2]
    delays = seconds - firsts[:len(seconds)]
    assert len(delays) > 5 and np.all((delays >= 49) & (delays <= 148))
    assert len(np.unique(delays)) > 1
    counters = iter(list(delays + 1) + [0] * 10)
    ref, ref_spikes = _burst_poisson_reference(STEPS, I_SOMA, I_DEND, JUMPS, lambda p: next(counters), e_dend=-1.0)
    _compare(ref, ours, ref_spikes, spikes)


def _clamped_population(levels, per_level, duration, seed, target="cython", build_dir=None):
    """Neurons whose dendrite sits still at ``levels`` (V_d there, w_d at V_d - E_L and
    the dendritic current that holds both), strong somatic drive; returns the spikes."""
    model = load_neuron(NAME)
    p = {key: float(value) for key, value in model.parameters.items()}
    v_d = np.repeat(np.asarray(levels, dtype=float), per_level)
    with Backend(target, seed=seed, dt=DT * second, build_dir=build_dir) as backend:
        group = model.make_group(len(v_d), name="clamped")
        group.I_soma = 800 * pA
        group.I_dend = (v_d - p["E_L"]) * (p["C_d"] / p["tau_d"] - p["a"]) * 1e12 * pA
        backend.parameters_set()
        model.initialise(group)
        group.V_d = v_d * 1e3 * mV
        group.w_d = (v_d - p["E_L"]) * 1e3 * mV
        spikes = SpikeMonitor(group)
        events, burst_events = EventMonitor(group, "event"), EventMonitor(group, "burst")
        probability = StateMonitor(group, "burst_probability", record=np.arange(0, len(v_d), per_level), dt=50 * ms)
        backend.run(Network(group, spikes, events, burst_events, probability), duration)
        return (np.asarray(spikes.i), np.round(np.asarray(spikes.t / second) / DT).astype(int),
                np.asarray(events.i), np.asarray(burst_events.i), np.asarray(probability.burst_probability))


def _split(i, steps):
    """Somatic spikes (neuron, step, followed by a second spike?) and the second spikes'
    delays, from the raw spike steps: somatic spikes lie >= 200 steps apart, second
    spikes < 150 steps after theirs."""
    neurons, somatic, followed, delays = [], [], [], []
    for k in np.unique(i):
        s = np.sort(steps[i == k])
        second = np.concatenate([[False], np.diff(s) < 160])
        next_is_second = np.concatenate([second[1:], [False]])
        neurons.append(np.full(np.sum(~second), k))
        somatic.append(s[~second])
        followed.append(next_is_second[~second])
        delays.append(s[second] - s[np.flatnonzero(second) - 1])
    return tuple(np.concatenate(x) for x in (neurons, somatic, followed, delays))


def test_burst_fraction_and_delay_statistics():
    """Many neurons at clamped dendritic potentials: the fraction of somatic spikes
    followed by a second spike is p = 1/(1 + exp(-(V_d + 57 mV)/6 mV)) (binomial bound),
    and the delays are uniform over the 100 steps 49..148 (chi-square)."""
    levels = np.array([-75e-3, -63e-3, -57e-3, -51e-3, -39e-3])
    per_level, duration = 300, 2 * second
    i, steps, event_i, burst_i, probability = _clamped_population(levels, per_level, duration, seed=21)
    expected = _sigmoid(levels, 1 / 6e-3, -57e-3)
    # the dendrites stayed where they were put
    np.testing.assert_allclose(probability, np.repeat(expected[:, None], probability.shape[1], axis=1), rtol=1e-6)
    neurons, somatic, followed, delays = _split(i, steps)
    # every somatic spike is an event and every second spike a burst (dendritic.bursts)
    assert len(event_i) == len(somatic) and len(burst_i) == len(delays)
    complete = somatic < int(round(float(duration / second) / DT)) - 150  # its second spike would be in the run
    for level, p_expected in enumerate(expected):
        mine = complete & (neurons // per_level == level)
        n, fraction = np.sum(mine), np.mean(followed[mine])
        assert n > 5000
        assert abs(fraction - p_expected) < 4.5 * np.sqrt(p_expected * (1 - p_expected) / n), (level, fraction)
    assert delays.min() == 49 and delays.max() == 148
    counts = np.bincount(delays - 49)
    assert len(counts) == 100
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.standalone
def test_seeded_group_gives_identical_spikes_on_cython_and_standalone(tmp_path):
    """Both targets draw rand() from the same Mersenne-Twister stream in the same order
    (per spiking neuron: r, then r_dur), so a seeded group bursts alike."""
    levels, per_level, duration = [-63e-3, -57e-3, -51e-3], 8, 500 * ms
    cython = _clamped_population(levels, per_level, duration, seed=5)
    standalone = _clamped_population(levels, per_level, duration, seed=5, target="cpp_standalone",
                                     build_dir=tmp_path / "build")
    assert len(cython[0]) > 200 and len(cython[3]) > 20  # spikes and bursts
    for ours, theirs in zip(cython[:4], standalone[:4]):
        np.testing.assert_array_equal(ours, theirs)
    other = _clamped_population(levels, per_level, duration, seed=6)
    assert not np.array_equal(other[1], cython[1])  # the comparison above can fail


def test_drives_bdsp_and_burst_transmission_in_a_circuit():
    """The kind's events and bursts reach the circuit machinery: a BDSP connection learns
    from them and a burst-transmitting connection fires on the second spikes only."""
    from dendritic.circuits.build import build_circuit
    from dendritic.circuits.spec import circuit_from_mapping

    spec = circuit_from_mapping({
        "run": {"duration": "300 ms", "seed": 3},
        "populations": [{"name": "a", "neuron": NAME, "N": 30}, {"name": "b", "neuron": NAME, "N": 30}],
        "connections": [
            {"pre": "a", "post": "b", "target": "g_ampa_s", "probability": 0.2, "weight": 0.2,
             "transmit": "events", "plasticity": {"rule": "bdsp", "eta": 0.1}},
            {"pre": "b", "post": "a", "target": "g_ampa_d", "probability": 0.2, "weight": 0.3, "transmit": "bursts"},
        ],
        "record": {"spikes": ["a", "b"], "bursts": ["a", "b"]},
    })
    with Backend("numpy", seed=3) as backend:
        circuit = build_circuit(spec, backend)
        for group in circuit.groups.values():
            group.I_soma, group.I_dend = 900 * pA, 300 * pA
        backend.run(circuit.network, 300 * ms)
        plastic, feedback = circuit.synapses["a_to_b_g_ampa_s"], circuit.synapses["b_to_a_g_ampa_d"]
        assert np.std(plastic.w[:]) > 0.01  # BDSP moved the weights
        assert [p.event for p in feedback._pathways] == ["burst"]
        spikes = circuit.spike_monitors["b"]
        events, burst_events = circuit.event_monitors["b"]
        _, _, followed, delays = _split(np.asarray(spikes.i), np.round(np.asarray(spikes.t / second) / DT).astype(int))
        assert events.num_events == len(followed) and burst_events.num_events == len(delays) > 10
