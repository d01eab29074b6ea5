"""Command line: ``dendritic run <experiment> [options]``, ``dendritic list``,
``dendritic show <results.h5>``. Argument parsing only; the work is in
:mod:`dendritic.experiments`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from dendritic import __version__
    from dendritic.backend import TARGETS
    from dendritic.experiments import available

    parser = argparse.ArgumentParser(prog="dendritic", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"dendritic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an experiment, save HDF5 results and a PNG figure")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, module in available().items():
        sub = experiments.add_parser(name, help=module.HELP, description=module.HELP)
        common = sub.add_argument_group("common options")
        common.add_argument("--target", choices=TARGETS, default="cython",
                            help="code generation target (default: %(default)s)")
        common.add_argument("--seed", type=int, default=None, help="random seed (default: from the model file)")
        common.add_argument("--output", type=Path, default=None,
                            help=f"results file (default: data/runs/{name}.h5); the figure goes beside it")
        common.add_argument("--no-plot", action="store_true", help="skip the figure")
        module.add_arguments(sub)
        sub.set_defaults(module=module)

    commands.add_parser("list", help="list experiments and shipped model files")
    show = commands.add_parser("show", help="summarise a results file")
    show.add_argument("path", type=Path)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "show":
        return _show(args.path)
    from dendritic.config import ConfigError

    if args.output is None:
        args.output = Path("data") / "runs" / f"{args.experiment}.h5"
    try:
        path = args.module.run(args)
    except ConfigError as error:
        print(f"dendritic: {error}", file=sys.stderr)
        return 2
    print(f"results: {path}")
    return 0


def _list() -> int:
    from dendritic.config import MODELS_DIR
    from dendritic.experiments import available

    print("experiments:")
    for name, module in available().items():
        print(f"  {name:24s} {module.HELP}")
    for kind in sorted(p.name for p in MODELS_DIR.iterdir() if p.is_dir()):
        print(f"models/{kind}:")
        for path in sorted((MODELS_DIR / kind).glob("*.toml")):
            print(f"  {path.stem}")
    return 0


def _show(path: Path) -> int:
    from brian2.units.fundamentalunits import get_unit

    from dendritic.io import read_attributes, read_results

    for key, value in read_attributes(path).items():
        print(f"{key}: {value}")

    def walk(tree, indent="  "):
        for key, value in tree.items():
            if isinstance(value, dict):
                print(f"{indent}{key}/")
                walk(value, indent + "  ")
            else:
                shape = getattr(value, "shape", ())
                unit = f", {get_unit(value.dim)!r}" if getattr(value, "dim", None) is not None and value.dim.is_dimensionless is False else ""
                print(f"{indent}{key}: shape {shape}{unit}")

    walk(read_results(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
