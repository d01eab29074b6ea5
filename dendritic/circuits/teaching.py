"""A teaching current computed per neuron from its online event-rate estimate
(``generate_error`` of ``sim/sim_xor.cpp`` in ``apayeur/spikingburstprop``; Payeur et
al. 2021, Nature Neuroscience, doi:10.1038/s41593-021-00857-x, Fig. 4).

At the first step of each teaching window (a ``TimedArray``, ``window``: 0 closed,
1 open) every neuron sets its current from its event-rate estimate E (``estimate``, a per-neuron
variable in Hz, e.g. the moving average ``E_bar`` of BDSP) and the target y (a 0/1
``TimedArray``), with lo = rate_min + tolerance, hi = rate_max - tolerance::

    y = 1:  I = A                     if E <= lo
            I = A Hz / (E - rate_min)  if lo < E < hi
            I = 0                     if E >= hi
    y = 0:  I = 0                     if E <= lo
            I = -A Hz / (rate_max - E) if lo < E < hi
            I = -A                    if E >= hi

The current is held while the window is open and is 0 outside it; it adds to the
population's input (``input``, e.g. ``I_dend``) on top of its constant value. As
published it is computed once per window, at its first step (a window starting at
t = 0 is not detected: the published protocol starts with a burn-in). To recompute it
within a window (``number_of_error_recomputing`` > 1 in ``sim_xor.cpp``), let the
window's value alternate between 1 and 2: every change to an open value is an onset. The onset is a
custom event of the group (``teach_<input>``), so it runs on every target.
``A``, the rates and the tolerance are ``(shared, constant)`` variables
(``teach_amplitude_<input>``, ...), changeable through ``run_args``.
"""

from __future__ import annotations

from dendritic import config as cfg
from brian2 import Hz, pA

__all__ = ["SCHEMA", "equations", "event", "expression", "set_parameters"]

SCHEMA = {
    "population": cfg.Text(doc="the taught population"),
    "input": cfg.Text(doc="the input the current adds to (e.g. I_dend)"),
    "estimate": cfg.Text(doc="per-neuron event-rate estimate in Hz (e.g. E_bar of BDSP)"),
    "target": cfg.Text(doc="TimedArray of 0/1: the target y"),
    "window": cfg.Text(doc="TimedArray of 0/1: the teaching windows"),
    "amplitude": cfg.Quantity(unit=pA, bound="nonnegative", doc="A", default="1000 pA"),
    "rate_min": cfg.Quantity(unit=Hz, bound="nonnegative", doc="e_min", default="2 Hz"),
    "rate_max": cfg.Quantity(unit=Hz, bound="positive", doc="e_max", default="10 Hz"),
    "tolerance": cfg.Quantity(unit=Hz, bound="nonnegative", doc="how far inside [e_min, e_max]", default="1 Hz"),
}


def _names(teacher: dict) -> dict:
    key = teacher["input"]
    return {"current": f"I_teach_{key}", "A": f"teach_amplitude_{key}", "low": f"teach_rate_min_{key}",
            "high": f"teach_rate_max_{key}", "tol": f"teach_tolerance_{key}", "event": f"teach_{key}"}


def equations(teacher: dict) -> tuple[str, ...]:
    n = _names(teacher)
    return (f"{n['current']} : amp  # teaching current set at the window's onset",
            f"{n['A']} : amp (shared, constant)", f"{n['low']} : hertz (shared, constant)",
            f"{n['high']} : hertz (shared, constant)", f"{n['tol']} : hertz (shared, constant)")


def expression(teacher: dict) -> str:
    """What adds to the input: the held current while the window is open."""
    return f"int({teacher['window']}(t) > 0.5)*{_names(teacher)['current']}"


def event(teacher: dict) -> tuple[dict, dict]:
    """(events, event code) of the window's onset."""
    n = _names(teacher)
    window, E, y = teacher["window"], teacher["estimate"], f"{teacher['target']}(t)"
    lo, hi = f"({n['low']} + {n['tol']})", f"({n['high']} - {n['tol']})"
    inside = f"int({E} > {lo})*int({E} < {hi})"
    one = f"{n['A']}*(int({E} <= {lo}) + {inside}*hertz/clip({E} - {n['low']}, {n['tol']} + 1e-9*hertz, inf*hertz))"
    zero = f"-{n['A']}*(int({E} >= {hi}) + {inside}*hertz/clip({n['high']} - {E}, {n['tol']} + 1e-9*hertz, inf*hertz))"
    condition = f"{window}(t) > 0.5 and abs({window}(t) - {window}(t - dt)) > 0.5"
    return {n["event"]: condition}, {n["event"]: [f"{n['current']} = {y}*{one} + (1 - {y})*{zero}"]}


def set_parameters(group, teacher: dict) -> None:
    n = _names(teacher)
    setattr(group, n["A"], teacher["amplitude"])
    setattr(group, n["low"], teacher["rate_min"])
    setattr(group, n["high"], teacher["rate_max"])
    setattr(group, n["tol"], teacher["tolerance"])
    setattr(group, n["current"], 0 * pA)
