"""Deep Feedback Control: network dynamics under a PI controller, its analytic steady
state, the dendritic weight update and the feedback ("sleep") learning rule.

Source: Meulemans et al. 2021 (NeurIPS), doi:10.48550/arXiv.2106.07887; published code
``meulemansalex/deep_feedback_control``.

Continuous dynamics (time in units of tau_u; Meulemans et al. 2021, eqs. 1-5):

    tau_v/tau_u dv_i/dt = -v_i + v_i^B + v_i^A      v_i^B = W_i r_{i-1} + b_i   (basal)
    tau_A dv_i^A/dt    = -v_i^A + Q_i u            (apical; tau_A = dt: instantaneous)
    e = r_L* - r_L(t)      u = u_int + k_p e       du_int/dt = e - alpha u
    r_L* = r_L^- - lambda dL/dr_L                  (r^- : feedforward pass)

Weight update (dendritic prediction of the soma, "nonlinear difference" rule):

    Delta W_i = < (phi(v_i) - phi(v_i^B)) r_{i-1}^T >     (batch and time average)

v_i^B uses the *current* presynaptic rates, so phi(v_i) - phi(v_i^B) comes from the
apical input alone. Variants: DFC averages the update over the simulated trajectory,
DFC-SS takes the last step, DFC-SSA uses the linearised steady state

    u_ss = (J Q + alpha I)^-1 delta_L,    Delta v_i = Q_i u_ss,    delta_L = r_L* - r_L^-

followed by a nonlinear forward sweep v_i = W_i r_{i-1} + b_i + Delta v_i (as in the
published code). With k_p > 0 the stationary point still satisfies e = alpha u, so
r_L = r_L* - alpha u; the authors' convergence test is
||r_L(T) - (r_L* - alpha u(T))|| / ||r_L^-|| < 1e-5 and ||e(T)|| < epsilon^2 ||e(0)||.

Feedback learning: target r_L* = r_L^- (own output), white noise of size sigma in the
apical compartments, and dQ_i ~ -(1/sigma^2) < v_i^A u^T > - beta Q_i.

The Euler scheme follows ``meulemansalex/deep_feedback_control``
(``networks/tpdi_networks.py``, ``DFCNetwork.controller``): layer by layer, with
instantaneous transmission (layer i sees layer i-1's new rates of the same step)
unless disabled, the controller updated after (or, ``proactive``, before) the layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dendritic.rate.network import ActivationIncrement, RateNetwork, matmul
from dendritic.rate.references import full_jacobian
from dendritic.rate.threads import helper, limited

__all__ = [
    "ControllerSettings",
    "output_target",
    "strong_feedback_target",
    "steady_state_control",
    "SteadyState",
    "analytic_steady_state",
    "weight_update_from_state",
    "Simulation",
    "simulate",
    "convergence",
    "dfc_update",
    "feedback_gradients",
]


@dataclass(frozen=True)
class ControllerSettings:
    """Parameters of the controlled dynamics (dimensionless; time in units of tau_u).

    alpha: controller leak; k_p: proportional gain; dt: Euler step; steps: number of
    stored time points (steps - 1 Euler updates, as in the published code);
    time_constant_ratio: tau_v / tau_u; apical_time_constant: tau_A / tau_u, ``None``
    for an instantaneous apical compartment (tau_A = dt); sigma: apical noise (feedback
    learning only), sigma_output: noise on the output layer (default sigma).
    """

    alpha: float
    k_p: float
    dt: float
    steps: int
    time_constant_ratio: float
    apical_time_constant: float | None = None
    inst_transmission: bool = True
    proactive: bool = False
    sigma: float = 0.0
    sigma_output: float | None = None

    def __post_init__(self):
        if self.k_p < 0:
            raise ValueError(f"k_p = {self.k_p}: expected >= 0")
        if self.dt <= 0 or self.steps < 2:
            raise ValueError(f"dt = {self.dt}, steps = {self.steps}: expected dt > 0 and steps >= 2")
        if self.time_constant_ratio < self.dt:
            # forward Euler on v overshoots when dt > tau_v / tau_u
            raise ValueError(f"time_constant_ratio {self.time_constant_ratio} < dt {self.dt}: Euler unstable")

    def with_(self, **changes) -> "ControllerSettings":
        return replace(self, **changes)


def output_target(r_out: np.ndarray, output_gradient: np.ndarray, target_stepsize: float) -> np.ndarray:
    """r_L* = r_L^- - lambda dL/dr_L."""
    return r_out - target_stepsize * output_gradient


def strong_feedback_target(labels_one_hot: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """Strong-feedback DFC (Meulemans et al. 2022): the target is the (soft) label itself."""
    n = labels_one_hot.shape[1]
    return (1.0 - smoothing) * labels_one_hot + smoothing / n


def steady_state_control(jacobian: np.ndarray, feedback: np.ndarray, delta_L: np.ndarray, alpha: float) -> np.ndarray:
    """u_ss = (J Q + alpha I)^-1 delta_L per sample.

    ``jacobian`` (B, n_L, N); ``feedback`` stacked Q, (N, n_L) shared or (B, N, n_L) per
    sample; ``delta_L`` (B, n_L). Returns (B, n_L).
    """
    batch, n_out, n_all = jacobian.shape
    if feedback.ndim == 2:  # shared Q: one large product
        jq = (jacobian.reshape(batch * n_out, n_all) @ feedback).reshape(batch, n_out, -1)
    else:
        jq = jacobian @ feedback
    system = jq + alpha * np.eye(n_out, dtype=jacobian.dtype)
    return np.linalg.solve(system, delta_L[:, :, None])[:, :, 0]


def _apical(feedback_i: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Q_i u for a shared (n_i, n_L) or per-sample (B, n_i, n_L) feedback matrix."""
    if feedback_i.ndim == 3:
        return np.einsum("bnk,bk->bn", feedback_i, u)
    return u @ feedback_i.T


@dataclass
class SteadyState:
    """Per-layer somatic, basal and apical potentials and rates; control u (B, n_L).

    ``signal``: the plasticity signal phi(v_i) - phi(v_i^B) per layer, computed without
    cancellation where the state was made (``None``: formed from v and v_basal).
    """

    u: np.ndarray
    v: list[np.ndarray]
    v_basal: list[np.ndarray]
    v_apical: list[np.ndarray]
    r: list[np.ndarray]
    signal: list[np.ndarray] | None = None


def _split_feedback(net: RateNetwork, feedback):
    """Per-layer Q_i from None (the network's), a stacked array or a list."""
    if feedback is None:
        return list(net.feedback)
    if isinstance(feedback, np.ndarray):
        bounds = np.cumsum(net.sizes[1:])[:-1]
        return np.split(feedback, bounds, axis=-2)
    return list(feedback)


@limited
def analytic_steady_state(net: RateNetwork, x: np.ndarray, target: np.ndarray, alpha: float,
                          feedback=None, feedforward=None) -> SteadyState:
    """DFC-SSA: linearised steady state u_ss = (J Q + alpha I)^-1 delta_L, Delta v = Q u_ss.

    ``feedback``: None (the network's Q), stacked (N, n_L) or per-sample (B, N, n_L), or a
    list of per-layer matrices. ``feedforward``: optional (voltages, rates) of x.
    """
    voltages, rates = net.forward(x) if feedforward is None else feedforward
    q_layers = _split_feedback(net, feedback)
    q_full = np.concatenate(q_layers, axis=-2)
    # delta_L in float64 (see simulate), then in the network's precision
    delta = (np.asarray(target, dtype=np.float64) - rates[-1]).astype(net.dtype)
    u = steady_state_control(full_jacobian(net, voltages), q_full, delta, alpha)
    v, v_basal, v_apical, r, signal = [], [], [], [], []
    r_prev = x
    for i in range(net.depth):
        # the first layer's basal input W_1 x + b_1 is the feedforward pass's
        basal = voltages[0] if i == 0 else net.basal(i, r_prev)
        apical = _apical(q_layers[i], u)
        soma = basal + apical
        # phi(v_i^B + Q_i u) - phi(v_i^B), without cancellation
        change = ActivationIncrement(net.activations[i], basal)(apical, out=np.empty_like(apical))
        r_prev = net.phi(i, soma)
        v.append(soma), v_basal.append(basal), v_apical.append(apical), r.append(r_prev), signal.append(change)
    return SteadyState(u=u, v=v, v_basal=v_basal, v_apical=v_apical, r=r, signal=signal)


def weight_update_from_state(net: RateNetwork, x: np.ndarray, state: SteadyState, sample_mask=None):
    """Delta W_i = < (phi(v_i) - phi(v_i^B)) r_{i-1}^T >_batch, Delta b_i likewise.

    ``sample_mask``: optional boolean (B,); masked-out samples contribute zero, and the
    average still divides by the full batch.
    """
    batch = x.shape[0]
    pre = [x] + state.r[:-1]
    dW, db = [], []
    for i in range(net.depth):
        signal = state.signal[i] if state.signal is not None else net.phi(i, state.v[i]) - net.phi(i, state.v_basal[i])
        if sample_mask is not None:
            signal = signal * np.asarray(sample_mask, dtype=signal.dtype)[:, None]
        dW.append(matmul(signal.T, pre[i]) / batch)
        db.append(signal.sum(axis=0) / batch)
    return dW, db


@dataclass
class Simulation:
    """Result of :func:`simulate`.

    ``final``: state at the last time point. ``mean_weight_update`` /
    ``mean_bias_update``: the DFC update averaged over the steps - 1 Euler steps (and
    the batch); ``None`` unless requested. ``feedback_correlation``: per layer
    sum_t v_i^A(t) u(t+1)^T / (T B) (feedback learning). ``error_initial`` /
    ``error_final``: ||e|| per sample. ``trajectory``: optional dict of recorded arrays.
    ``delta``: r_L* - r_L^-; ``output_change``: r_L(T) - r_L^- (both (B, n_L)).
    """

    final: SteadyState
    u_int: np.ndarray
    error_initial: np.ndarray
    error_final: np.ndarray
    mean_weight_update: list[np.ndarray] | None = None
    mean_bias_update: list[np.ndarray] | None = None
    feedback_correlation: list[np.ndarray] | None = None
    trajectory: dict = field(default_factory=dict)
    delta: np.ndarray | None = None
    output_change: np.ndarray | None = None


@limited
def simulate(net: RateNetwork, x: np.ndarray, target: np.ndarray, settings: ControllerSettings,
             feedback=None, rng: np.random.Generator | None = None, accumulate_updates: bool = True,
             accumulate_feedback: bool = False, record: tuple[str, ...] = (),
             feedforward=None, chunk_steps: int | None = None) -> Simulation:
    """Euler-integrate the controlled network from the feedforward state.

    The state is integrated as deviations from the feedforward pass (dv_i = v_i - v_i^-,
    dr_i = r_i - r_i^-, e = delta_L - dr_L with delta_L = r_L* - r_L^-): the same Euler
    scheme, term by term, since v_i^- = W_i r_{i-1}^- + b_i cancels, but without the
    cancellation of subtracting potentials of order 1-10 that differ by 1e-6..1e-3
    (the plasticity signal phi(v_i) - phi(v_i^B) and the output error). In float32 the
    plain form lost most digits of the DFC update on trained Fashion-MNIST networks
    (13-69 degrees from float64 at the fixed-feedback settings, 1500 steps); this form
    stays within a degree. ``target`` may be float64 (delta_L is formed in float64).

    Running sums replace stored trajectories. The DFC update needs, per layer,
    sum_t (phi(v_i) - phi(v_i^B)) r_{i-1}^T: the rates and signals of ``chunk_steps``
    consecutive steps are kept and summed by one matrix product per layer (same sum,
    larger and faster products). For the first layer the presynaptic rates are the
    constant input, so only sum_t (phi(v_1) - phi(v_1^B)) is kept per sample and
    multiplied by x once, and W_1 x + b_1 is computed once. All arrays are allocated
    once and updated in place; the apical compartments of all layers are one (B, N)
    array driven by one product u Q^T per step (u does not change during the layer
    sweep). With noise, each Euler step uses one (B, N) standard normal draw, columns in
    layer order, scaled per layer (draws for blocks of steps are made at once, which gives
    the same numbers). ``record`` names arrays to store for every time point: any of "u",
    "v_apical", "r_out", "error".
    """
    s = settings
    noisy = s.sigma > 0 or bool(s.sigma_output)
    if noisy and rng is None:
        raise ValueError("noisy dynamics (sigma > 0) need an rng")
    for name in record:
        if name not in _RECORDABLE:
            raise ValueError(f"cannot record {name!r}: expected 'u', 'v_apical', 'r_out' or 'error'")
    dtype = net.dtype
    x = np.asarray(x, dtype=dtype)
    q_layers = _split_feedback(net, feedback)
    voltages, rates = net.forward(x) if feedforward is None else feedforward
    # delta_L = r_L* - r_L^- in float64 (exact for a float64 target r_L^- - lambda dL/dr_L)
    delta = (np.asarray(target, dtype=np.float64) - rates[-1]).astype(dtype)
    depth = net.depth
    batch = x.shape[0]
    sizes = net.sizes[1:]
    n_out = sizes[-1]
    n_all = sum(sizes)
    edges = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    n_updates = s.steps - 1
    tau_a = s.dt if s.apical_time_constant is None else s.apical_time_constant
    a_apical = s.dt / tau_a
    a_soma = s.dt / s.time_constant_ratio
    # Python floats: a NumPy float64 scalar would promote float32 state to float64
    noise_scale = [float(s.sigma * np.sqrt(s.dt) / tau_a)] * depth
    if s.sigma_output is not None:
        noise_scale[-1] = float(s.sigma_output * np.sqrt(s.dt) / tau_a)

    q_full = np.concatenate([np.asarray(q, dtype=dtype) for q in q_layers], axis=-2)
    per_sample_q = q_full.ndim == 3
    q_t = None if per_sample_q else np.ascontiguousarray(q_full.T)  # (n_L, N)
    w_t = [None] + [np.ascontiguousarray(w.T) for w in net.weights[1:]]
    # phi(v_i^- + d) - phi(v_i^-) without cancellation
    increments = [ActivationIncrement(name, np.asarray(v0, dtype=dtype), np.asarray(r0, dtype=dtype))
                  for name, v0, r0 in zip(net.activations, voltages, rates)]

    dv = [np.zeros((batch, n), dtype=dtype) for n in sizes]        # v_i - v_i^-
    dr = [np.zeros((batch, n), dtype=dtype) for n in sizes]        # r_i - r_i^-
    # v_i^B - v_i^- = W_i dr_{i-1}; the first layer's basal input W_1 x + b_1 is constant
    dv_basal = [None] + [np.zeros((batch, n), dtype=dtype) for n in sizes[1:]]
    work = [np.empty((batch, n), dtype=dtype) for n in sizes]
    apical = np.zeros((batch, n_all), dtype=dtype)
    apical_next = np.empty_like(apical) if (a_apical != 1.0 or accumulate_feedback) else apical
    drive = np.empty_like(apical) if a_apical != 1.0 else None
    u = np.zeros((batch, n_out), dtype=dtype)
    u_int = np.zeros_like(u)
    e = np.empty_like(u)
    tmp_u = np.empty_like(u)
    error_initial = np.linalg.norm(delta, axis=1)

    executor = helper()
    chunk, halves = 1, 1
    if accumulate_updates:
        chunk = max(1, min(n_updates, chunk_steps or max(1, 4096 // batch)))
        halves = 2 if chunk < n_updates else 1
    # Rate-change (and signal) history in two halves of ``chunk`` slots: slot h chunk + j
    # holds dr_i after the j-th step of a chunk; while the helper thread sums one half,
    # the main thread fills the other. With r_{i-1} = r_{i-1}^- + dr_{i-1},
    #   sum_t sig_i r_{i-1}^T = (sum_t sig_i)^T r_{i-1}^- + sum_t sig_i dr_{i-1}^T,
    # so only the per-sample signal sums S_i and the products with dr are accumulated.
    pending = [None] * halves
    if accumulate_updates:
        signal_slots = [np.empty((halves * chunk, batch, n), dtype=dtype) for n in sizes]
        # the first layer's basal input is constant, so its signal is dr_1 itself: one array
        dr_slots = [signal_slots[0]] + [np.empty((halves * chunk, batch, n), dtype=dtype) for n in sizes[1:-1]]
        sum_signal = [np.zeros((batch, n), dtype=dtype) for n in sizes]
        sum_dW = [None] + [np.zeros_like(w) for w in net.weights[1:]]
    if accumulate_feedback:
        sum_fb = np.zeros((n_all, n_out), dtype=dtype)
    noise = _NoiseBlocks(rng, batch, sizes, noise_scale, n_updates, dtype, executor) if noisy else None
    trajectory = {name: [] for name in record}
    order = range(depth) if s.inst_transmission else range(depth - 1, -1, -1)
    alpha, dt, k_p = s.alpha, s.dt, s.k_p

    def controller_step():
        # u_int += dt (e - alpha u); u = u_int + k_p e   (k_p = 0: u += dt (e - alpha u))
        np.multiply(u, alpha, out=tmp_u)
        np.subtract(e, tmp_u, out=tmp_u)
        np.multiply(tmp_u, dt, out=tmp_u)
        if k_p > 0:
            np.add(u_int, tmp_u, out=u_int)
            np.multiply(e, k_p, out=u)
            np.add(u, u_int, out=u)
        else:
            np.add(u, tmp_u, out=u)

    def flush(first, filled):
        rows = slice(first, first + filled)
        for i in range(depth):
            sum_signal[i] += signal_slots[i][rows].sum(axis=0)
            if i > 0:
                sig = signal_slots[i][rows].reshape(-1, sizes[i])
                pre = dr_slots[i - 1][rows].reshape(-1, sizes[i - 1])
                sum_dW[i] += matmul(sig.T, pre)

    def plasticity_signal(i, out):
        # phi(v_i) - phi(v_i^B) = dr_i - (phi(v_i^- + dv_i^B) - phi(v_i^-)), for layers i > 1
        # (the first layer's basal input is constant: its signal is dr_1)
        increments[i](dv_basal[i], out=out)
        return np.subtract(dr[i], out, out=out)

    def layer_views(array):
        return [array[:, edges[i]:edges[i + 1]] for i in range(depth)]

    views = {id(apical): layer_views(apical), id(apical_next): layer_views(apical_next)}
    slot = half = 0
    try:
        for step in range(n_updates):
            if slot == 0 and pending[half] is not None:
                pending[half].result()  # the helper has summed this half: reuse it
                pending[half] = None
            index = half * chunk + slot
            np.subtract(delta, dr[-1], out=e)
            if s.proactive:
                controller_step()
            # apical compartments of all layers: v^A <- v^A + (dt / tau_A) (Q u - v^A) + noise
            if per_sample_q:
                new_drive = np.einsum("bnk,bk->bn", q_full, u)
            else:
                new_drive = np.matmul(u, q_t, out=drive if drive is not None else apical_next)
            if a_apical == 1.0:
                if new_drive is not apical_next:
                    apical_next[...] = new_drive
            else:
                np.subtract(new_drive, apical, out=apical_next)
                apical_next *= a_apical
                apical_next += apical
            if noise is not None:
                apical_next += noise.next()
            apical_layers = views[id(apical_next)]
            for i in order:
                # v <- v + (dt / tau_v) (v^A + v^B - v), as dv <- dv + (dt / tau_v) (v^A + dv^B - dv)
                w = work[i]
                if i > 0:
                    dvb = dv_basal[i]
                    matmul(dr[i - 1], w_t[i], out=dvb, work=w)
                    np.add(apical_layers[i], dvb, out=w)
                    w -= dv[i]
                else:
                    np.subtract(apical_layers[0], dv[0], out=w)
                w *= a_soma
                dv[i] += w
                if accumulate_updates and (i == 0 or i < depth - 1):
                    dr[i] = dr_slots[i][index]   # written in place, read by layer i + 1 and the sums
                increments[i](dv[i], out=dr[i])
                if accumulate_updates and i > 0:
                    plasticity_signal(i, out=signal_slots[i][index])
            if not s.proactive:
                controller_step()
            if accumulate_feedback:
                # v^A(t) u(t+1)^T: the apical state before this step's update
                sum_fb += matmul(apical.T, u)
            if apical_next is not apical:
                apical, apical_next = apical_next, apical
            if accumulate_updates:
                slot += 1
                if slot == chunk or step == n_updates - 1:
                    pending[half] = executor.submit(flush, half * chunk, slot)
                    slot, half = 0, (half + 1) % halves
            for name in record:
                trajectory[name].append(_recorded(name, u, apical, rates[-1], dr[-1], delta))
    finally:
        for future in pending:
            if future is not None:
                future.result()
        if noise is not None:
            noise.close()

    v_apical = [apical[:, edges[i]:edges[i + 1]].copy() for i in range(depth)]
    signal = [dr[0].copy()] + [plasticity_signal(i, out=np.empty_like(dr[i])) for i in range(1, depth)]
    final = SteadyState(
        u=u,
        v=[v0 + d for v0, d in zip(voltages, dv)],
        v_basal=[np.array(voltages[0], dtype=dtype, copy=True)] + [v0 + d for v0, d in zip(voltages[1:], dv_basal[1:])],
        v_apical=v_apical,
        r=[r0 + d for r0, d in zip(rates, dr)],
        signal=signal,
    )
    result = Simulation(
        final=final,
        u_int=u_int,
        error_initial=error_initial,
        error_final=np.linalg.norm(delta - dr[-1], axis=1),
        trajectory={name: np.stack(values) for name, values in trajectory.items()},
        delta=delta,
        output_change=dr[-1].copy(),
    )
    if accumulate_updates:
        norm = 1.0 / (n_updates * batch)
        pre = [x] + list(rates[:-1])
        sum_dW = [matmul(sum_signal[i].T, pre[i]) + (0 if i == 0 else sum_dW[i]) for i in range(depth)]
        result.mean_weight_update = [w * norm for w in sum_dW]
        result.mean_bias_update = [sig.sum(axis=0) * norm for sig in sum_signal]
    if accumulate_feedback:
        scale = 1.0 / (n_updates * batch)
        result.feedback_correlation = [sum_fb[edges[i]:edges[i + 1]] * scale for i in range(depth)]
    return result


class _NoiseBlocks:
    """Scaled standard normal noise for ``steps`` Euler steps, drawn a block of steps at a time.

    Each step's noise is one (B, N) standard normal draw (columns: layer 1, layer 2, ...)
    times each layer's scale; a block of k steps is one (k, B, N) draw, which NumPy's
    generators fill with the same numbers as k consecutive (B, N) draws (tested). The
    next block is drawn by ``executor`` (the helper thread) while this one is used; the
    generator is used by one thread at a time and only for the announced steps, so the
    numbers and the generator's final state do not depend on the threading.
    """

    def __init__(self, rng, batch, sizes, scales, steps, dtype, executor=None, block_bytes=1 << 22):
        from dendritic.rate.threads import _INLINE

        self.rng = rng
        self.dtype = np.dtype(dtype)
        self.executor = executor if executor is not None else _INLINE
        shape = (batch, sum(sizes))
        per_step = batch * sum(sizes) * self.dtype.itemsize
        self.remaining = steps
        self.block_steps = max(1, min(steps, block_bytes // per_step))
        count = 2 if steps > self.block_steps else 1
        self.buffers = [np.empty((self.block_steps,) + shape, dtype=self.dtype) for _ in range(count)]
        self.scale_row = np.concatenate([np.full(n, scale, dtype=self.dtype) for n, scale in zip(sizes, scales)])
        self.current = -1
        self.position = self.available = 0
        self.future = self._submit(0)

    def _fill(self, buffer, count):
        block = buffer[:count]
        self.rng.standard_normal(out=block, dtype=self.dtype)
        block *= self.scale_row
        return count

    def _submit(self, which):
        count = min(self.block_steps, self.remaining)
        if count <= 0:
            return None
        self.remaining -= count
        return which, self.executor.submit(self._fill, self.buffers[which], count)

    def next(self) -> np.ndarray:
        """The next step's noise times each layer's scale, (B, N)."""
        if self.position >= self.available:
            if self.future is None:
                raise RuntimeError("noise requested for more steps than announced")
            which, future = self.future
            self.available = future.result()
            self.current, self.position = which, 0
            self.future = self._submit((which + 1) % len(self.buffers))
        self.position += 1
        return self.buffers[self.current][self.position - 1]

    def close(self) -> None:
        """Wait for a draw still running (after an error in the caller)."""
        if self.future is not None:
            self.future[1].result()
            self.future = None


_RECORDABLE = ("u", "v_apical", "r_out", "error")


def _recorded(name, u, apical, r_out_feedforward, dr_out, delta):
    if name == "u":
        return u.copy()
    if name == "v_apical":
        return apical.copy()
    if name == "r_out":
        return r_out_feedforward + dr_out
    return np.linalg.norm(delta - dr_out, axis=1)


def convergence(simulation: Simulation, r_out_feedforward: np.ndarray, alpha: float,
                threshold: float = 1e-5, epsilon: float = 0.5, divergence_threshold: float = 1.0):
    """The authors' per-sample convergence test.

    distance = ||r_L(T) - (r_L* - alpha u(T))|| / ||r_L^-||; converged if distance <
    ``threshold`` and ||e(T)|| < epsilon^2 ||e(0)||; diverged if distance >
    ``divergence_threshold``. Returns (converged, diverged, distance).

    The distance is formed from the deviations that :func:`simulate` integrates,
    (r_L(T) - r_L^-) - delta_L + alpha u, not from r_L(T) and r_L* (of order 10 at the
    output of a trained classifier, where float32 keeps 1e-6 of an error that may be
    1e-4). An output error at the rounding level of delta_L (||e(T)|| <= 4 eps
    ||delta_L||, eps the machine epsilon of the state) also counts as reduced: a sample
    with delta_L = 0 (nothing to control) fails the published e(T) < eps^2 e(0).
    """
    final = simulation.final
    distance = np.linalg.norm(simulation.output_change - simulation.delta + alpha * final.u, axis=1)
    distance = distance / np.linalg.norm(r_out_feedforward, axis=1)
    resolution = 4 * np.finfo(simulation.delta.dtype).eps * np.linalg.norm(simulation.delta, axis=1)
    reduced = (simulation.error_final < epsilon ** 2 * simulation.error_initial) | (simulation.error_final <= resolution)
    converged = (distance < threshold) & reduced
    diverged = distance > divergence_threshold
    return converged, diverged, distance


@limited
def dfc_update(net: RateNetwork, x: np.ndarray, target: np.ndarray, settings: ControllerSettings,
               variant: str = "dfc", feedback=None, include_nonconverged: bool = True,
               feedforward=None):
    """Weight and bias updates (to add, before the learning rate) of one DFC variant.

    ``variant``: "dfc" (trajectory average), "dfc_ss" (last simulated step) or
    "dfc_ssa" (analytic steady state, no simulation; uses ``settings.alpha`` only).
    Without ``include_nonconverged``, samples failing :func:`convergence` contribute
    zero (the batch average still divides by the full batch, as the published code).
    Returns (dW, db, info) with info: converged fraction and convergence distances.
    """
    if feedforward is None:
        feedforward = net.forward(x)
    if variant == "dfc_ssa":
        state = analytic_steady_state(net, x, target, settings.alpha, feedback=feedback, feedforward=feedforward)
        dW, db = weight_update_from_state(net, x, state)
        return dW, db, {"converged_fraction": float("nan")}
    if variant not in ("dfc", "dfc_ss"):
        raise ValueError(f"unknown DFC variant {variant!r}: expected 'dfc', 'dfc_ss' or 'dfc_ssa'")
    sim = simulate(net, x, target, settings, feedback=feedback, accumulate_updates=(variant == "dfc"),
                   feedforward=feedforward)
    converged, diverged, distance = convergence(sim, feedforward[1][-1], settings.alpha)
    info = {"converged_fraction": float(converged.mean()), "diverged_fraction": float(diverged.mean()),
            "distance": distance}
    keep = np.ones(len(x), dtype=bool) if include_nonconverged else converged
    if keep.all():
        if variant == "dfc":
            return sim.mean_weight_update, sim.mean_bias_update, info
        dW, db = weight_update_from_state(net, x, sim.final)
        return dW, db, info
    if not keep.any():
        return [np.zeros_like(w) for w in net.weights], [np.zeros_like(b) for b in net.biases], info
    if variant == "dfc_ss":
        dW, db = weight_update_from_state(net, x, sim.final, sample_mask=keep)
        return dW, db, info
    # Samples evolve independently, so a simulation of a subset reproduces their
    # trajectories: re-simulate the smaller of the two groups, and either subtract the
    # dropped samples' share of the batch sum or keep the kept samples' share.
    dropped = ~keep
    group = dropped if dropped.sum() < keep.sum() else keep
    sub = simulate(net, x[group], target[group], settings, feedback=_subset_feedback(feedback, group),
                   feedforward=([v[group] for v in feedforward[0]], [r[group] for r in feedforward[1]]))
    share = group.sum() / len(x)
    if group is keep:
        return ([w * share for w in sub.mean_weight_update], [b * share for b in sub.mean_bias_update], info)
    return ([w - share * d for w, d in zip(sim.mean_weight_update, sub.mean_weight_update)],
            [b - share * d for b, d in zip(sim.mean_bias_update, sub.mean_bias_update)], info)


def _subset_feedback(feedback, mask):
    """Per-sample feedback (3-D arrays) restricted to the samples in ``mask``; shared Q unchanged."""
    if isinstance(feedback, np.ndarray):
        return feedback[mask] if feedback.ndim == 3 else feedback
    if feedback is None:
        return None
    return [q[mask] if q.ndim == 3 else q for q in feedback]


@limited
def feedback_gradients(net: RateNetwork, x: np.ndarray, settings: ControllerSettings, rng: np.random.Generator,
                       feedforward=None) -> list[np.ndarray]:
    """Sleep-phase gradients for Q_i (to subtract): (1/sigma^2) < v_i^A(t) u(t+1)^T >.

    The target is the network's own feedforward output and noise enters the apical
    compartments (``settings.sigma``). As in the published code the 1/sigma^2
    normalisation uses max(sigma, 0.01). Weight decay (beta Q_i) belongs to the
    optimiser. Descending these gradients gives dQ_i ~ -(1/sigma^2) <v_i^A u^T>.
    """
    if settings.sigma <= 0:
        raise ValueError("feedback learning needs apical noise: settings.sigma > 0")
    if feedforward is None:
        feedforward = net.forward(x)
    target = feedforward[1][-1]
    sim = simulate(net, x, target, settings, rng=rng, accumulate_updates=False, accumulate_feedback=True,
                   feedforward=feedforward)
    scale = 1.0 / max(settings.sigma, 0.01) ** 2
    return [scale * c for c in sim.feedback_correlation]
