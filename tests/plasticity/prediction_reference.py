"""Independent NumPy recomputation of the dendritic prediction rules from recorded spikes
and potentials (the check NEST applies to its ``urbanczik_synapse``).

Everything here works on plain SI floats and on Brian's time grid (step index n, time
n dt): the PSP trace is rebuilt from the presynaptic spike times, the errors from the
recorded potentials, and the weights are integrated interval by interval with the
closed-form solution of

    dW/dt = eta PI,   tau_Delta dPI/dt = -PI + x      (x constant over an interval)

or dW/dt = eta x without the filter.
"""

from __future__ import annotations

import numpy as np

from dendritic.neurons.transfer import log_derivative, phi


def psp_trace(spike_steps, spike_neurons, n_neurons: int, n_steps: int, dt: float, tau: float) -> np.ndarray:
    """psp[n, j] at the start of step n: a spike emitted in step s counts from step s+1 on,
    psp[n] = sum_{s < n} exp(-(n - 1 - s) dt / tau)."""
    counts = np.zeros((n_steps, n_neurons))
    np.add.at(counts, (np.asarray(spike_steps), np.asarray(spike_neurons)), 1.0)
    decay = np.exp(-dt / tau)
    trace = np.zeros((n_steps, n_neurons))
    for n in range(1, n_steps):
        trace[n] = decay * trace[n - 1] + counts[n - 1]
    return trace


def spike_error(v_hat, spike_steps, spike_neurons, dt, kind, params) -> np.ndarray:
    """Per-step integral of (S - phi(v_hat)) h(v_hat): -dt phi h at the step's start, plus
    h(v_hat after the step) for a spike in that step. ``v_hat[n, i]`` recorded at step
    starts; returns an array of one row fewer (the last step has no 'after')."""
    p = {key: params[key] for key in ("beta", "theta", "k") if key in params}
    h = log_derivative(kind, v_hat, **p)
    rate = phi(kind, v_hat, params["phi_max"], **p)
    error = -dt * rate * h
    error = error[:-1].copy()
    steps, neurons = np.asarray(spike_steps), np.asarray(spike_neurons)
    keep = steps < len(v_hat) - 1
    np.add.at(error, (steps[keep], neurons[keep]), h[steps[keep] + 1, neurons[keep]])
    return error


def rate_error(u, v_hat, dt, kind, params) -> np.ndarray:
    """Per-step integral of phi(u) - phi(v_hat) (left Riemann sum)."""
    p = {key: params[key] for key in ("beta", "theta", "k") if key in params}
    return dt * (phi(kind, u, params["phi_max"], **p) - phi(kind, v_hat, params["phi_max"], **p))


def apical_error(v_apical, E_L, dt) -> np.ndarray:
    """Per-step integral of E_L - v_apical (left Riemann sum)."""
    return dt * (E_L - np.asarray(v_apical))


def integrate_weights(w0, pre, post, error_steps, trace_steps, n_steps: int, steps_per_interval: int, dt: float,
                      eta: float, tau_delta=None, presynaptic_scale: float = 1.0, w_min=-np.inf,
                      w_max=np.inf) -> np.ndarray:
    """Final weights after a run of ``n_steps`` steps. ``error_steps[n, i]`` and
    ``trace_steps[n, j]`` are per-step integrals of the postsynaptic error and of the
    presynaptic signal (multiplied by ``presynaptic_scale``). Interval k (steps k m ..
    (k+1) m - 1, m = steps_per_interval) is applied at the start of step (k+1) m, if
    that step is part of the run."""
    delta = steps_per_interval * dt
    n_intervals = (n_steps - 1) // steps_per_interval
    w = np.array(w0, dtype=float)
    pi = np.zeros_like(w)
    for k in range(n_intervals):
        rows = slice(k * steps_per_interval, (k + 1) * steps_per_interval)
        e_bar = error_steps[rows].sum(axis=0) / delta
        r_bar = trace_steps[rows].sum(axis=0) / delta * presynaptic_scale
        x = e_bar[post] * r_bar[pre]
        if tau_delta is None:
            w = w + eta * delta * x
        else:
            a = np.exp(-delta / tau_delta)
            w = w + eta * (tau_delta * (1 - a) * pi + (delta - tau_delta * (1 - a)) * x)
            pi = a * pi + (1 - a) * x
        w = np.clip(w, w_min, w_max)
    return w
