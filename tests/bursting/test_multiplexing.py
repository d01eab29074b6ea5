"""Burst multiplexing (Payeur et al. 2021, Fig. 3): population 1's event rate carries
its somatic input, population 2's burst probability its dendritic input.

The full-size circuit (4,000 pyramidal neurons per population, 1 s + 3 s) is a slow
test. The default suite runs 100 per population for 0.5 s + 2 s on the numpy target (no
compilation): each 50 ms bin then holds ~40 events per population instead of ~1,600,
and population 2's burst probability (~10 bursts per bin) is too noisy to claim the
published separation (at 400 per population, r = 0.53 with its dendritic input and
0.46 with population 1's somatic input; at 4,000: 0.92 and 0.28). What the small
network honestly shows: the event-rate channel (population 1 follows its somatic
input and not the dendritic one; population 2's events follow population 1's) and a
positive link of population 2's burst probability to its dendritic input.
"""

import numpy as np
import pytest
from brian2 import Synapses, second

from dendritic.backend import Backend
from dendritic.config import ConfigError
from dendritic.experiments import multiplexing


def test_resizing_keeps_each_neurons_mean_input():
    spec = multiplexing.load_circuit("multiplexing")
    small = spec.resized(100)
    sizes = {p["name"]: p["N"] for p in small.values["populations"]}
    assert sizes == {"pyr1": 100, "pyr2": 100, "pv": 25, "som": 25}
    with Backend("numpy", seed=1) as backend:
        circuit = multiplexing.build_circuit(small, backend)
        synapses = {obj.name: obj for obj in circuit.network.objects if isinstance(obj, Synapses)}
    for connection in spec.values["connections"]:
        name = f"{connection['pre']}_to_{connection['post']}_{connection['target']}"
        if connection["weight"] == 0:
            assert name not in synapses
            continue
        s = synapses[name]
        n_post = sizes[connection["post"]]
        # total weight per postsynaptic neuron, against the published circuit's expectation
        per_neuron = np.asarray(s.weight[:]).sum() / n_post
        published = connection["weight"] * connection["probability"] * spec.file_sizes[connection["pre"]]
        fan_in = len(s) / n_post
        expected_fan_in = connection["probability"] * sizes[connection["pre"]]
        assert abs(fan_in - expected_fan_in) < 4 * np.sqrt(expected_fan_in / n_post) + 1e-9
        assert per_neuron == pytest.approx(published, rel=4 / np.sqrt(expected_fan_in * n_post))


def _correlations(neurons, target, tmp_path=None, burn_in=None, duration=None):
    spec = multiplexing.load_circuit("multiplexing").resized(neurons)
    if burn_in is not None:
        spec.values["run"].update(burn_in=burn_in, duration=duration)
    build_dir = None if tmp_path is None else tmp_path / "multiplexing"
    _, _, correlation, _, _ = multiplexing.simulate(spec, target=target, build_dir=build_dir)
    print({key: round(value, 3) for key, value in correlation.items()})
    return correlation


def test_small_circuit_multiplexes_events():
    # 100 pyramidal neurons per population, 0.5 s burn-in + 2 s: 40 bins of 50 ms, so
    # an unrelated pair of signals has |r| < 2.6/sqrt(40) = 0.41 with 99 % probability
    r = _correlations(100, "numpy", burn_in=0.5 * second, duration=2 * second)
    assert r["event_rate_1_vs_somatic_input"] >= 0.8
    assert abs(r["event_rate_1_vs_dendritic_input"]) < 0.45
    assert r["event_rate_2_vs_event_rate_1"] >= 0.5
    assert r["burst_probability_2_vs_dendritic_input"] > 0
    assert abs(r["inputs"]) < 0.2  # the two stimuli are nearly orthogonal


@pytest.mark.slow
@pytest.mark.standalone
def test_full_size_circuit_multiplexes_events_and_bursts(tmp_path):
    r = _correlations(4000, "cpp_standalone", tmp_path)
    assert r["event_rate_1_vs_somatic_input"] >= 0.9
    assert r["burst_probability_2_vs_dendritic_input"] >= 0.9
    assert abs(r["event_rate_1_vs_dendritic_input"]) < 0.3
    assert abs(r["burst_probability_2_vs_somatic_input"]) < 0.3


def test_bad_circuit_file_names_key_and_expectation(tmp_path):
    text = (multiplexing.cfg.MODELS_DIR / "networks" / "multiplexing.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('target = "g_ampa_d"\nprobability = 0.05\nweight = 0.37',
                                'target = "g_nmda_d"\nprobability = 0.05\nweight = 0.05')
                   .replace('period = "0.5 s"', 'period = "0.5 mV"'))
    with pytest.raises(ConfigError) as error:
        multiplexing.load_circuit(bad)
    message = str(error.value)
    assert "bad.toml" in message and "stimuli[0].period" in message and "a time" in message
    bad.write_text(text.replace('target = "g_ampa_d"\nprobability = 0.05\nweight = 0.37',
                                'target = "g_nmda_d"\nprobability = 0.05\nweight = 0.05'))
    with pytest.raises(ConfigError) as error:
        multiplexing.load_circuit(bad)
    assert "connections[3].target" in str(error.value) and "g_ampa_d" in str(error.value)
