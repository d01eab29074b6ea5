"""Command line: ``dendritic run <experiment> [options]``, ``dendritic list``,
``dendritic show <results.h5>``. Argument parsing, the backend and the files; the work
is in :mod:`dendritic.experiments` (whose docstring describes the protocol)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "run_experiment"]


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help shows its default: ``(default: %(default)s)`` is appended to
    a help that names none (options of modules written before the rule)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower() or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


def _add_option(parser, *flags, **options) -> None:
    """``parser.add_argument`` unless the experiment module defined the option itself."""
    if not any(flag in parser._option_string_actions for flag in flags):
        parser.add_argument(*flags, **options)


def _add_common_options(parser, name: str, module) -> None:
    from dendritic.backend import TARGETS
    from dendritic.experiments import is_typed, uses_brian

    common = parser.add_argument_group("common options")
    brian = uses_brian(module) if is_typed(module) else True
    if brian:
        _add_option(common, "--target", choices=TARGETS, default=getattr(module, "DEFAULT_TARGET", "cython"),
                    help="code generation target (default: %(default)s)")
    _add_option(common, "--seed", type=int, default=None, help="random seed (default: from the model file)")
    _add_option(common, "--output", type=Path, default=Path("data") / "runs" / f"{name}.h5",
                help="results file; the figure goes beside it, with suffix .png (default: %(default)s)")
    _add_option(common, "--no-plot", action="store_true", help="skip the figure (default: draw it)")
    if is_typed(module):
        _add_option(common, "--set", action="append", default=[], metavar="KEY=VALUE",
                    help='override a key of the experiment file, e.g. --set run.seed=3 --set "run.duration=2 s" '
                         "(repeatable; checked by the file's schema; default: none)")
    if brian and is_typed(module):  # an older module reads these only if it defines them
        _add_option(common, "--build-dir", type=Path, default=Path("data") / "build" / name,
                    help="standalone build folder (default: %(default)s)")
        _add_option(common, "--threads", type=int, default=0,
                    help="OpenMP threads of the standalone binary, 0: no OpenMP (default: %(default)s)")
        from dendritic.backend import ENGINES

        _add_option(common, "--engine", choices=sorted(ENGINES), default="reference",
                    help="standalone engine settings (dendritic.backend.ENGINES; 'vectorised' gives the same "
                         "spikes faster, compiles longer) (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    from dendritic import __version__
    from dendritic.experiments import available

    parser = argparse.ArgumentParser(prog="dendritic", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"dendritic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an experiment, save HDF5 results and a PNG figure")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, module in available().items():
        sub = experiments.add_parser(name, help=module.HELP, description=module.HELP,
                                     formatter_class=_HelpFormatter)
        module.add_arguments(sub)
        _add_common_options(sub, name, module)
        sub.set_defaults(module=module)

    commands.add_parser("list", help="list experiments and shipped model files")
    show = commands.add_parser("show", help="summarise a results file")
    show.add_argument("path", type=Path)
    return parser


def _log_to_stderr() -> None:
    """Show the package's log messages (level INFO and up, e.g. the ``[dfc] ... epoch``
    lines of the rate training) on stderr, once."""
    import logging

    class Stderr(logging.Handler):
        """Each message as one line on the current ``sys.stderr`` (not the one at the
        first call: a later caller may have replaced it)."""

        def emit(self, record) -> None:
            try:
                print(self.format(record), file=sys.stderr, flush=True)
            except Exception:
                self.handleError(record)

    logger = logging.getLogger("dendritic")
    if not logger.handlers:
        handler = Stderr()
        handler.setFormatter(logging.Formatter("dendritic: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "show":
        return _show(args.path)
    from dendritic.config import ConfigError
    from dendritic.experiments import is_typed

    _log_to_stderr()
    try:
        if is_typed(args.module):
            paths = run_experiment(args.module, args)
        else:
            paths = [args.module.run(args)]  # an experiment module of the older form
    except ConfigError as error:
        print(f"dendritic: {error}", file=sys.stderr)
        return 2
    for label, path in zip(("results", "figure"), paths):
        print(f"{label}: {path}")
    return 0


def run_experiment(module, args) -> list[Path]:
    """Configure, run and save one experiment of the typed protocol
    (:mod:`dendritic.experiments`); return the results file and, if drawn, the figure."""
    from dendritic.backend import Backend
    from dendritic.experiments import core, uses_brian
    from dendritic.io import provenance, write_results

    config = module.configure(args)
    output = Path(args.output)
    backend = None
    if uses_brian(module):
        backend = Backend.for_config(config, args.target, build_dir=args.build_dir, threads=args.threads,
                                     progress=True, engine=getattr(args, "engine", "reference"))
    outcome = core(module)(config, backend, output)
    run_attrs = backend.describe() if backend is not None else {"seed": config.seed}
    paths = [write_results(output, outcome.results,
                           provenance(experiment=module.NAME, **run_attrs, **outcome.attrs))]
    for line in outcome.summary:
        print(line)
    if outcome.figure is not None and not args.no_plot:
        from dendritic.plots import save_figure

        paths.append(save_figure(outcome.figure(), output.with_suffix(".png")))
    return paths


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
