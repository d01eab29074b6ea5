"""Sweep benchmark of issue 2: a 10-point parameter sweep on cpp_standalone through
``run_args`` (``Backend.sweep``: one code generation and compilation, then the same
binary re-run with ``device.run(run_args=...)`` per point) against the same 10 points
each built and compiled again with the value set in Python.

Network: the throughput benchmark's network (``benchmarks/throughput.py``) with N
pyramidal neurons; the swept parameter is the rate of the Poisson input population
(``ext.rate``, 1-10 Hz), a shared constant of the input group.

Two recompilation baselines (``--baseline``):

* ``incremental`` (default): one build directory; each point is a new Python process
  (as when re-running a script with another value) that builds the circuit with the
  value set in Python and runs it with ``Backend.run``: Brian rewrites only changed
  files and ``make`` recompiles only those (the cheapest way to change a value without
  run_args). The first point compiles from scratch, as the sweep's own first build does.
* ``fresh``: every point in a new build directory (full compilation each time).

Both sides use the same seed, so each point must give identical spikes; the script
checks this.

Usage::

    python benchmarks/run_args_sweep.py                       # N=1000, 1 s, incremental baseline
    python benchmarks/run_args_sweep.py --baseline both       # also 10 fresh builds (~8 min more)

Writes ``data/benchmarks/run_args_sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import BUILD_ROOT, DT, OUT_DIR, SEED, circuit_mapping  # noqa: E402

RATES = [1.0 * (k + 1) for k in range(10)]  # Hz


def collect(circuit) -> dict:
    from brian2 import second

    monitor = circuit.spike_monitors["pyr"]
    t = np.asarray(monitor.t[:] / second)
    i = np.asarray(monitor.i[:])
    return {"spikes": int(len(t)), "checksum": int((i.astype(np.int64) * 7919 + np.rint(t / DT).astype(np.int64)).sum())}


def run_sweep(N: int, duration: float, build_dir: Path) -> dict:
    from brian2 import Hz, second

    from dendritic.backend import Backend
    from dendritic.circuits import build_circuit, circuit_from_mapping

    shutil.rmtree(build_dir, ignore_errors=True)
    spec = circuit_from_mapping(circuit_mapping(N, duration))
    backend = Backend("cpp_standalone", build_dir=build_dir, seed=SEED, dt=DT * second)
    points = [{("ext", "rate"): rate * Hz} for rate in RATES]
    marks = []

    def build(b):
        return build_circuit(spec, b)

    def timed_collect(circuit):
        marks.append(time.perf_counter())
        return collect(circuit)

    start = time.perf_counter()
    results = backend.sweep(build, duration * second, points, timed_collect)
    total = time.perf_counter() - start
    backend.__exit__(None, None, None)
    # marks[0] follows the build (code generation + compile + first run) and the first rerun
    per_point = list(np.diff([start, *marks]))
    return {"total_s": total, "first_point_s": per_point[0], "rerun_s": per_point[1:], "results": results}


def run_point(N: int, duration: float, rate: float, folder: Path) -> dict:
    """One recompiled point (in its own process, like re-running a script with a new value)."""
    from brian2 import get_device, second

    from dendritic.backend import Backend
    from dendritic.circuits import build_circuit, circuit_from_mapping

    spec = circuit_from_mapping(circuit_mapping(N, duration, input_rate=rate))
    backend = Backend("cpp_standalone", build_dir=folder, seed=SEED, dt=DT * second)
    with backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, duration * second)
        result = collect(circuit)
        result["make_s"] = get_device().timers["compile"]["make"]
    return result


def run_recompiles(N: int, duration: float, build_dir: Path, fresh: bool) -> dict:
    """Each point in a new Python process that builds, compiles and runs the network.

    A new process per point, because within one process Brian numbers the objects and
    code objects of every new build differently (``..._codeobject_1``), so nothing can
    be reused; from a fresh process the generated files are identical except where the
    value changed, and ``make`` recompiles only those (``incremental``).
    """
    shutil.rmtree(build_dir, ignore_errors=True)
    times, makes, results = [], [], []
    start = time.perf_counter()
    for k, rate in enumerate(RATES):
        folder = build_dir / f"point{k}" if fresh else build_dir
        point_start = time.perf_counter()
        process = subprocess.run([sys.executable, __file__, "--point", str(N), str(duration), str(rate), str(folder)],
                                 capture_output=True, text=True)
        if process.returncode:
            sys.stderr.write(process.stdout[-3000:] + process.stderr[-3000:])
            raise RuntimeError(f"recompiled point {k} failed")
        result = json.loads(process.stdout.strip().splitlines()[-1])
        times.append(time.perf_counter() - point_start)
        makes.append(result.pop("make_s"))
        results.append(result)
    return {"total_s": time.perf_counter() - start, "point_s": times, "make_s": makes, "results": results}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=1_000)
    parser.add_argument("--duration", type=float, default=1.0, help="simulated seconds per point")
    parser.add_argument("--baseline", choices=["incremental", "fresh", "both"], default="incremental")
    parser.add_argument("--output", type=Path, default=OUT_DIR / "run_args_sweep.json")
    parser.add_argument("--point", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        N, duration, rate, folder = args.point
        print(json.dumps(run_point(int(N), float(duration), float(rate), Path(folder))))
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    load = [os.getloadavg()[0]]

    print(f"sweep: ext.rate = {RATES[0]:g}..{RATES[-1]:g} Hz, N = {args.neurons}, {args.duration} s per point",
          flush=True)
    sweep = run_sweep(args.neurons, args.duration, BUILD_ROOT / "bench-sweep")
    print(f"  run_args sweep: {sweep['total_s']:.1f} s", flush=True)
    baselines = {}
    for mode in (["incremental", "fresh"] if args.baseline == "both" else [args.baseline]):
        baselines[mode] = run_recompiles(args.neurons, args.duration, BUILD_ROOT / f"bench-sweep-{mode}",
                                         fresh=mode == "fresh")
        print(f"  10 recompiles ({mode}): {baselines[mode]['total_s']:.1f} s", flush=True)
    load.append(os.getloadavg()[0])

    print()
    header = f"{'rate Hz':>7} {'spikes (sweep)':>14} {'sweep s':>8}"
    for mode in baselines:
        header += f" {'spikes (' + mode + ')':>20} {mode + ' s':>14} {'make s':>7}"
    print(header)
    for k, rate in enumerate(RATES):
        line = f"{rate:>7g} {sweep['results'][k]['spikes']:>14} "
        line += f"{(sweep['first_point_s'] if k == 0 else sweep['rerun_s'][k - 1]):>8.2f}"
        for mode, b in baselines.items():
            line += f" {b['results'][k]['spikes']:>20} {b['point_s'][k]:>14.2f} {b['make_s'][k]:>7.2f}"
        print(line)
    print(f"{'total':>7} {'':>14} {sweep['total_s']:>8.1f}" +
          "".join(f" {'':>20} {b['total_s']:>14.1f} {'':>7}" for b in baselines.values()))
    print("(sweep, first row: code generation + compilation + first run + first rerun)")
    summary = {}
    for mode, b in baselines.items():
        identical = all(x == y for x, y in zip(sweep["results"], b["results"]))
        ratio = b["total_s"] / sweep["total_s"]
        marginal = np.mean(b["point_s"][1:]) / np.mean(sweep["rerun_s"])
        summary[mode] = {"ratio": ratio, "marginal_ratio": float(marginal), "identical_spikes": identical}
        print(f"{mode}: 10 recompiles / run_args sweep = {ratio:.1f}x (goal >= 5x: "
              f"{'met' if ratio >= 5 else 'NOT met'}); per extra point rebuild / rerun = {marginal:.1f}x; "
              f"identical spikes at every point: {identical}")
    from dendritic.io import write_json

    payload = {"neurons": args.neurons, "duration_s": args.duration, "parameter": "ext.rate", "rates_hz": RATES,
               "sweep": sweep, "recompiles": baselines, "summary": summary, "load_average_1min": load,
               "command": " ".join([Path(sys.executable).name, *sys.argv])}
    write_json(args.output, payload, indent=1, default=float)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
