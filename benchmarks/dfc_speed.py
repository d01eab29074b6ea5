"""Speed and memory of the rate-based DFC on Fashion-MNIST (784-256-256-256-10, batch 128).

Measures seconds per mini-batch for backprop, DFC-SSA, the sleep-phase feedback step
and simulated DFC at the published step counts (300 Euler steps at dt 0.02 with learned
feedback; 1500 steps at dt 0.001 with fixed feedback), extrapolates seconds per epoch
(55,000 training images, the published schedule including two sleep epochs per epoch
for learned feedback), and records each method's peak resident memory (every method
runs in its own process, so ``ru_maxrss`` is that method's peak).

Reference (authors' PyTorch code, 2 CPU cores, float64): BP ~0.01 s/batch (5-8 s/epoch,
0.85 GB); DFC-SSA with trained feedback ~410 s/epoch; simulated DFC 3.8 s/batch at 300
steps (3.4 GB) and 16.8 s/batch at 1500 steps (13.7 GB).

    python benchmarks/dfc_speed.py [--threads 1] [--dtype float32] [--batches 5] [--helper-thread 0|1]

Prints a table and writes ``data/benchmarks/dfc_speed.json`` and ``dfc_speed.png``
(speed-up over the reference per method). The rate package runs BLAS on one thread
(``dendritic.rate.threads``) plus, with ``--helper-thread 1``, one helper thread for
the trajectory sums and the noise draws of the simulated dynamics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REFERENCE = {  # seconds per batch, seconds per epoch, GB (authors' code, 2 CPU cores, float64)
    "bp": {"s_per_batch": 0.01, "s_per_epoch": 6.5, "peak_gb": 0.85},
    "dfc_ssa_learned_feedback": {"s_per_batch": None, "s_per_epoch": 410.0, "peak_gb": None},
    "dfc_300_steps_learned_feedback": {"s_per_batch": 3.8, "s_per_epoch": 2300.0, "peak_gb": 3.4},
    "dfc_1500_steps_fixed_feedback": {"s_per_batch": 16.8, "s_per_epoch": 7200.0, "peak_gb": 13.7},
}
GOALS = "simulated DFC >= 10x faster per batch in < 2 GB; DFC-SSA (learned feedback) < 60 s/epoch; BP within 2x"
TRAIN_IMAGES = 55000
BATCH = 128


def _worker(method: str, dtype_name: str, batches: int) -> dict:
    import resource

    import numpy as np

    from dendritic.rate import training
    from dendritic.rate.experiment import build_student, load_experiment, method_config

    dtype = np.dtype(dtype_name)
    e = load_experiment("dfc_fashion_mnist")
    methods = {m["name"]: m for m in e["methods"]}
    name = {"bp": "bp", "dfc_ssa_learned_feedback": "dfc_ssa", "dfc_300_steps_learned_feedback": "dfc_learned",
            "dfc_1500_steps_fixed_feedback": "dfc_fixed"}[method]
    spec = methods[name]
    rng = np.random.default_rng(0)
    try:
        from dendritic import data as datasets

        ds = datasets.load_fashion_mnist()
        x_all = datasets.standardize(ds.x_train[: BATCH * (batches + 1)], dtype=dtype)[0]
        y_all = ds.y_train[: BATCH * (batches + 1)]
        source = "fashion_mnist"
    except Exception:  # benchmark still meaningful on random inputs of the same shape
        x_all = rng.standard_normal((BATCH * (batches + 1), 784)).astype(dtype)
        y_all = rng.integers(0, 10, len(x_all))
        source = "random"
    net = build_student([784, 256, 256, 256, 10], e["network"], spec, dtype, 0)
    learner = training.Learner(net, method_config(spec, "cross_entropy"), rng)
    batches_x = [x_all[k * BATCH:(k + 1) * BATCH] for k in range(batches + 1)]
    batches_y = [y_all[k * BATCH:(k + 1) * BATCH] for k in range(batches + 1)]
    learner.train_batch(batches_x[0], batches_y[0])  # warm-up (imports, allocations)
    start, cpu_start = time.perf_counter(), time.process_time()
    for x, y in zip(batches_x[1:], batches_y[1:]):
        learner.train_batch(x, y)
    forward_s = (time.perf_counter() - start) / batches
    forward_cpu = (time.process_time() - cpu_start) / batches
    feedback_s = feedback_cpu = 0.0
    extra = 0
    if spec["feedback"] == "learned":
        extra = spec["feedback_learning"]["extra_epochs"]
        learner.train_feedback_batch(batches_x[0])
        start, cpu_start = time.perf_counter(), time.process_time()
        for x in batches_x[1:]:
            learner.train_feedback_batch(x)
        feedback_s = (time.perf_counter() - start) / batches
        feedback_cpu = (time.process_time() - cpu_start) / batches
    n_batches = -(-TRAIN_IMAGES // BATCH)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "method": method,
        "config_method": name,
        "data": source,
        "dtype": dtype_name,
        "batches_timed": batches,
        "s_per_batch": forward_s,
        "feedback_s_per_batch": feedback_s,
        "sleep_epochs_per_epoch": extra,
        "s_per_epoch": n_batches * (forward_s + extra * feedback_s),
        # CPU seconds of this process: on a shared machine, closer to what it needs alone
        "cpu_s_per_batch": forward_cpu,
        "cpu_feedback_s_per_batch": feedback_cpu,
        "cpu_s_per_epoch": n_batches * (forward_cpu + extra * feedback_cpu),
        "peak_gb": peak_kb / 1024 ** 2,
        "converged_fraction": float(np.mean(learner.converged_fractions)) if learner.converged_fractions else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library default)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per method (after one warm-up)")
    parser.add_argument("--methods", default=",".join(REFERENCE))
    parser.add_argument("--helper-thread", type=int, choices=(0, 1), default=0,
                        help="use the rate package's helper thread (default 0)")
    parser.add_argument("--output", type=Path, default=Path("data/benchmarks/dfc_speed.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.dtype, args.batches)))
        return 0

    env = dict(os.environ)
    env["DENDRITIC_HELPER_THREAD"] = str(args.helper_thread)
    if args.threads is not None:
        for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(args.threads)
    rows = []
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--worker", method, "--dtype", args.dtype, "--batches", str(args.batches)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print(f"{'method':34s} {'s/batch':>9s} {'cpu s':>7s} {'ref':>6s} {'speed-up':>8s} {'s/epoch':>9s} "
          f"{'cpu s':>7s} {'ref':>6s} {'peak GB':>8s} {'ref':>5s}")
    for row in rows:
        ref = REFERENCE[row["method"]]
        row["reference"] = ref
        row["speedup_per_batch"] = ref["s_per_batch"] / row["s_per_batch"] if ref["s_per_batch"] else None
        row["speedup_per_epoch"] = ref["s_per_epoch"] / row["s_per_epoch"]

        def fmt(v, f="{:.3f}"):
            return f.format(v) if v is not None else "-"

        print(f"{row['method']:34s} {row['s_per_batch']:9.3f} {row['cpu_s_per_batch']:7.3f} "
              f"{fmt(ref['s_per_batch'], '{:.2f}'):>6s} {fmt(row['speedup_per_batch'], '{:.1f}x'):>8s} "
              f"{row['s_per_epoch']:9.1f} {row['cpu_s_per_epoch']:7.1f} {fmt(ref['s_per_epoch'], '{:.0f}'):>6s} "
              f"{row['peak_gb']:8.2f} {fmt(ref['peak_gb'], '{:.2f}'):>5s}")
    print(f"goals: {GOALS}")
    print("speed-up: reference / wall-clock s per batch; 'cpu s': CPU time of the benchmark process")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.2f} (1 min), {os.cpu_count()} CPUs, BLAS threads "
          f"{args.threads if args.threads is not None else 'default'}, {args.dtype}")
    from dendritic.io import machine, write_json

    report = {"rows": rows, "goals": GOALS, "dtype": args.dtype, "threads": args.threads,
              "helper_thread": args.helper_thread, "batch_size": BATCH, "train_images": TRAIN_IMAGES,
              "machine": machine(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(args.output, report)
    figure = _plot(rows, args.output.with_suffix(".png"), load[0])
    print(f"saved {args.output} and {figure}")
    return 0


def _plot(rows, path: Path, load: float) -> Path:
    import matplotlib.pyplot as plt

    from dendritic.plots import save_figure

    names = [row["method"] for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    y = range(len(rows))
    per_epoch = [row["speedup_per_epoch"] for row in rows]
    per_batch = [row["speedup_per_batch"] or float("nan") for row in rows]
    axes[0].barh([k + 0.2 for k in y], per_batch, height=0.4, label="per batch (wall)")
    axes[0].barh([k - 0.2 for k in y], per_epoch, height=0.4, label="per epoch (wall)")
    axes[0].axvline(1.0, color="k", lw=0.8)
    axes[0].axvline(10.0, color="r", ls="--", lw=0.8, label="10x goal (simulated DFC)")
    axes[0].set(yticks=list(y), yticklabels=names, xscale="log", xlabel="speed-up over the reference",
                title=f"rate DFC, Fashion-MNIST batch 128 (load {load:.1f})")
    axes[0].legend(fontsize=7)
    axes[1].barh(list(y), [row["peak_gb"] for row in rows], color="C2")
    axes[1].axvline(2.0, color="r", ls="--", lw=0.8, label="2 GB goal")
    axes[1].set(yticks=list(y), yticklabels=[""] * len(rows), xlabel="peak memory (GB)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


if __name__ == "__main__":
    sys.exit(main())
