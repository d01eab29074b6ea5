"""Online event/burst detection against the NumPy classification, hand-checked trains,
and the population signals."""

import numpy as np
from brian2 import EventMonitor, Hz, Network, PoissonInput, SpikeMonitor, pA, second

from dendritic import bursts
from dendritic.backend import Backend
from dendritic.neurons import load_neuron


def test_classification_of_a_hand_made_train():
    # neuron 0: 0, 5, 10 ms (one burst of three), 40 ms (event), 50 ms (burst), 100 ms (event)
    # neuron 1: 3 ms, 19 ms (exactly 16 ms later: a new event), 30 ms (burst)
    i = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    t = np.array([0.0, 0.005, 0.010, 0.040, 0.050, 0.100, 0.003, 0.019, 0.030])
    order, is_event, is_burst = bursts.classify_spikes(i, t, 0.016)
    assert np.array_equal(i[order], [0, 0, 0, 0, 0, 0, 1, 1, 1])
    assert np.array_equal(is_event, [1, 0, 0, 1, 0, 1, 1, 1, 0])
    assert np.array_equal(is_burst, [0, 1, 0, 0, 1, 0, 0, 0, 1])


def test_online_detection_matches_numpy_on_noisy_bursting_neurons():
    model = load_neuron("payeur2021")
    with Backend("numpy", seed=4) as backend:
        group = model.make_group(30, name="pyramidal")
        group.I_soma = np.linspace(0, 200, 30) * pA
        group.I_dend = np.linspace(0, 400, 30) * pA
        noise = [PoissonInput(group, target, 1, 500 * Hz, weight=weight)
                 for target, weight in (("g_ampa_s", 0.35), ("g_gaba_s", 0.35), ("g_ampa_d", 0.05), ("g_gaba_d", 0.05))]
        backend.parameters_set()
        model.initialise(group)
        spikes, events, burst = SpikeMonitor(group), EventMonitor(group, "event"), EventMonitor(group, "burst")
        Network(group, *noise, spikes, events, burst).run(1 * second)
        i, t = np.asarray(spikes.i[:]), np.asarray(spikes.t[:] / second)
        online = {name: set(zip(np.asarray(m.i[:]).tolist(), np.round(np.asarray(m.t[:] / second) / 1e-4).astype(int).tolist()))
                  for name, m in (("event", events), ("burst", burst))}
    order, is_event, is_burst = bursts.classify_spikes(i, t, float(model.parameters["burst_window"]))
    steps = np.round(t[order] / 1e-4).astype(int)
    reference_events = set(zip(i[order][is_event].tolist(), steps[is_event].tolist()))
    reference_bursts = set(zip(i[order][is_burst].tolist(), steps[is_burst].tolist()))
    assert len(reference_bursts) > 20 and len(reference_events) > len(reference_bursts)
    assert len(i) > len(reference_events) + len(reference_bursts), "trains of three or more spikes must occur"
    assert online["event"] == reference_events
    assert online["burst"] == reference_bursts


def test_population_signals_count_per_bin():
    event_times = np.array([0.01, 0.02, 0.06, 0.07, 0.08, 0.16])
    burst_times = np.array([0.025, 0.075])
    signals = bursts.population_signals(event_times, burst_times, n_neurons=2, t_start=0.0, t_stop=0.2,
                                        bin_width=0.05)
    assert np.allclose(signals["time"], [0.025, 0.075, 0.125, 0.175])
    assert np.allclose(signals["event_rate"], np.array([2, 3, 0, 1]) / (2 * 0.05))
    assert np.allclose(signals["burst_rate"], np.array([1, 1, 0, 0]) / (2 * 0.05))
    assert np.allclose(signals["burst_probability"][[0, 1, 3]], [1 / 2, 1 / 3, 0])
    assert np.isnan(signals["burst_probability"][2])
    smoothed = bursts.population_signals(event_times, burst_times, 2, 0.0, 0.2, 0.05, smoothing=0.05)
    # by hand: Gaussian weights of sigma = one bin over the four bins, normalised within
    # the window at each bin (edges not biased low)
    counts = np.array([2, 3, 0, 1.0])
    weights = np.exp(-0.5 * (np.arange(4)[:, None] - np.arange(4)[None, :]) ** 2)
    expected = weights @ counts / weights.sum(axis=1) / (2 * 0.05)
    np.testing.assert_allclose(smoothed["event_rate"], expected, rtol=1e-12)
    assert not np.allclose(smoothed["event_rate"], signals["event_rate"])
