"""The rate reduction of the spiking DFC network (:mod:`dendritic.spiking_dfc.network`).

Time averages, v = u - E_L in mV, r in Hz. With Poisson inputs the mean of the PSP
trace psp_b is r_b tau_B' (tau_B' = dt / (1 - exp(-dt/tau_B)) on Brian's time grid,
tau_B to 0.3 %); the soma, 20x faster than the dendrites, sits at its clamped steady
state, so

    v_l   = W~_l r_{l-1} + b_l + Q~_l c,   r_l = phi(v_l),   r_0 = x
    W~_l  = (g_B/g_tot) tau_B' W_l   (mV/Hz)        Q~_l = (g_A/g_tot) Qa_l   (mV/Hz)
    steady state of the controller:  r* - r_L = alpha c    (any k_p)

solved exactly (Newton on c; :func:`controlled_steady_state`). Its DFC update is

    Delta W~_l = sum_samples (phi(v_l) - phi(v_l^B)) r_{l-1}^T,   v_l^B = W~_l r_{l-1} + b_l,

which equals the time average of the spiking rule's e_a r_b when the potentials are at
their means. The reduction is a duck-typed network for :mod:`dendritic.rate.references`
(``depth``, ``sizes``, ``weights``, ``forward``, ``phi_prime``), which gives the
minimum-norm, Gauss-Newton and backprop updates on W~ (W~ = const W per layer, so
angles are the same as on W; GN on W~ equals GN on W with damping rescaled).

What the reduction leaves out (and the cross-check measures): E[phi(u)] differs from
phi(E[u]) by 1/2 phi'' Var(u) (shot noise of the basal input, variance
sum_j W~_ij^2 r_j / (2 tau_B M) in mV^2, reduced by the population size M); the
filtered output rate carries spike noise of variance r / (2 tau_f M), so the control c
and the update fluctuate and average out over the measuring window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Hz, mV

from dendritic.neurons import transfer
from dendritic.neurons.model import NeuronModel
from dendritic.rate.dfc import steady_state_control
from dendritic.rate.references import full_jacobian, presynaptic_scales, split_layers

__all__ = ["RateReduction", "ControlledState", "controlled_steady_state", "linearised_steady_state", "dfc_update",
           "jacobian_feedback"]


@dataclass
class RateReduction:
    """Layered rate network whose units are the spiking populations' time averages.

    ``weights[l]`` W~_{l+1} (n_{l+1}, n_l) in mV/Hz, ``biases[l]`` in mV, ``feedback[l]``
    Q~_{l+1} (n_{l+1}, n_L) in mV/Hz, transfer function phi of the neuron model with
    ``theta`` relative to rest (mV), ``beta`` in 1/mV, ``phi_max`` in Hz.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    feedback: list[np.ndarray]
    transfer: str
    phi_max: float
    beta: float
    theta: float
    k: float = 1.0

    @classmethod
    def for_neuron(cls, neuron: NeuronModel, weights, feedback, biases=None) -> "RateReduction":
        """The reduction for ``neuron``'s transfer function (parameters read from it)."""
        p = neuron.parameters
        biases = biases if biases is not None else [np.zeros(w.shape[0]) for w in weights]
        return cls([np.asarray(w, float) for w in weights], [np.asarray(b, float) for b in biases],
                   [np.asarray(q, float) for q in feedback], neuron.transfer, phi_max=float(p["phi_max"] / Hz),
                   beta=float(p["beta"] * mV), theta=float((p["theta"] - p["E_L"]) / mV),
                   k=float(p["k"]) if "k" in p else 1.0)

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def dtype(self):
        return np.float64

    @property
    def full_feedback(self) -> np.ndarray:
        return np.concatenate(self.feedback, axis=0)

    def phi(self, i: int, v: np.ndarray) -> np.ndarray:
        """Rate (Hz) at potential v (mV above rest); the same function for every layer."""
        return transfer.phi(self.transfer, v, self.phi_max, self.beta, self.theta, self.k)

    def phi_prime(self, i: int, v: np.ndarray) -> np.ndarray:
        """d phi / dv in Hz/mV."""
        return self.phi(i, v) * transfer.log_derivative(self.transfer, v, self.beta, self.theta, self.k)

    def basal(self, i: int, r_previous: np.ndarray) -> np.ndarray:
        return r_previous @ self.weights[i].T + self.biases[i]

    def forward(self, x: np.ndarray, control: np.ndarray | None = None):
        """Somatic potentials and rates per layer (B, n_l), with control c (B, n_L) if given."""
        voltages, rates, r = [], [], np.asarray(x, float)
        for i in range(self.depth):
            v = self.basal(i, r)
            if control is not None:
                v = v + control @ self.feedback[i].T
            r = self.phi(i, v)
            voltages.append(v)
            rates.append(r)
        return voltages, rates


@dataclass
class ControlledState:
    """Steady state under control: potentials v, basal parts v^B, rates r per layer, control c."""

    control: np.ndarray
    v: list[np.ndarray]
    v_basal: list[np.ndarray]
    r: list[np.ndarray]
    residual: float


def _state(net: RateReduction, x: np.ndarray, control: np.ndarray, residual=np.nan) -> ControlledState:
    v, r = net.forward(x, control)
    pre = [np.asarray(x, float)] + r[:-1]
    v_basal = [net.basal(i, pre[i]) for i in range(net.depth)]
    return ControlledState(control, v, v_basal, r, residual)


def controlled_steady_state(net: RateReduction, x: np.ndarray, target: np.ndarray, alpha: float,
                            tol: float = 1e-10, max_iterations: int = 50) -> ControlledState:
    """The exact fixed point r* - r_L(c) = alpha c, by Newton's method on c per sample.

    Starts from the linearised solution; d r_L / d c = sum_l J_l Q~_l with the Jacobians
    at the current controlled state. ``residual``: max ``|r* - r_L - alpha c|`` in Hz.
    """
    x = np.asarray(x, float)
    target = np.asarray(target, float)
    control = linearised_steady_state(net, x, target, alpha).control
    eye = np.eye(target.shape[1])
    q_full = net.full_feedback
    for _ in range(max_iterations):
        voltages, rates = net.forward(x, control)
        residual = target - rates[-1] - alpha * control
        worst = float(np.max(np.abs(residual)))
        if worst < tol:
            break
        slope = full_jacobian(net, voltages) @ q_full + alpha * eye  # -d residual / d c
        control = control + np.linalg.solve(slope, residual[:, :, None])[:, :, 0]
    else:
        raise RuntimeError(f"controlled steady state: Newton did not converge (residual {worst:.3g} Hz)")
    return _state(net, x, control, worst)


def linearised_steady_state(net: RateReduction, x: np.ndarray, target: np.ndarray, alpha: float) -> ControlledState:
    """DFC-SSA: c = (J Q~ + alpha I)^-1 (r* - r_L^-) at the feedforward state, then a
    nonlinear forward sweep with that control."""
    voltages, rates = net.forward(x)
    control = steady_state_control(full_jacobian(net, voltages), net.full_feedback,
                                   np.asarray(target, float) - rates[-1], alpha)
    return _state(net, x, control)


def dfc_update(net: RateReduction, x: np.ndarray, state: ControlledState) -> list[np.ndarray]:
    """Delta W~_l = sum over samples of (phi(v_l) - phi(v_l^B)) r_{l-1}^T (Hz^2)."""
    pre = [np.asarray(x, float)] + state.r[:-1]
    return [(net.phi(i, state.v[i]) - net.phi(i, state.v_basal[i])).T @ pre[i] for i in range(net.depth)]


def jacobian_feedback(net: RateReduction, x: np.ndarray, kind: str, gain: float) -> list[np.ndarray]:
    """Fixed feedback from the batch-mean Jacobian J = d r_L / d v at the feedforward state.

    ``transpose``: Q~ = gain J^T / lambda_max(J J^T), the Gauss-Newton link of DFC;
    ``pseudoinverse``: Q~ = gain J^T (J J^T)^-1, so that J Q~ = gain I (Condition 2 holds
    and every output direction is controlled equally fast);
    ``gauss_newton``: Q~ = gain D J^T (J D J^T)^-1 with D = blockdiag(s_l I), s_l the
    batch mean of ||r_{l-1}||^2 (no biases: they are not learned here), so J Q~ = gain I
    and, for one sample, the DFC steady state with layer learning rates 1/s_l is the
    undamped Gauss-Newton step on the weights times gain/(gain + alpha) (Meulemans et al.
    2021, Theorem 3; :mod:`dendritic.rate.references`).
    """
    voltages, rates = net.forward(x)
    jac = full_jacobian(net, voltages).mean(axis=0)
    if kind == "gauss_newton":
        scales = [s.mean() for s in presynaptic_scales(x, rates, include_biases=False)]
        d = np.concatenate([np.full(n, s) for s, n in zip(scales, net.sizes[1:])])
        jac_d = d[:, None] * jac.T
        q = gain * jac_d @ np.linalg.inv(jac @ jac_d)
        return [piece.T.copy() for piece in split_layers(net, q.T)]
    gram = jac @ jac.T
    if kind == "transpose":
        q = gain * jac.T / np.linalg.eigvalsh(gram)[-1]
    elif kind == "pseudoinverse":
        q = gain * jac.T @ np.linalg.inv(gram)
    else:
        raise ValueError(f"unknown feedback {kind!r}; expected 'transpose', 'pseudoinverse' or 'gauss_newton'")
    return [piece.T.copy() for piece in split_layers(net, q.T)]
