"""A population of three-compartment pyramidal neurons with basal feedforward and
apical feedback Poisson input (``models/networks/population.toml``): the package's
main demonstration. Saves spikes, compartment potentials and parameters to HDF5 and a
figure (raster, potentials, population rate, measured rate against phi(u)).
"""

from __future__ import annotations

from pathlib import Path

from dendritic.backend import Backend
from dendritic.config import parse_quantity
from dendritic.io import provenance, write_results
from dendritic.circuits import build_circuit, load_circuit

NAME = "population"
HELP = "simulate a population of three-compartment neurons (HDF5 + PNG)"


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="population",
                        help="network file or name in models/networks (default: %(default)s)")
    parser.add_argument("--duration", type=parse_quantity, default=None,
                        help='simulated time, e.g. "500 ms" (default: from the network file)')
    parser.add_argument("--neurons", type=int, default=None, help="resize the first population")
    parser.add_argument("--build-dir", type=Path, default=Path("data") / "build" / NAME,
                        help="standalone build folder (default: %(default)s)")


def run(args) -> Path:
    spec = load_circuit(args.config)
    run_settings = dict(spec.run)
    if args.duration is not None:
        run_settings["duration"] = args.duration
    if args.seed is not None:
        run_settings["seed"] = args.seed
    spec.values["run"] = run_settings
    population = spec.values["populations"][0]["name"]
    if args.neurons is not None:
        spec = spec.with_population_size(population, args.neurons)

    backend = Backend(args.target, build_dir=args.build_dir, seed=run_settings["seed"], dt=run_settings["dt"],
                      progress=True)
    with backend:
        circuit = build_circuit(spec, backend)
        backend.run(circuit.network, run_settings["duration"])
        results = circuit.collect()
    results["network"] = {"file": str(spec.source), "duration": run_settings["duration"]}
    attrs = provenance(experiment=NAME, **backend.describe(), network=str(spec.source))
    path = write_results(args.output, results, attrs)
    if not args.no_plot:
        from dendritic.plots import population_figure, save_figure

        figure = population_figure(results, population, float(run_settings["duration"]),
                                   title=f"{spec.values['description']} ({args.target})")
        save_figure(figure, Path(args.output).with_suffix(".png"))
    return path
