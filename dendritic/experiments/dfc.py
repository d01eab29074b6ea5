"""`dendritic run dfc`: Deep Feedback Control in its rate reduction (NumPy, no Brian).

Two protocols, chosen by the experiment file (``models/experiments/dfc_*.toml``,
:mod:`dendritic.rate.experiment`): regression (``dfc_toy``, the student-teacher task of
Meulemans et al. 2021, Fig. 3, with the angles between the DFC updates and their
references: :mod:`dendritic.rate.regression`) and classification (``dfc_fashion_mnist``,
``dfc_mnist``: :mod:`dendritic.rate.classification`). This module turns the command
line into a :class:`Config` (the file, ``--set`` applied, and
:class:`~dendritic.rate.experiment.RunOptions`).

Results: one HDF5 file (group per method) and a PNG with the same stem, written when
every method has trained; classification checkpoints every method after every epoch
beside the results file (``<output>.<method>.checkpoint.h5``), which ``--resume``
continues from. The training log (one line per epoch) goes to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dendritic import config as cfg
from dendritic.experiments import option_values
from dendritic.experiments.outcome import Outcome
from dendritic.rate.classification import run_classification
from dendritic.rate.experiment import SCHEMA, RunOptions, load_experiment, selected_methods
from dendritic.rate.figure import plot
from dendritic.rate.regression import run_regression

NAME = "dfc"
HELP = "Deep Feedback Control (rate model): toy angles, Fashion-MNIST / MNIST classification"
RUN_TIME = "about 2.5 min (NumPy only, nothing to compile)"  # benchmarks/run_times.py
BRIAN = False

_SLEEP = SCHEMA["methods"].schema["feedback_learning"].schema

#: the command-line options checked by fields (destination -> field)
OPTIONS = {
    "seed": cfg.Integer("seed", minimum=0),
    "epochs": SCHEMA["epochs"],
    "train_subset": cfg.Integer("training samples", minimum=1),
    "test_subset": cfg.Integer("test samples", minimum=1),
    "feedback_init_epochs": _SLEEP["init_epochs"],
    "extra_feedback_epochs": _SLEEP["extra_epochs"],
    "angle_every": SCHEMA["angle_every"],
}


@dataclass(frozen=True)
class Config:
    """A validated experiment file (:func:`~dendritic.rate.experiment.load_experiment`,
    ``--set`` applied) and the run's options; the selected methods exist in the file."""

    experiment: dict
    options: RunOptions

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def dt(self) -> None:
        return None  # no simulation clock: the rate dynamics' steps are in the file

    @property
    def task(self) -> str:
        return self.experiment["task"]


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="dfc_quick",
                        help="experiment file or a path: dfc_quick (embedded MNIST, 2 epochs, about 4 min), dfc_mnist "
                             "(40 epochs, about 70 min), dfc_fashion_mnist (needs the Fashion-MNIST IDX files; 40 "
                             "epochs, several hours), dfc_toy (300 epochs x 3 methods, 1-4 h) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the students' initial weights and the mini-batch order; regression: the "
                             "teacher and its data use seed + 1000 (default: %(default)s)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of the file's method names (default: all, in the file's order)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: from the file)")
    parser.add_argument("--dataset", choices=("fashion_mnist", "mnist", "mnist_embedded"), default=None,
                        help="classification data set (default: from the file)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding the IDX files (default: /usr/share/datasets/fashion-mnist for "
                             "Fashion-MNIST, data/mnist for MNIST)")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="train on the first N training samples only, both tasks (default: all)")
    parser.add_argument("--test-subset", type=int, default=None,
                        help="evaluate on the first N test (regression: and validation) samples only (default: all)")
    parser.add_argument("--feedback-init-epochs", type=int, default=None,
                        help="sleep epochs of learned feedback before training (default: from the file)")
    parser.add_argument("--extra-feedback-epochs", type=int, default=None,
                        help="sleep epochs of learned feedback after every training epoch (default: from the file)")
    parser.add_argument("--angle-every", type=int, default=None,
                        help="epochs between angle measurements, regression (default: from the file)")
    parser.add_argument("--resume", action="store_true",
                        help="classification: continue every method from its checkpoint beside the output "
                             "(<output>.<method>.checkpoint.h5, written after each epoch), up to --epochs "
                             "(default: start afresh)")


def configure(args) -> Config:
    experiment = load_experiment(args.config, overrides=args.set)
    given = option_values(args, OPTIONS)
    if args.methods:
        given["methods"] = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    for name in ("dataset", "data_dir"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    options = RunOptions(**given, resume=args.resume)
    try:
        selected_methods(experiment, options.methods)
    except ValueError as error:
        raise cfg.ConfigError([f"command line: key '--methods': {error}"]) from None
    return Config(experiment, options)


def run_dfc(config: Config, backend: None, output: Path) -> Outcome:
    """Train the selected methods (classification: checkpoints beside ``output``)."""
    if config.task == "classification":
        results = run_classification(config.experiment, config.options, output)
    else:
        results = run_regression(config.experiment, config.options)
    return Outcome(results, attrs={"target": "numpy-rate", "config": config.experiment["path"], "task": config.task},
                   figure=lambda: plot(results, config.task), summary=summary(results, config.task))


def summary(results: dict, task: str) -> list[str]:
    """One line per method: the test accuracy (classification) or loss (regression) after
    the last epoch."""
    lines = []
    for name, r in results.items():
        if name == "config":
            continue
        key = "test_accuracy" if task == "classification" else "test_loss"
        values = r[key]
        last = f"{float(values[-1]):.4g}" if len(values) else "none (0 epochs)"
        lines.append(f"{name}: {key.replace('_', ' ')} {last} after {len(values)} epochs")
    return lines


def redraw(results: dict, attrs: dict):
    """The figure of a saved run (``dendritic plot``), from its results file alone."""
    return plot(results, str(attrs["task"]))
