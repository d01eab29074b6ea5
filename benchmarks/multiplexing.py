"""Benchmark of issue 4: wall time and simulated seconds per wall-clock second of the
full-size multiplexing circuit (Payeur et al. 2021, Fig. 3: 2 x 4,000 bursting
pyramidal neurons, 1,000 PV, 1,000 SOM, p = 0.05, 12 private Poisson inputs per
population; 1 s burn-in + 3 s) on cython and cpp_standalone, one core.

Each target runs in its own Python process (clean device state). Reported per target:

* ``build_circuit_s``: creating the Brian objects and drawing the connectivity;
* ``compile_s``: cython: set-up time of ``network.run`` (code generation and Cython
  compilation, or loading cached extensions); standalone: ``make``;
* ``run_s``: the simulation loop alone (cython: Brian's loop timer; standalone: the
  binary's own timer, ``results/last_run_info.txt``);
* ``wall_s``: everything, from building the circuit to having the results in Python;
* ``sim_per_wall``: simulated seconds / ``run_s`` (> 1: faster than real time);
  standalone also ``binary_wall_s``, ``binary_peak_rss_mb`` (``/usr/bin/time``) and
  ``sim_per_binary_wall`` (simulated seconds per second of the whole binary);
* the Fig. 3 correlations of the run, as a check that the benchmark ran the model.

Usage::

    python benchmarks/multiplexing.py                         # cython and cpp_standalone, 4,000 / population
    python benchmarks/multiplexing.py --targets cpp_standalone --neurons 1000
    python benchmarks/multiplexing.py --targets cpp_standalone --threads 2    # OpenMP, both cores
    python benchmarks/multiplexing.py --targets cpp_standalone --engine vectorised  # issue 22 engines

Writes ``data/benchmarks/multiplexing.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "benchmarks"


def measure(target: str, neurons: int, build_dir: Path, threads: int = 0, engine: str = "reference",
            profile: bool = False) -> dict:
    import brian2
    from brian2 import second

    from dendritic.backend import Backend
    from dendritic import circuits
    from dendritic.bursts.multiplexing import analyse, correlations
    from dendritic.experiments import multiplexing

    spec = multiplexing.load_circuit("multiplexing")
    if neurons != spec.values["populations"][0]["N"]:
        spec = spec.resized(neurons)
    run = spec.values["run"]
    simulated = float(run["burn_in"] + run["duration"])
    result = {"target": target, "neurons_per_population": neurons, "openmp_threads": threads, "engine": engine,
              "sizes": {p["name"]: p["N"] for p in spec.values["populations"]}, "simulated_s": simulated}
    backend = Backend(target, build_dir=build_dir, seed=run["seed"], dt=run["dt"], threads=threads,
                      engine=engine if target == "cpp_standalone" else "reference", profile=profile)
    wall_start = time.perf_counter()
    time_file = Path(build_dir).resolve() / "binary_time.txt"
    with backend:
        if target == "cpp_standalone":  # the binary's wall time and peak memory
            brian2.prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%e %M", "-o",
                                                                str(time_file), "./main"]
        start = time.perf_counter()
        circuit = circuits.build_circuit(spec, backend, duration=simulated * second)
        result["build_circuit_s"] = time.perf_counter() - start
        result["synapses"] = int(sum(len(obj) for obj in circuit.network.objects
                                     if isinstance(obj, brian2.Synapses)))
        start = time.perf_counter()
        backend.run(circuit.network, simulated * second)
        total = time.perf_counter() - start
        device = brian2.get_device()
        if target == "cpp_standalone":
            timers = device.timers
            make = (timers["compile"]["make"] or 0.0) + (timers["compile"]["clean"] or 0.0)
            loop = float((build_dir / "results" / "last_run_info.txt").read_text().split()[0])
            elapsed, peak_kb = time_file.read_text().split()[-2:]
            result.update(codegen_s=total - make - timers["run_binary"], compile_s=make,
                          binary_wall_s=float(elapsed), binary_peak_rss_mb=int(peak_kb) / 1024, run_s=loop,
                          sim_per_binary_wall=simulated / float(elapsed))
        else:
            loop = float(device._last_run_time)
            result.update(compile_s=total - loop, run_s=loop)
        if profile:
            info = circuit.network.profiling_info
            total = sum(float(t) for _, t in info)
            result["profile"] = {name: float(t) / total for name, t in info}
        raw = {"spikes": circuit.spike_records(), "stimuli": circuit.stimuli}
        if target == "cpp_standalone":  # for spike-by-spike comparisons of engines
            import numpy as np

            np.savez_compressed(Path(build_dir) / "spikes.npz", **{f"{name}.{key}": value
                                                                     for name, r in raw["spikes"].items()
                                                                     for key, value in r.items()})
    result["wall_s"] = time.perf_counter() - wall_start
    result["sim_per_wall"] = simulated / result["run_s"]
    result["spikes"] = {name: int(len(r["t"])) for name, r in raw["spikes"].items()}
    result["correlations"] = correlations(analyse(raw, spec))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=["cython", "cpp_standalone"],
                        choices=["numpy", "cython", "cpp_standalone"])
    parser.add_argument("--neurons", type=int, default=4000, help="pyramidal neurons per population")
    parser.add_argument("--threads", type=int, default=0,
                        help="OpenMP threads of the standalone binary (default 0: one core, the goal's setting)")
    parser.add_argument("--engine", default="reference",
                        help="standalone engine setting (dendritic.backend.ENGINES; default reference)")
    parser.add_argument("--profile", action="store_true", help="Brian's per-code-object profile")
    parser.add_argument("--output", type=Path, default=OUT_DIR / "multiplexing.json")
    parser.add_argument("--worker", nargs=2, metavar=("TARGET", "BUILD_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        target, build_dir = args.worker
        print("RESULT " + json.dumps(measure(target, args.neurons, Path(build_dir), args.threads, args.engine,
                                             args.profile)), flush=True)
        return 0

    results = []
    for target in args.targets:
        build_dir = ROOT / "data" / "build" / f"benchmark_multiplexing_{args.neurons}_{args.engine}_t{args.threads}"
        print(f"{target}: running (this includes compilation) ...", flush=True)
        process = subprocess.run([sys.executable, __file__, "--neurons", str(args.neurons), "--threads",
                                  str(args.threads), "--engine", args.engine, "--worker", target, str(build_dir)]
                                 + (["--profile"] if args.profile else []),
                                 capture_output=True, text=True, env=os.environ.copy())
        lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
        if process.returncode != 0 or not lines:
            print(process.stdout[-2000:], process.stderr[-4000:], file=sys.stderr)
            return 1
        result = json.loads(lines[-1][len("RESULT "):])
        results.append(result)
        print(f"{target}: wall {result['wall_s']:.1f} s (build {result['build_circuit_s']:.1f} s, "
              f"compile {result['compile_s']:.1f} s, loop {result['run_s']:.1f} s); "
              f"{result['sim_per_wall']:.3f} simulated s per s", flush=True)
        for key, value in result["correlations"].items():
            print(f"    r({key}) = {value:.3f}")
    from dendritic.io import machine, write_json

    write_json(args.output, {"machine": machine(), "results": results})
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
