"""Parameter files: unit parsing, shipped values, and one clear error per bad input."""

import re

import pytest
from brian2 import Hz, mV, ms, nS, second
from brian2.units.fundamentalunits import get_dimensions

from dendritic import config as cfg
from dendritic.neurons import load_neuron
from dendritic.circuits import load_circuit


@pytest.mark.parametrize("text, expected", [
    ("600 nS", 600 * nS),
    ("0.15 /ms", 0.15 / ms),
    ("1/3 /mV", (1 / 3) / mV),
    ("-70 mV", -70 * mV),
    ("2 mV/ms", 2 * mV / ms),
    ("1e-3 s", 1 * ms),
    ("2.5e2 Hz", 250 * Hz),
    ("10", 10),
])
def test_parse_quantity(text, expected):
    value = cfg.parse_quantity(text)
    assert float(value) == pytest.approx(float(expected), rel=1e-15)
    assert get_dimensions(value) is get_dimensions(expected)


@pytest.mark.parametrize("text", ["10 parsecs", "ms", "", "10 mV + __import__('os')", "ten ms"])
def test_parse_quantity_rejects(text):
    with pytest.raises(ValueError):
        cfg.parse_quantity(text)


def _edited_copy(tmp_path, name, old, new):
    source = cfg.MODELS_DIR / "neurons" / f"{name}.toml"
    text = source.read_text()
    assert re.search(old, text, flags=re.M), f"pattern {old!r} not in {source}"
    path = tmp_path / f"{name}.toml"
    path.write_text(re.sub(old, new, text, count=1, flags=re.M))
    return path


@pytest.mark.parametrize("old, new, key, expected", [
    (r"^g_L = .*$", 'g_L = "30 nS"\ng_leak = "30 nS"', "parameters.g_leak", "unknown key"),
    (r"^tau_basal = .*$", "", "parameters.tau_basal", "missing"),
    (r"^tau_basal = .*$", 'tau_basal = "10 mV"', "parameters.tau_basal", "expected a time"),
    (r"^g_L = .*$", 'g_L = "30 pF"', "parameters.g_L", "expected a conductance"),
    (r"^tau_apical = .*$", 'tau_apical = "0 ms"', "parameters.tau_apical", "expected a positive value"),
    (r"^g_L = .*$", 'g_L = "-30 nS"', "parameters.g_L", "expected a positive value"),
    (r"^C = .*$", 'C = "0 pF"', "parameters.C", "expected a positive value"),
    (r"^g_B = .*$", 'g_B = "-1 nS"', "parameters.g_B", "expected a non-negative value"),
    (r"^g_L = .*$", "g_L = 30", "parameters.g_L", "written with its unit"),
    (r"^transfer = .*$", 'transfer = "relu"', "transfer", "expected one of"),
])
def test_bad_neuron_file_gives_one_clear_error(tmp_path, old, new, key, expected):
    path = _edited_copy(tmp_path, "urbanczik2014", old, new)
    with pytest.raises(cfg.ConfigError) as error:
        load_neuron(path)
    assert len(error.value.problems) == 1, error.value.problems
    message = error.value.problems[0]
    assert message.startswith(f"{path}: key '{key}'"), message
    assert expected in message


def test_all_problems_of_a_file_are_listed(tmp_path):
    path = _edited_copy(tmp_path, "urbanczik2014", r"^g_L = .*$", 'g_L = "1 mV"\nfoo = 1')
    with pytest.raises(cfg.ConfigError) as error:
        load_neuron(path)
    assert len(error.value.problems) == 2


def test_invalid_toml_and_missing_file_name_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("model = \n")
    with pytest.raises(cfg.ConfigError, match=re.escape(str(path)) + ": not valid TOML"):
        load_neuron(path)
    with pytest.raises(cfg.ConfigError, match="no such model file"):
        load_neuron(tmp_path / "nowhere.toml")


def test_network_cross_references_are_checked(tmp_path):
    text = (cfg.MODELS_DIR / "networks" / "population.toml").read_text()
    path = tmp_path / "net.toml"
    path.write_text(text.replace('target = "apical"', 'target = "axon"'))
    with pytest.raises(cfg.ConfigError) as error:
        load_circuit(path)
    message = error.value.problems[0]
    assert message.startswith(f"{path}: key 'connections[1].target'") and "basal, apical" in message
    path.write_text(text.replace('duration = "2 s"', 'duration = "2 mV"'))
    with pytest.raises(cfg.ConfigError, match=r"key 'run.duration': expected a time"):
        load_circuit(path)


def test_network_file_loads():
    spec = load_circuit("population")
    assert spec.run["duration"].dim is second.dim


def test_list_fields_check_each_element_and_name_its_index():
    schema = {"windows": cfg.QuantityList(unit=second, bound="positive", ordered=True),
              "sizes": cfg.IntegerList(minimum=1, minimum_length=2)}
    values = cfg.validate({"windows": ["1 s", "200 ms"], "sizes": [4, 3]}, schema, source="x.toml")
    assert [float(w) for w in values["windows"]] == [0.2, 1.0] and values["sizes"] == [4, 3]
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate({"windows": ["1 s", "2 mV", "-1 s"], "sizes": [4]}, schema, source="x.toml")
    message = str(error.value)
    assert "x.toml: key 'windows[1]'" in message and "a time" in message
    assert "'windows[2]'" in message and "positive" in message
    assert "'sizes'" in message and "at least 2 whole numbers >= 1" in message


# ---------------------------------------------------------------------------------------
# Rules between keys of one table

def _connection_schema(**extra):
    return {
        "fan_in": cfg.Integer(minimum=0, default=None),
        "probability": cfg.Number(bound="nonnegative", maximum=1.0, default=None),
        "stp": cfg.Text(default=None),
        "tau_stp": cfg.Quantity(unit=ms, bound="positive", default=None),
        "transmit": cfg.Choice(options=("spikes", "bursts"), default="spikes"),
        "burst_length": cfg.Integer(minimum=1, default=None),
        **extra,
    }


def _problems(mapping, schema, **kwargs):
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate(mapping, schema, source="net.toml", **kwargs)
    return error.value.problems


def test_exactly_one():
    schema = {"c": cfg.Table(schema=_connection_schema(), rules=(cfg.ExactlyOne("fan_in", "probability"),))}
    assert cfg.validate({"c": {"fan_in": 3}}, schema)["c"]["fan_in"] == 3
    assert cfg.validate({"c": {"probability": 0.5}}, schema)["c"]["probability"] == 0.5
    assert _problems({"c": {"fan_in": 3, "probability": 0.5}}, schema) == [
        "net.toml: key 'c': expected exactly one of 'fan_in' and 'probability', got both"]
    assert _problems({"c": {}}, schema) == [
        "net.toml: key 'c': expected exactly one of 'fan_in' and 'probability', got neither"]


def test_at_most_one():
    rule = cfg.AtMostOne("fan_in", "probability", "stp")
    schema = {"c": cfg.Table(schema=_connection_schema(), rules=(rule,))}
    assert cfg.validate({"c": {}}, schema)["c"]["fan_in"] is None
    assert cfg.validate({"c": {"stp": "x"}}, schema)["c"]["stp"] == "x"
    assert _problems({"c": {"fan_in": 3, "stp": "x"}}, schema) == [
        "net.toml: key 'c': expected at most one of 'fan_in', 'probability' and 'stp', got 'fan_in' and 'stp'"]


def test_requires_and_requires_when():
    rules = (cfg.Requires("stp", needs=("tau_stp",)), cfg.Requires("transmit", needs="burst_length", when="bursts"))
    schema = {"c": cfg.Table(schema=_connection_schema(), rules=rules)}
    values = cfg.validate({"c": {"stp": "depressing", "tau_stp": "100 ms"}}, schema)["c"]
    assert values["stp"] == "depressing" and float(values["tau_stp"]) == pytest.approx(0.1)
    assert cfg.validate({"c": {"transmit": "bursts", "burst_length": 3}}, schema)["c"]["burst_length"] == 3
    assert cfg.validate({"c": {"transmit": "spikes"}}, schema)["c"]["burst_length"] is None
    assert _problems({"c": {"stp": "depressing"}}, schema) == [
        "net.toml: key 'c': missing 'tau_stp' (required when 'stp' is given)"]
    assert _problems({"c": {"transmit": "bursts"}}, schema) == [
        "net.toml: key 'c': missing 'burst_length' (required when 'transmit' is 'bursts')"]


def test_rules_in_a_table_list_name_the_element_and_all_are_reported():
    schema = {"connections": cfg.TableList(schema=_connection_schema(), rules=(
        cfg.ExactlyOne("fan_in", "probability"), cfg.Requires("stp", needs="tau_stp")))}
    problems = _problems({"connections": [{"fan_in": 2}, {"fan_in": 2, "probability": 0.1},
                                          {"probability": 0.1, "stp": "x"}, {"fan_in": -1}]}, schema)
    assert problems == [
        "net.toml: key 'connections[1]': expected exactly one of 'fan_in' and 'probability', got both",
        "net.toml: key 'connections[2]': missing 'tau_stp' (required when 'stp' is given)",
        "net.toml: key 'connections[3].fan_in': expected a whole number >= 0, got -1",
    ]


def test_top_level_rules_and_defaulted_tables():
    schema = _connection_schema()
    problems = _problems({"fan_in": 1, "probability": 0.2}, schema, rules=[cfg.ExactlyOne("fan_in", "probability")])
    assert problems == ["net.toml: key 'fan_in': expected exactly one of 'fan_in' and 'probability', got both"]
    # a table left out of the file is validated from its default, rules included
    nested = {"c": cfg.Table(default={}, schema=schema, rules=(cfg.ExactlyOne("fan_in", "probability"),))}
    assert "got neither" in _problems({}, nested)[0]


@pytest.mark.parametrize("build, expected", [
    (lambda s: cfg.Table(schema=s, rules=(cfg.ExactlyOne("fan_in", "probabilty"),)), "'probabilty', not in the schema"),
    (lambda s: cfg.TableList(schema=s, rules=(cfg.Requires("stp", needs="tau"),)), "'tau', not in the schema"),
    (lambda s: cfg.validate({}, s, rules=(cfg.AtMostOne("fan", "stp"),)), "'fan', not in the schema"),
    (lambda s: cfg.Table(schema=s, rules=(cfg.Requires("transmit", needs="burst_length", when="burst"),)),
     "expected one of 'spikes', 'bursts', got 'burst'"),
    (lambda s: cfg.Table(schema={**s, "N": cfg.Integer()}, rules=(cfg.ExactlyOne("N", "fan_in"),)), "'N' is required"),
    (lambda s: cfg.Table(schema=s, rules=(cfg.ExactlyOne("fan_in"),)), "two or more distinct keys"),
    (lambda s: cfg.Table(schema=s, rules=("fan_in",)), "must be Rule objects"),
])
def test_rule_mistakes_in_a_schema_fail_when_it_is_built(build, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        build(_connection_schema())


# ---------------------------------------------------------------------------------------
# Overrides: key=value assignments on the raw file contents

_OVERRIDE_SCHEMA = {
    "description": cfg.Text(default=""),
    "run": cfg.Table(default={}, schema={
        "duration": cfg.Quantity(unit=second, bound="positive", default="1 s"),
        "seed": cfg.Integer(minimum=0, default=0),
    }),
    "populations": cfg.TableList(schema={
        "name": cfg.Text(),
        "N": cfg.Integer(minimum=1),
        "inputs": cfg.QuantityTable(default={}),
    }),
    "connections": cfg.TableList(default=[], schema={
        "fan_in": cfg.Integer(minimum=0, default=None),
        "probability": cfg.Number(bound="nonnegative", maximum=1.0, default=None),
        "weight_std": cfg.Quantity(unit=mV, bound="nonnegative", default="0 mV"),
    }, rules=(cfg.ExactlyOne("fan_in", "probability"),)),
    "record": cfg.Table(default={}, schema={"spikes": cfg.TextList(default=[])}),
}


def _raw():
    return {"run": {"seed": 1}, "populations": [{"name": "a", "N": 10}, {"name": "b", "N": 20}],
            "connections": [{"fan_in": 2}, {"probability": 0.5, "weight_std": "1 mV"}]}


@pytest.mark.parametrize("text, expected", [
    ("3", 3), ("0.5", 0.5), ('"2 s"', "2 s"), ("2 s", "2 s"), ("  2 s ", "2 s"), ("true", True),
    ('["a", "b"]', ["a", "b"]), ("{x = 1}", {"x": 1}), ("", ""), ("3\nw = 4", "3\nw = 4"),
])
def test_parse_value(text, expected):
    assert cfg.parse_value(text) == expected


def test_overrides_of_nested_and_list_keys_leave_the_input_alone():
    raw = _raw()
    before = repr(raw)
    new = cfg.apply_overrides(raw, [
        "run.seed=3", "run.duration=2 s", "populations[1].N=400", 'connections[1].weight_std="0.1 mV"',
        'record.spikes=["a","b"]', 'populations[0].inputs.I_ext="5 pA"', "run.seed = 4",
    ], _OVERRIDE_SCHEMA)
    assert repr(raw) == before
    assert new["run"] == {"seed": 4, "duration": "2 s"}  # the later assignment wins
    assert new["populations"][1]["N"] == 400 and new["populations"][0]["inputs"] == {"I_ext": "5 pA"}
    assert new["connections"][1] == {"probability": 0.5, "weight_std": "0.1 mV"}
    assert new["record"] == {"spikes": ["a", "b"]}  # a table absent from the file is created
    values = cfg.validate(new, _OVERRIDE_SCHEMA)
    assert float(values["run"]["duration"]) == 2.0 and float(values["connections"][1]["weight_std"]) == pytest.approx(1e-4)
    assert cfg.lookup(new, "populations[1].N") == 400 and cfg.lookup(values, "run.seed") == 4
    assert cfg.lookup(new, "populations[5].N", None) is None
    with pytest.raises(KeyError):
        cfg.lookup(new, "run.speed")


def test_an_override_that_does_not_fit_fails_validation_like_the_file_would():
    new = cfg.apply_overrides(_raw(), ["run.duration=2 mV", "connections[0].probability=0.1"], _OVERRIDE_SCHEMA)
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate(new, _OVERRIDE_SCHEMA, source="net.toml")
    assert error.value.problems == [
        "net.toml: key 'run.duration': expected a time (e.g. \"10 ms\"), got '2 mV' which is a voltage (e.g. \"-70 mV\")",
        "net.toml: key 'connections[0]': expected exactly one of 'fan_in' and 'probability', got both",
    ]


def test_bad_overrides_are_all_named_with_what_was_expected():
    raw = _raw()
    with pytest.raises(cfg.ConfigError) as error:
        cfg.apply_overrides(raw, ["run.sed=3", "populations[2].N=1", "connections[-1].fan_in=1", "seed",
                                  "=3", "populations.N=3", "run.seed.x=1", "run[0].seed=1", "a..b=1",
                                  "nothing=1"], _OVERRIDE_SCHEMA, source="net.toml")
    assert error.value.problems == [
        "net.toml: override 'run.sed=3': unknown key 'run.sed' (expected one of: duration, seed)",
        "net.toml: override 'populations[2].N=1': index 2 out of range: 'populations' has 2 entries (valid: 0 to 1)",
        "net.toml: override 'connections[-1].fan_in=1': index -1 out of range: 'connections' has 2 entries (valid: 0 to 1)",
        "net.toml: override 'seed': expected key=value, such as run.seed=3",
        "net.toml: override '=3': expected key=value, such as run.seed=3",
        "net.toml: override 'populations.N=3': 'populations' is an array of tables: give an index, such as populations[0].N",
        "net.toml: override 'run.seed.x=1': 'run.seed' is a single value, so has no key 'x'",
        "net.toml: override 'run[0].seed=1': 'run' is not an array of tables, so takes no index",
        "net.toml: override 'a..b=1': malformed key 'a..b' (expected names joined by '.', "
        "each with an optional index, e.g. populations[0].N)",
        "net.toml: override 'nothing=1': unknown key 'nothing' "
        "(expected one of: connections, description, populations, record, run)",
    ]
    assert raw == _raw()
    with pytest.raises(cfg.ConfigError, match="'connections' has 0 entries"):
        cfg.apply_overrides({"populations": []}, ["connections[0].fan_in=1"], _OVERRIDE_SCHEMA)


def test_overrides_on_a_shipped_network_file():
    from dendritic.circuits import circuit_from_mapping, circuit_schema

    NETWORK_SCHEMA = circuit_schema()
    path = cfg.MODELS_DIR / "networks" / "population.toml"
    raw = cfg.apply_overrides(cfg.read_toml(path), ["run.seed=3", "run.duration=500 ms", "populations[0].N=40"],
                              NETWORK_SCHEMA, source=path)
    spec = circuit_from_mapping(raw, source=path, relative_to=path.parent)
    assert spec.run["seed"] == 3 and float(spec.run["duration"]) == pytest.approx(0.5)
    assert spec.values["populations"][0]["N"] == 40


# ---------------------------------------------------------------------------------------
# describe(): every key with its default and unit, for help texts

def test_describe_lists_every_leaf_with_default_and_unit():
    schema = {
        "run": cfg.Table(schema={
            "duration": cfg.Quantity(unit=second, bound="positive", doc="simulated time"),
            "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
            "seed": cfg.Integer(minimum=0, default=0),
        }),
        "populations": cfg.TableList(schema={
            "N": cfg.Integer(minimum=1, doc="number of neurons"),
            "beta": cfg.Quantity(unit=1 / mV, default="1/3 /mV"),
            "transfer": cfg.Choice(options=("sigmoid", "relu"), default="sigmoid"),
        }),
        "fan_in": cfg.Integer(default=None),
        "windows": cfg.QuantityList(unit=second, bound="positive", default=["1 s", "2 s"]),
        "spikes": cfg.TextList(default=[]),
        "plot": cfg.Flag(default=False),
    }
    assert [tuple(option) for option in cfg.describe(schema)] == [
        ("run.duration", "required", "time in s, > 0; simulated time"),
        ("run.dt", '"0.1 ms"', "time in ms, > 0"),
        ("run.seed", "0", "whole number >= 0"),
        ("populations[].N", "required", "whole number >= 1; number of neurons"),
        ("populations[].beta", '"1/3 /mV"', "inverse voltage in /mV"),
        ("populations[].transfer", '"sigmoid"', 'one of "sigmoid", "relu"'),
        ("fan_in", "unset", "whole number"),
        ("windows", '["1 s", "2 s"]', "array of time values in s, > 0"),
        ("spikes", "[]", "array of strings"),
        ("plot", "false", "true or false"),
    ]
    option = cfg.describe(schema)[1]
    assert (option.key, option.default) == ("run.dt", '"0.1 ms"')


def test_describe_covers_a_shipped_schema_and_its_keys_can_be_overridden():
    from dendritic.circuits import circuit_schema

    NETWORK_SCHEMA = circuit_schema()
    options = {option.key: option for option in cfg.describe(NETWORK_SCHEMA)}
    assert options["run.synaptic_delay"].default == '"0 ms"' and "in ms" in options["run.synaptic_delay"].help
    assert options["connections[].weight_std"].default == "0.0" and "unit of the target" in options["connections[].weight_std"].help
    raw = cfg.read_toml(cfg.MODELS_DIR / "networks" / "population.toml")
    # every described key is one apply_overrides accepts
    present = [key for key in options if "[]" not in key or raw.get(key.split("[]")[0])]
    assert len(present) > 20
    cfg.apply_overrides(raw, [key.replace("[]", "[0]") + "=1" for key in present], NETWORK_SCHEMA)


def test_number_list_checks_each_element_and_its_bounds():
    schema = {"p": cfg.NumberList(minimum=0.0, maximum=1.0)}
    assert cfg.validate({"p": [0, 0.5, 1]}, schema) == {"p": [0.0, 0.5, 1.0]}
    for bad in ([], [0.5, 1.5], [0.2, "a"], 0.5, [True]):
        with pytest.raises(cfg.ConfigError, match=r"key 'p': expected an array of numbers in \[0, 1\]"):
            cfg.validate({"p": bad}, schema, source="f.toml")


def test_requires_when_one_of_several_values():
    schema = {"rule": cfg.Choice(options=("bp", "dfc", "dfc_ss")), "controller": cfg.Table(schema={}, default=None)}
    rules = (cfg.Requires("rule", needs="controller", when=("dfc", "dfc_ss")),)
    assert cfg.validate({"rule": "bp"}, schema, rules=rules)["controller"] is None
    cfg.validate({"rule": "dfc", "controller": {}}, schema, rules=rules)
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate({"rule": "dfc_ss"}, schema, source="m.toml", rules=rules)
    assert error.value.problems == ["m.toml: key 'rule': missing 'controller' (required when 'rule' is 'dfc_ss')"]
    with pytest.raises(ValueError, match="when="):
        cfg.Requires("rule", needs="controller", when=("dfc", "sgd")).bind(schema)


def test_dfc_experiment_rules_are_declared():
    from dendritic.rate.experiment import RULES, SCHEMA

    raw = cfg.read_toml(cfg.resolve_model_file("dfc_toy", "experiments"))
    method = {key: value for key, value in raw["methods"][-1].items() if key != "controller"}
    method["rule"] = "dfc"
    bad = {key: value for key, value in raw.items() if key != "teacher"}
    bad["methods"] = [method]
    with pytest.raises(cfg.ConfigError) as error:
        cfg.validate(bad, SCHEMA, source="toy.toml", rules=RULES)
    assert error.value.problems == [
        "toy.toml: key 'methods[0]': missing 'controller' (required when 'rule' is 'dfc')",
        "toy.toml: key 'task': missing 'teacher' (required when 'task' is 'regression')"]
