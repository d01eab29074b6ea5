"""Engine benchmark of issue 22: the XOR network of Payeur et al. 2021 (Fig. 4,
``models/networks/xor.toml``: 5 x 500 burst-Poisson neurons, 20 private Poisson
backgrounds, ~800k synapses, six BDSP connections) on ``cpp_standalone``.

The example schedule is constant: ``xor_input1`` = +150 pA ("1"), ``xor_input2`` =
-350 pA ("0"), the learning gate ``xor_learning`` open for the last 10 % of the run, so
the plastic synapses do their work in the benchmark too. Each configuration is built
and run in its own Python process (clean device state). Reported per run:

* ``build_circuit_s``: creating the Brian objects, drawing the connectivity (Python);
* ``codegen_s``: code generation and writing the project;
* ``compile_s``: ``make`` (with ``-j2``), measured separately;
* ``loop_s``: the simulation loop as the binary times it (``last_run_info.txt``):
  CPU time of the loop without OpenMP (Brian's ``std::clock``), wall time with OpenMP
  (``omp_get_wtime``);
* ``binary_wall_s``: wall time of the whole binary (``/usr/bin/time``: loop plus
  loading and writing arrays), ``binary_peak_rss_mb`` its peak resident memory;
* ``sim_per_wall``: simulated seconds per second of the binary's wall time (the
  conservative figure), ``sim_per_loop``: per second of ``loop_s``;
* with ``--profile``: Brian's per-code-object profile (fraction of the loop per code
  object, summed over groups by template).

The spike records of each build are saved as ``spikes.npz`` in its build folder (for
:func:`compare_spikes` and ``benchmarks/engine_equivalence.py``).

Usage::

    python benchmarks/engine_xor.py                          # 10 s simulated, one core
    python benchmarks/engine_xor.py --threads 2              # OpenMP, both cores
    python benchmarks/engine_xor.py --profile --duration 5
    python benchmarks/engine_xor.py --engine fast            # see dendritic.backend.ENGINES
    python benchmarks/engine_xor.py --repeat 3 --engine reference fast   # paired, alternating

Writes ``benchmarks/results/engine_xor.json`` (and ``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess

import numpy as np
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

CIRCUIT_RUN_KEYS = ("dt", "duration", "seed", "synaptic_delay", "initial_potential_sd", "background_probability",
                    "connection_order")


def xor_spec(neurons: int | None = None, seed: int | None = None):
    """The circuit of ``models/networks/xor.toml`` (the experiment's extra ``[run]`` keys set
    aside), optionally resized and reseeded."""
    from dendritic import config as cfg
    from dendritic.circuits import circuit_from_mapping

    path = cfg.resolve_model_file("xor", "networks")
    raw = cfg.read_toml(path)
    raw["run"] = {key: value for key, value in raw["run"].items() if key in CIRCUIT_RUN_KEYS}
    if seed is not None:
        raw["run"]["seed"] = int(seed)
    spec = circuit_from_mapping(raw, source=path, relative_to=path.parent)
    if neurons is not None and neurons != spec.values["populations"][0]["N"]:
        spec = spec.resized(neurons)
    return spec


def schedule(duration: float, input1: float = 150.0, input2: float = -350.0, learning_fraction: float = 0.1):
    """Constant inputs (pA) and a learning gate open for the last ``learning_fraction``."""
    import numpy as np
    from brian2 import TimedArray, pA, second

    bins = int(round(1 / learning_fraction)) if learning_fraction > 0 else 1
    gate = np.zeros(bins)
    if learning_fraction > 0:
        gate[-1] = 1.0
    step = duration / bins * second
    return {"xor_input1": TimedArray(np.full(bins, input1) * pA, dt=step),
            "xor_input2": TimedArray(np.full(bins, input2) * pA, dt=step),
            "xor_learning": TimedArray(gate, dt=step)}


def run_xor(duration: float, build_dir: Path, seed: int = 1, threads: int = 0, engine: str = "reference",
            neurons: int | None = None, profile: bool = False, record_weights: bool = False) -> dict:
    """Build, compile and run the XOR circuit; timings, spike records and (optionally) the
    final plastic weights."""
    import brian2
    from brian2 import prefs, second

    from dendritic import circuits
    from dendritic.backend import Backend

    build_dir = Path(build_dir).resolve()
    spec = xor_spec(neurons, seed)
    run = spec.values["run"]
    backend = Backend("cpp_standalone", build_dir=build_dir, seed=run["seed"], dt=run["dt"], threads=threads,
                      engine=engine, profile=profile)
    result = {"engine": engine, "openmp_threads": threads, "seed": int(run["seed"]), "simulated_s": duration,
              "sizes": {p["name"]: p["N"] for p in spec.values["populations"]}}
    with backend:
        time_file = Path(build_dir) / "binary_time.txt"
        prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(time_file),
                                                     "./main"]
        start = time.perf_counter()
        circuit = circuits.build_circuit(spec, backend, duration=duration * second, arrays=schedule(duration))
        result["build_circuit_s"] = time.perf_counter() - start
        result["synapses"] = int(sum(len(obj) for obj in circuit.network.objects if isinstance(obj, brian2.Synapses)))
        start = time.perf_counter()
        backend.run(circuit.network, duration * second)
        total = time.perf_counter() - start
        device = brian2.get_device()
        make = (device.timers["compile"]["make"] or 0.0) + (device.timers["compile"]["clean"] or 0.0)
        elapsed, peak_kb, user, system = time_file.read_text().split()[-4:]
        loop = float(device._last_run_time)
        result.update(codegen_s=total - make - device.timers["run_binary"], compile_s=make,
                      binary_wall_s=float(elapsed), binary_cpu_s=float(user) + float(system),
                      binary_peak_rss_mb=int(peak_kb) / 1024, loop_s=loop)
        result["sim_per_wall"] = duration / result["binary_wall_s"]
        result["sim_per_loop"] = duration / loop
        if profile:
            result["profile"] = _profile(circuit.network)
        records = circuit.spike_records()
        result["spike_records"] = {name: {key: np.asarray(value) for key, value in r.items()}
                                   for name, r in records.items()}
        if record_weights:
            plastic = [spec.connection_name(c) for c in spec.values["connections"] if c["plasticity"]]
            result["weights"] = {name: np.asarray(circuit.weights(name)) for name in plastic}
    return result


def _profile(network) -> dict:
    """Fraction of the profiled time per code object and per template."""
    info = network.profiling_info
    total = sum(float(t) for _, t in info)
    objects = {name: float(t) / total for name, t in info}
    templates: dict[str, float] = {}
    for name, fraction in objects.items():
        key = _template_of(name)
        templates[key] = templates.get(key, 0.0) + fraction
    return {"total_s": total, "objects": objects, "templates": dict(sorted(templates.items(), key=lambda kv: -kv[1]))}


def _template_of(name: str) -> str:
    """Group code objects by what they do: ``hidden1_stateupdater`` -> ``stateupdater``."""
    for key in ("background", "stateupdater", "spike_thresholder", "spike_resetter", "event_thresholder",
                "burst_thresholder", "thresholder", "resetter", "pre_push_spikes", "post_push_spikes", "push_spikes",
                "pre_codeobject", "post_codeobject", "counters", "spikemonitor", "monitor", "summed"):
        if key in name:
            return key
    return name


def time_binary(build_dir: Path, threads: int = 0) -> dict:
    """Run an already built binary again (no code generation, no compilation): wall time,
    peak memory and the loop time it reports. For paired, alternating repeats."""
    build_dir = Path(build_dir).resolve()
    time_file = build_dir / "binary_time.txt"
    env = {**os.environ, "OMP_NUM_THREADS": str(max(threads, 1))}
    subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(time_file), "./main"], cwd=build_dir,
                   stdout=subprocess.DEVNULL, check=True, env=env)
    elapsed, peak_kb, user, system = time_file.read_text().split()[-4:]
    loop = float((build_dir / "results" / "last_run_info.txt").read_text().split()[0])
    return {"binary_wall_s": float(elapsed), "binary_cpu_s": float(user) + float(system),
            "binary_peak_rss_mb": int(peak_kb) / 1024, "loop_s": loop}


def summarise(results: list[dict]) -> dict:
    """Median of each timing over repeats, per (engine, threads)."""
    groups: dict[tuple, list] = {}
    for r in results:
        groups.setdefault((r["engine"], r["openmp_threads"]), []).append(r)
    summary = {}
    for (engine, threads), runs in groups.items():
        entry = {"runs": len(runs)}
        for key in ("build_circuit_s", "codegen_s", "compile_s", "loop_s", "binary_wall_s", "binary_peak_rss_mb",
                    "sim_per_wall", "sim_per_loop"):
            entry[key] = statistics.median(r[key] for r in runs)
        entry["spikes"] = runs[0]["spikes"]
        summary[f"{engine}/threads={threads}"] = entry
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="simulated seconds (default 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[0],
                        help="OpenMP threads (0: no OpenMP, one core; several values: one run each)")
    parser.add_argument("--engine", nargs="+", default=["reference"],
                        help="engine settings of dendritic.backend.ENGINES (several: alternated)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration, alternated (medians)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--neurons", type=int, default=None, help="neurons per population (default 500)")
    parser.add_argument("--profile", action="store_true", help="Brian's per-code-object profile")
    parser.add_argument("--output", type=Path, default=RESULTS / "engine_xor.json")
    parser.add_argument("--build-root", type=Path, default=ROOT / "data" / "build" / "engine_xor")
    parser.add_argument("--rerun", type=int, default=0, metavar="N",
                        help="after the builds, run each binary N more times, alternating (paired timings)")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "THREADS", "BUILD_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        engine, threads, build_dir = args.worker
        result = run_xor(args.duration, Path(build_dir), seed=args.seed, threads=int(threads), engine=engine,
                         neurons=args.neurons, profile=args.profile)
        records = result.pop("spike_records")
        result["spikes"] = {name: len(r["t"]) for name, r in records.items()}
        np.savez_compressed(Path(build_dir) / "spikes.npz", **{f"{name}.{key}": value for name, r in records.items()
                                                                 for key, value in r.items()})
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    results = []
    for repeat in range(args.repeat):
        for threads in args.threads:
            for engine in args.engine:
                build_dir = args.build_root / f"{engine}_t{threads}"
                command = [sys.executable, __file__, "--duration", str(args.duration), "--seed", str(args.seed),
                           "--worker", engine, str(threads), str(build_dir)]
                if args.neurons:
                    command += ["--neurons", str(args.neurons)]
                if args.profile:
                    command.append("--profile")
                process = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
                lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
                if process.returncode != 0 or not lines:
                    print(process.stdout[-3000:], process.stderr[-6000:], file=sys.stderr)
                    return 1
                result = json.loads(lines[-1][len("RESULT "):])
                results.append(result)
                print(f"[{repeat}] {engine}, threads {threads}: loop {result['loop_s']:.2f} s, binary wall "
                      f"{result['binary_wall_s']:.2f} s -> {result['sim_per_wall']:.2f} sim s / wall s "
                      f"({result['sim_per_loop']:.2f} per loop s); compile {result['compile_s']:.1f} s, "
                      f"codegen {result['codegen_s']:.1f} s, build {result['build_circuit_s']:.1f} s; "
                      f"peak RSS {result['binary_peak_rss_mb']:.1f} MB; spikes {sum(result['spikes'].values())}",
                      flush=True)
                if args.profile:
                    for key, fraction in list(result["profile"]["templates"].items())[:12]:
                        print(f"      {fraction * 100:5.1f} %  {key}")
    builds = {(r["engine"], r["openmp_threads"]): dict(r) for r in results}
    for repeat in range(args.rerun):
        for (engine, threads), first in builds.items():
            timed = time_binary(args.build_root / f"{engine}_t{threads}", threads)
            result = {**first, **timed, "rerun": True}
            result["sim_per_wall"] = args.duration / timed["binary_wall_s"]
            result["sim_per_loop"] = args.duration / timed["loop_s"]
            results.append(result)
            print(f"[rerun {repeat}] {engine}, threads {threads}: loop {timed['loop_s']:.2f} s, binary wall "
                  f"{timed['binary_wall_s']:.2f} s -> {result['sim_per_wall']:.2f} sim s / wall s; peak RSS "
                  f"{timed['binary_peak_rss_mb']:.1f} MB", flush=True)
    from dendritic.io import machine, write_json

    summary = summarise(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {"machine": machine(), "command": sys.argv, "summary": summary, "results": results,
                             "load_average": os.getloadavg()})
    print(json.dumps(summary, indent=1))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
