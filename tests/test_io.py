"""HDF5 results: exact round trip, atomic writes."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import brian2
import h5py
import numpy as np
import pytest
from brian2 import Hz, mV, nS, second
from brian2.units.fundamentalunits import get_dimensions

from dendritic.io import atomic_path, machine, provenance, read_attributes, read_results, write_json, write_results


def _tree():
    rng = np.random.default_rng(0)
    return {
        "spikes": {"i": rng.integers(0, 100, 1000).astype(np.int32), "t": rng.random(1000) * second},
        "states": {"u": rng.normal(size=(5, 7000)) * mV, "g": np.array([0.1, 1.0, 0.8]) * nS,
                   "rate": 12.5 * Hz, "beta": (1 / 3) / mV, "ratio": np.float64(0.25)},
        "label": "a string",
        "flags": np.array([True, False]),
    }


def test_round_trip_is_exact(tmp_path):
    tree = _tree()
    path = write_results(tmp_path / "run.h5", tree, provenance(experiment="test", seed=3, target="numpy"))
    back = read_results(path)

    def compare(a, b):
        assert set(a) == set(b)
        for key in a:
            if isinstance(a[key], dict):
                compare(a[key], b[key])
            elif isinstance(a[key], str):
                assert a[key] == b[key]
            else:
                assert get_dimensions(a[key]) is get_dimensions(b[key]), key
                np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))
                assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key

    compare(tree, back)
    attrs = read_attributes(path)
    assert attrs["seed"] == 3 and attrs["target"] == "numpy" and attrs["brian2_version"] == brian2.__version__
    assert "dendritic_version" in attrs and "created" in attrs


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = write_results(tmp_path / "run.h5", {"x": np.arange(3)})
    with pytest.raises(ValueError, match="object array"):
        write_results(path, {"x": np.arange(4), "bad": np.array([object()], dtype=object)})
    np.testing.assert_array_equal(read_results(path)["x"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from collections.abc import Mapping
    from dendritic.io import write_results

    class Slow(Mapping):
        # yields one large entry, announces it, then stalls inside write_results
        def __init__(self): self.keys_ = ["a", "b"]
        def __len__(self): return 2
        def __iter__(self): return iter(self.keys_)
        def __getitem__(self, key): return np.ones(2_000_000) * (1 if key == "a" else 2)
        def items(self):
            yield "a", self["a"]
            print("writing", flush=True)
            time.sleep(60)
            yield "b", self["b"]

    write_results(sys.argv[1], Slow())
""")


@pytest.mark.parametrize("previous", [True, False])
def test_run_killed_mid_write_leaves_previous_file_or_none(tmp_path, previous):
    path = tmp_path / "run.h5"
    if previous:
        write_results(path, {"x": np.arange(5)})
    process = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        # the temporary file exists and holds part of the data
        assert any(p.name.startswith(".run.h5.") for p in tmp_path.iterdir())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    if previous:
        np.testing.assert_array_equal(read_results(path)["x"], np.arange(5))
        with h5py.File(path) as f:
            assert list(f) == ["x"]
    else:
        assert not path.exists()


def test_results_and_figures_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the final files are 0666 minus the umask."""
    import matplotlib.pyplot as plt

    from dendritic.plots import save_figure

    umask = os.umask(0o022)
    try:
        h5 = write_results(tmp_path / "r.h5", {"x": np.arange(3)})
        png = save_figure(plt.figure(), tmp_path / "r.png")
        report = write_json(tmp_path / "r.json", {"x": 1})
    finally:
        os.umask(umask)
    for path in (h5, png, report):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, oct(path.stat().st_mode)


def test_json_report_round_trip_and_failed_encoding_keeps_the_previous_file(tmp_path):
    """Benchmark reports: JSON written atomically; a value JSON cannot encode changes nothing."""
    import json

    path = write_json(tmp_path / "sub" / "report.json", {"rows": [1.5, 2], "name": "dfc"})
    assert json.loads(path.read_text()) == {"rows": [1.5, 2], "name": "dfc"}
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json(path, {"rows": [3], "bad": object()})
    assert json.loads(path.read_text())["rows"] == [1.5, 2]
    write_json(path, {"bad": object()}, default=str, indent=None)  # options reach json.dumps
    assert json.loads(path.read_text())["bad"].startswith("<object object")
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.json"]


@pytest.mark.parametrize("previous", [True, False])
def test_atomic_path_leaves_previous_file_or_none_when_the_writer_fails(tmp_path, previous):
    path = tmp_path / "figure.png"
    if previous:
        path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(b"half")
            assert Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".figure.png.")
            raise RuntimeError("interrupted")
    assert (path.read_bytes() == b"old") if previous else not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["figure.png"] if previous else [])


def test_machine_report_has_the_fields_benchmarks_print(tmp_path):
    info = machine()
    assert isinstance(info["cpus"], int) and len(info["load_average"]) == 3
    assert all(isinstance(info[key], str) for key in ("brian2", "numpy", "python"))
    # benchmark reports embed it: it must survive the JSON writer unchanged
    write_json(tmp_path / "report.json", {"machine": info})
    assert json.loads((tmp_path / "report.json").read_text())["machine"] == json.loads(json.dumps(info))
