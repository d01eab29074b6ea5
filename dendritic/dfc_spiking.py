"""Deep Feedback Control with spiking three-compartment neurons, and its rate reduction.

Spiking network (Brian 2, every target). Each rate unit i of layer l is a population
of M Poisson pyramidal neurons (``sacramento2018_pyramidal`` kind: soma u, passive basal
and apical dendrites, rate phi(u), no reset). Layer 0 is M Poisson sources per input
unit at the input rates x. All potentials below are relative to rest E_L.

    basal      v_B,a(t) = b_i g_tot/g_B + sum_j (W_ij / M) sum_{b in unit j} psp_b(t)
               psp_b = sum_k exp(-(t - t_b^k)/tau_B)       (``on_pre: v_basal += w``)
    apical     tau_A dv_A,a/dt = -v_A,a + sum_k Qa_ik c_k(t)     (summed variable)
    soma       C du_a/dt = -g_L u_a + g_B (v_B,a - u_a) + g_A (v_A,a - u_a)
    output     Poisson spikes at rate phi(E_L + u_a)

Controller (one rate unit per output unit, no spikes), fed by the output spikes:

    tau_f dr_k/dt = -r_k + (tau_f / M) sum_{a in output unit k} S_a(t)    (filtered rate)
    e_k = r*_k - r_k
    c_k = on(t) (c_int,k + k_p e_k)
    tau_c dc_int,k/dt = on(t) (e_k - alpha c_k) - (1 - on(t)) c_int,k tau_c / tau_f

``on(t)`` switches the controller off during the feedforward phase of each sample (the
integral then decays to zero with tau_f, so every sample starts without control).

Learning: the rate form of the dendritic prediction rule on every basal synapse,
dw_ab/dt = eta (phi(u_a) - phi(v_hat_a)) psp_b/tau_B, with v_hat_a = g_B/g_tot v_B,a
(:mod:`dendritic.plasticity.dendritic_prediction`). To measure its direction without
changing the network, eta = 0 and :class:`WindowedUpdateRule` integrates the rule's
per-interval increment into one accumulator per measuring window:
update_ab(T) = integral over the window of e_a(t) r_b(t) dt. The unit-level spiking
update is Delta W_ij(T) = sum_{a in i, b in j} update_ab(T), summed over the samples.

Rate reduction (time averages, v = u - E_L in mV, r in Hz). With Poisson inputs the
mean of psp_b is r_b tau_B' (tau_B' = dt / (1 - exp(-dt/tau_B)) on Brian's time grid,
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
from brian2 import (Hz, NeuronGroup, Network, SpikeMonitor, StateMonitor, Synapses, TimedArray, mV, second,
                    volt)

from dendritic.neurons import compartments, transfer
from dendritic.neurons.model import NeuronModel
from dendritic.plasticity.dendritic_prediction import DendriticPredictionRule, spike_source
from dendritic.rate.dfc import steady_state_control
from dendritic.rate.references import full_jacobian, presynaptic_scales, split_layers

__all__ = [
    "RateReduction",
    "ControlledState",
    "controlled_steady_state",
    "linearised_steady_state",
    "dfc_update",
    "jacobian_feedback",
    "WindowedUpdateRule",
    "ControllerParameters",
    "Protocol",
    "SpikingDFC",
    "build_circuit",
    "coupling_factors",
    "psp_time_constant",
]


# ----------------------------------------------------------------------------------------
# Rate reduction
# ----------------------------------------------------------------------------------------

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
    at the current controlled state. ``residual``: max |r* - r_L - alpha c| in Hz.
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


# ----------------------------------------------------------------------------------------
# Spiking network
# ----------------------------------------------------------------------------------------

def coupling_factors(neuron: NeuronModel) -> tuple[float, float]:
    """(g_B/g_tot, g_A/g_tot), g_tot = g_L + g_B + g_A: the somatic weights of the dendrites."""
    p = neuron.parameters
    total = float(p["g_L"] + p["g_B"] + p["g_A"])
    return float(p["g_B"]) / total, float(p["g_A"]) / total


def psp_time_constant(neuron: NeuronModel, dt) -> float:
    """Mean PSP trace per presynaptic rate (seconds) on the time grid: a trace that decays
    exactly by exp(-dt/tau_B) per step and jumps by 1 with probability r dt per step has
    mean r dt / (1 - exp(-dt/tau_B))."""
    step, tau = float(dt), float(neuron.parameters["tau_basal"])
    return step / -np.expm1(-step / tau)


@dataclass(frozen=True)
class WindowedUpdateRule(DendriticPredictionRule):
    """The rate-form dendritic prediction rule with one extra accumulator per window.

    Every learning interval, besides the rule's own weight change (none if eta = 0), each
    synapse adds window_k(t) Delta x_learn to ``update_k`` (unit Hz): the integral of
    e_post r_pre over the window ``window_k`` (a 0/1 ``TimedArray`` given in the
    namespace). x_learn is the rule's product of the interval means, applied at the end
    of the interval, so window_k(t) must be 1 at the *end* of each interval it counts.
    """

    windows: tuple[str, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        if self.form != "rate":
            raise ValueError("WindowedUpdateRule accumulates the rate form of the rule only")

    @staticmethod
    def accumulator(k: int) -> str:
        return f"update_{k}"

    def synapse_equations(self) -> str:
        lines = [super().synapse_equations()]
        lines += [f"{self.accumulator(k)} : hertz" for k in range(len(self.windows))]
        return "\n".join(lines)

    def update_code(self, post_error, gate: str) -> str:
        lines = [super().update_code(post_error, gate)]
        lines += [f"{self.accumulator(k)} += {window}(t)*learning_interval*x_learn"
                  for k, window in enumerate(self.windows)]
        return "\n".join(lines)


@dataclass(frozen=True)
class ControllerParameters:
    """alpha: leak; k_p: proportional gain; tau_c: integration time constant (s);
    tau_filter: low-pass of the output spikes (s)."""

    alpha: float
    k_p: float
    tau_c: float
    tau_filter: float


@dataclass(frozen=True)
class Protocol:
    """Samples one after the other, each in a slot of

        feedforward (controller off) | settle (controller on) | measuring windows | tail

    ``inputs`` (B, n_0) and ``targets`` (B, n_L) in Hz; durations in seconds. The
    measuring windows all start after the settling phase and last ``windows[k]``; the
    tail (one grid step) lets the last learning interval be applied. ``transient`` is
    left out at the start of the feedforward phase when rates are measured. ``grid`` is
    the resolution of the schedules (the learning interval).
    """

    inputs: np.ndarray
    targets: np.ndarray
    feedforward: float
    settle: float
    windows: tuple[float, ...]
    transient: float
    grid: float

    def __post_init__(self):
        for name in ("feedforward", "settle", "transient", *()):
            if self._steps(getattr(self, name)) < 0:
                raise ValueError(f"protocol: {name} must be >= 0")
        if not self.windows or min(self._steps(w) for w in self.windows) < 1:
            raise ValueError("protocol: at least one measuring window of one grid step or more")
        if self.transient >= self.feedforward and self.feedforward > 0:
            raise ValueError("protocol: the transient must be shorter than the feedforward phase")
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError("protocol: one target per input sample")

    def _steps(self, duration: float) -> int:
        steps = duration / self.grid
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"protocol: {duration} s is not a whole number of grid steps ({self.grid} s)")
        return int(round(steps))

    @property
    def samples(self) -> int:
        return self.inputs.shape[0]

    @property
    def slot_steps(self) -> int:
        return self._steps(self.feedforward) + self._steps(self.settle) + max(self._steps(w) for w in self.windows) + 1

    @property
    def slot(self) -> float:
        return self.slot_steps * self.grid

    @property
    def duration(self) -> float:
        return self.samples * self.slot

    def measuring_start(self) -> float:
        """Start of the measuring windows within a slot (s)."""
        return self.feedforward + self.settle

    def schedule(self, start: float, length: float, interval_end: bool = False) -> np.ndarray:
        """0/1 per grid step of the whole run: 1 in [start, start + length) of every slot
        (``interval_end``: for steps ending in that range, i.e. shifted by one step)."""
        steps = np.zeros(self.slot_steps)
        first = self._steps(start) + (1 if interval_end else 0)
        steps[first:first + self._steps(length)] = 1.0
        return np.tile(steps, self.samples)


@dataclass
class SpikingDFC:
    """The spiking network of a :class:`RateReduction`: M neurons per unit.

    The spiking weights follow from the reduction's: W = W~ g_tot / (g_B tau_B'),
    Qa = Q~ g_tot / g_A, basal drive b g_tot / g_B (see the module docstring).
    """

    neuron: NeuronModel
    reduction: RateReduction
    population: int
    controller: ControllerParameters
    learning_interval: float

    def basal_weights(self, dt) -> list[np.ndarray]:
        """Unit-level basal weights W_l in volt per unit of the population-mean PSP."""
        basal, _ = coupling_factors(self.neuron)
        scale = 1e-3 / (basal * psp_time_constant(self.neuron, dt))
        return [w * scale for w in self.reduction.weights]

    def apical_weights(self) -> list[np.ndarray]:
        """Qa_l in volt per Hz of control."""
        _, apical = coupling_factors(self.neuron)
        return [q * 1e-3 / apical for q in self.reduction.feedback]

    def basal_drives(self) -> list[np.ndarray]:
        basal, _ = coupling_factors(self.neuron)
        return [b * 1e-3 / basal for b in self.reduction.biases]


@dataclass
class Circuit:
    """Brian objects of one spiking DFC network and how to read them out."""

    network: Network
    layers: list  # NeuronGroups: layer 0 (inputs) .. L
    controller: NeuronGroup
    basal_synapses: list
    spikes: list  # SpikeMonitors of layers 1..L
    controller_monitor: StateMonitor
    spec: SpikingDFC
    protocol: Protocol
    rule: WindowedUpdateRule

    @property
    def groups(self) -> dict:
        return {group.name: group for group in [*self.layers, self.controller]}

    def updates(self) -> list[list[np.ndarray]]:
        """Unit-level spiking updates per window and layer: sum_{a in i, b in j} update_ab (Hz)."""
        m = self.spec.population
        sizes = self.spec.reduction.sizes
        out = []
        for k in range(len(self.protocol.windows)):
            per_layer = []
            for l, synapses in enumerate(self.basal_synapses):
                total = np.zeros((sizes[l + 1], sizes[l]))
                values = np.asarray(getattr(synapses, self.rule.accumulator(k)) / Hz)
                np.add.at(total, (np.asarray(synapses.j) // m, np.asarray(synapses.i) // m), values)
                per_layer.append(total)
            out.append(per_layer)
        return out

    def spike_trains(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(neuron index, time in s) of each layer 1..L."""
        return [(np.asarray(mon.i), np.asarray(mon.t / second)) for mon in self.spikes]

    def population_rates(self, start: float, length: float) -> list[np.ndarray]:
        """Time-averaged rate (Hz) of every unit in [start, start + length) of each slot:
        per layer (B, n_l), spike counts over M neurons and the window."""
        m, p = self.spec.population, self.protocol
        rates = []
        for (index, times), n in zip(self.spike_trains(), self.spec.reduction.sizes[1:]):
            slot = np.floor(times / p.slot + 1e-12).astype(int)
            within = times - slot * p.slot
            keep = (within >= start - 1e-9) & (within < start + length - 1e-9)
            counts = np.zeros((p.samples, n))
            np.add.at(counts, (slot[keep], index[keep] // m), 1.0)
            rates.append(counts / (m * length))
        return rates

    def controller_trace(self) -> dict:
        mon = self.controller_monitor
        return {"t": np.asarray(mon.t / second), "control": np.asarray(mon.c / Hz).T,
                "r_output": np.asarray(mon.r_output / Hz).T, "r_target": np.asarray(mon.r_target / Hz).T}


CONTROLLER_EQUATIONS = """
dr_output/dt = -r_output/tau_filter : Hz
error = r_target - r_output : Hz
c = control_on(t)*(c_int + k_p*error) : Hz
dc_int/dt = control_on(t)*(error - alpha*c)/tau_c - (1 - control_on(t))*c_int/tau_filter : Hz
r_target = target_rate(t, i) : Hz
alpha : 1 (shared, constant)
k_p : 1 (shared, constant)
tau_c : second (shared, constant)
tau_filter : second (shared, constant)
"""


def build_circuit(spec: SpikingDFC, protocol: Protocol, backend, controller_record_dt=1e-3) -> Circuit:
    """Create the spiking network on ``backend`` (already activated); returns the circuit.

    Call ``backend.run(circuit.network, protocol.duration * second)`` next.
    """
    m = spec.population
    sizes = spec.reduction.sizes
    depth = spec.reduction.depth
    grid = protocol.grid * second
    start = protocol.measuring_start()
    namespace = {
        "input_rate": TimedArray(np.repeat(protocol.inputs, m, axis=1) * Hz, dt=protocol.slot * second),
        "target_rate": TimedArray(protocol.targets * Hz, dt=protocol.slot * second),
        "control_on": TimedArray(protocol.schedule(protocol.feedforward, protocol.slot - protocol.feedforward),
                                 dt=grid),
    }
    windows = []
    for k, length in enumerate(protocol.windows):
        name = f"window_{k}"
        namespace[name] = TimedArray(protocol.schedule(start, length, interval_end=True), dt=grid)
        windows.append(name)
    rule = WindowedUpdateRule(form="rate", eta=0 * mV * second, interval=spec.learning_interval * second,
                              windows=tuple(windows))
    output_model = rule.postsynaptic(spec.neuron)  # the output layer projects to no basal synapse: no trace
    model = rule.presynaptic(output_model)
    models = {l: (output_model if l == depth else model) for l in range(1, depth + 1)}

    layers = [spike_source(m * sizes[0], compartments.poisson_threshold("input_rate(t, i)"), "layer_0", traces=(rule.trace,),
                           namespace=namespace)]
    for l in range(1, depth + 1):
        layers.append(models[l].make_group(m * sizes[l], name=f"layer_{l}", namespace=namespace))
    controller = NeuronGroup(sizes[-1], CONTROLLER_EQUATIONS, method="euler", name="controller", namespace=namespace)
    c = spec.controller
    controller.alpha = c.alpha
    controller.k_p = c.k_p
    controller.tau_c = c.tau_c * second
    controller.tau_filter = c.tau_filter * second

    basal_synapses, apical_synapses = [], []
    for l, (w, q, b) in enumerate(zip(spec.basal_weights(backend.dt), spec.apical_weights(), spec.basal_drives())):
        pre, post = layers[l], layers[l + 1]
        n_pre, n_post = m * sizes[l], m * sizes[l + 1]
        i = np.tile(np.arange(n_pre), n_post)
        j = np.repeat(np.arange(n_post), n_pre)
        weights = w[j // m, i // m] / m
        basal_synapses.append(rule.connect(pre, post, i, j, weights * volt, model, name=f"basal_{l + 1}",
                                           namespace=namespace))
        post.v_basal_drive = np.repeat(b, m) * volt
        apical = Synapses(controller, post, "q : volt/hertz\nv_apical_drive_post = q*c_pre : volt (summed)",
                          name=f"apical_{l + 1}", namespace=namespace)
        k_index = np.tile(np.arange(sizes[-1]), n_post)
        a_index = np.repeat(np.arange(n_post), sizes[-1])
        apical.connect(i=k_index, j=a_index)
        apical.q = q[a_index // m, k_index] * volt / Hz
        apical_synapses.append(apical)
    readout = Synapses(layers[-1], controller, "jump : hertz", on_pre="r_output_post += jump", name="readout",
                       namespace=namespace)
    readout.connect(i=np.arange(m * sizes[-1]), j=np.arange(m * sizes[-1]) // m)
    readout.jump = 1.0 / (m * c.tau_filter) * Hz

    backend.parameters_set({group.name: group for group in [*layers, controller]})
    for l, group in enumerate(layers[1:], start=1):
        models[l].initialise(group)

    spikes = [SpikeMonitor(group, name=f"spikes_{l}") for l, group in enumerate(layers[1:], start=1)]
    controller_monitor = StateMonitor(controller, ["c", "r_output", "r_target"], record=True,
                                      dt=controller_record_dt * second, name="controller_states")
    network = Network(*layers, controller, *basal_synapses, *apical_synapses, readout, *spikes, controller_monitor)
    return Circuit(network, layers, controller, basal_synapses, spikes, controller_monitor, spec, protocol, rule)
