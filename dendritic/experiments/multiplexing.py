"""Burst multiplexing in a two-population circuit (Payeur et al. 2021, Fig. 3).

Methods (``sim/sim_propagation.cpp`` of ``apayeur/spikingburstprop``; parameters in
``models/networks/multiplexing.toml``): two populations of 4,000 bursting pyramidal
neurons (:mod:`dendritic.neurons.bursting`), 1,000 PV-like and 1,000 SOM-like
interneurons, connection probability 0.05, every neuron with its own excitatory and
inhibitory 500 Hz Poisson background on each compartment (:mod:`dendritic.background`).

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

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import (EventMonitor, Hz, Network, SpikeMonitor, Synapses, TimedArray, mV, ms, pA,
                    second)

from dendritic import background, bursts
from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.io import provenance, write_results
from dendritic.network import draw_connectivity
from dendritic.neurons import load_neuron
from dendritic.plasticity import short_term

NAME = "multiplexing"
HELP = "two-population circuit multiplexing events and bursts (paper Fig. 3; HDF5 + PNG)"

_TARGETS = {
    "payeur_pyramidal": ("g_ampa_s", "g_gaba_s", "g_ampa_d", "g_gaba_d"),
    "adex": ("g_ampa", "g_gaba"),
}

SCHEMA = {
    "description": cfg.Text(default=""),
    "source": cfg.Text(default=""),
    "run": cfg.Table(schema={
        "burn_in": cfg.Quantity(unit=second, bound="nonnegative", doc="time before the stimuli start"),
        "duration": cfg.Quantity(unit=second, bound="positive", doc="analysed time after the burn-in"),
        "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
        "seed": cfg.Integer(minimum=0, default=0),
        "bin": cfg.Quantity(unit=ms, bound="positive", doc="bin width of the population signals", default="50 ms"),
        "initial_potential_sd": cfg.Quantity(unit=mV, bound="nonnegative", default="5 mV"),
        "synaptic_delay": cfg.Quantity(unit=ms, bound="nonnegative", default="0 ms",
                                       doc="delay of every connection (Auryn: 0.8 ms)"),
        "background_probability": cfg.Choice(options=background.PROBABILITIES, default="poisson",
                                             doc="spike probability per step of the Poisson background: "
                                                 "1 - exp(-rate dt) (poisson) or rate dt (auryn)"),
    }),
    "populations": cfg.TableList(minimum=1, schema={
        "name": cfg.Text(doc="population name"),
        "neuron": cfg.Text(doc="neuron parameter file"),
        "N": cfg.Integer(minimum=1, doc="number of neurons"),
        "inputs": cfg.QuantityTable(default={}),
    }),
    "noise": cfg.TableList(default=[], schema={
        "population": cfg.Text(),
        "target": cfg.Text(doc="conductance receiving the Poisson input"),
        "rate": cfg.Quantity(unit=Hz, bound="nonnegative", doc="rate of each neuron's private Poisson source"),
        "weight": cfg.Number(bound="nonnegative", doc="conductance jump, in units of the leak"),
    }),
    "connections": cfg.TableList(default=[], schema={
        "pre": cfg.Text(),
        "post": cfg.Text(),
        "target": cfg.Text(doc="postsynaptic conductance (g_ampa_s, g_gaba_d, g_ampa, ...)"),
        "probability": cfg.Number(bound="nonnegative", maximum=1.0),
        "weight": cfg.Number(bound="nonnegative", doc="conductance jump, in units of the leak"),
        "stp": cfg.Choice(options=("none", *short_term.PRESETS), default="none"),
        "transmit": cfg.Choice(options=tuple(short_term.TRANSMISSION), default="spikes"),
    }),
    "stimuli": cfg.TableList(default=[], schema={
        "population": cfg.Text(),
        "input": cfg.Text(doc="I_soma or I_dend"),
        "amplitude": cfg.Quantity(unit=pA, doc="amplitude of the sinusoid around the population's input"),
        "period": cfg.Quantity(unit=second, bound="positive"),
    }),
}


@dataclass
class CircuitSpec:
    values: dict
    models: dict
    source: str = "<mapping>"
    file_sizes: dict = field(default_factory=dict)
    keep: str = "fan_in"

    def resized(self, pyramidal_size: int, keep: str = "fan_in") -> "CircuitSpec":
        """All populations scaled so that the first has ``pyramidal_size`` neurons.

        ``keep="fan_in"``: each neuron keeps the published number of inputs and weights
        (connection probability p N_file / N, capped at 1, the cap made up by the
        weight), as ``sim_propagation.cpp`` does for the recurrent connections
        (p_pyr_to_pyr = 0.05 x 4000 / N); ``keep="probability"``: p stays 0.05 and the
        weights grow by N_file / N (same mean input, larger fluctuations)."""
        if keep not in ("fan_in", "probability"):
            raise ValueError(f"keep: expected 'fan_in' or 'probability', got {keep!r}")
        values = copy.deepcopy(self.values)
        factor = pyramidal_size / values["populations"][0]["N"]
        for population in values["populations"]:
            population["N"] = max(1, int(round(population["N"] * factor)))
        return CircuitSpec(values, self.models, self.source, self.file_sizes, keep)


def load_circuit(name="multiplexing") -> CircuitSpec:
    """Validated circuit file (a path or a name in ``models/networks/``)."""
    path = cfg.resolve_model_file(name, "networks")
    values = cfg.load(path, SCHEMA)
    problems = []
    models = {}
    for n, population in enumerate(values["populations"]):
        try:
            models[population["name"]] = load_neuron(population["neuron"], relative_to=path.parent)
        except cfg.ConfigError as error:
            problems.extend(error.problems)
            continue
        kind = models[population["name"]].spec
        for key in population["inputs"]:
            if key not in kind.inputs:
                problems.append(f"{path}: key 'populations[{n}].inputs.{key}': expected one of {list(kind.inputs)}")
    conductances = {name: _TARGETS[model.kind] for name, model in models.items()}
    for section, keys in (("noise", ("population",)), ("connections", ("pre", "post")), ("stimuli", ("population",))):
        for n, entry in enumerate(values[section]):
            for key in keys:
                if entry[key] not in models:
                    problems.append(f"{path}: key '{section}[{n}].{key}': expected a population ({list(models)}), "
                                    f"got {entry[key]!r}")
            receiver = entry.get("post", entry.get("population"))
            if receiver in conductances and "target" in entry and entry["target"] not in conductances[receiver]:
                problems.append(f"{path}: key '{section}[{n}].target': expected one of {conductances[receiver]}, "
                                f"got {entry['target']!r}")
            if section == "stimuli" and receiver in models and entry["input"] not in models[receiver].spec.inputs:
                problems.append(f"{path}: key 'stimuli[{n}].input': expected one of "
                                f"{list(models[receiver].spec.inputs)}, got {entry['input']!r}")
            if section == "connections" and entry["pre"] in models and entry["transmit"] != "spikes" \
                    and not models[entry["pre"]].detects_bursts:
                problems.append(f"{path}: key 'connections[{n}].transmit': {entry['pre']} has no events or bursts")
    if problems:
        raise cfg.ConfigError(problems)
    sizes = {p["name"]: p["N"] for p in values["populations"]}
    return CircuitSpec(values, models, str(path), sizes)


@dataclass
class Circuit:
    network: Network
    groups: dict
    monitors: dict
    stimuli: dict
    spec: CircuitSpec


def build_circuit(spec: CircuitSpec, backend: Backend) -> Circuit:
    """Create the Brian objects on the backend's current target (connectivity drawn in
    NumPy with the run's seed, identical on every target)."""
    values = spec.values
    run = values["run"]
    rng = np.random.default_rng(run["seed"])
    dt, burn_in = float(run["dt"]), float(run["burn_in"])
    total = burn_in + float(run["duration"])

    offsets = {(p["name"], key): value for p in values["populations"] for key, value in p["inputs"].items()}
    stimuli, namespace = {}, {}
    for stimulus in values["stimuli"]:
        name = f"stimulus_{stimulus['population']}_{stimulus['input']}"
        time = np.arange(int(round(total / dt)) + 1) * dt
        # switched on at the end of the burn-in, phase counted from t = 0 (SineCurrentInjector)
        wave = np.where(time >= burn_in, np.sin(2 * np.pi * time / float(stimulus["period"])), 0.0)
        # the input current in pA, sampled at every step: what the neurons receive
        current = float(offsets.get((stimulus["population"], stimulus["input"]), 0 * pA) / pA) \
            + float(stimulus["amplitude"] / pA) * wave
        stimuli[name] = {"time": time, "current_pA": current}
        namespace[name] = TimedArray(wave * stimulus["amplitude"], dt=run["dt"], name=name)

    # short-term plasticity channels, one state per presynaptic population and preset
    channels: dict[str, set] = {}
    for connection in values["connections"]:
        if connection["stp"] != "none" and connection["weight"] > 0:
            channels.setdefault(connection["pre"], set()).add(connection["stp"])

    # private Poisson background, drawn spike by spike inside each group
    sources = {p["name"]: [] for p in values["populations"]}
    for source in values["noise"]:
        if source["weight"] > 0 and float(source["rate"]) > 0:
            sources[source["population"]].append(
                background.BackgroundSource(source["target"], source["rate"], source["weight"],
                                            run["background_probability"]))

    groups = {}
    for population in values["populations"]:
        name = population["name"]
        model = spec.models[name]
        inputs = {}
        extra = []
        for stimulus in values["stimuli"]:
            if stimulus["population"] == name:
                key = stimulus["input"]
                inputs[key] = f"{key}_offset + stimulus_{name}_{key}(t)"
                extra.append(f"{key}_offset : amp")
        event_code: dict[str, list[str]] = {}
        for preset in sorted(channels.get(name, ())):
            extra.append(short_term.neuron_equations(preset))
            event_code.setdefault("spike", []).append(short_term.event_code(preset))
        noise_lines, noise_events, noise_code = background.combine((source, "1") for source in sources[name])
        extra.extend(noise_lines)
        event_code.update(noise_code)
        group = model.with_equations(*extra).make_group(
            population["N"], name=name, inputs=inputs, event_code=event_code, events=noise_events,
            namespace={k: v for k, v in namespace.items() if k.startswith(f"stimulus_{name}_")})
        for source in sources[name]:
            source.set_parameters(group, dt)
        for key, value in population["inputs"].items():
            setattr(group, f"{key}_offset" if key in inputs else key, value)
        for preset in sorted(channels.get(name, ())):
            short_term.set_parameters(group, preset, **short_term.PRESETS[preset])
        groups[name] = group

    synapses = []
    for connection in values["connections"]:
        if connection["weight"] == 0:
            continue
        pre, post = groups[connection["pre"]], groups[connection["post"]]
        published_fan_in = connection["probability"] * spec.file_sizes[connection["pre"]]
        probability = min(1.0, published_fan_in / len(pre)) if spec.keep == "fan_in" else connection["probability"]
        scale = published_fan_in / (probability * len(pre))
        # ordered by presynaptic neuron: a spike's synapses are contiguous in memory
        i, j = draw_connectivity(rng, len(pre), len(post), probability=probability, order="pre")
        efficacy = f"*{short_term.efficacy(connection['stp'])}" if connection["stp"] != "none" else ""
        name = f"{connection['pre']}_to_{connection['post']}_{connection['target']}"
        s = Synapses(pre, post, "weight : 1 (constant)", on_pre=f"{connection['target']}_post += weight{efficacy}",
                     on_event={"pre": short_term.transmission_event(connection["transmit"])},
                     delay=run["synaptic_delay"], name=name, namespace={})
        s.connect(i=i, j=j)
        s.weight = connection["weight"] * scale
        synapses.append(s)

    backend.parameters_set(groups)
    for name, group in groups.items():
        spec.models[name].initialise(group, potential_sd=run["initial_potential_sd"], rng=rng)
        for preset in sorted(channels.get(name, ())):
            short_term.initialise(group, preset)
        for source in sources[name]:
            source.initialise(group, rng, dt)

    monitors = {}
    for name, group in groups.items():
        if spec.models[name].detects_bursts:
            monitors[f"{name}_event"] = EventMonitor(group, "event", name=f"{name}_events")
            monitors[f"{name}_burst"] = EventMonitor(group, "burst", name=f"{name}_bursts")
        monitors[f"{name}_spike"] = SpikeMonitor(group, name=f"{name}_spikes")
    network = Network(*groups.values(), *synapses, *monitors.values())
    return Circuit(network, groups, monitors, stimuli, spec)


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
        spec = copy.deepcopy(spec)
        spec.values["run"]["seed"] = seed
    backend = Backend(target, build_dir=build_dir, seed=spec.values["run"]["seed"], dt=run["dt"],
                      progress=progress, threads=threads)
    start = time.perf_counter()
    with backend:
        circuit = build_circuit(spec, backend)
        built = time.perf_counter()
        backend.run(circuit.network, run["burn_in"] + run["duration"])
        finished = time.perf_counter()
        raw = {"spikes": {}, "stimuli": circuit.stimuli}
        for name, group in circuit.groups.items():
            record = {"N": np.int64(len(group)), "i": np.asarray(circuit.monitors[f"{name}_spike"].i[:], np.int32),
                      "t": np.asarray(circuit.monitors[f"{name}_spike"].t[:] / second)}
            if f"{name}_event" in circuit.monitors:
                record["event_t"] = np.asarray(circuit.monitors[f"{name}_event"].t[:] / second)
                record["burst_t"] = np.asarray(circuit.monitors[f"{name}_burst"].t[:] / second)
            raw["spikes"][name] = record
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
