"""What the spiking DFC network is asked to do and what it measures.

:class:`Protocol`: the samples one after the other, each in a slot of

    feedforward (controller off) | settle (controller on) | measuring windows | tail

with the controller's switch ``on(t)`` off during the feedforward phase (the integral of
the controller then decays to zero with tau_f, so every sample starts without control).

:class:`ControllerParameters`: leak alpha, proportional gain k_p, integration time
constant tau_c and the low-pass tau_f of the output spikes (the controller's equations
are in :mod:`dendritic.spiking_dfc.network`).

:class:`WindowedUpdateRule`, the measured update. Learning is the rate form of the
dendritic prediction rule on every basal synapse,
dw_ab/dt = eta (phi(u_a) - phi(v_hat_a)) psp_b/tau_B, with v_hat_a = g_B/g_tot v_B,a
(:mod:`dendritic.plasticity.dendritic_prediction`). To measure its direction without
changing the network, eta = 0 and the rule integrates its per-interval increment into
one accumulator per measuring window: update_ab(T) = integral over the window of
e_a(t) r_b(t) dt. The unit-level spiking update is
Delta W_ij(T) = sum_{a in i, b in j} update_ab(T), summed over the samples. In a circuit
it is the plasticity rule ``windowed_dendritic_prediction`` (:data:`WINDOWED_RULE`:
the parameters of ``dendritic_prediction`` in rate form, and ``windows``, the names of
the 0/1 ``TimedArray`` inputs given at build time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dendritic import config as cfg
from dendritic.circuits import rules
from dendritic.plasticity.dendritic_prediction import DendriticPredictionRule

__all__ = ["Protocol", "ControllerParameters", "WindowedUpdateRule", "WINDOWED_RULE"]


@dataclass(frozen=True)
class Protocol:
    """Samples one after the other, each in a slot of

        feedforward (controller off) | settle (controller on) | measuring windows | tail

    ``inputs`` (B, n_0) and ``targets`` (B, n_L) in Hz; durations in seconds. The
    measuring windows all start after the settling phase and last ``windows[k]``; the
    tail (one grid step) lets the last learning interval be applied. ``transient`` is
    left out at the start of the feedforward phase when rates are measured. ``grid`` is
    the resolution of the schedules (the learning interval).
    """

    inputs: np.ndarray
    targets: np.ndarray
    feedforward: float
    settle: float
    windows: tuple[float, ...]
    transient: float
    grid: float

    def __post_init__(self):
        for name in ("feedforward", "settle", "transient", *()):
            if self._steps(getattr(self, name)) < 0:
                raise ValueError(f"protocol: {name} must be >= 0")
        if not self.windows or min(self._steps(w) for w in self.windows) < 1:
            raise ValueError("protocol: at least one measuring window of one grid step or more")
        if self.transient >= self.feedforward and self.feedforward > 0:
            raise ValueError("protocol: the transient must be shorter than the feedforward phase")
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError("protocol: one target per input sample")

    def _steps(self, duration: float) -> int:
        steps = duration / self.grid
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"protocol: {duration} s is not a whole number of grid steps ({self.grid} s)")
        return int(round(steps))

    @property
    def samples(self) -> int:
        return self.inputs.shape[0]

    @property
    def slot_steps(self) -> int:
        return self._steps(self.feedforward) + self._steps(self.settle) + max(self._steps(w) for w in self.windows) + 1

    @property
    def slot(self) -> float:
        return self.slot_steps * self.grid

    @property
    def duration(self) -> float:
        return self.samples * self.slot

    def measuring_start(self) -> float:
        """Start of the measuring windows within a slot (s)."""
        return self.feedforward + self.settle

    def schedule(self, start: float, length: float, interval_end: bool = False) -> np.ndarray:
        """0/1 per grid step of the whole run: 1 in [start, start + length) of every slot
        (``interval_end``: for steps ending in that range, i.e. shifted by one step)."""
        steps = np.zeros(self.slot_steps)
        first = self._steps(start) + (1 if interval_end else 0)
        steps[first:first + self._steps(length)] = 1.0
        return np.tile(steps, self.samples)


@dataclass(frozen=True)
class ControllerParameters:
    """alpha: leak; k_p: proportional gain; tau_c: integration time constant (s);
    tau_filter: low-pass of the output spikes (s)."""

    alpha: float
    k_p: float
    tau_c: float
    tau_filter: float


@dataclass(frozen=True)
class WindowedUpdateRule(DendriticPredictionRule):
    """The rate-form dendritic prediction rule with one extra accumulator per window.

    Every learning interval, besides the rule's own weight change (none if eta = 0), each
    synapse adds window_k(t) Delta x_learn to ``update_k`` (unit Hz): the integral of
    e_post r_pre over the window ``window_k`` (a 0/1 ``TimedArray`` given in the
    namespace). x_learn is the rule's product of the interval means, applied at the end
    of the interval, so window_k(t) must be 1 at the *end* of each interval it counts.
    """

    windows: tuple[str, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        if self.form != "rate":
            raise ValueError("WindowedUpdateRule accumulates the rate form of the rule only")

    @staticmethod
    def accumulator(k: int) -> str:
        return f"update_{k}"

    def synapse_equations(self) -> str:
        lines = [super().synapse_equations()]
        lines += [f"{self.accumulator(k)} : hertz" for k in range(len(self.windows))]
        return "\n".join(lines)

    def update_code(self, post_error, gate: str) -> str:
        lines = [super().update_code(post_error, gate)]
        lines += [f"{self.accumulator(k)} += {window}(t)*learning_interval*x_learn"
                  for k, window in enumerate(self.windows)]
        return "\n".join(lines)


class _WindowedRule(rules.VoltageRule):
    """:class:`WindowedUpdateRule` chosen by name in a circuit."""

    def rule(self, connection, post):
        p = connection["plasticity"]
        return WindowedUpdateRule(form=p["form"], target=connection["target"], windows=tuple(p["windows"]),
                                  **self.common(connection, post))

    def namespace(self, parameters, arrays, name):
        return {**super().namespace(parameters, arrays, name),
                **{window: rules.timed_array(arrays, window, f"{name}: window") for window in parameters["windows"]}}


WINDOWED_RULE = rules.register(_WindowedRule("windowed_dendritic_prediction", {
    **rules.RULES["dendritic_prediction"].schema,
    "form": cfg.Choice(options=("rate",), default="rate"),
    "windows": cfg.TextList(doc="names of the 0/1 TimedArrays of the measuring windows, one accumulator each"),
}))
