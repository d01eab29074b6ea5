"""Is an engine that changes the random stream or the arithmetic (issue 22: the combined
background draw, float32 state) the same process as the reference build? The XOR
network (``models/networks/xor.toml``, constant inputs "1"/"0", learning gate open for
the last 10 % of the run, as ``benchmarks/engine_xor.py``) at several seeds, on the
reference engine and on the engines under test.

Per population and seed, against the reference build of the same seed (same
connectivity and initial state, another stream of random numbers):

* two-sample Kolmogorov-Smirnov tests of the per-neuron spike counts and of the
  pooled inter-spike intervals;
* the population rate, event rate and burst probability, and the mean change of the
  plastic weights in the learning window, each compared with the seed-to-seed spread
  (the mean difference engine - reference against twice the pooled standard deviation
  over seeds) and by a paired t-test over seeds.

Each (engine, seed) is one build in its own process; seeds of one engine reuse the
engine's build folder, so only the files that change (connectivity, seed) are
recompiled. Writes ``benchmarks/results/engine_equivalence.json`` and a figure.

    python benchmarks/engine_equivalence.py --engines combined float32 --seeds 1 2 3 --duration 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
POPULATIONS = ("input1", "input2", "hidden1", "hidden2", "output")


def worker(engine: str, seed: int, duration: float, build_dir: Path, out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from engine_xor import run_xor

    result = run_xor(duration, build_dir, seed=seed, engine=engine, record_weights=True)
    arrays = {f"{name}.{key}": value for name, r in result["spike_records"].items() for key, value in r.items()}
    arrays.update({f"weights.{name}": w for name, w in result["weights"].items()})
    np.savez_compressed(out, loop_s=result["loop_s"], **arrays)


def statistics_of(data, duration: float, learning_start: float) -> dict:
    """Per population: counts per neuron, pooled ISIs, rates; the weights' mean change."""
    from dendritic.bursts import classify_spikes

    out = {}
    for name in POPULATIONS:
        i, t, N = data[f"{name}.i"], data[f"{name}.t"], int(data[f"{name}.N"])
        order = np.lexsort((t, i))
        i, t = i[order], t[order]
        same = i[1:] == i[:-1]
        isi = np.diff(t)[same]
        _, is_event, is_burst = classify_spikes(i, t, 16e-3)
        out[name] = {"counts": np.bincount(i, minlength=N), "isi": isi, "rate_hz": len(t) / N / duration,
                     "event_rate_hz": is_event.sum() / N / duration,
                     "burst_probability": is_burst.sum() / max(is_event.sum(), 1)}
    weights = [key for key in data.files if key.startswith("weights.")]
    out["weight_change"] = float(np.mean([np.mean(data[key]) - 0.234 for key in weights]))
    return out


def compare(stats, engines, seeds) -> dict:
    """KS tests per seed and population; differences from the reference against the
    reference's seed-to-seed spread."""
    from scipy import stats as sps

    report = {}
    for engine in engines:
        if engine == "reference":
            continue
        entry = {"ks": {}, "spread": {}}
        for seed in seeds:
            a, b = stats[("reference", seed)], stats[(engine, seed)]
            entry["ks"][seed] = {name: {"counts_p": float(sps.ks_2samp(a[name]["counts"], b[name]["counts"]).pvalue),
                                        "isi_p": float(sps.ks_2samp(a[name]["isi"], b[name]["isi"]).pvalue)}
                                 for name in POPULATIONS}
        def spread(ref, eng):
            difference = eng - ref
            pooled = np.sqrt((ref.var(ddof=1) + eng.var(ddof=1)) / 2)
            return {"reference_mean": float(ref.mean()), "reference_sd_over_seeds": float(ref.std(ddof=1)),
                    "engine_mean": float(eng.mean()), "engine_sd_over_seeds": float(eng.std(ddof=1)),
                    "mean_difference": float(difference.mean()),
                    # the criterion: the engine's mean within the seed-to-seed spread
                    "within_spread": bool(abs(difference.mean()) <= 2 * pooled + 1e-12),
                    # paired by seed (same connectivity and initial state): t-test of the differences
                    "paired_t_p": float(sps.ttest_rel(eng, ref).pvalue) if np.any(difference != 0) else 1.0}

        for name in POPULATIONS:
            for key in ("rate_hz", "event_rate_hz", "burst_probability"):
                entry["spread"][f"{name}.{key}"] = spread(
                    np.array([stats[("reference", s)][name][key] for s in seeds]),
                    np.array([stats[(engine, s)][name][key] for s in seeds]))
        entry["spread"]["weight_change"] = spread(np.array([stats[("reference", s)]["weight_change"] for s in seeds]),
                                                  np.array([stats[(engine, s)]["weight_change"] for s in seeds]))
        p_values = [v for per_seed in entry["ks"].values() for pop in per_seed.values() for v in pop.values()]
        entry["ks_min_p"] = float(min(p_values))
        entry["ks_tests"] = len(p_values)
        entry["ks_below_0.01"] = int(sum(p < 0.01 for p in p_values))
        report[engine] = entry
    return report


def figure(stats, engines, seeds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(POPULATIONS), figsize=(3.2 * len(POPULATIONS), 5.5))
    for column, name in enumerate(POPULATIONS):
        for engine in engines:
            counts = np.concatenate([stats[(engine, s)][name]["counts"] for s in seeds])
            isi = np.concatenate([stats[(engine, s)][name]["isi"] for s in seeds]) * 1e3
            axes[0, column].hist(counts, bins=30, histtype="step", density=True, label=engine)
            axes[1, column].hist(isi, bins=np.logspace(0, 3.5, 40), histtype="step", density=True, label=engine)
        axes[0, column].set_title(name)
        axes[0, column].set_xlabel("spikes per neuron")
        axes[1, column].set_xscale("log")
        axes[1, column].set_xlabel("inter-spike interval (ms)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"XOR network, engines against the reference, seeds {', '.join(map(str, seeds))}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", nargs="+", default=["combined", "float32"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--build-root", type=Path, default=ROOT / "data" / "build" / "engine_equivalence")
    parser.add_argument("--output", type=Path, default=RESULTS / "engine_equivalence.json")
    parser.add_argument("--worker", nargs=4, metavar=("ENGINE", "SEED", "BUILD_DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        engine, seed, build_dir, out = args.worker
        worker(engine, int(seed), args.duration, Path(build_dir), Path(out))
        return 0
    engines = ["reference"] + [e for e in args.engines if e != "reference"]
    stats, loops = {}, {}
    for engine in engines:
        for seed in args.seeds:
            build_dir = args.build_root / engine
            out = args.build_root / f"{engine}_seed{seed}_{args.duration:g}s.npz"
            if not out.exists():
                process = subprocess.run([sys.executable, __file__, "--duration", str(args.duration), "--worker",
                                          engine, str(seed), str(build_dir), str(out)],
                                         capture_output=True, text=True, env=os.environ.copy())
                if process.returncode != 0:
                    print(process.stdout[-2000:], process.stderr[-5000:], file=sys.stderr)
                    return 1
            with np.load(out) as data:
                stats[(engine, seed)] = statistics_of(data, args.duration, 0.9 * args.duration)
                loops[f"{engine}/{seed}"] = float(data["loop_s"])
            print(f"{engine}, seed {seed}: " + ", ".join(
                f"{name} {stats[(engine, seed)][name]['rate_hz']:.2f} Hz" for name in POPULATIONS)
                  + f", weight change {stats[(engine, seed)]['weight_change']:+.4f}", flush=True)
    report = compare(stats, engines, args.seeds)
    for engine, entry in report.items():
        paired = min(v["paired_t_p"] for v in entry["spread"].values())
        print(f"{engine}: KS min p = {entry['ks_min_p']:.3g} over {entry['ks_tests']} tests "
              f"({entry['ks_below_0.01']} below 0.01); outside 2 pooled seed SDs: "
              f"{[k for k, v in entry['spread'].items() if not v['within_spread']]}; paired t-tests of "
              f"{len(entry['spread'])} rates: min p = {paired:.3g}")
    from dendritic.io import machine, write_json

    args.output.parent.mkdir(parents=True, exist_ok=True)
    summary = {f"{engine}/{seed}": {name: {k: v for k, v in s[name].items() if k not in ("counts", "isi")}
                                    for name in POPULATIONS} | {"weight_change": s["weight_change"]}
               for (engine, seed), s in stats.items()}
    write_json(args.output, {"machine": machine(), "duration_s": args.duration, "seeds": args.seeds,
                             "per_run": summary, "comparison": {e: {**v, "ks": {str(k): x for k, x in v["ks"].items()}}
                                                                for e, v in report.items()},
                             "loop_s": loops})
    figure(stats, engines, args.seeds, args.output.with_suffix(".png"))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
