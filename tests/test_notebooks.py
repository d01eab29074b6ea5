"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel (nbclient),
saves at least one figure, points to no file outside the repository, and the checks in
``tests/notebook_checks/<notebook stem>.py`` hold when run in the same kernel after its
last cell (so they see the notebook's variables)."""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHECKS = Path(__file__).resolve().parent / "notebook_checks"
#: stored notebooks carry no outputs or small ones
MAX_STORED_BYTES = 200_000
#: a cell may take this long (the whole notebook is meant to take a few minutes)
CELL_TIMEOUT = 600


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_small_and_self_contained(path):
    assert path.stat().st_size < MAX_STORED_BYTES, f"{path.name}: clear its outputs before committing"
    text = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
    assert "SCIENCE.md" not in text, f"{path.name}: cites a file that does not ship"
    for match in re.finditer(r"\.\./[\w./-]+", text):
        target = (path.parent / match.group(0)).resolve()
        assert ROOT in target.parents, f"{path.name}: {match.group(0)} points outside the repository"
    assert (CHECKS / f"{path.stem}.py").exists(), f"{path.name}: no checks in tests/notebook_checks/{path.stem}.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_a_kernel_and_saves_a_figure(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    for k, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.source.lstrip().startswith("!"), f"{path.name} cell {k}: no shell commands"
    checks = CHECKS / f"{path.stem}.py"
    notebook.cells.append(nbformat.v4.new_code_cell(checks.read_text()))
    # the kernel starts in tmp_path: figures and results files the notebook writes land there
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}},
                            extra_arguments=["--HistoryManager.enabled=False"])
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})
    figures = sorted(tmp_path.rglob("*.png")) + sorted(tmp_path.rglob("*.svg")) + sorted(tmp_path.rglob("*.pdf"))
    assert figures, f"{path.name}: saved no figure"
