"""Registry of neuron kinds: what a ``model = "..."`` entry in a parameter file means.

Every file in ``models/neurons/`` names a registered kind and loads, through
:func:`dendritic.neurons.load_neuron`, into one :class:`~dendritic.neurons.model.NeuronModel`.
A kind says which header options and parameters its files hold and how a model of it
becomes a Brian ``NeuronGroup``:

- :class:`CompartmentalKind`: a soma coupled to passive dendrites, rate phi(u) with
  Poisson or threshold output (``pyramidal``, ``interneuron``; Urbanczik & Senn 2014,
  Sacramento et al. 2018);
- :class:`ConductanceKind`: conductance-based neurons integrated by Euler as in the
  Auryn code of Payeur et al. 2021 (``payeur_pyramidal``, ``adex``, and the XOR
  network's ``burst_poisson``);
- :class:`RateKind`: rate units without spikes integrated by Euler (``rate_controller``,
  the controller of the spiking DFC network, registered by
  :mod:`dendritic.spiking_dfc.controller`).

Kinds registered outside :mod:`dendritic.neurons` are listed in :data:`EXTERNAL` and
imported by :func:`registered`, where kinds are looked up (importing them with this
package would be circular: they build on it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from brian2 import mV, ms, pA

from dendritic import config as cfg

__all__ = ["NeuronKind", "CompartmentalKind", "ConductanceKind", "RateKind", "register", "registered", "KINDS",
           "EXTERNAL", "INTEGRATIONS"]

#: ``exponential_euler``: the soma's step holds the dendrites at their start-of-step
#: values (first order in dt); ``exact``: the linear soma-dendrite system is solved
#: exactly over each step.
INTEGRATIONS = ("exact", "exponential_euler")


@dataclass(frozen=True)
class NeuronKind:
    """A neuron type: its parameters, header options and external inputs.

    ``header`` maps the kind's header options (besides ``model``, ``source`` and
    ``description``) to their fields; ``potential`` names the somatic potential (of a
    rate unit: its output). ``synaptic_variables`` maps state variables that synapses
    add their weight to (besides dendrites and conductances) to the weight's unit.
    Subclasses give the parameter schema for a header (:meth:`parameter_schema`), the
    equations (``equations(model, inputs)``), the ``NeuronGroup``
    (``make_group(model, ...)``), what follows once its parameters are set
    (``prepare``) and the initial state (``initialise``).
    """

    name: str
    parameters: Mapping[str, cfg.Field]
    inputs: Mapping[str, str]
    header: Mapping[str, cfg.Field] = field(default_factory=dict)
    potential: str = "u"
    dendrites: tuple[str, ...] = ()
    conductances: tuple[str, ...] = ()
    detects_bursts: bool = False
    random_potential: bool = False  # initialise() can draw the potential (potential_sd)
    synaptic_variables: Mapping[str, str] = field(default_factory=dict)

    def synaptic_targets(self) -> dict[str, str]:
        """Postsynaptic variables a synapse can act on, with the unit of its weight:
        a dendrite (``volt``: the jump of its potential), a conductance (``1``: the
        jump in units of the compartment's leak conductance, as in Auryn) or one of the
        kind's ``synaptic_variables``."""
        return {**{d: "volt" for d in self.dendrites}, **{g: "1" for g in self.conductances},
                **self.synaptic_variables}

    def defaults(self) -> dict:
        """Header option values of a file that sets none."""
        return {key: f.default for key, f in self.header.items()}

    def parameter_schema(self, options: Mapping) -> Mapping[str, cfg.Field]:
        return self.parameters

    def problems(self, options: Mapping, parameters: Mapping) -> list[str]:
        """Cross-field problems of a parameter set, each ``'<key>': <message>``."""
        return []

    def unsupported(self, options: Mapping) -> list[str]:
        """Header keys that ask for a feature this kind does not have."""
        return []

    @property
    def declared_parameters(self) -> tuple[str, ...]:
        """Parameters whose declaration comes with the kind's equations (not the file's)."""
        return ("burst_window",) if self.detects_bursts else ()


def _synaptic_parameters(dendrites):
    return {f"tau_syn_{d}": cfg.Quantity(unit=ms, bound="positive", doc=f"{d} synaptic-current time constant")
            for d in dendrites}


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


def _compartmental_header() -> dict:
    from dendritic.neurons import transfer

    return {
        "transfer": cfg.Choice(options=tuple(sorted(transfer.TRANSFER_SCHEMAS)), doc="transfer function phi"),
        "spiking": cfg.Choice(options=tuple(sorted(_SPIKING_PARAMETERS)), doc="output mode"),
        "noise": cfg.Flag(default=False),
        "synaptic_current": cfg.Flag(default=False, doc="exponentially decaying synaptic currents into the dendrites"),
        "integration": cfg.Choice(options=INTEGRATIONS, default="exponential_euler",
                                  doc="soma-dendrite integration: exact, or dendrites held over a step"),
    }


@dataclass(frozen=True)
class CompartmentalKind(NeuronKind):
    """A soma coupled to passive dendrites (:mod:`dendritic.neurons.compartments`).

    ``body(noise, soma_flags, **options)`` returns the differential equations and
    subexpressions (without parameter and input declarations); ``dendrites`` names the
    passive dendritic compartments (state ``v_<name>``, parameter ``tau_<name>``, input
    ``v_<name>_drive``); ``initial_inputs`` gives non-zero starting values of inputs.
    ``options`` names the optional features ``body`` accepts as keyword arguments
    (``synaptic_current``: a synaptic-current stage per dendrite, parameters
    ``tau_syn_<name>``; ``exact``: exact integration of the soma-dendrite system).
    """

    body: Callable[..., str] = None
    initial_inputs: Mapping[str, str] = field(default_factory=dict)
    options: frozenset[str] = frozenset()

    def __post_init__(self):
        if not self.header:
            object.__setattr__(self, "header", _compartmental_header())

    def parameter_schema(self, options: Mapping) -> Mapping[str, cfg.Field]:
        from dendritic.neurons import transfer

        return {
            **self.parameters,
            **(_synaptic_parameters(self.dendrites) if options["synaptic_current"] else {}),
            **transfer.TRANSFER_SCHEMAS[options["transfer"]],
            **_SPIKING_PARAMETERS[options["spiking"]],
            **(_NOISE_PARAMETERS if options["noise"] else {}),
        }

    def equations(self, model, inputs) -> str:
        from dendritic.neurons import compartments, transfer

        soma_flags = " (unless refractory)" if model.options["spiking"] == "threshold" else ""
        features = {}
        if model.options["synaptic_current"]:
            features["synaptic_current"] = True
        if model.options["integration"] == "exact":
            features["exact"] = True
        return "\n".join(part for part in (
            self.body(noise=model.options["noise"], soma_flags=soma_flags, **features),
            transfer.rate_equation(model.options["transfer"]),
            "I_noise : amp" if model.options["noise"] else "",
            compartments.input_lines(self.inputs, inputs),
        ) if part)

    def make_group(self, model, N, name, equations, namespace, method, event_code, events):
        """The ``NeuronGroup``: exponential Euler, Poisson or threshold output;
        ``events``/``event_code`` add custom events and their code."""
        from brian2 import NeuronGroup

        from dendritic.neurons import compartments

        if model.options["integration"] == "exact" and method not in (None, "exponential_euler"):
            raise ValueError(f"integration 'exact' is built on exponential Euler, not method {method!r}")
        group = NeuronGroup(N, equations, method=method or "exponential_euler", name=name, namespace=namespace,
                            events=dict(events) if events else None, dtype=time_dtypes(equations),
                            **compartments.spike_generation(model.options["spiking"], actions=model.spike_actions))
        for event, lines in (event_code or {}).items():
            if event == "spike":
                raise ValueError(f"the {self.name} kind takes spike code through with_spike_actions")
            group.run_on_event(event, "\n".join(lines))
        return group

    def prepare(self, model, group, inputs) -> None:
        """After the parameters are set: non-zero starting inputs, the noise update."""
        from dendritic.neurons import compartments

        for key, value in self.initial_inputs.items():
            if key not in (inputs or {}):
                setattr(group, key, value)
        if model.options["noise"]:
            group.run_regularly(compartments.noise_update(), when="start", name=f"{group.name}_noise")

    def initialise(self, model, group, potential_sd=None, rng=None) -> None:
        """Start at rest: dendrites at their driven resting point, soma at E_L, written
        as expressions of the parameters so that values changed through ``run_args``
        reach the initial state too."""
        if potential_sd is not None:
            raise ValueError(f"the {self.name} kind starts at rest; potential_sd is not supported")
        for dendrite in self.dendrites:
            setattr(group, f"v_{dendrite}", f"E_L + v_{dendrite}_drive")
            if model.options["synaptic_current"]:
                setattr(group, f"v_{dendrite}_syn", 0 * mV)
        group.u = "E_L"

    def unsupported(self, options: Mapping) -> list[str]:
        """Header keys that ask for a feature this kind does not have."""
        wanted = {"synaptic_current": options.get("synaptic_current", False),
                  "integration": options.get("integration") == "exact"}
        feature = {"synaptic_current": "synaptic_current", "integration": "exact"}
        return [key for key, on in wanted.items() if on and feature[key] not in self.options]

    def problems(self, options: Mapping, parameters: Mapping) -> list[str]:
        """The closed forms divide by differences of time constants: tau_syn_d != tau_d,
        and for exact integration the soma's C/g_total (nudge off and on) != each
        dendritic one."""
        problems = []

        def close(a, b):
            return abs(float(a) - float(b)) <= 1e-6 * max(abs(float(a)), abs(float(b)))

        g_dendrites = sum(float(value) for key, value in parameters.items()
                          if key.startswith("g_") and key not in ("g_L", "g_som"))
        soma_taus = [float(parameters["C"]) / (float(parameters["g_L"]) + g_dendrites
                                               + nudge * float(parameters["g_som"]))
                     for nudge in (0, 1)] if options["integration"] == "exact" and "C" in parameters else []
        for dendrite in self.dendrites:
            taus = {f"tau_{dendrite}": parameters.get(f"tau_{dendrite}")}
            if options["synaptic_current"]:
                taus[f"tau_syn_{dendrite}"] = parameters.get(f"tau_syn_{dendrite}")
                if close(*taus.values()):
                    problems.append(f"'parameters.tau_syn_{dendrite}': must differ from tau_{dendrite} "
                                    f"({taus[f'tau_{dendrite}']}), the difference-of-exponentials kernel divides by it")
            for key, tau in taus.items():
                if tau is not None and any(close(tau, tau_soma) for tau_soma in soma_taus):
                    problems.append(f"'parameters.{key}': must differ from the soma's time constant C/g_total "
                                    f"for exact integration, got {tau}")
        return problems


@dataclass(frozen=True)
class ConductanceKind(NeuronKind):
    """A conductance-based neuron integrated by forward Euler (the Auryn groups of
    Payeur et al. 2021, :mod:`dendritic.neurons.bursting`).

    ``body(options)`` returns the equation text for the header options; ``threshold``,
    ``reset`` and ``refractory`` are the ``NeuronGroup`` arguments; ``detects_bursts``
    adds the online event and burst detection of :mod:`dendritic.bursts`;
    ``conductances`` are the synaptic conductances (in units of the leak) that
    synapses increment. ``before_thresholds`` is code run every step between the state
    update and the spike check (e.g. the decrement of integer counters, which
    differential equations cannot hold).
    """

    body: Callable[[Mapping], str] = None
    threshold: str = ""
    reset: str = ""
    refractory: object = False
    initial_state: Callable = None  # (model, group) -> None, besides the potential
    before_thresholds: str = ""

    def equations(self, model, inputs) -> str:
        from dendritic import bursts
        from dendritic.neurons import compartments

        return "\n".join(part for part in (
            self.body(model.options),
            bursts.detection_equations() if self.detects_bursts else "",
            compartments.input_lines(self.inputs, inputs),
        ) if part)

    def make_group(self, model, N, name, equations, namespace, method, event_code, events):
        """The ``NeuronGroup`` (forward Euler, as published): threshold, reset and
        refractoriness of the kind; with ``detects_bursts`` the custom events ``event``
        and ``burst``. ``event_code`` maps ``"spike"``, ``"event"``, ``"burst"`` or a
        custom event of ``events`` to code lines; with the reset they run before synaptic
        propagation (:func:`dendritic.bursts.register_event_code`)."""
        from brian2 import NeuronGroup

        from dendritic import bursts

        reset = "\n".join(line for line in (self.reset, bursts.detection_reset() if self.detects_bursts else "",
                                             *model.spike_actions) if line)
        with bursts.reset_added_later():
            group = NeuronGroup(
                N, equations, method=method or "euler", name=name, threshold=self.threshold,
                refractory=self.refractory, namespace=namespace, dtype=time_dtypes(equations),
                events={**(bursts.detection_events(self.threshold) if self.detects_bursts else {}),
                        **dict(events or {})} or None)
        bursts.register_event_code(group, reset, event_code)
        return group

    def prepare(self, model, group, inputs) -> None:
        """The ``before_thresholds`` code, if any, every step in that slot."""
        if self.before_thresholds:
            group.run_regularly(self.before_thresholds, when="before_thresholds", name=f"{group.name}_counters")

    def initialise(self, model, group, potential_sd=None, rng=None) -> None:
        """Rest (potential at E_L), the kind's other initial state (``initial_state``).

        ``potential_sd`` (a voltage) draws the somatic potential from a normal
        distribution around E_L with that standard deviation, from the NumPy generator
        ``rng`` (so that every target starts alike), as the published circuits do
        (Auryn's ``random_mem(-70 mV, 5 mV)``)."""
        import numpy as np
        from brian2 import Quantity

        setattr(group, self.potential, "E_L")
        if potential_sd is not None and float(potential_sd) > 0:
            rng = rng or np.random.default_rng(0)
            values = float(model.parameters["E_L"]) + rng.normal(0, float(potential_sd), len(group))
            setattr(group, self.potential, Quantity(values, dim=mV.dim))
        if self.initial_state is not None:
            self.initial_state(model, group)


@dataclass(frozen=True)
class RateKind(NeuronKind):
    """Rate units without spikes, integrated by forward Euler: ``body`` holds the
    differential equations and subexpressions (parameters and inputs are declared from
    the file and the kind); every state starts at zero."""

    body: str = ""

    def equations(self, model, inputs) -> str:
        from dendritic.neurons import compartments

        return "\n".join(part for part in (self.body, compartments.input_lines(self.inputs, inputs)) if part)

    def make_group(self, model, N, name, equations, namespace, method, event_code, events):
        from brian2 import NeuronGroup

        if event_code or events or model.spike_actions:
            raise ValueError(f"the {self.name} kind has no spikes or events to run code on")
        return NeuronGroup(N, equations, method=method or "euler", name=name, namespace=namespace,
                           dtype=time_dtypes(equations))

    def prepare(self, model, group, inputs) -> None:
        pass

    def initialise(self, model, group, potential_sd=None, rng=None) -> None:
        if potential_sd is not None:
            raise ValueError(f"the {self.name} kind starts at zero; potential_sd is not supported")


KINDS: dict[str, NeuronKind] = {}

#: modules outside :mod:`dendritic.neurons` that register kinds of their own
EXTERNAL = ("dendritic.spiking_dfc.controller",)


def time_dtypes(equations) -> dict:
    """Double precision for the per-neuron times (parameters in seconds, e.g. the burst
    detector's ``t_last_spike``, the time of a short-term plasticity channel's last
    spike), whatever ``prefs.core.default_float_dtype``: a single-precision time has a
    resolution of about 1 ms after 16,000 s (the XOR run), ten time steps, and would
    misclassify bursts; the state itself can be single precision (the ``"float32"``
    engine of :mod:`dendritic.backend`). With the default float64 nothing changes."""
    import numpy as np
    from brian2 import Equations, second
    from brian2.equations.equations import FLOAT, PARAMETER

    parsed = equations if isinstance(equations, Equations) else Equations(str(equations))
    return {eq.varname: np.float64 for eq in parsed.values()
            if eq.type == PARAMETER and eq.var_type == FLOAT and eq.dim is second.dim}


def register(kind: NeuronKind) -> NeuronKind:
    KINDS[kind.name] = kind
    return kind


def registered() -> dict[str, NeuronKind]:
    """Every kind, those of :data:`EXTERNAL` modules included (imported on first use)."""
    for module in EXTERNAL:
        importlib.import_module(module)
    return KINDS
