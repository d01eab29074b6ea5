"""The bursting neuron: apical drive turns isolated spikes into bursts while the event
rate, set by the soma, stays put (the premise of burst multiplexing, Payeur et al.
2021 Fig. 1)."""

import numpy as np
import pytest
from brian2 import EventMonitor, Hz, Network, PoissonInput, pA, second

from dendritic.backend import Backend
from dendritic.config import ConfigError
from dendritic.neurons import load_neuron

APICAL_DRIVE = np.array([0, 100, 200, 300, 400])  # pA
PER_LEVEL = 40
DURATION = 3.0


def _rates_under_apical_drive(I_soma):
    model = load_neuron("payeur2021")
    n = len(APICAL_DRIVE) * PER_LEVEL
    with Backend("numpy", seed=3) as backend:
        group = model.make_group(n, name="pyramidal")
        group.I_soma = I_soma
        group.I_dend = np.repeat(APICAL_DRIVE, PER_LEVEL) * pA
        # the background of the published circuits: 500 Hz excitatory and inhibitory
        # Poisson conductance input to each compartment (sim_propagation.cpp)
        noise = [PoissonInput(group, target, 1, 500 * Hz, weight=weight)
                 for target, weight in (("g_ampa_s", 0.35), ("g_gaba_s", 0.35), ("g_ampa_d", 0.05), ("g_gaba_d", 0.05))]
        backend.parameters_set()
        model.initialise(group)
        events, bursts = EventMonitor(group, "event"), EventMonitor(group, "burst")
        Network(group, *noise, events, bursts).run(DURATION * second)
        level = np.arange(n) // PER_LEVEL
        event_rate = np.bincount(level[np.asarray(events.i[:])], minlength=len(APICAL_DRIVE)) / (PER_LEVEL * DURATION)
        burst_rate = np.bincount(level[np.asarray(bursts.i[:])], minlength=len(APICAL_DRIVE)) / (PER_LEVEL * DURATION)
    return event_rate, burst_rate / event_rate


def test_apical_drive_raises_burst_probability_at_constant_event_rate():
    event_rate, burst_probability = _rates_under_apical_drive(0 * pA)
    print("event rate (Hz):", event_rate.round(2), "burst probability:", burst_probability.round(3))
    assert event_rate[0] > 2.0
    assert np.all(np.diff(burst_probability) > 0), burst_probability
    assert burst_probability[-1] > 3 * burst_probability[0]
    assert np.all(np.abs(event_rate / event_rate[0] - 1) < 0.2), event_rate


def test_somatic_input_alone_gives_mostly_isolated_spikes():
    # without background noise or apical input: a somatic step gives regular single spikes
    model = load_neuron("payeur2021")
    with Backend("numpy", seed=None) as backend:
        group = model.make_group(3, name="pyramidal")
        group.I_soma = [500, 600, 700] * pA
        backend.parameters_set()
        model.initialise(group)
        events, bursts = EventMonitor(group, "event"), EventMonitor(group, "burst")
        Network(group, events, bursts).run(1 * second)
        assert len(events.i) > 10
        assert len(bursts.i) <= 0.1 * len(events.i)


def test_parameter_file_errors_name_file_key_and_expectation(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "payeur_pyramidal"\nsource = "x"\n[parameters]\nC_s = "370 mV"\n')
    with pytest.raises(ConfigError) as error:
        load_neuron(bad)
    message = str(error.value)
    assert "bad.toml" in message and "parameters.C_s" in message and "capacitance" in message
    assert "parameters.tau_s" in message  # missing keys are listed too
