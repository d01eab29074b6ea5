"""Neuron models against analytic results (numpy target: no compilation needed)."""

import dataclasses

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, StateMonitor, mV, ms, nS, pA, second

from dendritic.backend import Backend
from dendritic.neurons import load_neuron, neuron_from_mapping
from dendritic.neurons import transfer

PYRAMIDAL_SETS = ["urbanczik2014", "sacramento2018_pyramidal"]


def _clamped_run(model, v_basal, v_apical, duration, record_dt=None):
    """One neuron per (v_basal, v_apical) pair, dendrites clamped at those potentials."""
    with Backend("numpy", seed=1, dt=0.1 * ms) as backend:
        group = model.make_group(len(v_basal))
        group.v_basal_drive = v_basal - model.parameters["E_L"]
        group.v_apical_drive = v_apical - model.parameters["E_L"]
        backend.parameters_set()
        model.initialise(group)
        monitor = StateMonitor(group, ["u", "v_basal", "v_apical"], record=True, dt=record_dt or 0.1 * ms)
        network = Network(group, monitor)
        backend.run(network, duration)
        return monitor.t[:], monitor.u[:], monitor.v_basal[:], monitor.v_apical[:], group


@pytest.mark.parametrize("name", PYRAMIDAL_SETS)
def test_clamped_soma_settles_to_the_conductance_weighted_mean(name):
    model = load_neuron(name)
    p = model.parameters
    g_L, g_B, g_A, E_L = (float(p[k]) for k in ("g_L", "g_B", "g_A", "E_L"))
    v_basal = (float(p["E_L"]) + np.array([0.0, 5e-3, 12e-3, -4e-3])) * 1.0
    v_apical = (float(p["E_L"]) + np.array([3e-3, -6e-3, 0.0, 8e-3])) * 1.0
    tau_eff = float(p["C"]) / (g_L + g_B + g_A)
    t, u, vb, va, _ = _clamped_run(model, v_basal * 1e3 * mV, v_apical * 1e3 * mV, 60 * tau_eff * second + 1 * ms)
    # the dendrites really are clamped
    np.testing.assert_array_equal(np.asarray(vb)[:, -1], np.asarray(vb)[:, 0])
    expected = (g_L * E_L + g_B * v_basal + g_A * v_apical) / (g_L + g_B + g_A)
    np.testing.assert_allclose(np.asarray(u)[:, -1], expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", PYRAMIDAL_SETS)
def test_relaxation_follows_the_effective_time_constant(name):
    model = load_neuron(name)
    p = model.parameters
    g_total = float(p["g_L"] + p["g_B"] + p["g_A"])
    tau_eff = float(p["C"]) / g_total
    E_L = float(p["E_L"])
    v_basal, v_apical = E_L + 10e-3, E_L + 4e-3
    t, u, _, _, _ = _clamped_run(model, np.array([v_basal]) * 1e3 * mV, np.array([v_apical]) * 1e3 * mV,
                                 8 * tau_eff * second)
    t, u = np.asarray(t), np.asarray(u)[0]
    u_star = (float(p["g_L"]) * E_L + float(p["g_B"]) * v_basal + float(p["g_A"]) * v_apical) / g_total
    # the monitor samples at the start of each step: u(0) = E_L
    analytic = u_star + (E_L - u_star) * np.exp(-t / tau_eff)
    np.testing.assert_allclose(u - u_star, analytic - u_star, rtol=1e-3, atol=1e-12)
    # fitted time constant from the log of the distance to the steady state
    keep = np.abs(u - u_star) > 1e-6 * abs(u_star - E_L)
    slope = np.polyfit(t[keep], np.log(np.abs(u[keep] - u_star)), 1)[0]
    assert -1 / slope == pytest.approx(tau_eff, rel=1e-3)


def test_pyramidal_dendritic_prediction_is_the_basal_only_steady_state():
    model = load_neuron("sacramento2018_pyramidal")
    p = model.parameters
    v_basal = np.array([2.0, -1.0, 7.5])
    t, u, _, _, group = _clamped_run(model, v_basal * mV, np.zeros(3) * mV, 50 * ms)
    g_L, g_B, g_A = (float(p[k] / nS) for k in ("g_L", "g_B", "g_A"))
    factor = g_B / (g_L + g_B + g_A)
    np.testing.assert_allclose(np.asarray(group.dendritic_prediction / mV), factor * v_basal, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(u)[:, -1] / 1e-3, factor * v_basal, rtol=1e-6)


def test_interneuron_attenuation_is_g_D_over_g_L_plus_g_D():
    model = load_neuron("sacramento2018_interneuron")
    with Backend("numpy", seed=1) as backend:
        group = model.make_group(2)
        group.nudge = 0
        group.v_dendrite_drive = [3.0, -2.0] * mV
        backend.parameters_set()
        model.initialise(group)
        network = Network(group)
        backend.run(network, 30 * ms)
        factor = 1.0 / (0.1 + 1.0)
        np.testing.assert_allclose(group.dendritic_prediction / mV, factor * np.array([3.0, -2.0]), rtol=1e-12)
        np.testing.assert_allclose(group.u / mV, factor * np.array([3.0, -2.0]), rtol=1e-6)
        # with nudging on, the soma moves towards u_target: (g_L E_L + g_D v_D + g_som u_t) / (g_L + g_D + g_som)
        group.nudge = 1
        group.u_target = [10.0, 10.0] * mV
        backend.run(network, 30 * ms)
        expected = (1.0 * np.array([3.0, -2.0]) + 0.8 * 10.0) / (0.1 + 1.0 + 0.8)
        np.testing.assert_allclose(group.u / mV, expected, rtol=1e-6)


def test_poisson_output_rate_matches_phi_with_dead_time():
    model = load_neuron("urbanczik2014")
    p = model.parameters
    offsets = np.array([0.0, 10.0, 20.0])  # mV above rest, basal clamp
    n_per, duration = 400, 2.0
    with Backend("numpy", seed=3) as backend:
        group = model.make_group(n_per * len(offsets))
        group.v_basal_drive = np.repeat(offsets, n_per) * mV
        backend.parameters_set()
        model.initialise(group)
        spikes = SpikeMonitor(group)
        backend.run(Network(group, spikes), duration * second)
        u = np.asarray(group.u[::n_per])
    rate = transfer.phi("sigmoid", u, float(p["phi_max"]), float(p["beta"]), float(p["theta"]), float(p["k"]))
    dead = float(p["t_ref"])
    expected = rate / (1 + rate * dead)  # Poisson process with dead time
    counts = np.bincount(np.asarray(spikes.i) // n_per, minlength=len(offsets))
    expected_counts = expected * duration * n_per
    # Poisson-with-dead-time counts have variance below the mean; 5 sigma of Poisson is loose enough
    assert np.all(np.abs(counts - expected_counts) < 5 * np.sqrt(expected_counts) + 5), (counts, expected_counts)


def test_threshold_mode_interspike_interval_is_analytic():
    base = load_neuron("urbanczik2014")
    model = dataclasses.replace(base.with_options(spiking="threshold"), parameters={
        **base.parameters, "V_threshold": -55 * mV, "V_reset": -65 * mV})
    currents = np.array([200.0, 400.0, 800.0])  # pA
    with Backend("numpy", seed=1, dt=0.01 * ms) as backend:
        group = model.make_group(len(currents))
        group.I_soma = currents * pA
        backend.parameters_set()
        model.initialise(group)
        spikes = SpikeMonitor(group)
        backend.run(Network(group, spikes), 300 * ms)
        trains = spikes.spike_trains()
    p = model.parameters
    g_total = float(p["g_L"] + p["g_B"] + p["g_A"])
    tau = float(p["C"]) / g_total
    # dendrites stay at rest: u* = E_L + I / g_total
    u_star = float(p["E_L"]) + currents * 1e-12 / g_total
    isi = float(p["t_ref"]) + tau * np.log((u_star - float(p["V_reset"])) / (u_star - float(p["V_threshold"])))
    for n in range(len(currents)):
        measured = np.diff(np.asarray(trains[n]))[2:]
        # the threshold is checked once per step: the ISI is resolved to one step
        assert np.all(np.abs(measured - isi[n]) <= 0.01e-3 + 1e-12), (measured[:3], isi[n])


def test_somatic_noise_current_is_an_ornstein_uhlenbeck_process():
    raw = {
        "model": "pyramidal", "source": "test", "transfer": "sigmoid", "spiking": "poisson", "noise": True,
        "parameters": {"C": "300 pF", "g_L": "30 nS", "g_B": "0 nS", "g_A": "0 nS", "E_L": "-70 mV",
                       "tau_basal": "10 ms", "tau_apical": "10 ms", "t_ref": "0 ms", "phi_max": "1 Hz",
                       "k": 1, "beta": "1 /mV", "theta": "-20 mV", "sigma_noise": "50 pA", "tau_noise": "5 ms"},
    }
    model = neuron_from_mapping(raw)
    with Backend("numpy", seed=11) as backend:
        group = model.make_group(200)
        backend.parameters_set()
        model.initialise(group)
        group.I_noise = "sigma_noise*randn()"  # start in the stationary distribution
        monitor = StateMonitor(group, ["I_noise", "u"], record=True, dt=1 * ms)
        backend.run(Network(group, monitor), 500 * ms)
    noise = np.asarray(monitor.I_noise) / 1e-12
    assert noise.std() == pytest.approx(50.0, rel=0.03)
    lag = 5  # samples of 1 ms = tau_noise
    correlation = np.mean(noise[:, lag:] * noise[:, :-lag]) / np.mean(noise**2)
    assert correlation == pytest.approx(np.exp(-1), abs=0.03)
    # the soma filters the current: variance of u = sigma^2 / g^2 * tau_n / (tau_n + tau_m)
    tau_m, tau_n = 300e-12 / 30e-9, 5e-3
    u = np.asarray(monitor.u)[:, 100:]
    expected_std = 50e-12 / 30e-9 * np.sqrt(tau_n / (tau_n + tau_m))
    assert u.std() == pytest.approx(expected_std, rel=0.05)


@pytest.mark.parametrize("kind", ["sigmoid", "softplus"])
def test_transfer_function_in_brian_matches_numpy_and_its_log_derivative(kind):
    raw = {"model": "pyramidal", "source": "test", "transfer": kind, "spiking": "poisson",
           "parameters": {"C": "1 pF", "g_L": "1 nS", "g_B": "0 nS", "g_A": "0 nS", "E_L": "0 mV",
                          "tau_basal": "1 ms", "tau_apical": "1 ms", "t_ref": "0 ms", "phi_max": "50 Hz",
                          "beta": "0.5 /mV", "theta": "-3 mV", **({"k": 0.7} if kind == "sigmoid" else {})}}
    model = neuron_from_mapping(raw)
    u = np.linspace(-40, 40, 81)
    with Backend("numpy") as backend:
        group = model.make_group(len(u))
        backend.parameters_set()
        group.u = u * mV
        brian_rate = np.asarray(group.rate)
    beta, theta, k = 0.5e3, -3e-3, 0.7
    x = beta * (u * 1e-3 - theta)
    independent = 50 / (1 + k * np.exp(-x)) if kind == "sigmoid" else 50 * np.log1p(np.exp(x))
    np.testing.assert_allclose(brian_rate, independent, rtol=1e-12)
    # h(u) = d log phi / du against a 30-digit numerical derivative (mpmath, a sympy dependency)
    import mpmath

    mpmath.mp.dps = 30
    h = transfer.log_derivative(kind, u * 1e-3, beta, theta, k)

    def log_phi(v):
        x = beta * (v - mpmath.mpf(theta))
        return mpmath.log(50 / (1 + k * mpmath.exp(-x)) if kind == "sigmoid" else 50 * mpmath.log(1 + mpmath.exp(x)))

    reference = np.array([float(mpmath.diff(log_phi, mpmath.mpf(v) / 1000)) for v in u])
    np.testing.assert_allclose(h, reference, rtol=1e-12)


def _single_input_spike(model, weight, dt, duration, spike_step=10, **group_values):
    """One input spike of weight ``weight`` onto the basal dendrite; records u, v_basal
    at every step start. The spike emitted in step ``spike_step`` acts from the state at
    t0 = (spike_step + 1) dt on (Brian's schedule: groups, thresholds, synapses)."""
    from brian2 import SpikeGeneratorGroup, Synapses

    with Backend("numpy", seed=1, dt=dt) as backend:
        group = model.make_group(1, name="single_spike_neuron")
        for key, value in group_values.items():
            setattr(group, key, value)
        source = SpikeGeneratorGroup(1, [0], [spike_step * dt], name="single_spike_source")
        synapses = Synapses(source, group, "w : volt", on_pre=model.synaptic_input("basal"), name="single_spike_syn")
        synapses.connect()
        synapses.w = weight
        backend.parameters_set()
        model.initialise(group)
        monitor = StateMonitor(group, ["u", "v_basal"], record=0, name="single_spike_states")
        backend.run(Network(group, source, synapses, monitor), duration)
        return (np.asarray(monitor.t), np.asarray(monitor.u[0]), np.asarray(monitor.v_basal[0]),
                (spike_step + 1) * float(dt))


def _soma_dendrite_matrix_solution(p, t, t0, weight, i_soma=0.0):
    """u(t) - E_L and v_basal(t) - E_L of the linear soma-dendrite-synapse system, by
    the matrix exponential (independent of any closed form):

        C dy/dt = -(g_L + g_B + g_A) y + g_B x + I,  tau_L dx/dt = -x + s,  tau_s ds/dt = -s,

    from rest at t = 0 (y = x = s = 0, constant I), with s raised by w tau_L/tau_s at t0."""
    from scipy.linalg import expm

    C, g_L, g_B, g_A = (float(p[k]) for k in ("C", "g_L", "g_B", "g_A"))
    tau_L, tau_s = float(p["tau_basal"]), float(p["tau_syn_basal"])
    g_total = g_L + g_B + g_A
    # state (y, x, s, 1): the constant 1 carries the somatic current
    matrix = np.array([[-g_total / C, g_B / C, 0.0, i_soma / C], [0.0, -1 / tau_L, 1 / tau_L, 0.0],
                       [0.0, 0.0, -1 / tau_s, 0.0], [0.0, 0.0, 0.0, 0.0]])
    rest = np.array([0.0, 0.0, 0.0, 1.0])
    at_spike = expm(matrix * t0) @ rest + np.array([0.0, 0.0, weight * tau_L / tau_s, 0.0])
    states = np.array([expm(matrix * ti) @ rest if ti < t0 else expm(matrix * (ti - t0)) @ at_spike for ti in t])
    return states[:, 0], states[:, 1]


def test_urbanczik_psp_is_the_published_difference_of_exponentials():
    """The dendritic PSP of ``urbanczik2014`` is the kernel of Urbanczik & Senn 2014 and of
    NEST ``pp_cond_exp_mc_urbanczik`` (models/pp_cond_exp_mc_urbanczik.cpp: the dendrite
    integrates exponentially decaying input currents, tau_syn_ex = 3 ms, with C/g_L = 10 ms;
    the kernel of NEST's testsuite/pytests/test_urbanczik_synapse.py),
    psp(t) = tau_L/(tau_L - tau_s) (exp(-t/tau_L) - exp(-t/tau_s)), rising from 0, not a
    jump. Checked at every step, against the formula."""
    model = load_neuron("urbanczik2014")
    p = model.parameters
    assert model.synaptic_current and float(p["tau_syn_basal"]) == pytest.approx(3e-3)
    dt, w = 0.1 * ms, 2 * mV
    t, u, v, t0 = _single_input_spike(model, w, dt, 60 * ms)
    tau_L, tau_s = float(p["tau_basal"]), float(p["tau_syn_basal"])
    s = np.clip(t - t0, 0, None)
    kernel = tau_L / (tau_L - tau_s) * (np.exp(-s / tau_L) - np.exp(-s / tau_s))
    np.testing.assert_allclose(v - float(p["E_L"]), float(w) * kernel, rtol=0, atol=1e-12 * float(w))
    # its integral is that of the single exponential of the same weight (w tau_L)
    assert np.sum(v - float(p["E_L"])) * float(dt) == pytest.approx(float(w) * tau_L, rel=2e-2)


def test_exact_soma_integration_against_the_matrix_exponential():
    """Soma after one dendritic input spike (``urbanczik2014``, with a somatic current so
    that the soma starts away from E_L) against the matrix exponential of the linear
    system. ``integration = "exact"`` matches to rounding at dt = 0.1 ms; the
    original scheme (v_basal held at its start-of-step value in the soma's exponential-
    Euler step) is off by an error of first order in dt: halving dt halves it."""
    exact = load_neuron("urbanczik2014")
    held = exact.with_options(integration="exponential_euler")
    w = 3 * mV
    errors = {}
    for name, model in (("exact", exact), ("held", held)):
        for dt in (0.1 * ms, 0.05 * ms):
            t, u, v, t0 = _single_input_spike(model, w, dt, 40 * ms, spike_step=int(round(5 * ms / dt)) - 1,
                                              I_soma=300 * pA)
            y, x = _soma_dendrite_matrix_solution(model.parameters, t, t0, float(w), i_soma=300e-12)
            E_L = float(model.parameters["E_L"])
            if name == "exact":
                np.testing.assert_allclose(v - E_L, x, rtol=0, atol=1e-12)
            errors[name, float(dt)] = np.abs((u - E_L) - y).max()
    peak = np.abs(y - 300e-12 / 630e-9).max()
    print({key: value / 1e-3 for key, value in errors.items()}, "mV; PSP peak", peak / 1e-3, "mV")
    assert errors["exact", 1e-4] < 1e-9 * peak and errors["exact", 5e-5] < 1e-9 * peak
    assert errors["held", 1e-4] > 1e-2 * peak  # the old scheme: a visible bias
    assert errors["held", 1e-4] / errors["held", 5e-5] == pytest.approx(2.0, rel=0.1)  # first order in dt
