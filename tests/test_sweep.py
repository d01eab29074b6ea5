"""``dendritic sweep`` (issue 20): a grid of values and seeds on a Dask LocalCluster.
Every point's results equal the same point run alone; points that differ only in data
share one compiled binary; a worker killed mid-sweep costs only its point; a bad key
fails before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dendritic.cli import main
from dendritic.io import read_attributes, read_results
from dendritic.sweep import Point, grid, read_index, run_sweep, split_values

ROOT = Path(__file__).resolve().parent.parent
POINT = ["--target", "cpp_standalone", "--duration", "100 ms", "--neurons", "20"]
WEIGHTS = "connections[0].weight=0.5 mV,1 mV,2 mV"


def test_values_split_at_commas_outside_brackets_and_quotes():
    assert split_values('0.5 mV,1 mV, 2 mV') == ["0.5 mV", "1 mV", "2 mV"]
    assert split_values('["a", "b,c"],[1, 2]') == ['["a", "b,c"]', "[1, 2]"]
    points = grid(["a=1,2", "b=x,y,z"], [1, 2])
    assert len(points) == 12 and points[0] == Point((("a", "1"), ("b", "x")), 1)
    assert len({p.name for p in points}) == 12


def _alone(tmp_path: Path, point: Point, target: str) -> dict:
    """The point run by itself with ``dendritic run`` (its own build, the seed compiled in)."""
    output = tmp_path / "alone" / f"{point.name}_{target}.h5"
    options = ["--target", target, "--duration", "100 ms", "--neurons", "20"]
    code = main(["run", "population", *options, *point.argv(), "--no-plot", "--output", str(output),
                 "--build-dir", str(tmp_path / "alone" / "build")])
    assert code == 0
    return read_results(output)["spikes"]["pyramidal"]


@pytest.mark.standalone
def test_a_two_worker_sweep_equals_its_points_run_alone_and_compiles_once(tmp_path):
    folder = tmp_path / "sweep"
    rows = run_sweep("population", [WEIGHTS], [1, 2], folder, extra=POINT, workers=2, progress=False)
    assert [row["status"] for row in rows] == ["done"] * 6
    assert sorted(str(row["compiled"]) for row in rows) == ["False"] * 5 + ["True"]  # one compile
    assert len([d for d in (folder / "builds").iterdir() if d.is_dir()]) == 1
    points = grid([WEIGHTS], [1, 2])
    rates = {}
    for point in points:
        spikes = read_results(folder / "points" / f"{point.name}.h5")["spikes"]["pyramidal"]
        assert read_attributes(folder / "points" / f"{point.name}.h5")["seed"] == point.seed
        alone = _alone(tmp_path, point, "numpy")  # the package's targets agree spike for spike
        assert len(alone["i"]) > 0
        np.testing.assert_array_equal(np.asarray(spikes["i"]), np.asarray(alone["i"]))
        np.testing.assert_allclose(np.asarray(spikes["t"]), np.asarray(alone["t"]))
        rates[point] = len(alone["i"]) / (20 * 0.1)
    # and one point against a standalone run of its own, with the seed compiled in
    alone = _alone(tmp_path, points[3], "cpp_standalone")
    swept = read_results(folder / "points" / f"{points[3].name}.h5")["spikes"]["pyramidal"]
    np.testing.assert_array_equal(np.asarray(swept["i"]), np.asarray(alone["i"]))
    index = {row["point"]: row for row in read_index(folder)}
    for point, rate in rates.items():
        assert float(index[point.name]["rate_pyramidal_Hz"]) == pytest.approx(rate)
    assert (folder / "summary.png").stat().st_size > 5_000
    # invoked again: every point is done, nothing runs
    start = time.perf_counter()
    again = run_sweep("population", [WEIGHTS], [1, 2], folder, extra=POINT, workers=2, progress=False)
    assert [row["status"] for row in again] == ["done"] * 6
    assert time.perf_counter() - start < 20  # no cluster started, no build


def _workers(parent: int) -> list[int]:
    """Dask worker processes below ``parent`` (the spawned children of its nannies)."""
    children = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append((int(proc.name), cmdline))
    found, stack = [], [parent]
    while stack:
        pid = stack.pop()
        for child, cmdline in children.get(pid, []):
            stack.append(child)
            if "multiprocessing" in cmdline:
                found.append(child)
    return found


@pytest.mark.standalone
def test_a_worker_killed_mid_sweep_costs_only_its_point(tmp_path):
    folder = tmp_path / "sweep"
    argv = [sys.executable, "-m", "dendritic", "sweep", "population", "--set", WEIGHTS, "--seeds", "1-3",
            "--workers", "2", "--output", str(folder), "--", "--target", "cpp_standalone", "--duration", "3 s",
            "--neurons", "20"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 600
    while time.time() < deadline and not any(r["status"] == "done" for r in read_index(folder)):
        time.sleep(0.5)
    workers = _workers(process.pid)
    assert workers, "no Dask worker process found"
    os.kill(workers[-1], signal.SIGKILL)  # mid-sweep: the other points are running or waiting
    process.communicate(timeout=900)
    code, _, err = _run(argv, env)
    assert code == 0, err
    rows = read_index(folder)
    points = grid([WEIGHTS], [1, 2, 3])
    assert sorted(r["point"] for r in rows) == sorted(p.name for p in points)  # every point once
    assert all(r["status"] == "done" for r in rows)
    for point in points:
        results = read_results(folder / "points" / f"{point.name}.h5")
        assert len(results["spikes"]["pyramidal"]["i"]) > 0
    assert not list((folder / "points").glob(".*.tmp")) and not list(folder.glob(".*.tmp"))


def _run(argv, env):
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    return done.returncode, done.stdout, done.stderr


def test_a_bad_key_or_value_fails_before_anything_runs(tmp_path, capsys):
    folder = tmp_path / "sweep"
    code = main(["sweep", "population", "--set", "connections[0].nonsense=1,2", "--output", str(folder), "--",
                 "--target", "numpy"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "connections[0].nonsense" in lines[0], err
    code = main(["sweep", "population", "--set", "connections[0].weight=1 mV,2 parsec", "--output", str(folder)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "connections[0].weight" in lines[0]
    assert not (folder / "index.csv").exists() and not (folder / "points").exists()


def test_portable_builds_leave_out_march_native(tmp_path):
    from brian2 import prefs

    from dendritic.backend import Backend

    with Backend("cpp_standalone", build_dir=tmp_path / "b", portable=True):
        assert "-march=native" not in prefs.codegen.cpp.extra_compile_args_gcc
    with Backend("cpp_standalone", build_dir=tmp_path / "b"):
        assert "-march=native" in prefs.codegen.cpp.extra_compile_args_gcc


def test_the_code_digest_ignores_the_order_of_clock_resets_only(tmp_path):
    from dendritic.backend import code_digest

    lines = ["int main() {", "    _array_a_clock_t[0] = 0.0;", "    _array_defaultclock_t[0] = 0.0;", "    f();", "}"]
    variants = {"same": lines, "swapped": [lines[0], lines[2], lines[1], *lines[3:]],
                "other": [*lines[:3], "    g();", lines[4]]}
    digests = {}
    for name, text in variants.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.cpp").write_text("\n".join(text))
        digests[name] = code_digest(tmp_path / name, ["main.cpp"])
    assert digests["same"] == digests["swapped"] != digests["other"]


@pytest.mark.slow
@pytest.mark.standalone
def test_points_that_change_the_code_get_builds_of_their_own(tmp_path):
    folder = tmp_path / "sweep"
    rows = run_sweep("population", ["populations[0].N=10,15"], [1], folder,
                     extra=["--target", "cpp_standalone", "--duration", "20 ms"], workers=1, progress=False)
    assert [row["status"] for row in rows] == ["done", "done"]
    assert [str(row["compiled"]) for row in rows] == ["True", "True"]
    assert len([d for d in (folder / "builds").iterdir() if d.is_dir()]) == 2
    sizes = [int(read_results(folder / "points" / f"{row['point']}.h5")["spikes"]["pyramidal"]["N"]) for row in rows]
    assert sizes == [10, 15]
