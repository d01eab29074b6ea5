"""Experiments: one module per ``dendritic run <name>``.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` for its own options
and ``run(args) -> pathlib.Path`` (the results file written). The command line adds
common options to every experiment: ``--target``, ``--seed``, ``--output``,
``--no-plot`` (see :mod:`dendritic.cli`).
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["available"]


def available() -> dict:
    """Experiment modules by name."""
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules[module.NAME] = module
    return modules
