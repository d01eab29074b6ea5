"""Layered rate networks: the feedforward part of Deep Feedback Control.

    v_i = W_i r_{i-1} + b_i          r_i = phi_i(v_i)          r_0 = x

``W_i`` has shape (n_i, n_{i-1}); a batch of inputs is a (B, n_0) array and every layer
quantity is (B, n_i). Each layer also carries its feedback matrix ``Q_i`` (n_i, n_L)
that maps the controller output u into the apical compartment (``dendritic.rate.dfc``).

Source: Meulemans et al. 2021, "Credit assignment in neural networks through deep
feedback control" (NeurIPS), section 2, doi:10.48550/arXiv.2106.07887.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "ActivationIncrement",
    "activation",
    "activation_derivative",
    "RateNetwork",
    "weight_product_feedback",
    "random_feedback",
    "matmul",
]


# Inner-dimension block of :func:`matmul` for float32 (0: no blocking). On this project's
# machines (OpenBLAS 0.3.30, Haswell kernels on an AMD CPU, one thread) a float32
# (128 x 256) @ (256 x 256) product took 1.8-2.2 ms whole and 0.9-1.2 ms as two products
# over K = 128 halves plus an addition; (128 x 784) @ (784 x 256) 5.6 ms against 3.0 ms.
# float64 gained nothing, so it is never blocked; nor are long inner dimensions (the
# (256 x 4096) @ (4096 x 256) trajectory sums: 0.30 ms per 128 samples whole, 0.54 blocked).
GEMM_K_BLOCK = int(os.environ.get("DENDRITIC_GEMM_K_BLOCK", "128"))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, work: np.ndarray | None = None) -> np.ndarray:
    """a @ b for 2-D arrays; float32 products with a long inner dimension are summed over
    blocks of ``GEMM_K_BLOCK`` (same result up to rounding, faster here, see above).

    ``out`` receives the result; ``work`` is an optional scratch array of the result's shape.
    """
    k = a.shape[1]
    block = GEMM_K_BLOCK
    if block <= 0 or not block + block // 2 < k <= 1024 or a.dtype != np.float32 or b.shape[1] < 64:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    if work is None:
        work = np.empty_like(out)
    np.matmul(a[:, :block], b[:block], out=out)
    for start in range(block, k, block):
        np.matmul(a[:, start:start + block], b[start:start + block], out=work)
        out += work
    return out


def _tanh_derivative(v):
    t = np.tanh(v)
    return 1.0 - t * t


def _identity(v, out=None):
    if out is None:
        return v
    out[...] = v
    return out


def _relu(v, out=None):
    return np.maximum(v, 0, out=out)


# name: (phi(v, out=None), phi'(v)); every phi takes an optional ``out`` array
ACTIVATIONS = {
    "tanh": (np.tanh, _tanh_derivative),
    "linear": (_identity, lambda v: np.ones_like(v)),
    "relu": (_relu, lambda v: (v > 0).astype(v.dtype)),
}


class ActivationIncrement:
    """phi(v0 + d) - phi(v0) for a fixed reference potential v0, without the cancellation
    of subtracting two rates (the controlled dynamics move the potentials by 1e-6..1e-3
    around potentials of order 1-10: in float32 the plain difference keeps 0-2 digits).

        tanh:    tanh(v0 + d) - tanh(v0) = tanh(d) sech^2(v0) / (1 + tanh(v0) tanh(d))
        linear:  d
        relu:    max(d, -v0) where v0 > 0, else max(v0 + d, 0)

    sech^2(v0) = 4 q / (1 + q)^2 with q = exp(-2 ``|v0|``) (no overflow, no 1 - tanh^2
    cancellation). ``__call__(d, out)`` writes into ``out`` (same shape as v0).
    """

    def __init__(self, name: str, v0: np.ndarray, r0: np.ndarray | None = None):
        _check_activation(name)
        self.name = name
        self.v0 = v0
        if name == "tanh":
            q = np.exp(-2.0 * np.abs(v0))
            self.r0 = np.tanh(v0) if r0 is None else r0
            self.sech2 = (4.0 * q / (1.0 + q) ** 2).astype(v0.dtype, copy=False)
            self.scratch = np.empty_like(v0)
        elif name == "relu":
            self.positive = v0 > 0
            self.neg_v0 = -v0

    def __call__(self, d: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self.name == "linear":
            if out is not d:
                out[...] = d
        elif self.name == "tanh":
            np.tanh(d, out=out)
            np.multiply(self.r0, out, out=self.scratch)
            self.scratch += 1
            out *= self.sech2
            out /= self.scratch
        else:
            out[...] = np.where(self.positive, np.maximum(d, self.neg_v0), np.maximum(self.v0 + d, 0))
        return out


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}")


def activation(name: str, v: np.ndarray) -> np.ndarray:
    """phi(v) for the named transfer function."""
    _check_activation(name)
    return ACTIVATIONS[name][0](v)


def activation_derivative(name: str, v: np.ndarray) -> np.ndarray:
    """phi'(v), element-wise."""
    _check_activation(name)
    return ACTIVATIONS[name][1](v)


@dataclass
class RateNetwork:
    """Fully connected rate network with feedforward weights, biases and feedback weights.

    ``weights[i]`` is W_{i+1} (n_{i+1}, n_i), ``biases[i]`` (n_{i+1},), ``feedback[i]`` is
    Q_{i+1} (n_{i+1}, n_L), ``activations[i]`` the transfer function of layer i+1.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    feedback: list[np.ndarray]
    activations: list[str]
    _sizes: list[int] = field(init=False, repr=False)

    def __post_init__(self):
        if not (len(self.weights) == len(self.biases) == len(self.feedback) == len(self.activations)):
            raise ValueError("weights, biases, feedback and activations need one entry per layer")
        sizes = [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]
        n_out = sizes[-1]
        for i, (w, b, q, name) in enumerate(zip(self.weights, self.biases, self.feedback, self.activations)):
            _check_activation(name)
            if w.shape != (sizes[i + 1], sizes[i]):
                raise ValueError(f"layer {i + 1}: W has shape {w.shape}, expected {(sizes[i + 1], sizes[i])}")
            if b.shape != (sizes[i + 1],):
                raise ValueError(f"layer {i + 1}: bias has shape {b.shape}, expected {(sizes[i + 1],)}")
            if q.shape != (sizes[i + 1], n_out):
                raise ValueError(f"layer {i + 1}: Q has shape {q.shape}, expected {(sizes[i + 1], n_out)}")
        self._sizes = sizes

    @classmethod
    def create(
        cls,
        sizes,
        hidden_activation: str = "tanh",
        output_activation: str = "linear",
        rng: np.random.Generator | None = None,
        dtype=np.float64,
        init: str = "xavier_normal",
        bias_scale: float = 0.0,
    ) -> "RateNetwork":
        """A network with layer sizes ``sizes`` (input first).

        ``init='xavier_normal'`` draws W_i ~ N(0, 2 / (n_i + n_{i-1})) (Glorot & Bengio
        2010, the initialisation of the published DFC configurations); biases start at
        zero unless ``bias_scale`` > 0. Feedback starts as the weight product (fixed-Q
        initialisation, :func:`weight_product_feedback`).
        """
        rng = np.random.default_rng() if rng is None else rng
        sizes = [int(s) for s in sizes]
        weights, biases = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            if init == "xavier_normal":
                std = np.sqrt(2.0 / (n_in + n_out))
            elif init == "he_normal":
                std = np.sqrt(2.0 / n_in)
            else:
                raise ValueError(f"unknown init {init!r}: expected 'xavier_normal' or 'he_normal'")
            weights.append((std * rng.standard_normal((n_out, n_in))).astype(dtype))
            biases.append((bias_scale * rng.standard_normal(n_out)).astype(dtype))
        depth = len(weights)
        activations = [hidden_activation] * (depth - 1) + [output_activation]
        feedback = [np.zeros((n, sizes[-1]), dtype=dtype) for n in sizes[1:]]
        net = cls(weights, biases, feedback, activations)
        net.feedback = weight_product_feedback(net)
        return net

    @property
    def sizes(self) -> list[int]:
        """Layer sizes, input first."""
        return list(self._sizes)

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def dtype(self):
        return self.weights[0].dtype

    @property
    def full_feedback(self) -> np.ndarray:
        """Q stacked over all layers: (sum_i n_i, n_L)."""
        return np.concatenate(self.feedback, axis=0)

    def copy(self) -> "RateNetwork":
        return copy.deepcopy(self)

    def astype(self, dtype) -> "RateNetwork":
        return RateNetwork(
            [w.astype(dtype) for w in self.weights],
            [b.astype(dtype) for b in self.biases],
            [q.astype(dtype) for q in self.feedback],
            list(self.activations),
        )

    def phi(self, i: int, v: np.ndarray) -> np.ndarray:
        """Transfer function of layer index ``i`` (0-based over the weight layers)."""
        return activation(self.activations[i], v)

    def phi_prime(self, i: int, v: np.ndarray) -> np.ndarray:
        return activation_derivative(self.activations[i], v)

    def basal(self, i: int, r_previous: np.ndarray) -> np.ndarray:
        """Basal (feedforward) potential W_i r_{i-1} + b_i of layer index ``i``."""
        out = matmul(r_previous, self.weights[i].T)
        out += self.biases[i]
        return out

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Feedforward pass: lists of v_i and r_i (B, n_i) for every layer."""
        voltages, rates = [], []
        r = x
        for i in range(self.depth):
            v = self.basal(i, r)
            r = self.phi(i, v)
            voltages.append(v)
            rates.append(r)
        return voltages, rates

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Output rates r_L of the feedforward pass."""
        return self.forward(x)[1][-1]


def weight_product_feedback(net: RateNetwork) -> list[np.ndarray]:
    """Fixed-Q initialisation Q_i = W_{i+1}^T ... W_L^T, Q_L = I.

    This is J^T of a linear network (all phi' = 1); Meulemans et al. 2021 use it for the
    "fixed feedback" DFC variants.
    """
    n_out = net.sizes[-1]
    feedback = [None] * net.depth
    q = np.eye(n_out, dtype=net.dtype)
    feedback[-1] = q
    for i in range(net.depth - 2, -1, -1):
        q = net.weights[i + 1].T @ q
        feedback[i] = q
    return feedback


def random_feedback(net: RateNetwork, rng: np.random.Generator) -> list[np.ndarray]:
    """Xavier-normal random hidden Q_i and Q_L = I: the starting point of feedback learning.

    The output layer starts at the identity in every published configuration
    (``feedbackweights_initialization`` in the published code); whether it is then
    learned is the trainer's choice (``freeze_output_feedback``). A random Q_L can make
    J Q indefinite, and the controller then pushes the output away from its target.
    """
    n_out = net.sizes[-1]
    feedback = []
    for i, n in enumerate(net.sizes[1:]):
        if i == net.depth - 1:
            feedback.append(np.eye(n_out, dtype=net.dtype))
        else:
            std = np.sqrt(2.0 / (n + n_out))
            feedback.append((std * rng.standard_normal((n, n_out))).astype(net.dtype))
    return feedback
