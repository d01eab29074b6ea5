"""benchmarks/compare_runs.py, the check that a refactoring keeps every result: its file
comparison flags a changed value, shape, unit or dataset and ignores wall-clock times and
the trees' paths."""

import importlib.util
from pathlib import Path

import numpy as np
from brian2 import mV, second

from dendritic.io import write_results

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "compare_runs.py"
spec = importlib.util.spec_from_file_location("compare_runs", SCRIPT)
compare_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_runs)


def _write(path, **changes):
    tree = {"states": {"v": np.array([1.0, 2.0, 3.0]) * mV, "i": np.arange(3)},
            "timing": {"run_s": np.float64(1.0)}, "network": {"file": "/tree/a/models/x.toml"}}
    for key, value in changes.items():
        group, name = key.split("__")
        tree[group][name] = value
    write_results(path, tree, {"created": str(path)})
    return path


def test_identical_runs_agree_and_differences_are_named(tmp_path):
    base = _write(tmp_path / "a.h5")
    same = _write(tmp_path / "b.h5", timing__run_s=np.float64(7.0), network__file="/tree/b/models/x.toml")
    assert compare_runs.compare(base, same, 1e-12, trees=("/tree/a", "/tree/b")) == []
    cases = {
        "values differ": _write(tmp_path / "c.h5", states__v=np.array([1.0, 2.0, 3.0 + 1e-9]) * mV),
        "units": _write(tmp_path / "d.h5", states__v=np.array([1.0, 2.0, 3.0]) * second),
        "shape": _write(tmp_path / "e.h5", states__i=np.arange(4)),
        "/network/file": _write(tmp_path / "f.h5", network__file="/tree/b/models/y.toml"),
    }
    for what, path in cases.items():
        problems = compare_runs.compare(base, path, 1e-12, trees=("/tree/a", "/tree/b"))
        assert problems and any(what in problem for problem in problems), (what, problems)
    # a relative difference below rtol (reordered sums) passes
    close = _write(tmp_path / "g.h5", states__v=np.array([1.0, 2.0, 3.0 * (1 + 1e-14)]) * mV)
    assert compare_runs.compare(base, close, 1e-12) == []
