"""The spiking DFC network (dendritic.spiking_dfc.network) on the numpy target: the
Brian network computes what the mapping says (apical drive = Qa c from the controller;
the windowed update accumulators = a NumPy sum over the learning intervals of the
recorded interval means of the postsynaptic error and the presynaptic trace).
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, StateMonitor, mV, ms, second, volt

from dendritic import spiking_dfc as dfc
from dendritic.backend import Backend
from dendritic.neurons import load_neuron


def tiny_circuit_run(target, tmp_path):
    neuron = load_neuron("sacramento2018_pyramidal").with_parameters(theta=-1 * mV, tau_basal=20 * ms)
    rng = np.random.default_rng(5)
    sizes = [2, 3, 2]
    weights = [rng.normal(0, 0.02, (b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    net = dfc.RateReduction.for_neuron(neuron, weights, [np.zeros((n, 2)) for n in sizes[1:]])
    x = rng.uniform(20, 60, (2, sizes[0]))
    net.feedback = dfc.jacobian_feedback(net, x, "pseudoinverse", 1.0)
    target_rates = net.forward(x)[1][-1] + np.array([[8.0, -6.0], [-5.0, 7.0]])
    spec = dfc.SpikingDFC(neuron, net, population=2,
                          controller=dfc.ControllerParameters(alpha=0.05, k_p=0.5, tau_c=0.02, tau_filter=0.01),
                          learning_interval=1e-3)
    protocol = dfc.Protocol(x, target_rates, feedforward=0.02, settle=0.01, windows=(0.01, 0.03), transient=0.01,
                            grid=1e-3)
    with Backend(target, build_dir=tmp_path / "build", seed=4, dt=0.1 * ms) as backend:
        circuit = dfc.build_circuit(spec, protocol, backend)
        record = {"apical": [StateMonitor(g, "v_apical_drive", record=True, name=f"apical_{g.name}")
                             for g in circuit.layers[1:]],
                  "control": StateMonitor(circuit.controller, "c", record=True, name="control_all"),
                  # interval integrals just before the learning step (order 0) uses and clears them
                  "error": [StateMonitor(g, "rate_error_basal_integral", record=True, dt=1 * ms, when="start",
                                         order=-1, name=f"error_{g.name}") for g in circuit.layers[1:]],
                  "psp": [StateMonitor(g, "psp_integral", record=True, dt=1 * ms, when="start", order=-1,
                                       name=f"psp_{g.name}") for g in circuit.layers[:-1]]}
        circuit.network.add(*record["apical"], record["control"], *record["error"], *record["psp"])
        w_initial = [np.asarray(s.w / volt).copy() for s in circuit.basal_synapses]
        backend.run(circuit.network, protocol.duration * second)
        out = {
            "apical": [np.asarray(m.v_apical_drive / volt) for m in record["apical"]],
            "control": np.asarray(record["control"].c / Hz),
            "error_t": np.asarray(record["error"][0].t / second),
            "error": [np.asarray(m.rate_error_basal_integral / (Hz * second)) for m in record["error"]],
            "psp": [np.asarray(m.psp_integral / second) for m in record["psp"]],
            "tau_psp": [float(np.ravel(g.tau_psp_[:])[0]) for g in circuit.layers[:-1]],
            "synapses": [(np.asarray(s.i), np.asarray(s.j), np.asarray(s.w / volt),
                          [np.asarray(getattr(s, circuit.rule.accumulator(k)) / Hz) for k in range(2)])
                         for s in circuit.basal_synapses],
            "w_initial": w_initial,
            "updates": circuit.updates(),
            "apical_weights": spec.apical_weights(),
        }
    return out, protocol


def test_apical_drive_and_update_accumulators(tmp_path):
    out, protocol = tiny_circuit_run("numpy", tmp_path)
    m = 2
    # apical drive of neuron a in unit i: sum_k Qa_ik c_k(t), every step (the summed
    # variable is updated after the monitors' "start" slot: recorded one step later)
    for drive, qa in zip(out["apical"], out["apical_weights"]):
        expected = np.repeat(qa, m, axis=0) @ out["control"]
        np.testing.assert_allclose(drive[:, 1:], expected[:, :-1], rtol=1e-12, atol=1e-18)
    assert np.abs(out["control"]).max() > 1.0  # the controller acted
    # accumulators: sum over the intervals [t - 1 ms, t) inside the window of every slot
    t = out["error_t"]
    delta = 1e-3
    within = t - np.floor((t - delta) / protocol.slot + 1e-9) * protocol.slot  # interval end, relative to its slot
    for l, (i, j, w, accumulators) in enumerate(out["synapses"]):
        error_mean = out["error"][l] / delta  # (post neurons, intervals)
        rate_mean = out["psp"][l] / (delta * out["tau_psp"][l])
        np.testing.assert_array_equal(w, out["w_initial"][l])  # eta = 0: the network does not learn
        for k, length in enumerate(protocol.windows):
            start = protocol.measuring_start()
            counted = (within - delta > start - 1e-9) & (within < start + length + 1e-9) & (t > 0)
            expected = (error_mean[j][:, counted] * rate_mean[i][:, counted]).sum(axis=1) * delta
            assert np.count_nonzero(counted) == 2 * round(length / delta)
            np.testing.assert_allclose(accumulators[k], expected, rtol=1e-9, atol=1e-12)
            unit = np.zeros_like(out["updates"][k][l])
            np.add.at(unit, (j // m, i // m), expected)
            np.testing.assert_allclose(out["updates"][k][l], unit, rtol=1e-9, atol=1e-12)
