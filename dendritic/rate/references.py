"""Reference updates that DFC is compared with: Jacobians, minimum-norm and Gauss-Newton
updates, backprop, alignment angles and Condition 2.

Notation (Meulemans et al. 2021, NeurIPS, doi:10.48550/arXiv.2106.07887, sections 3-4)::

    J_i = d r_L / d v_i  (B, n_L, n_i),  J = [J_1 ... J_L]  (B, n_L, sum_i n_i)
    J_L = diag(phi_L'(v_L)),   J_i = J_{i+1} W_{i+1} diag(phi_i'(v_i))
    minimum-norm (MN) target   Delta v = J^T (J J^T + gamma I)^-1 delta_L
    MN weight update           Delta W_i = < Delta v_i r_{i-1}^T >_batch
    damped Gauss-Newton        Delta theta = < J_theta^T (J_theta J_theta^T + gamma I)^-1 delta_L >_batch
                               (theta = all W_i and b_i; one sample at a time, averaged)
    Condition 2                ||J^T (J J^T)^-1 J Q||_F / ||Q||_F
    angle(A, B)                arccos(<A, B> / (||A||_F ||B||_F)), degrees

The Gauss-Newton link (Meulemans et al. 2021, section 3.3, the theorem relating DFC's
steady-state update to GN, "Theorem 3" below; its numbering and wording were not
available offline, so the conditions here are derived from the equations and each is
checked numerically in ``tests/rate/test_references.py``). For one sample, d r_L / d W_i = J_i (x) rb_{i-1}^T with rb_{i-1} = [r_{i-1}; 1]
(the 1 for the bias), so with s_i = ||rb_{i-1}||^2 and D = blockdiag(s_i I_{n_i})

    J_theta J_theta^T = sum_i s_i J_i J_i^T = J D J^T
    Delta W_i^GN = J_i^T (J D J^T + gamma I)^-1 delta_L rb_{i-1}^T.

The DFC steady state Delta v = Q (J Q + alpha I)^-1 delta_L gives Delta W_i = eta_i
Delta v_i rb_{i-1}^T. With Q = J^T (Condition 2) and alpha -> 0 this is the minimum-norm
target on the voltages, which is GN on the weights only when all s_i are equal (then
J D J^T = s J J^T). For unequal presynaptic norms the theorem's setting is Condition 2
in the metric D: col(D^-1/2 Q) in row(J D^1/2) (:func:`gauss_newton_condition`), i.e.
Q = D J^T M for an invertible M, and layer learning rates eta_i = 1/s_i. Then, exactly,

    M = I         (:func:`gauss_newton_feedback`):  Delta W_i = Delta W_i^GN, damping gamma = alpha
    M = (J D J^T)^-1 ("pseudoinverse" form):        Delta W_i = Delta W_i^GN(gamma = 0) / (1 + alpha)

for one sample; for a batch, per-sample Q^b and eta_i^b = 1/s_i^b give the batch average
of the per-sample GN steps, which is the batch form of the published GN reference
(``networks/abstract_network.py``, ``compute_gn_parameter_update``). The nonlinear
update (phi(v_i) - phi(v_i^B)) r_{i-1,ss}^T of DFC reaches this in the limit of small
targets (lambda -> 0).

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
    "presynaptic_scales",
    "gauss_newton_feedback",
    "gauss_newton_condition",
    "scale_layers",
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
                        include_biases: bool = True, batch_form: str = "per_sample"):
    """Damped Gauss-Newton step on the parameters (W_i, b_i) for the output change delta_L.

    ``batch_form="per_sample"`` (default, as the published reference
    ``networks/abstract_network.py``, ``compute_gn_parameter_update``): the batch mean
    of the single-sample steps J_theta^b^T (J_theta^b J_theta^b^T + gamma I)^-1 delta_L^b,
    with J_theta^b J_theta^b^T = sum_i s_i^b J_i^b J_i^b^T (see the module docstring):

        Delta W_i = < J_i^b^T k_b rb_{i-1}^b^T >_b,   k_b = (sum_i s_i^b J_i^b J_i^b^T + gamma I)^-1 delta_L^b.

    ``batch_form="joint"`` (this package's earlier choice, kept as an option): one GN step
    for the whole batch, with the Gram matrix over (sample, output) pairs
    G[(b,p),(c,q)] = sum_i (r_{i-1}^b . r_{i-1}^c + 1_bias) (J_i^b J_i^c^T)[p,q] and
    Delta W_i = sum_b J_i^b^T k_b r_{i-1}^b^T, k = (G + gamma I)^-1 delta_L (summed, not
    averaged; cost (B n_L)^3). It is not the GN step that DFC approximates (Theorem 3 is
    per sample) and is nearly orthogonal to it for B n_L comparable to the parameter count.
    """
    voltages, rates = net.forward(x)
    jac = layer_jacobians(net, voltages)
    pre = [x] + rates[:-1]
    batch, n_out = delta_L.shape
    if batch_form == "per_sample":
        scales = presynaptic_scales(x, rates, include_biases)
        gram = sum(s[:, None, None] * (J_i @ J_i.transpose(0, 2, 1)) for J_i, s in zip(jac, scales))
        gram = gram + gamma * np.eye(n_out, dtype=gram.dtype)
        k = np.linalg.solve(gram, delta_L[:, :, None])[:, :, 0]
        dW, db = [], []
        for J_i, r in zip(jac, pre):
            post = np.einsum("bpn,bp->bn", J_i, k)
            dW.append(post.T @ r / batch)
            db.append(post.mean(axis=0) if include_biases else np.zeros(post.shape[1], dtype=post.dtype))
        return dW, db
    if batch_form != "joint":
        raise ValueError(f"gauss_newton_update: batch_form {batch_form!r}; expected 'per_sample' or 'joint'")
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


def presynaptic_scales(x: np.ndarray, rates: list[np.ndarray], include_biases: bool = True) -> list[np.ndarray]:
    """s_i = ||r_{i-1}||^2 (+ 1 with biases) per sample (B,), r_0 = x: the weight of layer
    i in the GN Gram matrix J D J^T (module docstring, Theorem 3)."""
    pre = [np.asarray(x)] + list(rates[:-1])
    return [np.einsum("bn,bn->b", r, r) + (1.0 if include_biases else 0.0) for r in pre]


def gauss_newton_feedback(net: RateNetwork, x: np.ndarray, include_biases: bool = True,
                          pseudoinverse: bool = False, gain: float = 1.0) -> np.ndarray:
    """Per-sample feedback (B, N, n_L) of Theorem 3's setting: Q_i^b = gain s_i^b J_i^b^T
    at the feedforward state (M = I), or with ``pseudoinverse`` Q^b = gain D J^T (J D J^T)^-1
    (J Q = gain I). With layer rates eta_i = 1/s_i the DFC steady state is then the GN step
    of :func:`gauss_newton_update` with damping alpha / gain (M = I), or the undamped GN
    step times gain / (gain + alpha) (pseudoinverse)."""
    voltages, rates = net.forward(x)
    jac = layer_jacobians(net, voltages)
    scales = presynaptic_scales(x, rates, include_biases)
    q = np.concatenate([s[:, None, None] * J_i.transpose(0, 2, 1) for J_i, s in zip(jac, scales)], axis=1)
    if pseudoinverse:
        full = np.concatenate(jac, axis=2)
        q = np.linalg.solve((full @ q).transpose(0, 2, 1), q.transpose(0, 2, 1)).transpose(0, 2, 1)
    return gain * q


def gauss_newton_condition(jacobian: np.ndarray, feedback: np.ndarray, scales: list[np.ndarray],
                           sizes: list[int]) -> np.ndarray:
    """Condition 2 in the metric D of Theorem 3, per sample:
    ||P D^-1/2 Q||_F / ||D^-1/2 Q||_F with P the projector on row(J D^1/2); 1 iff
    Q = D J^T M. ``scales``: s_i per layer (B,) (:func:`presynaptic_scales`), ``sizes``:
    n_i per layer (the column blocks of ``jacobian``)."""
    d = np.concatenate([np.repeat(np.sqrt(s)[:, None], n, axis=1) for s, n in zip(scales, sizes)], axis=1)
    q = np.asarray(feedback)
    q = np.broadcast_to(q, (d.shape[0],) + q.shape[-2:]) / d[:, :, None]
    return condition_2(jacobian * d[:, None, :], q)


def scale_layers(per_sample_post: list[np.ndarray], pre: list[np.ndarray], scales: list[np.ndarray]):
    """Delta W_i = < (1/s_i^b) post_i^b pre_{i-1}^b^T >_b: an update with the layer (and
    sample) learning rates eta_i^b = 1/s_i^b of Theorem 3. Returns (dW, db)."""
    batch = pre[0].shape[0]
    dW = [(p / s[:, None]).T @ r / batch for p, r, s in zip(per_sample_post, pre, scales)]
    db = [(p / s[:, None]).mean(axis=0) for p, s in zip(per_sample_post, scales)]
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
