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


def _header_schema():
    return {
        "model": cfg.Choice(options=tuple(sorted(KINDS)), doc="neuron kind"),
        "source": cfg.Text(doc="the paper the defaults come from"),
        "description": cfg.Text(default=""),
        "transfer": cfg.Choice(options=tuple(sorted(transfer.TRANSFER_SCHEMAS)), doc="transfer function phi"),
        "spiking": cfg.Choice(options=tuple(sorted(_SPIKING_PARAMETERS)), doc="output mode"),
        "noise": cfg.Flag(default=False),
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
        return compartments.equations(
            self.spec.body(noise=self.noise, soma_flags=soma_flags),
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
        Integration: exponential Euler, exact for the linear compartments between
        spikes when inputs are constant over a step.
        """
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
        group.u = "E_L"


def neuron_from_mapping(raw: Mapping, source: str | Path = "<mapping>") -> NeuronModel:
    """Validate a parameter-file mapping (two passes: header, then parameters)."""
    raw = dict(raw)
    raw_parameters = raw.get("parameters", {})
    header = cfg.validate({**raw, "parameters": {}}, _header_schema(), source=source)
    kind = KINDS[header["model"]]
    schema = {
        **kind.parameters,
        **transfer.TRANSFER_SCHEMAS[header["transfer"]],
        **_SPIKING_PARAMETERS[header["spiking"]],
        **(_NOISE_PARAMETERS if header["noise"] else {}),
    }
    parameters = cfg.validate(raw_parameters, schema, source=source, prefix="parameters.")
    return NeuronModel(
        kind=header["model"],
        parameters=parameters,
        transfer=header["transfer"],
        spiking=header["spiking"],
        noise=header["noise"],
        source=header["source"],
        description=header["description"],
        file=Path(source) if not str(source).startswith("<") else None,
    )


def load_neuron(name: str | Path, relative_to: Path | None = None) -> NeuronModel:
    """Load a neuron parameter file, given as a path or a name in ``models/neurons/``."""
    path = cfg.resolve_model_file(name, "neurons", relative_to)
    return neuron_from_mapping(cfg.read_toml(path), source=path)
