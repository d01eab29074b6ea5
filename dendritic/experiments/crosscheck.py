"""`dendritic run crosscheck`: the spiking Deep Feedback Control network against its
rate reduction, same weights, inputs and targets (methods and results:
:mod:`dendritic.spiking_dfc.crosscheck`).

The options override the experiment file's samples, population and measuring windows;
results: HDF5 (weights, rates, updates, angles, controller trace) and a PNG figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dendritic.io import provenance, write_results
from dendritic.spiking_dfc import crosscheck

NAME = "crosscheck"
HELP = "spiking DFC vs its rate reduction: rates and weight-update angles vs time per sample (HDF5 + PNG)"


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="crosscheck",
                        help="experiment file or name in models/experiments (default: %(default)s)")
    parser.add_argument("--windows", nargs="+", default=None,
                        help='measuring windows, e.g. --windows "0.2 s" "1 s" (default: from the file)')
    parser.add_argument("--samples", type=int, default=None, help="number of samples")
    parser.add_argument("--population", type=int, default=None, help="neurons per unit")
    parser.add_argument("--build-dir", type=Path, default=Path("data") / "build" / NAME,
                        help="standalone build folder (default: %(default)s)")


def _experiment(args) -> dict:
    """The validated experiment file with the command line's overrides."""
    values = crosscheck.load_experiment(args.config)
    if args.windows is not None:
        values["protocol"]["windows"] = crosscheck.parse_windows(args.windows, source="--windows")
    if args.samples is not None:
        values["data"]["samples"] = args.samples
    if args.population is not None:
        values["network"]["population"] = args.population
    if args.seed is not None:
        values["run"]["seed"] = args.seed
    return values


def run(args) -> Path:
    values = _experiment(args)
    neuron = crosscheck.experiment_neuron(values)
    problem = crosscheck.make_problem(values, neuron)
    references = crosscheck.rate_references(problem["net"], problem["x"], problem["target"], problem["labels"],
                                            values["controller"]["alpha"], values["data"]["gamma"])
    spiking = crosscheck.run_spiking(values, neuron, problem, target=args.target, build_dir=args.build_dir,
                                     progress=True)
    metrics = crosscheck.analyse(spiking, references, values["network"]["population"])
    _report(metrics)

    attrs = provenance(experiment=NAME, **spiking["backend"], experiment_file=str(values["file"]),
                       population=values["network"]["population"], samples=values["data"]["samples"])
    path = write_results(args.output, crosscheck.results_tree(problem, references, spiking, metrics, neuron), attrs)
    if not args.no_plot:
        from dendritic.plots import save_figure

        save_figure(crosscheck.figure(spiking, references, metrics, title=f"{values['description']} ({args.target})"),
                    Path(args.output).with_suffix(".png"))
    return path


def _report(metrics: dict) -> None:
    """The summary printed on the command line."""
    for phase in ("feedforward", "controlled"):
        m = metrics[f"rates_{phase}"]
        print(f"{phase} rates: max |rel. error| per layer {np.round(m['max_relative_error'], 3)}, mean "
              f"{np.round(m['mean_relative_error'], 3)}, correlation {np.round(m['correlation'], 3)}")
    for w, angles, network in zip(metrics["windows"], metrics["angle_DFC"], metrics["network_angle_DFC"]):
        others = ", ".join(f"{name} {metrics[f'network_angle_{name}'][list(metrics['windows']).index(w)]:.1f}"
                           for name in crosscheck.REFERENCES[1:])
        print(f"T = {w:g} s: spiking vs rate DFC per layer {np.round(angles, 1)} deg (network {network:.1f}); "
              f"network vs {others}")
    print(f"Condition 2 {np.round(metrics['condition_2'], 4)}, in the GN metric {np.round(metrics['condition_GN'], 4)}")
    print("rate reduction vs GN, general / layer rates 1/s_l (Theorem 3): "
          + ", ".join(f"{name} {metrics[f'rate_{name}_GN_general']:.2f} / {metrics[f'rate_{name}_GN_theorem']:.2f}"
                      for name in ("DFC", "DFC-SSA", "DFC-V")) + " deg")
    for w, general, theorem in zip(metrics["windows"], metrics["network_angle_GN"], metrics["network_angle_GN_theorem"]):
        print(f"T = {w:g} s: spiking vs GN, general {general:.1f} deg, layer rates 1/s_l {theorem:.1f} deg")
