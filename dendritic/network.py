"""Circuits: populations, Poisson inputs and connections, declared in TOML and built
into one Brian ``Network``.

A network file (``models/networks/*.toml``)::

    description = "..."
    [run]
    duration = "1 s"
    dt = "0.1 ms"
    seed = 1

    [[populations]]
    name = "pyramidal"
    neuron = "sacramento2018_pyramidal"   # a file in models/neurons/ or a path
    N = 200
    inputs = { v_apical_drive = "0 mV" }  # constant external inputs (optional)

    [[inputs]]                            # independent Poisson sources
    name = "feedforward"
    N = 100
    rate = "10 Hz"

    [[connections]]
    pre = "feedforward"
    post = "pyramidal"
    target = "basal"                      # a dendrite of the post neuron
    fan_in = 20                           # or: probability = 0.1
    weight = "1 mV"                       # jump of the dendritic potential per spike
    weight_std = "0.2 mV"

    [record]
    spikes = ["pyramidal"]
    [[record.states]]
    population = "pyramidal"
    variables = ["u", "v_basal", "v_apical", "dendritic_prediction"]
    neurons = 5
    dt = "0.5 ms"

Connectivity and weights are drawn in NumPy (``numpy.random.default_rng(seed)``) and
passed to Brian as explicit index and weight arrays: the same circuit on every target.
With ``fan_in`` each postsynaptic neuron receives exactly that many synapses from
presynaptic neurons drawn uniformly without replacement; with ``probability`` each pair
is connected independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, mV, ms, second, volt

from dendritic import config as cfg
from dendritic.neurons import NeuronModel, load_neuron
from dendritic.neurons.compartments import poisson_threshold, unit_name

__all__ = ["NETWORK_SCHEMA", "CircuitSpec", "Circuit", "load_circuit", "circuit_from_mapping", "build_circuit",
           "draw_connectivity"]

NETWORK_SCHEMA = {
    "description": cfg.Text(default=""),
    "run": cfg.Table(schema={
        "duration": cfg.Quantity(unit=second, bound="positive", doc="simulated time"),
        "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
        "seed": cfg.Integer(minimum=0, default=0),
    }),
    "populations": cfg.TableList(minimum=1, schema={
        "name": cfg.Text(doc="population name"),
        "neuron": cfg.Text(doc="neuron parameter file"),
        "N": cfg.Integer(minimum=1, doc="number of neurons"),
        "inputs": cfg.QuantityTable(default={}),
    }),
    "inputs": cfg.TableList(default=[], schema={
        "name": cfg.Text(doc="input name"),
        "N": cfg.Integer(minimum=1, doc="number of Poisson sources"),
        "rate": cfg.Quantity(unit=Hz, bound="nonnegative", doc="firing rate"),
    }),
    "connections": cfg.TableList(default=[], schema={
        "pre": cfg.Text(doc="presynaptic population or input"),
        "post": cfg.Text(doc="postsynaptic population"),
        "target": cfg.Text(doc="dendrite of the postsynaptic neuron"),
        "fan_in": cfg.Integer(minimum=0, default=None),
        "probability": cfg.Number(bound="nonnegative", maximum=1.0, default=None),
        "weight": cfg.Quantity(unit=mV, doc="mean jump of the dendritic potential"),
        "weight_std": cfg.Quantity(unit=mV, bound="nonnegative", default="0 mV"),
    }),
    "record": cfg.Table(default={}, schema={
        "spikes": cfg.TextList(default=[]),
        "states": cfg.TableList(default=[], schema={
            "population": cfg.Text(),
            "variables": cfg.TextList(),
            "neurons": cfg.Integer(minimum=1, default=1),
            "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
        }),
    }),
}


@dataclass
class CircuitSpec:
    """A validated network file, with its neuron models loaded."""

    values: dict
    models: dict[str, NeuronModel]
    source: str = "<mapping>"

    @property
    def run(self) -> dict:
        return self.values["run"]

    def with_population_size(self, name: str, N: int) -> "CircuitSpec":
        """A copy with one population resized (benchmarks, quick tests)."""
        values = {**self.values, "populations": [
            {**p, "N": N} if p["name"] == name else p for p in self.values["populations"]]}
        return CircuitSpec(values, self.models, self.source)


def load_circuit(path) -> CircuitSpec:
    """Load and validate a network file (a path, or a name in ``models/networks/``)."""
    path = cfg.resolve_model_file(path, "networks")
    return circuit_from_mapping(cfg.read_toml(path), source=path, relative_to=path.parent)


def circuit_from_mapping(raw, source="<mapping>", relative_to: Path | None = None) -> CircuitSpec:
    values = cfg.validate(raw, NETWORK_SCHEMA, source=source)
    problems = []
    models = {}
    for n, population in enumerate(values["populations"]):
        models[population["name"]] = load_neuron(population["neuron"], relative_to=relative_to)
        kind = models[population["name"]].spec
        for key, value in population["inputs"].items():
            where = f"populations[{n}].inputs.{key}"
            if key not in kind.inputs:
                problems.append(f"'{where}': unknown input (expected one of: {', '.join(kind.inputs)})")
            elif unit_name(value) != kind.inputs[key]:
                problems.append(f"'{where}': expected a quantity in {kind.inputs[key]}, got {value!r}")
    names = [p["name"] for p in values["populations"]] + [i["name"] for i in values["inputs"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"'populations/inputs': duplicate name(s) {duplicates}")
    for n, connection in enumerate(values["connections"]):
        where = f"connections[{n}]"
        if connection["pre"] not in names:
            problems.append(f"'{where}.pre': expected one of {names}, got {connection['pre']!r}")
        if connection["post"] not in models:
            problems.append(f"'{where}.post': expected a population ({list(models)}), got {connection['post']!r}")
        else:
            dendrites = models[connection["post"]].spec.dendrites
            if connection["target"] not in dendrites:
                problems.append(f"'{where}.target': expected a dendrite of {connection['post']} "
                                f"({', '.join(dendrites)}), got {connection['target']!r}")
        if (connection["fan_in"] is None) == (connection["probability"] is None):
            problems.append(f"'{where}': expected exactly one of 'fan_in' and 'probability'")
    for n, record in enumerate(values["record"]["states"]):
        if record["population"] not in models:
            problems.append(f"'record.states[{n}].population': expected a population ({list(models)}), "
                            f"got {record['population']!r}")
    for name in values["record"]["spikes"]:
        if name not in names:
            problems.append(f"'record.spikes': expected names from {names}, got {name!r}")
    if problems:
        raise cfg.ConfigError([f"{source}: key {p}" for p in problems])
    return CircuitSpec(values, models, str(source))


def draw_connectivity(rng: np.random.Generator, n_pre: int, n_post: int, fan_in=None, probability=None,
                      order: str = "post"):
    """Presynaptic and postsynaptic index arrays (int32), drawn from ``rng``.

    ``fan_in``: each postsynaptic neuron gets that many distinct presynaptic ones;
    ``probability``: each pair is connected independently (no rule against
    self-connections: Auryn's ``SparseConnection``). ``order``: the synapses sorted by
    postsynaptic neuron (``"post"``) or by presynaptic neuron (``"pre"``: a spike's
    synapses contiguous in memory, which speeds up propagation in large circuits); with
    ``probability`` the same draw is read in that order, so the two orders give
    different (equally distributed) circuits for one seed.
    """
    if order not in ("post", "pre"):
        raise ValueError(f"order: expected 'post' or 'pre', got {order!r}")
    if fan_in is not None:
        if fan_in > n_pre:
            raise ValueError(f"fan_in {fan_in} exceeds the {n_pre} presynaptic neurons")
        # for each post neuron, fan_in distinct pre neurons: argpartition of random keys
        if fan_in == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        if n_pre <= 4 * fan_in or n_pre * n_post <= 50_000_000:
            keys = rng.random((n_post, n_pre))
            pre = np.argpartition(keys, fan_in - 1, axis=1)[:, :fan_in]
        else:  # rejection sampling of duplicates, memory O(n_post * fan_in)
            pre = rng.integers(0, n_pre, size=(n_post, fan_in))
            while True:
                pre.sort(axis=1)
                duplicate = np.zeros_like(pre, dtype=bool)
                duplicate[:, 1:] = pre[:, 1:] == pre[:, :-1]
                if not duplicate.any():
                    break
                pre[duplicate] = rng.integers(0, n_pre, size=int(duplicate.sum()))
        pre, post = pre.reshape(-1), np.repeat(np.arange(n_post), fan_in)
        if order == "pre":
            by_pre = np.lexsort((post, pre))
            pre, post = pre[by_pre], post[by_pre]
        return pre.astype(np.int32), post.astype(np.int32)
    total = rng.binomial(n_pre * n_post, probability)
    flat = np.sort(rng.choice(n_pre * n_post, size=total, replace=False))
    if order == "pre":
        pre, post = np.divmod(flat, n_post)
    else:
        post, pre = np.divmod(flat, n_pre)
    return pre.astype(np.int32), post.astype(np.int32)


@dataclass
class Circuit:
    """The Brian objects of a built circuit, and how to read their results."""

    network: Network
    groups: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    synapses: dict = field(default_factory=dict)
    spike_monitors: dict = field(default_factory=dict)
    state_monitors: dict = field(default_factory=dict)

    def collect(self, connectivity: bool = False) -> dict:
        """Recorded spikes, sampled states (with units) and parameter values, as a
        nested dict ready for :func:`dendritic.io.write_results`."""
        results = {"spikes": {}, "states": {}, "parameters": {}}
        for name, monitor in self.spike_monitors.items():
            results["spikes"][name] = {"i": np.asarray(monitor.i[:], dtype=np.int32), "t": monitor.t[:],
                                       "N": np.int64(len(self.groups[name]))}
        for name, (monitor, variables, neurons) in self.state_monitors.items():
            entry = {"t": monitor.t[:], "neurons": np.asarray(neurons, dtype=np.int32)}
            for variable in variables:
                entry[variable] = getattr(monitor, variable)[:]
            results["states"][name] = entry
        for name, model in self.models.items():
            group = self.groups[name]
            values = group.get_states(list(model.parameters), units=True)
            results["parameters"][name] = {key: _scalar(value) for key, value in values.items()}
        if connectivity:
            results["connectivity"] = {name: {"i": np.asarray(s.i[:], np.int32), "j": np.asarray(s.j[:], np.int32),
                                              "w": s.w[:]} for name, s in self.synapses.items()}
        return results


def _scalar(value):
    return value[0] if getattr(value, "shape", ()) and len(value) == 1 else value


def build_circuit(spec: CircuitSpec, backend) -> Circuit:
    """Create the Brian objects of ``spec`` on the backend's current target.

    Order matters for ``cpp_standalone`` reruns: all parameters and weights first, then
    :meth:`Backend.parameters_set`, then the states initialised from parameters.
    """
    values = spec.values
    rng = np.random.default_rng(values["run"]["seed"])
    circuit = Circuit(network=Network())
    for source in values["inputs"]:
        group = NeuronGroup(source["N"], "rate : Hz (shared, constant)",
                            threshold=poisson_threshold("rate"), name=source["name"])
        group.rate = source["rate"]
        circuit.groups[source["name"]] = group
    for population in values["populations"]:
        model = spec.models[population["name"]]
        group = model.make_group(population["N"], name=population["name"])
        for key, value in population["inputs"].items():
            setattr(group, key, value)
        circuit.groups[population["name"]] = group
        circuit.models[population["name"]] = model
    for connection in values["connections"]:
        pre, post = circuit.groups[connection["pre"]], circuit.groups[connection["post"]]
        i, j = draw_connectivity(rng, len(pre), len(post), connection["fan_in"], connection["probability"])
        weights = rng.normal(float(connection["weight"]), float(connection["weight_std"]), size=len(i))
        name = f"{connection['pre']}_to_{connection['post']}_{connection['target']}"
        on_pre = circuit.models[connection["post"]].synaptic_input(connection["target"])
        synapses = Synapses(pre, post, "w : volt (constant)", on_pre=on_pre, name=name)
        synapses.connect(i=i, j=j)
        synapses.w = weights * volt
        circuit.synapses[name] = synapses
    backend.parameters_set(circuit.groups)
    for name, model in circuit.models.items():
        model.initialise(circuit.groups[name])
    for name in values["record"]["spikes"]:
        circuit.spike_monitors[name] = SpikeMonitor(circuit.groups[name], name=f"{name}_spikes")
    for record in values["record"]["states"]:
        group = circuit.groups[record["population"]]
        neurons = np.arange(min(record["neurons"], len(group)))
        monitor = StateMonitor(group, record["variables"], record=neurons, dt=record["dt"],
                               name=f"{record['population']}_states")
        circuit.state_monitors[record["population"]] = (monitor, record["variables"], neurons)
    circuit.network.add(*circuit.groups.values(), *circuit.synapses.values(), *circuit.spike_monitors.values(),
                        *(m for m, _, _ in circuit.state_monitors.values()))
    return circuit

