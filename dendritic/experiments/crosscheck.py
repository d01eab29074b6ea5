"""`dendritic run crosscheck`: the spiking Deep Feedback Control network against its
rate reduction, same weights, inputs and targets (methods and results:
:mod:`dendritic.spiking_dfc.crosscheck`).

The options override the experiment file's samples, population and measuring windows;
results: HDF5 (weights, rates, updates, angles, controller trace) and a PNG figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dendritic.backend import Backend
from dendritic.experiments import RunSettings, option_values
from dendritic.experiments.outcome import Outcome
from dendritic.spiking_dfc import crosscheck

NAME = "crosscheck"
HELP = "spiking DFC vs its rate reduction: rates and weight-update angles vs time per sample (HDF5 + PNG)"
RUN_TIME = "about 1.5 min (the first run on a machine about 4 min: Cython compiles)"  # benchmarks/run_times.py

#: the command-line overrides: destination -> (table of the file, its field)
OPTIONS = {
    "windows": ("protocol", crosscheck.SCHEMA["protocol"].schema["windows"]),
    "samples": ("data", crosscheck.SCHEMA["data"].schema["samples"]),
    "population": ("network", crosscheck.SCHEMA["network"].schema["population"]),
    "seed": ("run", crosscheck.SCHEMA["run"].schema["seed"]),
}


@dataclass(frozen=True)
class Config(RunSettings):
    """A validated experiment file (:func:`~dendritic.spiking_dfc.crosscheck.load_experiment`)
    with the command line's overrides applied."""

    values: dict

    @property
    def file(self) -> str:
        return str(self.values["file"])


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="crosscheck",
                        help="experiment file or name in models/experiments (default: %(default)s)")
    parser.add_argument("--windows", nargs="+", default=None,
                        help='measuring windows, simulated time per sample with its unit, e.g. --windows "0.2 s" '
                             '"1 s" (default: from the file)')
    parser.add_argument("--samples", type=int, default=None, help="number of samples (default: from the file)")
    parser.add_argument("--population", type=int, default=None,
                        help="neurons per unit (default: from the file)")


def configure(args) -> Config:
    values = crosscheck.load_experiment(args.config, overrides=args.set)
    given = option_values(args, {dest: field for dest, (_, field) in OPTIONS.items()})
    for dest, value in given.items():
        values[OPTIONS[dest][0]][dest] = value
    return Config(values)


def run_crosscheck(config: Config, backend: Backend, output: Path) -> Outcome:
    """The rate references, the spiking run on ``backend`` and their comparison."""
    backend.check_config(config)
    values = config.values
    neuron = crosscheck.experiment_neuron(values)
    problem = crosscheck.make_problem(values, neuron)
    references = crosscheck.rate_references(problem["net"], problem["x"], problem["target"], problem["labels"],
                                            values["controller"]["alpha"], values["data"]["gamma"])
    spiking = crosscheck.run_spiking(values, neuron, problem, backend)
    metrics = crosscheck.analyse(spiking, references, values["network"]["population"])
    return Outcome(crosscheck.results_tree(problem, references, spiking, metrics, neuron),
                   attrs={"experiment_file": config.file, "population": values["network"]["population"],
                          "samples": values["data"]["samples"]},
                   figure=lambda: crosscheck.figure(spiking, references, metrics,
                                                    title=f"{values['description']} ({backend.target})"),
                   summary=summary(metrics))


def summary(metrics: dict) -> list[str]:
    """The lines the command line prints: rate agreement, angles per window, Condition 2
    and the Gauss-Newton comparisons."""
    lines = []
    for phase in ("feedforward", "controlled"):
        m = metrics[f"rates_{phase}"]
        lines.append(f"{phase} rates: max |rel. error| per layer {np.round(m['max_relative_error'], 3)}, mean "
                     f"{np.round(m['mean_relative_error'], 3)}, correlation {np.round(m['correlation'], 3)}")
    for k, (w, angles, network) in enumerate(zip(metrics["windows"], metrics["angle_DFC"],
                                                  metrics["network_angle_DFC"])):
        others = ", ".join(f"{name} {metrics[f'network_angle_{name}'][k]:.1f}" for name in crosscheck.REFERENCES[1:])
        lines.append(f"T = {w:g} s: spiking vs rate DFC per layer {np.round(angles, 1)} deg (network {network:.1f}); "
                     f"network vs {others}")
    lines.append(f"Condition 2 {np.round(metrics['condition_2'], 4)}, "
                 f"in the GN metric {np.round(metrics['condition_GN'], 4)}")
    lines.append("rate reduction vs GN, general / layer rates 1/s_l (Theorem 3): "
                 + ", ".join(f"{name} {metrics[f'rate_{name}_GN_general']:.2f} / "
                             f"{metrics[f'rate_{name}_GN_theorem']:.2f}" for name in ("DFC", "DFC-SSA", "DFC-V"))
                 + " deg")
    for w, general, theorem in zip(metrics["windows"], metrics["network_angle_GN"],
                                   metrics["network_angle_GN_theorem"]):
        lines.append(f"T = {w:g} s: spiking vs GN, general {general:.1f} deg, layer rates 1/s_l {theorem:.1f} deg")
    return lines
