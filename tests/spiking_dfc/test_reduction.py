"""The rate reduction of the spiking DFC network (dendritic.spiking_dfc.reduction) against
independent computations: a plain Euler integration of the controlled rate dynamics,
finite differences, explicit loops."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, mV, ms

from dendritic import spiking_dfc as dfc
from dendritic.neurons import load_neuron
from dendritic.rate.references import full_jacobian

ALPHA = 0.05


@pytest.fixture(scope="module")
def neuron():
    return load_neuron("sacramento2018_pyramidal").with_parameters(theta=-1 * mV, tau_basal=20 * ms)


def problem(neuron, feedback="pseudoinverse", seed=3, sizes=(5, 7, 6, 3), batch=4, step=0.4):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.012, (b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    net = dfc.RateReduction.for_neuron(neuron, weights, [np.zeros((n, sizes[-1])) for n in sizes[1:]])
    x = rng.uniform(10, 40, (batch, sizes[0]))
    net.feedback = dfc.jacobian_feedback(net, x, feedback, 1.0)
    r_out = net.forward(x)[1][-1]
    target = r_out + step * (rng.uniform(10, 50, r_out.shape) - r_out)
    return net, x, target


def euler_controlled(net, x, target, alpha, k_p=0.5, tau_v=0.02, tau_c=0.1, dt=5e-4, steps=8000):
    """tau_v dv_l/dt = -v_l + W~ r_{l-1} + Q~ c,  tau_c dc_int/dt = e - alpha c,  c = c_int + k_p e."""
    v = [np.zeros((x.shape[0], w.shape[0])) for w in net.weights]
    c_int = np.zeros(target.shape)
    for _ in range(steps):
        r = [net.phi(0, vl) for vl in v]
        c = c_int + k_p * (target - r[-1])
        pre = [x] + r[:-1]
        v = [vl + dt / tau_v * (-vl + pre[l] @ net.weights[l].T + c @ net.feedback[l].T) for l, vl in enumerate(v)]
        c_int = c_int + dt / tau_c * ((target - r[-1]) - alpha * c)
    return c_int + k_p * (target - net.phi(0, v[-1])), [net.phi(0, vl) for vl in v]


@pytest.mark.parametrize("feedback", ["pseudoinverse", "transpose"])
def test_controlled_steady_state_is_the_end_point_of_the_dynamics(neuron, feedback):
    """Newton's fixed point equals where Euler-integrated rate and controller dynamics
    (with a proportional term, which the fixed point must not depend on) end up."""
    net, x, target = problem(neuron, feedback)
    steady = dfc.controlled_steady_state(net, x, target, ALPHA)
    assert steady.residual < 1e-9
    control, rates = euler_controlled(net, x, target, ALPHA)
    np.testing.assert_allclose(steady.control, control, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(steady.r, rates):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)
    np.testing.assert_allclose(target - steady.r[-1], ALPHA * steady.control, atol=1e-8)


def test_linearised_control_is_first_order_accurate(neuron):
    """|c_exact - c_linear| shrinks quadratically with the output error delta_L (its
    ratio to |c| linearly: by 10x for every 10x smaller delta_L)."""
    net, x, target = problem(neuron)
    r_out = net.forward(x)[1][-1]
    gaps = []
    for scale in (1.0, 0.1, 0.01):
        t = r_out + scale * (target - r_out)
        exact = dfc.controlled_steady_state(net, x, t, ALPHA).control
        linear = dfc.linearised_steady_state(net, x, t, ALPHA).control
        gaps.append(np.abs(exact - linear).max() / np.abs(exact).max())
    for larger, smaller in zip(gaps[:-1], gaps[1:]):
        assert 0.05 < smaller / larger < 0.2


def test_jacobian_of_the_reduction_matches_finite_differences(neuron):
    """phi' and the layer chain used by the references module: d r_L / d v_l by central
    differences of the controlled forward pass (a perturbation of layer l's potential)."""
    net, x, _ = problem(neuron)
    voltages, _ = net.forward(x)
    jac = full_jacobian(net, voltages)
    h = 1e-5
    column = 0
    for l, n in enumerate(net.sizes[1:]):
        for unit in range(n):
            rates = []
            for sign in (1, -1):
                bias = [b.copy() for b in net.biases]
                bias[l][unit] += sign * h
                shifted = dfc.RateReduction(net.weights, bias, net.feedback, net.transfer, net.phi_max, net.beta,
                                            net.theta, net.k)
                rates.append(shifted.forward(x)[1][-1])
            np.testing.assert_allclose(jac[:, :, column], (rates[0] - rates[1]) / (2 * h), rtol=1e-6, atol=1e-9)
            column += 1


def test_feedback_choices(neuron):
    """Pseudoinverse: J Q~ = gain I at the batch-mean Jacobian; transpose: J Q~ symmetric
    with largest eigenvalue gain."""
    net, x, _ = problem(neuron)
    jac = full_jacobian(net, net.forward(x)[0]).mean(axis=0)
    np.testing.assert_allclose(jac @ net.full_feedback, np.eye(3), atol=1e-10)
    q = dfc.jacobian_feedback(net, x, "transpose", 2.0)
    jq = jac @ np.concatenate(q)
    np.testing.assert_allclose(jq, jq.T, atol=1e-12)
    assert np.linalg.eigvalsh(jq)[-1] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="feedback"):
        dfc.jacobian_feedback(net, x, "random", 1.0)


def test_dfc_update_is_the_batch_sum_of_outer_products(neuron):
    net, x, target = problem(neuron)
    state = dfc.controlled_steady_state(net, x, target, ALPHA)
    update = dfc.dfc_update(net, x, state)
    pre = [x] + state.r[:-1]
    for l in range(net.depth):
        expected = np.zeros_like(net.weights[l])
        for b in range(x.shape[0]):
            v_basal = net.weights[l] @ pre[l][b]
            v = v_basal + net.feedback[l] @ state.control[b]
            expected += np.outer(net.phi(l, v) - net.phi(l, v_basal), pre[l][b])
        np.testing.assert_allclose(update[l], expected, rtol=1e-12)


def test_reduction_uses_the_neurons_transfer_function(neuron):
    """phi(v) of the reduction = the neuron's softplus at E_L + v, in Hz (theta relative to E_L)."""
    net, _, _ = problem(neuron)
    p = neuron.parameters
    v = np.linspace(-3, 3, 7)
    expected = float(p["phi_max"] / Hz) * np.log1p(np.exp(float(p["beta"] * mV) * (v - float((p["theta"] - p["E_L"]) / mV))))
    np.testing.assert_allclose(net.phi(0, v), expected, rtol=1e-12)


def test_mapping_factors(neuron):
    """g_B/g_tot, g_A/g_tot from the neuron's conductances; the mean PSP per rate of a
    Bernoulli spike train on the time grid, against a direct simulation of the trace."""
    basal, apical = dfc.coupling_factors(neuron)
    assert basal == pytest.approx(1.0 / 1.9) and apical == pytest.approx(0.8 / 1.9)
    dt, steps = 1e-4, 20_000
    tau = dfc.psp_time_constant(neuron, 0.1 * ms)
    spikes = np.random.default_rng(0).random(steps) < 30.0 * dt
    trace, decay, total = 0.0, np.exp(-dt / 0.02), 0.0
    for s in spikes:
        total += trace
        trace = decay * trace + s
    # each spike at step s contributes decay^k at steps s+1 .. end: tau' (1 - decay^(steps-1-s)) / dt
    cut = decay ** (steps - 1 - np.flatnonzero(spikes))
    np.testing.assert_allclose(total * dt, tau * np.sum(1 - cut), rtol=1e-10)
    assert tau == pytest.approx(0.02, rel=3e-3)


def _weight_jacobian(net, x):
    """d r_L / d W~ (all layers, row-major) of one sample by central differences: (n_L, P)."""
    h = 1e-6
    columns = []
    for w in net.weights:
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + h
            up = net.forward(x)[1][-1][0]
            w[idx] = old - h
            down = net.forward(x)[1][-1][0]
            w[idx] = old
            columns.append((up - down) / (2 * h))
    return np.stack(columns, axis=1)


def test_gauss_newton_feedback_gives_the_gn_step_as_lambda_goes_to_zero(neuron):
    """Meulemans et al. 2021, Theorem 3, for the reduction: one sample, feedback
    'gauss_newton' (Q~ = D J^T (J D J^T)^-1, D = blockdiag(||r_{l-1}||^2 I)), the exact
    controlled steady state, the voltage difference rule (v - v^B) r_{l-1}^T with layer
    rates 1/||r_{l-1}||^2, against the undamped GN step J_W^T (J_W J_W^T)^-1 delta_L with
    J_W by finite differences. The deviation is the nonlinearity of the finite target, so
    the angle falls in proportion to lambda (first order) to 0, and J Q~ = I."""
    angles = []
    for step in (0.4, 0.1, 0.025):
        net, x, target = problem(neuron, feedback="gauss_newton", batch=1, step=step)
        jq = full_jacobian(net, net.forward(x)[0])[0] @ net.full_feedback
        np.testing.assert_allclose(jq, np.eye(3), atol=1e-10)
        state = dfc.controlled_steady_state(net, x, target, ALPHA)
        pre = [x[0]] + [r[0] for r in state.r[:-1]]
        update = np.concatenate([np.outer(v[0] - vb[0], r).ravel() / (r @ r)
                                 for v, vb, r in zip(state.v, state.v_basal, pre)])
        j_w = _weight_jacobian(net, x)
        delta = target[0] - net.forward(x)[1][-1][0]
        gn = j_w.T @ np.linalg.solve(j_w @ j_w.T, delta)
        angles.append(np.degrees(np.arccos(update @ gn / np.linalg.norm(update) / np.linalg.norm(gn))))
    # first order in lambda: each quartering of lambda quarters the angle (measured 7.39, 1.85, 0.46 deg)
    assert 0.2 < angles[1] / angles[0] < 0.3 and 0.2 < angles[2] / angles[1] < 0.3
