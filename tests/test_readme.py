"""The README's Python examples run as printed (runtime examples on the numpy target,
to keep the suite short; the standalone example as written)."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _block(containing: str) -> str:
    matches = [block for block in _python_blocks() if containing in block]
    assert len(matches) == 1, f"README: expected one Python example containing {containing!r}"
    return matches[0]


def _run(code: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)  # the examples write under data/
    namespace = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


def test_every_python_example_is_covered():
    covered = ("load_circuit", "DendriticPredictionRule", "population_signals")
    blocks = _python_blocks()
    assert len(blocks) == len(covered)
    assert all(any(key in block for key in covered) for block in blocks)


@pytest.mark.standalone
def test_standalone_example_reruns_with_a_new_leak(tmp_path, monkeypatch):
    from dendritic.io import read_results

    namespace = _run(_block("load_circuit"), tmp_path, monkeypatch)
    assert (tmp_path / "data/runs/demo.h5").stat().st_size > 0
    read_results(tmp_path / "data/runs/demo.h5")
    # the rerun used the new leak, and a leakier soma fires less
    assert float(namespace["leakier"]["parameters"]["pyramidal"]["g_L"]) == pytest.approx(0.2e-9)
    spikes = {name: len(namespace[name]["spikes"]["pyramidal"]["i"]) for name in ("baseline", "leakier")}
    assert spikes["leakier"] < spikes["baseline"], spikes


def test_plasticity_example_changes_the_weights(tmp_path, monkeypatch):
    code = _block("DendriticPredictionRule").replace('Backend("cython"', 'Backend("numpy"')
    namespace = _run(code, tmp_path, monkeypatch)
    w = np.asarray(namespace["synapses"].w[:])
    assert w.shape == (2000,) and np.std(w) > 0 and not np.allclose(w, 0.5e-3)


def test_bursting_example_gives_bursts(tmp_path, monkeypatch):
    code = _block("population_signals").replace('Backend("cython"', 'Backend("numpy"')
    namespace = _run(code, tmp_path, monkeypatch)
    probability = namespace["signals"]["burst_probability"]
    assert len(probability) == 40 and np.nanmean(probability) > 0.1


def test_every_command_line_in_the_readme_parses():
    """Each ``dendritic ...`` line of the README's shell examples is accepted by the
    command line's parser (options, experiment names), and its --set keys by the
    experiment file's schema."""
    import shlex

    from dendritic.cli import parse_args

    lines = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
             for line in block.splitlines()]
    commands = [shlex.split(line[line.index("dendritic "):]) for line in lines if "dendritic " in line]
    assert len(commands) >= 6
    for command in commands:
        if "--help" in command:
            continue
        args = parse_args(command[1:])
        if args.command == "sweep":
            assert args.set and parse_args(["run", args.experiment, *args.options])  # the points' options parse
        if args.command == "run" and args.set:
            args.module.configure(args)  # the overrides name keys the file has
