"""Deep Feedback Control: network dynamics under a PI controller, its analytic steady
state, the dendritic weight update and the feedback ("sleep") learning rule.

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

from dendritic.rate.network import RateNetwork
from dendritic.rate.references import full_jacobian
from dendritic.rate.threads import limited

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
    """Per-layer somatic, basal and apical potentials and rates; control u (B, n_L)."""

    u: np.ndarray
    v: list[np.ndarray]
    v_basal: list[np.ndarray]
    v_apical: list[np.ndarray]
    r: list[np.ndarray]


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
    u = steady_state_control(full_jacobian(net, voltages), q_full, target - rates[-1], alpha)
    v, v_basal, v_apical, r = [], [], [], []
    r_prev = x
    for i in range(net.depth):
        basal = net.basal(i, r_prev)
        apical = _apical(q_layers[i], u)
        soma = basal + apical
        r_prev = net.phi(i, soma)
        v.append(soma), v_basal.append(basal), v_apical.append(apical), r.append(r_prev)
    return SteadyState(u=u, v=v, v_basal=v_basal, v_apical=v_apical, r=r)


def weight_update_from_state(net: RateNetwork, x: np.ndarray, state: SteadyState):
    """Delta W_i = < (phi(v_i) - phi(v_i^B)) r_{i-1}^T >_batch, Delta b_i likewise."""
    batch = x.shape[0]
    pre = [x] + state.r[:-1]
    dW, db = [], []
    for i in range(net.depth):
        signal = net.phi(i, state.v[i]) - net.phi(i, state.v_basal[i])
        dW.append(signal.T @ pre[i] / batch)
        db.append(signal.mean(axis=0))
    return dW, db


@dataclass
class Simulation:
    """Result of :func:`simulate`.

    ``final``: state at the last time point. ``mean_weight_update`` /
    ``mean_bias_update``: the DFC update averaged over the steps - 1 Euler steps (and
    the batch); ``None`` unless requested. ``feedback_correlation``: per layer
    sum_t v_i^A(t) u(t+1)^T / (T B) (feedback learning). ``error_initial`` /
    ``error_final``: ||e|| per sample. ``trajectory``: optional dict of recorded arrays.
    """

    final: SteadyState
    u_int: np.ndarray
    error_initial: np.ndarray
    error_final: np.ndarray
    mean_weight_update: list[np.ndarray] | None = None
    mean_bias_update: list[np.ndarray] | None = None
    feedback_correlation: list[np.ndarray] | None = None
    trajectory: dict = field(default_factory=dict)


@limited
def simulate(net: RateNetwork, x: np.ndarray, target: np.ndarray, settings: ControllerSettings,
             feedback=None, rng: np.random.Generator | None = None, accumulate_updates: bool = True,
             accumulate_feedback: bool = False, record: tuple[str, ...] = (),
             feedforward=None) -> Simulation:
    """Euler-integrate the controlled network from the feedforward state.

    Running sums replace stored trajectories: the DFC update needs, per layer,
    sum_t (phi(v_i) - phi(v_i^B)) r_{i-1}^T; for the first layer the presynaptic rates
    are the constant input, so only sum_t (phi(v_1) - phi(v_1^B)) is kept per sample and
    multiplied by x once, and W_1 x + b_1 is computed once. ``record`` names arrays to
    store for every time point: any of "u", "v_apical", "r_out", "error".
    """
    s = settings
    if (s.sigma > 0 or s.sigma_output) and rng is None:
        raise ValueError("noisy dynamics (sigma > 0) need an rng")
    dtype = net.dtype
    x = np.asarray(x, dtype=dtype)
    target = np.asarray(target, dtype=dtype)
    q_layers = _split_feedback(net, feedback)
    voltages, rates = net.forward(x) if feedforward is None else feedforward
    depth = net.depth
    batch = x.shape[0]
    tau_a = s.dt if s.apical_time_constant is None else s.apical_time_constant
    a_apical = s.dt / tau_a
    a_soma = s.dt / s.time_constant_ratio
    # Python floats: a NumPy float64 scalar would promote float32 state to float64
    noise_scale = [float(s.sigma * np.sqrt(s.dt) / tau_a)] * depth
    if s.sigma_output is not None:
        noise_scale[-1] = float(s.sigma_output * np.sqrt(s.dt) / tau_a)

    v = [np.array(vi, dtype=dtype, copy=True) for vi in voltages]
    v_basal = [np.array(vi, dtype=dtype, copy=True) for vi in voltages]
    v_apical = [np.zeros_like(vi) for vi in voltages]
    r = [np.array(ri, dtype=dtype, copy=True) for ri in rates]
    n_out = target.shape[1]
    u = np.zeros((batch, n_out), dtype=dtype)
    u_int = np.zeros_like(u)
    basal_input = v_basal[0].copy()  # W_1 x + b_1, constant over the simulation
    error_initial = np.linalg.norm(target - r[-1], axis=1)

    if accumulate_updates:
        # the first layer's basal drive is constant, so is its dendritic prediction
        basal_rate_first = net.phi(0, basal_input)
        sum_signal_first = np.zeros_like(v[0])
        sum_dW = [None] + [np.zeros_like(w) for w in net.weights[1:]]
        sum_db = [np.zeros_like(b) for b in net.biases]
    if accumulate_feedback:
        sum_fb = [np.zeros((vi.shape[1], n_out), dtype=dtype) for vi in voltages]
    trajectory = {name: [] for name in record}
    order = range(depth) if s.inst_transmission else range(depth - 1, -1, -1)

    def controller_step(e):
        nonlocal u, u_int
        if s.k_p > 0:
            u_int = u_int + s.dt * (e - s.alpha * u)
            u = u_int + s.k_p * e
        else:
            u = u + s.dt * (e - s.alpha * u)

    for _ in range(s.steps - 1):
        e = target - r[-1]
        if s.proactive:
            controller_step(e)
        if accumulate_feedback:
            apical_before = list(v_apical)  # the loop rebinds, never mutates, these arrays
        for i in order:
            r_prev = x if i == 0 else r[i - 1]
            v_basal[i] = basal_input if i == 0 else net.basal(i, r_prev)
            drive = _apical(q_layers[i], u)
            if a_apical == 1.0:
                v_apical[i] = drive
            else:
                v_apical[i] = v_apical[i] + a_apical * (drive - v_apical[i])
            if noise_scale[i] > 0:
                noise = rng.standard_normal(v_apical[i].shape, dtype=np.float32 if dtype == np.float32 else np.float64)
                v_apical[i] = v_apical[i] + noise_scale[i] * noise
            v[i] = v[i] + a_soma * (v_apical[i] + v_basal[i] - v[i])
            r[i] = net.phi(i, v[i])
        if not s.proactive:
            controller_step(e)
        if accumulate_updates:
            sum_signal_first += r[0]
            sum_signal_first -= basal_rate_first
            for i in range(1, depth):
                signal = r[i] - net.phi(i, v_basal[i])
                sum_dW[i] += signal.T @ r[i - 1]
                sum_db[i] += signal.sum(axis=0)
        if accumulate_feedback:
            for i in range(depth):
                sum_fb[i] += apical_before[i].T @ u
        for name in record:
            trajectory[name].append(_recorded(name, u, v_apical, r, target))

    n_updates = s.steps - 1
    result = Simulation(
        final=SteadyState(u=u, v=v, v_basal=v_basal, v_apical=v_apical, r=r),
        u_int=u_int,
        error_initial=error_initial,
        error_final=np.linalg.norm(target - r[-1], axis=1),
        trajectory={name: np.stack(values) for name, values in trajectory.items()},
    )
    if accumulate_updates:
        norm = 1.0 / (n_updates * batch)
        sum_dW[0] = sum_signal_first.T @ x
        sum_db[0] = sum_signal_first.sum(axis=0)
        result.mean_weight_update = [w * norm for w in sum_dW]
        result.mean_bias_update = [b * norm for b in sum_db]
    if accumulate_feedback:
        result.feedback_correlation = [c / (n_updates * batch) for c in sum_fb]
    return result


def _recorded(name, u, v_apical, r, target):
    if name == "u":
        return u.copy()
    if name == "v_apical":
        return np.concatenate(v_apical, axis=1)
    if name == "r_out":
        return r[-1].copy()
    if name == "error":
        return np.linalg.norm(target - r[-1], axis=1)
    raise ValueError(f"cannot record {name!r}: expected 'u', 'v_apical', 'r_out' or 'error'")


def convergence(simulation: Simulation, r_out_feedforward: np.ndarray, target: np.ndarray, alpha: float,
                threshold: float = 1e-5, epsilon: float = 0.5, divergence_threshold: float = 1.0):
    """The authors' per-sample convergence test.

    distance = ||r_L(T) - (r_L* - alpha u(T))|| / ||r_L^-||; converged if distance <
    ``threshold`` and ||e(T)|| < epsilon^2 ||e(0)||; diverged if distance >
    ``divergence_threshold``. Returns (converged, diverged, distance).
    """
    final = simulation.final
    distance = np.linalg.norm(final.r[-1] - (target - alpha * final.u), axis=1)
    distance = distance / np.linalg.norm(r_out_feedforward, axis=1)
    converged = (distance < threshold) & (simulation.error_final < epsilon ** 2 * simulation.error_initial)
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
    converged, diverged, distance = convergence(sim, feedforward[1][-1], target, settings.alpha)
    info = {"converged_fraction": float(converged.mean()), "diverged_fraction": float(diverged.mean()),
            "distance": distance}
    keep = np.ones(len(x), dtype=bool) if include_nonconverged else converged
    if not keep.all():
        # Samples evolve independently, so re-simulating the kept ones reproduces their
        # trajectories exactly; the dropped ones then contribute zero.
        if not keep.any():
            return [np.zeros_like(w) for w in net.weights], [np.zeros_like(b) for b in net.biases], info
        scale = keep.sum() / len(x)
        sub_ff = ([v[keep] for v in feedforward[0]], [r[keep] for r in feedforward[1]])
        sub_fb = feedback[keep] if isinstance(feedback, np.ndarray) and feedback.ndim == 3 else feedback
        dW, db, _ = dfc_update(net, x[keep], target[keep], settings, variant, sub_fb, True, sub_ff)
        return [w * scale for w in dW], [b * scale for b in db], info
    if variant == "dfc":
        return sim.mean_weight_update, sim.mean_bias_update, info
    dW, db = weight_update_from_state(net, x, sim.final)
    return dW, db, info


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
