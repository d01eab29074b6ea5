"""Command line: ``dendritic run <experiment> [options]``, ``dendritic list``,
``dendritic show <results.h5>``. Argument parsing, the backend and the files; the work
is in :mod:`dendritic.experiments` (whose docstring describes the protocol)."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

__all__ = ["main", "build_parser", "parse_args", "run_experiment"]


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
        _add_option(common, "--build-cache", type=Path, default=None,
                    help="folder of compiled standalone binaries keyed by a digest of the generated code: a run "
                         "whose code was compiled before copies the binary instead of compiling (the seed is "
                         "then read at run time) (default: none)")
        _add_option(common, "--portable", action="store_true",
                    help="compile without -march=native, for a binary that runs on other machines (default: off)")
        from dendritic.backend import ENGINES

        _add_option(common, "--engine", choices=sorted(ENGINES), default=getattr(module, "DEFAULT_ENGINE", "reference"),
                    help="standalone engine settings (dendritic.backend.ENGINES; 'vectorised' gives the same "
                         "spikes faster, compiles longer) (default: %(default)s)")


def _experiment_table(modules: dict) -> str:
    """The experiments, a line each, with the default run's expected wall time."""
    width = max(map(len, modules))
    lines = ["experiments (dendritic run NAME; the default run's wall time on 2 cores):"]
    for name, module in modules.items():
        lines.append(f"  {name:{width}s}  {module.HELP}")
        lines.append(f"  {'':{width}s}  [{module.RUN_TIME}]")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from dendritic import __version__
    from dendritic.experiments import available

    modules = available()
    parser = argparse.ArgumentParser(prog="dendritic", description=__doc__.split("\n")[0],
                                     epilog=_experiment_table(modules),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dendritic {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an experiment, save HDF5 results and a PNG figure")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, module in modules.items():
        sub = experiments.add_parser(name, help=module.HELP, description=module.HELP,
                                     formatter_class=_HelpFormatter)
        module.add_arguments(sub)
        _add_common_options(sub, name, module)
        sub.set_defaults(module=module)

    sweep = commands.add_parser(
        "sweep", help="run an experiment over a grid of values and seeds on Dask (one build, many runs)",
        description="The cartesian product of the --set values and the seeds, one run of the experiment per "
                    "point, on a Dask LocalCluster (one worker per core) or --scheduler; see dendritic.sweep. "
                    'Example: dendritic sweep population --set "connections[0].weight=0.5 mV,1 mV" --seeds 1-2 '
                    '-- --target cpp_standalone --duration "1 s"', formatter_class=_HelpFormatter)
    sweep.add_argument("experiment", choices=sorted(modules), metavar="EXPERIMENT")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="a key of the experiment file and its values, comma-separated (repeatable: the grid is "
                            "their product) (default: none)")
    sweep.add_argument("--seeds", default="1", help='seeds, e.g. "1-5" or "1,3" (default: %(default)s)')
    sweep.add_argument("--scheduler", default=None,
                       help="address of a Dask scheduler, e.g. tcp://10.0.0.1:8786 (default: a LocalCluster here)")
    sweep.add_argument("--workers", type=int, default=None,
                       help="worker processes of the LocalCluster (default: one per core)")
    sweep.add_argument("--output", type=Path, default=None,
                       help="sweep folder: points/, index.csv, summary.png (default: data/sweeps/<experiment>)")
    sweep.epilog = "Options after -- go to `dendritic run EXPERIMENT` for every point."

    plot = commands.add_parser("plot", help="redraw the figure of a saved run without running it again")
    plot.add_argument("path", type=Path)
    plot.add_argument("--output", type=Path, default=None,
                      help="the PNG to write (default: beside the results file, with suffix .png)")

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


@contextmanager
def _interruptible():
    """SIGINT and SIGTERM raise :class:`~dendritic.errors.Interrupted` while the block
    runs. Brian turns a Ctrl-C into a quiet early stop (a truncated run that looks
    complete); here it ends the run instead, and a standalone binary that
    ``subprocess.call`` waits for is killed with it."""
    import signal

    from dendritic.errors import Interrupted

    def interrupt(number, frame):
        raise Interrupted(signal.Signals(number).name)

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def parse_args(argv=None) -> argparse.Namespace:
    """The command line's arguments; for ``sweep``, what follows ``--`` is kept apart as
    ``options`` (the options of ``dendritic run`` for every point)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if argv[:1] == ["sweep"] and "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    args.options = extra
    return args


def main(argv=None) -> int:
    """The command line; returns the exit status: 0 done, 2 a mistake in what was asked
    (one line on stderr naming the file, option or key), 130 interrupted (nothing written
    over an earlier result), 1 a bug (with its traceback)."""
    from dendritic.errors import DendriticError

    args = parse_args(argv)
    try:
        with _interruptible():
            return _command(args)
    except DendriticError as error:
        print(f"dendritic: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        name = getattr(error, "signal_name", "SIGINT")
        output = getattr(args, "output", None)
        kept = f"; {output} left as it was" if output is not None else ""
        print(f"dendritic: interrupted by {name}: no results written{kept}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `dendritic list | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _command(args) -> int:
    if args.command == "list":
        return _list()
    if args.command == "show":
        return _show(args.path)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "plot":
        return _plot(args.path, args.output)
    from dendritic.experiments import is_typed

    _log_to_stderr()
    if is_typed(args.module):
        paths = run_experiment(args.module, args)
    else:
        paths = [args.module.run(args)]  # an experiment module of the older form
    for label, path in zip(("results", "figure"), paths):
        print(f"{label}: {path}")
    return 0


def run_experiment(module, args) -> list[Path]:
    """Configure, run and save one experiment of the typed protocol
    (:mod:`dendritic.experiments`); return the results file and, if drawn, the figure.

    The output folder is checked before anything is built. Results and figure are
    written as a pair: the figure is drawn to a temporary file, the previous run's
    figure removed, the HDF5 file renamed into place, then the figure, so an
    interruption never leaves a new ``.h5`` beside an old ``.png``."""
    from dendritic.backend import Backend
    from dendritic.experiments import core, uses_brian
    from dendritic.io import atomic_path, check_writable, provenance, write_results

    config = module.configure(args)
    output = check_writable(Path(args.output))
    backend = None
    if uses_brian(module):
        backend = Backend.for_config(config, args.target, build_dir=args.build_dir, threads=args.threads,
                                     progress=getattr(args, "progress", True), engine=getattr(args, "engine", "reference"),
                                     build_cache=getattr(args, "build_cache", None),
                                     portable=getattr(args, "portable", False))
    outcome = core(module)(config, backend, output)
    args.outcome, args.backend = outcome, backend  # for callers that want its metrics (dendritic.sweep)
    run_attrs = backend.describe() if backend is not None else {"seed": config.seed}
    attrs = provenance(experiment=module.NAME, **run_attrs, **outcome.attrs)
    if outcome.metrics:
        outcome = replace(outcome, results={**outcome.results, "metrics": {k: float(v) for k, v in
                                                                            outcome.metrics.items()}})
    for line in outcome.summary:
        print(line)
    figure_path = output.with_suffix(".png")
    if outcome.figure is None or args.no_plot:
        figure_path.unlink(missing_ok=True)  # an earlier run's figure is not this file's
        return [write_results(output, outcome.results, attrs)]
    import matplotlib.pyplot as plt

    try:
        figure = outcome.figure()
    except Exception:
        figure_path.unlink(missing_ok=True)
        write_results(output, outcome.results, attrs)  # keep the run; the figure's bug shows
        raise
    try:
        with atomic_path(figure_path) as tmp:
            figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
            figure_path.unlink(missing_ok=True)
            write_results(output, outcome.results, attrs)
    finally:
        plt.close(figure)
    return [output, figure_path]


def _sweep(args) -> int:
    from dendritic.sweep import run_sweep

    _log_to_stderr()
    extra = list(args.options)
    from dendritic.experiments import parse_seeds

    output = args.output or Path("data") / "sweeps" / args.experiment
    rows = run_sweep(args.experiment, args.set, parse_seeds(args.seeds), output, extra=extra, scheduler=args.scheduler,
                     workers=args.workers)
    failed = [row for row in rows if row.get("status") != "done"]
    for row in failed:
        print(f"point {row['point']} (seed {row['seed']}) failed: {row.get('error', '')}", file=sys.stderr)
    print(f"index: {output / 'index.csv'} ({len(rows) - len(failed)} of {len(rows)} points done)")
    return 0 if not failed else 2


def _plot(path: Path, output: Path | None) -> int:
    """Redraw a saved run's figure with its experiment's ``redraw(results, attrs)``."""
    from dendritic.errors import DendriticError
    from dendritic.experiments import available
    from dendritic.io import read_attributes, read_results
    from dendritic.plots import save_figure

    attrs = read_attributes(path, own=True)
    name = str(attrs.get("experiment", ""))
    module = available().get(name)
    if module is None:
        raise DendriticError(f"{path}: attribute 'experiment' is {name!r}, not an experiment of this version "
                             f"({', '.join(sorted(available()))})")
    if not hasattr(module, "redraw"):
        drawable = sorted(n for n, m in available().items() if hasattr(m, "redraw"))
        raise DendriticError(f"{path}: the figure of `{name}` cannot be redrawn from its file yet (redrawn: "
                             f"{', '.join(drawable)}); run it again to draw it")
    from dendritic.io import check_writable

    target = check_writable(output or Path(path).with_suffix(".png"))
    figure = module.redraw(read_results(path, own=True), attrs)
    print(f"figure: {save_figure(figure, target)}")
    return 0


def _list() -> int:
    from dendritic.config import MODELS_DIR
    from dendritic.experiments import available

    print(_experiment_table(available()))
    for kind in sorted(p.name for p in MODELS_DIR.iterdir() if p.is_dir()):
        print(f"models/{kind}:")
        for path in sorted((MODELS_DIR / kind).glob("*.toml")):
            print(f"  {path.stem}")
    return 0


def _show(path: Path) -> int:
    from brian2.units.fundamentalunits import get_unit

    from dendritic.io import read_attributes, read_results

    attributes, results = read_attributes(path, own=True), read_results(path, own=True)
    for key, value in attributes.items():
        print(f"{key}: {value}")

    def walk(tree, indent="  "):
        for key, value in tree.items():
            if isinstance(value, dict):
                print(f"{indent}{key}/")
                walk(value, indent + "  ")
            else:
                shape = getattr(value, "shape", ())
                if shape == () or isinstance(value, str):  # a single value: show it, with its unit
                    print(f"{indent}{key}: {value}")
                    continue
                unit = f", {get_unit(value.dim)!r}" if getattr(value, "dim", None) is not None and value.dim.is_dimensionless is False else ""
                print(f"{indent}{key}: shape {shape}{unit}")

    walk(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
