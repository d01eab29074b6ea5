"""Private Poisson background input, drawn spike by spike inside the target group.

Each neuron of a group gets its own background spike train, and each spike adds
``weight`` to one of its variables (a conductance). On Brian's time grid the train is a
Bernoulli process: a spike in each step with probability p, independently, where p is
one of two conventions (``probability``):

- ``"poisson"`` (default): p = 1 - exp(-rate dt), the probability of at least one
  spike of a Poisson process in a step;
- ``"auryn"``: p = rate dt, the process of Auryn's ``PoissonGroup`` (behind the 500 Hz
  per-neuron inputs of the published circuits of Payeur et al. 2021, with an
  ``IdentityConnection``): it walks the neuron-step grid with gaps floor(X/dt + 1.5),
  X exponential with rate 1/(1/rate - dt) (``PoissonGroup::set_rate``, ``evolve``),
  whose mean is 1/(rate dt) steps: 2.5 % more spikes than ``"poisson"`` at 500 Hz
  and 0.1 ms.

Brian's ``PoissonInput(group, variable, 1, rate, weight)`` lies between the two (its
binomial draw has mean rate dt per step, and can give two spikes in one step).

``PoissonInput`` draws a random number for every neuron in every step. Here each neuron
keeps the step of its next background spike and draws, at a spike, the number of steps
to the following one, which for a Bernoulli process is geometric::

    k = 1 + floor(log(1 - U) / log(1 - p)),   U ~ uniform[0, 1)
    P(k) = (1 - p)^(k - 1) p,   k = 1, 2, ...

so a step costs one integer comparison per neuron, and random numbers are drawn only
at spikes (5 % of the steps at 500 Hz and 0.1 ms). The comparison is a Brian custom
event of the target group (``background_<variable>``), its code the weight increment
and the next draw, so no extra group, synapse or spike queue is needed and every
target (numpy, cython, cpp_standalone) runs it. ``p_<variable>`` and
``weight_<variable>`` are ``(shared, constant)`` variables, so ``run_args`` can change
them. The first spike step of every neuron is drawn in NumPy from the run's generator,
so the initial state is the same on every target.

Combined pass (the engine option ``background = "combined"`` of
:data:`dendritic.backend.ENGINES`, issue 22): instead of one custom event per source
(a threshold pass over the group and a reset per source and step), a group has one
custom event ``background`` on "any source's step has come", and its code handles
every source::

    background: timestep(t, dt) >= next_step_<v1> or timestep(t, dt) >= next_step_<v2> ...
    hit_<v> = int(timestep(t, dt) >= next_step_<v>)
    <v> += hit_<v>*weight_<v>
    next_step_<v> += background_gap(hit_<v>, 1/log(1 - p_<v>))

``background_gap`` draws a uniform number only where ``hit`` is 1 and returns the same
geometric gap as the per-source code (the same arithmetic: 1 + int(log(1 - U)/log(1 -
p)), with 1/log(1 - p) computed once per step), 0 elsewhere. Each source keeps its own
Bernoulli train, draw for draw the same process, and the conductances get the same
floating-point operations in the same order (plus 0 where there is no spike). What
changes on ``cpp_standalone`` is the order in which the uniform numbers are taken from
the generator (neuron by neuron instead of source by source), so seeded runs differ
spike for spike but not in law; on ``numpy`` (one source at a time over the neurons of
the event) the draws and the trains are those of the per-source events. On ``cython``
(no implementation of ``background_gap``) the per-source events are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BackgroundSource", "MODES", "PROBABILITIES", "background_gap", "combine", "spike_probability"]


PROBABILITIES = ("poisson", "auryn")

#: how the sources of a group are run: a custom event each, or one combined pass
MODES = ("separate", "combined")


def spike_probability(rate, dt, probability: str = "poisson") -> float:
    """Spike probability per step: 1 - exp(-rate dt) (``"poisson"``: at least one Poisson
    spike in the step) or rate dt (``"auryn"``: Auryn's ``PoissonGroup``)."""
    if probability == "poisson":
        return float(-np.expm1(-float(rate) * float(dt)))
    if probability == "auryn":
        return float(rate) * float(dt)
    raise ValueError(f"unknown background probability {probability!r}; expected one of {', '.join(PROBABILITIES)}")


@dataclass(frozen=True)
class BackgroundSource:
    """A private background train per neuron onto ``variable``, at ``rate`` (Hz), adding
    ``weight`` (in the variable's units) per spike.

    Pieces for a group: :meth:`equations` (with the model's equations),
    :attr:`events` (custom events), :attr:`event_code` (code per event); then, after the
    group exists, :meth:`set_parameters` and :meth:`initialise`.
    """

    variable: str
    rate: object
    weight: object
    probability: str = "poisson"

    def __post_init__(self):
        if float(self.rate) < 0:
            raise ValueError(f"background input to {self.variable}: rate {self.rate} is negative")
        spike_probability(0.0, 0.0, self.probability)  # a clear error for an unknown convention

    @property
    def event(self) -> str:
        return f"background_{self.variable}"

    @property
    def next_step(self) -> str:
        return f"next_step_{self.variable}"

    def equations(self, unit: str = "1") -> tuple[str, ...]:
        """Equation lines; ``unit`` is the unit of the target variable (and the weight)."""
        return (
            f"{self.next_step} : integer  # time step of the next background spike",
            f"p_{self.variable} : 1 (shared, constant)  # background spike probability per step",
            f"weight_{self.variable} : {unit} (shared, constant)  # background jump per spike",
        )

    @property
    def events(self) -> dict:
        return {self.event: f"timestep(t, dt) >= {self.next_step}"}

    @property
    def event_code(self) -> dict:
        return {self.event: [f"{self.variable} += weight_{self.variable}\n"
                             f"{self.next_step} += 1 + int(log(1 - rand()) / log(1 - p_{self.variable}))"]}

    def set_parameters(self, group, dt) -> None:
        p = spike_probability(self.rate, dt, self.probability)
        if p >= 1:
            raise ValueError(f"background input to {group.name}.{self.variable}: rate x dt too large "
                             f"(spike probability {p:.3f} per step)")
        setattr(group, f"p_{self.variable}", p)
        setattr(group, f"weight_{self.variable}", self.weight)
        if getattr(self, "_combined", False):
            _provide_gap(group)

    def initialise(self, group, rng: np.random.Generator, dt) -> None:
        """First spike step of every neuron, geometric on {0, 1, ...}, counted from t = 0."""
        p = spike_probability(self.rate, dt, self.probability)
        first = rng.geometric(p, size=len(group)) - 1 if p > 0 else np.full(len(group), np.iinfo(np.int32).max)
        setattr(group, self.next_step, first)


def combine(sources, mode: str | None = None) -> tuple[tuple[str, ...], dict, dict]:
    """(equation lines, events, event code) of several sources of one group; ``sources``
    is a list of (source, unit) pairs.

    ``mode``: ``"separate"`` (a custom event per source) or ``"combined"`` (one pass, see
    the module docstring); default: the active backend's engine setting
    (:func:`dendritic.backend.engine_setting`). In combined mode there are no events;
    the pass is added to the group by the first source's :meth:`BackgroundSource.set_parameters`."""
    if mode is None:
        mode = _engine_mode()
    if mode not in MODES:
        raise ValueError(f"unknown background mode {mode!r}; expected one of {', '.join(MODES)}")
    lines, events, code = [], {}, {}
    for source, unit in sources:
        if source.event in events:
            raise ValueError(f"two background sources onto {source.variable}")
        lines.extend(source.equations(unit))
        events.update(source.events)
        for event, statements in source.event_code.items():
            code.setdefault(event, []).extend(statements)
    if mode == "combined" and sources:
        group_sources = tuple(source for source, _ in sources)
        for source in group_sources:
            object.__setattr__(source, "_combined", True)  # set_parameters adds background_gap
        return tuple(lines), {COMBINED_EVENT: combined_condition(group_sources)}, \
            {COMBINED_EVENT: [combined_code(group_sources)]}
    return tuple(lines), events, code


#: the custom event of the combined pass
COMBINED_EVENT = "background"


def combined_condition(sources) -> str:
    """Some source of the group has its spike in this step."""
    return " or ".join(f"timestep(t, dt) >= {source.next_step}" for source in sources)


def combined_code(sources) -> str:
    """The code of the combined event: each source's increment and next draw where its
    step has come."""
    lines = []
    for source in sources:
        v = source.variable
        lines += [f"hit_{v} = int(timestep(t, dt) >= {source.next_step})",
                  f"{v} += hit_{v}*weight_{v}",
                  f"{source.next_step} += background_gap(hit_{v}, 1.0/log(1 - p_{v}))"]
    return "\n".join(lines)


def _engine_mode() -> str:
    from dendritic.backend import engine_setting

    mode = engine_setting("background", "separate")
    if mode == "combined":
        from brian2 import get_device, prefs
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        if not isinstance(get_device(), CPPStandaloneDevice) and prefs.codegen.target != "numpy":
            return "separate"  # background_gap has no Cython implementation
    return mode


def _provide_gap(group) -> None:
    """``background_gap`` in the group's namespace (the event code is compiled at the run)."""
    group.namespace.setdefault("background_gap", background_gap)


def _gap_numpy(hit, inv_log_q):
    """NumPy implementation of ``background_gap`` (draws from NumPy's legacy generator,
    which Brian's numpy target seeds and uses for ``rand()``)."""
    hit = np.asarray(hit)
    gap = np.zeros(hit.shape, dtype=np.int32)
    where = np.flatnonzero(hit)
    if len(where):
        uniform = np.random.rand(len(where))
        gap[where] = 1 + (np.log(1.0 - uniform) * inv_log_q).astype(np.int32)
    return gap if gap.ndim else int(gap)


def _gap_cpp(owner):
    from brian2 import prefs

    thread = "omp_get_thread_num()" if prefs.devices.cpp_standalone.openmp_threads else "0"
    code = f"""
    static inline int32_t _background_gap(const int32_t hit, const double inv_log_q)
    {{
        if (!hit)
            return 0;
        return 1 + (int32_t)(inv_log_q * log(1.0 - brian::_random_generators[{thread}].rand()));
    }}
    """
    return {"support_code": code}


def _make_gap_function():
    from brian2 import Function
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

    function = Function(_gap_numpy, arg_units=[1, 1], return_unit=1, arg_types=["integer", "float"],
                        return_type="integer", stateless=False, auto_vectorise=False)
    function.implementations.add_numpy_implementation(_gap_numpy)
    function.implementations.add_dynamic_implementation(CPPStandaloneCodeObject, code=_gap_cpp,
                                                        namespace=lambda owner: {}, name="_background_gap")
    return function


#: ``background_gap(hit, 1/log(1 - p))``: a geometric gap (1 + int(log(1 - U)/log(1 - p)))
#: where ``hit`` is 1, drawing U only there; 0 where ``hit`` is 0
background_gap = _make_gap_function()
