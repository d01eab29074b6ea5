"""Plasticity benchmark of issue 3: synaptic updates per second of the dendritic
prediction rule (``dendritic.plasticity.dendritic_prediction``) for 10^5 and 10^6
plastic synapses on numpy, cython and cpp_standalone, against the same network
without plasticity (the overhead ratio; goal: < 2x on cpp_standalone).

Network: N_post neurons (default ``urbanczik2014``: Urbanczik & Senn 2014, sigmoidal
rate, Poisson spiking), each receiving K = 100 basal synapses from distinct sources
among N_in = max(1000, N_post) Poisson inputs at 10 Hz; connectivity and initial
weights (0.5 +- 0.3 mV) drawn once in NumPy from a seeded generator and passed as
explicit i/j arrays. N_post = 1,000 -> 10^5 synapses, 10,000 -> 10^6 synapses.

Variants (same connectivity, weights, inputs and neurons):

* ``static``: plain ``Synapses(inputs, post, "w : volt (constant)", on_pre="v_basal_post += w")``,
  inputs a plain ``NeuronGroup`` (``rate : Hz (shared, constant)``, Poisson threshold),
  the neuron model without the error accumulator;
* ``spike_dt``: spike form (Urbanczik-Senn, tau_Delta = 100 ms, eta = 0.5 mV^2),
  learning interval = dt: every synapse updated every step (worst case);
* ``spike_1ms``: the same with a 1 ms learning interval (the scalable setting);
* ``rate_1ms``: rate form (eta = 0.005 mV s), 1 ms interval, no filter.

The plastic variants carry the presynaptic PSP trace and its interval integral on the
inputs, the error integral on the neurons, the per-synapse update (``run_regularly``
every interval) and the clearing of both accumulators every interval.

Every configuration runs in its own Python process (``--worker``), sequentially:

* numpy / cython: a 10 ms warm-up run (code generation, Cython compilation or cache
  loading), then the measured run; ``loop`` = Brian's own loop time
  (``device._last_run_time``), ``cpu`` = process CPU time (user+sys) of the measured
  ``network.run`` minus that of a one-step run (the set-up every run repeats).
* cpp_standalone: fresh build directory, ``make`` limited to one job per core
  (``compile`` = make time), the binary run ``--repeats`` times (fastest counts) under
  ``/usr/bin/time``; ``loop`` = the loop time the binary writes to
  ``results/last_run_info.txt``; ``cpu`` = the binary's user+sys time (includes its
  start-up: loading the connectivity arrays).

Metrics: simulated s per loop s; learning updates/s = n_synapses x (duration /
interval) / loop (plastic variants); synapse-steps/s = n_synapses x steps / loop (all
variants, comparable with static); overhead = plastic loop / static loop per simulated
second, same target and size (also on CPU time, which is more robust on a loaded
machine); peak RSS (Python worker ``ru_maxrss``; standalone: the binary's maximum RSS);
population rate of the postsynaptic neurons (and the mean weight change, to show the
rule acted).

Usage::

    nice python benchmarks/plasticity.py               # full benchmark (~30 min on 2 loaded cores)
    nice python benchmarks/plasticity.py --quick       # short runs
    python benchmarks/plasticity.py --sizes 1000 --targets cpp_standalone --variants static spike_dt

Writes ``data/benchmarks/plasticity.json`` and ``plasticity.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
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
TARGETS = ("numpy", "cython", "cpp_standalone")
VARIANTS = ("static", "spike_dt", "spike_1ms", "rate_1ms")
SEED = 1
DT = 1e-4  # s
K = 100  # synapses per postsynaptic neuron
INPUT_RATE = 10.0  # Hz
W_MEAN, W_STD = 0.5e-3, 0.3e-3  # V
WARMUP = 0.01  # s, runtime targets

# simulated seconds per target and size (all variants; --quick divides by 5)
DURATIONS = {
    "numpy": {1_000: 0.5, 10_000: 0.1},
    "cython": {1_000: 2.0, 10_000: 0.5},
    "cpp_standalone": {1_000: 4.0, 10_000: 1.0},
}


def n_inputs(N: int) -> int:
    return max(1000, N)


def rule_of(variant: str):
    """The plasticity rule of a variant (None: static)."""
    from brian2 import mV, ms, second

    from dendritic.plasticity.dendritic_prediction import DendriticPredictionRule

    return {
        "static": None,
        "spike_dt": DendriticPredictionRule(form="spike", eta=0.5 * mV**2, tau_delta=100 * ms),
        "spike_1ms": DendriticPredictionRule(form="spike", eta=0.5 * mV**2, tau_delta=100 * ms, interval=1 * ms),
        "rate_1ms": DendriticPredictionRule(form="rate", eta=0.005 * mV * second, interval=1 * ms),
    }[variant]


def connectivity(N: int, seed: int = SEED):
    """K distinct random inputs per neuron (synapses ordered by postsynaptic neuron) and weights."""
    rng = np.random.default_rng(seed)
    n_in = n_inputs(N)
    i = np.concatenate([np.sort(rng.choice(n_in, K, replace=False)) for _ in range(N)]).astype(np.int32)
    j = np.repeat(np.arange(N, dtype=np.int32), K)
    w = rng.normal(W_MEAN, W_STD, size=len(i))
    return i, j, w


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# worker (its own process)
# ---------------------------------------------------------------------------------------
def worker(variant: str, target: str, N: int, duration: float, build_dir: Path, neuron: str,
           repeats: int = 1, profile: bool = False) -> dict:
    import brian2
    from brian2 import Hz, Network, NeuronGroup, SpikeMonitor, Synapses, prefs, second, volt

    from dendritic.backend import Backend
    from dendritic.neurons import load_neuron
    from dendritic.neurons.compartments import poisson_threshold
    from dendritic.plasticity.dendritic_prediction import PresynapticTrace, spike_source

    rule = rule_of(variant)
    i, j, w = connectivity(N)
    result = {"variant": variant, "target": target, "N": N, "n_inputs": n_inputs(N), "synapses": len(i),
              "duration": duration, "neuron": neuron}
    standalone = target == "cpp_standalone"
    rss_file = None
    if standalone:
        if not profile:  # a profiled build reuses the measured one's folder: make rebuilds only what changed
            shutil.rmtree(build_dir, ignore_errors=True)
        rss_file = Path(tempfile.mkstemp(prefix="bench-time-", suffix=".txt")[1])
        prefs.devices.cpp_standalone.run_cmd_unix = ["/usr/bin/time", "-f", "%M %e %U %S", "-o", str(rss_file),
                                                     "./main"]
    backend = Backend(target, build_dir=build_dir if standalone else None, seed=SEED, dt=DT * second)
    threshold = poisson_threshold("rate")
    with backend:
        start = time.perf_counter()
        model = load_neuron(neuron)
        if rule is not None:  # the presynaptic trace takes the target dendrite's PSP kernel
            rule = dataclasses.replace(rule, trace=PresynapticTrace.matching(model))
        if rule is None:
            inputs = NeuronGroup(n_inputs(N), "rate : Hz (shared, constant)", threshold=threshold, name="inputs")
        else:
            model = rule.postsynaptic(model)
            inputs = spike_source(n_inputs(N), threshold, "inputs", traces=(rule.trace,),
                                  equations="rate : Hz (shared, constant)")
        inputs.rate = INPUT_RATE * Hz
        post = model.make_group(N, name="post")
        if rule is None:
            synapses = Synapses(inputs, post, "w : volt (constant)", on_pre=model.synaptic_input("basal"), name="syn")
            synapses.connect(i=i, j=j)
            synapses.w = w * volt
        else:
            synapses = rule.connect(inputs, post, i, j, w * volt, model, "syn")
            result["interval"] = float(rule.interval_of() / second)
        backend.parameters_set()
        model.initialise(post)
        post_count = SpikeMonitor(post, record=False, name="post_spikes")
        input_count = SpikeMonitor(inputs, record=False, name="input_spikes")
        network = Network(inputs, post, synapses, post_count, input_count)
        result["build_s"] = time.perf_counter() - start
        device = brian2.get_device()
        if profile:  # time per code object (adds a clock read around each one, every step)
            network.run(duration * second, profile=True, namespace={})
            if standalone:
                device.build(directory=str(build_dir), compile=True, run=True, with_output=False, clean=False)
            result["profile_s"] = {name: float(t / second) for name, t in network.profiling_info}
            result["loop_s"] = float(sum(result["profile_s"].values()))
            result["cpu_s"] = float("nan")
            rss_file and rss_file.unlink(missing_ok=True)
            return result
        if standalone:
            start = time.perf_counter()
            backend.run(network, duration * second)
            total = time.perf_counter() - start
            timers = device.timers
            make = (timers["compile"]["make"] or 0.0) + (timers["compile"]["clean"] or 0.0)
            binary = timers["run_binary"]
            result.update(codegen_s=total - make - binary, compile_s=make)
            loops, cpus, rss, walls = [], [], [], []
            for repeat in range(repeats):
                if repeat:
                    start = time.perf_counter()
                    backend.rerun({})
                    binary = time.perf_counter() - start
                loop, _ = (float(x) for x in (build_dir / "results" / "last_run_info.txt").read_text().split())
                rss_kb, _, user, system = rss_file.read_text().split()[-4:]
                loops.append(loop)
                walls.append(binary)
                cpus.append(float(user) + float(system))
                rss.append(float(rss_kb) / 1024.0)
            rss_file.unlink()
            best = loops.index(min(loops))
            result.update(loop_s=loops[best], loop_repeats_s=loops, cpu_s=min(cpus), cpu_repeats_s=cpus,
                          binary_startup_s=walls[best] - loops[best], child_rss_mb=max(rss))
            post_spikes, input_spikes = int(post_count.num_spikes), int(input_count.num_spikes)
        else:
            start = time.perf_counter()
            backend.run(network, WARMUP * second)  # generates / compiles / loads the code
            result["warmup_wall_s"] = time.perf_counter() - start
            # the set-up of a further run (preparing the code objects again), measured on a
            # one-step run and subtracted from the CPU time of the measured run
            start, cpu_start = time.perf_counter(), _cpu_s()
            backend.run(network, DT * second)
            setup_cpu, setup_wall = _cpu_s() - cpu_start, time.perf_counter() - start - device._last_run_time
            spikes_before = int(post_count.num_spikes), int(input_count.num_spikes)
            start, cpu_start = time.perf_counter(), _cpu_s()
            backend.run(network, duration * second)
            total = time.perf_counter() - start
            run_cpu = _cpu_s() - cpu_start
            loop = float(device._last_run_time)
            result.update(loop_s=loop, setup_s=total - loop, cpu_s=max(run_cpu - setup_cpu, 0.0), run_cpu_s=run_cpu,
                          setup_cpu_s=setup_cpu, setup_probe_wall_s=setup_wall)
            post_spikes = int(post_count.num_spikes) - spikes_before[0]
            input_spikes = int(input_count.num_spikes) - spikes_before[1]
        if rule is not None:
            dw = np.asarray(synapses.w[:] / volt) - w
            result["mean_dw_mV"], result["rms_dw_mV"] = float(dw.mean() * 1e3), float(np.sqrt((dw**2).mean()) * 1e3)
    steps = int(round(duration / DT))
    result["rate_hz"] = post_spikes / (N * duration)
    result["input_rate_hz"] = input_spikes / (n_inputs(N) * duration)
    result["sim_per_wall"] = duration / result["loop_s"]
    result["synapse_steps_per_s"] = len(i) * steps / result["loop_s"]
    result["synaptic_events"] = input_spikes * K * N / n_inputs(N)  # mean fan-out
    result["synaptic_events_per_s"] = result["synaptic_events"] / result["loop_s"]
    result["build_dir"] = str(build_dir)
    if rule is not None:
        updates = len(i) * int(round(duration / result["interval"]))
        result["learning_updates"] = updates
        result["updates_per_s"] = updates / result["loop_s"]
        result["updates_per_cpu_s"] = updates / result["cpu_s"]
    result["peak_rss_mb"] = _max_rss_mb()
    return result


def rerun_interleaved(results: list[dict], rounds: int) -> None:
    """Standalone: run the variants' binaries again, alternating (static, plastic, ...,
    static, ...), so that they see the same machine load; keep the fastest loop and the
    smallest CPU time."""
    for _ in range(rounds):
        for r in results:
            build_dir = Path(r["build_dir"])
            with tempfile.NamedTemporaryFile(prefix="bench-time-", suffix=".txt") as timing:
                subprocess.run(["/usr/bin/time", "-f", "%M %e %U %S", "-o", timing.name, "./main"], cwd=build_dir,
                               check=True, capture_output=True)
                rss_kb, wall, user, system = (float(x) for x in Path(timing.name).read_text().split()[-4:])
            loop, _ = (float(x) for x in (build_dir / "results" / "last_run_info.txt").read_text().split())
            r["loop_repeats_s"].append(loop)
            r["cpu_repeats_s"].append(user + system)
            r["child_rss_mb"] = max(r["child_rss_mb"], rss_kb / 1024.0)
            if loop < r["loop_s"]:
                r["loop_s"], r["binary_startup_s"] = loop, wall - loop
            r["cpu_s"] = min(r["cpu_repeats_s"])
    for r in results:  # the derived rates, from the fastest loop
        steps = int(round(r["duration"] / DT))
        r["sim_per_wall"] = r["duration"] / r["loop_s"]
        r["synapse_steps_per_s"] = r["synapses"] * steps / r["loop_s"]
        r["synaptic_events_per_s"] = r["synaptic_events"] / r["loop_s"]
        if "learning_updates" in r:
            r["updates_per_s"] = r["learning_updates"] / r["loop_s"]
            r["updates_per_cpu_s"] = r["learning_updates"] / r["cpu_s"]


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
def add_overheads(results: list[dict]) -> None:
    """Overhead = (plastic per simulated s) / (static per simulated s), same target and size,
    on loop wall time and on CPU time."""
    static = {(r["target"], r["N"]): r for r in results if r["variant"] == "static"}
    for r in results:
        s = static.get((r["target"], r["N"]))
        if s is None:
            continue
        r["overhead"] = (r["loop_s"] / r["duration"]) / (s["loop_s"] / s["duration"])
        r["overhead_cpu"] = (r["cpu_s"] / r["duration"]) / (s["cpu_s"] / s["duration"])


def fmt(value, spec=".2f", empty="-"):
    return empty if value is None else format(value, spec)


def table(results: list[dict]) -> str:
    rows = [f"{'synapses':>9} {'target':>14} {'variant':>9} {'sim s':>6} {'loop s':>8} {'cpu s':>8} "
            f"{'sim-s/s':>8} {'updates/s':>9} {'syn-steps/s':>11} {'overhead':>8} {'ovh cpu':>7} "
            f"{'compile s':>9} {'RSS MB':>7} {'rate Hz':>7} {'rms dw mV':>9}"]
    for r in results:
        compile_s = r.get("compile_s", r.get("warmup_wall_s"))
        rss = r.get("child_rss_mb", r["peak_rss_mb"])
        rows.append(f"{r['synapses']:>9.0e} {r['target']:>14} {r['variant']:>9} {r['duration']:>6.2f} "
                    f"{r['loop_s']:>8.2f} {r['cpu_s']:>8.2f} {r['sim_per_wall']:>8.3f} "
                    f"{fmt(r.get('updates_per_s'), '.2e'):>9} {r['synapse_steps_per_s']:>11.2e} "
                    f"{fmt(r.get('overhead')):>8} {fmt(r.get('overhead_cpu')):>7} {fmt(compile_s, '.1f'):>9} "
                    f"{rss:>7.0f} {r['rate_hz']:>7.2f} {fmt(r.get('rms_dw_mV'), '.3f'):>9}")
    return "\n".join(rows)


def profile_table(profiles: list[dict]) -> str:
    """Time per step of each code object (us), profiled standalone runs."""
    rows = []
    for p in profiles:
        steps = p["duration"] / DT
        total = sum(p["profile_s"].values())
        rows.append(f"{p['synapses']:.0e} synapses, {p['variant']}: {total / steps * 1e6:.1f} us per step")
        for name, t in sorted(p["profile_s"].items(), key=lambda item: -item[1]):
            if t / total >= 0.005:
                rows.append(f"    {name:<48} {t / steps * 1e6:8.2f} us {100 * t / total:5.1f}%")
    return "\n".join(rows)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    from dendritic.plots import save_figure

    sizes = sorted({r["N"] for r in results})
    plastic = [v for v in VARIANTS if v != "static" and any(r["variant"] == v for r in results)]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / max(1, len(plastic))
    labels = [f"{t}\n{N * K:.0e} syn" for N in sizes for t in TARGETS if any(r["target"] == t and r["N"] == N
                                                                             for r in results)]
    keys = [(t, N) for N in sizes for t in TARGETS if any(r["target"] == t and r["N"] == N for r in results)]
    for k, variant in enumerate(plastic):
        by_key = {(r["target"], r["N"]): r for r in results if r["variant"] == variant}
        x = np.arange(len(keys)) + (k - (len(plastic) - 1) / 2) * width
        overhead = [by_key.get(key, {}).get("overhead_cpu", np.nan) for key in keys]
        updates = [by_key.get(key, {}).get("updates_per_s", np.nan) for key in keys]
        axes[0].bar(x, overhead, width, label=variant)
        axes[1].bar(x, updates, width, label=variant)
    axes[0].axhline(2.0, color="k", ls="--", lw=1, label="goal (cpp_standalone)")
    axes[0].set_ylabel("plastic / static CPU time per simulated s")
    axes[0].set_title("overhead of plasticity")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("learning updates / wall s (loop)")
    axes[1].set_title("synaptic updates per second")
    for axis in axes:
        axis.set_xticks(np.arange(len(keys)), labels, fontsize=7)
        axis.grid(True, axis="y", which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def duration_for(target: str, N: int, args) -> float:
    if args.duration is not None:
        return args.duration
    table_ = DURATIONS[target]
    base = table_.get(N, table_[min(table_, key=lambda n: abs(n - N))])
    return base / 5 if args.quick else base


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000],
                        help="postsynaptic neurons (x 100 synapses)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--neuron", default="urbanczik2014")
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds for every configuration")
    parser.add_argument("--quick", action="store_true", help="runs 5x shorter")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each standalone binary, the variants interleaved; the fastest counts "
                             "(default: %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="also run the cpp_standalone configurations of the largest size (half as long) with "
                             "Brian's profiling: time per code object")
    parser.add_argument("--output", type=Path, default=OUT_DIR / "plasticity.json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        variant, target, N, duration, build_dir, neuron, repeats = args.worker[:7]
        print(json.dumps(worker(variant, target, int(N), float(duration), Path(build_dir), neuron, int(repeats),
                                profile=args.worker[7:] == ["profile"])))
        return

    if "static" not in args.variants:
        args.variants = ["static", *args.variants]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results, profiles = [], []
    started = time.perf_counter()
    for N in args.sizes:
        for target in args.targets:
            for variant in args.variants:
                duration = duration_for(target, N, args)
                build_dir = BUILD_ROOT / f"bench-plasticity-{variant}-{N}"
                print(f"[{time.perf_counter() - started:7.1f} s] {target} {variant} {N * K:.0e} synapses, "
                      f"{duration} s simulated ...", flush=True)
                load_before = os.getloadavg()[0]
                result = spawn([variant, target, str(N), str(duration), str(build_dir), args.neuron, "1"])
                result["load_average_1min"] = [load_before, os.getloadavg()[0]]
                results.append(result)
                print(f"           loop {result['loop_s']:.2f} s, cpu {result['cpu_s']:.2f} s, "
                      f"{result['sim_per_wall']:.3f} sim-s/s, rate {result['rate_hz']:.2f} Hz"
                      + (f", {result['updates_per_s']:.3g} updates/s" if "updates_per_s" in result else ""),
                      flush=True)
            if target == "cpp_standalone" and args.repeats > 1:
                rerun_interleaved([r for r in results if r["target"] == target and r["N"] == N], args.repeats - 1)
            if target == "cpp_standalone" and args.profile and N == max(args.sizes):
                for variant in args.variants:
                    duration = duration_for(target, N, args) / 2
                    print(f"[{time.perf_counter() - started:7.1f} s] profiling {target} {variant} {N * K:.0e} "
                          f"synapses, {duration} s simulated ...", flush=True)
                    profiles.append(spawn([variant, target, str(N), str(duration),
                                           str(BUILD_ROOT / f"bench-plasticity-{variant}-{N}"), args.neuron, "1",
                                           "profile"]))
            if target == "cpp_standalone":
                for variant in args.variants:
                    shutil.rmtree(BUILD_ROOT / f"bench-plasticity-{variant}-{N}", ignore_errors=True)
    total = time.perf_counter() - started
    add_overheads(results)

    print()
    print(table(results))
    print("\nloop s = simulation loop wall time (numpy/cython: Brian's timer; standalone: the binary's, fastest of "
          "the repeats);\ncpu s = user+sys CPU time (runtime: the measured network.run minus a one-step run's; "
          "standalone: the binary incl. start-up);\nupdates/s = learning updates (synapses x intervals) per loop s; "
          "syn-steps/s = synapses x time steps per loop s;\noverhead = plastic / static loop time per simulated s, "
          "same target and size; ovh cpu = the same on CPU time;\ncompile s = standalone: make; numpy/cython: wall "
          "time of the 10 ms warm-up run (code generation, compilation or cache loading);\nRSS = peak resident set "
          "(standalone: the binary; else the Python worker); rate = postsynaptic population rate;\nrms dw = rms weight "
          "change over the run")
    if profiles:
        print("\nprofiled cpp_standalone runs (Brian's profile=True), time per step of each code object:")
        print(profile_table(profiles))
    print(f"benchmark wall time {total / 60:.1f} min")

    from dendritic.io import machine, write_json

    payload = {"results": results, "profiles": profiles, "wall_time_s": total, "machine": machine(),
        "network": {"K": K, "input_rate_hz": INPUT_RATE, "w_mean_V": W_MEAN, "w_std_V": W_STD, "dt_s": DT,
                    "n_inputs": "max(1000, N)", "neuron": args.neuron, "seed": SEED},
        "command": " ".join([Path(sys.executable).name, *sys.argv])}
    write_json(args.output, payload, indent=1, default=str)
    plot(results, args.output.with_suffix(".png"))
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
