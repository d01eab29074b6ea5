"""Circuit files: every problem named with the file and the key."""

import pytest

from dendritic import config as cfg
from dendritic.circuits import circuit_from_mapping

BASE = {
    "run": {"duration": "100 ms"},
    "populations": [{"name": "pyr", "neuron": "payeur2021", "N": 10},
                    {"name": "pv", "neuron": "payeur2021_pv", "N": 5},
                    {"name": "rate", "neuron": "sacramento2018_pyramidal", "N": 5}],
    "inputs": [{"name": "drive", "N": 10, "rate": "10 Hz"}],
    "connections": [],
}


def problems_of(*connections, **sections):
    mapping = {**BASE, "connections": list(connections), **sections}
    with pytest.raises(cfg.ConfigError) as error:
        circuit_from_mapping(mapping, source="net.toml")
    return error.value.problems


def connection(**values):
    entry = {"pre": "pyr", "post": "pyr", "target": "g_ampa_s", "probability": 0.1, "weight": 0.1, **values}
    return {key: value for key, value in entry.items() if value is not None}


def test_a_valid_file_loads_with_its_targets_and_units():
    spec = circuit_from_mapping({**BASE, "connections": [
        connection(), connection(pre="drive", post="rate", target="basal", probability=None, fan_in=3,
                                 weight="1 mV", weight_std="0.2 mV"),
        connection(pre="pyr", post="pyr", target="g_ampa_d", transmit="bursts", stp="facilitating", name="fb"),
        connection(plasticity={"rule": "bdsp", "eta": 0.2, "tau_avg": "2 s"}, transmit="events", name="ff")]})
    plastic = spec.values["connections"][3]["plasticity"]
    assert plastic["rule"] == "bdsp" and plastic["eta"] == 0.2 and float(plastic["tau_avg"]) == 2.0
    assert float(plastic["tau_pre"]) == pytest.approx(0.05)  # the rule's default


def test_target_must_be_a_synaptic_target_of_the_postsynaptic_kind():
    [problem] = problems_of(connection(target="g_nmda_s"))
    assert problem.startswith("net.toml: key 'connections[0].target'") and "g_ampa_s" in problem


@pytest.mark.parametrize("post, target, weight, expected", [
    ("pyr", "g_ampa_s", "1 mV", "a number (the jump in units of the leak conductance)"),
    ("rate", "basal", 0.5, "a voltage (the jump of the dendritic potential)"),
])
def test_weight_unit_follows_the_target(post, target, weight, expected):
    [problem] = problems_of(connection(post=post, target=target, weight=weight))
    assert "connections[0].weight'" in problem and expected in problem


def test_events_and_bursts_need_a_bursting_presynaptic_population():
    [problem] = problems_of(connection(pre="pv", transmit="bursts"))
    assert "connections[0].transmit" in problem and "pv has no events or bursts" in problem


def test_exactly_one_of_fan_in_probability_and_given_connectivity():
    [problem] = problems_of(connection(fan_in=3))
    assert problem.startswith("net.toml: key 'connections[0]'")
    assert "exactly one of 'fan_in', 'probability' and 'connectivity', got 'fan_in' and 'probability'" in problem
    [problem] = problems_of(connection(connectivity="given", weight=None))
    assert "exactly one of 'fan_in', 'probability' and 'connectivity', got 'probability' and 'connectivity'" in problem
    [problem] = problems_of(connection(connectivity="gvien", probability=None, weight=None))
    assert "connections[0].connectivity'" in problem and "'given'" in problem


def test_plasticity_rule_is_chosen_by_name_and_its_parameters_checked():
    [problem] = problems_of(connection(plasticity={"rule": "stdp"}))
    assert "connections[0].plasticity.rule" in problem and "'bdsp'" in problem
    [problem] = problems_of(connection(plasticity={"rule": "bdsp", "tau_pre": "5 mV"}))
    assert "connections[0].plasticity.tau_pre" in problem and "a time" in problem
    [problem] = problems_of(connection(plasticity={"rule": "bdsp", "tau_pree": "5 ms"}))
    assert "connections[0].plasticity.tau_pree" in problem


def test_plasticity_rule_must_fit_the_connected_kinds():
    problems = problems_of(connection(pre="pyr", post="rate", target="basal", weight="1 mV",
                                      plasticity={"rule": "bdsp"}))
    assert all("connections[0].plasticity" in p for p in problems)
    assert "bursting postsynaptic" in problems[0] and "target a conductance" in problems[1]
    [problem] = problems_of(connection(pre="drive", post="rate", target="basal", weight="1 mV",
                                       plasticity={"rule": "dendritic_prediction", "form": "rate", "eta": "1 mV"}))
    assert "connections[0].plasticity" in problem and "eta" in problem
    [problem] = problems_of(connection(pre="drive", post="rate", target="basal", weight="1 mV",
                                       plasticity={"rule": "apical_cancellation", "eta": 0.1}))
    assert "apical dendrite" in problem


def test_two_connections_with_one_name_are_refused():
    [problem] = problems_of(connection(), connection(weight=0.2))
    assert "pyr_to_pyr_g_ampa_s" in problem and "'name'" in problem


def test_background_and_stimuli_and_records_are_checked():
    problems = problems_of(
        background=[{"population": "pyr", "target": "v_basal", "rate": "500 Hz", "weight": 0.1}],
        stimuli=[{"population": "pyr", "input": "I_ext", "amplitude": "10 pA", "period": "1 s"}],
        record={"spikes": ["nobody"], "bursts": ["pv"]})
    text = "\n".join(problems)
    for key in ("background[0].target", "stimuli[0].input", "record.spikes", "record.bursts"):
        assert key in text
    assert all(p.startswith("net.toml: ") for p in problems)
