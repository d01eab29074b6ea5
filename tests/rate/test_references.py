"""Jacobians, backprop, Gauss-Newton and angle helpers against independent computations."""

import numpy as np
import pytest

from dendritic.rate import losses
from dendritic.rate import references as ref
from dendritic.rate.network import RateNetwork


def _net(sizes, seed, hidden="tanh", output="linear"):
    rng = np.random.default_rng(seed)
    net = RateNetwork.create(sizes, hidden_activation=hidden, output_activation=output, rng=rng, bias_scale=0.3)
    x = rng.uniform(-1, 1, (6, sizes[0]))
    return net, x, rng


def _output_from_layer(net, i, v_i):
    """r_L when layer i's somatic potential is set to v_i (independent forward sweep)."""
    r = net.phi(i, v_i)
    for k in range(i + 1, net.depth):
        r = net.phi(k, net.basal(k, r))
    return r


@pytest.mark.parametrize("sizes,output", [([4, 7, 3], "linear"), ([5, 6, 6, 4, 3], "tanh"), ([3, 8, 8, 8, 2], "linear")])
def test_layer_jacobians_match_central_differences(sizes, output):
    net, x, _ = _net(sizes, 0, output=output)
    voltages, _ = net.forward(x)
    jac = ref.layer_jacobians(net, voltages)
    h = 1e-6
    for i in range(net.depth):
        numeric = np.zeros_like(jac[i])
        for j in range(voltages[i].shape[1]):
            plus, minus = voltages[i].copy(), voltages[i].copy()
            plus[:, j] += h
            minus[:, j] -= h
            numeric[:, :, j] = (_output_from_layer(net, i, plus) - _output_from_layer(net, i, minus)) / (2 * h)
        np.testing.assert_allclose(jac[i], numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_backprop_matches_finite_differences(loss):
    net, x, rng = _net([5, 7, 6, 4], 1, hidden="tanh")
    y = rng.standard_normal((6, 4)) if loss == "mse" else rng.integers(0, 4, 6)
    loss_fn, grad_fn = losses.LOSSES[loss]
    out = net.predict(x)
    gW, gb = ref.backprop_gradients(net, x, grad_fn(out, y))
    h = 1e-6
    for params, grads in ((net.weights, gW), (net.biases, gb)):
        for p, g in zip(params, grads):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = loss_fn(net.predict(x), y)
                p[idx] = old - h
                down = loss_fn(net.predict(x), y)
                p[idx] = old
                numeric[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-9)


def test_backprop_relu_network():
    net, x, rng = _net([4, 9, 5], 3, hidden="relu")
    y = rng.standard_normal((6, 5))
    gW, _ = ref.backprop_gradients(net, x, losses.mse_gradient(net.predict(x), y))
    h = 1e-7
    w = net.weights[0]
    old = w[2, 1]
    w[2, 1] = old + h
    up = losses.mse(net.predict(x), y)
    w[2, 1] = old - h
    down = losses.mse(net.predict(x), y)
    w[2, 1] = old
    assert gW[0][2, 1] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-10)


def test_minimum_norm_target_solves_damped_least_squares():
    """J^T (J J^T + g I)^-1 d minimises ||J dv - d||^2 + g ||dv||^2: compare the normal equations."""
    rng = np.random.default_rng(4)
    jac = rng.standard_normal((3, 4, 11))
    delta = rng.standard_normal((3, 4))
    gamma = 0.3
    dv = ref.minimum_norm_target(jac, delta, gamma)
    for b in range(3):
        direct = np.linalg.solve(jac[b].T @ jac[b] + gamma * np.eye(11), jac[b].T @ delta[b])
        np.testing.assert_allclose(dv[b], direct, rtol=1e-10)


def test_gauss_newton_update_matches_explicit_parameter_jacobian():
    net, x, rng = _net([3, 4, 2], 5)
    delta = 0.01 * rng.standard_normal((x.shape[0], 2))
    gamma = 0.05
    dW, db = ref.gauss_newton_update(net, x, delta, gamma)
    # explicit J_theta by finite differences of the batch outputs w.r.t. every parameter
    params = net.weights + net.biases
    columns = []
    h = 1e-6
    for p in params:
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = net.predict(x).ravel()
            p[idx] = old - h
            down = net.predict(x).ravel()
            p[idx] = old
            columns.append((up - down) / (2 * h))
    j_theta = np.stack(columns, axis=1)
    step = j_theta.T @ np.linalg.solve(j_theta @ j_theta.T + gamma * np.eye(len(j_theta)), delta.ravel())
    ours = np.concatenate([a.ravel() for a in dW + db])
    np.testing.assert_allclose(ours, step, rtol=1e-6, atol=1e-10)


def test_angles():
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert ref.angle(a, 3 * a) == pytest.approx(0.0, abs=1e-6)
    assert ref.angle(a, np.array([[0.0, 2.0], [0.0, 0.0]])) == pytest.approx(90.0)
    assert ref.angle(a, -a) == pytest.approx(180.0)
    assert ref.angle([1.0, 1.0], [1.0, 0.0]) == pytest.approx(45.0)
    per_layer = ref.layer_angles([a, a], [a, -a])
    np.testing.assert_allclose(per_layer, [0.0, 180.0], atol=1e-6)
    assert ref.network_angle([a, a], [a, -a]) == pytest.approx(90.0)


def test_condition_2_limits():
    rng = np.random.default_rng(6)
    jac = rng.standard_normal((2, 3, 9))
    inside = jac[0].T @ rng.standard_normal((3, 3))  # columns in row(J_0)
    assert ref.condition_2(jac[:1], inside)[0] == pytest.approx(1.0, rel=1e-12)
    null = np.linalg.svd(jac[0])[2][3:].T  # orthogonal to row(J_0)
    assert ref.condition_2(jac[:1], null[:, :3])[0] == pytest.approx(0.0, abs=1e-12)
    random_q = rng.standard_normal((9, 3))
    value = ref.condition_2(jac, random_q)
    assert np.all((value > 0) & (value < 1))
