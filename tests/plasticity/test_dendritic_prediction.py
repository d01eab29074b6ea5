"""The dendritic prediction rules against an independent NumPy recomputation from the
recorded spikes and potentials (as NEST tests its ``urbanczik_synapse``,
testsuite/pytests/test_urbanczik_synapse.py), on every target. The reference
(``prediction_reference``) integrates the continuous-time rules at a fine step with its
own phi, h, dendritic prediction and PSP kernels.

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

SPIKE_RULE = DendriticPredictionRule(form="spike", eta=2.0 * mV**2, tau_delta=100 * ms,
                                     trace=PresynapticTrace.matching(load_neuron("urbanczik2014")))
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
            "us": StateMonitor(us, ["v_basal"], record=True, name="us_states"),
            "pyr": StateMonitor(pyr, ["u", "v_basal", "v_apical"], record=True, name="pyr_states"),
            "inter": StateMonitor(inter, ["u", "v_dendrite"], record=True, name="inter_states"),
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


def recompute(out, substeps=4, urbanczik_tau_syn="model"):
    """Final weights of every projection, from recorded spikes and potentials only
    (``urbanczik_tau_syn=None``: the single-exponential kernel, to show the check's power)."""
    dt = float(DT)
    n_steps = int(round(float(DURATION / DT)))
    urbanczik, pyramidal = si(load_neuron("urbanczik2014")), si(load_neuron("sacramento2018_pyramidal"))
    interneuron = si(load_neuron("sacramento2018_interneuron"))
    spikes, states = out["spikes"], out["states"]
    expected = {}

    def applied(steps_per_interval):
        return (n_steps - 1) // steps_per_interval * steps_per_interval * dt

    def input_psp(tau, tau_syn=None):
        return lambda t: ref.psp(t, *spikes["inputs"], N_IN, dt, tau, tau_syn)

    # spike form onto the Urbanczik-Senn neurons: e = (S - phi(v_hat)) h(v_hat)
    v_hat = ref.Interpolated(ref.dendritic_prediction(states["us"]["v_basal"], urbanczik, "g_B", ("g_A",)), dt)
    T = applied(1)
    events = [((n + 1) * dt, i, ref.h("sigmoid", v_hat(np.array([(n + 1) * dt]))[0, i], urbanczik))
              for n, i in zip(*spikes["us"]) if (n + 1) * dt <= T + 1e-12]
    tau_syn = urbanczik["tau_syn_basal"] if urbanczik_tau_syn == "model" else urbanczik_tau_syn
    expected["spike"] = ref.integrate_rule(
        out["w0"]["spike"], *all_to_all(N_IN, 2),
        lambda t: -ref.phi("sigmoid", v_hat(t), urbanczik) * ref.h("sigmoid", v_hat(t), urbanczik),
        input_psp(urbanczik["tau_basal"], tau_syn), T, dt, float(SPIKE_RULE.eta),
        tau_delta=float(SPIKE_RULE.tau_delta), spike_events=events, substeps=substeps)
    # rate form onto the pyramidal neurons: e = phi(u) - phi(v_hat), r = psp / tau
    u = ref.Interpolated(states["pyr"]["u"], dt)
    v_hat = ref.Interpolated(ref.dendritic_prediction(states["pyr"]["v_basal"], pyramidal, "g_B", ("g_A",)), dt)
    tau = pyramidal["tau_basal"]
    expected["rate"] = ref.integrate_rule(
        out["w0"]["rate"], *all_to_all(N_IN, 3),
        lambda t: ref.phi("softplus", u(t), pyramidal) - ref.phi("softplus", v_hat(t), pyramidal),
        lambda t: input_psp(tau)(t) / tau, applied(10), dt, float(RATE_RULE.eta), substeps=substeps,
        w_min=float(RATE_RULE.w_min), w_max=float(RATE_RULE.w_max))
    # rate form onto the interneurons' dendrites
    u = ref.Interpolated(states["inter"]["u"], dt)
    v_hat = ref.Interpolated(ref.dendritic_prediction(states["inter"]["v_dendrite"], interneuron, "g_D"), dt)
    expected["interneuron"] = ref.integrate_rule(
        out["w0"]["interneuron"], *all_to_all(N_IN, 3),
        lambda t: ref.phi("softplus", u(t), interneuron) - ref.phi("softplus", v_hat(t), interneuron),
        lambda t: input_psp(interneuron["tau_dendrite"])(t) / interneuron["tau_dendrite"], applied(5), dt,
        float(INTERNEURON_RULE.eta), substeps=substeps)
    # apical cancellation: e = E_L - v_apical, r = interneuron psp / tau_apical
    v_apical = ref.Interpolated(states["pyr"]["v_apical"], dt)
    tau = pyramidal["tau_apical"]
    expected["apical"] = ref.integrate_rule(
        out["w0"]["apical"], *all_to_all(3, 3), lambda t: pyramidal["E_L"] - v_apical(t),
        lambda t: ref.psp(t, *spikes["inter"], 3, dt, tau) / tau, applied(5), dt, float(APICAL_RULE.eta),
        tau_delta=float(APICAL_RULE.tau_delta), substeps=substeps)
    return expected


#: Largest relative error of the weight changes against the reference, by projection:
#: the package's time grid is first order in dt (spike form; left Riemann sums) and
#: the coarse intervals replace the mean of e r by the product of means (second order
#: in Delta over the time constants of e and r), and e = phi(u) - phi(v_hat) is a small
#: difference that amplifies the sampling error. Measured (numpy): 2.2 %, 1.0 %, 3.0 %,
#: 1.8 %, unchanged for a finer reference step; the former single-exponential kernel
#: gives 80 %. The bounds are about twice the measured values.
TOLERANCES = {"spike": 5e-2, "rate": 3e-2, "interneuron": 6e-2, "apical": 4e-2}


def check_against_numpy(out):
    expected = recompute(out)
    errors = {}
    for name, w in out["w"].items():
        change, expected_change = w - out["w0"][name], expected[name] - out["w0"][name]
        scale = np.abs(expected_change).max()
        # the run must actually learn, or the comparison shows nothing
        assert scale > 0.02 * np.abs(out["w0"][name]).max(), f"{name}: weights barely changed ({scale:.2e} V)"
        errors[name] = np.abs(change - expected_change).max() / scale
    print("relative errors of the weight changes:", errors)
    for name, error in errors.items():
        assert error < TOLERANCES[name], f"{name}: relative error of the weight change {error:.2e}"
    # the bounds of the rate projection were reached, so clipping was exercised
    assert np.isclose(out["w"]["rate"], float(RATE_RULE.w_max)).any() or \
        np.isclose(out["w"]["rate"], float(RATE_RULE.w_min)).any()
    # the check can fail: the former single-exponential kernel is far outside the tolerance
    wrong = recompute(out, urbanczik_tau_syn=None)["spike"] - out["w0"]["spike"]
    change = out["w"]["spike"] - out["w0"]["spike"]
    assert np.abs(change - wrong).max() / np.abs(wrong).max() > 5 * TOLERANCES["spike"]


# cython compiles ~40 extensions here (4 min on a cold cache): opt-in; numpy and
# cpp_standalone cover the rule in the default run
@pytest.mark.parametrize("target", ["numpy", pytest.param("cython", marks=pytest.mark.slow)])
def test_rules_match_numpy_recomputation_runtime(target, tmp_path):
    check_against_numpy(simulate(target, tmp_path))


@pytest.mark.standalone
def test_rules_match_numpy_recomputation_standalone(tmp_path):
    check_against_numpy(simulate("cpp_standalone", tmp_path))


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
    single_exponential = spike_source(3, "False", "pre_single_exponential")
    with pytest.raises(ValueError, match="another kernel"):
        SPIKE_RULE.connect(single_exponential, SPIKE_RULE.postsynaptic(model).make_group(1, name="post_kernel"),
                           [0], [0], 0 * volt, SPIKE_RULE.postsynaptic(model), "wrong_trace")
    default_trace = DendriticPredictionRule(form="spike", eta=1 * mV**2)
    with pytest.raises(ValueError, match="PSP kernel is 'difference' but presynaptic trace 'psp' has kernel "
                                         "'exponential'.*PresynapticTrace.matching"):
        default_trace.connect(single_exponential, default_trace.postsynaptic(model).make_group(1, name="post_default"),
                              [0], [0], 0 * volt, default_trace.postsynaptic(model), "default_trace")
    with pytest.raises(ValueError, match="unknown kernel 'alpha'"):
        PresynapticTrace(kernel="alpha")
    pre = spike_source(3, "False", "pre_missing", traces=(SPIKE_RULE.trace,))
    post = model.make_group(1, name="post_missing")
    with pytest.raises(ValueError, match="has no 'spike_error_basal_integral'.*postsynaptic\\(\\)"):
        SPIKE_RULE.connect(pre, post, [0], [0], 0 * volt, model, "unprepared")
    prepared = SPIKE_RULE.postsynaptic(model)
    post = prepared.make_group(2, name="post_prepared")
    SPIKE_RULE.connect(pre, post, [0], [0], 0 * volt, prepared, "every_step")
    coarse = DendriticPredictionRule(form="spike", eta=1 * mV**2, interval=1 * ms, trace=SPIKE_RULE.trace)
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
