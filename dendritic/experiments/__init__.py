"""Experiments: one module per ``dendritic run <name>``.

The protocol
------------

An experiment module defines::

    NAME = "my-experiment"            # the command: dendritic run my-experiment
    HELP = "one line for dendritic list and --help"
    RUN_TIME = "about 1 min (+2 min compiling the first time)"   # the default run's
                                      # wall time, measured on the CI kind of machine
                                      # (2 cores), listed by dendritic --help
    BRIAN = True                      # optional (default True); False: no Brian, no Backend
    DEFAULT_TARGET = "cython"         # optional: the default of --target

    def add_arguments(parser) -> None
        # the experiment's own options; every help ends with "(default: ...)", and a
        # quantity's help gives its unit ('simulated time, e.g. "500 ms"')

    def configure(args) -> Config
        # the only function that sees the argparse Namespace: reads the model file
        # (--config), applies the command-line overrides (--seed and the module's own
        # options, validated with the schema's fields, see option_values) and returns a
        # validated, frozen config that carries everything the run needs. A config has
        # ``seed`` (int) and ``dt`` (a Brian quantity; a non-Brian experiment may use
        # None) attributes: the command line builds the Backend from them.

    def run_my_experiment(config: Config, backend: Backend | None, output: Path) -> Outcome
        # the typed core, named run_<NAME with "-" as "_">: never sees a Namespace and
        # never writes the results file. It activates the backend itself (``with
        # backend:`` or ``backend.sweep``, as often as it needs) and should call
        # ``backend.check_config(config)``. ``output`` is the results path, given so
        # that a long run can checkpoint beside it (``output.with_suffix(...)``).
        # ``backend`` is None when BRIAN is False. Tests and benchmarks call the core
        # directly: ``run_my_experiment(config, Backend.for_config(config, "numpy"), path)``.

A module skeleton::

    from dataclasses import dataclass
    from dendritic import config as cfg
    from dendritic.experiments import RunSettings, option_values
    from dendritic.experiments.outcome import Outcome

    NAME, HELP = "my-experiment", "what it shows (HDF5 + PNG)"
    SCHEMA = {"run": cfg.Table(schema={"duration": cfg.Quantity(unit=second, bound="positive"),
                                       "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
                                       "seed": cfg.Integer(minimum=0, default=0)})}

    @dataclass(frozen=True)
    class Config(RunSettings):            # seed and dt from values["run"]
        values: dict                      # the validated file, overrides applied
        file: str

    def add_arguments(parser):
        parser.add_argument("--config", default="my_experiment",
                            help="experiment file or name in models/experiments (default: %(default)s)")
        parser.add_argument("--duration", default=None,
                            help='simulated time with its unit, e.g. "2 s" (default: from the file)')

    def configure(args) -> Config:
        path = cfg.resolve_model_file(args.config, "experiments")
        values = cfg.load(path, SCHEMA)
        given = option_values(args, {"seed": SCHEMA["run"].schema["seed"],
                                     "duration": SCHEMA["run"].schema["duration"]})
        values["run"].update(given)
        return Config(values, str(path))

    def run_my_experiment(config, backend, output) -> Outcome:
        backend.check_config(config)
        with backend:
            ...                           # build the network, backend.run(network, duration)
            results = {...}
        return Outcome(results, attrs={"experiment_file": config.file},
                       figure=lambda: figure(results, title=f"... ({backend.target})"),
                       summary=[f"rate {rate:.1f} Hz"])

What the command line does with it (:mod:`dendritic.cli`): adds the common options
``--seed``, ``--output`` (default ``data/runs/<name>.h5``) and ``--no-plot``, and for a
Brian experiment ``--target``, ``--build-dir`` (default ``data/build/<name>``) and
``--threads`` (OpenMP threads, standalone); calls ``configure``; makes the
:class:`~dendritic.backend.Backend` from the target, build folder, threads and the
config's seed and dt (the Backend applies the Brian workarounds: the make-jobs limit
and the OpenMP threads); calls the core; writes the HDF5 file with
``provenance(experiment=NAME, **backend.describe(), **outcome.attrs)`` and the figure
beside it (``.png``) unless ``--no-plot``; prints the summary and both paths. A
:class:`~dendritic.config.ConfigError` from ``configure`` or the core exits with
status 2 and the message, before anything is written.

During the transition the command line also runs modules of the older form: ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> Path`` (which builds its own
Backend and writes its own files); they are told apart by the attribute ``configure``.
Such a module gets the common options ``--target``, ``--seed``, ``--output`` and
``--no-plot`` (not ``--build-dir`` and ``--threads``, which it reads only if it defines
them itself). A common option the module defines itself is not added again.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping

__all__ = ["available", "is_typed", "core", "uses_brian", "option_values", "parse_seeds", "RunSettings",
           "CircuitSettings"]


class RunSettings:
    """``seed`` and ``dt`` of a config whose ``values`` (a validated model file) hold a
    ``run`` table with them; mix it into an experiment's frozen config dataclass."""

    @property
    def seed(self) -> int:
        return self.values["run"]["seed"]

    @property
    def dt(self):
        return self.values["run"]["dt"]


class CircuitSettings(RunSettings):
    """:class:`RunSettings` of a config holding a circuit (``spec``, a
    :class:`~dendritic.circuits.CircuitSpec`): its values are the circuit file's."""

    @property
    def values(self) -> dict:
        return self.spec.values


def available() -> dict:
    """Experiment modules by name."""
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and (hasattr(module, "configure") or hasattr(module, "run")):
            modules[module.NAME] = module
    return modules


def is_typed(module) -> bool:
    """Whether ``module`` follows the protocol above (``configure`` and a core) rather
    than the older ``run(args)``."""
    return hasattr(module, "configure")


def core(module) -> Callable:
    """The typed core ``run_<name>`` of an experiment module."""
    name = "run_" + module.NAME.replace("-", "_")
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"experiment module {module.__name__} has configure() but no core {name}()") from None


def uses_brian(module) -> bool:
    """Whether the command line makes a Backend for ``module`` (``BRIAN``, default True)."""
    return bool(getattr(module, "BRIAN", True))


def option_values(args, fields: Mapping) -> dict:
    """The options of ``fields`` (destination -> :class:`dendritic.config.Field`) given on
    the command line (not None), checked by their fields: ``{"duration": 0.5*second}``.

    Give quantities to argparse as plain strings so that the field checks the unit; a
    problem raises :class:`~dendritic.config.ConfigError` naming the option
    (``command line: key '--duration': expected a time, ...``).
    """
    from dendritic import config as cfg

    given = {dest: getattr(args, dest) for dest in fields if getattr(args, dest, None) is not None}
    flags = {dest: "--" + dest.replace("_", "-") for dest in given}
    parsed = cfg.validate({flags[dest]: value for dest, value in given.items()},
                          {flags[dest]: fields[dest] for dest in given}, source="command line")
    return {dest: parsed[flags[dest]] for dest in given}


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """``"1-5"`` -> [1, 2, 3, 4, 5]; ``"1,3"`` -> [1, 3]; anything else a
    :class:`~dendritic.errors.DendriticError` naming ``option``."""
    from dendritic.errors import DendriticError

    seeds = []
    try:
        for part in str(text).split(","):
            if "-" in part.strip()[1:]:
                a, b = part.strip().split("-", 1)
                seeds.extend(range(int(a), int(b) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise DendriticError(f"command line: key '{option}': expected seeds such as \"1-5\" or \"1,3\", "
                             f"got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise DendriticError(f"command line: key '{option}': expected non-negative seeds such as \"1-5\", got {text!r}")
    return seeds
