"""The XOR protocol of Payeur et al. 2021 (Fig. 4; doi:10.1038/s41593-021-00857-x) as
schedule arrays: ``sim/sim_xor.cpp`` of ``apayeur/spikingburstprop`` (lines 500-660).

Timeline: a burn-in with no input current (3 x the moving-average time constant, 6 s);
a test of the four patterns before learning (one example each, no plasticity, no
teacher); ``epochs`` epochs of the patterns in the fixed order 00, 10, 01, 11
(``select_XOR_example_deterministic``), each example ``example_duration`` long: input
currents on, plasticity off for the prediction time, then, for the last
``learning_window``, plasticity on and the teaching current into the output dendrites;
a test after learning like the first. Input "1" is ``input_one`` (+150 pA), "0" is
``input_zero`` (-350 pA), into the somata of input 1 and input 2; the target is XOR.

The schedule is a set of ``TimedArray`` s on one time grid (the largest step dividing
every boundary), given to the circuit by name:

- ``xor_input1``, ``xor_input2`` (amp): the somatic currents of the input populations;
- ``xor_learning`` (0/1): the BDSP gate (``stdp_active``);
- ``xor_teaching``: the teacher's window (:mod:`dendritic.circuits.teaching`): 0
  closed; 1 and 2 alternating over ``error_updates`` equal parts of the window, one
  recomputation of the current per part (``number_of_error_recomputing``, 1 as published);
- ``xor_target`` (0/1): the target of the teacher.

Deviation, deliberate: every example lasts exactly ``example_duration`` (80,000 steps of
0.1 ms). The published run lasts 79,999 steps per training example, because
``prediction_time = 0.9 * durex`` is the float 7.19999981 s, which Auryn truncates to
71,999 steps; the shift (0.1 ms per example, 0.2 s over the 2,000 examples) changes no
measured quantity, and matching it would need schedule arrays on the 0.1 ms grid
(about 160 million entries per array for the full protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from brian2 import TimedArray, amp, pA, second

from dendritic import config as cfg

__all__ = ["SCHEMA", "Protocol", "Example", "Schedule", "xor_target"]

SCHEMA = {
    "burn_in": cfg.Quantity(unit=second, bound="nonnegative", doc="time before the first test, no input current",
                            default="6 s"),
    "example_duration": cfg.Quantity(unit=second, bound="positive", doc="duration of one example", default="8 s"),
    "learning_window": cfg.Quantity(unit=second, bound="positive",
                                    doc="the last part of a training example: plasticity and teacher on",
                                    default="0.8 s"),
    "epochs": cfg.Integer(minimum=0, doc="training epochs (each pattern once, in order)", default=500),
    "patterns": cfg.TextList(doc="input patterns in the order shown ('10': input 1 on, input 2 off)",
                             default=["00", "10", "01", "11"]),
    "test_before": cfg.Flag(doc="test the patterns before learning", default=True),
    "test_after": cfg.Flag(doc="test the patterns after learning", default=True),
    "input_one": cfg.Quantity(unit=pA, doc='somatic current of an input "1"', default="150 pA"),
    "input_zero": cfg.Quantity(unit=pA, doc='somatic current of an input "0"', default="-350 pA"),
    "error_updates": cfg.Integer(minimum=1, doc="recomputations of the teaching current per learning window",
                                 default=1),
}


def xor_target(pattern: str) -> int:
    """The XOR of a pattern's two bits ('10' -> 1)."""
    return int(pattern[0] != pattern[1])


@dataclass(frozen=True)
class Example:
    """One example: its phase (``test_before``, ``train``, ``test_after``), index in the
    run, pattern, target, start, the start of its learning window (training only, else
    None) and end (s)."""

    phase: str
    index: int
    epoch: int
    pattern: str
    target: int
    start: float
    learning: float | None
    end: float


def _steps(value, grid: Fraction) -> int:
    return int(Fraction(value).limit_denominator(10**7) / grid)


@dataclass(frozen=True)
class Protocol:
    """The XOR protocol (values of :data:`SCHEMA`, quantities with units)."""

    burn_in: object
    example_duration: object
    learning_window: object
    epochs: int
    patterns: tuple
    test_before: bool
    test_after: bool
    input_one: object
    input_zero: object
    error_updates: int

    @classmethod
    def from_values(cls, values: dict, source="protocol") -> "Protocol":
        problems = []
        for pattern in values["patterns"]:
            if len(pattern) != 2 or set(pattern) - {"0", "1"}:
                problems.append(f"{source}: key 'patterns': expected two-bit patterns such as '10', got {pattern!r}")
        if values["learning_window"] >= values["example_duration"]:
            problems.append(f"{source}: key 'learning_window': expected less than example_duration "
                            f"({values['example_duration']}), got {values['learning_window']}")
        if problems:
            raise cfg.ConfigError(problems)
        return cls(**{**values, "patterns": tuple(values["patterns"])})

    # -- timeline ---------------------------------------------------------------------
    def examples(self) -> list[Example]:
        """Every example of the run, in order."""
        out, t, T = [], float(self.burn_in), float(self.example_duration)
        prediction = T - float(self.learning_window)

        def add(phase, epoch, pattern, learning):
            nonlocal t
            out.append(Example(phase, len(out), epoch, pattern, xor_target(pattern), t,
                               t + prediction if learning else None, t + T))
            t += T

        if self.test_before:
            for pattern in self.patterns:
                add("test_before", -1, pattern, False)
        for epoch in range(self.epochs):
            for pattern in self.patterns:
                add("train", epoch, pattern, True)
        if self.test_after:
            for pattern in self.patterns:
                add("test_after", self.epochs, pattern, False)
        return out

    @property
    def duration(self) -> float:
        """Simulated time of the whole protocol (s)."""
        n = len(self.patterns) * (self.epochs + int(self.test_before) + int(self.test_after))
        return float(self.burn_in) + n * float(self.example_duration)

    def grid(self, dt) -> Fraction:
        """The schedule's time step (s, exact): the largest multiple of ``dt`` dividing the
        burn-in, the prediction time and each part of the learning window."""
        step = Fraction(float(dt)).limit_denominator(10**7)
        parts = [Fraction(float(self.burn_in)).limit_denominator(10**7),
                 Fraction(float(self.example_duration - self.learning_window)).limit_denominator(10**7),
                 Fraction(float(self.learning_window)).limit_denominator(10**7) / self.error_updates]
        counts = []
        for part in parts:
            n = part / step
            if n.denominator != 1:
                raise cfg.ConfigError([f"protocol: {float(part)} s is not a whole number of time steps "
                                       f"({float(step) * 1e3:g} ms)"])
            counts.append(int(n))
        return step * int(np.gcd.reduce([c for c in counts if c > 0]))

    def schedule(self, dt, until: float | None = None) -> "Schedule":
        """The schedule arrays on :meth:`grid`, covering ``until`` s (default: the
        protocol; a chunked run pads it to whole chunks with no input and no learning)."""
        grid = self.grid(dt)
        total = self.duration if until is None else max(float(until), self.duration)
        n = int(np.ceil(Fraction(total).limit_denominator(10**7) / grid)) + 1
        input1, input2 = np.zeros(n), np.zeros(n)
        learning, teaching, target = np.zeros(n), np.zeros(n), np.zeros(n)
        one, zero = float(self.input_one / amp), float(self.input_zero / amp)
        for example in self.examples():
            a, b = _steps(example.start, grid), _steps(example.end, grid)
            input1[a:b] = one if example.pattern[0] == "1" else zero
            input2[a:b] = one if example.pattern[1] == "1" else zero
            target[a:b] = example.target
            if example.learning is not None:
                c = _steps(example.learning, grid)
                learning[c:b] = 1
                parts = np.array_split(np.arange(c, b), self.error_updates)
                for k, part in enumerate(parts):
                    teaching[part] = 1 + k % 2
        step = float(grid) * second
        arrays = {
            "xor_input1": TimedArray(input1 * amp, dt=step, name="xor_input1"),
            "xor_input2": TimedArray(input2 * amp, dt=step, name="xor_input2"),
            "xor_learning": TimedArray(learning, dt=step, name="xor_learning"),
            "xor_teaching": TimedArray(teaching, dt=step, name="xor_teaching"),
            "xor_target": TimedArray(target, dt=step, name="xor_target"),
        }
        return Schedule(self, float(grid), arrays, self.examples())


@dataclass(frozen=True)
class Schedule:
    """The protocol's arrays by name (for ``build_circuit(arrays=...)``), their grid (s)
    and the examples."""

    protocol: Protocol
    grid: float
    arrays: dict
    examples: list
