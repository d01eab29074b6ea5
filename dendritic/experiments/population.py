"""A population of three-compartment pyramidal neurons with basal feedforward and
apical feedback Poisson input (``models/networks/population.toml``): the package's
main demonstration. Saves spikes, compartment potentials and parameters to HDF5 and a
figure (raster, potentials, population rate, measured rate against phi(u)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dendritic.backend import Backend
from dendritic.circuits import CircuitSpec, build_circuit, circuit_schema, load_circuit
from dendritic.experiments import CircuitSettings, option_values
from dendritic.experiments.outcome import Outcome

NAME = "population"
HELP = "simulate a population of three-compartment neurons (HDF5 + PNG)"
RUN_TIME = "about 5 s (the first run on a machine about 1 min: Cython compiles)"  # benchmarks/run_times.py

#: the command-line overrides, checked like the network file's keys
OPTIONS = {
    "duration": circuit_schema()["run"].schema["duration"],
    "seed": circuit_schema()["run"].schema["seed"],
    "neurons": circuit_schema()["populations"].schema["N"],
}


@dataclass(frozen=True)
class Config(CircuitSettings):
    """A validated network file with the command line's overrides applied (its ``run``
    table holds duration, dt and seed)."""

    spec: CircuitSpec

    @property
    def duration(self):
        return self.spec.run["duration"]

    @property
    def population(self) -> str:
        """The first population: the one shown and resized by ``--neurons``."""
        return self.spec.values["populations"][0]["name"]


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="population",
                        help="network file or name in models/networks (default: %(default)s)")
    parser.add_argument("--duration", default=None,
                        help='simulated time with its unit, e.g. "500 ms" (default: from the network file)')
    parser.add_argument("--neurons", type=int, default=None,
                        help="size of the first population (default: from the network file)")


def configure(args) -> Config:
    spec = load_circuit(args.config, overrides=args.set)
    given = option_values(args, OPTIONS)
    run_settings = dict(spec.run)
    run_settings.update({key: given[key] for key in ("duration", "seed") if key in given})
    spec.values["run"] = run_settings
    config = Config(spec)
    if "neurons" in given:
        config = Config(spec.with_population_size(config.population, given["neurons"]))
    return config


def run_population(config: Config, backend: Backend, output: Path) -> Outcome:
    """Simulate the circuit for the config's duration; spikes, states and parameters."""
    backend.check_config(config)
    spec = config.spec
    with backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, config.duration)
        results = circuit.collect()
    results["network"] = {"file": str(spec.source), "duration": config.duration}

    def figure():
        from dendritic.plots import population_figure

        return population_figure(results, config.population, float(config.duration),
                                 title=f"{spec.values['description']} ({backend.target})")

    duration = float(config.duration)
    metrics = {f"rate_{name}_Hz": len(np.asarray(spikes["i"])) / (int(spikes["N"]) * duration)
               for name, spikes in results["spikes"].items()}
    return Outcome(results, attrs={"network": str(spec.source)}, figure=figure, metrics=metrics,
                   summary=[f"mean firing rate of {name[len('rate_'):-len('_Hz')]}: {rate:.2f} Hz"
                            for name, rate in metrics.items()])


def redraw(results: dict, attrs: dict):
    """The figure of a saved run (``dendritic plot``), from its results file alone."""
    from dendritic.plots import population_figure

    population = next(iter(results["states"]))
    return population_figure(results, population, float(results["network"]["duration"]),
                             title=f"{attrs.get('network', '')} ({attrs.get('target', '')}, redrawn)")
