"""Burst-Poisson protocol (Payeur et al. 2021, Fig. 2D): the mean weight change changes
sign at the moving-average burst probability."""

import copy

import numpy as np
import pytest
from brian2 import Hz, second

from dendritic.backend import Backend
from dendritic.config import ConfigError
from dendritic.experiments import plasticity_protocol as protocol
from dendritic.io import read_results


@pytest.fixture(scope="module")
def short_protocol():
    settings = protocol.load_protocol("plasticity_protocol")
    settings = copy.deepcopy(settings)
    settings["run"]["duration"] = 10 * second
    settings["protocol"]["event_rates"] = [5 * Hz]
    settings["protocol"]["post_neurons"] = 20
    return settings, _simulate(settings)


def _simulate(settings):
    config = protocol.Config(settings)
    return protocol.simulate(config, Backend.for_config(config, "numpy"))


def test_weight_change_flips_sign_at_the_moving_average_burst_probability(short_protocol):
    settings, results = short_protocol
    p = results["burst_probability"]
    change = results["weight_change_mean"][0]
    initial = settings["protocol"]["initial_burst_probability"]
    print("p:", p, "mean weight change:", change.round(4), "crossing:", results["zero_crossing"])
    assert np.all(change[p <= initial - 0.1] < 0) and np.all(change[p >= initial + 0.1] > 0)
    assert abs(results["zero_crossing"][0] - initial) <= 0.05
    # and an independent check of the size: within 20 % of the mean-field prediction at the ends
    prediction = results["weight_change_mean_field"][0]
    ends = [0, -1]
    np.testing.assert_allclose(change[ends], prediction[ends], rtol=0.2)
    # the detected burst probabilities are those imposed
    np.testing.assert_allclose(results["measured_burst_probability"][0], p, atol=0.05)


def test_crossing_moves_with_the_initial_estimate(short_protocol):
    settings, _ = short_protocol
    moved = copy.deepcopy(settings)
    moved["protocol"]["initial_burst_probability"] = 0.35
    moved["protocol"]["burst_probabilities"] = [0.15, 0.25, 0.35, 0.45]
    moved["protocol"]["post_neurons"] = 10
    moved["run"]["duration"] = 6 * second
    results = _simulate(moved)
    assert abs(results["zero_crossing"][0] - 0.35) <= 0.05


def test_cli_writes_hdf5_and_png(tmp_path, monkeypatch):
    from dendritic.cli import main

    path = tmp_path / "protocol.toml"
    text = (protocol.load_protocol.__globals__["cfg"].MODELS_DIR / "experiments" / "plasticity_protocol.toml").read_text()
    text = text.replace('event_rates = ["5 Hz", "10 Hz"]', 'event_rates = ["5 Hz"]')
    text = text.replace("post_neurons = 40", "post_neurons = 2").replace("pre_neurons = 10", "pre_neurons = 2")
    path.write_text(text.replace('duration = "20 s"', 'duration = "1 s"'))
    output = tmp_path / "out" / "protocol.h5"
    assert main(["run", "plasticity-protocol", "--target", "numpy", "--config", str(path),
                 "--output", str(output)]) == 0
    results = read_results(output)
    assert results["weight_change_mean"].shape == (1, 10)
    assert output.with_suffix(".png").stat().st_size > 10_000


def test_bad_protocol_file_names_key_and_expectation(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[run]\nduration = "10 ms/s"\n[protocol]\nevent_rates = ["5 mV"]\nburst_probabilities = [1.5]\n'
                    'initial_burst_probability = 0.2\npre_neurons = 1\npost_neurons = 1\n[plasticity]\n')
    with pytest.raises(ConfigError) as error:
        protocol.load_protocol(path)
    message = str(error.value)
    assert "bad.toml" in message and "'run.duration'" in message and "a time" in message
    assert "'protocol.burst_probabilities'" in message and "[0, 1]" in message


def test_bdsp_defaults_and_protocol_file_are_the_fig2_script_values():
    """eta 0.1, tau_pre 50 ms, tau_avg 15 s: ``analysis/plasticity-protocol/
    plot_all_adaptive_rule.py`` of apayeur/spikingburstprop (Payeur et al. 2021, Fig. 2)."""
    from brian2 import ms

    from dendritic import config as cfg
    from dendritic.plasticity import bdsp

    published = {"eta": 0.1, "tau_pre": 50 * ms, "tau_avg": 15 * second}
    defaults = cfg.validate({}, bdsp.PARAMETERS)
    settings = protocol.load_protocol("plasticity_protocol")["plasticity"]
    for key, value in published.items():
        assert defaults[key] == value, key
        assert settings[key] == value, key
