"""A long simulation as consecutive chunks of one network, resumable from checkpoints.

A protocol of hours of simulated time (the XOR training of Payeur et al. 2021,
doi:10.1038/s41593-021-00857-x: about 16,000 s) is run as chunks of equal length:

- simulated time runs on: chunk k covers [k L, (k + 1) L), so ``TimedArray`` schedules
  and monitors see one continuous time axis;
- the state is carried over: every variable of the network's neuron groups and synapses
  that the simulation changes (not the ``constant`` parameters the script sets, not
  read-only indices) is taken after a chunk and put back before the next;
- each chunk's random stream is seeded from (seed, k) (:func:`chunk_seed`), so a chunk's
  numbers depend only on the state it starts from, its index and the seed: a run
  interrupted after chunk k and resumed from its checkpoint gives the same numbers as
  one that was not interrupted. (The numbers depend on the chunk length L, which fixes
  where the streams are reseeded.)

On ``cpp_standalone`` the binary is built once, with duration L. Each chunk runs it with
``run_args``: the carried state, applied after the network's initialisation (a second
``set_from_command_line`` at the end of the main program's set-up, so it replaces
initial values as well as parameters), and the shared variables ``chunk_start`` and
``chunk_seed`` of a one-neuron control group, which C++ inserted before the network
run (``device.insert_code``) turns into the network's start time and the seeds of
Brian's random generators (generator i: seed + i, as ``brian2.seed``). On the runtime
targets the network runs on in the process (``Network.t_`` set to the chunk's start,
``brian2.seed`` called before each chunk); a resumed run rebuilds the network and writes
the checkpointed state into it. Both give the same random stream (Brian draws the same
numbers from a seed on every target), so a seeded run is the same on cython and
standalone.

The chunk runner knows nothing of the experiment: it gives the state to save
(:meth:`Chunks.state`) and takes it back (``run(k, state=...)``); the experiment writes
its checkpoint (with :func:`dendritic.io.write_results`, atomic).
"""

from __future__ import annotations

import time
from pathlib import Path

import brian2
import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, device, prefs
from brian2.core.variables import ArrayVariable

__all__ = ["Chunks", "chunk_seed"]

_SKIP = {"t", "dt", "t_in_timesteps", "N", "i", "j"}


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of chunk ``chunk`` of a run seeded with ``seed``: independent streams per
    chunk (NumPy's ``SeedSequence``), below 2**31 - 64 so that the per-thread seeds
    seed + i of Brian's standalone generators fit its integer."""
    state = np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1, dtype=np.uint32)[0]
    return int(state) % (2**31 - 64)


def _carried(obj) -> list[str]:
    """Names of the variables of ``obj`` (a NeuronGroup or Synapses) that a simulation
    changes: arrays that are neither constant nor read-only."""
    names = []
    for name, var in obj.variables.items():
        if name.startswith("_") or name in _SKIP or not isinstance(var, ArrayVariable):
            continue
        if var.read_only or var.constant or getattr(var.owner, "name", None) != obj.name:
            continue  # (a synapse's view of its neurons' variables belongs to the neurons)
        names.append(name)
    return sorted(names)


def _remove_run_args_files() -> None:
    """Delete the files Brian wrote for the last run's ``run_args`` (one per distinct
    array: a long chunked run would otherwise leave gigabytes of carried states)."""
    folder = Path(device.project_dir) / "static_arrays"
    for name in device.run_args_arrays:
        for path in (folder / name, folder / (name + ".lock")):
            path.unlink(missing_ok=True)


class Chunks:
    """Run ``network`` (already built, its state initialised) in chunks of ``length``.

    ``backend``: the active :class:`~dendritic.backend.Backend`; ``seed``: the run's
    seed. Create it after everything of the network exists, then call :meth:`prepare`
    once (standalone: generates and compiles), then :meth:`run` for each chunk.
    """

    def __init__(self, network, backend, length, seed: int, progress: bool = False):
        if float(length) <= 0:
            raise ValueError(f"Chunks: the chunk length must be positive, got {length}")
        self.network, self.backend, self.length, self.seed = network, backend, length, int(seed)
        self.progress = progress
        self.control = NeuronGroup(1, "chunk_start : second (shared)\nchunk_seed : integer (shared)",
                                   name="chunk_control")
        network.add(self.control)
        self.objects = [obj for obj in network.objects
                        if isinstance(obj, (NeuronGroup, Synapses)) and obj is not self.control]
        self.variables = {obj.name: _carried(obj) for obj in self.objects}
        self._prepared = False
        self._ran = False
        #: wall time of each chunk's simulation loop (s; standalone: the binary's own timer)
        self.loop_seconds: list[float] = []
        self._taken: dict = {}

    # -- set-up ----------------------------------------------------------------------
    def prepare(self) -> None:
        """Standalone: insert the chunk start and reseeding, generate and compile (no
        run). Runtime: nothing to do."""
        if self._prepared:
            return
        if self.backend.standalone:
            # the carried state replaces what the set-up wrote (initial values included)
            device.insert_code("main", "set_from_command_line(args);")
            start = device.get_array_name(self.control.variables["chunk_start"])
            seed = device.get_array_name(self.control.variables["chunk_seed"])
            threads = max(1, int(prefs.devices.cpp_standalone.openmp_threads))
            # Network::run sets the clocks' steps from the network's t, but a clock's t
            # is updated only when it ticks: set both, or the first step reads t = 0
            clocks = sorted({obj.clock.name for obj in self.network.objects})
            device.insert_code("before_network_run", "\n".join([
                f"brian::{self.network.name}.t = brian::{start}[0];",
                *[f"brian::{c}.set_interval(brian::{start}[0], brian::{start}[0]); "
                  f"brian::{c}.t[0] = brian::{c}.timestep[0]*brian::{c}.dt[0];" for c in clocks],
                f"for (int _i=0; _i<{threads}; _i++)",
                f"    brian::_random_generators[_i].seed((unsigned long)brian::{seed}[0] + _i);",
            ]))
            self.backend.run(self.network, self.length, execute=False)
        self._prepared = True

    # -- running ---------------------------------------------------------------------
    def start(self, chunk: int):
        """Simulated start time of chunk ``chunk``."""
        return chunk * self.length

    def run(self, chunk: int, state: dict | None = None) -> None:
        """Run chunk ``chunk``, from ``state`` (as :meth:`state` returned it, e.g. read
        from a checkpoint) or, if None, from the network as it is (the end of the chunk
        before it, or the initial state for chunk 0)."""
        if not self._prepared:
            raise RuntimeError("Chunks.run: call prepare() first")
        seed = chunk_seed(self.seed, chunk)
        if self.backend.standalone:
            if state is None:
                state = self.state() if self._ran else {}
            run_args = {self.control.chunk_start: self.start(chunk), self.control.chunk_seed: seed}
            for obj, name, key in self._carried():
                if key in state:
                    run_args[obj.state(name)] = Quantity(np.asarray(state[key]), dim=obj.variables[name].dim)
            self.backend.rerun(run_args)
            self.loop_seconds.append(float(getattr(device, "_last_run_time", float("nan"))))
            self._ran = True
            _remove_run_args_files()
            return
        if state is not None:
            self.restore(state)
        self.network.t_ = float(self.start(chunk))
        brian2.seed(seed)
        report = None
        if self.progress:
            from dendritic.backend import _progress_bar

            report = _progress_bar(self.length)
        begin = time.perf_counter()
        self.network.run(self.length, report=report)
        self.loop_seconds.append(time.perf_counter() - begin)
        self._ran = True

    def _carried(self):
        """(object, variable name, state key ``"object.variable"``) of every carried variable."""
        for obj in self.objects:
            for name in self.variables[obj.name]:
                yield obj, name, f"{obj.name}.{name}"

    def restore(self, state: dict) -> None:
        """Runtime targets: write a saved state into the network."""
        for obj, name, key in self._carried():
            if key in state:
                var = obj.variables[name]
                value = np.asarray(state[key])
                var.set_value(value.reshape(()) if var.scalar and value.size == 1 else value)

    def state(self) -> dict:
        """The carried variables after the last chunk, ``{"group.variable": array}`` (plain
        arrays in the variables' SI base units)."""
        return {key: np.array(obj.variables[name].get_value(), copy=True) for obj, name, key in self._carried()}

    def take(self, monitor, variable: str):
        """The samples of ``monitor.<variable>`` recorded in the last chunk (a runtime
        monitor keeps all chunks: the part after what the previous call returned; a
        standalone monitor holds the last chunk only). Time runs along the last axis."""
        values = np.asarray(getattr(monitor, variable + "_") if hasattr(monitor, variable + "_")
                            else getattr(monitor, variable))
        if self.backend.standalone:
            return values
        key = (monitor.name, variable)
        done = self._taken.get(key, 0)
        self._taken[key] = values.shape[-1]
        return values[..., done:]
