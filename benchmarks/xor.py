"""Speed and memory of the spiking XOR (Payeur et al. 2021, Fig. 4) as ``dendritic run
xor`` runs it: the published network (5 x 500 burst-Poisson neurons, ~800,000
synapses, 20 private Poisson backgrounds) on cpp_standalone.

``measure``: builds the experiment and runs its first chunks (one core unless
``--threads``), then runs the binary once more on its own to read its peak memory.
Reported: ``compile_s`` (code generation + make), ``loop_sim_s_per_wall_s`` (the
binary's own loop timer), ``chunk_sim_s_per_wall_s`` (whole chunks: the binary's start,
the state passed in and out, the HDF5 checkpoint), the binary's peak resident memory,
and the wall time these give for the full protocol (16,070 s simulated) and a
shortened one (200 epochs of 4 s examples: 3,238 s). Reference on this machine: the
published Auryn code, 2.19 simulated s per wall s and 27.6 MB (issue 22).

``report``: keeps a summary of each seed of finished runs (``dendritic run xor`` HDF5
files) in ``benchmarks/results/xor/<experiment>_seed<k>.json`` (committed, so seeds run in
different sessions add up), then prints the table of all of them per experiment file
(output event rate per pattern after learning, solved or not, epoch cost first and last
ten epochs, the teaching-response correlations, the measured speed) and draws
``<experiment>_summary.png`` (cost per epoch per seed; rates after learning, 6 Hz line).

Usage::

    python benchmarks/xor.py measure                       # 2 chunks of 40 s, N = 500, one core
    python benchmarks/xor.py measure --threads 2
    python benchmarks/xor.py report data/runs/xor_full/xor.h5
    python benchmarks/xor.py report                        # the table of the summaries kept

Writes ``benchmarks/results/xor_measure.json`` (and ``xor_report.json``, ``xor/``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FULL_S, SHORT_S, AURYN = 16070.0, 3238.0, {"sim_s_per_wall_s": 2.19, "peak_MB": 27.6}

_PEAK = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run([sys.argv[1], "--results_dir", sys.argv[2]], cwd=sys.argv[3], check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, wall)
"""


def measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    from dendritic.backend import Backend
    from dendritic.experiments import xor

    overrides = [f"run.neurons={args.neurons}", f'run.chunk="{args.chunk}"']
    config = xor.load_config("xor", overrides)
    build = Path(args.build_dir or tempfile.mkdtemp(prefix="xor-bench-"))
    backend = Backend.for_config(config, "cpp_standalone", build_dir=build, threads=args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        raw = xor.train(config, backend, Path(scratch) / "checkpoint.h5", progress=False, max_chunks=args.chunks)
        wall = time.perf_counter() - start
        peak_mb, binary_wall = (float(x) for x in subprocess.run(
            [sys.executable, "-c", _PEAK, str(build / "main"), str(Path(scratch) / "results"), str(build)],
            check=True, capture_output=True, text=True).stdout.split())
    t = raw["timing"]
    simulated = t["chunks_run"] * float(config.chunk)
    loop_rate = simulated / t["loop_s"]
    chunk_rate = simulated / t["run_s"]
    result = {
        "neurons_per_population": args.neurons, "openmp_threads": args.threads, "chunk_s": float(config.chunk),
        "chunks": int(t["chunks_run"]), "simulated_s": simulated, "compile_s": t["build_s"], "wall_s": wall,
        "loop_s": t["loop_s"], "chunks_wall_s": t["run_s"], "loop_sim_s_per_wall_s": loop_rate,
        "chunk_sim_s_per_wall_s": chunk_rate, "binary_peak_MB": peak_mb,
        "binary_alone_wall_s": binary_wall,
        "full_protocol_h": FULL_S / chunk_rate / 3600, "short_protocol_min": SHORT_S / chunk_rate / 60,
        "auryn": AURYN, "machine_load": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    print(f"\nXOR N={args.neurons}, {args.threads or 1} thread(s): {loop_rate:.2f} simulated s per wall s in the loop, "
          f"{chunk_rate:.2f} with the chunks' overhead (Auryn: {AURYN['sim_s_per_wall_s']}); peak {peak_mb:.0f} MB "
          f"(Auryn: {AURYN['peak_MB']} MB); compile {t['build_s']:.0f} s; full protocol "
          f"{result['full_protocol_h']:.1f} h, shortened {result['short_protocol_min']:.0f} min per seed")
    return result


def _neurons(attrs: dict) -> int:
    """Population size of a run: its attribute, or (files written before it was kept)
    the experiment file's default when the command line did not set ``--neurons``."""
    if "neurons_per_population" in attrs:
        return int(attrs["neurons_per_population"])
    if "--neurons" in str(attrs.get("command", "")):
        raise ValueError(f"{attrs.get('command')}: the population size is not recorded; rerun `report` on a newer file")
    from dendritic.experiments import xor

    config = xor.load_config(Path(str(attrs["experiment_file"])).stem)
    return int(config.spec.values["populations"][0]["N"])


def _seed_summary(path: Path, seed: str, res: dict, attrs: dict) -> dict:
    """What a finished seed keeps in git: the tests, the epoch-cost curve, the teaching
    response and the speed (a few kB; the run's HDF5 stays in data/)."""
    def rates(phase):
        test = res["tests"][phase]
        return {str(p): float(r) for p, r in zip(test["pattern"], np.asarray(test["event_rate"]))}

    cost = np.asarray(res["epochs"]["cost"], dtype=float)
    timeline = res["examples_timeline"]
    durations = np.asarray(timeline["end"] - timeline["start"], dtype=float)
    scale = float(attrs.get("learning_rate_scale", 1.0))
    label = Path(str(attrs.get("experiment_file", "xor"))).stem
    return {"experiment_file": str(attrs.get("experiment_file", "")), "label": label, "learning_rate_scale": scale,
            "file": str(path), "seed": int(seed),
            "neurons_per_population": _neurons(attrs), "command": str(attrs.get("command", "")), "created": str(attrs.get("created", "")),
            "example_duration_s": float(np.median(durations)) if durations.size else None,
            "epochs": int(cost.size), "solved": bool(res["solved"]),
            "before_Hz": rates("test_before"), "after_Hz": rates("test_after"),
            "epoch_cost": [round(float(c), 5) for c in cost],
            "r_hidden1": float(res["teaching_response"]["correlation_with_output"].get("hidden1", np.nan)),
            "r_hidden2": float(res["teaching_response"]["correlation_with_output"].get("hidden2", np.nan)),
            "timing": {k: float(v) for k, v in res["timing"].items()}}


def report(args) -> dict:
    """Per-seed summaries of finished runs into benchmarks/results/xor/, then the table of
    every summary there (seeds finished in earlier sessions included)."""
    sys.path.insert(0, str(ROOT))
    from dendritic.io import read_attributes, read_results, write_json

    out = RESULTS / "xor"
    for path in args.files:
        results, attrs = read_results(path), read_attributes(path)
        stem = Path(str(attrs.get("experiment_file", "xor"))).stem
        for seed, res in results["seeds"].items():
            write_json(out / f"{stem}_seed{int(seed)}.json", _seed_summary(Path(path), seed, res, attrs), indent=1)
    return summarise(out)


def summarise(folder: Path) -> dict:
    """Table and figure of every per-seed summary in ``folder``, per experiment file."""
    rows = [json.loads(p.read_text()) for p in sorted(folder.glob("*_seed*.json"))]
    experiments = {}
    for row in rows:
        experiments.setdefault(row.get("label") or Path(row["experiment_file"]).stem, []).append(row)
    summary = {}
    for name, group in experiments.items():
        group.sort(key=lambda r: r["seed"])
        print(f"{name}:")
        for row in group:
            rates = ", ".join(f"{p} {r:.1f}" for p, r in row["after_Hz"].items())
            cost = row["epoch_cost"]
            speed = row["timing"].get("sim_s_per_wall_s", float("nan"))
            print(f"  seed {row['seed']}: after learning {rates} Hz; solved {'yes' if row['solved'] else 'no'}; "
                  f"epoch cost {np.mean(cost[:10]):.3f} (first 10) -> {np.mean(cost[-10:]):.3f} (last 10); "
                  f"r hidden1 {row['r_hidden1']:.2f}, hidden2 {row['r_hidden2']:.2f}; {speed:.2f} sim s per wall s")
        solved = sum(r["solved"] for r in group)
        print(f"  solved in {solved} of {len(group)} seeds")
        summary[name] = {"seeds": [r["seed"] for r in group], "solved": solved,
                         "sim_s_per_wall_s": [r["timing"].get("sim_s_per_wall_s") for r in group]}
        _figure(name, group, folder / f"{name}_summary.png")
    return summary


def _figure(name: str, group: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for row in group:
        a.plot(np.arange(1, len(row["epoch_cost"]) + 1), row["epoch_cost"], lw=0.8, label=f"seed {row['seed']}")
    a.set_xlabel("epoch")
    a.set_ylabel("summed cost per epoch")
    a.legend(frameon=False, fontsize=8)
    patterns = list(group[0]["after_Hz"])
    width = 0.8 / len(group)
    for k, row in enumerate(group):
        x = np.arange(len(patterns)) + (k - (len(group) - 1) / 2) * width
        b.bar(x, [row["after_Hz"][p] for p in patterns], width, label=f"seed {row['seed']}")
    b.axhline(6.0, color="k", ls="--", lw=0.8)
    b.set_xticks(np.arange(len(patterns)), patterns)
    b.set_ylabel("output event rate after learning (Hz)")
    fig.suptitle(f"{name}: solved in {sum(r['solved'] for r in group)} of {len(group)} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  figure: {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="time the first chunks of the published protocol")
    m.add_argument("--neurons", type=int, default=500)
    m.add_argument("--chunk", default="40 s")
    m.add_argument("--chunks", type=int, default=2)
    m.add_argument("--threads", type=int, default=0)
    m.add_argument("--build-dir", default=None)
    r = sub.add_parser("report", help="keep per-seed summaries of finished runs, then summarise them all")
    r.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    result = measure(args) if args.command == "measure" else report(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"xor_{args.command}.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
