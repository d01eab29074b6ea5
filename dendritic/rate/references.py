"""Reference updates that DFC is compared with: Jacobians, minimum-norm and Gauss-Newton
updates, backprop, alignment angles and Condition 2.

Notation (Meulemans et al. 2021, sections 3-4; ``../shared/SCIENCE.md`` section 3):

    J_i = d r_L / d v_i  (B, n_L, n_i),  J = [J_1 ... J_L]  (B, n_L, sum_i n_i)
    J_L = diag(phi_L'(v_L)),   J_i = J_{i+1} W_{i+1} diag(phi_i'(v_i))
    minimum-norm (MN) target   Delta v = J^T (J J^T + gamma I)^-1 delta_L
    MN weight update           Delta W_i = < Delta v_i r_{i-1}^T >_batch
    damped Gauss-Newton        Delta theta = J_theta^T (J_theta J_theta^T + gamma I)^-1 delta_L
                               (theta = all W_i and b_i, delta_L stacked over the batch)
    Condition 2                ||J^T (J J^T)^-1 J Q||_F / ||Q||_F
    angle(A, B)                arccos(<A, B> / (||A||_F ||B||_F)), degrees

Every "update" here is a step to add to the parameters (a descent direction), averaged
over the batch, so its angle to DFC's update is meaningful; backprop returns the
gradient dL/dW, whose descent direction is its negative.
"""

from __future__ import annotations

import numpy as np

from dendritic.rate.network import RateNetwork, matmul

__all__ = [
    "layer_jacobians",
    "full_jacobian",
    "split_layers",
    "minimum_norm_target",
    "minimum_norm_update",
    "gauss_newton_update",
    "backprop_gradients",
    "angle",
    "layer_angles",
    "network_angle",
    "condition_2",
]


def layer_jacobians(net: RateNetwork, voltages: list[np.ndarray]) -> list[np.ndarray]:
    """J_i = d r_L / d v_i (B, n_L, n_i) at the somatic potentials ``voltages``."""
    depth = net.depth
    jac = [None] * depth
    d_out = net.phi_prime(depth - 1, voltages[-1])
    n_out = d_out.shape[1]
    jac[-1] = np.eye(n_out, dtype=d_out.dtype)[None, :, :] * d_out[:, None, :]
    for i in range(depth - 2, -1, -1):
        # one (B n_L, n_{i+1}) x (n_{i+1}, n_i) product instead of B small ones
        batch, n_out, n_next = jac[i + 1].shape
        back = matmul(jac[i + 1].reshape(batch * n_out, n_next), net.weights[i + 1]).reshape(batch, n_out, -1)
        jac[i] = back * net.phi_prime(i, voltages[i])[:, None, :]
    return jac


def full_jacobian(net: RateNetwork, voltages: list[np.ndarray]) -> np.ndarray:
    """J = [J_1 ... J_L] stacked over layers: (B, n_L, sum_i n_i)."""
    return np.concatenate(layer_jacobians(net, voltages), axis=2)


def split_layers(net: RateNetwork, stacked: np.ndarray) -> list[np.ndarray]:
    """Split a (..., sum_i n_i) array into per-layer (..., n_i) pieces."""
    bounds = np.cumsum(net.sizes[1:])[:-1]
    return np.split(stacked, bounds, axis=-1)


def minimum_norm_target(jacobian: np.ndarray, delta_L: np.ndarray, gamma: float) -> np.ndarray:
    """Damped minimum-norm voltage change J^T (J J^T + gamma I)^-1 delta_L, per sample.

    ``jacobian`` (B, n_L, N), ``delta_L`` (B, n_L) -> (B, N).
    """
    n_out = jacobian.shape[1]
    gram = jacobian @ jacobian.transpose(0, 2, 1) + gamma * np.eye(n_out, dtype=jacobian.dtype)
    c = np.linalg.solve(gram, delta_L[:, :, None])
    return (jacobian.transpose(0, 2, 1) @ c)[:, :, 0]


def _outer_mean(post: np.ndarray, pre: np.ndarray) -> np.ndarray:
    return post.T @ pre / post.shape[0]


def minimum_norm_update(net: RateNetwork, x: np.ndarray, delta_L: np.ndarray, gamma: float):
    """MN weight update Delta W_i = < Delta v_i^MN r_{i-1}^T > with feedforward rates.

    Returns (weight_updates, bias_updates, delta_v) with delta_v per layer (B, n_i).
    """
    voltages, rates = net.forward(x)
    jac = full_jacobian(net, voltages)
    delta_v = split_layers(net, minimum_norm_target(jac, delta_L, gamma))
    pre = [x] + rates[:-1]
    dW = [_outer_mean(dv, r) for dv, r in zip(delta_v, pre)]
    db = [dv.mean(axis=0) for dv in delta_v]
    return dW, db, delta_v


def gauss_newton_update(net: RateNetwork, x: np.ndarray, delta_L: np.ndarray, gamma: float,
                        include_biases: bool = True):
    """Damped Gauss-Newton step on the parameters for the batch output change delta_L.

    With d r_L^b / d W_i = J_i^b (x) r_{i-1}^b, the Gram matrix over (sample, output) is
    G[(b,p),(c,q)] = sum_i (r_{i-1}^b . r_{i-1}^c + 1_bias) (J_i^b J_i^c^T)[p,q], and
    Delta W_i = sum_b J_i^b^T k_b r_{i-1}^b^T with k = (G + gamma I)^-1 delta_L.
    Cost grows as (B n_L)^3: meant for analysis batches, not training.
    """
    voltages, rates = net.forward(x)
    jac = layer_jacobians(net, voltages)
    pre = [x] + rates[:-1]
    batch, n_out = delta_L.shape
    gram = np.zeros((batch, n_out, batch, n_out), dtype=delta_L.dtype)
    for J_i, r in zip(jac, pre):
        overlap = r @ r.T + (1.0 if include_biases else 0.0)
        gram += np.einsum("bpn,cqn->bpcq", J_i, J_i) * overlap[:, None, :, None]
    gram = gram.reshape(batch * n_out, batch * n_out)
    k = np.linalg.solve(gram + gamma * np.eye(batch * n_out, dtype=gram.dtype), delta_L.reshape(-1))
    k = k.reshape(batch, n_out)
    dW, db = [], []
    for J_i, r in zip(jac, pre):
        post = np.einsum("bpn,bp->bn", J_i, k)
        dW.append(post.T @ r)
        db.append(post.sum(axis=0) if include_biases else np.zeros(post.shape[1], dtype=post.dtype))
    return dW, db


def backprop_gradients(net: RateNetwork, x: np.ndarray, output_gradient: np.ndarray,
                       voltages: list[np.ndarray] | None = None, rates: list[np.ndarray] | None = None):
    """Backpropagation: dL/dW_i and dL/db_i given dL/dr_L (B, n_L) of a batch loss."""
    if voltages is None or rates is None:
        voltages, rates = net.forward(x)
    pre = [x] + rates[:-1]
    delta = output_gradient * net.phi_prime(net.depth - 1, voltages[-1])
    grads_W = [None] * net.depth
    grads_b = [None] * net.depth
    for i in range(net.depth - 1, -1, -1):
        grads_W[i] = matmul(delta.T, pre[i])
        grads_b[i] = delta.sum(axis=0)
        if i > 0:
            delta = matmul(delta, net.weights[i]) * net.phi_prime(i - 1, voltages[i - 1])
    return grads_W, grads_b


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two arrays seen as flat vectors (Frobenius)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    if norm == 0.0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / norm, -1.0, 1.0))))


def layer_angles(updates_a: list[np.ndarray], updates_b: list[np.ndarray]) -> np.ndarray:
    """Angle per layer between two lists of per-layer updates."""
    return np.array([angle(a, b) for a, b in zip(updates_a, updates_b)])


def network_angle(updates_a: list[np.ndarray], updates_b: list[np.ndarray]) -> float:
    """Angle between the concatenations of all layers' updates."""
    return angle(np.concatenate([np.ravel(a) for a in updates_a]),
                 np.concatenate([np.ravel(b) for b in updates_b]))


def condition_2(jacobian: np.ndarray, feedback: np.ndarray) -> np.ndarray:
    """||J^T (J J^T)^-1 J Q||_F / ||Q||_F per sample (1: col(Q) lies in row(J)).

    ``jacobian`` (B, n_L, N), ``feedback`` the stacked Q (N, n_L) or (B, N, n_L).
    """
    gram = jacobian @ jacobian.transpose(0, 2, 1)
    projected = jacobian.transpose(0, 2, 1) @ np.linalg.solve(gram, jacobian @ feedback)
    q_norm = np.linalg.norm(feedback, axis=(-2, -1))
    return np.linalg.norm(projected, axis=(-2, -1)) / q_norm
