"""A plain, unoptimised Euler integration of the DFC dynamics, to check ``dfc.simulate``.

Written step by step from the equations in ``dendritic/rate/dfc.py``'s docstring
(Meulemans et al. 2021): per-layer lists, NumPy's own ``@``, the whole trajectory kept,
no running sums, no blocking of matrix products, no threads. Noise contract shared with
``simulate``: at every Euler step, one (B, N) standard-normal draw whose columns are the
layers in layer order, whatever the transmission order.
"""

import numpy as np


def reference_simulation(net, x, target, s, feedback=None, rng=None, voltages=None, rates=None):
    """Returns dict: u, v, v_basal, v_apical, r (final, per layer), mean dW and db (trajectory
    average of (phi(v_i) - phi(v_i^B)) r_{i-1}^T over the batch), feedback correlation
    sum_t v_i^A(t) u(t+1)^T / (T B), and the per-step output rates."""
    if voltages is None:
        voltages, rates = net.forward(x)
    depth = net.depth
    batch = x.shape[0]
    if feedback is None:
        feedback = net.feedback
    elif isinstance(feedback, np.ndarray):
        bounds = np.cumsum(net.sizes[1:])[:-1]
        feedback = np.split(feedback, bounds, axis=-2)
    tau_a = s.dt if s.apical_time_constant is None else s.apical_time_constant
    sigma_out = s.sigma if s.sigma_output is None else s.sigma_output
    scales = [s.sigma] * (depth - 1) + [sigma_out]
    v = [vi.copy() for vi in voltages]
    v_basal = [vi.copy() for vi in voltages]
    v_apical = [np.zeros_like(vi) for vi in voltages]
    r = [ri.copy() for ri in rates]
    u = np.zeros_like(target)
    u_int = np.zeros_like(target)
    dW_steps, db_steps, fb_steps, outputs = [], [], [], []
    order = list(range(depth)) if s.inst_transmission else list(range(depth - 1, -1, -1))
    for _ in range(s.steps - 1):
        e = target - r[-1]
        if s.proactive:
            u, u_int = _controller(s, e, u, u_int)
        apical_before = [a.copy() for a in v_apical]
        noise = None
        if any(scale > 0 for scale in scales):
            draw = rng.standard_normal((batch, sum(net.sizes[1:])), dtype=x.dtype)
            noise = np.split(draw, np.cumsum(net.sizes[1:])[:-1], axis=1)
        for i in order:
            r_prev = x if i == 0 else r[i - 1]
            v_basal[i] = r_prev @ net.weights[i].T + net.biases[i]
            q = feedback[i]
            drive = np.einsum("bnk,bk->bn", q, u) if q.ndim == 3 else u @ q.T
            v_apical[i] = v_apical[i] + (s.dt / tau_a) * (drive - v_apical[i])
            if noise is not None and scales[i] > 0:
                v_apical[i] = v_apical[i] + scales[i] * np.sqrt(s.dt) / tau_a * noise[i]
            v[i] = v[i] + (s.dt / s.time_constant_ratio) * (v_apical[i] + v_basal[i] - v[i])
            r[i] = net.phi(i, v[i])
        if not s.proactive:
            u, u_int = _controller(s, e, u, u_int)
        pre = [x] + r[:-1]
        signals = [net.phi(i, v[i]) - net.phi(i, v_basal[i]) for i in range(depth)]
        dW_steps.append([sig.T @ p for sig, p in zip(signals, pre)])
        db_steps.append([sig.sum(axis=0) for sig in signals])
        fb_steps.append([a.T @ u for a in apical_before])
        outputs.append(r[-1].copy())
    n = (s.steps - 1) * batch
    return {
        "u": u, "u_int": u_int, "v": v, "v_basal": v_basal, "v_apical": v_apical, "r": r,
        "dW": [sum(step[i] for step in dW_steps) / n for i in range(depth)],
        "db": [sum(step[i] for step in db_steps) / n for i in range(depth)],
        "feedback_correlation": [sum(step[i] for step in fb_steps) / n for i in range(depth)],
        "r_out": np.stack(outputs),
    }


def _controller(s, e, u, u_int):
    if s.k_p > 0:
        u_int = u_int + s.dt * (e - s.alpha * u)
        return u_int + s.k_p * e, u_int
    return u + s.dt * (e - s.alpha * u), u_int
