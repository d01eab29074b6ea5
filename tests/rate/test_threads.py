"""The BLAS thread limit of the rate package is applied inside and restored after."""

import numpy as np
import pytest

from dendritic.rate import dfc, threads
from dendritic.rate.network import RateNetwork

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def test_limit_applies_inside_and_is_restored():
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        seen = []
        with threads.blas_threads(1):
            seen.append(_blas_threads())
            with threads.blas_threads(2):  # nested: the outermost limit stays
                seen.append(_blas_threads())
        assert all(n == 1 for n in seen[0] + seen[1])
        assert _blas_threads() == before


def test_decorated_entry_point_runs_limited(monkeypatch):
    seen = []
    original = dfc.matmul

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(dfc, "matmul", spy)
    monkeypatch.setattr(threads, "BLAS_THREADS", 1)
    net = RateNetwork.create([3, 4, 2], rng=np.random.default_rng(0))
    x = np.zeros((2, 3))
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        dfc.simulate(net, x, net.predict(x), dfc.ControllerSettings(0.1, 1.0, 0.01, 3, 0.2))
        assert all(n == 2 for n in _blas_threads())
    assert seen and all(n == 1 for call in seen for n in call)
