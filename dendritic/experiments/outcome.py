"""What an experiment's core returns to the command line (see :mod:`dendritic.experiments`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """The result of one run, before anything is written.

    results : the nested mapping :func:`dendritic.io.write_results` stores (groups of
        arrays, quantities, numbers, strings).
    attrs : extra root attributes for :func:`dendritic.io.provenance`, beside the
        experiment name and the backend's target, seed, dt and threads (e.g. the model
        file the run read).
    figure : a callable returning a matplotlib ``Figure`` (drawn only when wanted:
        ``--no-plot`` skips it), or ``None`` for an experiment without a figure.
    summary : lines the command line prints
        (measured values worth a glance).
    metrics : the run's key numbers by name (``{"rate_pyramidal_Hz": 12.3}``): the
        columns a sweep's index gets per point (:mod:`dendritic.sweep`); also stored in
        the results file under ``metrics``.
    """

    results: Mapping[str, Any]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    figure: Callable[[], Any] | None = None
    summary: Sequence[str] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
