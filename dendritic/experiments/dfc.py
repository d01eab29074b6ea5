"""`dendritic run dfc`: Deep Feedback Control in its rate reduction.

Two protocols, chosen by the experiment file (``models/experiments/dfc_*.toml``,
:mod:`dendritic.rate.experiment`): regression (``dfc_toy``, the student-teacher task of
Meulemans et al. 2021, Fig. 3, with the angles between the DFC updates and their
references: :mod:`dendritic.rate.regression`) and classification (``dfc_fashion_mnist``,
``dfc_mnist``: :mod:`dendritic.rate.classification`). This module turns the command
line into :class:`~dendritic.rate.experiment.RunOptions` and writes the results.

Results: one HDF5 file (group per method, rewritten after every epoch) and a PNG with
the same stem; the training log on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dendritic.io import provenance, write_results
from dendritic.rate.classification import run_classification
from dendritic.rate.experiment import RunOptions, load_experiment, selected_methods
from dendritic.rate.figure import plot
from dendritic.rate.regression import run_regression

NAME = "dfc"
HELP = "Deep Feedback Control (rate model): toy angles, Fashion-MNIST / MNIST classification"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="dfc_fashion_mnist",
                        help="experiment file: dfc_toy, dfc_fashion_mnist, dfc_mnist or a path (default %(default)s)")
    parser.add_argument("--methods", help="comma-separated subset of the file's method names")
    parser.add_argument("--epochs", type=int, help="override the number of training epochs")
    parser.add_argument("--dataset", choices=("fashion_mnist", "mnist", "mnist_embedded"),
                        help="override the classification data set")
    parser.add_argument("--data-dir", type=Path, help="folder holding the IDX files")
    parser.add_argument("--train-subset", type=int, help="train on the first N training samples only (both tasks)")
    parser.add_argument("--test-subset", type=int, help="evaluate on the first N test (regression: and validation) samples only")
    parser.add_argument("--feedback-init-epochs", type=int, help="override the initial sleep epochs")
    parser.add_argument("--extra-feedback-epochs", type=int, help="override the sleep epochs per epoch")
    parser.add_argument("--angle-every", type=int, help="override the epochs between angle measurements (regression)")
    parser.add_argument("--resume", action="store_true",
                        help="classification: continue every method from its checkpoint beside the output "
                             "(<output>.<method>.checkpoint.h5, written after each epoch), up to --epochs")


def run(args) -> Path:
    experiment = load_experiment(args.config)
    output = Path(args.output) if getattr(args, "output", None) else Path("data/runs") / f"{NAME}.h5"
    options = _options(args)
    try:
        selected_methods(experiment, options.methods)
    except ValueError as error:
        raise SystemExit(f"--methods: {error}") from None

    def save(results):
        write_results(output, results, attrs=provenance(experiment=NAME, seed=options.seed, target="numpy-rate",
                                                        config=experiment["path"], task=experiment["task"]))

    _log_to_stderr()
    if experiment["task"] == "classification":
        results = run_classification(experiment, options, output, save=save)
    else:
        results = run_regression(experiment, options, save=save)
    if not getattr(args, "no_plot", False):
        plot(results, experiment["task"], output.with_suffix(".png"))
    return output


def _options(args) -> RunOptions:
    """The command line's options of one run (absent or ``None``: the defaults)."""
    given = {name: getattr(args, name, None) for name in (
        "seed", "epochs", "dataset", "data_dir", "train_subset", "test_subset", "feedback_init_epochs",
        "extra_feedback_epochs", "angle_every", "resume")}
    methods = getattr(args, "methods", None)
    if methods:
        given["methods"] = tuple(m.strip() for m in methods.split(",") if m.strip())
    return RunOptions(**{name: value for name, value in given.items() if value is not None})


class _Stderr(logging.Handler):
    """Each message as one line on the current ``sys.stderr``."""

    def emit(self, record) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


def _log_to_stderr() -> None:
    """The training log (INFO of ``dendritic.rate``) on stderr, unless the program has
    configured logging itself (a handler on the root logger)."""
    logger = logging.getLogger("dendritic.rate")
    if logging.getLogger().handlers or any(isinstance(h, _Stderr) for h in logger.handlers):
        return
    logger.addHandler(_Stderr())
    logger.setLevel(logging.INFO)
