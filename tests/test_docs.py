"""The documentation (docs/) builds without a single warning (``sphinx-build -W``), and
its generated pages say what the files say: every parameter table of a neuron page
holds the value and unit written in ``models/neurons/<name>.toml`` (read here with
tomllib, not through the package), every experiment and every notebook has its page.

The build runs no simulation (notebooks are not executed); about 15 s."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")


class _Tables(HTMLParser):
    """The rows (lists of cell texts) of every ``<table class="... parameter-table ...">``."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._depth = 0          # inside a parameter table
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class", "") or ""
        if tag == "table" and ("parameter-table" in classes.split() or self._depth):
            self._depth += 1
        elif self._depth and tag == "tr":
            self._row = []
        elif self._depth and tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._depth:
            self._depth -= 1
        elif self._depth and tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif self._depth and tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parameter_rows(html: str) -> dict[str, list[str]]:
    parser = _Tables()
    parser.feed(html)
    return {row[0]: row for row in parser.rows if row and row[0] != "name"}


def _written(text: str) -> tuple[float, str]:
    """``"600 nS"`` -> (600.0, "nS"); ``"1/3 /mV"`` -> (0.333.., "/mV"); 0.5 -> (0.5, "1")."""
    if not isinstance(text, str):
        return float(text), "1"
    number, unit = re.match(r"^\s*([-+0-9.eE]+(?:\s*/\s*[-+0-9.eE]+)?)\s*(.*?)\s*$", text).groups()
    return float(Fraction(number.replace(" ", ""))), unit or "1"


def _build(out: Path) -> Path:
    html, doctrees = out / "html", out / "doctrees"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(doctrees), "-q",
         str(DOCS), str(html)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stderr}\n{result.stdout[-3000:]}"
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    return html


def _main_page_problems(site: Path) -> list[str]:
    problems = [f"no {page}.html" for page in ("index", "installation", "tutorial", "models/index",
                                                "experiments/index", "gallery", "api/index", "api/neurons",
                                                "py-modindex", "genindex")
                if not (site / f"{page}.html").is_file()]
    if 'id="dendritic.neurons.load_neuron"' not in (site / "api" / "neurons.html").read_text():
        problems.append("api/neurons.html does not document dendritic.neurons.load_neuron")
    return problems


def _neuron_page_problems(site: Path) -> list[str]:
    problems = []
    for path in sorted((ROOT / "models" / "neurons").glob("*.toml")):
        page = site / "models" / f"{path.stem}.html"
        if not page.is_file():
            problems.append(f"no page for models/neurons/{path.name}")
            continue
        rows = _parameter_rows(page.read_text())
        parameters = tomllib.loads(path.read_text())["parameters"]
        for name, text in parameters.items():
            if name not in rows:
                problems.append(f"{path.stem}: no table row for {name}")
                continue
            value, unit = _written(text)
            shown_value, shown_unit = rows[name][1], rows[name][2]
            if shown_unit != unit or float(shown_value) != pytest.approx(value, rel=1e-5, abs=1e-12):
                problems.append(f"{path.stem}: {name} = {text!r} in the file, {shown_value} {shown_unit} on the page")
    # the example of the brief, spelled out: g_B = "600 nS" in the file, 600 and nS in the table
    written = tomllib.loads((ROOT / "models" / "neurons" / "urbanczik2014.toml").read_text())["parameters"]["g_B"]
    row = _parameter_rows((site / "models" / "urbanczik2014.html").read_text()).get("g_B", [])
    if row[1:3] != written.split():
        problems.append(f"urbanczik2014: g_B row {row} does not show {written!r}")
    return problems


def _experiment_and_notebook_problems(site: Path) -> list[str]:
    problems, names = [], []
    for module in sorted((ROOT / "dendritic" / "experiments").glob("*.py")):
        match = re.search(r'^NAME\s*=\s*"([^"]+)"', module.read_text(), re.M)
        if match:
            names.append(match.group(1))
    if not {"population", "xor", "multiplexing", "dfc"} <= set(names):
        problems.append(f"experiment names not found in dendritic/experiments: {names}")
    for name in names:
        page = site / "experiments" / f"{name}.html"
        if not page.is_file():
            problems.append(f"no page for the experiment {name}")
            continue
        text = page.read_text()
        for expected in (f"dendritic run {name}", "Measured here", "Published reference"):
            if expected not in text:
                problems.append(f"experiments/{name}.html lacks {expected!r}")
    if "benchmarks/engine_xor.py" not in (site / "experiments" / "xor.html").read_text():
        problems.append("experiments/xor.html lacks the README's Measured-here row of benchmarks/engine_xor.py")
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if not (site / "notebooks" / f"{notebook.stem}.html").is_file():
            problems.append(f"no page for notebooks/{notebook.name}")
    return problems


def test_docs_build_without_warnings_and_show_what_the_files_say(tmp_path):
    # one test, one build (under pytest-xdist separate tests could each build the site)
    site = _build(tmp_path)
    problems = _main_page_problems(site) + _neuron_page_problems(site) + _experiment_and_notebook_problems(site)
    assert not problems, "\n".join(problems)
