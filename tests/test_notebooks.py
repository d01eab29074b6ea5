"""The notebooks in notebooks/ run top to bottom (code cells executed in order, figures
drawn off screen), and their printed checks hold."""

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "notebook"}
    for k, source in enumerate(_code_cells(path)):
        assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()), \
            f"{path.name} cell {k}: no IPython magics, so that the notebook also runs as plain Python"
        exec(compile(source, f"{path.name}[{k}]", "exec"), namespace)
    plt.close("all")
    if path.name == "tour.ipynb":
        _check_tour(namespace)


def _check_tour(ns):
    # 1. soma at the conductance-weighted mean of its clamped dendrites
    np.testing.assert_allclose(ns["u"][:, -1], ns["u_star"], rtol=1e-3)
    # 2. a depolarising teacher makes the weights grow; without one they only diffuse
    #    (spike noise: about 0.02 mV standard error of the mean after 2 s)
    growth = {label: w[-1] - w[0] for label, (t, w) in ns["mean_weight"].items()}
    assert growth["somatic current 1 nA"] > 0.1, growth
    assert abs(growth["no teacher"]) < 0.05, growth
    # 3. apical drive raises the burst probability
    probability = ns["burst_rate"] / ns["event_rate"]
    assert probability[-1] > 2 * probability[0]
    # 4. DFC-SS approaches DFC-SSA with the simulated time
    angles = np.asarray(ns["angles"])
    assert np.all(angles[-1] < angles[0]) and angles[-1].max() < 1.0
