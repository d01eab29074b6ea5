"""Spiking XOR learned by burst-dependent plasticity (Payeur et al. 2021, Nature
Neuroscience, doi:10.1038/s41593-021-00857-x, Fig. 4).

Methods (``sim/sim_xor.cpp`` and ``sim/run_xor.sh`` of ``apayeur/spikingburstprop``):
five populations of 500 burst-Poisson pyramidal neurons (input 1, input 2, hidden 1,
hidden 2, output; ``models/networks/xor.toml``) with private Poisson background into
soma and dendrite; feedforward excitation learns by BDSP (eta 8e-3 input -> hidden,
4e-3 hidden -> output; tau_pre 100 ms; moving averages over 2 s; weights in [0, 1])
and transmits events; feedforward inhibition transmits events; the output's bursts
feed back onto the hidden dendrites (net excitatory onto hidden 1, inhibitory onto
hidden 2). Protocol (``models/experiments/xor.toml``, :mod:`dendritic.xor.protocol`):
6 s burn-in, a test of the four patterns, 500 epochs of 00, 10, 01, 11 (8 s each;
inputs +150 pA for "1", -350 pA for "0"; plasticity and the teaching current into the
output dendrites only in the last 0.8 s), a test after learning. Readout
(:mod:`dendritic.xor.readout`): the cost before and after each learning window, the
summed cost per epoch, the output event rate per test pattern against 6 Hz.

The whole protocol is one network run in chunks (:mod:`dendritic.continuation`): on
cpp_standalone one binary, built once, runs chunk after chunk with the state carried
as run-time data; an HDF5 checkpoint after each chunk (beside the output,
``<output>.seed<k>.checkpoint.h5``) lets an interrupted run resume with the same
numbers. Recorded per 0.4 s bin: each population's event and burst rates
(:mod:`dendritic.bursts.tally`), the output's mean E_bar, B_bar and dendritic input current (baseline + teacher);
the mean weight of each plastic connection after every chunk; the weights at the end.

Several seeds (``--seeds 1-5``) run one after another; each builds its network anew
(the connectivity is drawn from the seed at build time and is part of the binary's
data; the generated code is the same, so the standalone rebuild recompiles almost
nothing).
"""

from __future__ import annotations

import copy

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from brian2 import Hz, StateMonitor, amp, ms, pA, second

from dendritic import circuits
from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.bursts.tally import binned_rates, population_tally
from dendritic.circuits import CircuitSpec
from dendritic.continuation import Chunks
from dendritic.experiments import option_values, parse_seeds
from dendritic.experiments.outcome import Outcome
from dendritic.io import read_results, write_results
from dendritic.xor import protocol as xor_protocol
from dendritic.xor import readout
from dendritic.xor.figure import figure

NAME = "xor"
HELP = "spiking XOR learned by burst-dependent plasticity (paper Fig. 4; HDF5 + PNG)"
RUN_TIME = "about 70 min per seed (cpp_standalone; +2-4 min compiling the first time)"  # the full runs of benchmarks/results/xor/
#: the command line's default target: the runtime targets pay ~40 s per simulated second
#: for the ~250 code objects of this network (Python overhead per object and step)
DEFAULT_TARGET = "cpp_standalone"
#: the engine of :data:`dendritic.backend.ENGINES` that gives the reference's spikes
#: fastest (tests/test_engine.py; on the XOR network benchmarks/engine_xor.py)
DEFAULT_ENGINE = "vectorised"

POPULATIONS = ("input1", "input2", "hidden1", "hidden2", "output")

SCHEMA = {
    "description": cfg.Text(default=""),
    "source": cfg.Text(default=""),
    "network": cfg.Text(doc="circuit file (a path, or a name in models/networks)"),
    "run": cfg.Table(default={}, schema={
        "seed": cfg.Integer(minimum=0, default=1),
        "seeds": cfg.IntegerList(minimum=0, minimum_length=0, default=[], doc="several seeds run one after another (empty: seed)"),
        "neurons": cfg.Integer(minimum=1, default=None, doc="neurons per population (default: the network's)"),
        "chunk": cfg.Quantity(unit=second, bound="positive", default="160 s",
                              doc="simulated time per chunk of the compiled run"),
        "record_spikes": cfg.Flag(default=False, doc="record every spike (short runs only)"),
        "learning_rate_scale": cfg.Number(bound="positive", default=1.0,
                                          doc="multiplies the eta of every plastic connection of the network "
                                              "(1: as published; a shortened protocol learns for less time)"),
    }),
    "protocol": cfg.Table(default={}, schema=xor_protocol.SCHEMA),
    "readout": cfg.Table(default={}, schema={
        "bin": cfg.Quantity(unit=ms, bound="positive", default="400 ms", doc="bin of the recorded rates"),
        "rate_min": cfg.Quantity(unit=Hz, bound="nonnegative", default="2 Hz", doc="e_min of the cost"),
        "rate_max": cfg.Quantity(unit=Hz, bound="positive", default="10 Hz", doc="e_max of the cost"),
        "threshold": cfg.Quantity(unit=Hz, bound="positive", default="6 Hz", doc="decision threshold e_th"),
    }),
}


@dataclass(frozen=True)
class Config:
    """The validated experiment file (``values``), its protocol and the circuit (resized
    and seeded as asked)."""

    values: dict
    file: str
    spec: CircuitSpec
    protocol: xor_protocol.Protocol
    restart: bool = False  # ignore checkpoints of an earlier run

    @property
    def seed(self) -> int:
        return self.spec.run["seed"]

    @property
    def dt(self):
        return self.spec.run["dt"]

    @property
    def seeds(self) -> tuple:
        return tuple(self.values["run"]["seeds"]) or (self.seed,)

    @property
    def chunk(self):
        return self.values["run"]["chunk"]

    @property
    def bin(self):
        return self.values["readout"]["bin"]

    def with_seed(self, seed: int) -> "Config":
        return replace(self, spec=self.spec.with_run(seed=seed))

    def chunks(self) -> int:
        """Chunks covering the protocol and one bin more (the last bin's closing sample)."""
        return int(np.ceil((self.protocol.duration + float(self.bin)) / float(self.chunk) - 1e-9))


def _check(values: dict, spec: CircuitSpec, source) -> None:
    problems = []
    names = {p["name"] for p in spec.values["populations"]}
    if not set(POPULATIONS) <= names:
        problems.append(f"{spec.source}: the XOR network needs the populations {', '.join(POPULATIONS)}, "
                        f"got {', '.join(sorted(names))}")
    bin_, chunk = float(values["readout"]["bin"]), float(values["run"]["chunk"])
    ratio = chunk / bin_
    if abs(ratio - round(ratio)) > 1e-9:
        problems.append(f"{source}: key 'run.chunk': expected a whole number of bins ({bin_ * 1e3:g} ms), "
                        f"got {chunk} s")
    protocol = values["protocol"]
    for key in ("burn_in", "example_duration", "learning_window"):
        n = float(protocol[key]) / bin_
        if abs(n - round(n)) > 1e-9:
            problems.append(f"{source}: key 'protocol.{key}': expected a whole number of bins "
                            f"(readout.bin = {bin_ * 1e3:g} ms), got {protocol[key]}")
    if problems:
        raise cfg.ConfigError(problems)


def load_config(path="xor", overrides=()) -> Config:
    """The experiment file (a path or a name in ``models/experiments``) and its network;
    ``overrides``: ``key=value`` strings, those of the network as ``network.<key>=...``."""
    path = cfg.resolve_model_file(path, "experiments")
    own = [o for o in overrides if not o.startswith("network.")]
    theirs = [o[len("network."):] for o in overrides if o.startswith("network.")]
    values = cfg.load(path, SCHEMA, overrides=own)
    network = cfg.resolve_model_file(values["network"], "networks", relative_to=path.parent)
    spec = circuits.load_circuit(network, overrides=theirs)
    spec = spec.with_run(seed=values["run"]["seed"])
    if values["run"]["neurons"] is not None:
        spec = spec.resized(values["run"]["neurons"], keep="fan_in")
    scale = float(values["run"]["learning_rate_scale"])
    if scale != 1.0:
        connections = copy.deepcopy(spec.values["connections"])
        for connection in connections:
            if connection["plasticity"] is not None and "eta" in connection["plasticity"]:
                connection["plasticity"]["eta"] = float(connection["plasticity"]["eta"]) * scale
        spec = copy.copy(spec)
        spec.values = {**spec.values, "connections": connections}
    if values["run"]["record_spikes"]:
        record = dict(spec.values["record"])
        record["spikes"] = list(POPULATIONS)
        spec.values["record"] = record
    _check(values, spec, path)
    return Config(values, str(path), spec, xor_protocol.Protocol.from_values(values["protocol"], source=path))


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="xor",
                        help="experiment file or name in models/experiments: xor (the published protocol, 500 "
                             "epochs of 8 s: 16,160 s simulated, about 70 min per seed on one core), xor_short (300 "
                             "epochs of 4 s, about 21 min per seed) (default: %(default)s)")
    parser.add_argument("--seeds", default=None,
                        help='several seeds one after another, e.g. "1-5" or "1,3" (default: --seed)')
    parser.add_argument("--neurons", type=int, default=None,
                        help="neurons per population (default: from the file, 500 as published)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: from the file, 500)")
    parser.add_argument("--example-duration", default=None,
                        help='duration of an example, e.g. "4 s" (default: from the file, 8 s); the learning '
                             "window keeps its fraction of the example")
    parser.add_argument("--chunk", default=None,
                        help='simulated time per compiled chunk, e.g. "160 s" (default: from the file)')
    parser.add_argument("--restart", action="store_true",
                        help="ignore checkpoints of an earlier run and start again (default: resume)")


def configure(args) -> Config:
    overrides = list(getattr(args, "set", None) or [])
    given = option_values(args, {"seed": SCHEMA["run"].schema["seed"],
                                 "neurons": SCHEMA["run"].schema["neurons"],
                                 "epochs": xor_protocol.SCHEMA["epochs"],
                                 "example_duration": xor_protocol.SCHEMA["example_duration"],
                                 "chunk": SCHEMA["run"].schema["chunk"]})
    for key in ("seed", "neurons", "chunk"):
        if key in given:
            overrides.append(f"run.{key}={_quoted(given[key])}")
    if "epochs" in given:
        overrides.append(f"protocol.epochs={given['epochs']}")
    if getattr(args, "seeds", None):
        seeds = parse_seeds(args.seeds)
        overrides.append(f"run.seeds={seeds}")
        overrides.append(f"run.seed={seeds[0]}")
    elif "seed" in given:  # an explicit --seed runs that one seed, even where the file lists several
        overrides.append("run.seeds=[]")
    config = load_config(args.config, overrides)
    if "example_duration" in given:
        p = config.values["protocol"]
        fraction = float(p["learning_window"] / p["example_duration"])
        new = given["example_duration"]
        config = load_config(args.config, overrides + [f"protocol.example_duration={_quoted(new)}",
                                                       f"protocol.learning_window={_quoted(new * fraction)}"])
    return replace(config, restart=bool(getattr(args, "restart", False)))


def _quoted(value) -> str:
    return f'"{value!r}"' if hasattr(value, "dim") else repr(value)


# -- one seed -------------------------------------------------------------------------
def _fingerprint(config: Config) -> str:
    """What a checkpoint must match: the experiment values (but the list of seeds), the
    circuit (with its seed) and the chunking."""
    experiment = dict(config.values)
    # learning_rate_scale acts through the circuit's etas, which count below
    experiment["run"] = {k: v for k, v in config.values["run"].items()
                         if k not in ("seed", "seeds", "learning_rate_scale")}
    payload = json.dumps({"experiment": experiment, "circuit": config.spec.values}, default=repr, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def checkpoint_path(output: Path, seed: int) -> Path:
    output = Path(output)
    return output.with_name(f"{output.stem}.seed{seed}.checkpoint.h5")


def _plastic(spec: CircuitSpec) -> list[str]:
    return [spec.connection_name(c) for c in spec.values["connections"] if c["plasticity"] is not None]


class _Records:
    """What the run keeps of each chunk (a few numbers per bin), saved in checkpoints."""

    KEYS = ("t", "events", "bursts", "E_bar", "B_bar", "I_dend", "weights_t")

    def __init__(self, plastic, saved: dict | None = None):
        self.plastic = plastic
        self.parts = {key: [] for key in self.KEYS}
        self.weights = {name: [] for name in plastic}
        if saved:
            for key in self.KEYS:
                if key in saved and np.size(saved[key]):
                    self.parts[key].append(np.asarray(saved[key]))
            for name in plastic:
                if name in saved.get("weights", {}):
                    self.weights[name].append(np.asarray(saved["weights"][name]))

    def add(self, runner: Chunks, tally, averages, end: float, state: dict, synapse_names: dict) -> None:
        self.parts["t"].append(np.asarray(runner.take(tally.monitor, "t")))
        self.parts["events"].append(np.asarray(runner.take(tally.monitor, "n_events")))
        self.parts["bursts"].append(np.asarray(runner.take(tally.monitor, "n_bursts")))
        for key in ("E_bar", "B_bar", "I_dend"):
            self.parts[key].append(np.asarray(runner.take(averages, key)).mean(axis=0))
        self.parts["weights_t"].append(np.array([end]))
        for name in self.plastic:
            self.weights[name].append(np.array([state[f"{synapse_names[name]}.w"].mean()]))

    def joined(self) -> dict:
        out = {key: (np.concatenate(parts, axis=-1) if parts else np.zeros(0)) for key, parts in self.parts.items()}
        out["weights"] = {name: (np.concatenate(v) if v else np.zeros(0)) for name, v in self.weights.items()}
        return out


def train(config: Config, backend: Backend, checkpoint: Path | None = None, progress: bool = True,
          max_chunks: int | None = None) -> dict:
    """Run the protocol for ``config``'s seed on ``backend``; return the raw records
    (rates per bin, output averages, weights) and the final weights.

    With a ``checkpoint`` path the run resumes from it (unless ``config.restart``) and writes
    it after every chunk; ``max_chunks``: stop after that many chunks of this call
    (the records are then partial: ``complete`` is False)."""
    backend.check_config(config)
    n_chunks = config.chunks()
    total = n_chunks * float(config.chunk)
    schedule = config.protocol.schedule(config.dt, until=total)
    plastic = _plastic(config.spec)
    fingerprint = _fingerprint(config)
    saved = None
    if checkpoint is not None and checkpoint.exists() and not config.restart:
        saved = read_results(checkpoint)
        if str(saved.get("fingerprint")) != fingerprint:
            raise cfg.ConfigError([f"{checkpoint}: a checkpoint of another configuration; remove it or run with "
                                   "--restart"])
    timing = {"build_s": 0.0, "run_s": 0.0, "loop_s": 0.0, "chunks_run": 0}
    start = time.perf_counter()
    with backend:
        circuit = circuits.build_circuit(config.spec, backend, duration=total * second, arrays=schedule.arrays)
        tally = population_tally({name: circuit.groups[name] for name in POPULATIONS}, config.bin)
        averages = StateMonitor(circuit.groups["output"], ["E_bar", "B_bar", "I_dend"], record=True,
                                dt=config.bin, name="output_averages")
        circuit.network.add(*tally.objects, averages)
        runner = Chunks(circuit.network, backend, config.chunk, seed=config.seed)
        synapse_names = {name: circuit.synapses[name].name for name in plastic}
        runner.prepare()
        timing["build_s"] = time.perf_counter() - start
        first = 0 if saved is None else int(saved["chunk"]) + 1
        state = None if saved is None else saved["state"]
        records = _Records(plastic, None if saved is None else saved["records"])
        bar = _bar(total, first * float(config.chunk), progress, f"XOR seed {config.seed}")
        loop = time.perf_counter()
        last = n_chunks if max_chunks is None else min(n_chunks, first + max_chunks)
        spikes = {name: {"t": [], "i": []} for name in circuit.spike_monitors}
        for k in range(first, last):
            runner.run(k, state=state)
            state = runner.state()
            for name, monitor in circuit.spike_monitors.items():  # short runs only (record_spikes)
                spikes[name]["t"].append(np.asarray(runner.take(monitor, "t")))
                spikes[name]["i"].append(np.asarray(runner.take(monitor, "i"), dtype=np.int32))
            records.add(runner, tally, averages, (k + 1) * float(config.chunk), state, synapse_names)
            if checkpoint is not None:
                write_results(checkpoint, {"fingerprint": fingerprint, "chunk": np.int64(k), "state": state,
                                           "records": records.joined()})
            timing["chunks_run"] += 1
            if bar is not None:
                bar.update(float(config.chunk))
        if bar is not None:
            bar.close()
        timing["run_s"] = time.perf_counter() - loop
        timing["loop_s"] = float(np.sum(runner.loop_seconds))
        spikes = {name: {"t": np.concatenate(v["t"]) * second if v["t"] else np.zeros(0) * second,
                         "i": np.concatenate(v["i"]) if v["i"] else np.zeros(0, np.int32),
                         "N": np.int64(len(circuit.groups[name]))} for name, v in spikes.items()}
    if state is None:  # a finished checkpoint: nothing left to run
        state = saved["state"]
    final = {name: np.asarray(state[f"{synapse_names[name]}.w"]) for name in plastic}
    return {"records": records.joined(), "final_weights": final, "timing": timing, "schedule": schedule,
            "sizes": tally.sizes, "spikes": spikes, "simulated_s": total, "complete": last == n_chunks}


def _bar(total, done, progress, description):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="s sim", desc=description,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")


def analyse(config: Config, raw: dict) -> dict:
    """Rates, burst probabilities, costs and tests of one seed's records."""
    records, schedule = raw["records"], raw["schedule"]
    rates = binned_rates(records["t"], records["events"], records["bursts"], raw["sizes"], config.bin)
    end = config.protocol.duration
    keep = rates["t"] < end - 1e-9
    signals = {"t": rates["t"][keep] * second}
    for k, name in enumerate(POPULATIONS):
        signals[name] = {"event_rate": rates["event_rate"][k][keep] * Hz, "burst_rate": rates["burst_rate"][k][keep] * Hz,
                         "burst_probability": rates["burst_probability"][k][keep]}
    sampled = records["t"] <= end + 1e-9
    averages = {"t": records["t"][sampled] * second, "E_bar": records["E_bar"][sampled] * Hz,
                "B_bar": records["B_bar"][sampled] * Hz, "I_dend": records["I_dend"][sampled] * amp}
    r = config.values["readout"]
    costs = readout.example_costs(schedule.examples, records["t"], records["E_bar"], float(r["rate_min"]),
                                  float(r["rate_max"]))
    tests = {phase: readout.pattern_rates(schedule.examples, rates["t"], rates["event_rate"][POPULATIONS.index("output")],
                                       phase) for phase in ("test_before", "test_after")}
    solved = readout.solved(tests["test_after"], float(r["threshold"]))
    response = readout.teaching_response(schedule.examples, rates["t"], {
        name: rates["burst_probability"][k] for k, name in enumerate(POPULATIONS) if name in
        ("output", "hidden1", "hidden2")})
    return {"signals": signals, "output_averages": averages, "examples": costs,
            "epochs": {"cost": readout.epoch_costs(costs)}, "tests": tests, "solved": solved,
            "teaching_response": {"target": response["target"], "change": response["change"],
                                  "correlation_with_output": {k: np.float64(v) for k, v in
                                                              response["correlation_with_output"].items()}}}


def run_one(config: Config, backend: Backend, output: Path, progress: bool = True) -> dict:
    """Train and analyse one seed; the results group of that seed."""
    raw = train(config, backend, checkpoint_path(output, config.seed), progress=progress)
    analysis = analyse(config, raw)
    records = raw["records"]
    weights = {"t": records["weights_t"] * second, "mean": dict(records["weights"]), "final": raw["final_weights"]}
    timing = dict(raw["timing"])
    simulated_here = timing["chunks_run"] * float(config.chunk)  # in this call (a resumed run: the rest)
    timing.update(simulated_s=raw["simulated_s"], simulated_this_call_s=simulated_here,
                  sim_s_per_wall_s=simulated_here / timing["run_s"] if timing["run_s"] > 0 else float("nan"),
                  loop_sim_s_per_wall_s=simulated_here / timing["loop_s"] if timing["loop_s"] > 0 else float("nan"))
    examples = raw["schedule"].examples
    timeline = {"phase": np.array([e.phase for e in examples]), "pattern": np.array([e.pattern for e in examples]),
                "target": np.array([e.target for e in examples]), "start": np.array([e.start for e in examples]) * second,
                "learning": np.array([np.nan if e.learning is None else e.learning for e in examples]) * second,
                "end": np.array([e.end for e in examples]) * second}
    result = {**{k: v for k, v in analysis.items() if k != "solved"}, "weights": weights, "examples_timeline": timeline,
              "solved": np.bool_(analysis["solved"]),
              "timing": {key: np.float64(value) for key, value in timing.items()}}
    if raw["spikes"]:
        result["spikes"] = raw["spikes"]
    return result


def _backend_for(backend: Backend, config: Config, seed: int) -> Backend:
    return backend if seed == backend.seed else backend.with_seed(seed, config.dt)


def run_xor(config: Config, backend: Backend, output: Path) -> Outcome:
    """Every seed of ``config``: costs, tests, rates, weights; a per-seed table."""
    per_seed = {}
    for seed in config.seeds:
        seeded = config.with_seed(seed)
        per_seed[str(seed)] = run_one(seeded, _backend_for(backend, seeded, seed), Path(output))
    table = _table(per_seed)
    first = per_seed[str(config.seeds[0])]
    p = config.protocol
    title = (f"XOR, {config.spec.values['populations'][0]['N']} neurons per population, {p.epochs} epochs of "
             f"{float(p.example_duration):g} s examples ({backend.target})")
    summary = [f"  seed {row['seed']}: after learning " + ", ".join(
        f"{pattern} {rate:.1f} Hz" for pattern, rate in zip(row["patterns"], row["after"]))
        + f"; solved: {'yes' if row['solved'] else 'no'}; last epoch cost {row['last_cost']:.3f}; "
        f"burst-probability change in the learning windows vs the output's: hidden1 r = {row['r_hidden1']:.2f}, "
        f"hidden2 r = {row['r_hidden2']:.2f}" for row in table]
    solved = sum(row["solved"] for row in table)
    summary.append(f"  XOR solved in {solved} of {len(table)} seeds")
    results = {"seeds": per_seed, "solved_count": np.int64(solved), "seed_list": np.array(config.seeds, np.int64),
               "table": {"seed": np.array([int(row["seed"]) for row in table], np.int64),
                         "solved": np.array([row["solved"] for row in table]),
                         "last_epoch_cost": np.array([row["last_cost"] for row in table]),
                         "r_hidden1": np.array([row["r_hidden1"] for row in table]),
                         "r_hidden2": np.array([row["r_hidden2"] for row in table]),
                         **{f"after_{pattern}_Hz": np.array([row["after"][k] for row in table])
                            for k, pattern in enumerate(table[0]["patterns"])}}}
    attrs = {"experiment_file": config.file, "network": config.spec.source,
             "neurons_per_population": int(config.spec.values["populations"][0]["N"]), "epochs": int(p.epochs),
             "example_duration_s": float(p.example_duration),
             "learning_rate_scale": float(config.values["run"]["learning_rate_scale"])}
    metrics = {"solved_seeds": float(solved), "last_epoch_cost": float(np.nanmean([r["last_cost"] for r in table])),
               **{f"after_{pattern}_Hz": float(np.mean([row["after"][k] for row in table]))
                  for k, pattern in enumerate(table[0]["patterns"])}}
    return Outcome(results, attrs=attrs, metrics=metrics,
                   figure=lambda: figure(first, config, title=title, seeds=per_seed), summary=summary)


def _table(per_seed: dict) -> list[dict]:
    rows = []
    for seed, result in per_seed.items():
        after = result["tests"]["test_after"]
        costs = result["epochs"]["cost"]
        correlation = result["teaching_response"]["correlation_with_output"]
        rows.append({"seed": seed, "patterns": list(after["pattern"]), "after": list(after["event_rate"]),
                     "solved": bool(result["solved"]), "last_cost": float(costs[-1]) if len(costs) else float("nan"),
                     "r_hidden1": float(correlation.get("hidden1", np.nan)),
                     "r_hidden2": float(correlation.get("hidden2", np.nan))})
    return rows
