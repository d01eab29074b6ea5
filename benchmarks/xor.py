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

``report``: summarises finished runs (``dendritic run xor`` HDF5 files): per seed the
output event rate of each pattern after learning, solved or not, the last epoch cost,
the measured speed.

Usage::

    python benchmarks/xor.py measure                       # 2 chunks of 40 s, N = 500, one core
    python benchmarks/xor.py measure --threads 2
    python benchmarks/xor.py report data/runs/xor_full/xor.h5

Writes ``benchmarks/results/xor_measure.json`` (and ``xor_report.json``).
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


def report(args) -> dict:
    sys.path.insert(0, str(ROOT))
    from dendritic.io import read_results

    rows = []
    for path in args.files:
        results = read_results(path)
        for seed, res in results["seeds"].items():
            after = res["tests"]["test_after"]
            timing = {k: float(v) for k, v in res["timing"].items()}
            rows.append({"file": str(path), "seed": int(seed), "solved": bool(res["solved"]),
                         "after_Hz": {p: float(r) for p, r in zip(after["pattern"], after["event_rate"])},
                         "last_epoch_cost": float(res["epochs"]["cost"][-1]) if len(res["epochs"]["cost"]) else None,
                         "first_epoch_cost": float(res["epochs"]["cost"][0]) if len(res["epochs"]["cost"]) else None,
                         "sim_s_per_wall_s": timing.get("sim_s_per_wall_s")})
    for row in rows:
        rates = ", ".join(f"{p} {r:.1f}" for p, r in row["after_Hz"].items())
        print(f"seed {row['seed']}: {rates} Hz; solved {row['solved']}; epoch cost {row['first_epoch_cost']:.2f} -> "
              f"{row['last_epoch_cost']:.2f}")
    solved = sum(r["solved"] for r in rows)
    print(f"solved in {solved} of {len(rows)} seeds")
    return {"rows": rows, "solved": solved}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="time the first chunks of the published protocol")
    m.add_argument("--neurons", type=int, default=500)
    m.add_argument("--chunk", default="40 s")
    m.add_argument("--chunks", type=int, default=2)
    m.add_argument("--threads", type=int, default=0)
    m.add_argument("--build-dir", default=None)
    r = sub.add_parser("report", help="summarise finished runs")
    r.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    result = measure(args) if args.command == "measure" else report(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"xor_{args.command}.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
