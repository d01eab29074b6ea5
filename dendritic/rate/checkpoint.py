"""Training checkpoints: everything a :class:`~dendritic.rate.training.Learner` needs to
continue exactly where it stopped.

A checkpoint holds the network (W_i, b_i, Q_i), the state of every optimiser (Adam's
step count and moments), the random generator's state (mini-batch order and apical
noise draw from it) and the per-epoch history. Restored, a run continues with the same
numbers as if it had not been interrupted (tested). Files are HDF5 written atomically
by :func:`dendritic.io.write_results`, so an interruption while saving leaves the
previous checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dendritic.io import read_results, write_results
from dendritic.errors import DendriticError
from dendritic.rate.training import SGD, Adam, Learner

__all__ = ["save", "load", "CheckpointError"]

_OPTIMIZERS = ("optimizer", "feedback_optimizer", "feedback_init_optimizer")


class CheckpointError(DendriticError):
    """A checkpoint that does not fit the run it should continue."""


def _layers(arrays) -> dict:
    return {str(i): np.asarray(a) for i, a in enumerate(arrays)}


def _kind(optimizer) -> str:
    return "adam" if isinstance(optimizer, Adam) else "sgd" if isinstance(optimizer, SGD) else "none"


def _optimizer_state(optimizer) -> dict:
    state = {"kind": _kind(optimizer)}
    if isinstance(optimizer, Adam):
        state["t"] = np.int64(optimizer.t)
        if optimizer.m is not None:
            state["m"], state["s"] = _layers(optimizer.m), _layers(optimizer.s)
    return state


def save(path, learner: Learner, history: dict, meta: dict, extra: dict | None = None) -> Path:
    """Write ``learner``'s state, ``history`` (name -> list of per-epoch values),
    ``meta`` (strings and numbers identifying the run, e.g. method and data set; checked
    by :func:`load`) and ``extra`` (other numbers of the run, returned by :func:`load`)."""
    net = learner.net
    state = {
        "meta": dict(meta),
        "extra": dict(extra or {}),
        "network": {"weights": _layers(net.weights), "biases": _layers(net.biases),
                    "feedback": _layers(net.feedback)},
        "optimizers": {name: _optimizer_state(getattr(learner, name)) for name in _OPTIMIZERS},
        "rng": json.dumps(learner.rng.bit_generator.state),
        "history": {key: np.asarray(values, dtype=np.float64) for key, values in history.items()},
    }
    return write_results(path, state)


def load(path, learner: Learner, meta: dict, extra_keys=()) -> tuple[dict, dict]:
    """Restore ``learner`` from ``path`` in place; return (history: name -> list, extra).

    ``meta`` must equal what the checkpoint was saved with (same method, data set,
    network sizes ...) and ``extra`` must hold every name in ``extra_keys``: a
    :class:`CheckpointError` names the first key that differs or is missing.
    """
    path = Path(path)
    state = read_results(path)
    saved = state["meta"]
    for key, value in meta.items():
        stored = saved.get(key)
        if stored is None or not np.array_equal(np.asarray(stored), np.asarray(value)):
            raise CheckpointError(f"{path}: checkpoint key meta/{key} is {stored!r}, this run has {value!r}; "
                                  "delete the checkpoint or run without --resume")
    extra = state.get("extra", {})
    for key in extra_keys:
        if key not in extra:
            raise CheckpointError(f"{path}: checkpoint key extra/{key} is missing (written by another version "
                                  "of dendritic?); delete the checkpoint or run without --resume")
    net = learner.net
    for name in ("weights", "biases", "feedback"):
        arrays = getattr(net, name)
        for i, array in enumerate(arrays):
            stored = state["network"][name][str(i)]
            if stored.shape != array.shape:
                raise CheckpointError(f"{path}: network/{name}/{i} has shape {stored.shape}, expected {array.shape}")
            array[...] = stored
    for name in _OPTIMIZERS:
        optimizer, stored = getattr(learner, name), state["optimizers"][name]
        if isinstance(optimizer, Adam) and stored["kind"] == "adam":
            optimizer.t = int(stored["t"])
            if "m" in stored:
                order = sorted(stored["m"], key=int)
                optimizer.m = [np.array(stored["m"][k]) for k in order]
                optimizer.s = [np.array(stored["s"][k]) for k in order]
        elif stored["kind"] != _kind(optimizer):
            raise CheckpointError(f"{path}: optimizers/{name} is {stored['kind']!r}, this run uses "
                                  f"{type(optimizer).__name__}")
    learner.rng.bit_generator.state = json.loads(state["rng"])
    return {key: list(values) for key, values in state["history"].items()}, extra
