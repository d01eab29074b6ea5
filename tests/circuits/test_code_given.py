"""What code gives a circuit at build time, besides the file: connectivity and weights
(``connectivity = "given"``), summed connections onto an input, inputs driven by
``TimedArray`` inputs, per-neuron values, named monitors and plasticity rules registered
from code. Each is checked against the arrays it was given or a NumPy computation, and
each misuse is refused with the file's key or the argument named."""

import numpy as np
import pytest
from brian2 import Hz, TimedArray, mV, ms, nS, second, volt

from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.circuits import build_circuit, circuit_from_mapping, rules

PYRAMIDAL = "sacramento2018_pyramidal"
SILENT = {"phi_max": "0 Hz"}  # no output spikes: nothing random


def mapping(*connections, populations=None, **sections):
    return {"run": {"duration": "2 ms", "dt": "0.1 ms"},
            "populations": populations or [{"name": "a", "neuron": PYRAMIDAL, "N": 3, "parameters": SILENT},
                                           {"name": "b", "neuron": PYRAMIDAL, "N": 2, "parameters": SILENT}],
            "connections": list(connections), **sections}


def problems_of(raw):
    with pytest.raises(cfg.ConfigError) as error:
        circuit_from_mapping(raw, source="net.toml")
    return error.value.problems


def built(raw, run=0.0, **given):
    with Backend("numpy", seed=1) as backend:
        circuit = build_circuit(circuit_from_mapping(raw, source="net.toml"), backend, **given)
        if run:
            backend.run(circuit.network, run * second)
    return circuit


GIVEN = {"name": "ab", "pre": "a", "post": "b", "target": "basal", "connectivity": "given"}
I, J = np.array([2, 0, 1, 2, 0]), np.array([0, 0, 1, 1, 1])
W = np.array([0.5, -1.0, 2.0, 0.25, 3.0]) * mV


def test_given_connectivity_and_weights_are_the_arrays_given():
    synapses = built(mapping(GIVEN), synapses={"ab": (I, J, W)}).synapses["ab"]
    np.testing.assert_array_equal(synapses.i[:], I)
    np.testing.assert_array_equal(synapses.j[:], J)
    np.testing.assert_array_equal(synapses.w[:] / volt, W / volt)


@pytest.mark.parametrize("given, message", [
    ({}, "connectivity 'given' needs build_circuit(synapses={'ab': (i, j, w)})"),
    ({"ab": (I, J[:-1], W)}, "i, j and w must be 1-D of one length"),
    ({"ab": (I, J, W / mV)}, "weights must be a voltage"),
    ({"ab": (I + 1, J, W)}, "i (presynaptic) must be whole numbers in [0, 3)"),
    ({"ab": (I, J, W), "ba": (I, J, W)}, "['ba'] are no connections with connectivity 'given'"),
])
def test_given_connectivity_is_checked(given, message):
    with pytest.raises((KeyError, ValueError)) as error:
        built(mapping(GIVEN), synapses=given)
    assert message in str(error.value)


def test_given_connectivity_takes_no_weight_from_the_file():
    [problem] = problems_of(mapping({**GIVEN, "weight": "1 mV"}))
    assert "connections[0]'" in problem and "exactly one of 'weight' and 'connectivity', got both" in problem
    [problem] = problems_of(mapping({**GIVEN, "weight_std": "1 mV"}))
    assert "at most one of 'weight_std' and 'connectivity'" in problem


SUMMED = {"name": "ab", "pre": "a", "post": "b", "target": "v_apical_drive", "summed": "v_basal_drive",
          "connectivity": "given"}


def test_summed_connection_sets_its_target_to_the_weighted_sum():
    drive = np.array([1.0, -2.0, 4.0]) * mV
    weights = np.array([0.5, -1.0, 2.0, 0.25, 1.0])
    circuit = built(mapping(SUMMED), run=0.2e-3, synapses={"ab": (I, J, weights)}, values={"a": {"v_basal_drive": drive}})
    expected = np.zeros(2)
    np.add.at(expected, J, weights * np.asarray(drive / volt)[I])
    assert np.abs(expected).min() > 1e-4
    np.testing.assert_allclose(circuit.groups["b"].v_apical_drive[:] / volt, expected, rtol=1e-15, atol=0)


def test_summed_connection_with_drawn_weights_in_the_files_unit():
    raw = mapping({**SUMMED, "connectivity": None, "fan_in": 3, "weight": 0.5},
                  populations=[{"name": "a", "neuron": PYRAMIDAL, "N": 3, "parameters": SILENT,
                                "inputs": {"v_basal_drive": "2 mV"}},
                               {"name": "b", "neuron": PYRAMIDAL, "N": 2, "parameters": SILENT}])
    raw["connections"][0] = {k: v for k, v in raw["connections"][0].items() if v is not None}
    circuit = built(raw, run=0.2e-3)
    np.testing.assert_allclose(circuit.groups["b"].v_apical_drive[:] / mV, [3.0, 3.0], rtol=1e-12)


@pytest.mark.parametrize("changes, key, message", [
    ({"target": "basal"}, "target", "with summed expected an input of the pyramidal neuron"),
    ({"summed": "v_bsal_drive"}, "summed", "expected a variable of the pyramidal neuron"),
    ({"transmit": "bursts"}, "transmit", "a summed connection transmits no spikes"),
    ({"connectivity": None, "fan_in": 1, "weight": "1 mV"}, "weight", "expected a plain number"),
])
def test_summed_connections_are_checked(changes, key, message):
    connection = {k: v for k, v in {**SUMMED, **changes}.items() if v is not None}
    problems = problems_of(mapping(connection))
    assert any(p.startswith(f"net.toml: key 'connections[0].{key}'") and message in p for p in problems), problems


def test_summed_target_is_set_by_nothing_else():
    raw = mapping(SUMMED, populations=[{"name": "a", "neuron": PYRAMIDAL, "N": 3},
                                       {"name": "b", "neuron": PYRAMIDAL, "N": 2,
                                        "inputs": {"v_apical_drive": "1 mV"}}])
    [problem] = problems_of(raw)
    assert "key 'connections[0]'" in problem and "is set by 'populations[1].inputs.v_apical_drive' already" in problem


def driven(array_name="top", **population):
    return mapping(populations=[{"name": "a", "neuron": PYRAMIDAL, "N": 3, "parameters": SILENT,
                                 "driven": {"v_apical_drive": array_name}, **population}],
                   record={"states": [{"population": "a", "variables": ["v_apical_drive"], "neurons": 3,
                                       "dt": "0.1 ms"}]})


def test_driven_input_follows_its_timed_array():
    values = np.arange(12.0).reshape(4, 3) * mV
    circuit = built(driven(), run=2e-3, arrays={"top": TimedArray(values, dt=0.5 * ms)})
    monitor = circuit.state_monitors["a"][0]
    step = np.floor(np.asarray(monitor.t / ms) / 0.5 + 1e-9).astype(int)
    np.testing.assert_array_equal(monitor.v_apical_drive[:].T / mV, values[np.minimum(step, 3)] / mV)
    common = built(driven(), run=2e-3, arrays={"top": TimedArray([1.0, -1.0] * mV, dt=1 * ms)})
    recorded = common.state_monitors["a"][0].v_apical_drive[:] / mV
    np.testing.assert_array_equal(recorded, np.where(np.arange(20) < 10, 1.0, -1.0)[None, :].repeat(3, axis=0))


@pytest.mark.parametrize("array, message", [
    (None, "TimedArray 'top' was not given to build_circuit"),
    (TimedArray(np.ones((2, 3)) * Hz, dt=1 * ms), "expected a TimedArray of a voltage"),
    (TimedArray(np.ones((2, 4)) * mV, dt=1 * ms), "needs one column per neuron (3), got 4"),
])
def test_driven_inputs_are_checked_at_build_time(array, message):
    with pytest.raises((KeyError, ValueError)) as error:
        built(driven(), arrays={} if array is None else {"top": array})
    assert message in str(error.value)


def test_driven_input_adds_to_the_constant_input():
    values = np.arange(6.0).reshape(2, 3) * mV
    circuit = built(driven(inputs={"v_apical_drive": "10 mV"}), run=2e-3,
                    arrays={"top": TimedArray(values, dt=1 * ms)})
    recorded = circuit.state_monitors["a"][0].v_apical_drive[:].T / mV
    np.testing.assert_allclose(recorded, 10 + values[np.arange(20) // 10] / mV, rtol=1e-12)


def test_driven_inputs_are_checked_in_the_file():
    raw = driven()
    raw["populations"].append({"name": "b", "neuron": PYRAMIDAL, "N": 2})
    raw["connections"] = [{**SUMMED, "pre": "b", "post": "a"}]
    problems = problems_of(raw)
    assert any("input v_apical_drive of a is set by 'populations[0].driven.v_apical_drive' already" in p
               for p in problems), problems
    raw = driven()
    raw["populations"][0]["driven"] = {"I_bogus": "top", "v_basal_drive": 3}
    problems = problems_of(raw)
    assert "key 'populations[0].driven.I_bogus': unknown input" in problems[0]
    assert "key 'populations[0].driven.v_basal_drive': expected the name of a TimedArray" in problems[1]


def test_values_are_set_per_neuron_and_checked():
    drive = np.array([1.0, 2.0, 3.0]) * mV
    group = built(mapping(), values={"a": {"v_basal_drive": drive, "g_B": 2 * nS}}).groups["a"]
    np.testing.assert_array_equal(group.v_basal_drive[:] / mV, drive / mV)
    assert float(group.g_B / nS) == 2.0
    for values, message in (({"c": {"v_basal_drive": drive}}, "no population 'c'"),
                            ({"a": {"v_basl_drive": drive}}, "expected an input or a parameter"),
                            ({"a": {"v_basal_drive": drive / mV}}, "expected a voltage"),
                            ({"a": {"v_basal_drive": drive[:2]}}, "expected one value or 3, got 2"),
                            ({"a": {"g_B": [1, 2, 3] * nS}}, "expected one value (a shared parameter), got 3")):
        with pytest.raises((KeyError, ValueError)) as error:
            built(mapping(), values=values)
        assert message in str(error.value)


def test_monitors_take_the_names_given():
    raw = mapping(record={"spikes": ["a"], "spike_monitors": {"a": "spikes_a"},
                          "states": [{"population": "b", "variables": ["u"], "name": "b_soma"}]})
    circuit = built(raw)
    assert circuit.spike_monitors["a"].name == "spikes_a" and circuit.state_monitors["b"][0].name == "b_soma"
    raw["record"]["spike_monitors"] = {"b": "spikes_b"}
    [problem] = problems_of(raw)
    assert "key 'record.spike_monitors.b'" in problem and "record.spikes" in problem


def test_synaptic_variables_of_a_kind_take_weights_in_their_unit():
    populations = [{"name": "a", "neuron": PYRAMIDAL, "N": 3}, {"name": "controller", "neuron": "dfc_controller", "N": 1}]
    readout = {"pre": "a", "post": "controller", "target": "r_output", "fan_in": 3}
    circuit_from_mapping(mapping({**readout, "weight": "2 Hz"}, populations=populations))
    [problem] = problems_of(mapping({**readout, "weight": "2 mV"}, populations=populations))
    assert "key 'connections[0].weight': onto r_output expected a rate" in problem


def test_rules_registered_from_code_are_chosen_by_name():
    rule = rules.register(rules.VoltageRule("test_prediction", rules.RULES["dendritic_prediction"].schema))
    try:
        assert rules.register(rule) is rule  # the same rule again: nothing changes
        with pytest.raises(ValueError, match="'test_prediction' is registered already"):
            rules.register(rules.VoltageRule("test_prediction", {}))
        plastic = {**GIVEN, "plasticity": {"rule": "test_prediction", "form": "rate", "eta": "0 mV*second"}}
        circuit = built(mapping(plastic), synapses={"ab": (I, J, W)})
        assert "ab_learning" in [obj.name for obj in circuit.synapses["ab"].contained_objects]
    finally:
        del rules.RULES["test_prediction"]
    [problem] = problems_of(mapping(plastic))
    assert "connections[0].plasticity.rule" in problem and "'test_prediction'" in problem
