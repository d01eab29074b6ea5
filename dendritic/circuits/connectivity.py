"""Connectivity drawn in NumPy from the circuit's seed, passed to Brian as index arrays,
so that a circuit is the same on every target.

With ``fan_in`` each postsynaptic neuron receives exactly that many synapses from
presynaptic neurons drawn uniformly without replacement; with ``probability`` each pair
is connected independently (as Auryn's ``SparseConnection``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_connectivity"]


def draw_connectivity(rng: np.random.Generator, n_pre: int, n_post: int, fan_in=None, probability=None,
                      order: str = "post"):
    """Presynaptic and postsynaptic index arrays (int32), drawn from ``rng``.

    ``fan_in``: each postsynaptic neuron gets that many distinct presynaptic ones;
    ``probability``: each pair is connected independently (no rule against
    self-connections: Auryn's ``SparseConnection``). ``order``: the synapses sorted by
    postsynaptic neuron (``"post"``) or by presynaptic neuron (``"pre"``: a spike's
    synapses contiguous in memory, which speeds up propagation in large circuits); with
    ``probability`` the same draw is read in that order, so the two orders give
    different (equally distributed) circuits for one seed.
    """
    if order not in ("post", "pre"):
        raise ValueError(f"order: expected 'post' or 'pre', got {order!r}")
    if fan_in is not None:
        if fan_in > n_pre:
            raise ValueError(f"fan_in {fan_in} exceeds the {n_pre} presynaptic neurons")
        # for each post neuron, fan_in distinct pre neurons: argpartition of random keys
        if fan_in == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        if n_pre <= 4 * fan_in or n_pre * n_post <= 50_000_000:
            keys = rng.random((n_post, n_pre))
            pre = np.argpartition(keys, fan_in - 1, axis=1)[:, :fan_in]
        else:  # rejection sampling of duplicates, memory O(n_post * fan_in)
            pre = rng.integers(0, n_pre, size=(n_post, fan_in))
            while True:
                pre.sort(axis=1)
                duplicate = np.zeros_like(pre, dtype=bool)
                duplicate[:, 1:] = pre[:, 1:] == pre[:, :-1]
                if not duplicate.any():
                    break
                pre[duplicate] = rng.integers(0, n_pre, size=int(duplicate.sum()))
        pre, post = pre.reshape(-1), np.repeat(np.arange(n_post), fan_in)
        if order == "pre":
            by_pre = np.lexsort((post, pre))
            pre, post = pre[by_pre], post[by_pre]
        return pre.astype(np.int32), post.astype(np.int32)
    total = rng.binomial(n_pre * n_post, probability)
    flat = np.sort(rng.choice(n_pre * n_post, size=total, replace=False))
    if order == "pre":
        pre, post = np.divmod(flat, n_post)
    else:
        post, pre = np.divmod(flat, n_pre)
    return pre.astype(np.int32), post.astype(np.int32)
