"""Do two versions of the package give the same results? Seeded runs of the experiments
from a git commit (default: ``HEAD``, the last committed state) and from the working
tree, compared dataset by dataset.

For a refactoring that must keep every result (issue 14): each experiment is run by the
command line of each version, in its own process, with the same seed, target and
arguments (``--target`` and ``--build-dir`` only where the version's ``--help`` lists
them); the HDF5 files are then compared: integer and boolean datasets exactly,
floating-point ones to ``--rtol`` (default 1e-12, for reordered sums), units and shapes
exactly. Wall-clock datasets (``timing``, ``epoch_seconds`` and the like) and the
provenance attributes are not compared.

    python benchmarks/compare_runs.py                         # working tree vs HEAD, all experiments
    python benchmarks/compare_runs.py --against 273742f --experiments population multiplexing

The commit's files are exported with ``git archive`` into a temporary folder; nothing
in the checkout is touched. Standalone builds go under that folder too. Exit code 0
when every experiment matches, 1 otherwise; writes
``data/benchmarks/compare_runs.json``.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: name -> arguments after ``dendritic run``: seeded, short enough for a check; ``--target``
#: is passed only to a version whose experiment takes it (``dfc`` did before it became a
#: NumPy-only experiment, ``BRIAN = False``)
EXPERIMENTS = {
    "population": ["population", "--target", "cython", "--seed", "3", "--duration", "1 s"],
    "dendritic-prediction": ["dendritic-prediction", "--target", "cpp_standalone", "--seed", "1"],
    "plasticity-protocol": ["plasticity-protocol", "--target", "cython", "--seed", "1"],
    "multiplexing": ["multiplexing", "--target", "cpp_standalone", "--neurons", "500", "--seed", "1"],
    "crosscheck": ["crosscheck", "--target", "cpp_standalone", "--seed", "1"],
    "dfc_toy": ["dfc", "--config", "dfc_toy", "--target", "numpy", "--seed", "0", "--epochs", "1",
                "--methods", "dfc_learned", "--feedback-init-epochs", "2", "--extra-feedback-epochs", "0",
                "--train-subset", "256", "--test-subset", "200"],
}

#: dataset names that hold wall-clock times or other run-dependent values
NOT_COMPARED = ("timing", "seconds", "wall", "elapsed")


def _environment(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree)}


@functools.lru_cache(maxsize=None)
def _help(tree: Path, experiment: str) -> str:
    return subprocess.run([sys.executable, "-m", "dendritic.cli", "run", experiment, "--help"], cwd=tree,
                          env=_environment(tree), capture_output=True, text=True, check=True).stdout


def takes_option(tree: Path, experiment: str, option: str) -> bool:
    """Whether ``dendritic run <experiment>`` of the package in ``tree`` lists ``option``
    in its ``--help``."""
    return re.search(rf"(^|[\s,]){re.escape(option)}([\s,=]|$)", _help(tree, experiment), re.MULTILINE) is not None


def command_line(tree: Path, arguments: list[str], output: Path, build: Path) -> list[str]:
    """The arguments for the version in ``tree``: ``--target`` and ``--build-dir`` (the
    standalone builds in ``build``) only where its experiment takes them."""
    arguments = list(arguments)
    if "--target" in arguments and not takes_option(tree, arguments[0], "--target"):
        at = arguments.index("--target")
        del arguments[at:at + 2]
    arguments += ["--output", str(output), "--no-plot"]
    if takes_option(tree, arguments[0], "--build-dir"):
        arguments += ["--build-dir", str(build)]
    return arguments


def run(tree: Path, arguments: list[str], output: Path, build: Path) -> None:
    """One experiment with the package in ``tree`` (its own process); standalone builds
    in ``build``."""
    command = [sys.executable, "-m", "dendritic.cli", "run", *command_line(tree, arguments, output, build)]
    completed = subprocess.run(command, cwd=tree, env=_environment(tree), capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} in {tree} failed ({completed.returncode}):\n"
                           f"{completed.stderr[-3000:]}")


def compare(a: Path, b: Path, rtol: float, trees=()) -> list[str]:
    """Differences between two results files (empty when they agree); strings are
    compared with the trees' paths replaced by ``<tree>`` (model files are recorded by
    path)."""
    import h5py

    problems: list[str] = []

    def text(value):
        value = value.decode() if isinstance(value, bytes) else str(value)
        for tree in trees:
            value = value.replace(str(tree), "<tree>")
        return value

    def walk(ga, gb, where):
        keys_a, keys_b = set(ga.keys()), set(gb.keys())
        for key in sorted(keys_a ^ keys_b):
            problems.append(f"{where}{key}: only in {'the commit' if key in keys_a else 'the working tree'}")
        for key in sorted(keys_a & keys_b):
            if any(word in key for word in NOT_COMPARED):
                continue
            xa, xb = ga[key], gb[key]
            if isinstance(xa, h5py.Group) and isinstance(xb, h5py.Group):
                walk(xa, xb, f"{where}{key}/")
                continue
            if isinstance(xa, h5py.Group) != isinstance(xb, h5py.Group):
                problems.append(f"{where}{key}: a group in one file, a dataset in the other")
                continue
            attrs_a, attrs_b = dict(xa.attrs), dict(xb.attrs)
            if attrs_a.keys() != attrs_b.keys() or not all(np.array_equal(attrs_a[k], attrs_b[k]) for k in attrs_a):
                problems.append(f"{where}{key}: attributes (units) differ: {attrs_a} vs {attrs_b}")
            va, vb = xa[()], xb[()]
            if np.shape(va) != np.shape(vb):
                problems.append(f"{where}{key}: shape {np.shape(va)} vs {np.shape(vb)}")
            elif np.asarray(va).dtype.kind in "fc":
                va, vb = np.asarray(va, float), np.asarray(vb, float)
                same_nan = np.array_equal(np.isnan(va), np.isnan(vb))
                finite = ~np.isnan(va)
                if not same_nan or not np.allclose(va[finite], vb[finite], rtol=rtol, atol=0):
                    worst = np.max(np.abs(va[finite] - vb[finite]) / np.maximum(np.abs(vb[finite]), 1e-300)) \
                        if same_nan and finite.any() else float("nan")
                    problems.append(f"{where}{key}: values differ (largest relative difference {worst:.3g})")
            elif np.asarray(va).dtype.kind in "OSU":
                if [text(v) for v in np.ravel(va)] != [text(v) for v in np.ravel(vb)]:
                    problems.append(f"{where}{key}: values differ")
            elif not np.array_equal(va, vb):
                problems.append(f"{where}{key}: values differ")

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        walk(fa, fb, "/")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git commit to compare with (default: %(default)s)")
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--rtol", type=float, default=1e-12)
    parser.add_argument("--output", type=Path, default=ROOT / "data" / "benchmarks" / "compare_runs.json")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from dendritic.io import write_json

    report = {"against": args.against, "rtol": args.rtol, "experiments": {}}
    failed = False
    with tempfile.TemporaryDirectory(prefix="compare_runs_") as tmp:
        tmp = Path(tmp)
        commit_tree = tmp / "commit"
        commit_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(commit_tree)], input=archive.stdout, check=True)
        for name in args.experiments:
            start = time.perf_counter()
            files = {}
            for label, tree in (("commit", commit_tree), ("working tree", ROOT)):
                files[label] = tmp / f"{name}.{label.replace(' ', '_')}.h5"
                run(tree, EXPERIMENTS[name], files[label], tmp / f"build_{name}_{label.replace(' ', '_')}")
            problems = compare(files["commit"], files["working tree"], args.rtol, trees=(commit_tree, ROOT))
            failed |= bool(problems)
            report["experiments"][name] = {"arguments": EXPERIMENTS[name], "problems": problems,
                                           "seconds": time.perf_counter() - start}
            print(f"{name}: {'identical' if not problems else f'{len(problems)} differences'} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
            for problem in problems[:20]:
                print(f"    {problem}")
    write_json(args.output, report)
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
