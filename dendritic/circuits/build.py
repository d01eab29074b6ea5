"""Building a :class:`~dendritic.circuits.spec.CircuitSpec` into Brian objects.

One pass over the file, in an order that keeps a circuit the same on every target:

1. each population's *plan*: the extra equations, custom events and event code its
   connections and inputs ask for (stimulus offsets, short-term plasticity channels,
   background sources, plasticity traces and averages), once per population;
2. the groups (Poisson inputs, then populations), their parameters;
3. the connections in file order: connectivity and weights drawn in NumPy from
   ``numpy.random.default_rng(run.seed)``, passed to Brian as index and weight arrays;
4. :meth:`Backend.parameters_set` (``cpp_standalone`` reruns apply ``run_args`` here),
   then the initial states (the kind's rest, drawn potentials, STP, background), then
   the monitors.

The :class:`Circuit` exposes the groups, synapses, monitors and ``TimedArray`` inputs
(``arrays``: the stimuli and those given to :func:`build_circuit`), so a standalone
binary can be re-run with new inputs or initial weights through ``run_args``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import (EventMonitor, Hz, Network, NeuronGroup, Quantity, SpikeMonitor, StateMonitor, Synapses, TimedArray, pA,
                    second)
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

from dendritic.circuits import background, rules, teaching
from dendritic.circuits.connectivity import draw_connectivity
from dendritic.circuits.spec import CircuitSpec, unit_of
from dendritic import config as cfg
from dendritic.config import describe_dimension
from dendritic.neurons.compartments import poisson_threshold, unit_name
from dendritic.plasticity import dendritic_prediction as dp
from dendritic.plasticity import short_term

__all__ = ["Circuit", "build_circuit", "weight_variable"]


@dataclass
class _Plan:
    """What one population's (or input's) group needs before it exists."""

    model: object = None  # NeuronModel; None for a Poisson input
    equations: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    namespace: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    event_code: dict = field(default_factory=dict)
    traces: list = field(default_factory=list)
    after_create: list = field(default_factory=list)
    initialisers: list = field(default_factory=list)
    keys: dict = field(default_factory=dict)

    def add(self, key, equations=(), event_code=None, events=None, after_create=None, initialise=None,
            same=None) -> None:
        """Add a feature once per group; ``same``: a value every later request of ``key``
        must repeat (e.g. the rule parameters the shared state is set up with)."""
        if key in self.keys:
            if self.keys[key] != same:
                raise ValueError(f"{key}: two connections ask for it with different settings "
                                 f"({self.keys[key]} and {same})")
            return
        self.keys[key] = same
        self.equations.extend(equations)
        for event, lines in (event_code or {}).items():
            self.event_code.setdefault(event, []).extend(lines)
        self.events.update(events or {})
        if after_create is not None:
            self.after_create.append(after_create)
        if initialise is not None:
            self.initialisers.append(initialise)

    def add_to_input(self, key: str, expression: str, unit: str, offset: bool) -> None:
        """Drive input ``key`` by ``expression`` (a Brian expression in ``unit``): added to
        what already drives it, else to the variable ``<key>_offset`` (the constant input,
        set from the file) if ``offset``, else alone."""
        if key in self.inputs:
            self.inputs[key] = f"{self.inputs[key]} + {expression}"
        elif offset:
            self.equations.append(f"{key}_offset : {unit}")
            self.inputs[key] = f"{key}_offset + {expression}"
        else:
            self.inputs[key] = expression

    def add_trace(self, trace) -> None:
        """A presynaptic trace of a voltage-dependent rule."""
        if self.model is not None:
            self.model = trace.add_to(self.model)
        elif trace.name not in [t.name for t in self.traces]:
            self.traces.append(trace)

    def transform(self, function) -> None:
        self.model = function(self.model)


@dataclass
class Circuit:
    """The Brian objects of a built circuit, and how to read their results."""

    network: Network
    spec: CircuitSpec
    groups: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    synapses: dict = field(default_factory=dict)
    spike_monitors: dict = field(default_factory=dict)
    event_monitors: dict = field(default_factory=dict)  # name -> (event monitor, burst monitor)
    state_monitors: dict = field(default_factory=dict)  # name -> (monitor, variables, neurons)
    arrays: dict = field(default_factory=dict)  # TimedArray inputs by name
    stimuli: dict = field(default_factory=dict)  # stimulus name -> {"time", "current_pA"}

    def spike_records(self) -> dict:
        """Per recorded group: N, spike indices and times (s), event and burst times (s)."""
        records = {}
        for name, monitor in self.spike_monitors.items():
            records[name] = {"N": np.int64(len(self.groups[name])), "i": np.asarray(monitor.i[:], np.int32),
                             "t": np.asarray(monitor.t[:] / second)}
        for name, (events, bursts) in self.event_monitors.items():
            records.setdefault(name, {"N": np.int64(len(self.groups[name]))})
            records[name]["event_t"] = np.asarray(events.t[:] / second)
            records[name]["burst_t"] = np.asarray(bursts.t[:] / second)
        return records

    def weights(self, name: str):
        """The weights of connection ``name`` (``w``, or ``w_syn`` next to AdEx neurons)."""
        synapses = self.synapses[name]
        return getattr(synapses, weight_variable(synapses.source, synapses.target))[:]

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
            values = self.groups[name].get_states(list(model.parameters), units=True)
            results["parameters"][name] = {key: _scalar(value) for key, value in values.items()}
        if connectivity:
            results["connectivity"] = {name: {"i": np.asarray(s.i[:], np.int32), "j": np.asarray(s.j[:], np.int32),
                                              "w": self.weights(name)} for name in self.synapses}
        return results


def _scalar(value):
    return value[0] if getattr(value, "shape", ()) and len(value) == 1 else value


def build_circuit(spec: CircuitSpec, backend, duration=None, arrays: dict | None = None,
                  synapses: dict | None = None, values: dict | None = None) -> Circuit:
    """Create the Brian objects of ``spec`` on the backend's current target.

    ``duration``: the simulated time the stimuli are tabulated for (default
    ``run.duration``); ``arrays``: ``TimedArray`` inputs the file names (Poisson rates,
    driven inputs, plasticity gates), by name; ``synapses``: connection name -> (i, j, w),
    the index arrays and weights (quantities in the target's unit) of the connections
    with ``connectivity = "given"``; ``values``: population -> {input or parameter:
    value or per-neuron array}, set with the parameters. Order matters for
    ``cpp_standalone`` reruns: all parameters and weights first, then
    :meth:`Backend.parameters_set`, then the states initialised from parameters.
    """
    declared, run = spec.values, spec.values["run"]
    check_sizes(spec)
    total = duration if duration is not None else run["duration"]
    if total is not None and float(run["dt"]) >= float(total):
        raise cfg.ConfigError([f"{spec.source}: key 'run.dt': expected a time step shorter than the simulated "
                               f"time ({total}), got {run['dt']}"])
    rng = np.random.default_rng(run["seed"])
    arrays = dict(arrays or {})
    circuit = Circuit(network=Network(), spec=spec)
    connections = [c for c in declared["connections"] if c["connectivity"] == "given" or c["plasticity"] is not None
                   or float(c["weight"]) != 0 or float(c["weight_std"]) != 0]
    plans = {p["name"]: _Plan(model=spec.models[p["name"]]) for p in declared["populations"]}
    plans.update({source["name"]: _Plan() for source in declared["inputs"]})

    # 1. plans: stimuli, driven inputs, short-term plasticity, background, plasticity rules
    _plan_stimuli(circuit, plans, duration if duration is not None else run["duration"])
    _plan_driven(circuit, plans, arrays)
    _plan_short_term(plans, connections)
    _plan_background(spec, plans)
    for connection in connections:
        if connection["plasticity"] is not None:
            rule = rules.RULES[connection["plasticity"]["rule"]]
            post_model = plans[connection["post"]].model
            rule.prepare_pre(plans[connection["pre"]], connection, post_model)
            rule.prepare_post(plans[connection["post"]], connection, post_model)

    _plan_teachers(circuit, plans, arrays)

    # 2. groups: Poisson inputs, then populations with their parameters
    _create_inputs(circuit, plans, arrays)
    _create_populations(circuit, plans)
    _check_recorded(circuit)
    _set_values(circuit, values or {}, plans)

    # 3. connections, in file order (connectivity and weights drawn from rng)
    given = dict(synapses or {})
    unknown = set(given) - {spec.connection_name(c) for c in declared["connections"] if c["connectivity"] == "given"}
    if unknown:
        raise KeyError(f"synapses: {sorted(unknown)} are no connections with connectivity 'given'")
    for connection in connections:
        name = spec.connection_name(connection)
        circuit.synapses[name] = _connect(spec, circuit, connection, name, rng, arrays, given)

    # 4. parameters set; initial states; monitors
    backend.parameters_set(circuit.groups)
    _initialise(circuit, plans, rng)
    _monitors(circuit)
    circuit.network.add(*circuit.groups.values(), *circuit.synapses.values(), *circuit.spike_monitors.values(),
                        *(m for pair in circuit.event_monitors.values() for m in pair),
                        *(m for m, _, _ in circuit.state_monitors.values()))
    return circuit


#: bytes per neuron and per synapse of the memory estimate: a neuron has up to ~40
#: double state variables; a synapse two int32 indices, a weight, Brian's spike queue
#: and per-neuron synapse lists, and a plastic synapse its traces (~12 doubles)
BYTES_PER_NEURON, BYTES_PER_SYNAPSE = 40 * 8, 128


def _available_memory() -> float | None:
    """Bytes of memory available to a new allocation (``MemAvailable`` of
    ``/proc/meminfo``), or None where that is unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _sizes(spec: CircuitSpec) -> dict:
    """Neurons per population and per input group, by name."""
    return {**{p["name"]: p["N"] for p in spec.values["populations"]},
            **{s["name"]: s["N"] for s in spec.values["inputs"]}}


def expected_synapses(spec: CircuitSpec, connection: dict) -> float:
    """The number of synapses ``connection`` draws (fan-in x N_post, or p x N_pre x N_post
    with the probability of :func:`_draw`)."""
    sizes = _sizes(spec)
    n_pre, n_post = sizes.get(connection["pre"], 0), sizes.get(connection["post"], 0)
    if connection["connectivity"] == "given":
        return 0.0
    if connection["fan_in"] is not None:
        return float(connection["fan_in"]) * n_post
    probability = connection["probability"] or 0.0
    if spec.keep == "fan_in" and probability > 0 and n_pre > 0:
        probability = min(1.0, probability * spec.file_sizes.get(connection["pre"], n_pre) / n_pre)
    return probability * n_pre * n_post


def check_sizes(spec: CircuitSpec) -> None:
    """Before anything is built: every ``fan_in`` at most the presynaptic population,
    and the circuit's memory (:data:`BYTES_PER_NEURON`, :data:`BYTES_PER_SYNAPSE`) below
    what the machine has available; :class:`~dendritic.errors.ResourceError` or
    :class:`~dendritic.config.ConfigError` naming the file and key otherwise."""
    from dendritic.errors import ResourceError

    sizes = _sizes(spec)
    problems = []
    for n, connection in enumerate(spec.values["connections"]):
        fan_in, n_pre = connection["fan_in"], sizes.get(connection["pre"])
        if fan_in is not None and n_pre is not None and fan_in > n_pre:
            problems.append(f"{spec.source}: key 'connections[{n}].fan_in': expected at most the {n_pre} neurons "
                            f"of {connection['pre']}, got {fan_in}")
    if problems:
        raise cfg.ConfigError(problems)
    synapses = sum(expected_synapses(spec, c) for c in spec.values["connections"])
    needed = sum(sizes.values()) * BYTES_PER_NEURON + synapses * BYTES_PER_SYNAPSE
    available = _available_memory()
    if available is not None and needed > 0.9 * available:
        raise ResourceError(f"{spec.source}: {sum(sizes.values()):,} neurons and about {synapses:,.0f} synapses "
                            f"need about {needed / 2**30:,.1f} GiB; this machine has {available / 2**30:.1f} GiB "
                            "available (make the populations smaller)")


def _plan_stimuli(circuit: Circuit, plans: dict, total) -> None:
    """Sinusoidal stimuli: a TimedArray on the time grid added to an input's offset
    (``total``: the simulated time they cover; needed only if there are stimuli)."""
    declared, run = circuit.spec.values, circuit.spec.values["run"]
    if declared["stimuli"] and total is None:
        raise ValueError(f"{circuit.spec.source}: stimuli need the simulated time: give run.duration or "
                         "build_circuit(duration=...)")
    total = float(total) if total is not None else 0.0
    dt = float(run["dt"])
    offsets = {(p["name"], key): value for p in declared["populations"] for key, value in p["inputs"].items()}
    for stimulus in declared["stimuli"]:
        population, key = stimulus["population"], stimulus["input"]
        name = f"stimulus_{population}_{key}"
        time = np.arange(int(round(total / dt)) + 1) * dt
        # switched on at ``start``, phase counted from t = 0 (Auryn's SineCurrentInjector)
        wave = np.where(time >= float(stimulus["start"]), np.sin(2 * np.pi * time / float(stimulus["period"])), 0.0)
        current = float(offsets.get((population, key), 0 * pA) / pA) + float(stimulus["amplitude"] / pA) * wave
        circuit.stimuli[name] = {"time": time, "current_pA": current}
        circuit.arrays[name] = TimedArray(wave * stimulus["amplitude"], dt=run["dt"], name=name)
        plan = plans[population]
        plan.add_to_input(key, f"{name}(t)", "amp", offset=True)
        plan.namespace[name] = circuit.arrays[name]


def _plan_driven(circuit: Circuit, plans: dict, arrays: dict) -> None:
    """Inputs that follow a TimedArray given at build time."""
    for population in circuit.spec.values["populations"]:
        for key, name in population["driven"].items():
            array = rules.timed_array(arrays, name, f"populations {population['name']}: driven input {key}")
            _check_driven(array, circuit.spec.models[population["name"]], population, key)
            plan = plans[population["name"]]
            expression = f"{name}(t, i)" if array.values.ndim == 2 else f"{name}(t)"
            unit = circuit.spec.models[population["name"]].spec.inputs[key]
            plan.add_to_input(key, expression, unit, offset=key in population["inputs"])
            plan.namespace[name] = circuit.arrays[name] = array


def _plan_short_term(plans: dict, connections: list) -> None:
    """One short-term plasticity state per presynaptic population and preset."""
    channels: dict[str, set] = {}
    for connection in connections:
        if connection["stp"] != "none":
            channels.setdefault(connection["pre"], set()).add(connection["stp"])
    for name, presets in channels.items():
        for preset in sorted(presets):
            plans[name].add(f"stp_{preset}", equations=(short_term.neuron_equations(preset),),
                            event_code={"spike": [short_term.event_code(preset)]},
                            after_create=lambda group, preset=preset: short_term.set_parameters(
                                group, preset, **short_term.PRESETS[preset]),
                            initialise=lambda group, rng, preset=preset: short_term.initialise(group, preset))


def _plan_background(spec: CircuitSpec, plans: dict) -> None:
    """Private Poisson background, drawn spike by spike inside each group."""
    run = spec.values["run"]
    dt = float(run["dt"])
    sources = {name: [] for name in plans}
    for entry in spec.values["background"]:
        if float(entry["weight"]) > 0 and float(entry["rate"]) > 0:
            unit = spec.models[entry["population"]].synaptic_targets[entry["target"]]
            sources[entry["population"]].append((background.BackgroundSource(
                entry["target"], entry["rate"], entry["weight"], run["background_probability"]), unit))
    for name, group_sources in sources.items():
        if group_sources:
            lines, events, code = background.combine(group_sources)
            plans[name].add("background", equations=lines, events=events, event_code=code,
                            after_create=lambda group, s=group_sources: [b.set_parameters(group, dt) for b, _ in s],
                            initialise=lambda group, rng, s=group_sources: [b.initialise(group, rng, dt) for b, _ in s])


def _plan_teachers(circuit: Circuit, plans: dict, arrays: dict) -> None:
    """Teaching currents (:mod:`dendritic.circuits.teaching`), added to their input."""
    populations = {p["name"]: p for p in circuit.spec.values["populations"]}
    for n, teacher in enumerate(circuit.spec.values["teachers"]):
        plan, key = plans[teacher["population"]], teacher["input"]
        for name in (teacher["target"], teacher["window"]):
            plan.namespace[name] = circuit.arrays[name] = rules.timed_array(arrays, name, f"teachers[{n}]")
        plan.add_to_input(key, teaching.expression(teacher), "amp",
                          offset=key in populations[teacher["population"]]["inputs"])
        events, code = teaching.event(teacher)
        plan.add(f"teacher_{key}", equations=teaching.equations(teacher), events=events, event_code=code,
                 after_create=lambda group, teacher=teacher, n=n: _set_teacher(group, teacher, n))


def _set_teacher(group, teacher: dict, n: int) -> None:
    """The teacher's parameters, once its estimate is known to be a rate of the group."""
    estimate = teacher["estimate"]
    if estimate not in group.variables or group.variables[estimate].dim is not Hz.dim:
        raise ValueError(f"teachers[{n}].estimate: {group.name} has no per-neuron rate {estimate!r} (in Hz; "
                         f"e.g. E_bar, the moving average of a BDSP connection onto it)")
    teaching.set_parameters(group, teacher)


def _create_inputs(circuit: Circuit, plans: dict, arrays: dict) -> None:
    """Poisson sources at a constant rate or at a TimedArray's, with any plasticity traces."""
    for source in circuit.spec.values["inputs"]:
        plan = plans[source["name"]]
        rate = "rate" if source["rate"] is not None else f"{source['rates']}(t, i)"
        equations = "rate : Hz (shared, constant)" if source["rate"] is not None else ""
        namespace = {}
        if source["rates"] is not None:
            namespace[source["rates"]] = rules.timed_array(arrays, source["rates"], f"inputs {source['name']}")
            circuit.arrays[source["rates"]] = namespace[source["rates"]]
        if plan.traces:
            group = dp.spike_source(source["N"], poisson_threshold(rate), source["name"], traces=tuple(plan.traces),
                                    equations=equations, namespace=namespace)
        else:
            group = NeuronGroup(source["N"], equations, threshold=poisson_threshold(rate), name=source["name"],
                                namespace=namespace)
        if source["rate"] is not None:
            group.rate = source["rate"]
        circuit.groups[source["name"]] = group


def _create_populations(circuit: Circuit, plans: dict) -> None:
    """Each population's group from its plan, its constant inputs and parameters set."""
    for population in circuit.spec.values["populations"]:
        name = population["name"]
        plan = plans[name]
        group = plan.model.with_equations(*plan.equations).make_group(
            population["N"], name=name, inputs=plan.inputs, event_code=plan.event_code, events=plan.events,
            namespace=plan.namespace)
        for key, value in population["inputs"].items():
            setattr(group, f"{key}_offset" if key in plan.inputs else key, value)
        for step in plan.after_create:
            step(group)
        circuit.groups[name] = group
        circuit.models[name] = plan.model


def _initialise(circuit: Circuit, plans: dict, rng) -> None:
    """Initial states, after the parameters: each kind's rest (conductance kinds: drawn
    potentials), then what the plans add (STP, background, plasticity averages)."""
    sd = circuit.spec.values["run"]["initial_potential_sd"]
    for population in circuit.spec.values["populations"]:
        name = population["name"]
        group, model = circuit.groups[name], circuit.models[name]
        if sd is not None and model.spec.random_potential:
            model.initialise(group, potential_sd=sd, rng=rng)
        else:
            model.initialise(group)
        for step in plans[name].initialisers:
            step(group, rng)


def _check_recorded(circuit: Circuit) -> None:
    """Every variable ``[[record.states]]`` names exists in its group (checked before
    the connections are made, which Brian would warn about when the error drops them)."""
    for n, states in enumerate(circuit.spec.values["record"]["states"]):
        group = circuit.groups[states["population"]]
        unknown = [v for v in states["variables"] if v not in group.variables or v.startswith("_")]
        if unknown:
            known = sorted(v for v in group.variables if not v.startswith("_") and v not in ("t", "dt", "N", "i"))
            circuit.network.add(*circuit.groups.values())  # made, not lost: no warnings from Brian
            raise cfg.ConfigError([f"{circuit.spec.source}: key 'record.states[{n}].variables': "
                                   f"{states['population']} has no variable {', '.join(map(repr, unknown))} "
                                   f"(it has: {', '.join(known)})"])


def _monitors(circuit: Circuit) -> None:
    """The recordings the file asks for."""
    record = circuit.spec.values["record"]
    for name in record["bursts"]:
        group = circuit.groups[name]
        circuit.event_monitors[name] = (EventMonitor(group, "event", name=f"{name}_events"),
                                        EventMonitor(group, "burst", name=f"{name}_bursts"))
    for name in record["spikes"]:
        circuit.spike_monitors[name] = SpikeMonitor(
            circuit.groups[name], name=record["spike_monitors"].get(name, f"{name}_spikes"))
    for states in record["states"]:
        group = circuit.groups[states["population"]]

        neurons = np.arange(min(states["neurons"], len(group)))
        monitor = StateMonitor(group, states["variables"], record=neurons, dt=states["dt"],
                               name=states["name"] or f"{states['population']}_states")
        circuit.state_monitors[states["population"]] = (monitor, states["variables"], neurons)


def _check_driven(array: TimedArray, model, population: dict, key: str) -> None:
    """A driven input's ``TimedArray``: the input's unit, one column per neuron if 2-D."""
    where = f"populations {population['name']}: driven input {key}"
    unit = unit_of(model.spec.inputs[key])
    if array.dim is not get_dimensions(unit):
        raise ValueError(f"{where}: expected a TimedArray of {describe_dimension(unit)}, got one of {array.dim}")
    if array.values.ndim == 2 and array.values.shape[1] != population["N"]:
        raise ValueError(f"{where}: a 2-D TimedArray needs one column per neuron ({population['N']}), "
                         f"got {array.values.shape[1]}")


def _set_values(circuit: Circuit, values: dict, plans: dict) -> None:
    """Per-neuron (or common) values of inputs and parameters given to build_circuit."""
    summed = {(c["post"], c["target"]) for c in circuit.spec.values["connections"] if c["summed"] is not None}
    for name, entries in values.items():
        if name not in circuit.models:
            raise KeyError(f"values: no population {name!r} (populations: {sorted(circuit.models)})")
        model, group = circuit.models[name], circuit.groups[name]
        for key, value in entries.items():
            where = f"values[{name!r}][{key!r}]"
            if key in model.spec.inputs:
                unit = unit_of(model.spec.inputs[key])
            elif key in model.parameters:
                unit = model.parameters[key]
            else:
                raise KeyError(f"{where}: expected an input or a parameter of the {model.kind} neuron "
                               f"({', '.join([*model.spec.inputs, *model.parameters])})")
            if key in plans[name].inputs or (name, key) in summed:
                raise ValueError(f"{where}: {key} follows a TimedArray or a summed connection")
            if get_dimensions(value) is not get_dimensions(unit):
                raise ValueError(f"{where}: expected {describe_dimension(unit)}, got {value!r}")
            size = np.size(value)
            if size != 1 and (group.variables[key].scalar or size != len(group)):
                allowed = "one value (a shared parameter)" if group.variables[key].scalar else \
                    f"one value or {len(group)}"
                raise ValueError(f"{where}: expected {allowed}, got {size}")
            setattr(group, key, value)


def _given(given: dict, name: str, n_pre: int, n_post: int, dimensions):
    """The index arrays and weights of a connection with given connectivity, checked."""
    if name not in given:
        raise KeyError(f"{name}: connectivity 'given' needs build_circuit(synapses={{{name!r}: (i, j, w)}}) "
                       f"(given: {sorted(given) or 'none'})")
    i, j, w = given[name]
    i, j = np.asarray(i), np.asarray(j)
    if not len(i) == len(j) == np.size(w) or i.ndim != 1 or j.ndim != 1:
        raise ValueError(f"synapses[{name!r}]: i, j and w must be 1-D of one length, got {np.shape(i)}, "
                         f"{np.shape(j)} and {np.shape(w)}")
    for index, size, side in ((i, n_pre, "i (presynaptic)"), (j, n_post, "j (postsynaptic)")):
        if len(index) and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= size):
            raise ValueError(f"synapses[{name!r}]: {side} must be whole numbers in [0, {size}), "
                             f"got {index.dtype} from {index.min()} to {index.max()}")
    if get_dimensions(w) is not dimensions:
        raise ValueError(f"synapses[{name!r}]: weights must be {describe_dimension(Quantity(1, dim=dimensions))}, "
                         f"got {describe_dimension(w)}")
    return i, j, w


def _connect(spec: CircuitSpec, circuit: Circuit, connection: dict, name: str, rng, arrays, given) -> Synapses:
    """Connectivity, weights and the synapses of one connection."""
    run = spec.values["run"]
    pre, post = circuit.groups[connection["pre"]], circuit.groups[connection["post"]]
    post_model = circuit.models[connection["post"]]
    summed = connection["summed"]
    if summed is None:
        unit = post_model.synaptic_targets[connection["target"]]
        dimensions = get_dimensions(unit_of(unit))
    else:  # the target's unit per unit of the summed variable
        dimensions = get_dimensions(unit_of(post_model.spec.inputs[connection["target"]])) / pre.variables[summed].dim
        unit = unit_name(Quantity(1, dim=dimensions))
    if connection["connectivity"] == "given":
        i, j, w = _given(given, name, len(pre), len(post), dimensions)
    else:
        i, j, w = _draw(spec, connection, len(pre), len(post), rng)
        if dimensions is not DIMENSIONLESS:
            w = Quantity(w, dim=dimensions)
    variable = weight_variable(pre, post)
    if summed is not None:
        target = connection["target"]
        synapses = Synapses(pre, post, f"{variable} : {unit} (constant)\n"
                                       f"{target}_post = {variable}*{summed}_pre : {post_model.spec.inputs[target]} "
                                       f"(summed)", name=name, namespace=dict(pre.namespace))  # what the variable reads
        synapses.connect(i=i, j=j)
        setattr(synapses, variable, w)
        return synapses
    delay = connection["delay"] if connection["delay"] is not None else run["synaptic_delay"]
    delay = delay if float(delay) > 0 else None
    if connection["plasticity"] is not None:
        rule = rules.RULES[connection["plasticity"]["rule"]]
        return rule.synapses(pre, post, i, j, w, connection, post_model, name, arrays, delay)
    efficacy = f"*{short_term.efficacy(connection['stp'])}" if connection["stp"] != "none" else ""
    synapses = Synapses(pre, post, f"{variable} : {unit} (constant)",
                        on_pre=post_model.synaptic_input(connection["target"], variable) + efficacy,
                        on_event={"pre": short_term.transmission_event(connection["transmit"])},
                        delay=delay, name=name, namespace={})
    synapses.connect(i=i, j=j)
    setattr(synapses, variable, w)
    return synapses


def _draw(spec: CircuitSpec, connection: dict, n_pre: int, n_post: int, rng):
    """Connectivity and weights (floats in the target's unit) drawn from ``rng``."""
    order = spec.values["run"]["connection_order"]
    scale = 1.0
    if connection["fan_in"] is not None:
        i, j = draw_connectivity(rng, n_pre, n_post, fan_in=connection["fan_in"], order=order)
    else:
        probability = connection["probability"]
        if probability > 0:
            # the file's number of inputs per neuron: kept (capped at all of them, the cap
            # made up by the weight), or made up by the weight at the file's probability
            file_fan_in = probability * spec.file_sizes.get(connection["pre"], n_pre)
            if spec.keep == "fan_in":
                probability = min(1.0, file_fan_in / n_pre)
            scale = file_fan_in / (probability * n_pre)
        i, j = draw_connectivity(rng, n_pre, n_post, probability=probability, order=order)
    weight, spread = float(connection["weight"]), float(connection["weight_std"])
    w = rng.normal(weight, spread, size=len(i)) if spread > 0 else np.full(len(i), weight * scale)
    return i, j, w


def weight_variable(pre, post) -> str:
    """The synaptic weight's name: ``w``, or ``w_syn`` between groups one of which has
    a state ``w`` of its own (the AdEx adaptation current; Brian refuses the clash)."""
    return "w_syn" if "w" in pre.variables or "w" in post.variables else "w"
