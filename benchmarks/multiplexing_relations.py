"""The four relations of Payeur et al. 2021, Fig. 3, measured over seeds on the
multiplexing circuit (``models/networks/multiplexing.toml``, cpp_standalone, one build
per seed because the connectivity is drawn from the seed).

Per seed, the Pearson correlations over the 60 bins of 50 ms after the 1 s burn-in:

* population-1 event rate vs its somatic input (feedforward signal, Fig. 3c);
* population-2 burst probability vs its dendritic input (feedback signal, Fig. 3d);
* population-2 event rate vs population-1 event rate (the feedforward channel);
* population-1 burst probability vs population-2 burst rate (the feedback channel);

and, as controls, the crossed pairs (event rate 1 vs dendritic input 2, burst
probability 2 vs somatic input 1). The published figure shows five realisations
(seeds 1-5 of ``sim/run_propagation.sh``) averaged bin by bin: event and burst rates,
and the burst probability of each realisation (``std_BRER_over_realizations`` in
``analysis/raster_analysis.py``); the same relations are computed on that average too.

Usage::

    python benchmarks/multiplexing_relations.py                    # 4,000 per population, seeds 1-5
    python benchmarks/multiplexing_relations.py --neurons 1000 --seeds 1 2

Writes ``data/benchmarks/multiplexing_relations.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "benchmarks"

RELATIONS = {
    "event_rate_1_vs_somatic_input": "event rate 1 vs somatic input 1",
    "burst_probability_2_vs_dendritic_input": "burst probability 2 vs dendritic input 2",
    "event_rate_2_vs_event_rate_1": "event rate 2 vs event rate 1",
    "burst_probability_1_vs_burst_rate_2": "burst probability 1 vs burst rate 2",
    "event_rate_1_vs_dendritic_input": "control: event rate 1 vs dendritic input 2",
    "burst_probability_2_vs_somatic_input": "control: burst probability 2 vs somatic input 1",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4000, help="pyramidal neurons per population")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--config", default="multiplexing", help="circuit file or name in models/networks")
    parser.add_argument("--output", type=Path, default=OUT_DIR / "multiplexing_relations.json")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from dendritic.backend import Backend
    from dendritic.bursts.multiplexing import average_analyses, correlations
    from dendritic.experiments import multiplexing
    from dendritic.io import machine, write_json
    from dendritic.plots import save_figure

    spec = multiplexing.load_circuit(args.config)
    if args.neurons != spec.values["populations"][0]["N"]:
        spec = spec.resized(args.neurons)
    per_seed, analyses = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(dir=ROOT / "data") as build:
            config = multiplexing.Config(spec.with_run(seed=seed))
            backend = Backend.for_config(config, "cpp_standalone", build_dir=Path(build) / "multiplexing")
            _, analysis, correlation, timing = multiplexing.simulate(config, backend)
        analyses.append(analysis)
        per_seed.append({"seed": seed, **correlation, "run_s": timing["run_s"]})
        print(f"seed {seed}: " + ", ".join(f"{key} {correlation[key]:.3f}" for key in RELATIONS), flush=True)
    summary = {key: {"mean": float(np.mean([row[key] for row in per_seed])),
                     "sd": float(np.std([row[key] for row in per_seed], ddof=1)) if len(per_seed) > 1 else 0.0,
                     "min": float(np.min([row[key] for row in per_seed]))} for key in RELATIONS}
    averaged = correlations(average_analyses(analyses))
    for key, label in RELATIONS.items():
        print(f"{label}: r = {summary[key]['mean']:.3f} +- {summary[key]['sd']:.3f} (min {summary[key]['min']:.3f}); "
              f"of the seed average {averaged[key]:.3f}")
    report = {"neurons": args.neurons, "network": spec.source, "seeds": args.seeds, "per_seed": per_seed,
              "summary": summary, "seed_average": averaged, "machine": machine()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, report)

    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(8, 3.5))
    for n, key in enumerate(RELATIONS):
        values = [row[key] for row in per_seed]
        ax.plot(np.full(len(values), n), values, "o", color="0.6", ms=4)
        ax.errorbar(n, summary[key]["mean"], yerr=summary[key]["sd"], fmt="ks", capsize=4,
                    label="per seed: mean +- sd" if n == 0 else None)
        ax.plot(n + 0.2, averaged[key], "C3D", label="seed average (as published)" if n == 0 else None)
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_xticks(range(len(RELATIONS)), [label.replace(" vs ", "\nvs ") for label in RELATIONS.values()], fontsize=7)
    ax.legend(fontsize=7, loc="lower left")
    ax.set(ylabel="Pearson r", ylim=(-1, 1),
           title=f"Fig. 3 relations, {args.neurons} per population, seeds {args.seeds}")
    figure.tight_layout()
    save_figure(figure, args.output.with_suffix(".png"))
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
