"""Code-generation targets: ``numpy``, ``cython`` (runtime) and ``cpp_standalone``.

One switch selects the target::

    backend = Backend("cpp_standalone", build_dir="data/build/population", seed=1)
    with backend:
        circuit = build_circuit(spec, backend)   # creates groups, sets parameters,
                                                  # calls backend.parameters_set(), initialises
        backend.run(circuit.network, 1*second)    # standalone: one device.build
        results = circuit.collect()
        backend.rerun({circuit.groups["pyr"].g_L: 50*nS})   # same binary, new value
        results2 = circuit.collect()

Standalone builds once (``build_on_run=False`` and a single ``device.build``); a rerun
executes the same binary with ``run_args`` (no code generation, no compilation). Values
given through ``run_args`` are applied where :meth:`Backend.parameters_set` was called:
after all parameters and weights are set, before state variables are initialised from
expressions of those parameters, exactly as if the script had been written with the new
values. On the runtime targets a rerun rebuilds the network with the new values (Brian
caches the compiled Cython code, so this costs little).

Random numbers: ``seed`` seeds Brian's generator (thresholds with ``rand()``, noise) on
every target; numpy, cython and cpp_standalone draw the same sequence for
``rand()``/``randn()`` in neuron code, so seeded runs agree spike for spike.
Connectivity and weights are drawn in NumPy from ``numpy.random.default_rng(seed)``
(see :mod:`dendritic.circuits`), never with ``rand()`` in synaptic initialisers (the
Cython target draws those from a different stream).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import brian2
import numpy as np
from brian2 import defaultclock, device, ms, prefs, set_device

__all__ = ["ENGINES", "TARGETS", "Backend", "check_target"]

TARGETS = ("numpy", "cython", "cpp_standalone")

#: Named engine settings (issue 22), chosen with ``Backend(engine=...)``; measurements in
#: ``benchmarks/results/engine_summary.md`` (``benchmarks/engine_xor.py``,
#: ``benchmarks/multiplexing.py --engine``, ``benchmarks/engine_equivalence.py``):
#:
#: - ``"reference"``: Brian's compiler flags and templates, the package's model code as
#:   before: the reference for every comparison;
#: - ``"vectorised"``: the same arithmetic and random stream, so the same spikes
#:   (tested): compiler flags that let GCC vectorise the state updates
#:   (``vectorise``: GCC gives up on loops over more than 10 arrays because it cannot
#:   prove them free of aliasing, ``--param=vect-max-version-for-alias-checks``), and
#:   threshold passes that test blocks of 64 neurons with vectorised loops before
#:   collecting the events of a block in Brian's order, and a network loop that reads
#:   the clock once per run instead of once per step (``templates``). XOR network:
#:   4.1 -> 3.0 s of loop per 10 s (loaded machine), Fig. 3: 9.1 -> 8.6 s per 4 s;
#: - ``"vector_math"``: as ``"vectorised"``, and GCC may call glibc's vector math
#:   (libmvec: ``exp``, ``log`` on 4 or 8 numbers at once) inside vectorised loops, so
#:   state updates with an ``exp`` per neuron (the plateau of ``payeur_pyramidal``, the
#:   AdEx spike current) vectorise. Brian's ``-fno-finite-math-only`` hides glibc's
#:   vector declarations (they need ``__FAST_MATH__``); the engine declares them in a
#:   header of its own instead, keeping Brian's flags. libmvec's exp is within 4 ulp
#:   (glibc's scalar exp within 1), so the arithmetic is not bitwise the reference's
#:   (on the Fig. 3 circuit the 4 s gave the same spikes all the same). Fig. 3: 6.7 s
#:   of loop per 4 s (reference 9.1 s); no effect on XOR (no exp in its updates);
#: - ``"combined"``: as ``"vectorised"``, plus all background sources of a group in one
#:   pass per step (:mod:`dendritic.circuits.background`, ``background = "combined"``):
#:   the same process, another order of the random draws. Measured on the XOR network
#:   it is about as fast as ``"vectorised"`` (one threshold pass instead of four, but a
#:   branch per source in the event code that the per-source resets do not have);
#: - ``"float32"``: as ``"combined"``, with single-precision state
#:   (``prefs.core.default_float_dtype``); per-neuron times (``t_last_spike``, STP
#:   spike times) and the clock stay double (:func:`dendritic.neurons.kinds.time_dtypes`).
#:
#: Precision of ``"float32"`` (XOR and Fig. 3 neurons, dt = 0.1 ms). Single precision
#: has a relative spacing of 6e-8. Potentials (~70 mV) are then resolved to 7.5 nV; the
#: smallest per-step changes that matter, a leak step dt/tau (V - E_L) of ~1 mV off rest
#: (6 uV) or one background conductance jump (~0.1 mV), are 10^3-10^4 spacings, and
#: the rounding errors (unbiased, ~4 nV per step) add up over a membrane time constant
#: (160 steps) to ~50 nV, 10^-5 of the 5 mV spread of the potentials. Conductances,
#: adaptation, threshold and weights (0..1, BDSP steps of eta E_tilde ~ 1e-3) are
#: relative quantities with the same margin; the slowest decay, the BDSP averages
#: (tau 2 s: a relative step of 5e-5 per step, 800 spacings) keep 3 digits per step
#: and ~1e-5 Hz accumulated over tau. What single precision cannot hold is absolute
#: time: 16,000 s (the XOR run) has a spacing of 1 ms, so times stay double. The
#: engine is not bitwise the reference (other rounding, another draw order); it is
#: checked as a process in ``benchmarks/engine_equivalence.py``. XOR: 70 -> 60 MB and
#: about 10 % of the loop (3.0 -> 2.7 s); not the factor two of the data, because
#: Brian's clock ``dt`` and ``t`` are double, so the state updates convert to double
#: and back, and most of the loop is not arithmetic.
ENGINES = {
    "reference": {},
    "vectorised": {"vectorise": True, "templates": True},
    "vector_math": {"vectorise": True, "templates": True, "vector_math": True},
    "combined": {"vectorise": True, "templates": True, "background": "combined"},
    "float32": {"vectorise": True, "templates": True, "background": "combined", "float32": True},
}

#: the engine settings of the active backend (read by the model code, e.g. the background)
_ACTIVE_ENGINE: dict = {}

#: Brian's default compiler flags, restored by the reference engine
_BRIAN_GCC_ARGS = list(prefs.codegen.cpp.extra_compile_args_gcc)

#: extra flags of ``vectorise``: loops over many arrays (the state updaters read and
#: write a dozen) are vectorised behind a run-time overlap check of their arrays
VECTORISE_GCC_ARGS = ["--param=vect-max-version-for-alias-checks=400", "--param=vect-max-version-for-alignment-checks=20",
                      "-fopenmp-simd"]


#: header of ``vector_math``: glibc's functions redeclared with their libmvec variants
VECTOR_MATH_HEADER = "dendritic_vector_math.h"
_VECTOR_MATH = """// written by dendritic.backend (engine setting vector_math): vector variants of
// glibc's exp and log (libmvec), which glibc declares only under __FAST_MATH__
#ifndef DENDRITIC_VECTOR_MATH_H
#define DENDRITIC_VECTOR_MATH_H
#include <cmath>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FAST_MATH__)
extern "C" {
__attribute__((__simd__("notinbranch"))) extern double exp(double) throw();
__attribute__((__simd__("notinbranch"))) extern double log(double) throw();
__attribute__((__simd__("notinbranch"))) extern float expf(float) throw();
__attribute__((__simd__("notinbranch"))) extern float logf(float) throw();
}
#endif
#endif
"""
_BRIAN_HEADERS = list(prefs.codegen.cpp.headers)
_BRIAN_LIBRARIES = list(prefs.codegen.cpp.libraries)


def _vector_math(on: bool, build_dir: Path | None) -> None:
    """Declare libmvec's variants in every code object (``on``) or restore Brian's settings."""
    prefs.codegen.cpp.headers = list(_BRIAN_HEADERS)
    prefs.codegen.cpp.libraries = list(_BRIAN_LIBRARIES)
    if on and build_dir is not None:
        (build_dir / VECTOR_MATH_HEADER).write_text(_VECTOR_MATH)
        prefs.codegen.cpp.headers = list(_BRIAN_HEADERS) + [f'"{VECTOR_MATH_HEADER}"']
        prefs.codegen.cpp.libraries = list(_BRIAN_LIBRARIES) + ["mvec"]


def engine_setting(key: str, default=None):
    """A setting of the active backend's engine (``default`` when unset or no backend)."""
    return _ACTIVE_ENGINE.get(key, default)

log = logging.getLogger(__name__)


def limit_make_jobs() -> None:
    """Compile standalone code with at most one job per core (at most 4): Brian 2.9's
    bare ``make -j`` starts one compiler per source file at once (dozens), which swamps
    a small machine. A ``-j`` the user set in Brian's preferences is kept."""
    current = list(prefs.devices.cpp_standalone.extra_make_args_unix)
    if not any(str(arg).startswith("-j") and str(arg) != "-j" for arg in current):
        jobs = max(1, min(4, os.cpu_count() or 1))
        prefs.devices.cpp_standalone.extra_make_args_unix = [a for a in current if a != "-j"] + [f"-j{jobs}"]


#: build folders this process holds (resolved path -> open lock file descriptor)
_BUILD_LOCKS: dict = {}
LOCK_FILE = ".dendritic-build.lock"


def lock_build_dir(path: Path) -> None:
    """Hold ``path`` for this process until :func:`unlock_build_dir`: a second process
    building or running in the same standalone folder waits (and says so) instead of
    overwriting this one's code, binary or results. An advisory ``flock``, released by
    the kernel when the process ends, however it ends."""
    import fcntl

    key = Path(path).resolve()
    if key in _BUILD_LOCKS:
        return
    fd = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        log.info("standalone build folder %s is in use by process %s; waiting for it to finish", path, holder)
        fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _BUILD_LOCKS[key] = fd


def unlock_build_dir(path: Path) -> None:
    import fcntl

    fd = _BUILD_LOCKS.pop(Path(path).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    return target


class Backend:
    """Selects a code-generation target, seeds it and runs networks on it.

    Parameters
    ----------
    target
        ``"numpy"``, ``"cython"`` or ``"cpp_standalone"``.
    build_dir
        Folder for the generated C++ project (standalone only); a fresh
        temporary folder when not given. Keep it under ``data/`` (git-ignored) or ``/tmp``.
        The backend holds it while active (:func:`lock_build_dir`): another process
        given the same folder waits until this one is done.
    seed
        Seed of Brian's random number generator (and of NumPy's legacy generator).
    dt
        Simulation time step.
    threads
        OpenMP threads for standalone (0: no OpenMP).
    progress
        Show a progress bar (runtime) or the binary's progress report (standalone).
    engine
        Name of an engine setting of :data:`ENGINES` (default ``"reference"``: what
        the package computed before issue 22, spike for spike).
    profile
        Collect Brian's per-code-object profile (``network.profiling_info``).
    build_cache
        Standalone: a folder of compiled binaries keyed by a digest of the
        generated code (:func:`code_digest`). A build whose code was compiled before,
        in this or another process, copies that binary instead of compiling; only the
        data (weights, initial values, ``static_arrays/``) is its own. With it the seed
        is given to the binary at run time (``DENDRITIC_SEED``, see
        :data:`RUN_TIME_SEED`), so that runs differing in seed share one binary.
    portable
        Compile without ``-march=native`` (a binary that runs on other CPUs of
        the same architecture, e.g. the nodes of a cluster).
    """

    def __init__(self, target: str = "cython", build_dir=None, seed: int | None = 0, dt=0.1 * ms,
                 threads: int = 0, progress: bool = False, engine: str = "reference", profile: bool = False,
                 build_cache=None, portable: bool = False):
        self.build_cache = Path(build_cache) if build_cache is not None else None
        self.portable = portable
        #: whether the last standalone build compiled (False: a cached binary was used)
        self.compiled = None
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        self.engine = engine
        self.profile = profile
        self.target = check_target(target)
        self.seed = seed
        self.dt = dt
        self.threads = threads
        self.progress = progress
        self._build_dir = Path(build_dir) if build_dir is not None else None
        self._overrides: dict = {}
        self._built = False
        self._network = None

    @classmethod
    def for_config(cls, config, target: str = "cython", **options) -> "Backend":
        """A backend with the seed and time step of an experiment's config (an object with
        ``seed`` and ``dt``, see :mod:`dendritic.experiments`); ``options`` are the other
        arguments (``build_dir``, ``threads``, ``progress``)."""
        return cls(target, seed=config.seed, dt=config.dt, **options)

    def with_seed(self, seed: int, dt=None) -> "Backend":
        """The same target, build folder, engine, threads, binary cache and compiler
        settings with another seed (and time step)."""
        return type(self)(self.target, build_dir=self.build_dir if self.standalone else None, seed=seed,
                          dt=self.dt if dt is None else dt, threads=self.threads, progress=self.progress,
                          engine=self.engine, profile=self.profile, build_cache=self.build_cache,
                          portable=self.portable)

    def check_config(self, config) -> None:
        """Raise ``ValueError`` unless this backend runs with ``config``'s seed and time
        step: an experiment draws its NumPy inputs with them, so a backend built for
        other values would simulate something else than the config describes."""
        problems = []
        if self.seed != config.seed:
            problems.append(f"seed {self.seed} (config: {config.seed})")
        if self.dt != config.dt:
            problems.append(f"dt {self.dt} (config: {config.dt})")
        if problems:
            raise ValueError(f"backend does not match the config: {', '.join(problems)}; "
                             "make it with Backend.for_config(config, target, ...)")

    # -- activation -------------------------------------------------------------------
    @property
    def standalone(self) -> bool:
        return self.target == "cpp_standalone"

    @property
    def build_dir(self) -> Path | None:
        if self.standalone and self._build_dir is None:
            self._build_dir = Path(tempfile.mkdtemp(prefix="dendritic-standalone-"))
        return self._build_dir

    def activate(self) -> "Backend":
        """Make this target current (resets a standalone device used before)."""
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        if isinstance(brian2.get_device(), CPPStandaloneDevice):
            device.reinit()  # forget objects and code of an earlier build in this process
        # free the Brian objects of earlier networks (reference cycles): while they live,
        # Brian suffixes the names of new code objects ("_1"), so a rebuild would
        # generate other source files and recompile everything
        import gc

        gc.collect()
        if self.standalone:
            self.build_dir.mkdir(parents=True, exist_ok=True)
            lock_build_dir(self.build_dir)
            set_device("cpp_standalone", directory=str(self.build_dir), build_on_run=False)
            prefs.devices.cpp_standalone.openmp_threads = self.threads
            limit_make_jobs()
            log.info("standalone build in %s (make %s, %d OpenMP threads)", self.build_dir,
                     " ".join(prefs.devices.cpp_standalone.extra_make_args_unix), self.threads)
        else:
            set_device("runtime")
            prefs.codegen.target = self.target
        settings = ENGINES[self.engine]
        _ACTIVE_ENGINE.clear()
        _ACTIVE_ENGINE.update(settings)
        prefs.codegen.cpp.extra_compile_args_gcc = _BRIAN_GCC_ARGS + (VECTORISE_GCC_ARGS if settings.get("vectorise")
                                                                      else [])
        _install_templates(("engine" if settings.get("templates") else "report") if self.standalone else None)
        _vector_math(bool(settings.get("vector_math")) and self.standalone, self.build_dir if self.standalone else None)
        prefs.core.default_float_dtype = np.float32 if settings.get("float32") else np.float64
        defaultclock.dt = self.dt
        if self.portable:
            prefs.codegen.cpp.extra_compile_args_gcc = [a for a in prefs.codegen.cpp.extra_compile_args_gcc
                                                        if a != "-march=native"]
        if self.seed is not None:
            brian2.seed(self.seed)  # NumPy's legacy generator and Brian's (runtime, or compiled in)
            if self.standalone and self.build_cache is not None:
                if device.main_queue and device.main_queue[-1][0] == "seed":
                    device.main_queue.pop()  # Brian's compiled-in seed: read at run time instead
                threads = max(1, int(self.threads or 0))
                device.insert_code("main", RUN_TIME_SEED.format(threads=threads))
        self._built = False
        return self

    def __enter__(self) -> "Backend":
        return self.activate()

    def __exit__(self, *exc) -> None:
        # let the network go: while its objects live, the next build in this process
        # would suffix its code objects' names and recompile (gc in activate)
        self._network = None
        if self.standalone:
            device.reinit()
            set_device("runtime")
            unlock_build_dir(self.build_dir)
        _ACTIVE_ENGINE.clear()
        _install_templates(None)
        _vector_math(False, None)
        prefs.codegen.cpp.extra_compile_args_gcc = list(_BRIAN_GCC_ARGS)
        prefs.core.default_float_dtype = np.float64

    # -- building ---------------------------------------------------------------------
    def parameters_set(self, groups: Mapping[str, object] | None = None) -> None:
        """Mark the point after which state variables are initialised.

        Call it once per network after every parameter and weight is set. Runtime
        targets apply pending sweep values here; standalone applies ``run_args`` here.
        """
        for (group_name, variable), value in self._overrides.items():
            if groups is None or group_name not in groups:
                raise KeyError(f"sweep parameter {group_name}.{variable}: no group named {group_name!r}")
            setattr(groups[group_name], variable, value)
        if self.standalone:
            device.apply_run_args()

    def run(self, network, duration, execute: bool = True) -> None:
        """Run ``network`` for ``duration``; on standalone, generate, compile and (unless
        ``execute`` is false, e.g. before a sweep of reruns) run the binary."""
        report = None
        if self.progress:
            report = "stdout" if self.standalone else _progress_bar(duration)
        end = float(network.t) + float(duration)
        network.run(duration, report=report, profile=self.profile)
        self._network = network
        if self.standalone:
            self._build(execute)
            self._built = True
            if execute:
                _check_completed()
                check_finite(network)
        elif float(network.t) < end - 0.5 * float(self.dt):  # Brian's Ctrl-C stop
            from dendritic.errors import Interrupted

            raise Interrupted(f"SIGINT (the run stopped at {float(network.t):g} s of {end:g} s)")
        else:
            check_finite(network)

    def _build(self, execute: bool) -> None:
        """``device.build`` in its three phases, each announced (the first two take
        minutes on a large network): code generation, compilation, the run."""
        directory = str(self.build_dir)
        log.info("generating code in %s", directory)
        device.build(directory=directory, compile=False, run=False, with_output=self.progress, clean=False)
        sources = sorted(f for f in device.writer.source_files if f.endswith(".cpp"))
        if self.build_cache is None:
            self._compile(sources)
        else:
            self._compile_cached(sources)
        if execute:
            log.info("running")
            self._set_run_time_seed()
            device.run(directory=directory, with_output=self.progress)

    def _compile(self, sources) -> None:
        stale = [f for f in sources if _stale(self.build_dir / f)]
        if stale:
            log.info("compiling %d of %d files (make %s)", len(stale), len(sources),
                     " ".join(prefs.devices.cpp_standalone.extra_make_args_unix))
        from brian2.codegen.cpp_prefs import get_compiler_and_args

        device.compile_source(str(self.build_dir), get_compiler_and_args()[0], False, False)
        self.compiled = bool(stale)

    def _compile_cached(self, sources) -> None:
        """The binary of :attr:`build_cache` for this code, compiled here if there is none
        yet (one process compiles a digest; others wait for it, then copy)."""
        import shutil

        digest = code_digest(self.build_dir, sorted(device.writer.source_files | device.writer.header_files))
        cached = self.build_cache / digest
        cached.mkdir(parents=True, exist_ok=True)
        lock_build_dir(cached)
        try:
            binary = cached / "main"
            if binary.exists():
                log.info("using the binary compiled for the same code (%s)", cached)
                target = self.build_dir / "main"
                tmp = target.with_name(f".main.{os.getpid()}.tmp")
                shutil.copy2(binary, tmp)
                os.replace(tmp, target)
                self.compiled = False
                return
            self._compile(sources)
            tmp = cached / f".main.{os.getpid()}.tmp"
            shutil.copy2(self.build_dir / "main", tmp)
            os.replace(tmp, binary)
            self.compiled = True
        finally:
            unlock_build_dir(cached)

    def _set_run_time_seed(self) -> None:
        if self.build_cache is not None and self.seed is not None:
            os.environ["DENDRITIC_SEED"] = str(int(self.seed))  # inherited by the binary

    def rerun(self, run_args: Mapping) -> None:
        """Standalone only: run the compiled binary again with new values (no rebuild)."""
        if not self.standalone:
            raise RuntimeError("rerun() needs the cpp_standalone target; on runtime targets use sweep()")
        if not self._built:
            raise RuntimeError("rerun() needs a binary: call run() first")
        self._set_run_time_seed()
        device.run(run_args=dict(run_args), with_output=self.progress)
        _check_completed()
        if self._network is not None:
            check_finite(self._network)

    def sweep(self, build: Callable[["Backend"], object], duration, points: list[Mapping],
              collect: Callable[[object], dict]) -> list[dict]:
        """Run one network at several parameter values; return ``collect(circuit)`` for each.

        ``build(backend)`` creates the circuit (an object with ``.network`` and
        ``.groups``); each point maps ``(group_name, variable)`` to a value. Standalone
        compiles once and reruns the binary with ``run_args``; runtime targets rebuild.
        """
        results = []
        if self.standalone:
            self.activate()
            circuit = build(self)
            self.run(circuit.network, duration, execute=False)  # every run is a sweep point
            for point in points:
                run_args = {getattr(circuit.groups[g], v): value for (g, v), value in point.items()}
                self.rerun(run_args)
                results.append(collect(circuit))
            return results
        for point in points:
            self.activate()
            self._overrides = dict(point)
            try:
                circuit = build(self)
                self.run(circuit.network, duration)
                results.append(collect(circuit))
            finally:
                self._overrides = {}
        return results

    def describe(self) -> dict:
        """Metadata for results files."""
        described = {
            "target": self.target,
            "seed": -1 if self.seed is None else int(self.seed),
            "dt": self.dt,
            "threads": self.threads,
        }
        if self.engine != "reference":
            described["engine"] = self.engine
        if self.standalone and self.build_cache is not None:
            described["compiled"] = bool(self.compiled)  # False: a cached binary of the same code
        if self.portable:
            described["portable"] = True
        return described


#: C++ that seeds Brian's generators from the environment variable ``DENDRITIC_SEED``
#: where Brian's ``seed(s)`` would (``_random_generators[i].seed(s + i)``): the same
#: stream, and the seed no longer part of the code (builds with a ``build_cache``)
RUN_TIME_SEED = """{{
    const char* _dendritic_seed = getenv("DENDRITIC_SEED");
    if (_dendritic_seed == NULL) {{
        std::cerr << "dendritic: DENDRITIC_SEED is not set" << std::endl;
        return 2;
    }}
    for (int _i=0; _i<{threads}; _i++)
        brian::_random_generators[_i].seed(std::stoul(_dendritic_seed) + _i);
}}"""


#: a line of main.cpp that sets a clock's time before a run; Brian writes these for a
#: Python ``set`` of clocks, in an order that differs from process to process
_CLOCK_RESET = re.compile(rb"^\s*_array_\w*clock_(timestep|t)\[0\] = [-+.\deE]+;\s*$")


def _canonical(text: bytes) -> bytes:
    """``text`` with each run of consecutive clock-reset lines sorted (they set distinct
    variables to constants, so their order means nothing)."""
    lines, out, run = text.split(b"\n"), [], []
    for line in lines:
        if _CLOCK_RESET.match(line):
            run.append(line)
            continue
        out.extend(sorted(run))
        run = []
        out.append(line)
    out.extend(sorted(run))
    return b"\n".join(out)


def code_digest(build_dir: Path, files) -> str:
    """SHA-256 (16 hex digits) of the generated project: the sources, headers and the
    makefile (compiler flags), not the data (``static_arrays/``) nor the results; the
    order of Brian's clock resets in ``main.cpp`` (a set's order) does not count."""
    import hashlib

    digest = hashlib.sha256()
    for name in [*sorted(files), "makefile"]:
        path = Path(build_dir) / name
        if path.exists():
            digest.update(name.encode() + b"\0" + _canonical(path.read_bytes()) + b"\0")
    return digest.hexdigest()[:16]


def _stale(source: Path) -> bool:
    """Whether make will compile ``source`` (its object file missing or older)."""
    target = source.with_suffix(".o")
    return not target.exists() or target.stat().st_mtime < source.stat().st_mtime


def check_finite(network) -> None:
    """Raise :class:`~dendritic.errors.DendriticError` if a state variable of a
    differential equation in ``network`` is NaN or above 1e50 in size after a run (Brian
    only warns, once per process): a diverged simulation is not a result."""
    from brian2 import Group
    from brian2.equations.equations import Equations

    from dendritic.errors import DendriticError

    for obj in network.objects:
        equations = getattr(obj, "equations", None)
        if not isinstance(obj, Group) or not isinstance(equations, Equations):
            continue
        for name in equations.diff_eq_names:
            values = np.asarray(obj.state(name, use_units=False))
            if values.size and (np.isnan(values).any() or (np.abs(values) > 1e50).any()):
                raise DendriticError(f"the simulation diverged: {obj.name}.{name} is NaN or above 1e50 after the run "
                                     f"(t = {float(network.t):g} s); check the model file's values (weights, time "
                                     "constants) or take a smaller dt")


def _check_completed() -> None:
    """Raise :class:`~dendritic.errors.Interrupted` if the standalone binary stopped
    before the end of its run (its own SIGINT handler stops the loop, writes the results
    and exits 0: a truncated run that would look complete)."""
    fraction = getattr(device, "_last_run_completed_fraction", 1.0)
    if fraction is not None and float(fraction) < 1.0 - 1e-12:
        from dendritic.errors import Interrupted

        raise Interrupted(f"SIGINT (the standalone binary stopped at {100 * float(fraction):.1f} % of its run)")


def _progress_bar(duration):
    """A Brian ``report`` callback drawing one tqdm bar in simulated seconds with the
    time left: redrawn in place on a terminal, a line at most every 30 s in a log file."""
    import sys

    from tqdm.auto import tqdm

    state = {}
    interval = 0.1 if sys.stderr.isatty() else 30.0

    def report(elapsed, completed, start, total):
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=float(total), unit="s sim", desc="simulating", mininterval=interval,
                                      bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} s [{elapsed}<{remaining}]")
        bar.update(float(completed) * float(total) - bar.n)
        if completed >= 1.0:
            bar.close()

    return report


# -- engine templates --------------------------------------------------------------------
# Brian 2.9's threshold template tests every neuron and appends it to the event space in
# one loop, whose branch GCC cannot vectorise (and mispredicts at background rates). The
# engine's version walks blocks of 64 neurons: a vectorised loop tells whether any
# neuron of the block crosses; only then a second vectorised loop makes the block's bit
# mask, whose set bits are appended in neuron order. Same event space, the same
# condition code per neuron (it reads the state, writes nothing); conditions that draw
# random numbers keep Brian's loop (they would be evaluated twice). A micro-benchmark
# of 500 neurons (one integer comparison): 200 -> 66 ns per pass at 0.05 % events,
# 450 -> 190 ns at 5 %, 930 -> 220 ns at 18 %.

_THRESHOLD_LOOP = """    long _count = 0;
    for(size_t _idx=0; _idx<N; _idx++)
    {
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
        if(_cond) {
            {{_eventspace}}[_count++] = _idx;
            {% if _uses_refractory %}
            {{not_refractory}}[_idx] = false;
            {{lastspike}}[_idx] = {{t}};
            {% endif %}
        }
    }
"""

_BLOCKED_THRESHOLD_LOOP = ("""    long _count = 0;
    {% if '_rand(' in vector_code or '_randn(' in vector_code or 'poisson' in vector_code %}
""" + _THRESHOLD_LOOP.split("\n", 1)[1] + """    {% else %}
    // dendritic engine (issue 22): blocks of 64 neurons; a vectorised test whether any
    // neuron of the block has the event, then (only then) a vectorised bit mask of the
    // block's events, read out in neuron order: Brian's event space
    const size_t _n_neurons = N;
    for(size_t _start=0; _start<_n_neurons; _start+=64)
    {
        const size_t _stop = _start + 64 < _n_neurons ? _start + 64 : _n_neurons;
        int _any = 0;
        #pragma omp simd reduction(|:_any)
        for(size_t _idx=_start; _idx<_stop; _idx++)
        {
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
            _any |= (int)_cond;
        }
        if(!_any)
            continue;
        uint64_t _mask = 0;
        #pragma omp simd reduction(|:_mask)
        for(size_t _idx=_start; _idx<_stop; _idx++)
        {
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
            _mask |= ((uint64_t)(_cond != 0)) << (_idx - _start);
        }
        while(_mask)
        {
            const size_t _idx = _start + __builtin_ctzll(_mask);
            _mask &= _mask - 1;
            {{_eventspace}}[_count++] = _idx;
            {% if _uses_refractory %}
            {{not_refractory}}[_idx] = false;
            {{lastspike}}[_idx] = {{t}};
            {% endif %}
        }
    }
    {% endif %}
""")  # conditions that draw random numbers: Brian's loop, as above

def _elapsed(indent: str) -> str:
    """Brian's reading of the loop's elapsed time (network.cpp), indented by ``indent``."""
    lines = ["{% if openmp_pragma('with_openmp') %}", "elapsed_realtime = omp_get_wtime() - start;", "{% else %}",
             "current = std::clock();",
             "elapsed_realtime = (double)(current - start)/({{ openmp_pragma('get_num_threads') }} * CLOCKS_PER_SEC);",
             "{% endif %}"]
    return "".join(f"{indent}{line}\n" for line in lines)


# Brian's network loop reads the CPU clock after every time step (a system call, ~0.2 us
# here, 3-4 % of the XOR network's loop) to compare with a maximal run time. The
# engine reads it once after the loop unless a maximal run time is set; the reported
# loop time is the same quantity (CPU time without OpenMP, wall time with it).
_CLOCK_EVERY_STEP = _elapsed("        ") + """
        {% if maximum_run_time is not none %}
        if(elapsed_realtime>{{maximum_run_time}})
        {
            did_break_early = true;
            break;
        }
        {% endif %}

    }
"""

_CLOCK_AFTER_LOOP = """        {% if maximum_run_time is not none %}
""" + _elapsed("        ") + """        if(elapsed_realtime>{{maximum_run_time}})
        {
            did_break_early = true;
            break;
        }
        {% endif %}
    }
    // dendritic engine (issue 22): the loop's time read once, after the loop
""" + _elapsed("    ")

# Brian's loop also reads the CPU clock for its progress report (``report=``) once per
# code object and step: 169 reads per step in the XOR network, a system call each
# (~1 us here: 60 % of the XOR experiment's time, measured with perf). The report's
# clock is read once every 256 steps instead (25.6 ms of simulated time at dt = 0.1 ms),
# on every engine: it changes when progress lines are printed, nothing that is computed.
_REPORT_PER_OBJECT = """            if (report_func)
            {
                {% if openmp_pragma('with_openmp') %}
                const double elapsed = omp_get_wtime() - start;
                {% else %}
                current = std::clock();
                const double elapsed = ((double)(current - start) / CLOCKS_PER_SEC);
                {% endif %}
                if (elapsed > next_report_time)
                {
                    report_func(elapsed, (clock->t[0]-t_start)/duration, t_start, duration);
                    next_report_time += report_period;
                }
            }
"""
_OBJECT_LOOP = """        for(size_t i=0; i<objects.size(); i++)
        {
"""
_REPORT_EVERY_256_STEPS = """        // dendritic: the progress report's clock read every 256 steps (not per object and step)
        if (report_func && ((++_report_steps) & 255) == 0)
        {
""" + "".join(line[4:] + "\n" for line in _REPORT_PER_OBJECT.splitlines()[2:-1]) + """        }
""" + _OBJECT_LOOP
_LOOP_START = """    bool did_break_early = false;
"""
_REPORT_COUNTER = _LOOP_START + """    unsigned long _report_steps = 0;
"""

#: template patches: name -> [(template, Brian's text, replacement)], applied in order
_PATCHES = {
    "report": [("network.cpp", _REPORT_PER_OBJECT, ""), ("network.cpp", _OBJECT_LOOP, _REPORT_EVERY_256_STEPS),
               ("network.cpp", _LOOP_START, _REPORT_COUNTER)],
    "engine": [("threshold.cpp", _THRESHOLD_LOOP, _BLOCKED_THRESHOLD_LOOP),
               ("network.cpp", _CLOCK_EVERY_STEP, _CLOCK_AFTER_LOOP)],
}
_TEMPLATERS: dict = {}


def _patched_templater(original, patches):
    """A templater like ``original`` with ``patches`` applied to its templates, or ``None``
    if Brian's templates are not the ones they were written for (another Brian version)."""
    from brian2.codegen.templates import LazyTemplateLoader, Templater
    from jinja2 import ChoiceLoader, DictLoader

    patched = {}
    for name, old, new in patches:
        source = patched.get(name) or original.env.loader.get_source(original.env, name)[0]
        if source.count(old) != 1:
            log.warning("Brian's %s template is not the expected one; keeping Brian's templates", name)
            return None
        patched[name] = source.replace(old, new)
    templater = Templater(original.package_names, original.extension, env_globals=original.env_globals,
                          templates_dir=original.templates_dir)
    templater.env.loader = ChoiceLoader([DictLoader(patched), templater.env.loader])
    templater.templates = LazyTemplateLoader(templater.env, templater.extension)
    return templater


def _install_templates(kind: str | None) -> None:
    """Standalone templates: ``None`` Brian's own, ``"report"`` Brian's with the progress
    report's clock read every 256 steps, ``"engine"`` that plus the engine's threshold
    and network loops."""
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

    if not _TEMPLATERS:
        original = _TEMPLATERS[None] = CPPStandaloneCodeObject.templater
        _TEMPLATERS["report"] = _patched_templater(original, _PATCHES["report"])
        _TEMPLATERS["engine"] = _patched_templater(original, _PATCHES["report"] + _PATCHES["engine"])
    CPPStandaloneCodeObject.templater = _TEMPLATERS.get(kind) or _TEMPLATERS[None]
