"""The dendritic prediction rules against an independent NumPy recomputation from the
recorded spikes and potentials (as NEST tests its ``urbanczik_synapse``), on every target.

One small circuit holds every rule at once, so each target compiles once:

    inputs (Poisson, 40) --spike form, filtered, every dt-->  two Urbanczik-Senn neurons
    inputs --rate form, every 1 ms, bounded-->               three Sacramento pyramidal neurons
    inputs --rate form onto the dendrite, every 0.5 ms-->    three interneurons (nudged)
    interneurons --apical cancellation, every 0.5 ms-->      the pyramidal neurons' apical dendrites
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, Network, SpikeMonitor, StateMonitor, defaultclock, mV, ms, pA, second, volt

from dendritic.backend import Backend
from dendritic.neurons import load_neuron
from dendritic.plasticity.dendritic_prediction import (ApicalCancellationRule, DendriticPredictionRule,
                                                       PresynapticTrace, spike_source)

import prediction_reference as ref

DT = 0.1 * ms
DURATION = 300 * ms
N_IN = 40

SPIKE_RULE = DendriticPredictionRule(form="spike", eta=2.0 * mV**2, tau_delta=100 * ms)
# rules with other intervals need their own presynaptic accumulators
RATE_RULE = DendriticPredictionRule(form="rate", eta=0.02 * mV * second, interval=1 * ms,
                                    w_min=-0.3 * mV, w_max=0.8 * mV, trace=PresynapticTrace("psp_1ms"))
INTERNEURON_RULE = DendriticPredictionRule(form="rate", eta=0.02 * mV * second, interval=0.5 * ms,
                                           target="dendrite", trace=PresynapticTrace("psp_half_ms"))
APICAL_RULE = ApicalCancellationRule(eta=0.2, interval=0.5 * ms, tau_delta=20 * ms)


def initial_weights(seed=7):
    rng = np.random.default_rng(seed)
    return {
        "spike": rng.normal(0.5, 0.3, 2 * N_IN) * 1e-3,
        "rate": rng.normal(0.3, 0.3, 3 * N_IN) * 1e-3,
        "interneuron": rng.normal(0.3, 0.3, 3 * N_IN) * 1e-3,
        "apical": rng.normal(-0.5, 0.2, 9) * 1e-3,
    }


def all_to_all(n_pre, n_post):
    return np.tile(np.arange(n_pre), n_post), np.repeat(np.arange(n_post), n_pre)


def simulate(target, tmp_path, seed=11):
    urbanczik = SPIKE_RULE.postsynaptic(load_neuron("urbanczik2014"))
    pyramidal = APICAL_RULE.postsynaptic(RATE_RULE.postsynaptic(load_neuron("sacramento2018_pyramidal")))
    interneuron = INTERNEURON_RULE.postsynaptic(
        APICAL_RULE.presynaptic(load_neuron("sacramento2018_interneuron")))
    w0 = initial_weights()
    with Backend(target, build_dir=tmp_path / "build", seed=seed, dt=DT) as backend:
        inputs = spike_source(N_IN, "rand() < 1 - exp(-rate*dt)", "inputs",
                              traces=(SPIKE_RULE.trace, RATE_RULE.trace, INTERNEURON_RULE.trace),
                              equations="rate : Hz (shared, constant)")
        inputs.rate = 20 * Hz
        us = urbanczik.make_group(2, name="us")
        us.I_soma = [0, 400] * pA
        pyr = pyramidal.make_group(3, name="pyr")
        pyr.v_apical_drive = [1, 2, 3] * mV
        inter = interneuron.make_group(3, name="inter")
        inter.u_target = [1, 2.5, 4] * mV
        synapses = {
            "spike": SPIKE_RULE.connect(inputs, us, *all_to_all(N_IN, 2), w0["spike"] * volt, urbanczik,
                                        "inputs_to_us"),
            "rate": RATE_RULE.connect(inputs, pyr, *all_to_all(N_IN, 3), w0["rate"] * volt, pyramidal,
                                      "inputs_to_pyr"),
            "interneuron": INTERNEURON_RULE.connect(inputs, inter, *all_to_all(N_IN, 3), w0["interneuron"] * volt,
                                                    interneuron, "inputs_to_inter"),
            "apical": APICAL_RULE.connect(inter, pyr, *all_to_all(3, 3), w0["apical"] * volt, pyramidal,
                                          "inter_to_pyr"),
        }
        groups = {"inputs": inputs, "us": us, "pyr": pyr, "inter": inter}
        backend.parameters_set(groups)
        for model, group in ((urbanczik, us), (pyramidal, pyr), (interneuron, inter)):
            model.initialise(group)
        spikes = {name: SpikeMonitor(group, name=f"{name}_spikes") for name, group in groups.items()}
        states = {
            "us": StateMonitor(us, ["dendritic_prediction"], record=True, name="us_states"),
            "pyr": StateMonitor(pyr, ["u", "dendritic_prediction", "v_apical"], record=True, name="pyr_states"),
            "inter": StateMonitor(inter, ["u", "dendritic_prediction"], record=True, name="inter_states"),
        }
        network = Network(*groups.values(), *synapses.values(), *spikes.values(), *states.values())
        backend.run(network, DURATION)
        out = {
            "w": {name: np.asarray(s.w[:] / volt) for name, s in synapses.items()},
            "spikes": {name: (np.round(np.asarray(m.t[:] / DT)).astype(int), np.asarray(m.i[:]))
                       for name, m in spikes.items()},
            "states": {name: {var: np.asarray(getattr(m, var)[:] / volt).T for var in m.record_variables}
                       for name, m in states.items()},
        }
    out["w0"] = w0
    return out


def si(model):
    return {key: float(value) for key, value in model.parameters.items()}


def recompute(out):
    """Final weights of every projection, from recorded spikes and potentials only."""
    dt = float(DT)
    n_steps = int(round(float(DURATION / DT)))
    urbanczik, pyramidal = load_neuron("urbanczik2014"), load_neuron("sacramento2018_pyramidal")
    interneuron = load_neuron("sacramento2018_interneuron")
    spikes, states = out["spikes"], out["states"]
    psp_inputs = ref.psp_trace(*spikes["inputs"], N_IN, n_steps, dt, 10e-3)
    psp_inter = ref.psp_trace(*spikes["inter"], 3, n_steps, dt, 10e-3)
    expected = {}

    error = ref.spike_error(states["us"]["dendritic_prediction"], *spikes["us"], dt, "sigmoid", si(urbanczik))
    expected["spike"] = ref.integrate_weights(out["w0"]["spike"], *all_to_all(N_IN, 2), error, psp_inputs * dt,
                                              n_steps, 1, dt, float(SPIKE_RULE.eta),
                                              tau_delta=float(SPIKE_RULE.tau_delta))
    error = ref.rate_error(states["pyr"]["u"], states["pyr"]["dendritic_prediction"], dt, "softplus", si(pyramidal))
    expected["rate"] = ref.integrate_weights(out["w0"]["rate"], *all_to_all(N_IN, 3), error, psp_inputs * dt,
                                             n_steps, 10, dt, float(RATE_RULE.eta), presynaptic_scale=1 / 10e-3,
                                             w_min=float(RATE_RULE.w_min), w_max=float(RATE_RULE.w_max))
    error = ref.rate_error(states["inter"]["u"], states["inter"]["dendritic_prediction"], dt, "softplus",
                           si(interneuron))
    expected["interneuron"] = ref.integrate_weights(out["w0"]["interneuron"], *all_to_all(N_IN, 3), error,
                                                    psp_inputs * dt, n_steps, 5, dt, float(INTERNEURON_RULE.eta),
                                                    presynaptic_scale=1 / 10e-3)
    error = ref.apical_error(states["pyr"]["v_apical"], 0.0, dt)
    expected["apical"] = ref.integrate_weights(out["w0"]["apical"], *all_to_all(3, 3), error, psp_inter * dt,
                                               n_steps, 5, dt, float(APICAL_RULE.eta), presynaptic_scale=1 / 10e-3,
                                               tau_delta=float(APICAL_RULE.tau_delta))
    return expected


def check_against_numpy(out):
    expected = recompute(out)
    for name, w in out["w"].items():
        change, expected_change = w - out["w0"][name], expected[name] - out["w0"][name]
        scale = np.abs(expected_change).max()
        # the run must actually learn, or the comparison shows nothing
        assert scale > 0.02 * np.abs(out["w0"][name]).max(), f"{name}: weights barely changed ({scale:.2e} V)"
        error = np.abs(change - expected_change).max() / scale
        assert error < 1e-3, f"{name}: relative error of the weight change {error:.2e}"
    # the bounds of the rate projection were reached, so clipping was exercised
    assert np.isclose(out["w"]["rate"], float(RATE_RULE.w_max)).any() or \
        np.isclose(out["w"]["rate"], float(RATE_RULE.w_min)).any()


@pytest.mark.parametrize("target", ["numpy", "cython"])
def test_rules_match_numpy_recomputation_runtime(target, tmp_path):
    check_against_numpy(simulate(target, tmp_path))


@pytest.mark.standalone
def test_rules_match_numpy_recomputation_standalone(tmp_path):
    check_against_numpy(simulate("cpp_standalone", tmp_path))


def test_coarse_interval_converges_to_per_step_rule():
    """The per-interval product of means approaches the per-step rule as Delta shrinks
    (shown on the reference implementation, which the targets match exactly)."""
    rng = np.random.default_rng(3)
    dt, n_steps, n_pre = 1e-4, 20_000, 30
    spikes = np.nonzero(rng.random((n_steps, n_pre)) < 20 * dt)
    psp = ref.psp_trace(spikes[0], spikes[1], n_pre, n_steps, dt, 10e-3)
    w_true = rng.normal(1e-3, 1e-3, n_pre)
    v_hat = -0.062 + (psp @ w_true)[:, None] * 0.5
    error = np.tile(np.sin(np.arange(n_steps) * dt * 2 * np.pi * 7)[:, None] * 1e-3 * dt, (1, 1)) + v_hat * 0
    pre, post = np.arange(n_pre), np.zeros(n_pre, int)
    w0 = np.zeros(n_pre)
    fine = ref.integrate_weights(w0, pre, post, error, psp * dt, n_steps, 1, dt, 1.0, tau_delta=0.1)
    deviations = [np.abs(ref.integrate_weights(w0, pre, post, error, psp * dt, n_steps, m, dt, 1.0, tau_delta=0.1)
                         - fine).max() / np.abs(fine).max() for m in (50, 10, 2)]
    assert deviations[0] > deviations[1] > deviations[2] > 0
    assert deviations[2] < 0.05


def test_rule_errors_are_clear():
    with pytest.raises(ValueError, match="eta of the spike form must be in volt\\*\\*2"):
        DendriticPredictionRule(form="spike", eta=0.1 * mV)
    with pytest.raises(ValueError, match="unknown form 'hebbian'"):
        DendriticPredictionRule(form="hebbian", eta=0.1 * mV**2)
    with pytest.raises(ValueError, match="eta of the apical cancellation rule must be dimensionless"):
        ApicalCancellationRule(eta=1 * mV)
    with pytest.raises(ValueError, match="no 'apical' dendrite"):
        APICAL_RULE.postsynaptic(load_neuron("sacramento2018_interneuron"))
    defaultclock.dt = DT
    with pytest.raises(ValueError, match="whole number"):
        DendriticPredictionRule(form="spike", eta=1 * mV**2, interval=0.25 * ms).interval_of()
    model = load_neuron("urbanczik2014")
    pre = spike_source(3, "False", "pre_missing")
    post = model.make_group(1, name="post_missing")
    with pytest.raises(ValueError, match="has no 'spike_error_basal_integral'.*postsynaptic\\(\\)"):
        SPIKE_RULE.connect(pre, post, [0], [0], 0 * volt, model, "unprepared")
    prepared = SPIKE_RULE.postsynaptic(model)
    post = prepared.make_group(2, name="post_prepared")
    SPIKE_RULE.connect(pre, post, [0], [0], 0 * volt, prepared, "every_step")
    coarse = DendriticPredictionRule(form="spike", eta=1 * mV**2, interval=1 * ms)
    with pytest.raises(ValueError, match="pre_missing.psp_integral is already integrated over learning intervals"):
        coarse.connect(pre, post, [1], [1], 0 * volt, prepared, "every_ms")


@pytest.mark.standalone
def test_no_drift_without_teacher(tmp_path):
    """With the teacher off and the apical dendrite at rest, the soma equals its dendritic
    prediction up to the membrane lag, so the rule is zero in expectation.

    Shown on Sacramento neurons (no refractoriness, so E[S] = phi(u) as the rule
    assumes), against the same neurons with a teacher pulling the soma 3 mV up. The rate
    form, free of spike noise, reveals the one systematic term: u is v_hat low-pass
    filtered by the soma (tau = C/g_tot = 0.53 ms against 10 ms PSPs), which lowers the
    variance of u and, phi being convex, the mean of phi(u). This residual drift must be
    linear in the somatic lag, i.e. in C, and vanish for an instantaneous soma (C -> 0).
    Standalone: one compilation for the eight populations.
    """
    n_post, n_in, duration = 100, 50, 4 * second
    rules = {"spike": DendriticPredictionRule(form="spike", eta=0.5 * mV**2, tau_delta=100 * ms),
             "rate": DendriticPredictionRule(form="rate", eta=0.005 * mV * second)}
    base = load_neuron("sacramento2018_pyramidal")
    capacitances = (1.0, 0.5, 0.25)  # of the published C
    rng = np.random.default_rng(5)
    i, j = all_to_all(n_in, 2 * n_post)
    w0 = rng.normal(0.3, 0.3, len(i)) * 1e-3
    with Backend("cpp_standalone", build_dir=tmp_path / "build", seed=4, dt=DT) as backend:
        inputs = spike_source(n_in, "rand() < 1 - exp(-rate*dt)", "drift_inputs",
                              equations="rate : Hz (shared, constant)")
        inputs.rate = 20 * Hz
        groups, synapses, models = {}, {}, {}
        for form, fraction in [("spike", 1.0)] + [("rate", c) for c in capacitances]:
            name = f"{form}_{fraction:g}".replace(".", "_")
            models[name] = model = rules[form].postsynaptic(base).with_parameters(C=base.parameters["C"] * fraction)
            # first half free, second half taught
            groups[name] = group = model.make_group(2 * n_post, name=name)
            group.nudge = np.repeat([0.0, 1.0], n_post)
            group.u_target = 3 * mV
            synapses[name] = rules[form].connect(inputs, group, i, j, w0 * volt, model, f"to_{name}")
        backend.parameters_set()
        for name, model in models.items():
            model.initialise(groups[name])
        output = SpikeMonitor(groups["spike_1"], name="spike_output")
        backend.run(Network(inputs, *groups.values(), *synapses.values(), output), duration)
        rate = output.num_spikes / (2 * n_post * float(duration))
        drift = {name: (np.asarray(s.w[:]) - w0).reshape(2, n_post, n_in).mean(axis=2)
                 for name, s in synapses.items()}
    assert 5 < rate < 100, f"neurons fire at {rate:.1f} Hz"
    free = {name: d[0].mean() for name, d in drift.items()}
    taught = {name: d[1].mean() for name, d in drift.items()}
    sem = {name: (d[0].std() / np.sqrt(n_post), d[1].std() / np.sqrt(n_post)) for name, d in drift.items()}
    print({"free": free, "taught": taught, "sem": sem})
    for name in ("spike_1", "rate_1"):
        assert taught[name] > 8 * sem[name][1] > 0, f"{name}: the teacher's drift is not resolved"
    # spike form: no drift within the spike noise, which resolves the teacher's drift
    assert abs(free["spike_1"]) < 4 * sem["spike_1"][0], f"spike: drift {free['spike_1']:.2e} V"
    assert abs(free["spike_1"]) < 0.5 * taught["spike_1"]
    # rate form: drift = a + b C; a (instantaneous soma) is zero, b C is the lag term
    fractions = np.array(capacitances)
    drifts = np.array([free[f"rate_{c:g}".replace(".", "_")] for c in capacitances])
    slope, intercept = np.polyfit(fractions, drifts, 1)
    residual = np.abs(drifts - (intercept + slope * fractions)).max()
    assert abs(drifts[0]) < 0.2 * taught["rate_1"], f"rate: drift {drifts[0]:.2e} V vs {taught['rate_1']:.2e} V"
    assert residual < 0.1 * abs(drifts[0]), f"rate: drift not linear in C ({drifts})"
    assert abs(intercept) < 0.03 * taught["rate_1"], f"rate: drift {intercept:.2e} V for an instantaneous soma"
