"""BLAS thread limit for the rate package.

The rate networks multiply small matrices (at most 128 x 784 by 784 x 256 per call) many
thousands of times per batch. OpenBLAS gains little from a second thread at that size,
and when the cores are shared its spinning worker threads are descheduled and every call
waits for them: on this project's 2 shared cores the one-epoch Fashion-MNIST subset test
took 19 s with one BLAS thread and 83 s with two. So the heavy entry points run with
``BLAS_THREADS`` threads (default 1; environment variable ``DENDRITIC_BLAS_THREADS``,
0 = leave the library's setting alone).

``threadpoolctl`` is used when installed (it comes with scikit-learn, a dependency of
mlxtend); without it the limit is a no-op.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

__all__ = ["BLAS_THREADS", "HELPER_THREAD", "blas_threads", "limited", "helper"]

BLAS_THREADS = int(os.environ.get("DENDRITIC_BLAS_THREADS", "1"))
# Optional helper thread that ``dfc.simulate`` hands work to (the trajectory sums of the
# weight update, the next block of noise) while the main thread integrates; NumPy
# releases the GIL in matrix products, ufunc loops and random draws. It waits on a
# queue, never spins. Off by default (DENDRITIC_HELPER_THREAD=1 turns it on): on this
# project's 2 cores shared with other jobs (load 5) it made a 300-step Fashion-MNIST
# batch slower in wall time (3.8 s against 3.2 s) since no core was free. The numbers
# are identical either way (tested).
HELPER_THREAD = int(os.environ.get("DENDRITIC_HELPER_THREAD", "0"))
_executor = None
_controller = None
_depth = 0


def _get_controller():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - optional
            _controller = False
        else:
            _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def blas_threads(n: int | None = None):
    """Limit BLAS to ``n`` threads (default ``BLAS_THREADS``) inside the block; nests cheaply."""
    global _depth
    n = BLAS_THREADS if n is None else n
    controller = _get_controller() if n > 0 else False
    if not controller or _depth > 0:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    _depth += 1
    try:
        with controller.limit(limits=n, user_api="blas"):
            yield
    finally:
        _depth -= 1


def limited(function):
    """Decorator: run ``function`` under :func:`blas_threads` (outermost call only)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return function(*args, **kwargs)

    return wrapper


class _Inline:
    """Executor stand-in that runs the work at once (no helper thread)."""

    class _Done:
        def __init__(self, value=None, error=None):
            self._value, self._error = value, error

        def result(self):
            if self._error is not None:
                raise self._error
            return self._value

    def submit(self, function, *args, **kwargs):
        try:
            return self._Done(function(*args, **kwargs))
        except BaseException as error:  # re-raised by result(), as a real future would
            return self._Done(error=error)


_INLINE = _Inline()
_executor_lock = threading.Lock()


def helper():
    """The helper-thread executor (``submit(f, *args) -> future``), or an inline stand-in
    when ``HELPER_THREAD`` is 0. Work submitted from the helper thread itself runs inline."""
    global _executor
    if not HELPER_THREAD:
        return _INLINE
    with _executor_lock:
        if _executor is None:
            from concurrent.futures import ThreadPoolExecutor

            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dendritic-rate")
    if threading.current_thread().name.startswith("dendritic-rate"):
        return _INLINE
    return _executor
