"""Parameter and seed sweeps on Dask distributed: ``dendritic sweep NAME --set
key=v1,v2 --seeds 1-5``.

A sweep is the cartesian product of the values given for each ``--set`` key and the
seeds; each point is one run of the experiment, as ``dendritic run NAME --set key=v
--seed s`` would make it, on a worker of a Dask cluster: a ``LocalCluster`` of one
process per core by default, or the scheduler at ``--scheduler tcp://host:8786`` (a
SLURM or Kubernetes cluster started with dask-jobqueue or dask-kubernetes; see the
README). The client validates every point before anything runs (a bad key or value is
one line naming it), hands out the points, and writes the index as they finish.

One build, many runs: every point builds its network in its own folder
(``work/<point>/``, where its binary also writes its results), and compiled binaries are
cached by a digest of the generated code (``builds/<digest>/main``,
:func:`dendritic.backend.code_digest`). Points that differ only in data (weights drawn
in NumPy, initial values, the seed, which such builds read at run time) have the same
code and share one binary, compiled once by whichever worker got there first; points
that change the code (population sizes, a parameter compiled in as a constant) get a
build of their own. The folder must be on a filesystem all workers see.

Files, under ``--output`` (default ``data/sweeps/<name>/``):

- ``points/<point>.h5``: the results of one point, written atomically (the figure is
  not drawn for sweep points);
- ``index.csv``: a row per point: its name, the swept values, seed, status (``done``,
  ``failed``, ``pending``), wall time, whether it compiled, the error of a failed
  point, and the experiment's metrics (:attr:`~dendritic.experiments.outcome.Outcome.metrics`);
  rewritten atomically after each point;
- ``summary.png``: the first metric against the first swept key, the mean over seeds
  with the standard deviation as error bars.

Invoked again with the same grid, a sweep skips the points done (their results file
present and readable) and runs the others again, so a worker killed mid-run costs only
its point.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import io as _io
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from dendritic.errors import DendriticError

__all__ = ["Point", "grid", "split_values", "run_sweep", "run_point", "read_index", "INDEX", "SweepError"]

INDEX = "index.csv"
_FIXED_COLUMNS = ("point", "seed", "status", "wall_s", "compiled", "error")


class SweepError(DendriticError):
    """A sweep that cannot be set up (a bad ``--set``, an unreachable scheduler)."""


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the ``--set`` values (key, value as written) and the seed."""

    settings: tuple
    seed: int

    @property
    def name(self) -> str:
        """A name that depends only on the values, stable across invocations."""
        text = repr((self.settings, self.seed)).encode()
        return "p" + hashlib.sha256(text).hexdigest()[:10]

    def argv(self) -> list[str]:
        return [*itertools.chain.from_iterable(("--set", f"{k}={v}") for k, v in self.settings),
                "--seed", str(self.seed)]


def split_values(text: str) -> list[str]:
    """``"0.5 mV,1 mV,[1, 2]"`` -> ``["0.5 mV", "1 mV", "[1, 2]"]``: commas split values,
    except inside brackets, braces or quotes."""
    values, current, depth, quote = [], [], 0, None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def grid(sets: list[str], seeds: list[int]) -> list[Point]:
    """The points of ``--set key=v1,v2`` (each given once) and the seeds, in order."""
    axes = []
    for item in sets:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"command line: key '--set': expected KEY=V1,V2,..., got {item!r}")
        split = split_values(values)
        if any(v == "" for v in split):
            raise SweepError(f"command line: key '--set {key.strip()}': an empty value in {values!r}")
        axes.append([(key.strip(), v) for v in split])
    keys = [axis[0][0] for axis in axes]
    if len(set(keys)) != len(keys):
        raise SweepError(f"command line: key '--set': a key given twice in {keys}")
    if not seeds:
        raise SweepError("command line: key '--seeds': expected at least one seed")
    return [Point(tuple(combination), seed) for combination in itertools.product(*axes) for seed in seeds]


def _parse(name: str, point: Point, extra, output: Path, work: Path, cache: Path, target):
    from dendritic.cli import build_parser

    argv = ["run", name, *extra, *point.argv(), "--output", str(output), "--no-plot", "--build-dir", str(work)]
    if target is not None:
        argv += ["--target", target]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # argparse has printed its line
        raise SweepError(f"command line: the options {' '.join(extra)!r} are not options of `dendritic run {name}`") from None
    if hasattr(args, "build_cache"):
        args.build_cache = cache
    args.progress = False
    return args


def run_point(task: dict) -> dict:
    """Run one point (on a worker): its results file, wall time, whether it compiled,
    its metrics; an expected failure comes back as ``status = "failed"``."""
    from dendritic.cli import run_experiment

    start = time.perf_counter()
    point = Point(tuple(tuple(s) for s in task["settings"]), task["seed"])
    row = {"point": point.name, "seed": point.seed, **dict(point.settings)}
    try:
        args = _parse(task["name"], point, task["extra"], Path(task["output"]), Path(task["work"]),
                      Path(task["cache"]), task["target"])
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the summary lines
            run_experiment(args.module, args)
        outcome = args.outcome
        compiled = getattr(args.backend, "compiled", None)
        row.update(status="done", metrics={k: float(v) for k, v in outcome.metrics.items()})
        row["compiled"] = "" if compiled is None else str(bool(compiled))
    except DendriticError as error:
        row.update(status="failed", error=str(error).splitlines()[0], metrics={})
    row["wall_s"] = round(time.perf_counter() - start, 3)
    return row


def read_index(folder) -> list[dict]:
    """The rows of a sweep's ``index.csv`` (empty if there is none yet)."""
    path = Path(folder) / INDEX
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _write_index(folder: Path, keys: list[str], rows: list[dict]) -> None:
    from dendritic.io import atomic_path

    metrics = sorted({m for row in rows for m in row.get("metrics", {})})
    columns = ["point", *keys, "seed", "status", "wall_s", "compiled", "error", *metrics]
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{c: row.get(c, "") for c in columns}, **row.get("metrics", {})})
    with atomic_path(folder / INDEX) as tmp:
        Path(tmp).write_text(buffer.getvalue())


def _done(folder: Path, previous: dict, point: Point) -> bool:
    from dendritic.io import read_attributes

    row = previous.get(point.name)
    results = folder / "points" / f"{point.name}.h5"
    if row is None or row.get("status") != "done" or not results.exists():
        return False
    try:
        read_attributes(results)
    except DendriticError:
        return False
    return True


def _import_brian_plugin():
    """A worker plugin that imports Brian in the worker's main thread (Brian installs a
    signal handler when imported, which Python allows only there, not in a task's thread)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class ImportBrian(WorkerPlugin):
        name = "dendritic-import-brian"

        def setup(self, worker):
            import brian2  # noqa: F401

            import dendritic.cli  # noqa: F401

    return ImportBrian()


def _client(scheduler: str | None, workers: int | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("dendritic sweep needs Dask distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as error:
            raise SweepError(f"command line: key '--scheduler': cannot reach {scheduler} ({error})") from None
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def run_sweep(name: str, sets: list[str], seeds: list[int], output, extra=(), scheduler: str | None = None,
              workers: int | None = None, target: str | None = None, progress: bool = True) -> list[dict]:
    """Run every point of the sweep not done yet; return the index rows (every point)."""
    folder = Path(output)
    points = grid(sets, seeds)
    keys = [k for k, _ in points[0].settings]
    cache = folder / "builds"
    for point in points:  # every point checked before anything runs or is written
        args = _parse(name, point, list(extra), folder / "points" / f"{point.name}.h5", folder / "work" / point.name,
                      cache, target)
        args.module.configure(args)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "points").mkdir(exist_ok=True)
    previous = {row["point"]: row for row in read_index(folder)}
    rows = {}
    for point in points:
        if _done(folder, previous, point):
            old = previous[point.name]
            metrics = {k: float(v) for k, v in old.items() if k not in (*_FIXED_COLUMNS, *keys) and v not in ("", None)}
            rows[point.name] = {**old, "seed": point.seed, "metrics": metrics}
        else:
            rows[point.name] = {"point": point.name, "seed": point.seed, **dict(point.settings), "status": "pending"}
    todo = [p for p in points if rows[p.name]["status"] != "done"]
    _write_index(folder, keys, [rows[p.name] for p in points])
    if todo:
        client, cluster = _client(scheduler, workers)
        try:
            from dask.distributed import as_completed

            tasks = [{"name": name, "settings": [list(s) for s in p.settings], "seed": p.seed, "extra": list(extra),
                      "output": str(folder / "points" / f"{p.name}.h5"), "work": str(folder / "work" / p.name),
                      "cache": str(cache), "target": target} for p in todo]
            client.register_plugin(_import_brian_plugin())
            futures = client.map(run_point, tasks, pure=False)
            by_future = dict(zip(futures, todo))
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="point", desc=f"sweep {name}")
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as error:  # a bug, or a worker lost too often: the point failed
                    point = by_future[future]
                    row = {"point": point.name, "seed": point.seed, **dict(point.settings), "status": "failed",
                           "error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
                rows[row["point"]] = row
                _write_index(folder, keys, [rows[p.name] for p in points])
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    ordered = [rows[p.name] for p in points]
    _summary_figure(folder, name, keys, ordered)
    return ordered


def _summary_figure(folder: Path, name: str, keys: list[str], rows: list[dict]) -> Path | None:
    """The first metric against the first swept key: mean over seeds, standard deviation."""
    import numpy as np

    done = [r for r in rows if r.get("status") == "done" and r.get("metrics")]
    if not done or not keys:
        return None
    metric = sorted(done[0]["metrics"])[0]
    values = list(dict.fromkeys(r[keys[0]] for r in done))
    means = [np.mean([r["metrics"][metric] for r in done if r[keys[0]] == v]) for v in values]
    spreads = [np.std([r["metrics"][metric] for r in done if r[keys[0]] == v]) for v in values]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dendritic.plots import save_figure

    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.errorbar(np.arange(len(values)), means, yerr=spreads, fmt="o-", capsize=3)
    axes.set_xticks(np.arange(len(values)), values)
    axes.set_xlabel(keys[0])
    axes.set_ylabel(metric)
    seeds = sorted({int(r["seed"]) for r in done})
    axes.set_title(f"{name}: mean and s.d. over seeds {seeds}")
    return save_figure(figure, folder / "summary.png")
