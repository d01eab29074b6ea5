"""A neuron model = a registered kind (equations) + one parameter file (values).

    >>> from dendritic.neurons import load_neuron
    >>> model = load_neuron("urbanczik2014")          # models/neurons/urbanczik2014.toml
    >>> group = model.make_group(100, name="soma_layer")
    >>> model.initialise(group)                         # after all parameters are set

Every file in ``models/neurons/`` loads through :func:`load_neuron` into one
:class:`NeuronModel`, whatever its kind (:mod:`dendritic.neurons.kinds`). Parameter
files look like::

    model = "pyramidal"            # the kind (dendritic.neurons.KINDS)
    source = "Urbanczik & Senn 2014; NEST pp_cond_exp_mc_urbanczik"
    transfer = "sigmoid"           # header options of the kind, e.g. phi(u): sigmoid | softplus
    spiking = "poisson"            # poisson | threshold
    synaptic_current = true        # dendrites driven by exponentially decaying currents (tau_syn_<dendrite>)
    integration = "exact"          # exact | exponential_euler (dendrites held over a step in the soma)

    [parameters]
    C = "300 pF"
    ...

(``payeur_pyramidal`` and ``burst_poisson`` files have ``dendritic_driving_force``,
``adex`` files ``refractory_potential``; see :mod:`dendritic.neurons.bursting` and
:mod:`dendritic.neurons.burst_poisson`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from brian2 import NeuronGroup

from dendritic import config as cfg
from dendritic.neurons import compartments
from dendritic.neurons.kinds import INTEGRATIONS, KINDS, registered

__all__ = ["NeuronModel", "load_neuron", "neuron_from_mapping", "INTEGRATIONS"]


def _header_schema(kind=None):
    return {
        "model": cfg.Choice(options=tuple(sorted(registered())), doc="neuron kind"),
        "source": cfg.Text(doc="the paper the defaults come from"),
        "description": cfg.Text(default=""),
        **(kind.header if kind is not None else {}),
        "parameters": cfg.Table(schema={}),  # checked in a second pass, see neuron_from_mapping
    }


@dataclass(frozen=True)
class NeuronModel:
    """Equations of one neuron kind with the header options and parameter values of one file."""

    kind: str
    parameters: Mapping
    options: Mapping = field(default_factory=dict)
    source: str = ""
    description: str = ""
    file: Path | None = None
    extra_equations: tuple[str, ...] = field(default=())
    spike_actions: tuple[str, ...] = field(default=())

    def __post_init__(self):
        spec = self.spec
        unknown = set(self.options) - set(spec.header)
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for the {self.kind} kind; "
                             f"known: {sorted(spec.header)}")
        object.__setattr__(self, "options", {**spec.defaults(), **self.options})
        for key in spec.unsupported(self.options):
            raise ValueError(f"neuron kind {self.kind!r} does not support {key} = {self.options[key]!r}")
        if "integration" in self.options and self.options["integration"] not in INTEGRATIONS:
            raise ValueError(f"integration {self.options['integration']!r}: expected one of {INTEGRATIONS}")
        for problem in spec.problems(self.options, self.parameters):
            raise ValueError(problem)

    @property
    def spec(self):
        return KINDS[self.kind]

    # the header options of compartmental kinds, as attributes
    @property
    def transfer(self) -> str:
        return self.options["transfer"]

    @property
    def spiking(self) -> str:
        return self.options["spiking"]

    @property
    def noise(self) -> bool:
        return self.options["noise"]

    @property
    def synaptic_current(self) -> bool:
        return self.options.get("synaptic_current", False)

    @property
    def integration(self) -> str:
        return self.options["integration"]

    @property
    def detects_bursts(self) -> bool:
        return self.spec.detects_bursts

    def with_parameters(self, **values) -> "NeuronModel":
        """A copy with some parameter values replaced (units checked)."""
        unknown = set(values) - set(self.parameters)
        if unknown:
            raise KeyError(f"unknown parameter(s) {sorted(unknown)} for {self.kind}; known: {sorted(self.parameters)}")
        for key, value in values.items():
            old = self.parameters[key]
            if getattr(value, "dim", None) != getattr(old, "dim", None):
                raise ValueError(f"parameter {key}: expected {cfg.describe_dimension(old)}, got {value!r}")
        return replace(self, parameters={**self.parameters, **values})

    def with_options(self, **values) -> "NeuronModel":
        """A copy with some header options replaced (e.g. ``dendritic_driving_force``)."""
        return replace(self, options={**self.options, **values})

    def with_equations(self, *lines: str) -> "NeuronModel":
        """A copy with extra equation lines (traces of a plasticity rule, STP state)."""
        return replace(self, extra_equations=self.extra_equations + tuple(lines))

    def with_spike_actions(self, *statements: str) -> "NeuronModel":
        """A copy that also runs ``statements`` for each spiking neuron (after the reset,
        if any), e.g. the increment of a presynaptic trace."""
        return replace(self, spike_actions=self.spike_actions + tuple(statements))

    def equations(self, inputs: Mapping[str, str] | None = None):
        """Brian ``Equations``; ``inputs`` maps input names to expressions such as
        ``"stimulus(t)"``."""
        declared = self.spec.declared_parameters
        return compartments.equations(
            self.spec.equations(self, inputs),
            compartments.parameter_lines({k: v for k, v in self.parameters.items() if k not in declared}),
            *self.extra_equations,
        )

    def make_group(self, N: int, name: str | None = None, inputs=None, namespace=None, method=None,
                   event_code: Mapping[str, list[str]] | None = None,
                   events: Mapping[str, str] | None = None) -> NeuronGroup:
        """A ``NeuronGroup`` of ``N`` neurons with this model's parameter values set.

        ``inputs`` maps input names to expressions, ``namespace`` holds the external
        objects they use (e.g. ``TimedArray`` stimuli); ``events`` adds custom events
        (name -> condition) and ``event_code`` code run on them (see the kind's
        ``make_group``). States are set by :meth:`initialise`, after every parameter of
        the network is set (``Backend.parameters_set``).
        """
        group = self.spec.make_group(self, N, name or f"{self.kind}*", self.equations(inputs), dict(namespace or {}),
                                     method, event_code, events)
        for key, value in self.parameters.items():
            setattr(group, key, value)
        self.spec.prepare(self, group, inputs)
        return group

    def initialise(self, group: NeuronGroup, potential_sd=None, rng=None) -> None:
        """The kind's resting state (``potential_sd``: conductance kinds draw the somatic
        potential around E_L from the NumPy generator ``rng``)."""
        self.spec.initialise(self, group, potential_sd=potential_sd, rng=rng)

    @property
    def synaptic_targets(self) -> dict[str, str]:
        """Postsynaptic variables synapses act on -> unit of their weight (``volt`` for a
        dendrite, ``1`` for a conductance in units of the leak)."""
        return self.spec.synaptic_targets()

    def synaptic_input(self, target: str, weight: str = "w") -> str:
        """``on_pre`` statement of a synapse of weight ``weight`` onto ``target``.

        A dendrite: its potential jumps by ``weight`` (volt), so the PSP kernel is
        w exp(-t/tau), or the difference of exponentials with the synaptic-current stage
        (:func:`dendritic.neurons.compartments.synaptic_input`). A conductance: it jumps
        by ``weight`` (in units of the leak). One of the kind's ``synaptic_variables``:
        it jumps by ``weight``."""
        if target in self.spec.dendrites:
            return compartments.synaptic_input(target, self.synaptic_current, weight)
        if target in self.spec.conductances or target in self.spec.synaptic_variables:
            return f"{target}_post += {weight}"
        raise ValueError(f"the {self.kind} neuron has no synaptic target '{target}' "
                         f"(it has: {', '.join(self.synaptic_targets) or 'none'})")

    def psp_time_constants(self, dendrite: str):
        """(tau_L, tau_s) of ``dendrite``'s PSP kernel; tau_s is None for a single exponential."""
        tau_syn = self.parameters[f"tau_syn_{dendrite}"] if self.synaptic_current else None
        return self.parameters[f"tau_{dendrite}"], tau_syn


def neuron_from_mapping(raw: Mapping, source: str | Path = "<mapping>") -> NeuronModel:
    """Validate a parameter-file mapping (two passes: the header with the kind's options,
    then the parameters the options call for)."""
    raw = dict(raw)
    raw_parameters = raw.get("parameters", {})
    kind = registered().get(raw.get("model"))
    header = cfg.validate({**raw, "parameters": {}}, _header_schema(kind), source=source)
    kind = KINDS[header["model"]]
    options = {key: header[key] for key in kind.header}
    unsupported = kind.unsupported(options)
    if unsupported:
        raise cfg.ConfigError([f"{source}: key '{key}': neuron kind {header['model']!r} does not support "
                               f"{key} = {options[key]!r}" for key in unsupported])
    parameters = cfg.validate(raw_parameters, kind.parameter_schema(options), source=source, prefix="parameters.")
    problems = kind.problems(options, parameters)
    if problems:
        raise cfg.ConfigError([f"{source}: key {problem}" for problem in problems])
    return NeuronModel(kind=header["model"], parameters=parameters, options=options, source=header["source"],
                       description=header["description"],
                       file=Path(source) if not str(source).startswith("<") else None)


def load_neuron(name: str | Path, relative_to: Path | None = None) -> NeuronModel:
    """Load a neuron parameter file, given as a path or a name in ``models/neurons/``."""
    path = cfg.resolve_model_file(name, "neurons", relative_to)
    return neuron_from_mapping(cfg.read_toml(path), source=path)


