"""Output losses and their gradients with respect to the output rates r_L.

Both use the batch-mean reduction of PyTorch's ``MSELoss`` / ``CrossEntropyLoss`` (mean
over every element for MSE, over samples for cross-entropy), because the published DFC
hyperparameters (target step size lambda, learning rates) were tuned with those
reductions (Meulemans et al. 2021, code ``utils/train.py``).

    MSE:  L = mean_{b,k} (r_bk - y_bk)^2          dL/dr = 2 (r - y) / (B n_L)
    CE:   L = -mean_b log softmax(r_b)_{y_b}      dL/dr = (softmax(r) - onehot(y)) / B
"""

from __future__ import annotations

import numpy as np

__all__ = ["mse", "mse_gradient", "softmax", "cross_entropy", "cross_entropy_gradient", "one_hot", "LOSSES"]


def mse(r: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((r - y) ** 2))


def mse_gradient(r: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 2.0 * (r - y) / r.size


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def one_hot(labels: np.ndarray, n_classes: int, dtype=np.float64) -> np.ndarray:
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def cross_entropy(r: np.ndarray, labels: np.ndarray) -> float:
    z = r - r.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(labels)), labels]))


def cross_entropy_gradient(r: np.ndarray, labels: np.ndarray) -> np.ndarray:
    grad = softmax(r)
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad / len(labels)


LOSSES = {
    "mse": (mse, mse_gradient),
    "cross_entropy": (cross_entropy, cross_entropy_gradient),
}
