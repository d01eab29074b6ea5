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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BackgroundSource", "PROBABILITIES", "combine", "spike_probability"]


PROBABILITIES = ("poisson", "auryn")


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

    def initialise(self, group, rng: np.random.Generator, dt) -> None:
        """First spike step of every neuron, geometric on {0, 1, ...}, counted from t = 0."""
        p = spike_probability(self.rate, dt, self.probability)
        first = rng.geometric(p, size=len(group)) - 1 if p > 0 else np.full(len(group), np.iinfo(np.int32).max)
        setattr(group, self.next_step, first)


def combine(sources) -> tuple[tuple[str, ...], dict, dict]:
    """(equation lines, events, event code) of several sources of one group; ``sources``
    is a list of (source, unit) pairs."""
    lines, events, code = [], {}, {}
    for source, unit in sources:
        if source.event in events:
            raise ValueError(f"two background sources onto {source.variable}")
        lines.extend(source.equations(unit))
        events.update(source.events)
        for event, statements in source.event_code.items():
            code.setdefault(event, []).extend(statements)
    return tuple(lines), events, code
