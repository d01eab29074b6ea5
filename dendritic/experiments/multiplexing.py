"""Burst multiplexing in a two-population circuit (Payeur et al. 2021, Fig. 3).

Methods (``sim/sim_propagation.cpp`` of ``apayeur/spikingburstprop``; parameters in
``models/networks/multiplexing.toml``): two populations of 4,000 bursting pyramidal
neurons (:mod:`dendritic.neurons.bursting`), 1,000 PV-like and 1,000 SOM-like
interneurons, connection probability 0.05, every neuron with its own excitatory and
inhibitory 500 Hz Poisson background on each compartment (:mod:`dendritic.circuits.background`).

- Feedforward: population 1 -> population 2 somata through depressing synapses
  (U = 0.9, so they pass events), and disynaptic inhibition through PV neurons.
- Feedback: population 2 -> population 1 dendrites through facilitating synapses
  (U = 0.02, so they pass bursts), and through SOM neurons.
- Each pyramidal population inhibits its own dendrites through facilitating synapses.
- Stimuli, after a 1 s burn-in: a sinusoidal current into the somata of population 1
  (period 0.5 s, -200..200 pA) and into the dendrites of population 2 (period
  0.5 sqrt(5) s, 0..200 pA), their phase counted from t = 0 as ``SineCurrentInjector``;
  3 s are analysed in 50 ms bins.
- Weights: those passed by the published run script ``sim/run_propagation.sh``
  (``--w12 0.37``, population 2 -> population 1 dendrites; ``--w1som 0.035``, SOM ->
  population 1 dendrites), the others as in ``sim_propagation.cpp``; every connection
  has Auryn's axonal delay of 8 steps (``MINDELAY``, 0.8 ms).

Shown: population 1's event rate follows its somatic input, population 2's burst
probability follows its dendritic input; population 2's event rate follows population
1's event rate (feedforward channel), population 1's burst probability follows
population 2's burst rate (feedback channel).

Synaptic weights are in units of the target compartment's leak conductance (as in
Auryn). When the circuit is resized (``--neurons``), each neuron keeps the published
number of inputs and their weights (the connection probability becomes 0.05 N_file / N,
capped at 1 and the cap made up by the weights), as ``sim_propagation.cpp`` scales its
recurrent connections; ``CircuitSpec.resized(N, keep="probability")`` keeps p = 0.05
and scales the weights by N_file / N instead (same mean input, larger fluctuations: at
400 per population the Fig. 3 relations fall to r = 0.2-0.4). Connections with weight 0
in the file are not built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from brian2 import ms, pA, second

from dendritic import bursts, circuits
from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.circuits import CircuitSpec
from dendritic.io import provenance, write_results

NAME = "multiplexing"
HELP = "two-population circuit multiplexing events and bursts (paper Fig. 3; HDF5 + PNG)"

#: the experiment's keys in the circuit file's [run] table
RUN = {
    "burn_in": cfg.Quantity(unit=second, bound="nonnegative", doc="time before the stimuli start"),
    "bin": cfg.Quantity(unit=ms, bound="positive", doc="bin width of the population signals", default="50 ms"),
}


def load_circuit(name="multiplexing") -> CircuitSpec:
    """Validated circuit file (a path or a name in ``models/networks/``) with the
    experiment's run keys: ``burn_in``, then ``duration`` analysed in ``bin`` bins."""
    spec = circuits.load_circuit(name, run=RUN)
    if spec.run["duration"] is None:
        raise cfg.ConfigError([f"{spec.source}: key 'run.duration': expected the analysed time after the burn-in"])
    return spec


def analyse(circuit_results: dict, spec: CircuitSpec) -> dict:
    """Binned population signals after the burn-in, the stimuli per bin, correlations."""
    run = spec.values["run"]
    burn_in, duration, width = float(run["burn_in"]), float(run["duration"]), float(run["bin"])
    t_stop = burn_in + duration
    signals = {}
    for population in spec.values["populations"]:
        name = population["name"]
        record = circuit_results["spikes"][name]
        if "event_t" in record:
            signals[name] = bursts.population_signals(record["event_t"], record["burst_t"], int(record["N"]),
                                                      burn_in, t_stop, width)
        else:
            edges = np.arange(burn_in, t_stop + width / 2, width)
            counts, _ = np.histogram(record["t"], bins=edges)
            signals[name] = {"time": (edges[:-1] + edges[1:]) / 2, "rate": counts / (int(record["N"]) * width)}
    stimuli = {}
    edges = np.arange(burn_in, t_stop + width / 2, width)
    for key, stimulus in circuit_results["stimuli"].items():
        which = np.digitize(stimulus["time"], edges) - 1
        inside = (which >= 0) & (which < len(edges) - 1)
        sums = np.bincount(which[inside], weights=stimulus["current_pA"][inside], minlength=len(edges) - 1)
        counts = np.bincount(which[inside], minlength=len(edges) - 1)
        stimuli[key] = sums / np.maximum(counts, 1)  # mean current per bin (pA)
    return {"signals": signals, "stimuli": stimuli}


def average_analyses(analyses: list[dict]) -> dict:
    """Bin-by-bin mean over realisations of the same circuit (seeds), as the published
    figure (``std_BRER_over_realizations``): event and burst rates averaged, and the
    burst probability of each realisation averaged."""
    signals = {name: {key: (values if key == "time" else np.nanmean([a["signals"][name][key] for a in analyses],
                                                                   axis=0))
                      for key, values in analyses[0]["signals"][name].items()}
               for name in analyses[0]["signals"]}
    return {"signals": signals, "stimuli": analyses[0]["stimuli"]}


def correlations(analysis: dict, names=("pyr1", "pyr2")) -> dict:
    """Pearson correlations of Fig. 3: each signal with its own input and the other."""
    first, second_ = names
    signals, stimuli = analysis["signals"], analysis["stimuli"]
    soma = stimuli[f"stimulus_{first}_I_soma"]
    dend = stimuli[f"stimulus_{second_}_I_dend"]
    e1, p2 = signals[first]["event_rate"], signals[second_]["burst_probability"]
    e2, p1, b2 = signals[second_]["event_rate"], signals[first]["burst_probability"], signals[second_]["burst_rate"]

    def r(a, b):
        good = np.isfinite(a) & np.isfinite(b)
        return float(np.corrcoef(a[good], b[good])[0, 1])

    return {
        "event_rate_1_vs_somatic_input": r(e1, soma),
        "burst_probability_2_vs_dendritic_input": r(p2, dend),
        "event_rate_1_vs_dendritic_input": r(e1, dend),
        "burst_probability_2_vs_somatic_input": r(p2, soma),
        "event_rate_2_vs_event_rate_1": r(e2, e1),
        "burst_probability_1_vs_burst_rate_2": r(p1, b2),
        "inputs": r(soma, dend),
    }


def simulate(spec: CircuitSpec, target="cython", build_dir=None, seed=None, progress=False, threads=0):
    """Build and run the circuit; return (raw results, analysis, correlations, timing)."""
    import time

    run = spec.values["run"]
    if seed is not None:
        spec = spec.with_run(seed=seed)
    backend = Backend(target, build_dir=build_dir, seed=spec.values["run"]["seed"], dt=run["dt"],
                      progress=progress, threads=threads)
    start = time.perf_counter()
    with backend:
        circuit = circuits.build_circuit(spec, backend, duration=run["burn_in"] + run["duration"])
        built = time.perf_counter()
        backend.run(circuit.network, run["burn_in"] + run["duration"])
        finished = time.perf_counter()
        raw = {"spikes": circuit.spike_records(), "stimuli": circuit.stimuli}
    analysis = analyse(raw, spec)
    timing = {"build_s": built - start, "run_s": finished - built, "total_s": finished - start,
              "simulated_s": float(run["burn_in"] + run["duration"])}
    return raw, analysis, correlations(analysis), timing, backend


def figure(analysis: dict, correlation: dict, title: str = ""):
    import matplotlib.pyplot as plt

    signals, stimuli = analysis["signals"], analysis["stimuli"]
    time = signals["pyr1"]["time"]
    soma, dend = stimuli["stimulus_pyr1_I_soma"], stimuli["stimulus_pyr2_I_dend"]

    def zscore(x):
        x = np.asarray(x, float)
        return (x - np.nanmean(x)) / np.nanstd(x)

    figure, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    rows = [
        ("pyr1", "event_rate", soma, "somatic input 1", "population 1 event rate",
         correlation["event_rate_1_vs_somatic_input"]),
        ("pyr2", "burst_probability", dend, "dendritic input 2", "population 2 burst probability",
         correlation["burst_probability_2_vs_dendritic_input"]),
        ("pyr2", "event_rate", signals["pyr1"]["event_rate"], "population 1 event rate",
         "population 2 event rate", correlation["event_rate_2_vs_event_rate_1"]),
        ("pyr1", "burst_probability", signals["pyr2"]["burst_rate"], "population 2 burst rate",
         "population 1 burst probability", correlation["burst_probability_1_vs_burst_rate_2"]),
    ]
    for ax, (population, key, reference, reference_label, label, r) in zip(axes, rows):
        ax.plot(time, zscore(signals[population][key]), "k", lw=1.5, label=label)
        ax.plot(time, zscore(reference), "C1--", lw=1, label=reference_label)
        ax.set(ylabel="z-score", title=f"{label} vs {reference_label}: r = {r:.2f}")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="multiplexing",
                        help="circuit file or name in models/networks (default: %(default)s)")
    parser.add_argument("--neurons", type=int, default=None,
                        help="neurons per pyramidal population (default: from the file, 4000 as published); "
                             "interneurons scale alike")
    parser.add_argument("--threads", type=int, default=0, help="OpenMP threads (standalone; default: none)")
    parser.add_argument("--build-dir", type=Path, default=Path("data") / "build" / NAME,
                        help="standalone build folder (default: %(default)s)")


def run(args) -> Path:
    spec = load_circuit(args.config)
    if args.neurons is not None:
        spec = spec.resized(args.neurons)
    raw, analysis, correlation, timing, backend = simulate(spec, target=args.target, build_dir=args.build_dir,
                                                           seed=args.seed, progress=True, threads=args.threads)
    results = {
        "spikes": {name: {k: v for k, v in record.items()} for name, record in raw["spikes"].items()},
        "signals": analysis["signals"],
        "stimuli": {key: value * pA for key, value in analysis["stimuli"].items()},
        "correlations": {key: np.float64(value) for key, value in correlation.items()},
        "timing": {key: np.float64(value) for key, value in timing.items()},
        "sizes": {p["name"]: np.int64(p["N"]) for p in spec.values["populations"]},
    }
    attrs = provenance(experiment=NAME, **backend.describe(), network=spec.source)
    path = write_results(args.output, results, attrs)
    for key, value in correlation.items():
        print(f"  r({key}) = {value:.3f}")
    if not args.no_plot:
        from dendritic.plots import save_figure

        sizes = ", ".join(f"{p['name']} {p['N']}" for p in spec.values["populations"])
        save_figure(figure(analysis, correlation, title=f"Burst multiplexing ({sizes}; {args.target})"),
                    Path(args.output).with_suffix(".png"))
    return path
