"""Classification with the rate DFC network (``task = "classification"``:
``dfc_fashion_mnist``, ``dfc_mnist``).

784-256-256-256-10 students trained with BP, DFC-SSA, DFC with fixed feedback and DFC
with learned feedback (:mod:`dendritic.rate.training`); validation and test accuracy
per epoch, epoch times, fraction of samples passing the convergence test. Every epoch
is checkpointed (:mod:`dendritic.rate.checkpoint`), so an interrupted run resumes with
the same numbers. Progress: one ``logging`` line per epoch (logger
``dendritic.rate.classification``) and a tqdm bar over the mini-batches when stderr is a
terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path

import numpy as np

from dendritic import data as datasets
from dendritic.rate import checkpoint as checkpoint_module
from dendritic.rate import training
from dendritic.rate.experiment import RunOptions, build_student, feedback_epochs, method_config, selected_methods

__all__ = ["load_classification_data", "checkpoint_path", "train_classifier", "run_classification"]

logger = logging.getLogger(__name__)


def load_classification_data(dataset: str, data_dir: Path | None, validation: int, dtype, train_subset=None,
                             test_subset=None, normalization: str = "standardize"):
    """(x_train, y_train, x_val, y_val, x_test, y_test, n_classes); validation = last N training
    samples. ``normalization``: "standardize" (one scalar mean and std of the training images
    used, like the published MNIST code's fixed 0.1307 / 0.3081) or "unit" (pixels / 255
    only, as the published Fashion-MNIST code, ``utils.FastFashionMNIST``)."""
    if dataset == "fashion_mnist":
        ds = datasets.load_fashion_mnist(data_dir)
    elif dataset == "mnist":
        ds = datasets.load_mnist(data_dir)
    else:
        ds = datasets.load_mnist_embedded()
    x_train, y_train = ds.x_train, ds.y_train
    if not 0 <= validation < len(x_train):
        raise ValueError(f"validation = {validation}: {ds.name} has only {len(x_train)} training samples")
    x_val, y_val = x_train[len(x_train) - validation:], y_train[len(y_train) - validation:]
    x_train, y_train = x_train[:len(x_train) - validation], y_train[:len(y_train) - validation]
    if train_subset:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    x_test, y_test = (ds.x_test[:test_subset], ds.y_test[:test_subset]) if test_subset else (ds.x_test, ds.y_test)
    dtype = np.dtype(dtype)
    if normalization == "unit":
        x_train, x_val, x_test = (np.asarray(a, dtype=dtype) / dtype.type(255) for a in (x_train, x_val, x_test))
    else:
        x_train, x_val, x_test = datasets.standardize(x_train, x_val, x_test, dtype=dtype)
    return x_train, y_train, x_val, y_val, x_test, y_test, ds.n_classes


def checkpoint_path(output: Path, method_name: str) -> Path:
    """Where a method's checkpoint lives: beside the results file."""
    output = Path(output)
    return output.with_name(f"{output.stem}.{method_name}.checkpoint.h5")


@contextlib.contextmanager
def _batch_bar(n_samples: int, batch: int, description: str):
    """A tqdm bar over the mini-batches of one epoch, showing the batch loss; drawn only
    when stderr is a terminal (log files and CI keep the one line per epoch)."""
    from tqdm.auto import tqdm

    with tqdm(total=-(-n_samples // batch), desc=description, unit="batch", leave=False, disable=None,
              file=sys.stderr) as bar:
        def update(k, loss):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        yield update


def train_classifier(method: dict, experiment: dict, data, epochs: int, seed: int,
                     sleep_epochs: tuple[int, int] | None = None, on_epoch=None, checkpoint: Path | None = None,
                     resume: bool = False) -> dict:
    """Train one method; returns per-epoch arrays (accuracies, losses, times, convergence).

    ``data``: :func:`load_classification_data`'s tuple; ``sleep_epochs``: (before
    training, after every epoch) of learned feedback, default the method's
    (:func:`~dendritic.rate.experiment.feedback_epochs`); ``on_epoch(history)`` after
    every epoch. ``checkpoint``: file written after every epoch
    (:mod:`dendritic.rate.checkpoint`); with ``resume`` and an existing file, training
    continues from it (the same numbers as an uninterrupted run) up to ``epochs``.
    """
    x_train, y_train, x_val, y_val, x_test, y_test, n_classes = data
    dtype = np.dtype(experiment["dtype"])
    network = experiment["network"]
    sizes = [x_train.shape[1]] + [network["hidden_size"]] * network["hidden_layers"] + [n_classes]
    net = build_student(sizes, network, method, dtype, seed)
    rng = np.random.default_rng(seed + 2)
    learner = training.Learner(net, method_config(method, "cross_entropy"), rng)
    init_epochs, extra_epochs = feedback_epochs(method) if sleep_epochs is None else sleep_epochs
    batch = experiment["batch_size"]
    meta = {"method": method["name"], "experiment_file": str(experiment["path"]), "sizes": np.asarray(sizes),
            "seed": np.int64(seed), "n_train": np.int64(len(x_train)), "batch_size": np.int64(batch),
            "dtype": dtype.name, "init_epochs": np.int64(init_epochs), "extra_epochs": np.int64(extra_epochs)}
    history = {k: [] for k in ("train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
                               "epoch_seconds", "converged_fraction")}
    if resume and checkpoint is not None and checkpoint.exists():
        saved_history, extra = checkpoint_module.load(checkpoint, learner, meta,
                                                      extra_keys=("feedback_init_seconds",))
        history.update(saved_history)
        feedback_init_seconds = float(extra["feedback_init_seconds"])
        logger.info("[dfc] %s: resumed from %s after epoch %d", method["name"], checkpoint, len(history["train_loss"]))
    else:
        start = time.perf_counter()
        for k in range(init_epochs):
            training.train_feedback_epoch(learner, x_train, batch, rng, init=True)
            logger.info("[dfc] %s sleep epoch %d/%d: %.1f s", method["name"], k + 1, init_epochs,
                        time.perf_counter() - start)
        feedback_init_seconds = time.perf_counter() - start
    for epoch in range(len(history["train_loss"]), epochs):
        start = time.perf_counter()
        learner.converged_fractions.clear()
        with _batch_bar(len(x_train), batch, f"{method['name']} epoch {epoch + 1}/{epochs}") as bar:
            train_loss = training.train_epoch(learner, x_train, y_train, batch, rng, progress=bar)
        for _ in range(extra_epochs):
            training.train_feedback_epoch(learner, x_train, batch, rng)
        seconds = time.perf_counter() - start
        val = training.evaluate(net, x_val, y_val, "cross_entropy") if len(x_val) else (np.nan, np.nan)
        test = training.evaluate(net, x_test, y_test, "cross_entropy")
        fractions = learner.converged_fractions
        for key, value in (("train_loss", train_loss), ("val_loss", val[0]), ("val_accuracy", val[1]),
                           ("test_loss", test[0]), ("test_accuracy", test[1]), ("epoch_seconds", seconds),
                           ("converged_fraction", np.mean(fractions) if fractions else np.nan)):
            history[key].append(value)
        logger.info("[dfc] %s epoch %d/%d: train loss %.4f, val acc %.4f, test acc %.4f, %.1f s", method["name"],
                    epoch + 1, epochs, train_loss, val[1], test[1], seconds)
        if checkpoint is not None:
            checkpoint_module.save(checkpoint, learner, history, meta,
                                   extra={"feedback_init_seconds": feedback_init_seconds})
        if on_epoch is not None:
            on_epoch(history)
    result = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    result["feedback_init_seconds"] = feedback_init_seconds
    result["rule"] = method["rule"]
    result["feedback"] = method["feedback"]
    return result


def run_classification(experiment: dict, options: RunOptions, output: Path) -> dict:
    """Train the selected methods one after the other on the experiment's data set.

    Returns ``{"config": ..., method name: train_classifier's arrays}``. Checkpoints go
    beside ``output``, the results file the caller writes (:func:`checkpoint_path`); with
    ``options.resume`` every method continues from its checkpoint.
    """
    dataset = options.dataset or experiment["dataset"]
    dtype = np.dtype(experiment["dtype"])
    data = load_classification_data(dataset, options.data_dir, experiment["validation"], dtype,
                                    options.train_subset, options.test_subset, experiment["normalization"])
    epochs = experiment["epochs"] if options.epochs is None else options.epochs
    results = {"config": {"dataset": dataset, "epochs": epochs, "normalization": experiment["normalization"],
                          "n_train": len(data[0]), "n_validation": len(data[2]),
                          "n_test": len(data[4]), "experiment_file": experiment["path"]}}
    for method in selected_methods(experiment, options.methods):
        results[method["name"]] = train_classifier(
            method, experiment, data, epochs, options.seed,
            sleep_epochs=feedback_epochs(method, options.feedback_init_epochs, options.extra_feedback_epochs),
            checkpoint=checkpoint_path(output, method["name"]), resume=options.resume)
    return results
