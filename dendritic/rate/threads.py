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

__all__ = ["BLAS_THREADS", "blas_threads", "limited"]

BLAS_THREADS = int(os.environ.get("DENDRITIC_BLAS_THREADS", "1"))
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
