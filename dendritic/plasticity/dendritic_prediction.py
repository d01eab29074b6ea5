"""Voltage-dependent plasticity: learning by the dendritic prediction of somatic activity.

Spike form (Urbanczik & Senn 2014, Neuron 81:521, doi:10.1016/j.neuron.2013.11.030; NEST
``urbanczik_synapse``)::

    dW_ij/dt    = eta PI_ij
    tau_Delta dPI_ij/dt = -PI_ij + e_i(t) psp_j(t)
    e_i(t)      = (S_i(t) - phi(v_hat_i)) h(v_hat_i),   h = d log phi / du

Rate form (Sacramento et al. 2018, NeurIPS, doi:10.48550/arXiv.1810.11393; Meulemans et
al. 2021, doi:10.48550/arXiv.2106.07887)::

    dW_ij/dt = eta e_i(t) r_j(t),   e_i = phi(u_i) - phi(v_hat_i),   r_j = psp_j / tau_psp

Apical cancellation (Sacramento et al. 2018), interneuron -> apical weights::

    dW_ij/dt = eta e_i(t) r_j(t),   e_i = E_L - v_apical_i   (rest minus apical potential)

The interneurons' own basal weights learn by the rate form onto their dendrite.

S_i is the postsynaptic spike train, v_hat_i the neuron's ``dendritic_prediction``
(g_B/(g_L+g_B+g_A) times the basal potential above rest) and psp_j the presynaptic
trace: the sum over neuron j's spikes of the target dendrite's PSP kernel, exp(-t/tau)
or, for a dendrite driven by synaptic currents (``urbanczik2014``), the difference of
exponentials tau/(tau - tau_syn) (exp(-t/tau) - exp(-t/tau_syn)) (:class:`PresynapticTrace`),
so that the dendritic potential is v - E_L = sum_j W_ij psp_j exactly. The factor g_B/(g_L+g_B+g_A) of the gradient is
absorbed in eta. Because W is the jump of the dendritic potential (volt) and psp is
dimensionless, eta has the unit volt^2 in the spike form, volt*second in the rate form
and 1 in the apical rule.

How it scales: the postsynaptic error e_i is computed once per neuron and the
presynaptic trace psp_j once per presynaptic neuron, each integrated over the learning
interval Delta into an accumulator (``<error>_integral``, ``<trace>_integral``). Every
Delta, each synapse does a few multiply-adds with the interval means e_bar, r_bar::

    x   = e_bar_i r_bar_j
    W  += eta [tau_Delta (1 - a) PI + (Delta - tau_Delta (1 - a)) x],   a = exp(-Delta/tau_Delta)
    PI  = a PI + (1 - a) x

which integrates the two ODEs exactly for x constant over the interval. With Delta = dt
this is the rule itself on Brian's time grid; a coarser Delta replaces the mean of the
product e r by the product of the means, an error of second order in Delta over the
time constants of e and psp.

Time-grid conventions (used by the independent NumPy check in the tests): in step n
the accumulators add dt * (continuous part at the start of the step); a spike emitted in
step n adds h(v_hat) evaluated after the step's update, and raises psp from the next
step on, like the dendritic jump it causes. The accumulators of the interval ending at
step (k+1)n are applied at the start of that step and then cleared; the learning of the
last, unfinished interval of a run is not applied.

Design for ``cpp_standalone``: eta, tau_Delta and the weight bounds are
``(shared, constant)`` synapse variables (``run_args`` can change them); the interval is
a clock period, fixed when the network is built. No ``network_operation``; learning can
be switched on and off during a run with a ``gate`` expression such as a ``TimedArray``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, defaultclock, second, volt
from brian2.units.fundamentalunits import get_dimensions

from dendritic.neurons.model import NeuronModel
from dendritic.neurons import transfer

__all__ = [
    "PresynapticTrace",
    "spike_source",
    "PostsynapticError",
    "DendriticPredictionRule",
    "ApicalCancellationRule",
    "prediction_error",
    "apical_error",
]


@dataclass(frozen=True)
class PresynapticTrace:
    """psp(t) = sum_k kernel(t - t_k): a presynaptic neuron's PSP kernel sum, with the
    kernel of the target dendrite so that v - E_L = sum_j W_ij psp_j.

    ``kernel="exponential"``: kernel(t) = exp(-t/tau), state ``<name>``, spike action
    ``<name> += 1``. ``kernel="difference"``: the difference of exponentials of a
    dendrite driven by synaptic currents (Urbanczik & Senn 2014; NEST
    ``urbanczik_synapse``, models/urbanczik_synapse.h, which keeps the two traces
    ``tau_L_trace_`` and ``tau_s_trace_``),

        kernel(t) = tau/(tau - tau_syn) (exp(-t/tau) - exp(-t/tau_syn)),

    from the states ``<name>_slow`` and ``<name>_fast`` (each += 1 per spike, each
    integrated exactly by exponential Euler) and the subexpression ``<name>``.
    Also adds its integral over the current learning interval ``<name>_integral``.
    ``tau_<name>`` (and ``tau_syn_<name>``) are ``(shared, constant)`` parameters, set
    from the target dendrite when synapses connect.
    """

    name: str = "psp"
    kernel: str = "exponential"

    def __post_init__(self):
        if self.kernel not in ("exponential", "difference"):
            raise ValueError(f"PresynapticTrace {self.name!r}: unknown kernel {self.kernel!r}; "
                             f"expected 'exponential' or 'difference'")

    @classmethod
    def matching(cls, model: NeuronModel, dendrite: str = "basal", name: str = "psp") -> "PresynapticTrace":
        """The trace whose kernel is the PSP kernel of ``model``'s ``dendrite``."""
        _, tau_syn = model.psp_time_constants(dendrite)
        return cls(name=name, kernel="exponential" if tau_syn is None else "difference")

    @property
    def tau(self) -> str:
        return f"tau_{self.name}"

    @property
    def tau_syn(self) -> str:
        return f"tau_syn_{self.name}"

    @property
    def integral(self) -> str:
        return f"{self.name}_integral"

    def equations(self) -> tuple[str, ...]:
        integral = (f"d{self.integral}/dt = {self.name} : second", f"{self.tau} : second (shared, constant)")
        if self.kernel == "exponential":
            return (f"d{self.name}/dt = -{self.name}/{self.tau} : 1", *integral)
        slow, fast = f"{self.name}_slow", f"{self.name}_fast"
        return (
            f"d{slow}/dt = -{slow}/{self.tau} : 1",
            f"d{fast}/dt = -{fast}/{self.tau_syn} : 1",
            f"{self.name} = {self.tau}/({self.tau} - {self.tau_syn})*({slow} - {fast}) : 1",
            *integral,
            f"{self.tau_syn} : second (shared, constant)",
        )

    @property
    def on_spike(self) -> str:
        if self.kernel == "exponential":
            return f"{self.name} += 1"
        return f"{self.name}_slow += 1\n{self.name}_fast += 1"

    def add_to(self, model: NeuronModel) -> NeuronModel:
        """``model`` with this trace (its time constant is set when synapses connect)."""
        if self.name in _variables(model):
            return model
        return model.with_equations(*self.equations()).with_spike_actions(self.on_spike)


def spike_source(N: int, threshold: str, name: str, traces=(PresynapticTrace(),), equations: str = "",
                 namespace=None) -> NeuronGroup:
    """A group of spike sources carrying presynaptic traces, e.g. Poisson inputs with
    ``threshold=compartments.poisson_threshold("rate")`` and ``equations="rate : Hz (shared, constant)"``.
    Integrated like the neuron models (exponential Euler: the trace exactly, its
    interval integral by the left Riemann sum)."""
    lines = [line for trace in traces for line in trace.equations()]
    return NeuronGroup(N, "\n".join((*lines, equations)), threshold=threshold,
                       reset="\n".join(trace.on_spike for trace in traces), method="exponential_euler",
                       name=name, namespace=namespace or {})


@dataclass(frozen=True)
class PostsynapticError:
    """A per-neuron error e(t) = continuous(t) + sum_spikes spike_weight delta(t - t_s).

    Adds ``d<name>_integral/dt = <continuous>`` and the spike action
    ``<name>_integral += <spike_weight>``.
    """

    name: str
    continuous: str
    unit: str  # Brian unit name of e(t)
    spike_weight: str | None = None

    @property
    def integral(self) -> str:
        return f"{self.name}_integral"

    def equations(self) -> tuple[str, ...]:
        unit = "second" if self.unit == "1" else f"{self.unit}*second"
        return (f"d{self.integral}/dt = {self.continuous} : {unit}",)

    def add_to(self, model: NeuronModel) -> NeuronModel:
        if self.integral in _variables(model):
            return model
        model = model.with_equations(*self.equations())
        if self.spike_weight is not None:
            model = model.with_spike_actions(f"{self.integral} += {self.spike_weight}")
        return model


def prediction_error(model: NeuronModel, form: str, name: str | None = None) -> PostsynapticError:
    """The dendritic prediction error of ``model``'s neurons.

    ``spike``: (S - phi(v_hat)) h(v_hat), unit Hz/volt (Urbanczik & Senn 2014).
    ``rate``: phi(u) - phi(v_hat), unit Hz (Sacramento et al. 2018).
    """
    phi_hat = transfer.rate_expression(model.transfer, "dendritic_prediction")
    if form == "spike":
        h_hat = transfer.log_derivative_expression(model.transfer, "dendritic_prediction")
        return PostsynapticError(name or "spike_error", f"-({phi_hat})*({h_hat})", "hertz/volt", spike_weight=h_hat)
    if form == "rate":
        return PostsynapticError(name or "rate_error", f"rate - ({phi_hat})", "hertz")
    raise ValueError(f"unknown form {form!r} of the dendritic prediction rule; expected 'spike' or 'rate'")


def apical_error(name: str = "apical_error") -> PostsynapticError:
    """Deviation of the apical potential from rest, E_L - v_apical (Sacramento et al. 2018)."""
    return PostsynapticError(name, "E_L - v_apical", "volt")


@dataclass(frozen=True)
class _Rule:
    """Shared machinery: accumulators on both sides, a per-synapse update every interval."""

    eta: Quantity
    interval: Quantity | None = None  # None: every time step
    tau_delta: Quantity | None = None  # None: no low-pass filter of the update
    w_min: Quantity | None = None
    w_max: Quantity | None = None
    trace: PresynapticTrace = field(default_factory=PresynapticTrace)

    target = "basal"

    # -- what subclasses define -------------------------------------------------------
    def error(self, model: NeuronModel) -> PostsynapticError:
        raise NotImplementedError

    def presynaptic_factor(self) -> str:
        """Mean presynaptic signal over the interval, given the trace integral."""
        return f"{self.trace.integral}_pre/learning_interval"

    # -- preparing the neuron models --------------------------------------------------
    def presynaptic(self, model: NeuronModel) -> NeuronModel:
        """The presynaptic model with its PSP trace."""
        return self.trace.add_to(model)

    def postsynaptic(self, model: NeuronModel) -> NeuronModel:
        """The postsynaptic model with its error accumulator."""
        if self.target not in model.spec.dendrites:
            raise ValueError(f"{type(self).__name__}: the postsynaptic {model.kind} neuron has no "
                             f"'{self.target}' dendrite (it has: {', '.join(model.spec.dendrites)})")
        return self.error(model).add_to(model)

    # -- the synapses -----------------------------------------------------------------
    def interval_of(self, dt=None) -> Quantity:
        dt = dt if dt is not None else defaultclock.dt
        interval = self.interval if self.interval is not None else dt
        steps = float(interval / dt)
        if steps < 1 - 1e-9 or abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"learning interval {interval} must be a whole number (>= 1) of time steps dt = {dt}")
        return round(steps) * dt

    def synapse_equations(self) -> str:
        lines = ["w : volt", f"eta : {self.eta_unit} (shared, constant)"]
        if self.tau_delta is not None:
            lines += [f"PI : {_PI_UNITS[self.eta_unit]}", "tau_delta : second (shared, constant)"]
        if self.w_min is not None:
            lines.append("w_min : volt (shared, constant)")
        if self.w_max is not None:
            lines.append("w_max : volt (shared, constant)")
        return "\n".join(lines)

    def update_code(self, post_error: PostsynapticError, gate: str) -> str:
        """Per-synapse statements run every interval (see the module docstring)."""
        x = f"x_learn = ({post_error.integral}_post/learning_interval) * ({self.presynaptic_factor()})"
        if self.tau_delta is None:
            increment = "learning_interval*x_learn"
            lines = [x]
        else:
            one_minus_a = "(1 - exp(-learning_interval/tau_delta))"
            increment = f"tau_delta*{one_minus_a}*PI + (learning_interval - tau_delta*{one_minus_a})*x_learn"
            lines = [x]
        new_w = f"w + ({gate})*eta*({increment})"
        if self.w_min is not None:
            new_w = f"clip({new_w}, w_min, inf*volt)" if self.w_max is None else f"clip({new_w}, w_min, w_max)"
        elif self.w_max is not None:
            new_w = f"clip({new_w}, -inf*volt, w_max)"
        lines.append(f"w = {new_w}")
        if self.tau_delta is not None:
            lines.append("PI = exp(-learning_interval/tau_delta)*PI + (1 - exp(-learning_interval/tau_delta))*x_learn")
        return "\n".join(lines)

    def connect(self, pre: NeuronGroup, post: NeuronGroup, i, j, w, post_model: NeuronModel, name: str,
                gate: str = "1", namespace=None, delay=None) -> Synapses:
        """Plastic synapses ``pre[i] -> post[j]`` onto the rule's dendrite, initial weights ``w``.

        ``post_model`` is the postsynaptic model (for its transfer function). ``gate``
        is an expression multiplying the learning rate (e.g. ``"learning(t)"`` with a
        ``TimedArray`` in ``namespace``). Also sets the presynaptic trace's time
        constant to the postsynaptic dendrite's, and clears both sides' accumulators
        every interval (after all synapses used them). ``delay``: of the transmission.
        """
        for group, variable, side in ((pre, self.trace.integral, "presynaptic"),
                                      (post, self.error(post_model).integral, "postsynaptic")):
            if variable not in group.variables:
                raise ValueError(f"{name}: the {side} group {group.name!r} has no '{variable}'; prepare its model "
                                 f"with {type(self).__name__}.{side}() before creating the group")
        if self.trace.kernel == "difference" and f"{self.trace.name}_fast" not in pre.variables:
            raise ValueError(f"{name}: the presynaptic group {pre.name!r} carries trace {self.trace.name!r} with "
                             f"another kernel; create it with this rule's trace ({self.trace})")
        interval = self.interval_of()
        _set_trace_tau(pre, self.trace, post_model.psp_time_constants(self.target), name)
        synapses = Synapses(pre, post, self.synapse_equations(), on_pre=post_model.synaptic_input(self.target), name=name,
                            namespace={"learning_interval": interval, **(namespace or {})}, delay=delay)
        synapses.connect(i=np.asarray(i), j=np.asarray(j))
        synapses.w = w
        synapses.eta = self.eta
        if self.tau_delta is not None:
            synapses.tau_delta = self.tau_delta
        if self.w_min is not None:
            synapses.w_min = self.w_min
        if self.w_max is not None:
            synapses.w_max = self.w_max
        synapses.run_regularly(self.update_code(self.error(post_model), gate), dt=interval, when="start", order=0,
                               name=f"{name}_learning")
        _clear_every(pre, self.trace.integral, interval)
        _clear_every(post, self.error(post_model).integral, interval)
        return synapses


@dataclass(frozen=True)
class DendriticPredictionRule(_Rule):
    """Learning basal weights by the dendritic prediction of somatic activity.

    ``form="spike"``: Urbanczik & Senn (2014), low-pass filtered with ``tau_delta``
    (NEST ``urbanczik_synapse`` default 100 ms). ``form="rate"``: Sacramento et al.
    (2018), presynaptic rate r = psp / tau_psp. ``target`` is the dendrite whose
    potential predicts the soma: ``basal`` (pyramidal) or ``dendrite`` (interneuron).
    """

    form: str = "spike"
    target: str = "basal"

    def __post_init__(self):
        if self.form not in _ETA_UNITS:
            raise ValueError(f"unknown form {self.form!r}; expected 'spike' or 'rate'")
        _check_unit(self.eta, self.eta_unit, f"eta of the {self.form} form")

    @property
    def eta_unit(self) -> str:
        return _ETA_UNITS[self.form]

    def error(self, model: NeuronModel) -> PostsynapticError:
        return prediction_error(model, self.form, name=f"{self.form}_error_{self.target}")

    def presynaptic_factor(self) -> str:
        if self.form == "rate":
            return f"{self.trace.integral}_pre/(learning_interval*{self.trace.tau}_pre)"
        return super().presynaptic_factor()


@dataclass(frozen=True)
class ApicalCancellationRule(_Rule):
    """Interneuron -> apical weights learn to cancel top-down input at the apical dendrite:
    dW/dt = eta (E_L - v_apical) r_I, r_I = psp / tau_psp (Sacramento et al. 2018)."""

    target: str = "apical"
    eta_unit = "1"

    def __post_init__(self):
        _check_unit(self.eta, self.eta_unit, "eta of the apical cancellation rule")

    def error(self, model: NeuronModel) -> PostsynapticError:
        return apical_error()

    def presynaptic_factor(self) -> str:
        return f"{self.trace.integral}_pre/(learning_interval*{self.trace.tau}_pre)"


#: Unit of eta (W in volt, psp dimensionless).
_ETA_UNITS = {"spike": "volt**2", "rate": "volt*second"}
_UNITS = {"volt**2": volt**2, "volt*second": volt * second, "1": 1.0}
#: Unit of the filtered update PI = (dW/dt) / eta, by unit of eta.
_PI_UNITS = {"volt**2": "1/volt/second", "volt*second": "1/second**2", "1": "volt/second"}


def _check_unit(value, unit: str, what: str) -> None:
    expected = get_dimensions(_UNITS[unit])
    if get_dimensions(value) is not expected:
        raise ValueError(f"{what} must be {'dimensionless' if unit == '1' else 'in ' + unit}, got {value!r}")


def _set_trace_tau(pre: NeuronGroup, trace: PresynapticTrace, taus, synapses_name: str) -> None:
    """A presynaptic trace must have the kernel of the dendrite it models: check its
    form, set its time constants once, and refuse a second target dendrite with others."""
    tau, tau_syn = taus
    kernel = "exponential" if tau_syn is None else "difference"
    if trace.kernel != kernel:
        raise ValueError(f"{synapses_name}: the target dendrite's PSP kernel is {kernel!r} but presynaptic trace "
                         f"{trace.name!r} has kernel {trace.kernel!r}; use PresynapticTrace.matching(post_model, "
                         f"dendrite) for the rule's trace")
    known = pre.__dict__.setdefault("_dendritic_trace_taus", {})
    values = (float(tau), None if tau_syn is None else float(tau_syn))
    if trace.name in known and not all(
            (a is None and b is None) or (a is not None and b is not None and np.isclose(a, b, rtol=1e-12))
            for a, b in zip(known[trace.name], values)):
        raise ValueError(f"{synapses_name}: presynaptic trace {trace.name!r} of {pre.name!r} already has time "
                         f"constants {known[trace.name]} s, but this target dendrite has {values} s; give these "
                         f"synapses another PresynapticTrace(name=...)")
    known[trace.name] = values
    setattr(pre, trace.tau, tau)
    if tau_syn is not None:
        setattr(pre, trace.tau_syn, tau_syn)


def _variables(model: NeuronModel) -> set[str]:
    return set(model.equations().names)


def _clear_every(group: NeuronGroup, variable: str, interval) -> None:
    """Reset an interval accumulator at the start of every interval, after the synapses
    read it (``order=1``); one such operation per variable and group, so all rules that
    share an accumulator must share the interval."""
    intervals = group.__dict__.setdefault("_dendritic_accumulator_intervals", {})
    if variable in intervals:
        if not np.isclose(float(intervals[variable]), float(interval), rtol=1e-9):
            raise ValueError(f"{group.name}.{variable} is already integrated over learning intervals of "
                             f"{intervals[variable]}, not {interval}: rules with different intervals need their own "
                             f"accumulators (another PresynapticTrace(name=...), or another error name)")
        return
    intervals[variable] = interval
    name = f"{group.name}_clear_{variable}"
    group.run_regularly(f"{variable} = 0*{variable}", dt=interval, when="start", order=1, name=name)
