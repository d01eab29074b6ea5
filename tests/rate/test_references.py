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


def _parameter_jacobian(net, x, params=None):
    """d r_L / d theta by central differences, theta = all W_i then all b_i: (B, n_L, P)."""
    params = net.weights + net.biases if params is None else params
    columns = []
    h = 1e-6
    for p in params:
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = net.predict(x)
            p[idx] = old - h
            down = net.predict(x)
            p[idx] = old
            columns.append((up - down) / (2 * h))
    return np.stack(columns, axis=2)


def _flat(updates):
    return np.concatenate([np.ravel(a) for a in updates])


def test_gauss_newton_update_joint_batch_form_matches_explicit_parameter_jacobian():
    net, x, rng = _net([3, 4, 2], 5)
    delta = 0.01 * rng.standard_normal((x.shape[0], 2))
    gamma = 0.05
    dW, db = ref.gauss_newton_update(net, x, delta, gamma, batch_form="joint")
    j_theta = _parameter_jacobian(net, x)
    j_theta = j_theta.reshape(-1, j_theta.shape[2])  # rows (sample, output)
    step = j_theta.T @ np.linalg.solve(j_theta @ j_theta.T + gamma * np.eye(len(j_theta)), delta.ravel())
    np.testing.assert_allclose(_flat(dW + db), step, rtol=1e-6, atol=1e-10)


def test_gauss_newton_update_is_the_mean_of_single_sample_steps():
    """Default batch form, as the published GN reference (meulemansalex/deep_feedback_control,
    networks/abstract_network.py, compute_gn_parameter_update):
    (1/B) sum_b J_theta^b^T (J_theta^b J_theta^b^T + gamma I)^-1 delta_L^b, with J_theta^b
    here by finite differences. The earlier joint batch step fails this."""
    net, x, rng = _net([3, 4, 5, 2], 7)
    delta = 0.01 * rng.standard_normal((x.shape[0], 2))
    gamma = 0.05
    dW, db = ref.gauss_newton_update(net, x, delta, gamma)
    j_theta = _parameter_jacobian(net, x)
    step = np.mean([j.T @ np.linalg.solve(j @ j.T + gamma * np.eye(2), d) for j, d in zip(j_theta, delta)], axis=0)
    np.testing.assert_allclose(_flat(dW + db), step, rtol=1e-6, atol=1e-12)
    # without biases: the same with theta = weights only
    dW, db = ref.gauss_newton_update(net, x, delta, gamma, include_biases=False)
    j_theta = _parameter_jacobian(net, x, params=net.weights)
    step = np.mean([j.T @ np.linalg.solve(j @ j.T + gamma * np.eye(2), d) for j, d in zip(j_theta, delta)], axis=0)
    np.testing.assert_allclose(_flat(dW), step, rtol=1e-6, atol=1e-12)
    assert all(np.all(b == 0) for b in db)


def _linearised_dfc_voltage_update(net, x, delta, q, alpha, rates_per_layer):
    """Delta v = Q (J Q + alpha I)^-1 delta_L with J = d r_L / d v by central differences of
    an independent forward sweep, then Delta W_i = Delta v_i [r_{i-1}; 1]^T / s_i per sample,
    s_i = ||r_{i-1}||^2 + 1 (Meulemans et al. 2021, eq. for the steady state and Theorem 3)."""
    h = 1e-6
    out = []
    for b in range(x.shape[0]):
        voltages = net.forward(x[b:b + 1])[0]
        cols = []
        for i in range(net.depth):
            for j in range(voltages[i].shape[1]):
                plus, minus = voltages[i].copy(), voltages[i].copy()
                plus[0, j] += h
                minus[0, j] -= h
                cols.append(((_output_from_layer(net, i, plus) - _output_from_layer(net, i, minus)) / (2 * h))[0])
        jac = np.stack(cols, axis=1)
        dv = q[b] @ np.linalg.solve(jac @ q[b] + alpha * np.eye(jac.shape[0]), delta[b])
        pieces = np.split(dv, np.cumsum(net.sizes[1:])[:-1])
        pre = [x[b]] + [r[b] for r in rates_per_layer[:-1]]
        out.append(np.concatenate([np.outer(p, r).ravel() / (r @ r + 1) for p, r in zip(pieces, pre)]
                                  + [p / (r @ r + 1) for p, r in zip(pieces, pre)]))
    return np.mean(out, axis=0)


def test_gauss_newton_theorem_linearised_steady_state_is_the_gn_step():
    """Meulemans et al. 2021, Theorem 3 (batch size 1, Condition 2, layer learning rates):
    with Q^b = D^b J^b^T (D = blockdiag(s_i I), s_i = ||r_{i-1}||^2 + 1) the linearised DFC
    steady state with rates 1/s_i is the damped GN step on (W, b) with damping alpha,
    exactly, for each sample and so for the batch mean of the single-sample steps. GN from
    the explicit finite-difference parameter Jacobian; J from finite differences of the
    voltages. With Q = J^T (Condition 2 in the Euclidean metric) the presynaptic norms
    differ between layers and the same update is degrees away from GN."""
    net, x, rng = _net([4, 6, 5, 3], 8)
    x = 2.0 * x  # input norms unlike the hidden rates' norms
    _, rates = net.forward(x)
    delta = 0.01 * rng.standard_normal((x.shape[0], 3))
    alpha = 0.02
    j_theta = _parameter_jacobian(net, x)
    gn = np.mean([j.T @ np.linalg.solve(j @ j.T + alpha * np.eye(3), d) for j, d in zip(j_theta, delta)], axis=0)
    q = ref.gauss_newton_feedback(net, x)
    theorem = _linearised_dfc_voltage_update(net, x, delta, q, alpha, rates)
    np.testing.assert_allclose(theorem, gn, rtol=1e-5, atol=1e-12)
    assert ref.angle(theorem, gn) < 1e-3
    assert np.allclose(ref.gauss_newton_condition(ref.full_jacobian(net, net.forward(x)[0]), q,
                                                  ref.presynaptic_scales(x, rates), net.sizes[1:]), 1.0)
    transpose = _linearised_dfc_voltage_update(net, x, delta, ref.full_jacobian(net, net.forward(x)[0]).transpose(0, 2, 1),
                                               alpha, rates)
    assert ref.angle(transpose, gn) > 1.0
    # pseudoinverse form: J Q = I, the undamped GN step divided by (1 + alpha)
    q_pinv = ref.gauss_newton_feedback(net, x, pseudoinverse=True)
    undamped = np.mean([j.T @ np.linalg.solve(j @ j.T, d) for j, d in zip(j_theta, delta)], axis=0)
    np.testing.assert_allclose(_linearised_dfc_voltage_update(net, x, delta, q_pinv, alpha, rates),
                               undamped / (1 + alpha), rtol=1e-5, atol=1e-12)


def test_gauss_newton_condition_limits():
    rng = np.random.default_rng(9)
    sizes = [3, 4]
    jac = rng.standard_normal((2, 2, 7))
    scales = [np.array([2.0, 5.0]), np.array([0.5, 3.0])]
    d = np.concatenate([np.repeat(s[:, None], n, axis=1) for s, n in zip(scales, sizes)], axis=1)
    inside = (d[:, :, None] * jac.transpose(0, 2, 1)) @ rng.standard_normal((2, 2))  # D J^T M
    np.testing.assert_allclose(ref.gauss_newton_condition(jac, inside, scales, sizes), 1.0, rtol=1e-12)
    # J^T itself is not in col(D J^T) when the s_i differ
    assert np.all(ref.gauss_newton_condition(jac, jac.transpose(0, 2, 1), scales, sizes) < 1.0 - 1e-3)


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
    # independently: the norm of Q's projection onto row(J_b) (an orthonormal basis from
    # scipy), over the norm of Q
    from scipy.linalg import orth

    for b in range(len(jac)):
        basis = orth(jac[b].T)
        expected = np.linalg.norm(basis @ basis.T @ random_q) / np.linalg.norm(random_q)
        assert value[b] == pytest.approx(expected, rel=1e-10)


def test_gauss_newton_theorem_simulated_dfc_toy_network():
    """Theorem 3 with simulated DFC: toy student 15-10-10-5 tanh/linear at the published
    controller settings (k_p 1.5, alpha 0.0015, dt 0.005, 1000 steps, lambda 0.05), batch
    size 1, Q^b = D^b J^b^T; the voltage difference update of the last step with layer
    rates 1/s_i against the damped GN step (damping alpha) from the finite-difference
    parameter Jacobian: below 1 deg (the simulated state is within about 0.5 deg of the
    linearised one after 1000 steps, SCIENCE.md section 3). With the network's own
    (weight-product) feedback and one learning rate it is several degrees away."""
    from rate_toy import TOY_CONTROLLER, TOY_TARGET_STEPSIZE

    from dendritic.rate import dfc

    rng = np.random.default_rng(11)
    net = RateNetwork.create([15, 10, 10, 5], rng=rng)
    x = rng.uniform(-1, 1, (4, 15))
    y = rng.standard_normal((4, 5))
    _, rates = net.forward(x)
    target = dfc.output_target(rates[-1], losses.mse_gradient(rates[-1], y), TOY_TARGET_STEPSIZE)
    alpha = TOY_CONTROLLER.alpha
    j_theta = _parameter_jacobian(net, x)
    q = ref.gauss_newton_feedback(net, x)
    theorem, general = [], []
    for b in range(len(x)):
        one = slice(b, b + 1)
        delta = target[b] - rates[-1][b]
        gn = j_theta[b].T @ np.linalg.solve(j_theta[b] @ j_theta[b].T + alpha * np.eye(5), delta)
        for feedback, scaled, out in ((q[one], True, theorem), (None, False, general)):
            final = dfc.simulate(net, x[one], target[one], TOY_CONTROLLER, feedback=feedback,
                                 accumulate_updates=False).final
            pre = [x[b]] + [r[0] for r in final.r[:-1]]
            dv = [v[0] - vb[0] for v, vb in zip(final.v, final.v_basal)]
            s = [r @ r + 1 if scaled else 1.0 for r in pre]
            update = np.concatenate([np.outer(d, r).ravel() / k for d, r, k in zip(dv, pre, s)]
                                    + [d / k for d, k in zip(dv, s)])
            out.append(ref.angle(update, gn))
    assert max(theorem) < 1.0
    assert min(general) > 3.0
