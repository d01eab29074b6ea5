"""Runs a researcher can trust (issue 18): each numbered case of the issue reproduced,
and the new behaviour checked: the exit code, one line on stderr, the previous result
intact, no temporary files left, concurrent runs each holding their own seed's data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from dendritic.cli import main
from dendritic.io import read_attributes, read_results, remove_stale_temporaries, write_results

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, cwd=None, timeout=600):
    """``python -m dendritic ARGS`` in a fresh process: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "dendritic", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout, done.stderr


def one_line(stderr: str) -> str:
    """The only line of ``stderr`` that is not a progress bar or a log line of the run."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("dendritic: [")]
    errors = [line for line in lines if line.startswith("dendritic: ") and not line.startswith(
        ("dendritic: standalone build", "dendritic: generating", "dendritic: compiling", "dendritic: running"))]
    assert "Traceback" not in stderr, stderr
    assert len(errors) == 1, stderr
    return errors[0]


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


# -- case 3 and 6: one line, exit 2, for every expected mistake -----------------------------------

POPULATION = ["run", "population", "--target", "numpy", "--duration", "10 ms", "--no-plot"]


@pytest.mark.parametrize("args, words", [
    (POPULATION + ["--set", 'record.states[0].variables=["nonsense"]'], ["record.states[0].variables", "nonsense"]),
    (POPULATION + ["--set", "connections[0].fan_in=1000"], ["connections[0].fan_in", "at most the 100"]),
    (["run", "population", "--target", "numpy", "--duration", "10 mV"], ["--duration", "a time"]),
    (["run", "population", "--target", "numpy", "--duration", "-1 s"], ["--duration", "positive"]),
    (POPULATION + ["--neurons", "0"], ["--neurons", ">= 1"]),
    (POPULATION + ["--neurons", "-3"], ["--neurons", ">= 1"]),
    (POPULATION + ["--set", 'connections[0].weight="1e400 mV"'], ["connections[0].weight", "finite"]),
    (POPULATION + ["--set", 'run.dt="1 s"'], ["run.dt", "shorter than the simulated time"]),
    (POPULATION + ["--neurons", "1000000000"], ["GiB", "available"]),
    (["run", "plasticity-protocol", "--duration", "5 mV"], ["--duration", "a time"]),
    (["run", "dfc", "--epochs", "-3"], ["--epochs", ">= 0"]),
])
def test_expected_mistakes_are_one_line_with_exit_2(tmp_path, capsys, args, words):
    code = main([*args, "--output", str(tmp_path / "out.h5")])
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert code == 2, captured.err
    for word in words:
        assert word in line, line
    assert not (tmp_path / "out.h5").exists() and not temporaries(tmp_path)


def test_a_missing_dataset_is_one_line_naming_the_folder(tmp_path, capsys):
    missing = tmp_path / "no-such-folder"
    code = main(["run", "dfc", "--config", "dfc_fashion_mnist", "--data-dir", str(missing), "--output",
                 str(tmp_path / "dfc.h5")])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and str(missing) in line


def test_resume_from_a_checkpoint_of_other_settings_is_one_line(tmp_path, capsys):
    output = tmp_path / "dfc.h5"
    quick = ["run", "dfc", "--config", "dfc_mnist", "--methods", "bp", "--epochs", "1", "--train-subset", "200",
             "--test-subset", "100", "--no-plot", "--output", str(output)]
    assert main(quick) == 0
    capsys.readouterr()
    code = main([*quick, "--resume", "--seed", "5"])  # the checkpoint holds seed 0's run
    line = one_line(capsys.readouterr().err)
    assert code == 2 and "checkpoint" in line


@pytest.mark.parametrize("kind", ["missing", "not_hdf5", "truncated", "foreign", "folder"])
def test_show_reports_bad_files_in_one_line(tmp_path, capsys, kind):
    path = tmp_path / "run.h5"
    if kind == "not_hdf5":
        path.write_text("hello\n")
    elif kind == "truncated":
        write_results(tmp_path / "good.h5", {"x": np.arange(10_000.0)}, {"seed": 1})
        path.write_bytes((tmp_path / "good.h5").read_bytes()[:3000])
    elif kind == "foreign":
        with h5py.File(path, "w") as f:
            f["data"] = np.arange(3)
    elif kind == "folder":
        path.mkdir()
    code = main(["show", str(path)])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and str(path) in line
    expected = {"missing": "no such results file", "not_hdf5": "not an HDF5 file", "truncated": "truncated",
                "foreign": "not written by dendritic", "folder": "is a folder"}[kind]
    assert expected in line


def test_show_reads_a_good_file(tmp_path, capsys):
    write_results(tmp_path / "good.h5", {"x": np.arange(3.0)}, {"seed": 1})
    assert main(["show", str(tmp_path / "good.h5")]) == 0
    assert "x: shape (3,)" in capsys.readouterr().out


# -- case 4: the output folder is checked before anything runs ------------------------------------

def test_an_unwritable_output_is_refused_before_the_simulation(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    start = time.perf_counter()
    code = main(["run", "population", "--target", "numpy", "--duration", "1000 s", "--output", str(blocker / "x.h5")])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and "cannot write there" in line and str(blocker / "x.h5") in line
    assert time.perf_counter() - start < 30  # 1000 s on numpy would take hours


# -- case 2: SIGINT and SIGTERM end the run, nothing is written over the previous result ------

def _start(args, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dendritic", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            **options)


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 300) -> str:
    """stderr of ``process`` up to the first line containing ``text``."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never appeared; stderr: {''.join(seen)}")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_the_previous_result_and_exits_130(tmp_path, signal_number):
    output = tmp_path / "population.h5"
    code, _, err = cli("run", "population", "--target", "numpy", "--duration", "20 ms", "--neurons", "10",
                       "--output", output)
    assert code == 0, err
    before = output.read_bytes(), output.with_suffix(".png").read_bytes()
    process = _start(["run", "population", "--target", "numpy", "--duration", "1000 s", "--neurons", "10",
                      "--output", output])
    _wait_for(process, "simulating")
    time.sleep(1.0)
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    line = one_line(err)
    assert signal.Signals(signal_number).name in line and "left as it was" in line
    assert (output.read_bytes(), output.with_suffix(".png").read_bytes()) == before
    assert not temporaries(tmp_path)


# -- case 5: temporary files of killed processes; results and figure as a pair ---------------------

def test_temporary_files_of_dead_processes_are_removed_at_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".run.h5.{dead.pid}.abc123.tmp"
    stale.write_text("half a file")
    alive = tmp_path / f".run.h5.{os.getppid()}.def456.tmp"  # a living process's file stays
    alive.write_text("being written")
    write_results(tmp_path / "other.h5", {"x": np.zeros(2)})
    assert not stale.exists() and alive.exists()
    assert remove_stale_temporaries(tmp_path) == []


def test_a_kill_between_the_results_and_the_figure_never_pairs_new_results_with_an_old_figure(
        tmp_path, capsys, monkeypatch):
    import dendritic.io as io

    output = tmp_path / "population.h5"
    run = ["run", "population", "--target", "numpy", "--duration", "20 ms", "--neurons", "10", "--output", str(output)]
    assert main([*run, "--seed", "1"]) == 0
    old_figure = output.with_suffix(".png").read_bytes()
    replace = os.replace
    calls = []

    def replace_then_die(source, destination):
        if Path(destination).parent == tmp_path:
            calls.append(Path(destination))
        replace(source, destination)
        if Path(destination) == output:  # killed right after the results were renamed into place
            raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "replace", replace_then_die)
    assert main([*run, "--seed", "2"]) == 130
    assert calls == [output]
    assert read_attributes(output)["seed"] == 2
    figure = output.with_suffix(".png")
    assert not figure.exists() or figure.read_bytes() != old_figure
    assert not temporaries(tmp_path)


# -- case 1 and 8: concurrent standalone runs in one build folder; the phases announced -----------

def test_concurrent_standalone_runs_in_one_build_folder_keep_their_own_seeds(tmp_path):
    build = tmp_path / "build"
    runs = {seed: tmp_path / f"seed{seed}.h5" for seed in (3, 4)}
    common = ["run", "population", "--target", "cpp_standalone", "--duration", "100 ms", "--neurons", "20",
              "--no-plot", "--build-dir", build]
    processes = {seed: _start([*common, "--seed", seed, "--output", path]) for seed, path in runs.items()}
    errors = {}
    for seed, process in processes.items():
        _, errors[seed] = process.communicate(timeout=900)
        assert process.returncode == 0, errors[seed]
    both = "".join(errors.values())
    assert "in use by process" in both  # the second run waited for the first
    for phase in ("generating code", "compiling", "running"):
        assert phase in both
    for seed, path in runs.items():
        assert read_attributes(path)["seed"] == seed
        reference = tmp_path / f"numpy{seed}.h5"
        code, _, err = cli("run", "population", "--target", "numpy", "--duration", "100 ms", "--neurons", "20",
                           "--no-plot", "--seed", seed, "--output", reference)
        assert code == 0, err
        got, expected = read_results(path)["spikes"]["pyramidal"], read_results(reference)["spikes"]["pyramidal"]
        assert len(expected["i"]) > 0
        np.testing.assert_array_equal(np.asarray(got["i"]), np.asarray(expected["i"]))
        np.testing.assert_allclose(np.asarray(got["t"]), np.asarray(expected["t"]))
    assert not np.array_equal(read_results(runs[3])["spikes"]["pyramidal"]["i"],
                              read_results(runs[4])["spikes"]["pyramidal"]["i"])


def test_sigterm_during_a_standalone_run_kills_the_binary(tmp_path):
    build = tmp_path / "build"
    output = tmp_path / "population.h5"
    process = _start(["run", "population", "--target", "cpp_standalone", "--duration", "2000 s", "--neurons", "20",
                      "--no-plot", "--build-dir", build, "--output", output])
    _wait_for(process, "dendritic: running", timeout=900)
    time.sleep(2.0)  # the binary has started (its progress goes to stdout)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "SIGTERM" in one_line(err)
    assert not output.exists()
    time.sleep(0.5)
    binaries = [p for p in Path("/proc").glob("[0-9]*") if _cwd(p) == build.resolve()]
    assert binaries == []


def _cwd(proc: Path):
    try:
        return Path(os.readlink(proc / "cwd")).resolve()
    except OSError:
        return None


def test_the_runtime_progress_bar_is_drawn_twice_in_a_log(tmp_path):
    code, _, err = cli("run", "population", "--target", "numpy", "--duration", "50 ms", "--neurons", "10",
                       "--no-plot", "--output", tmp_path / "p.h5")
    assert code == 0, err
    assert err.count("simulating:") == 2  # at the start and at the end, not at every report


# -- case 7: defaults that finish in minutes; no option a run ignores ---------------------------

def test_the_dfc_default_runs_on_the_embedded_digits_in_a_few_epochs():
    from dendritic.cli import build_parser
    from dendritic.experiments import dfc

    parser = build_parser()
    config = dfc.configure(parser.parse_args(["run", "dfc"]))
    assert config.experiment["dataset"] == "mnist_embedded" and config.experiment["epochs"] <= 2
    help_text = parser._subparsers._group_actions[0].choices["run"]._subparsers._group_actions[0].choices[
        "dfc"].format_help()
    assert "--target" not in help_text
    for long_config in ("dfc_mnist", "dfc_fashion_mnist", "dfc_toy"):
        assert long_config in help_text
    assert "1-4 h" in help_text
