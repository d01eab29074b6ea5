"""``dfc.simulate`` (in-place, blocked running sums, block noise draws) against the plain
step-by-step integration in ``reference_dynamics`` with stored trajectories."""

import numpy as np
import pytest
from reference_dynamics import reference_simulation

from dendritic.rate import dfc
from dendritic.rate import references as ref
from dendritic.rate.network import RateNetwork

BASE = dfc.ControllerSettings(alpha=0.01, k_p=1.5, dt=0.01, steps=40, time_constant_ratio=0.2)
VARIANTS = {
    "default": {},
    "proactive": {"proactive": True},
    "delayed_transmission": {"inst_transmission": False},
    "integral_only": {"k_p": 0.0},
    "slow_apical": {"apical_time_constant": 0.1},
    "noise": {"sigma": 0.05, "apical_time_constant": 0.1},
    "output_noise": {"sigma": 0.05, "sigma_output": 0.01, "inst_transmission": False, "proactive": True},
}


def _problem(dtype=np.float64, sizes=(7, 6, 5, 3), batch=9, seed=0):
    rng = np.random.default_rng(seed)
    net = RateNetwork.create(list(sizes), rng=rng, bias_scale=0.3).astype(dtype)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    target = (net.predict(x) + 0.1 * rng.standard_normal((batch, sizes[-1]))).astype(dtype)
    return net, x, target


def _assert_close(got, want, rtol):
    for g, w in zip(got, want):
        scale = np.abs(w).max()
        assert np.abs(g - w).max() <= rtol * scale, (np.abs(g - w).max() / scale, rtol)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("chunk", [1, 7, None])
def test_simulate_equals_plain_integration(variant, chunk):
    net, x, target = _problem()
    s = BASE.with_(**VARIANTS[variant])
    sim = dfc.simulate(net, x, target, s, rng=np.random.default_rng(5), accumulate_feedback=True,
                       chunk_steps=chunk, record=("r_out", "u", "v_apical", "error"))
    want = reference_simulation(net, x, target, s, rng=np.random.default_rng(5))
    _assert_close(sim.mean_weight_update, want["dW"], 1e-10)
    _assert_close(sim.mean_bias_update, want["db"], 1e-10)
    _assert_close(sim.feedback_correlation, want["feedback_correlation"], 1e-10)
    _assert_close([sim.final.u, sim.u_int, *sim.final.v, *sim.final.v_apical, *sim.final.r, *sim.final.v_basal],
                  [want["u"], want["u_int"], *want["v"], *want["v_apical"], *want["r"], *want["v_basal"]], 1e-10)
    _assert_close([sim.trajectory["r_out"]], [want["r_out"]], 1e-10)
    assert sim.trajectory["u"].shape == (s.steps - 1,) + target.shape
    assert sim.trajectory["v_apical"].shape == (s.steps - 1, len(x), sum(net.sizes[1:]))
    np.testing.assert_allclose(sim.trajectory["error"][-1], np.linalg.norm(target - want["r"][-1], axis=1),
                               rtol=1e-10)
    # the comparison can fail: another noise seed or one step fewer is visibly different
    other = reference_simulation(net, x, target, s.with_(steps=s.steps - 1), rng=np.random.default_rng(6))
    assert max(np.abs(a - b).max() for a, b in zip(sim.mean_weight_update, other["dW"])) > 1e-6


def test_simulate_per_sample_feedback_and_float32():
    net, x, target = _problem()
    voltages, _ = net.forward(x)
    q = ref.full_jacobian(net, voltages).transpose(0, 2, 1).copy()
    s = BASE.with_(sigma=0.02, apical_time_constant=0.05)
    sim = dfc.simulate(net, x, target, s, feedback=q, rng=np.random.default_rng(1), accumulate_feedback=True)
    want = reference_simulation(net, x, target, s, feedback=q, rng=np.random.default_rng(1))
    _assert_close(sim.mean_weight_update, want["dW"], 1e-10)
    _assert_close(sim.feedback_correlation, want["feedback_correlation"], 1e-10)
    # float32 against the same plain integration in float32 (same noise numbers)
    net32, x32, t32 = net.astype(np.float32), x.astype(np.float32), target.astype(np.float32)
    sim32 = dfc.simulate(net32, x32, t32, s, rng=np.random.default_rng(1), accumulate_feedback=True)
    want32 = reference_simulation(net32, x32, t32, s, rng=np.random.default_rng(1))
    assert sim32.final.u.dtype == np.float32
    _assert_close(sim32.mean_weight_update, want32["dW"], 1e-5)
    _assert_close(sim32.feedback_correlation, want32["feedback_correlation"], 1e-5)


def test_simulate_wide_float32_layers_use_blocked_products():
    """Layers wider than the product block (float32 products summed over K blocks)."""
    net, x, target = _problem(np.float32, sizes=(300, 260, 200, 4), batch=16, seed=3)
    s = BASE.with_(steps=12)
    sim = dfc.simulate(net, x, target, s, chunk_steps=5)
    net64 = net.astype(np.float64)
    want = reference_simulation(net64, x.astype(np.float64), target.astype(np.float64), s)
    _assert_close(sim.mean_weight_update, want["dW"], 2e-4)
    _assert_close([sim.final.u], [want["u"]], 1e-4)


@pytest.mark.parametrize("n_dropped", [2, 9])
@pytest.mark.parametrize("variant", ["dfc", "dfc_ss"])
def test_nonconverged_samples_are_left_out(monkeypatch, n_dropped, variant):
    """A few dropped (their share subtracted) or most dropped (kept ones re-simulated):
    the update equals the plain integration of the kept samples alone, times their share."""
    net, x, target = _problem(batch=12)
    s = BASE
    keep = np.ones(12, dtype=bool)
    keep[np.random.default_rng(0).choice(12, n_dropped, replace=False)] = False

    def fake_convergence(sim, r_ff, alpha):
        return keep.copy(), np.zeros(12, dtype=bool), np.zeros(12)

    monkeypatch.setattr(dfc, "convergence", fake_convergence)
    dW, db, info = dfc.dfc_update(net, x, target, s, variant, include_nonconverged=False)
    assert info["converged_fraction"] == pytest.approx(keep.mean())
    want = reference_simulation(net, x[keep], target[keep], s)
    share = keep.sum() / 12
    if variant == "dfc":
        expected_W, expected_b = [w * share for w in want["dW"]], [b * share for b in want["db"]]
    else:
        pre = [x[keep]] + want["r"][:-1]
        signals = [net.phi(i, want["v"][i]) - net.phi(i, want["v_basal"][i]) for i in range(net.depth)]
        expected_W = [sig.T @ p / 12 for sig, p in zip(signals, pre)]
        expected_b = [sig.sum(axis=0) / 12 for sig in signals]
    _assert_close(dW, expected_W, 1e-9)
    _assert_close(db, expected_b, 1e-9)
    full, _, _ = dfc.dfc_update(net, x, target, s, variant, include_nonconverged=True)
    assert max(np.abs(a - b).max() for a, b in zip(full, dW)) > 1e-4


def test_noise_blocks_equal_consecutive_draws():
    """The block draw equals consecutive per-step draws (the generator's stream is continuous)."""
    for dtype in (np.float32, np.float64):
        blocks = dfc._NoiseBlocks(np.random.default_rng(3), 4, [3, 2], [1.0, 2.0], 7, dtype, block_bytes=330)
        assert 1 < blocks.block_steps < 7
        rng = np.random.default_rng(3)
        for _ in range(7):
            want = rng.standard_normal((4, 5), dtype=dtype) * np.array([1, 1, 1, 2, 2], dtype=dtype)
            np.testing.assert_array_equal(blocks.next(), want)
        with pytest.raises(RuntimeError):
            blocks.next()


def test_noise_blocks_through_the_helper_thread():
    from dendritic.rate import threads

    blocks = dfc._NoiseBlocks(np.random.default_rng(4), 3, [2, 2], [0.5, 1.0], 9, np.float64,
                              executor=threads._INLINE if not threads.HELPER_THREAD else threads.helper(),
                              block_bytes=100)
    rng = np.random.default_rng(4)
    for _ in range(9):
        np.testing.assert_array_equal(blocks.next(), rng.standard_normal((3, 4)) * [0.5, 0.5, 1.0, 1.0])
    blocks.close()


@pytest.mark.parametrize("helper_thread", [0, 1])
def test_helper_thread_gives_identical_results(monkeypatch, helper_thread):
    """The helper thread (trajectory sums, noise blocks) changes no number, and the
    generator ends in the same state."""
    from dendritic.rate import threads

    net, x, target = _problem(np.float32, sizes=(20, 16, 12, 3), batch=10)
    s = BASE.with_(steps=50, sigma=0.03, apical_time_constant=0.1)
    runs = []
    for value in (0, helper_thread):
        monkeypatch.setattr(threads, "HELPER_THREAD", value)
        rng = np.random.default_rng(8)
        sim = dfc.simulate(net, x, target, s, rng=rng, accumulate_feedback=True, chunk_steps=4)
        runs.append((sim, rng.standard_normal(3)))
    (a, after_a), (b, after_b) = runs
    for got, want in zip(a.mean_weight_update + a.feedback_correlation + [a.final.u],
                         b.mean_weight_update + b.feedback_correlation + [b.final.u]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(after_a, after_b)


@pytest.mark.parametrize("sizes", [(7, 3), (7, 6, 3), (7, 6, 5, 4, 3)])
@pytest.mark.parametrize("chunk", [1, 7, None])
def test_simulate_equals_plain_integration_at_other_depths(sizes, chunk):
    """One layer (the output layer is also the first, with constant basal input), two and
    four layers; the deviation form and its slots handle every depth."""
    net, x, target = _problem(sizes=sizes)
    s = BASE.with_(proactive=True)
    sim = dfc.simulate(net, x, target, s, chunk_steps=chunk)
    want = reference_simulation(net, x, target, s)
    _assert_close(sim.mean_weight_update + sim.mean_bias_update, want["dW"] + want["db"], 1e-10)
    _assert_close([sim.final.u, *sim.final.v, *sim.final.r, *sim.final.v_basal],
                  [want["u"], *want["v"], *want["r"], *want["v_basal"]], 1e-10)


def test_simulate_converges_to_the_continuous_dynamics():
    """Independent of both Euler schemes: the controlled dynamics of Meulemans et al. 2021
    (eqs. 1-5; time in units of tau_u) as an ODE solved by scipy (LSODA, tight
    tolerances),

        tau_v/tau_u dv_i/dt = -v_i + W_i phi(v_{i-1}) + b_i + Q_i u,   v_0 = x (phi_0 = id)
        du_int/dt = e - alpha u,   u = u_int + k_p e,   e = r_L* - phi(v_L),

    from the feedforward state and u_int = 0. ``simulate``'s final state approaches it as
    dt -> 0, at first order (the error halves when dt halves)."""
    from scipy.integrate import solve_ivp

    net, x, target = _problem(batch=3)
    s = BASE.with_(k_p=0.5, time_constant_ratio=0.5)
    T = 2.0
    sizes = net.sizes[1:]
    splits = np.cumsum(sizes)[:-1]

    def unpack(y):
        v = np.split(y[:sum(sizes) * len(x)].reshape(len(x), sum(sizes)), splits, axis=1)
        return v, y[sum(sizes) * len(x):].reshape(len(x), sizes[-1])

    def rhs(_, y):
        v, u_int = unpack(y)
        e = target - net.phi(len(sizes) - 1, v[-1])
        u = u_int + s.k_p * e
        dv, pre = [], x
        for i in range(len(sizes)):
            drive = pre @ net.weights[i].T + net.biases[i] + u @ net.feedback[i].T
            dv.append((-v[i] + drive) / s.time_constant_ratio)
            pre = net.phi(i, v[i])
        return np.concatenate([np.concatenate(dv, axis=1).ravel(), (e - s.alpha * u).ravel()])

    voltages, _ = net.forward(x)
    y0 = np.concatenate([np.concatenate(voltages, axis=1).ravel(), np.zeros(len(x) * sizes[-1])])
    exact, _ = unpack(solve_ivp(rhs, (0, T), y0, method="LSODA", rtol=1e-11, atol=1e-13).y[:, -1])
    errors = []
    for dt in (0.004, 0.002, 0.001):
        sim = dfc.simulate(net, x, target, s.with_(dt=dt, steps=int(round(T / dt)) + 1), accumulate_updates=False)
        errors.append(max(np.abs(a - b).max() for a, b in zip(sim.final.v, exact)))
    print("max |v - v_ode| at dt = 0.004, 0.002, 0.001:", errors)
    assert errors[-1] < 1e-3 * max(np.abs(v).max() for v in exact)
    assert 1.6 < errors[0] / errors[1] < 2.4 and 1.6 < errors[1] / errors[2] < 2.4
