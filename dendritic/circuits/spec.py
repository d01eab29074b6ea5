"""Circuit files: the TOML schema, its validation and :class:`CircuitSpec`.

A circuit file (``models/networks/*.toml``) declares populations of any registered
neuron kind, Poisson sources, private background inputs, time-varying stimuli,
connections and recordings::

    description = "..."
    [run]
    duration = "1 s"                      # experiments may add keys of their own here
    dt = "0.1 ms"
    seed = 1
    synaptic_delay = "0 ms"               # default delay of every connection
    connection_order = "post"             # synapses sorted by post (or pre) neuron
    background_probability = "poisson"    # or "auryn" (rate x dt per step)
    initial_potential_sd = "5 mV"         # conductance kinds: V ~ N(E_L, sd) (optional)

    [[populations]]
    name = "pyramidal"
    neuron = "sacramento2018_pyramidal"   # a file in models/neurons/ or a path
    N = 200
    inputs = { v_apical_drive = "0 mV" }  # constant external inputs (optional)
    parameters = { g_L = "0.2 nS" }       # parameter values replacing the file's (optional)
    driven = { I_ext = "current" }        # inputs following a TimedArray given at build time
                                          # (optional): current(t, i) if 2-D (time x neuron),
                                          # current(t) if 1-D; added to the constant input
                                          # of the same name, if there is one

    [[inputs]]                            # independent Poisson sources
    name = "feedforward"
    N = 100
    rate = "10 Hz"                        # or: rates = "input_rate", a TimedArray given
                                          # at build time, read as input_rate(t, i)

    [[background]]                        # a private Poisson train per neuron
    population = "pyramidal"
    target = "g_ampa_s"
    rate = "500 Hz"
    weight = 0.35

    [[stimuli]]                           # a sinusoid around a population's input
    population = "pyr1"
    input = "I_soma"
    amplitude = "200 pA"
    period = "0.5 s"
    start = "1 s"

    [[connections]]
    pre = "feedforward"
    post = "pyramidal"
    target = "basal"                      # a dendrite (weight in volt) or a conductance
                                          # (weight in units of the leak)
    fan_in = 20                           # or: probability = 0.1
    weight = "1 mV"
    weight_std = "0.2 mV"
    stp = "none"                          # or a short-term plasticity preset
    transmit = "spikes"                   # or "events", "bursts" (bursting neurons)
    plasticity = { rule = "bdsp", eta = 0.1 }   # optional: a rule by name and its parameters

    [[teachers]]                          # a teaching current from the online event rate
    population = "output"                 # (dendritic.circuits.teaching; sim_xor.cpp)
    input = "I_dend"                      # adds to this input
    estimate = "E_bar"                    # per-neuron rate estimate (Hz)
    target = "xor_target"                 # TimedArray of 0/1 given at build time
    window = "xor_learning"               # TimedArray of 0/1: set at each onset, held inside
    amplitude = "1000 pA"
    rate_min = "2 Hz"
    rate_max = "10 Hz"
    tolerance = "1 Hz"

    [[connections]]                       # connectivity and weights given by code
    name = "feedback"
    pre = "controller"
    post = "pyramidal"
    connectivity = "given"                # instead of fan_in/probability, and no weight:
                                          # build_circuit(synapses={"feedback": (i, j, w)})
    target = "v_apical_drive"             # with summed: an input of the postsynaptic kind,
    summed = "c"                          # set to the sum over synapses of w * c_pre (a
                                          # variable of pre; w in target unit / unit of c)

    [record]
    spikes = ["pyramidal"]
    spike_monitors = { pyramidal = "pyramidal_spikes" }   # monitor names (default <name>_spikes)
    bursts = []                           # event and burst monitors of bursting populations
    [[record.states]]
    population = "pyramidal"
    variables = ["u", "v_basal"]
    neurons = 5
    dt = "0.5 ms"
    name = "pyramidal_states"             # the monitor's name (default <population>_states)

Given by code at build time (:func:`~dendritic.circuits.build.build_circuit`):
``arrays``, the ``TimedArray`` inputs the file names (``rates``, ``driven``, plasticity
gates); ``synapses``, the index arrays and weights of ``connectivity = "given"``
connections (weights as quantities in the target's unit); ``values``, per-neuron values
of a population's inputs (``{"pyramidal": {"v_basal_drive": array}}``), set before
``Backend.parameters_set`` so that standalone reruns can change them.

Every problem is reported at once, each naming the file and the key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from brian2 import Hz, Quantity, mV, ms, pA, second
from brian2.units.fundamentalunits import get_dimensions

from dendritic import config as cfg
from dendritic.circuits import background, rules, teaching
from dendritic.neurons import NeuronModel, load_neuron
from dendritic.neurons.compartments import unit_name
from dendritic.plasticity import short_term

__all__ = ["circuit_schema", "CircuitSpec", "load_circuit", "circuit_from_mapping", "unit_of", "written", "ORDERS"]

ORDERS = ("post", "pre")

_WHAT = {"volt": "a voltage (the jump of the dendritic potential)",
         "1": "a number (the jump in units of the leak conductance)"}


def circuit_schema(run: dict | None = None) -> dict:
    """The schema of a circuit file; ``run`` adds experiment keys to its ``[run]`` table."""
    return {
        "description": cfg.Text(default=""),
        "source": cfg.Text(default=""),
        "run": cfg.Table(schema={
            "duration": cfg.Quantity(unit=second, bound="positive", default=None, doc="simulated time"),
            "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
            "seed": cfg.Integer(minimum=0, default=0),
            "synaptic_delay": cfg.Quantity(unit=ms, bound="nonnegative", default="0 ms",
                                           doc="delay of every connection (Auryn: 0.8 ms)"),
            "connection_order": cfg.Choice(options=ORDERS, default="post",
                                           doc="synapses sorted by postsynaptic or presynaptic neuron"),
            "background_probability": cfg.Choice(options=background.PROBABILITIES, default="poisson",
                                                 doc="spike probability per step of the background: "
                                                     "1 - exp(-rate dt) (poisson) or rate dt (auryn)"),
            "initial_potential_sd": cfg.Quantity(unit=mV, bound="nonnegative", default=None,
                                                 doc="conductance kinds: initial V ~ N(E_L, sd)"),
            **(run or {}),
        }),
        "populations": cfg.TableList(minimum=1, schema={
            "name": cfg.Text(doc="population name"),
            "neuron": cfg.Text(doc="neuron parameter file"),
            "N": cfg.Integer(minimum=1, doc="number of neurons"),
            "inputs": cfg.QuantityTable(default={}),
            "parameters": cfg.QuantityTable(default={}),
            "driven": cfg.RawTable(default={}, doc="input = name of a TimedArray given at build time: "
                                                   "name(t, i) if 2-D (time x neuron), name(t) if 1-D"),
        }),
        "inputs": cfg.TableList(default=[], schema={
            "name": cfg.Text(doc="input name"),
            "N": cfg.Integer(minimum=1, doc="number of Poisson sources"),
            "rate": cfg.Quantity(unit=Hz, bound="nonnegative", default=None, doc="firing rate"),
            "rates": cfg.Text(default=None, doc="name of a TimedArray of rates (time x source) given at build time"),
        }, rules=(cfg.ExactlyOne("rate", "rates"),)),
        "background": cfg.TableList(default=[], schema={
            "population": cfg.Text(),
            "target": cfg.Text(doc="variable receiving the Poisson input"),
            "rate": cfg.Quantity(unit=Hz, bound="nonnegative", doc="rate of each neuron's private Poisson source"),
            "weight": cfg.Magnitude(bound="nonnegative", doc="jump per spike, in the target's unit"),
        }),
        "stimuli": cfg.TableList(default=[], schema={
            "population": cfg.Text(),
            "input": cfg.Text(doc="an input of the population's kind (I_soma, I_dend, ...)"),
            "amplitude": cfg.Quantity(unit=pA, doc="amplitude of the sinusoid around the population's input"),
            "period": cfg.Quantity(unit=second, bound="positive"),
            "start": cfg.Quantity(unit=second, bound="nonnegative", default="0 s",
                                  doc="switched on at this time, its phase counted from t = 0"),
        }),
        "connections": cfg.TableList(default=[], schema={
            "name": cfg.Text(default=None, doc="synapse name (default: <pre>_to_<post>_<target>)"),
            "pre": cfg.Text(doc="presynaptic population or input"),
            "post": cfg.Text(doc="postsynaptic population"),
            "target": cfg.Text(doc="a synaptic target of the postsynaptic neuron (a dendrite, a conductance), "
                                   "or with summed an input"),
            "fan_in": cfg.Integer(minimum=0, default=None),
            "probability": cfg.Number(bound="nonnegative", maximum=1.0, default=None),
            "connectivity": cfg.Choice(options=("given",), default=None,
                                       doc="index arrays and weights given to build_circuit(synapses=...)"),
            "summed": cfg.Text(default=None, doc="a variable of pre: the target input is set to the weighted "
                                                 "sum of it (continuous, no spikes)"),
            "weight": cfg.Magnitude(default=None, doc="mean weight: volt onto a dendrite, units of the leak onto "
                                                      "a conductance"),
            "weight_std": cfg.Magnitude(bound="nonnegative", default=0.0),
            "stp": cfg.Choice(options=("none", *short_term.PRESETS), default="none"),
            "transmit": cfg.Choice(options=tuple(short_term.TRANSMISSION), default="spikes"),
            "delay": cfg.Quantity(unit=ms, bound="nonnegative", default=None,
                                  doc="synaptic delay (default: run.synaptic_delay)"),
            "plasticity": cfg.RawTable(default=None, doc="a plasticity rule: rule = name, then its parameters"),
        }, rules=(cfg.ExactlyOne("fan_in", "probability", "connectivity"), cfg.ExactlyOne("weight", "connectivity"),
                  cfg.AtMostOne("weight_std", "connectivity"))),
        "teachers": cfg.TableList(default=[], schema=teaching.SCHEMA),
        "record": cfg.Table(default={}, schema={
            "spikes": cfg.TextList(default=[]),
            "spike_monitors": cfg.RawTable(default={}, doc="name of a recorded group's spike monitor "
                                                           "(default <name>_spikes)"),
            "bursts": cfg.TextList(default=[]),
            "states": cfg.TableList(default=[], schema={
                "population": cfg.Text(),
                "variables": cfg.TextList(),
                "neurons": cfg.Integer(minimum=1, default=1),
                "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
                "name": cfg.Text(default=None, doc="monitor name (default <population>_states)"),
            }),
        }),
    }


@dataclass
class CircuitSpec:
    """A validated circuit file with its neuron models loaded.

    ``file_sizes``: the population sizes as written, the reference of
    :meth:`resized`; ``keep``: what a resized circuit keeps of each probability
    connection (``"fan_in"``: the number of inputs per neuron, ``"probability"``).
    """

    values: dict
    models: dict[str, NeuronModel]
    source: str = "<mapping>"
    file_sizes: dict = field(default_factory=dict)
    keep: str = "fan_in"

    @property
    def run(self) -> dict:
        return self.values["run"]

    @property
    def names(self) -> list[str]:
        """Populations, then inputs."""
        return [p["name"] for p in self.values["populations"]] + [i["name"] for i in self.values["inputs"]]

    def with_run(self, **values) -> "CircuitSpec":
        """A copy with some ``[run]`` values replaced (seed, duration, ...)."""
        unknown = set(values) - set(self.values["run"])
        if unknown:
            raise KeyError(f"{self.source}: unknown run key(s) {sorted(unknown)}; known: {sorted(self.values['run'])}")
        spec = copy.copy(self)
        spec.values = {**self.values, "run": {**self.values["run"], **values}}
        return spec

    def with_population_size(self, name: str, N: int) -> "CircuitSpec":
        """A copy with one population resized (benchmarks, quick tests)."""
        if name not in self.models:
            raise KeyError(f"{self.source}: no population {name!r}; populations: {list(self.models)}")
        spec = copy.copy(self)
        spec.values = {**self.values, "populations": [
            {**p, "N": N} if p["name"] == name else p for p in self.values["populations"]]}
        return spec

    def resized(self, size: int, keep: str = "fan_in") -> "CircuitSpec":
        """All populations scaled so that the first has ``size`` neurons.

        ``keep="fan_in"``: each neuron keeps the file's number of inputs and weights
        (connection probability p N_file / N, capped at 1, the cap made up by the
        weight), as ``sim_propagation.cpp`` of Payeur et al. 2021 does for its
        recurrent connections (p_pyr_to_pyr = 0.05 x 4000 / N); ``keep="probability"``:
        p stays as written and the weights grow by N_file / N (same mean input, larger
        fluctuations). Connections with ``fan_in`` keep it either way."""
        if keep not in ("fan_in", "probability"):
            raise ValueError(f"keep: expected 'fan_in' or 'probability', got {keep!r}")
        values = copy.deepcopy(self.values)
        factor = size / values["populations"][0]["N"]
        for population in values["populations"]:
            population["N"] = max(1, int(round(population["N"] * factor)))
        return CircuitSpec(values, self.models, self.source, self.file_sizes, keep)

    def connection_name(self, connection: dict) -> str:
        return connection["name"] or f"{connection['pre']}_to_{connection['post']}_{connection['target']}"


def load_circuit(path, run: dict | None = None, overrides=()) -> CircuitSpec:
    """Load and validate a circuit file (a path, or a name in ``models/networks/``);
    ``run``: extra ``[run]`` fields of an experiment; ``overrides``: ``key=value``
    strings (the command line's ``--set``, :func:`dendritic.config.apply_overrides`)."""
    path = cfg.resolve_model_file(path, "networks")
    raw = cfg.read_toml(path)
    if overrides:
        raw = cfg.apply_overrides(raw, overrides, circuit_schema(run), source=path)
    return circuit_from_mapping(raw, source=path, relative_to=path.parent, run=run)


def circuit_from_mapping(raw, source="<mapping>", relative_to: Path | None = None,
                         run: dict | None = None) -> CircuitSpec:
    """Validate a circuit mapping (as read from TOML) and load its neuron models."""
    values = cfg.validate(raw, circuit_schema(run), source=source)
    problems: list[str] = []
    models = {}
    setters: dict[tuple[str, str], list] = {}  # (population, input) -> what sets it, where
    for n, population in enumerate(values["populations"]):
        try:
            model = load_neuron(population["neuron"], relative_to=relative_to)
        except cfg.ConfigError as error:
            problems.extend(f"key 'populations[{n}].neuron': {p}" for p in error.problems)
            continue
        if population["parameters"]:
            try:
                model = model.with_parameters(**population["parameters"])
            except (KeyError, ValueError) as error:
                problems.append(f"key 'populations[{n}].parameters': {error.args[0]}")
        models[population["name"]] = model
        kind = model.spec
        for key, value in population["inputs"].items():
            where = f"populations[{n}].inputs.{key}"
            if key not in kind.inputs:
                problems.append(f"key '{where}': unknown input (expected one of: {', '.join(kind.inputs)})")
            elif unit_name(value) != kind.inputs[key]:
                problems.append(f"key '{where}': expected a quantity in {kind.inputs[key]}, got {value!r}")
            setters.setdefault((population["name"], key), []).append(("inputs", where))
        for key, array in population["driven"].items():
            where = f"populations[{n}].driven.{key}"
            if key not in kind.inputs:
                problems.append(f"key '{where}': unknown input (expected one of: {', '.join(kind.inputs)})")
            elif not isinstance(array, str):
                problems.append(f"key '{where}': expected the name of a TimedArray given at build time, got {array!r}")
            setters.setdefault((population["name"], key), []).append(("driven", where))
    spec = CircuitSpec(values, models, str(source), {p["name"]: p["N"] for p in values["populations"]})
    names = spec.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"key 'populations/inputs': duplicate name(s) {duplicates}")
    populations = list(models)

    def population(where, name):
        if name not in models:
            problems.append(f"key '{where}': expected a population ({populations}), got {name!r}")
            return None
        return models[name]

    for n, entry in enumerate(values["background"]):
        model = population(f"background[{n}].population", entry["population"])
        if model is not None:
            _check_target(model, entry["target"], {"weight": entry["weight"]}, f"background[{n}]", problems)
    for n, teacher in enumerate(values["teachers"]):
        model = population(f"teachers[{n}].population", teacher["population"])
        if model is not None and model.spec.inputs.get(teacher["input"]) != "amp":
            problems.append(f"key 'teachers[{n}].input': expected a current input of the {model.kind} neuron "
                            f"({', '.join(k for k, u in model.spec.inputs.items() if u == 'amp')}), "
                            f"got {teacher['input']!r}")
    for n, stimulus in enumerate(values["stimuli"]):
        model = population(f"stimuli[{n}].population", stimulus["population"])
        if model is not None and stimulus["input"] not in model.spec.inputs:
            problems.append(f"key 'stimuli[{n}].input': expected one of {list(model.spec.inputs)}, "
                            f"got {stimulus['input']!r}")
        setters.setdefault((stimulus["population"], stimulus["input"]), []).append(("stimuli", f"stimuli[{n}]"))
    synapse_names = []
    for n, connection in enumerate(values["connections"]):
        where = f"connections[{n}]"
        synapse_names.append(spec.connection_name(connection))
        pre = models.get(connection["pre"])
        if connection["pre"] not in names:
            problems.append(f"key '{where}.pre': expected one of {names}, got {connection['pre']!r}")
        post = population(f"{where}.post", connection["post"])
        weights = {} if connection["connectivity"] == "given" else \
            {"weight": connection["weight"], "weight_std": connection["weight_std"]}
        if connection["summed"] is not None:
            if post is not None:
                _check_summed(pre, post, connection, weights, where, problems)
                setters.setdefault((connection["post"], connection["target"]), []).append(("summed", where))
            continue
        if post is not None:
            _check_target(post, connection["target"], weights, where, problems)
        bursting = pre is not None and pre.detects_bursts
        if connection["transmit"] != "spikes" and connection["pre"] in names and not bursting:
            problems.append(f"key '{where}.transmit': {connection['pre']} has no events or bursts "
                            f"(a bursting population transmits them)")
        if connection["stp"] != "none" and connection["pre"] in names and pre is None:
            problems.append(f"key '{where}.stp': short-term plasticity needs a population as 'pre', "
                            f"got the input {connection['pre']!r}")
        if connection["plasticity"] is not None:
            try:
                connection["plasticity"] = rules.validate(connection["plasticity"], source, f"{where}.plasticity")
            except cfg.ConfigError as error:
                problems.extend(error.problems)
                continue
            if connection["pre"] in names and post is not None:
                problems.extend(f"key '{where}.plasticity': {p}" for p in
                                rules.problems(connection, pre, post))
    for (name, key), setting in setters.items():
        # a stimulus or a driven input adds to the constant input; anything else sets an input alone
        if len(setting) > 1 and sorted(what for what, _ in setting) not in (["inputs", "stimuli"],
                                                                            ["driven", "inputs"]):
            wheres = [where for _, where in setting]
            problems.append(f"key '{wheres[-1]}': input {key} of {name} is set by '{wheres[0]}' already")
    repeated = sorted({n for n in synapse_names if synapse_names.count(n) > 1})
    if repeated:
        problems.append(f"key 'connections': two connections named {repeated} (give them a 'name')")
    for n, record in enumerate(values["record"]["states"]):
        population(f"record.states[{n}].population", record["population"])
    for name in values["record"]["spikes"]:
        if name not in names:
            problems.append(f"key 'record.spikes': expected names from {names}, got {name!r}")
    for name, monitor in values["record"]["spike_monitors"].items():
        if name not in values["record"]["spikes"]:
            problems.append(f"key 'record.spike_monitors.{name}': names the monitor of a group in record.spikes "
                            f"({values['record']['spikes']}), got {name!r}")
        elif not isinstance(monitor, str):
            problems.append(f"key 'record.spike_monitors.{name}': expected a monitor name, got {monitor!r}")
    for name in values["record"]["bursts"]:
        if name not in models or not models[name].detects_bursts:
            problems.append(f"key 'record.bursts': expected bursting populations, got {name!r}")
    if problems:
        raise cfg.ConfigError([p if p.startswith(str(source)) else f"{source}: {p}" for p in problems])
    return spec


def _check_target(model: NeuronModel, target: str, weights: dict, where: str, problems: list[str]) -> None:
    """``target`` is a synaptic target of ``model`` and the weights are in its unit."""
    targets = model.synaptic_targets
    if target not in targets:
        problems.append(f"key '{where}.target': expected a synaptic target of the {model.kind} neuron "
                        f"({', '.join(targets)}), got {target!r}")
        return
    what = _WHAT.get(targets[target], cfg.describe_dimension(unit_of(targets[target])))
    _check_weights(weights, get_dimensions(unit_of(targets[target])), f"onto {target} expected {what}", where, problems)


def _check_weights(weights: dict, dimensions, expected: str, where: str, problems: list[str]) -> None:
    for key, value in weights.items():
        if float(value) == 0:  # zero is zero in any unit (the default spread)
            continue
        if get_dimensions(value) is not dimensions:
            problems.append(f"key '{where}.{key}': {expected}, got {value}")


def _check_summed(pre: NeuronModel | None, post: NeuronModel, connection: dict, weights: dict, where: str,
                  problems: list[str]) -> None:
    """A summed connection: from a variable of a population onto an input of ``post``,
    weights in the input's unit per unit of the variable, no spikes transmitted."""
    if pre is None:
        problems.append(f"key '{where}.summed': a summed connection needs a population as 'pre' (a variable "
                        f"to sum), got the input {connection['pre']!r}")
    for key, default in (("transmit", "spikes"), ("stp", "none"), ("plasticity", None), ("delay", None)):
        if connection[key] != default:
            problems.append(f"key '{where}.{key}': a summed connection transmits no spikes, got {connection[key]!r}")
    inputs = post.spec.inputs
    if connection["target"] not in inputs:
        problems.append(f"key '{where}.target': with summed expected an input of the {post.kind} neuron "
                        f"({', '.join(inputs)}), got {connection['target']!r}")
    if pre is None or connection["target"] not in inputs:
        return
    source = summed_dimensions(pre, connection["summed"])
    if source is None:
        problems.append(f"key '{where}.summed': expected a variable of the {pre.kind} neuron "
                        f"({', '.join(pre.equations().names)}), got {connection['summed']!r}")
        return
    dimensions = get_dimensions(unit_of(inputs[connection["target"]])) / source
    _check_weights(weights, dimensions, f"onto {connection['target']} from {connection['summed']} expected "
                   f"{cfg.describe_dimension(Quantity(1, dim=dimensions))}", where, problems)


def written(quantity):
    """A quantity as a circuit mapping made in code writes it, exactly: the repr of its SI
    value and its unit (``"0.02 second"``), a plain number if dimensionless."""
    if get_dimensions(quantity) is get_dimensions(1):
        return float(quantity)
    return f"{float(quantity)!r} {unit_name(quantity)}"


def unit_of(name: str):
    """A unit from the name a kind gives it (an input's, a synaptic weight's): ``"volt"``,
    ``"hertz"``, ``"1"``."""
    return 1 if name == "1" else cfg.parse_quantity(f"1 {name}")


def summed_dimensions(model: NeuronModel, variable: str):
    """The dimensions of ``variable`` of ``model`` (None if it has none of that name)."""
    equations = model.equations()
    return equations[variable].dim if variable in equations.names else None
