"""The neurons of Payeur et al. 2021 against NumPy re-implementations of the published
Auryn code, step by step.

References written here from the published sources, not from the package:
- ``NaudGroup::evolve`` (``apayeur/auryn`` ``src/auryn/NaudGroup.cpp``): the four
  synapse objects first (``LinearComboSynapse::evolve``, ``ExpCobaSynapse::evolve``:
  current g (E_rev - mem) with ``mem`` the *somatic* potential, then g *= exp(-dt/tau)),
  then the Euler step of soma, dendrite (with the back-propagated box current for 20
  steps after a spike), the adaptation variables (w_d from the updated V_d) and the
  threshold, then the spike check and reset; ``NaudGroup::clear`` starts w_d at 1e-4.
- ``AdExGroup::evolve`` (``src/auryn/AdExGroup.cpp``): Euler step of V, spike at V > 0,
  reset, then clamped to E_L (``e_rest``) during the refractory steps; w from the
  updated V.

Both references add the injected currents inside the Euler step (Auryn's
``CurrentInjector`` adds them after the spike check: a shift of dt I/C within the step,
not modelled), and the synaptic conductance jumps of step n take effect in step n + 1,
as Brian's and Auryn's delivery do.
"""

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, Synapses, mV, ms, pA, second

from dendritic.backend import Backend
from dendritic.neurons import load_neuron, neuron_from_mapping

DT = 1e-4  # s, as published


def _naud_reference(steps, I_soma, I_dend, jumps, driving_force="soma"):
    """Published NaudGroup, one neuron; ``jumps[target]`` maps step -> conductance jump
    delivered at the end of that step. Returns V_s, V_d per step (end of step) and the
    spike steps."""
    E_L, E_inh, tau_thr, thr_jump = -70e-3, -80e-3, 27e-3, 2e-3
    tau_s, C_s, g_s, tau_ws, b = 16e-3, 370e-12, 1300e-12, 100e-3, -200e-12
    tau_d, C_d, g_d, tau_wd, a = 7e-3, 170e-12, 1200e-12, 30e-3, -13e-9
    zeta, e_dend, xi = 2600e-12, -38e-3, 1 / 6e-3
    tau_ampa, tau_gaba = 5e-3, 10e-3
    v_s, v_d, w_s, w_d, thr = E_L, E_L, 0.0, 1e-4, -50e-3
    g = {"g_ampa_s": 0.0, "g_gaba_s": 0.0, "g_ampa_d": 0.0, "g_gaba_d": 0.0}
    countdown, spikes = 0, []
    trace_s, trace_d = np.empty(steps), np.empty(steps)
    for n in range(steps):
        drive = v_s if driving_force == "soma" else v_d
        syn_s = g["g_ampa_s"] * (0 - v_s) + g["g_gaba_s"] * (E_inh - v_s)
        syn_d = g["g_ampa_d"] * (0 - drive) + g["g_gaba_d"] * (E_inh - drive)
        for key, tau in (("g_ampa_s", tau_ampa), ("g_gaba_s", tau_gaba), ("g_ampa_d", tau_ampa), ("g_gaba_d", tau_gaba)):
            g[key] *= np.exp(-DT / tau)
        f = 1 / (1 + np.exp(-xi * (v_d - e_dend)))
        new_s = v_s + DT / tau_s * (E_L - v_s) + DT * b / C_s * w_s + DT * g_s / C_s * f \
            + DT / tau_s * syn_s + DT * I_soma / C_s
        new_d = v_d + DT / tau_d * (E_L - v_d) + DT * a / C_d * w_d + DT * g_d / C_d * f \
            + DT / tau_d * syn_d + DT * I_dend / C_d
        if countdown:
            new_d += DT * zeta / C_d
            countdown -= 1
        v_s, v_d = new_s, new_d
        w_s *= np.exp(-DT / tau_ws)
        w_d += DT / tau_wd * ((v_d - E_L) - w_d)
        thr += DT / tau_thr * (-50e-3 - thr)
        if v_s > thr:
            spikes.append(n)
            v_s, thr, w_s, countdown = E_L, thr + thr_jump, w_s + 1, 20
        for key, table in jumps.items():
            g[key] += table.get(n, 0.0)
        trace_s[n], trace_d[n] = v_s, v_d
    return trace_s, trace_d, np.array(spikes)


def _adex_reference(steps, I_ext, C, g_L, E_L, V_T, delta_T, V_reset, a, b, tau_w, t_ref):
    """Published AdExGroup, one neuron, no synaptic input (w in amperes here)."""
    v, w, ref, spikes = E_L, 0.0, 0, []
    refractory_steps = int(round(t_ref / DT))
    trace = np.empty(steps)
    for n in range(steps):
        current = g_L * (E_L - v) + g_L * delta_T * np.exp((v - V_T) / delta_T) - w + I_ext
        v = min(max(v + DT * current / C, -80e-3), 20e-3)
        if ref == 0:
            if v > 0.0:
                spikes.append(n)
                v, w, ref = V_reset, w + b, refractory_steps
        else:
            ref -= 1
            v = E_L
        w += DT / tau_w * (a * (v - E_L) - w)
        trace[n] = v
    return trace, np.array(spikes)


def conductance_jumps(group, jumps):
    """Spike generators and synapses that add ``jumps[target]`` (step -> jump, one value
    per target) to ``group``'s conductance ``target`` at the end of those steps."""
    objects = []
    for target, table in jumps.items():
        times = np.array(sorted(table)) * DT
        source = SpikeGeneratorGroup(1, np.zeros(len(times), int), times * second, dt=DT * second,
                                     name=f"source_{target}")
        s = Synapses(source, group, "w : 1", on_pre=f"{target}_post += w", name=f"to_{target}")
        s.connect()
        s.w = table[sorted(table)[0]]
        objects += [source, s]
    return objects


def _brian_pyramidal(steps, I_soma, I_dend, jumps, model):
    with Backend("numpy", seed=None, dt=DT * second) as backend:
        group = model.make_group(1, name="pyramidal")
        group.I_soma, group.I_dend = I_soma * pA / 1e-12, I_dend * pA / 1e-12
        objects = [group, *conductance_jumps(group, jumps)]
        backend.parameters_set()
        model.initialise(group)
        state = StateMonitor(group, ("V_s", "V_d"), record=0, dt=DT * second, when="end")
        spikes = SpikeMonitor(group)
        Network(*objects, state, spikes).run(steps * DT * second)
        return (np.asarray(state.V_s[0] / mV) * 1e-3, np.asarray(state.V_d[0] / mV) * 1e-3,
                np.round(np.asarray(spikes.t / second) / DT).astype(int))


# dendritic excitation and inhibition, somatic excitation, strong enough to move V_d by mV
JUMPS = {
    "g_ampa_d": {n: 0.5 for n in range(200, 2000, 150)},
    "g_gaba_d": {n: 0.5 for n in range(1300, 2000, 100)},
    "g_ampa_s": {n: 0.1 for n in range(500, 1000, 100)},
}


def test_pyramidal_subthreshold_matches_published_naudgroup():
    """Dendritic synapses take their driving force from the soma (``LinearComboSynapse::
    evolve``/``ExpCobaSynapse::evolve`` read the group's ``mem``), conductances decay by
    exp(-dt/tau) per step and w_d starts at 1e-4 (``NaudGroup::clear``)."""
    steps = 2000
    ref_s, ref_d, ref_spikes = _naud_reference(steps, -100e-12, 0.0, JUMPS)
    assert len(ref_spikes) == 0
    v_s, v_d, spikes = _brian_pyramidal(steps, -100e-12, 0.0, JUMPS, load_neuron("payeur2021"))
    assert len(spikes) == 0
    # the dendritic input moves V_d by several mV, and V_s and V_d differ by as much
    assert np.ptp(ref_d) > 5e-3 and np.max(np.abs(ref_s - ref_d)) > 3e-3
    assert np.max(np.abs(v_s - ref_s)) < 1e-9  # rounding only
    assert np.max(np.abs(v_d - ref_d)) < 1e-9


def test_dendritic_driving_force_option_gives_the_physical_form():
    steps = 2000
    model = neuron_from_mapping({**_raw("payeur2021"), "dendritic_driving_force": "dendrite"})
    ref_s, ref_d, _ = _naud_reference(steps, -100e-12, 0.0, JUMPS, driving_force="dendrite")
    v_s, v_d, _ = _brian_pyramidal(steps, -100e-12, 0.0, JUMPS, model)
    assert np.max(np.abs(v_d - ref_d)) < 1e-9
    published_d = _naud_reference(steps, -100e-12, 0.0, JUMPS)[1]
    assert np.max(np.abs(published_d - ref_d)) > 1e-3  # the two forms differ by more than a mV


def test_pyramidal_bursts_match_published_naudgroup():
    """Somatic and apical drive that engage the plateau (V_d above its half-activation
    -38 mV) and give spikes within the 16 ms burst window: the same spikes, step for step."""
    steps = 5000
    ref_s, ref_d, ref_spikes = _naud_reference(steps, 500e-12, 800e-12, JUMPS)
    v_s, v_d, spikes = _brian_pyramidal(steps, 500e-12, 800e-12, JUMPS, load_neuron("payeur2021"))
    assert len(ref_spikes) > 20 and np.sum(np.diff(ref_spikes) < 160) > 5 and ref_d.max() > -38e-3
    assert len(spikes) == len(ref_spikes)
    assert np.max(np.abs(spikes - ref_spikes)) <= 1


@pytest.mark.parametrize("name", ["payeur2021_pv", "payeur2021_som"])
def test_interneurons_match_published_adexgroup(name):
    """Clamped to E_L while refractory (``AdExGroup::evolve``), not held at V_reset."""
    model = load_neuron(name)
    p = {key: float(value) for key, value in model.parameters.items()}
    steps, I_ext = 5000, 400e-12
    ref_v, ref_spikes = _adex_reference(steps, I_ext, p["C"], p["g_L"], p["E_L"], p["V_T"], p["delta_T"],
                                        p["V_reset"], p["a"], p["b"], p["tau_w"], p["t_ref"])
    with Backend("numpy", seed=None, dt=DT * second) as backend:
        group = model.make_group(1, name="interneuron")
        group.I_ext = I_ext * 1e12 * pA
        backend.parameters_set()
        model.initialise(group)
        state = StateMonitor(group, "V", record=0, when="end")
        monitor = SpikeMonitor(group)
        Network(group, state, monitor).run(steps * DT * second)
        spikes = np.round(np.asarray(monitor.t / second) / DT).astype(int)
        v = np.asarray(state.V[0] / mV) * 1e-3
    assert len(ref_spikes) > 10
    assert len(spikes) == len(ref_spikes)
    assert np.max(np.abs(spikes - ref_spikes)) <= 1
    # right after each spike (except the spike step) the potential sits at E_L
    after = (ref_spikes[:-1, None] + np.arange(1, int(round(p["t_ref"] / DT)) + 1)).ravel()
    after = after[after < steps]
    assert np.allclose(v[after], p["E_L"], atol=1e-9)


def test_refractory_option_reset_holds_v_reset():
    model = neuron_from_mapping({**_raw("payeur2021_pv"), "refractory_potential": "reset"})
    with Backend("numpy", seed=None, dt=DT * second) as backend:
        group = model.make_group(1, name="interneuron")
        group.I_ext = 400 * pA
        backend.parameters_set()
        model.initialise(group)
        state = StateMonitor(group, "V", record=0, when="end")
        monitor = SpikeMonitor(group)
        Network(group, state, monitor).run(200 * ms)
        first = int(round(float(monitor.t[0] / second) / DT))
        v = np.asarray(state.V[0] / mV)
    assert np.allclose(v[first + 1:first + 10], float(model.parameters["V_reset"] / mV))


def _raw(name):
    from dendritic import config as cfg

    return cfg.read_toml(cfg.resolve_model_file(name, "neurons"))
