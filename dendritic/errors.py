"""Expected failures: each names the thing (a file, an option, a folder), the key and
what was expected, and the command line prints it as one line and exits with status 2
(:func:`dendritic.cli.main`). Anything else is a bug and keeps its traceback.

``DendriticError`` derives from ``ValueError``, so code that caught the ``ValueError``
these used to be keeps working."""

from __future__ import annotations

__all__ = ["DendriticError", "ResultsFileError", "ResourceError", "Interrupted"]


class DendriticError(ValueError):
    """A mistake in what was asked for (model file, option, data, checkpoint, results
    file, resources): one line for the user, no traceback."""


class ResultsFileError(DendriticError):
    """A results file that is missing, truncated, not HDF5 or not written by dendritic."""


class ResourceError(DendriticError):
    """A run that would need more memory (or disk) than the machine has."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a run (raised by the command line's handlers, so
    that a standalone binary started by ``subprocess.call`` is killed with it)."""

    def __init__(self, signal_name: str):
        self.signal_name = signal_name
        super().__init__(signal_name)
