"""Throughput benchmark of issue 2: simulated seconds per wall-clock second, set-up
and compile time, and peak memory, for populations of three-compartment pyramidal
neurons on numpy, cython and cpp_standalone, plus a hand-written C++ reference
(``benchmarks/bare_cpp/pyramidal.cpp``) of the same equations and network.

Network (built with the package's API, ``circuit_from_mapping`` + ``build_circuit``):
N Sacramento-2018 pyramidal neurons (softplus rate, Poisson spiking) with dendritic
drives of -2 mV (rest rate ~3 Hz); recurrent pyramidal -> basal synapses with fan-in 80
(w = 0.2 +- 0.5 mV) and Poisson input (max(100, N/10) sources at 5 Hz) -> apical with
fan-in 20 (w = 0.5 +- 0.5 mV): 100 synapses per neuron, population rate a few Hz.

Every configuration runs in its own Python process (clean peak memory, cold caches):

* numpy / cython: ``run`` = Brian's own loop time (``device._last_run_time``);
  ``setup`` = the rest of ``network.run`` (code generation, and for cython compilation
  or loading of cached extensions). cython at the first size is run twice: once with an
  empty Cython cache (first run) and once, shortly, with the warm cache; compile = the
  difference of build_circuit + set-up (build_circuit compiles too: connect and
  variable-setting code objects run immediately on runtime targets). Later sizes use
  the warm cache.
* cpp_standalone: fresh build directory; code generation, ``make`` and the binary's
  wall time are timed separately (``device.timers``); ``run`` = the simulation loop
  time the binary writes to ``results/last_run_info.txt``; the binary is started under
  ``/usr/bin/time`` for its peak resident set size.
* bare C++: compiled once with the same flags Brian uses; same connectivity and
  weights (same NumPy generator sequence as ``build_circuit``), own loop timer.

Peak memory: ``ru_maxrss`` of the Python worker (includes the ~150 MB of Python,
NumPy and Brian), and for standalone / bare C++ the child binary's maximum RSS.

Usage::

    python benchmarks/throughput.py                 # full benchmark (~20-30 min on 2 cores)
    python benchmarks/throughput.py --quick         # 1,000 and 10,000 neurons, short runs
    python benchmarks/throughput.py --sizes 1000 --targets cpp_standalone bare --duration 2

Writes ``data/benchmarks/throughput.json`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "benchmarks"
BUILD_ROOT = ROOT / "data" / "build"
BARE_SOURCE = Path(__file__).resolve().parent / "bare_cpp" / "pyramidal.cpp"
TARGETS = ("numpy", "cython", "cpp_standalone", "bare")
SEED = 1
DT = 1e-4  # seconds
FAN_IN_RECURRENT, FAN_IN_INPUT = 80, 20
INPUT_RATE = 5.0  # Hz
TRANSIENT = 0.05  # s, left out of the population rate

# simulated seconds per size and target (full run). numpy is slow here mostly because
# Brian 2.9 has no NumPy implementation of log1p (used by the softplus transfer function):
# ~10 us per neuron and step, so it gets much shorter runs.
DURATIONS = {
    "numpy": {1_000: 0.2, 10_000: 0.05, 100_000: 0.01},
    "cython": {1_000: 5.0, 10_000: 2.0, 100_000: 0.5},
    "cpp_standalone": {1_000: 2.0, 10_000: 1.0, 100_000: 0.5},  # x repeats (3)
    "bare": {1_000: 2.0, 10_000: 1.0, 100_000: 0.5},
}
HASH_WINDOWS = (0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0)  # s: spike trains compared on common prefixes


def n_inputs(N: int) -> int:
    return max(100, N // 10)


def circuit_mapping(N: int, duration: float, input_rate: float = INPUT_RATE, neuron="sacramento2018_pyramidal"):
    """The benchmark network as a circuit mapping (see ``models/networks/population.toml``)."""
    return {
        "description": f"throughput benchmark, {N} pyramidal neurons, 100 synapses each",
        "run": {"duration": f"{duration} s", "dt": f"{DT * 1e3} ms", "seed": SEED},
        "populations": [{"name": "pyr", "neuron": neuron, "N": N,
                         "inputs": {"v_basal_drive": "-2 mV", "v_apical_drive": "-2 mV"}}],
        "inputs": [{"name": "ext", "N": n_inputs(N), "rate": f"{input_rate} Hz"}],
        "connections": [
            {"pre": "pyr", "post": "pyr", "target": "basal", "fan_in": FAN_IN_RECURRENT,
             "weight": "0.2 mV", "weight_std": "0.5 mV"},
            {"pre": "ext", "post": "pyr", "target": "apical", "fan_in": FAN_IN_INPUT,
             "weight": "0.5 mV", "weight_std": "0.5 mV"},
        ],
        "record": {"spikes": ["pyr"]},
    }


def population_rate(t, N: int, duration: float, blocks: int = 10):
    """Mean population rate after the transient and its standard error over time blocks."""
    t = np.asarray(t, dtype=float)
    edges = np.linspace(min(TRANSIENT, duration / 5), duration, blocks + 1)
    counts, _ = np.histogram(t, bins=edges)
    rates = counts / (N * np.diff(edges))
    return float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(blocks))


def spike_hashes(i, t, duration: float) -> dict:
    """SHA-1 of the spike train (time step, index) up to each window end <= duration."""
    steps = np.rint(np.asarray(t, dtype=float) / DT).astype(np.int64)
    i = np.asarray(i, dtype=np.int64)
    order = np.lexsort((i, steps))
    steps, i = steps[order], i[order]
    hashes = {}
    for window in [w for w in HASH_WINDOWS if w <= duration + 1e-12] + [duration]:
        keep = steps < int(round(window / DT))
        hashes[f"{window:g}"] = hashlib.sha1(steps[keep].tobytes() + i[keep].tobytes()).hexdigest()[:16]
    return hashes


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


# ---------------------------------------------------------------------------------------
# workers (each in its own process)
# ---------------------------------------------------------------------------------------
def worker(target: str, N: int, duration: float, build_dir: Path, cache_dir: Path | None,
           repeats: int = 1) -> dict:
    import brian2
    from brian2 import prefs, second

    from dendritic.backend import Backend
    from dendritic.circuits import build_circuit, circuit_from_mapping

    spec = circuit_from_mapping(circuit_mapping(N, duration))
    result = {"target": target, "N": N, "duration": duration, "n_inputs": n_inputs(N),
              "synapses": N * (FAN_IN_RECURRENT + FAN_IN_INPUT)}
    rss_file = None
    if target == "cython" and cache_dir is not None:
        prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    if target == "cpp_standalone":
        shutil.rmtree(build_dir, ignore_errors=True)
        rss_file = Path(tempfile.mkstemp(prefix="bench-time-", suffix=".txt")[1])
        prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%M %e %U %S", "-o", str(rss_file), "./main"]
    backend = Backend(target, build_dir=build_dir if target == "cpp_standalone" else None, seed=SEED,
                      dt=DT * second)
    with backend:
        start = time.perf_counter()
        circuit = build_circuit(spec, backend)
        result["build_circuit_s"] = time.perf_counter() - start
        start, cpu_start = time.perf_counter(), time.process_time()
        backend.run(circuit.network, duration * second)
        total = time.perf_counter() - start
        result["python_cpu_s"] = time.process_time() - cpu_start
        device = brian2.get_device()
        if target == "cpp_standalone":
            timers = device.timers
            make = (timers["compile"]["make"] or 0.0) + (timers["compile"]["clean"] or 0.0)
            binary = timers["run_binary"]
            result.update(codegen_s=total - make - binary, compile_s=make, binary_wall_s=binary)
            loops, cpus, rss = [], [], []
            for repeat in range(repeats):
                if repeat:  # the same binary again (Backend.rerun without new values)
                    backend.rerun({})
                loop, _ = (float(x) for x in (build_dir / "results" / "last_run_info.txt").read_text().split())
                rss_kb, _, user, system = rss_file.read_text().split()[-4:]
                loops.append(loop)
                cpus.append(float(user) + float(system))
                rss.append(float(rss_kb) / 1024.0)
            rss_file.unlink()
            result.update(run_s=min(loops), run_repeats_s=loops, binary_cpu_s=min(cpus), binary_cpu_repeats_s=cpus,
                          binary_startup_s=binary - loops[0], child_rss_mb=max(rss))
        else:
            loop = float(device._last_run_time)
            result.update(setup_s=total - loop, run_s=loop)
        t = np.asarray(circuit.spike_monitors["pyr"].t[:] / second)
        i = np.asarray(circuit.spike_monitors["pyr"].i[:])
    result["spikes"] = int(len(t))
    result["spike_hashes"] = spike_hashes(i, t, duration)
    result["rate_hz"], result["rate_se_hz"] = population_rate(t, N, duration)
    result["sim_per_wall"] = duration / result["run_s"]
    result["peak_rss_mb"] = _max_rss_mb()
    return result


def write_bare_input(path: Path, N: int, duration: float, input_rate: float = INPUT_RATE) -> None:
    """The bare C++ program's input: parameters and the same connectivity as build_circuit."""
    from dendritic.circuits import circuit_from_mapping, draw_connectivity

    spec = circuit_from_mapping(circuit_mapping(N, duration, input_rate))
    model = spec.models["pyr"]
    par = model.parameters
    population = spec.values["populations"][0]
    rng = np.random.default_rng(spec.values["run"]["seed"])  # same draws, same order as build_circuit
    sizes = {"pyr": N, "ext": n_inputs(N)}
    n_steps = int(round(duration / DT))
    transfer = {"softplus": 0, "sigmoid": 1}[model.transfer]
    header = np.array([N, n_inputs(N), n_steps, len(spec.values["connections"]), transfer, SEED], dtype=np.int64)
    names = ["C", "g_L", "g_B", "g_A", "g_som", "E_L", "tau_basal", "tau_apical", "t_ref", "phi_max", "beta", "theta"]
    values = [DT, *(float(par[name]) for name in names), float(par.get("k", 1.0)), input_rate,
              float(population["inputs"]["v_basal_drive"]), float(population["inputs"]["v_apical_drive"])]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(np.array(values, dtype=np.float64).tobytes())
        for connection in spec.values["connections"]:
            i, j = draw_connectivity(rng, sizes[connection["pre"]], sizes[connection["post"]], connection["fan_in"],
                                     connection["probability"])
            w = rng.normal(float(connection["weight"]), float(connection["weight_std"]), size=len(i))
            f.write(np.array([0 if connection["pre"] == "pyr" else 1, 0 if connection["target"] == "basal" else 1,
                              len(i)], dtype=np.int64).tobytes())
            f.write(i.astype(np.int32).tobytes())
            f.write(j.astype(np.int32).tobytes())
            f.write(w.astype(np.float64).tobytes())


def bare_binary() -> tuple[Path, float]:
    """Compile pyramidal.cpp (cached by source hash); returns the binary and the compile time."""
    flags = ["-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++17"]
    digest = hashlib.sha1(BARE_SOURCE.read_bytes() + " ".join(flags).encode()).hexdigest()[:12]
    folder = BUILD_ROOT / "bench-bare"
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / f"pyramidal-{digest}"
    start = time.perf_counter()
    if not binary.exists():
        compiler = os.environ.get("CXX", "g++")
        subprocess.run([compiler, *flags, str(BARE_SOURCE), "-o", str(binary)], check=True)
    return binary, time.perf_counter() - start


def bare_worker(N: int, duration: float, repeats: int = 1) -> dict:
    result = {"target": "bare", "N": N, "duration": duration, "n_inputs": n_inputs(N),
              "synapses": N * (FAN_IN_RECURRENT + FAN_IN_INPUT)}
    binary, compile_s = bare_binary()
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_bare_input(tmp / "input.bin", N, duration)
        result["build_circuit_s"] = time.perf_counter() - start
        loops, cpus, loop_cpus, walls = [], [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            out = subprocess.run(["/usr/bin/time", "-f", "%M %e %U %S", "-o", str(tmp / "time.txt"), str(binary),
                                  str(tmp / "input.bin"), str(tmp / "spikes.bin")],
                                 check=True, capture_output=True, text=True).stdout
            walls.append(time.perf_counter() - start)
            fields = out.split()
            loops.append(float(fields[fields.index("loop_seconds") + 1]))
            loop_cpus.append(float(fields[fields.index("loop_cpu_seconds") + 1]))
            rss_kb, _, user, system = (float(x) for x in (tmp / "time.txt").read_text().split()[-4:])
            cpus.append(user + system)
        raw = (tmp / "spikes.bin").read_bytes()
        n = int(np.frombuffer(raw[:8], np.int64)[0])
        i = np.frombuffer(raw[8:8 + 4 * n], np.int32, count=n)
        t = np.frombuffer(raw[8 + 4 * n:], np.float64, count=n)
        result["spike_hashes"] = spike_hashes(i, t, duration)
    loop = min(loops)
    binary_wall = walls[loops.index(loop)]
    result.update(run_repeats_s=loops, loop_cpu_s=min(loop_cpus), binary_cpu_repeats_s=cpus)
    user, system = min(cpus), 0.0
    result.update(compile_s=compile_s, binary_wall_s=binary_wall, run_s=loop, binary_startup_s=binary_wall - loop,
                  child_rss_mb=rss_kb / 1024.0, binary_cpu_s=user + system, spikes=n)
    result["rate_hz"], result["rate_se_hz"] = population_rate(t, N, duration)
    result["sim_per_wall"] = duration / loop
    result["peak_rss_mb"] = _max_rss_mb()
    return result


def spawn(args: list[str]) -> dict:
    """Run this script as a worker in a fresh process; returns its JSON result."""
    process = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True)
    if process.returncode:
        sys.stderr.write(process.stdout[-4000:] + process.stderr[-4000:])
        raise RuntimeError(f"worker {args} failed")
    return json.loads(process.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------
def duration_for(target: str, N: int, args) -> float:
    if args.duration is not None:
        return args.duration
    table = DURATIONS[target]
    base = table.get(N, min(table.values()) if N > max(table) else max(table.values()))
    if args.quick:
        base = base / 5
    return base


def fmt(value, spec=".2f", empty="-"):
    return empty if value is None else format(value, spec)


def table(results: list[dict]) -> str:
    bare = {r["N"]: r for r in results if r["target"] == "bare"}
    rows = [f"{'N':>7} {'target':>14} {'sim s':>6} {'sim-s/wall-s':>12} {'run s':>8} {'setup s':>8} "
            f"{'codegen s':>9} {'compile s':>9} {'bin start s':>11} {'RSS py MB':>9} {'RSS bin MB':>10} "
            f"{'rate Hz':>13} {'/bare':>6} {'cpu/bare':>8}"]
    for r in results:
        if r["target"] == "cython-cached":
            continue
        ratio = r["run_s"] / r["duration"] / (bare[r["N"]]["run_s"] / bare[r["N"]]["duration"]) if r["N"] in bare else None
        setup = r.get("setup_s")
        cpu_ratio = (r["binary_cpu_s"] / bare[r["N"]]["binary_cpu_s"] * bare[r["N"]]["duration"] / r["duration"]
                     if "binary_cpu_s" in r and r["N"] in bare else None)
        rows.append(f"{r['N']:>7} {r['target']:>14} {r['duration']:>6.2f} {r['sim_per_wall']:>12.3f} "
                    f"{r['run_s']:>8.2f} {fmt(setup):>8} {fmt(r.get('codegen_s')):>9} {fmt(r.get('compile_s')):>9} "
                    f"{fmt(r.get('binary_startup_s')):>11} {r['peak_rss_mb']:>9.0f} {fmt(r.get('child_rss_mb'), '.0f'):>10} "
                    f"{r['rate_hz']:>6.3f}+-{r['rate_se_hz']:<5.3f} {fmt(ratio):>6} {fmt(cpu_ratio):>8}")
    return "\n".join(rows)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    from dendritic.plots import save_figure

    figure, axis = plt.subplots(figsize=(6, 4.2))
    for target in TARGETS:
        points = sorted((r["N"], r["sim_per_wall"]) for r in results if r["target"] == target)
        if points:
            x, y = zip(*points)
            axis.loglog(x, y, "o-", label="bare C++" if target == "bare" else target)
    axis.set_xlabel("neurons (100 synapses each)")
    axis.set_ylabel("simulated s / wall-clock s")
    axis.set_title("three-compartment pyramidal network, dt = 0.1 ms, 1 thread")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    save_figure(figure, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds for every configuration")
    parser.add_argument("--quick", action="store_true", help="short runs (and sizes 1,000 and 10,000 unless --sizes)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the standalone and bare C++ binaries; the fastest counts (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=OUT_DIR / "throughput.json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        target, N, duration = args.worker[0], int(args.worker[1]), float(args.worker[2])
        repeats = int(args.worker[5]) if len(args.worker) > 5 else 1
        if target == "bare":
            result = bare_worker(N, duration, repeats)
        else:
            cache = Path(args.worker[4]) if len(args.worker) > 4 and args.worker[4] != "-" else None
            result = worker(target, N, duration, Path(args.worker[3]), cache, repeats)
        print(json.dumps(result))
        return

    if args.quick and "--sizes" not in (argv or sys.argv):
        args.sizes = [1_000, 10_000]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results = []
    started = time.perf_counter()
    cython_cold = True
    for N in args.sizes:
        for target in args.targets:
            duration = duration_for(target, N, args)
            build_dir = BUILD_ROOT / f"bench-throughput-{N}"
            cache = "-"
            if target == "cython":  # empty Cython cache for the first size, then warm
                cache_dir = BUILD_ROOT / "bench-cython-cache"
                if cython_cold:
                    shutil.rmtree(cache_dir, ignore_errors=True)
                cache = str(cache_dir)
            print(f"[{time.perf_counter() - started:7.1f} s] {target} N={N} {duration} s simulated ...", flush=True)
            load_before = os.getloadavg()[0]
            repeats = args.repeats if target in ("cpp_standalone", "bare") else 1
            result = spawn([target, str(N), str(duration), str(build_dir), cache, str(repeats)])
            result["load_average_1min"] = [load_before, os.getloadavg()[0]]
            if target == "cython" and cython_cold:  # again with the warm cache: set-up without compilation
                cached = spawn([target, str(N), "0.01", str(build_dir), cache])
                # Cython compiles in two places: build_circuit (connect / variable-setting code
                # objects run at once on runtime targets) and network.run (the run's code objects)
                result["setup_first_s"] = result["setup_s"]
                result["build_circuit_first_s"] = result["build_circuit_s"]
                result["compile_s"] = (result["setup_s"] + result["build_circuit_s"]
                                       - cached["setup_s"] - cached["build_circuit_s"])
                result["setup_s"] = cached["setup_s"]
                result["build_circuit_s"] = cached["build_circuit_s"]
                cython_cold = False
            results.append(result)
            print(f"           {result['sim_per_wall']:.3f} sim-s/wall-s, rate {result['rate_hz']:.2f} Hz",
                  flush=True)
    total = time.perf_counter() - started

    print()
    print(table(results))
    print("\nsetup: numpy/cython = set-up part of network.run with warm caches (cython first-run extra = compile s);"
          "\n       standalone: codegen = Python-side code generation, compile = make, bin start = binary wall - loop;"
          "\n/bare = (run s per simulated s) / (bare C++ run s per simulated s), wall clock of the simulation loops;"
          "\ncpu/bare = binary user+sys CPU s (incl. start-up) per simulated s, standalone / bare C++ (robust to load);"
          "\nrate = population rate +- s.e. over 10 time blocks")
    bare = {r["N"]: r for r in results if r["target"] == "bare"}
    for r in results:
        if r["target"] != "bare" and r["N"] in bare:
            b = bare[r["N"]]
            z = (r["rate_hz"] - b["rate_hz"]) / np.hypot(r["rate_se_hz"], b["rate_se_hz"])
            r["rate_z_vs_bare"] = float(z)
            r["run_ratio_vs_bare"] = r["run_s"] / r["duration"] / (b["run_s"] / b["duration"])
            common = sorted(set(r["spike_hashes"]) & set(b["spike_hashes"]), key=float)[-1]
            r["identical_spikes_vs_bare"] = {"until_s": float(common),
                                             "equal": r["spike_hashes"][common] == b["spike_hashes"][common]}
    checks = [f"{r['target']} N={r['N']}: z = {r['rate_z_vs_bare']:+.2f}, spike trains over the first "
              f"{r['identical_spikes_vs_bare']['until_s']:g} s "
              f"{'identical' if r['identical_spikes_vs_bare']['equal'] else 'DIFFERENT'}"
              for r in results if "rate_z_vs_bare" in r]
    if checks:
        print("equivalence with bare C++ (rate |z| < 3 expected; same RNG stream, so identical spikes expected):")
        print("\n".join("  " + c for c in checks))
    print(f"benchmark wall time {total / 60:.1f} min")

    from dendritic.io import machine, write_json

    payload = {"results": results, "wall_time_s": total, "machine": machine(),
        "network": circuit_mapping(0, 0.0) | {"populations": "N pyramidal (sacramento2018_pyramidal)"},
        "command": " ".join([Path(sys.executable).name, *sys.argv])}
    write_json(args.output, payload, indent=1, default=str)
    plot(results, args.output.with_suffix(".png"))
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
