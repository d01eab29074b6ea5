"""A neuron model = a kind (equations) + one parameter file (values).

    >>> from dendritic.neurons import load_neuron
    >>> model = load_neuron("urbanczik2014")          # models/neurons/urbanczik2014.toml
    >>> group = model.make_group(100, name="soma_layer")
    >>> model.initialise(group)                         # after all parameters are set

Parameter files look like::

    model = "pyramidal"            # the kind (dendritic.neurons.KINDS)
    source = "Urbanczik & Senn 2014; NEST pp_cond_exp_mc_urbanczik"
    transfer = "sigmoid"           # phi(u): sigmoid | softplus
    spiking = "poisson"            # poisson | threshold
    noise = false                  # Ornstein-Uhlenbeck somatic noise current
    synaptic_current = false       # dendrites driven by exponentially decaying currents (tau_syn_<dendrite>)
    integration = "exact"          # exact | exponential_euler (dendrites held over a step in the soma)

    [parameters]
    C = "300 pF"
    ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from brian2 import NeuronGroup, mV, ms, pA

from dendritic import config as cfg
from dendritic.neurons import compartments, transfer
from dendritic.neurons.kinds import KINDS

__all__ = ["NeuronModel", "load_neuron", "neuron_from_mapping"]

_SPIKING_PARAMETERS = {
    "poisson": {},
    "threshold": {
        "V_threshold": cfg.Quantity(unit=mV, doc="spike threshold"),
        "V_reset": cfg.Quantity(unit=mV, doc="reset potential"),
    },
}
_NOISE_PARAMETERS = {
    "sigma_noise": cfg.Quantity(unit=pA, bound="nonnegative", doc="standard deviation of the somatic noise current"),
    "tau_noise": cfg.Quantity(unit=ms, bound="positive", doc="correlation time of the somatic noise current"),
}


#: ``exponential_euler``: the soma's step holds the dendrites at their start-of-step
#: values (first order in dt, the package's original scheme); ``exact``: the linear
#: soma-dendrite system is solved exactly over each step.
INTEGRATIONS = ("exact", "exponential_euler")


def _synaptic_parameters(dendrites):
    return {f"tau_syn_{d}": cfg.Quantity(unit=ms, bound="positive", doc=f"{d} synaptic-current time constant")
            for d in dendrites}


def _header_schema():
    return {
        "model": cfg.Choice(options=tuple(sorted(KINDS)), doc="neuron kind"),
        "source": cfg.Text(doc="the paper the defaults come from"),
        "description": cfg.Text(default=""),
        "transfer": cfg.Choice(options=tuple(sorted(transfer.TRANSFER_SCHEMAS)), doc="transfer function phi"),
        "spiking": cfg.Choice(options=tuple(sorted(_SPIKING_PARAMETERS)), doc="output mode"),
        "noise": cfg.Flag(default=False),
        "synaptic_current": cfg.Flag(default=False, doc="exponentially decaying synaptic currents into the dendrites"),
        "integration": cfg.Choice(options=INTEGRATIONS, default="exponential_euler",
                                  doc="soma-dendrite integration: exact, or dendrites held over a step"),
        "parameters": cfg.Table(schema={}),  # checked in a second pass, see neuron_from_mapping
    }


@dataclass(frozen=True)
class NeuronModel:
    """Equations of one neuron kind with the parameter values of one file."""

    kind: str
    parameters: Mapping
    transfer: str
    spiking: str
    noise: bool = False
    source: str = ""
    description: str = ""
    file: Path | None = None
    extra_equations: tuple[str, ...] = field(default=())
    spike_actions: tuple[str, ...] = field(default=())
    synaptic_current: bool = False
    integration: str = "exponential_euler"

    def __post_init__(self):
        if self.integration not in INTEGRATIONS:
            raise ValueError(f"integration {self.integration!r}: expected one of {INTEGRATIONS}")
        requested = {"synaptic_current"} if self.synaptic_current else set()
        if self.integration == "exact":
            requested.add("exact")
        unsupported = requested - self.spec.options
        if unsupported:
            raise ValueError(f"neuron kind {self.kind!r} does not support {sorted(unsupported)}")
        for problem in _time_constant_problems(self):
            raise ValueError(problem)

    @property
    def spec(self):
        return KINDS[self.kind]

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

    def with_equations(self, *lines: str) -> "NeuronModel":
        """A copy with extra equation lines (e.g. presynaptic traces of a plasticity rule)."""
        return replace(self, extra_equations=self.extra_equations + tuple(lines))

    def with_spike_actions(self, *statements: str) -> "NeuronModel":
        """A copy that also runs ``statements`` for each spiking neuron (after the reset,
        if any), e.g. the increment of a presynaptic trace."""
        return replace(self, spike_actions=self.spike_actions + tuple(statements))

    def equations(self, inputs: Mapping[str, str] | None = None):
        """Brian ``Equations``; ``inputs`` maps input names to expressions."""
        soma_flags = " (unless refractory)" if self.spiking == "threshold" else ""
        options = {}
        if self.synaptic_current:
            options["synaptic_current"] = True
        if self.integration == "exact":
            options["exact"] = True
        return compartments.equations(
            self.spec.body(noise=self.noise, soma_flags=soma_flags, **options),
            transfer.rate_equation(self.transfer),
            "I_noise : amp" if self.noise else "",
            compartments.input_lines(self.spec.inputs, inputs),
            compartments.parameter_lines(self.parameters),
            *self.extra_equations,
        )

    def make_group(self, N: int, name: str | None = None, inputs=None, namespace=None, method=None) -> NeuronGroup:
        """A ``NeuronGroup`` of ``N`` neurons with this model's parameter values set.

        State variables are initialised separately by :meth:`initialise`, after every
        parameter of the network is set (see :func:`dendritic.backend.parameters_set`).
        Integration: exponential Euler; with ``integration = "exact"`` (which
        requires it) exact for the linear soma-dendrite system between spikes when
        the external inputs are constant over a step.
        """
        if self.integration == "exact" and method not in (None, "exponential_euler"):
            raise ValueError(f"integration 'exact' is built on exponential Euler, not method {method!r}")
        group = NeuronGroup(
            N,
            self.equations(inputs),
            method=method or "exponential_euler",
            name=name or f"{self.kind}*",
            namespace=namespace or {},
            **compartments.spike_generation(self.spiking, actions=self.spike_actions),
        )
        for key, value in self.parameters.items():
            setattr(group, key, value)
        for key, value in self.spec.initial_inputs.items():
            if key not in (inputs or {}):
                setattr(group, key, value)
        if self.noise:
            group.run_regularly(compartments.noise_update(), when="start", name=f"{group.name}_noise")
        return group

    def initialise(self, group: NeuronGroup) -> None:
        """Start at rest: dendrites at their driven resting point, soma at E_L.

        Written as expressions of the parameters, so that values changed through
        ``run_args`` reach the initial state too.
        """
        for dendrite in self.spec.dendrites:
            setattr(group, f"v_{dendrite}", f"E_L + v_{dendrite}_drive")
            if self.synaptic_current:
                setattr(group, f"v_{dendrite}_syn", 0 * mV)
        group.u = "E_L"

    def synaptic_input(self, dendrite: str, weight: str = "w") -> str:
        """``on_pre`` statement of a synapse of weight ``weight`` (volt) onto ``dendrite``:
        the PSP kernel is w exp(-t/tau), or the difference of exponentials with the
        synaptic-current stage (:func:`dendritic.neurons.compartments.synaptic_input`)."""
        if dendrite not in self.spec.dendrites:
            raise ValueError(f"the {self.kind} neuron has no '{dendrite}' dendrite "
                             f"(it has: {', '.join(self.spec.dendrites)})")
        return compartments.synaptic_input(dendrite, self.synaptic_current, weight)

    def psp_time_constants(self, dendrite: str):
        """(tau_L, tau_s) of ``dendrite``'s PSP kernel; tau_s is None for a single exponential."""
        tau_syn = self.parameters[f"tau_syn_{dendrite}"] if self.synaptic_current else None
        return self.parameters[f"tau_{dendrite}"], tau_syn


def neuron_from_mapping(raw: Mapping, source: str | Path = "<mapping>") -> NeuronModel:
    """Validate a parameter-file mapping (two passes: header, then parameters)."""
    raw = dict(raw)
    raw_parameters = raw.get("parameters", {})
    header = cfg.validate({**raw, "parameters": {}}, _header_schema(), source=source)
    kind = KINDS[header["model"]]
    requested = {"synaptic_current": header["synaptic_current"], "exact": header["integration"] == "exact"}
    unsupported = [name for name, on in requested.items() if on and name not in kind.options]
    if unsupported:
        key = "synaptic_current" if "synaptic_current" in unsupported else "integration"
        raise cfg.ConfigError([f"{source}: key '{key}': neuron kind {header['model']!r} does not support "
                               f"{', '.join(unsupported)}"])
    schema = {
        **kind.parameters,
        **(_synaptic_parameters(kind.dendrites) if header["synaptic_current"] else {}),
        **transfer.TRANSFER_SCHEMAS[header["transfer"]],
        **_SPIKING_PARAMETERS[header["spiking"]],
        **(_NOISE_PARAMETERS if header["noise"] else {}),
    }
    parameters = cfg.validate(raw_parameters, schema, source=source, prefix="parameters.")
    problems = _time_constant_problems(kind, parameters, header["synaptic_current"], header["integration"])
    if problems:
        raise cfg.ConfigError([f"{source}: key {problem}" for problem in problems])
    return NeuronModel(
        kind=header["model"],
        parameters=parameters,
        transfer=header["transfer"],
        spiking=header["spiking"],
        noise=header["noise"],
        synaptic_current=header["synaptic_current"],
        integration=header["integration"],
        source=header["source"],
        description=header["description"],
        file=Path(source) if not str(source).startswith("<") else None,
    )


def _time_constant_problems(kind_or_model, parameters=None, synaptic_current=None, integration=None) -> list[str]:
    """The closed forms divide by differences of time constants: tau_syn_d != tau_d, and
    for exact integration the soma's C/g_total (nudge off and on) != each dendritic one."""
    if isinstance(kind_or_model, NeuronModel):
        model = kind_or_model
        kind, parameters = model.spec, model.parameters
        synaptic_current, integration = model.synaptic_current, model.integration
    else:
        kind = kind_or_model
    problems = []

    def close(a, b):
        return abs(float(a) - float(b)) <= 1e-6 * max(abs(float(a)), abs(float(b)))

    g_dendrites = sum(float(value) for key, value in parameters.items()
                      if key.startswith("g_") and key not in ("g_L", "g_som"))
    soma_taus = [float(parameters["C"]) / (float(parameters["g_L"]) + g_dendrites + nudge * float(parameters["g_som"]))
                 for nudge in (0, 1)] if integration == "exact" and "C" in parameters else []
    for dendrite in kind.dendrites:
        taus = {f"tau_{dendrite}": parameters.get(f"tau_{dendrite}")}
        if synaptic_current:
            taus[f"tau_syn_{dendrite}"] = parameters.get(f"tau_syn_{dendrite}")
            if close(*taus.values()):
                problems.append(f"'parameters.tau_syn_{dendrite}': must differ from tau_{dendrite} "
                                f"({taus[f'tau_{dendrite}']}), the difference-of-exponentials kernel divides by it")
        for key, tau in taus.items():
            if tau is not None and any(close(tau, tau_soma) for tau_soma in soma_taus):
                problems.append(f"'parameters.{key}': must differ from the soma's time constant C/g_total "
                                f"for exact integration, got {tau}")
    return problems


def load_neuron(name: str | Path, relative_to: Path | None = None) -> NeuronModel:
    """Load a neuron parameter file, given as a path or a name in ``models/neurons/``."""
    path = cfg.resolve_model_file(name, "neurons", relative_to)
    return neuron_from_mapping(cfg.read_toml(path), source=path)
