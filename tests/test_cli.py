"""The command line runs the main experiment end to end and writes HDF5 + PNG; the
experiment protocol (:mod:`dendritic.experiments`): help texts, common options, typed
cores, the backend's workarounds."""

import os
import re
import types
from pathlib import Path

import numpy as np
import pytest
from brian2 import second

from dendritic.backend import Backend
from dendritic.cli import build_parser, main, run_experiment
from dendritic.experiments import available, core, is_typed
from dendritic.experiments.outcome import Outcome
from dendritic.io import read_attributes, read_results


def test_population_experiment_writes_results_and_figure(tmp_path, capsys):
    output = tmp_path / "runs" / "population.h5"
    code = main(["run", "population", "--target", "numpy", "--duration", "200 ms", "--neurons", "30",
                 "--seed", "4", "--output", str(output)])
    assert code == 0
    assert output.exists() and output.with_suffix(".png").stat().st_size > 10_000
    results = read_results(output)
    attrs = read_attributes(output)
    assert attrs["target"] == "numpy" and attrs["seed"] == 4 and attrs["experiment"] == "population"
    spikes = results["spikes"]["pyramidal"]
    assert int(spikes["N"]) == 30 and len(spikes["i"]) > 0
    assert spikes["t"].dim is second.dim
    states = results["states"]["pyramidal"]
    assert states["u"].shape == (30, 200)


def test_bad_model_file_is_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "net.toml"
    bad.write_text('[run]\nduration = "1 parsec"\n[[populations]]\nname = "p"\nneuron = "urbanczik2014"\nN = 2\n')
    assert main(["run", "population", "--target", "numpy", "--config", str(bad),
                 "--output", str(tmp_path / "x.h5")]) == 2
    assert f"{bad}: key 'run.duration'" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_list_names_experiments_and_models(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "population" in out and "urbanczik2014" in out


def test_top_level_help_lists_every_experiment_with_its_run_time(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    modules = available()
    assert {"population", "xor", "dfc", "crosscheck", "multiplexing"} <= set(modules)
    for name, module in modules.items():
        assert re.search(rf"^\s+{re.escape(name)}\s+{re.escape(module.HELP)}$", out, re.M), name
        # a wall time with its unit, e.g. "about 40 s" or "about 1.5 h"
        assert re.search(r"\d\s*(s|min|h)\b", module.RUN_TIME), (name, module.RUN_TIME)
        assert f"[{module.RUN_TIME}]" in out, name


# -- the experiment protocol (dendritic.experiments) ---------------------------------------

TYPED = ("population", "dendritic-prediction", "plasticity-protocol")


def _help(name: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main(["run", name, "--help"])
    return capsys.readouterr().out


def _option_helps(text: str) -> dict:
    """Option flags -> their help text (joined over its wrapped lines)."""
    options, current = {}, None
    for line in text.splitlines():
        if re.match(r"^  -", line):
            flags = line.split("  ", 2)[1].strip() if "  " in line.strip() else line.strip()
            current = flags
            options[current] = line.strip()[len(flags):]
        elif current is not None and line.startswith("    "):
            options[current] += " " + line.strip()
        else:
            current = None
    return options


@pytest.mark.parametrize("name", sorted(available()))
def test_every_option_shows_its_default(name, capsys):
    options = _option_helps(_help(name, capsys))
    assert "--output OUTPUT" in options and "--seed SEED" in options, options
    missing = [flags for flags, text in options.items() if not flags.startswith("-h") and "default" not in text.lower()]
    assert not missing, f"{name}: options without a default in --help: {missing}"


@pytest.mark.parametrize("name", TYPED)
def test_typed_experiments_get_the_common_options(name, capsys):
    assert is_typed(available()[name])
    options = _option_helps(_help(name, capsys))
    assert f"data/build/{name})" in options["--build-dir BUILD_DIR"]
    assert "(default: 0)" in options["--threads THREADS"]
    assert f"data/runs/{name}.h5" in options["--output OUTPUT"]
    assert "with its unit" in options.get("--duration DURATION", "with its unit")


def test_common_options_are_not_added_twice():
    """An experiment of the older form keeps its own --build-dir and --threads; one that
    does not define them does not get them (its run(args) would ignore them)."""
    parser = build_parser()
    modules = available()
    args = parser.parse_args(["run", "multiplexing", "--threads", "2", "--build-dir", "x"])
    assert args.threads == 2 and args.build_dir == Path("x")
    if not is_typed(modules["dfc"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["run", "dfc", "--build-dir", "x"])


def test_an_experiment_may_choose_its_default_target_and_engines_are_offered():
    parser = build_parser()
    assert parser.parse_args(["run", "xor"]).target == "cpp_standalone"  # DEFAULT_TARGET of the module
    args = parser.parse_args(["run", "population", "--engine", "vectorised"])
    assert args.target == "cython" and args.engine == "vectorised"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "population", "--engine", "warp"])


def test_core_returns_an_outcome_and_writes_nothing(tmp_path):
    from dendritic.experiments import population

    args = build_parser().parse_args(["run", "population", "--duration", "50 ms", "--neurons", "5", "--seed", "2"])
    config = population.configure(args)
    assert (config.seed, int(config.spec.values["populations"][0]["N"])) == (2, 5)
    output = tmp_path / "population.h5"
    outcome = core(population)(config, Backend.for_config(config, "numpy"), output)
    assert isinstance(outcome, Outcome) and not output.exists()
    assert outcome.results["spikes"]["pyramidal"]["N"] == 5
    assert outcome.attrs["network"].endswith("population.toml")
    figure = outcome.figure()
    assert figure.axes
    with pytest.raises(ValueError, match="seed 3"):
        core(population)(config, Backend("numpy", seed=3, dt=config.dt), output)


def test_command_line_writes_the_outcome_of_an_experiment_without_brian(tmp_path, capsys):
    """BRIAN = False: no backend, the seed comes from the config; summary lines printed."""
    seen = {}

    def run_toy(config, backend, output):
        seen.update(backend=backend, output=output)
        return Outcome({"x": np.arange(3)}, attrs={"note": "toy"}, figure=None, summary=["toy ran"])

    module = types.SimpleNamespace(NAME="toy", BRIAN=False, configure=lambda args: types.SimpleNamespace(seed=7, dt=None),
                                   run_toy=run_toy)
    args = types.SimpleNamespace(output=tmp_path / "toy.h5", no_plot=False)
    paths = run_experiment(module, args)
    assert paths == [tmp_path / "toy.h5"] and seen["backend"] is None
    attrs = read_attributes(paths[0])
    assert attrs["experiment"] == "toy" and attrs["seed"] == 7 and attrs["note"] == "toy"
    assert "toy ran" in capsys.readouterr().out


def test_backend_sets_openmp_threads(tmp_path):
    from brian2 import prefs

    try:
        Backend("cpp_standalone", build_dir=tmp_path, threads=2).activate()
        assert prefs.devices.cpp_standalone.openmp_threads == 2
    finally:
        prefs.devices.cpp_standalone.openmp_threads = 0


@pytest.mark.standalone
def test_standalone_build_from_the_command_line_limits_make_jobs(tmp_path, monkeypatch, capsys):
    """Brian 2.9 runs a bare ``make -j`` (one compiler per file at once); the Backend the
    command line makes passes ``-jN`` with N at most the cores (and at most 4)."""
    commands = []
    system = os.system

    def recording_system(command):
        commands.append(command)
        return system(command)

    monkeypatch.setattr(os, "system", recording_system)
    output = tmp_path / "population.h5"
    assert main(["run", "population", "--target", "cpp_standalone", "--duration", "20 ms", "--neurons", "3",
                 "--build-dir", str(tmp_path / "build"), "--output", str(output), "--no-plot"]) == 0
    make = [c for c in commands if c.startswith("make") and "clean" not in c]
    assert make, commands
    jobs = max(1, min(4, os.cpu_count() or 1))
    assert all(f"-j{jobs}" in c.split() and "-j" not in c.split() for c in make), make
    out = capsys.readouterr().out
    assert f"results: {output}" in out and "figure:" not in out
    assert read_attributes(output)["target"] == "cpp_standalone"


def test_set_overrides_a_key_of_the_experiment_file_and_is_checked(tmp_path, capsys):
    from dendritic.cli import main
    from dendritic.io import read_results

    output = tmp_path / "population.h5"
    assert main(["run", "population", "--target", "numpy", "--no-plot", "--output", str(output),
                 "--set", "run.duration=20 ms", "--set", "populations[0].N=7"]) == 0
    results = read_results(output)
    assert int(results["spikes"]["pyramidal"]["N"]) == 7
    assert float(results["network"]["duration"]) == 0.02
    assert main(["run", "population", "--target", "numpy", "--no-plot", "--output", str(tmp_path / "bad.h5"),
                 "--set", "run.duration=20 mV"]) == 2
    message = capsys.readouterr().err
    assert "population.toml" in message and "run.duration" in message and "a time" in message
    assert not (tmp_path / "bad.h5").exists()


def test_crosscheck_and_dfc_follow_the_protocol(capsys):
    """crosscheck (Brian) gets the backend's options; dfc (BRIAN = False, pure NumPy) gets
    --set but neither --target nor a build folder or threads: nothing would read them."""
    modules = available()
    assert is_typed(modules["crosscheck"]) and is_typed(modules["dfc"])
    crosscheck = _option_helps(_help("crosscheck", capsys))
    assert "data/build/crosscheck)" in crosscheck["--build-dir BUILD_DIR"] and "--target" in " ".join(crosscheck)
    assert "with its unit" in crosscheck["--windows WINDOWS [WINDOWS ...]"]
    dfc = _option_helps(_help("dfc", capsys))
    assert "--set KEY=VALUE" in dfc and "(default: 0)" in dfc["--seed SEED"]
    assert not [flags for flags in dfc if flags.split()[0] in ("--target", "--build-dir", "--threads")], list(dfc)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "dfc", "--target", "numpy"])


@pytest.mark.parametrize("experiment, argv", [
    ("population", ["--target", "numpy", "--duration", "50 ms", "--neurons", "10"]),
    ("dfc", ["--config", "dfc_mnist", "--methods", "bp", "--epochs", "1", "--train-subset", "200",
             "--test-subset", "100"]),
])
def test_plot_redraws_a_saved_run_without_running_it(tmp_path, capsys, monkeypatch, experiment, argv):
    output = tmp_path / "run.h5"
    assert main(["run", experiment, *argv, "--no-plot", "--output", str(output)]) == 0
    import dendritic.experiments as experiments

    def no_run(*args, **kwargs):
        raise AssertionError("plot ran the experiment")

    monkeypatch.setattr(experiments, "core", no_run)
    assert main(["plot", str(output), "--output", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000
    assert f"figure: {tmp_path / 'again.png'}" in capsys.readouterr().out


def test_plot_refuses_runs_it_cannot_redraw_in_one_line(tmp_path, capsys):
    from dendritic.io import provenance, write_results

    path = tmp_path / "x.h5"
    write_results(path, {"a": np.zeros(2)}, provenance(experiment="crosscheck"))
    assert main(["plot", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be redrawn" in err[0] and "population" in err[0]
    good = tmp_path / "good.h5"
    assert main(["run", "population", "--target", "numpy", "--duration", "20 ms", "--neurons", "5", "--no-plot",
                 "--output", str(good)]) == 0
    capsys.readouterr()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["plot", str(good), "--output", str(blocker / "x.png")]) == 2
    assert "cannot write there" in capsys.readouterr().err
