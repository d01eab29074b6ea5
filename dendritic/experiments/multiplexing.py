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

The circuit is built by :mod:`dendritic.circuits`; the analysis (binned signals, the
four correlations, the figure) is :mod:`dendritic.bursts.multiplexing`.

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

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import ms, pA, second

from dendritic import circuits
from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.bursts.multiplexing import analyse, correlations, figure
from dendritic.circuits import CircuitSpec
from dendritic.experiments import CircuitSettings, option_values
from dendritic.experiments.outcome import Outcome

NAME = "multiplexing"
HELP = "two-population circuit multiplexing events and bursts (paper Fig. 3; HDF5 + PNG)"
RUN_TIME = "about 30 s (the first run on a machine about 4.5 min: Cython compiles)"  # benchmarks/run_times.py

#: the experiment's keys in the circuit file's [run] table
RUN = {
    "burn_in": cfg.Quantity(unit=second, bound="nonnegative", doc="time before the stimuli start"),
    "bin": cfg.Quantity(unit=ms, bound="positive", doc="bin width of the population signals", default="50 ms"),
}


def load_circuit(name="multiplexing", overrides=()) -> CircuitSpec:
    """Validated circuit file (a path or a name in ``models/networks/``) with the
    experiment's run keys: ``burn_in``, then ``duration`` analysed in ``bin`` bins."""
    spec = circuits.load_circuit(name, run=RUN, overrides=overrides)
    if spec.run["duration"] is None:
        raise cfg.ConfigError([f"{spec.source}: key 'run.duration': expected the analysed time after the burn-in"])
    return spec


@dataclass(frozen=True)
class Config(CircuitSettings):
    """The validated circuit, resized and reseeded as asked."""

    spec: CircuitSpec

    @property
    def simulated(self):
        return self.spec.run["burn_in"] + self.spec.run["duration"]


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="multiplexing",
                        help="circuit file or name in models/networks (default: %(default)s)")
    parser.add_argument("--neurons", type=int, default=None,
                        help="neurons per pyramidal population (default: from the file, 4000 as published); "
                             "interneurons scale alike")


def configure(args) -> Config:
    spec = load_circuit(args.config, overrides=args.set)
    given = option_values(args, {"seed": circuits.circuit_schema()["run"].schema["seed"],
                                 "neurons": circuits.circuit_schema()["populations"].schema["N"]})
    if "seed" in given:
        spec = spec.with_run(seed=given["seed"])
    if "neurons" in given:
        spec = spec.resized(given["neurons"])
    return Config(spec)


def simulate(config: Config, backend: Backend):
    """Build and run the circuit; return (raw results, analysis, correlations, timing)."""
    backend.check_config(config)
    spec = config.spec
    start = time.perf_counter()
    with backend:
        circuit = circuits.build_circuit(spec, backend, duration=config.simulated)
        built = time.perf_counter()
        backend.run(circuit.network, config.simulated)
        finished = time.perf_counter()
        raw = {"spikes": circuit.spike_records(), "stimuli": circuit.stimuli}
    analysis = analyse(raw, spec)
    timing = {"build_s": built - start, "run_s": finished - built, "total_s": finished - start,
              "simulated_s": float(config.simulated)}
    return raw, analysis, correlations(analysis), timing


def run_multiplexing(config: Config, backend: Backend, output: Path) -> Outcome:
    """The circuit's spikes, binned signals, stimuli and the correlations of Fig. 3."""
    raw, analysis, correlation, timing = simulate(config, backend)
    spec = config.spec
    results = {
        "spikes": raw["spikes"],
        "signals": analysis["signals"],
        "stimuli": {key: value * pA for key, value in analysis["stimuli"].items()},
        "correlations": {key: np.float64(value) for key, value in correlation.items()},
        "timing": {key: np.float64(value) for key, value in timing.items()},
        "sizes": {p["name"]: np.int64(p["N"]) for p in spec.values["populations"]},
    }
    sizes = ", ".join(f"{p['name']} {p['N']}" for p in spec.values["populations"])
    return Outcome(results, attrs={"network": spec.source},
                   figure=lambda: figure(analysis, correlation,
                                         title=f"Burst multiplexing ({sizes}; {backend.target})"),
                   summary=[f"  r({key}) = {value:.3f}" for key, value in correlation.items()])
