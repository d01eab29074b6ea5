"""Wall time of every experiment's default run (``dendritic run NAME`` with no option),
the figure that ``dendritic --help`` lists as each module's ``RUN_TIME``.

Each experiment runs twice in a fresh temporary folder, as a user's first and second
run: first with an empty Cython cache (a cold machine: every code object compiles) and
a fresh standalone build folder, then again with the cache warm and the build folder
kept (Brian's Cython cache and the standalone build of the first run are reused). The
Cython cache is redirected to the temporary folder through a ``brian_preferences`` file
in the working directory, so the user's own cache is neither used nor touched.

Usage::

    python benchmarks/run_times.py                      # every experiment but xor (~25 min)
    python benchmarks/run_times.py population dfc       # some of them
    python benchmarks/run_times.py --warm-only xor      # xor: ~70 min, one run

Run it on an idle machine: prints a table and writes
``benchmarks/results/run_times.json`` (merged with the experiments measured before).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "run_times.json"


def _time_run(name: str, folder: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dendritic", "run", name, "--output", str(folder / f"{name}.h5")],
                          cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
    return time.perf_counter() - start, done.returncode


def measure(name: str, warm_only: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"run_time_{name}_") as tmp:
        folder = Path(tmp)
        (folder / "brian_preferences").write_text(f"codegen.runtime.cython.cache_dir = '{folder / 'cython'}'\n")
        row = {"experiment": name}
        if not warm_only:
            row["first_run_s"], row["first_status"] = _time_run(name, folder)
        row["warm_run_s"], row["warm_status"] = _time_run(name, folder)
    return row


def main(argv=None) -> int:
    from dendritic.experiments import available

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiments", nargs="*", help="experiment names (default: all but xor)")
    parser.add_argument("--warm-only", action="store_true", help="one run each, no cold-cache run (default: both)")
    args = parser.parse_args(argv)
    names = args.experiments or [name for name in available() if name != "xor"]
    table = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        load = os.getloadavg()[0]
        row = measure(name, args.warm_only)
        row.update(date=datetime.now(timezone.utc).isoformat(timespec="seconds"), cores=os.cpu_count(),
                   load_before=load, machine=platform.machine())
        table[name] = row
        print(f"{name:24s} first {row.get('first_run_s', float('nan')):8.1f} s   warm {row['warm_run_s']:8.1f} s"
              f"   (exit {row.get('first_status', '-')}/{row['warm_status']})", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(table, indent=1) + "\n")
    print(f"written: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
