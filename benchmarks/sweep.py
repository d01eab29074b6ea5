"""Speed of ``dendritic sweep`` (issue 20): a 10-point sweep whose points differ only in
data (the feedforward weight of ``models/networks/population.toml``: 200 pyramidal
neurons, ``--duration`` simulated each, cpp_standalone) against 10 sequential
``dendritic run`` calls that each compile their own build.

Reported: ``sequential_s`` (10 runs, 10 compiles), ``cold_1_worker_s`` (the sweep with
an empty binary cache: one compile), ``warm_1_worker_s`` and ``warm_2_workers_s`` (the
binary cached), the speed-ups (goals: >= 8x against recompiling, >= 1.8x from the
second worker), the mean point time inside the worker, the cluster start-up, and the
scheduling overhead per point (goal < 0.5 s): (sweep wall - cluster start-up) / points -
mean point time / workers.

Usage::

    python benchmarks/sweep.py                     # duration "2 s"
    python benchmarks/sweep.py --duration "5 s"

Writes ``benchmarks/results/sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
VALUES = [f"{0.2 * (k + 1):.1f} mV" for k in range(10)]


def _sweep(folder: Path, duration: str, workers: int) -> tuple[float, list[dict]]:
    from dendritic.sweep import run_sweep

    start = time.perf_counter()
    rows = run_sweep("population", ["connections[0].weight=" + ",".join(VALUES)], [1], folder,
                     extra=["--target", "cpp_standalone", "--duration", duration], workers=workers, progress=False)
    wall = time.perf_counter() - start
    assert all(r["status"] == "done" for r in rows), rows
    return wall, rows


def _cluster_start(workers: int) -> float:
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.close()
    cluster.close()
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="2 s")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        start = time.perf_counter()
        for k, value in enumerate(VALUES):
            subprocess.run([sys.executable, "-m", "dendritic", "run", "population", "--target", "cpp_standalone",
                            "--duration", args.duration, "--set", f"connections[0].weight={value}", "--no-plot",
                            "--output", str(scratch / "sequential" / f"{k}.h5"), "--build-dir",
                            str(scratch / "sequential" / f"build{k}")], check=True, env=env, capture_output=True)
        sequential = time.perf_counter() - start
        cold, _ = _sweep(scratch / "cold", args.duration, 1)
        warm = {}
        point_s = {}
        for workers in (1, 2):
            folder = scratch / f"warm{workers}"
            folder.mkdir()
            shutil.copytree(scratch / "cold" / "builds", folder / "builds")
            warm[workers], rows = _sweep(folder, args.duration, workers)
            assert not any(r["compiled"] == "True" for r in rows)
            point_s[workers] = sum(float(r["wall_s"]) for r in rows) / len(rows)
        startup = {w: _cluster_start(w) for w in (1, 2)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    overhead = {w: (warm[w] - startup[w]) / len(VALUES) - point_s[w] / w for w in (1, 2)}
    result = {"points": len(VALUES), "duration": args.duration, "sequential_s": sequential, "cold_1_worker_s": cold,
              "warm_1_worker_s": warm[1], "warm_2_workers_s": warm[2], "speedup_vs_recompiling": sequential / cold,
              "speedup_second_worker": warm[1] / warm[2], "mean_point_s": point_s, "cluster_startup_s": startup,
              "overhead_per_point_s": overhead, "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))
    print(f"\n10 points: sequential with compiles {sequential:.1f} s; sweep cold {cold:.1f} s "
          f"({sequential / cold:.1f}x); warm 1 worker {warm[1]:.1f} s, 2 workers {warm[2]:.1f} s "
          f"({warm[1] / warm[2]:.2f}x); overhead per point {overhead[1]:.2f} s (1 worker), {overhead[2]:.2f} s (2)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
