"""Independent NumPy reference of the dendritic prediction rules (the check NEST applies
to its ``urbanczik_synapse``, testsuite/pytests/test_urbanczik_synapse.py): the final
weights recomputed from recorded spikes and potentials only.

Nothing here comes from the package: phi and h are written from the papers, the
dendritic prediction is recomputed from the recorded dendritic potential and the
conductances, the PSP traces are the published kernels evaluated at any time from the
presynaptic spike times, and the continuous-time rule

    dW/dt = eta PI,   tau_Delta dPI/dt = -PI + e(t) r(t)     (or dW/dt = eta e(t) r(t))

is integrated at a fine step (``substeps`` per simulation step, recorded potentials
interpolated linearly, postsynaptic spikes as delta pulses), not with the package's
interval scheme. Time convention: a spike found in step n happens at t = (n + 1) dt
(thresholds test the state after the step's update), and a run's last, unfinished
learning interval is not applied.
"""

from __future__ import annotations

import numpy as np


def phi(kind, u, p):
    """Sigmoid (Urbanczik & Senn 2014) or softplus (Sacramento et al. 2018) rate, SI floats."""
    x = p["beta"] * (u - p["theta"])
    if kind == "sigmoid":
        return p["phi_max"] / (1.0 + p["k"] * np.exp(-x))
    return p["phi_max"] * np.log1p(np.exp(x))


def h(kind, u, p):
    """d log phi / du: beta k e^{-x} / (1 + k e^{-x}), or beta e^x / ((1 + e^x) log(1 + e^x))."""
    x = p["beta"] * (u - p["theta"])
    if kind == "sigmoid":
        z = p["k"] * np.exp(-x)
        return p["beta"] * z / (1.0 + z)
    return p["beta"] * np.exp(x) / ((1.0 + np.exp(x)) * np.log1p(np.exp(x)))


def dendritic_prediction(v_dendrite, p, g_predicting, g_others=()):
    """v_hat = E_L + g_p/(g_L + sum g) (v - E_L) (Urbanczik & Senn 2014; Sacramento et al. 2018)."""
    g_total = p["g_L"] + p[g_predicting] + sum(p[g] for g in g_others)
    return p["E_L"] + p[g_predicting] / g_total * (np.asarray(v_dendrite) - p["E_L"])


def psp(times, spike_steps, spike_neurons, n_neurons, dt, tau, tau_syn=None):
    """sum_k kernel(t - t_k) at ``times``, spikes at t_k = (n_k + 1) dt; kernel exp(-s/tau)
    or tau/(tau - tau_syn) (exp(-s/tau) - exp(-s/tau_syn)) (NEST urbanczik_synapse)."""
    out = np.zeros((len(times), n_neurons))
    for step, neuron in zip(np.asarray(spike_steps), np.asarray(spike_neurons)):
        s = times - (step + 1) * dt
        later = s >= -1e-12 * dt
        s = np.clip(s[later], 0.0, None)
        kernel = np.exp(-s / tau) if tau_syn is None else tau / (tau - tau_syn) * (np.exp(-s / tau) - np.exp(-s / tau_syn))
        out[later, neuron] += kernel
    return out


class Interpolated:
    """A recorded quantity (rows at t = n dt) at any time in between, linearly."""

    def __init__(self, values, dt):
        self.values, self.dt = np.asarray(values), dt

    def __call__(self, t):
        position = np.asarray(t) / self.dt
        n = np.clip(np.floor(position).astype(int), 0, len(self.values) - 2)
        fraction = (position - n)[:, None]
        return self.values[n] * (1 - fraction) + self.values[n + 1] * fraction


def integrate_rule(w0, pre, post, continuous_error, presynaptic, T, dt, eta, tau_delta=None, spike_events=None,
                   substeps=4, w_min=-np.inf, w_max=np.inf):
    """Final weights of dW/dt = eta PI, tau_Delta dPI/dt = -PI + e r (or dW/dt = eta e r)
    from 0 to T, for synapses pre[s] -> post[s].

    ``continuous_error(t)`` and ``presynaptic(t)`` give e (rows: times, columns: post
    neurons) and r (columns: pre neurons) at an array of times; ``spike_events`` lists
    (time, post neuron, weight h) of the delta pulses of e. Midpoint rule for the
    continuous part; PI relaxes exactly over each fine step; weights clipped each step.
    """
    step = dt / substeps
    n_fine = int(round(T / step))
    midpoints = (np.arange(n_fine) + 0.5) * step
    e_mid, r_mid = continuous_error(midpoints), presynaptic(midpoints)
    events = sorted(spike_events or [], key=lambda event: event[0])
    w = np.array(w0, dtype=float)
    pi = np.zeros_like(w)
    decay = None if tau_delta is None else np.exp(-step / tau_delta)
    k = 0
    for n in range(n_fine):
        x = e_mid[n, post] * r_mid[n, pre]
        end = (n + 1) * step
        pulse = np.zeros_like(w)
        while k < len(events) and events[k][0] <= end + 1e-9 * step:
            time, neuron, weight = events[k]
            r_at = presynaptic(np.array([time]))[0]
            pulse += np.where(post == neuron, weight * r_at[pre], 0.0)
            k += 1
        if tau_delta is None:
            w = w + eta * (step * x + pulse)
        else:
            # PI over the step: relaxation towards x, plus the pulses (at the step's end)
            new_pi = decay * pi + (1 - decay) * x
            w = w + eta * (tau_delta * (1 - decay) * pi + (step - tau_delta * (1 - decay)) * x)
            pi = new_pi + pulse / tau_delta
        w = np.clip(w, w_min, w_max)
    return w
