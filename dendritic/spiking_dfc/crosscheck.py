"""The spiking Deep Feedback Control network against its rate reduction
(:mod:`dendritic.spiking_dfc`), same weights, inputs and targets: the experiment behind
`dendritic run crosscheck` (:mod:`dendritic.experiments.crosscheck`).

Methods, as in ``models/experiments/crosscheck.toml``:

1. Rate network: units per layer ``sizes``, weights W~ ~ N(0, std^2) in mV/Hz, the
   neuron's transfer function phi (Hz). Inputs x ~ U(input_min, input_max), labels
   y ~ U(label_min, label_max), loss L = ``|r_L - y|^2 / 2``, output target
   r* = r_L^- - lambda (r_L^- - y) from the rate network's feedforward output r_L^-.
   Fixed feedback Q~ from the batch-mean Jacobian J at the feedforward state
   (``feedback = "gauss_newton"``: the setting of the Gauss-Newton theorem, below).
2. Spiking network: ``population`` neurons per unit, weights mapped from W~ and Q~
   (``W = W~ g_tot/(g_B tau_B)``, ``Qa = Q~ g_tot/g_A``), the controller as rate units
   fed by the output spikes. Each sample: feedforward phase (controller off), settling
   phase (controller on), then measuring windows of every length T in ``windows``,
   during which the basal synapses integrate the rate-form dendritic prediction rule
   e_a r_b (eta = 0: the network does not change while it is measured).
3. Read-out per layer: time-averaged population rates (feedforward phase after the
   transient; controlled phase over the longest window) against the rate network's
   feedforward pass and its exact controlled steady state r* - r_L = alpha c; the angle
   between the accumulated spiking update (summed over samples) and the rate network's
   DFC update sum_b (phi(v) - phi(v^B)) r_pre^T at the steady state, its linearised
   version (DFC-SSA), the minimum-norm (MN) and Gauss-Newton (GN) updates and the
   negative backprop gradient, as a function of T.
4. Gauss-Newton, two comparisons. General: GN on the weights in the published batch
   form (mean of the single-sample damped GN steps, ``networks/abstract_network.py``,
   ``compute_gn_parameter_update``) against the update as measured (one learning rate).
   Theorem setting (Meulemans et al. 2021, Theorem 3; :mod:`dendritic.rate.references`):
   the same GN step against the update with layer learning rates 1/s_l, s_l = ||r_{l-1}||^2
   (batch mean), ``network_angle_GN_theorem``. With ``feedback = "gauss_newton"`` and one
   sample the theorem's conditions hold (Q~ = D J^T (J D J^T)^-1, D = blockdiag(s_l I),
   so Condition 2 holds in the metric D, ``condition_GN`` = 1, and the DFC steady state
   is the undamped GN step up to 1/(1 + alpha)); the angle is then zero for the voltage
   difference rule Delta W = (v - v^B) r^T in the limit lambda -> 0, and what remains is
   the finite target (lambda) and, for the rate difference rule phi(v) - phi(v^B) that
   the spiking network uses, the spread of phi' within a layer (reported for the rate
   reduction: ``rate_DFC_GN_theorem`` and ``rate_DFC-V_GN_theorem``).

Results: the HDF5 tree of :func:`results_tree` (weights, rates, updates, angles, controller
trace) and :func:`figure`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from brian2 import Hz, mV, ms, second

from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.neurons import load_neuron
from dendritic.rate.references import (angle, backprop_gradients, condition_2, full_jacobian, gauss_newton_condition,
                                       gauss_newton_update, layer_jacobians, minimum_norm_update, presynaptic_scales)
from dendritic.spiking_dfc.network import SpikingDFC, build_circuit
from dendritic.spiking_dfc.protocol import ControllerParameters, Protocol
from dendritic.spiking_dfc.reduction import (RateReduction, controlled_steady_state, dfc_update, jacobian_feedback,
                                             linearised_steady_state)

__all__ = ["REFERENCES", "SCHEMA", "load_experiment", "experiment_neuron", "make_problem",
           "rate_references", "layer_rates", "make_protocol", "run_spiking", "rate_agreement", "analyse", "figure",
           "results_tree"]

REFERENCES = ("DFC", "DFC-SSA", "MN", "GN", "BP")


SCHEMA = {
    "description": cfg.Text(default=""),
    "neuron": cfg.Text(doc="neuron parameter file (pyramidal kind, Poisson spiking)"),
    "neuron_parameters": cfg.QuantityTable(default={}),
    "run": cfg.Table(schema={
        "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
        "seed": cfg.Integer(minimum=0, default=0),
    }),
    "network": cfg.Table(schema={
        "sizes": cfg.IntegerList(minimum=1, minimum_length=2, doc="units per layer, input first"),
        "population": cfg.Integer(minimum=1, doc="neurons per unit"),
        "weight_std": cfg.Quantity(unit=mV / Hz, bound="positive"),
        "feedback": cfg.Choice(options=("pseudoinverse", "transpose", "gauss_newton")),
        "feedback_gain": cfg.Number(bound="positive", default=1.0),
    }),
    "data": cfg.Table(schema={
        "samples": cfg.Integer(minimum=1),
        "input_min": cfg.Quantity(unit=Hz, bound="nonnegative"),
        "input_max": cfg.Quantity(unit=Hz, bound="positive"),
        "label_min": cfg.Quantity(unit=Hz, bound="nonnegative"),
        "label_max": cfg.Quantity(unit=Hz, bound="positive"),
        "target_stepsize": cfg.Number(bound="positive"),
        "gamma": cfg.Number(bound="positive", default=1e-3),
    }),
    "controller": cfg.Table(schema={
        "alpha": cfg.Number(bound="nonnegative"),
        "k_p": cfg.Number(bound="nonnegative", default=0.0),
        "tau_c": cfg.Quantity(unit=ms, bound="positive"),
        "tau_filter": cfg.Quantity(unit=ms, bound="positive"),
    }),
    "protocol": cfg.Table(schema={
        "feedforward": cfg.Quantity(unit=ms, bound="positive"),
        "transient": cfg.Quantity(unit=ms, bound="nonnegative"),
        "settle": cfg.Quantity(unit=ms, bound="nonnegative"),
        "windows": cfg.QuantityList(unit=second, bound="positive", ordered=True,
                                    doc="measuring windows (simulated time per sample), e.g. [\"0.2 s\", \"1 s\"]"),
        "learning_interval": cfg.Quantity(unit=ms, bound="positive", default="1 ms"),
    }),
}


def load_experiment(path="crosscheck", overrides=()) -> dict:
    """Validate an experiment file (a path, or a name in ``models/experiments/``), with
    ``key=value`` overrides (the command line's ``--set``)."""
    path = cfg.resolve_model_file(path, "experiments")
    values = cfg.load(path, SCHEMA, overrides=overrides)
    values["file"] = path
    return values


def experiment_neuron(values: dict):
    """The experiment's neuron: its parameter file (relative to the experiment file) with
    ``neuron_parameters`` applied (``ConfigError`` naming the file and key)."""
    neuron = load_neuron(values["neuron"], relative_to=Path(values["file"]).parent)
    try:
        return neuron.with_parameters(**values["neuron_parameters"])
    except (KeyError, ValueError) as error:
        raise cfg.ConfigError([f"{values['file']}: key 'neuron_parameters': {error}"]) from None


# -- the rate side ----------------------------------------------------------------------

def make_problem(values: dict, neuron) -> dict:
    """Weights, feedback, inputs, labels and targets of the rate network (NumPy)."""
    rng = np.random.default_rng(values["run"]["seed"])
    network, data = values["network"], values["data"]
    sizes = network["sizes"]
    std = float(network["weight_std"] / (mV / Hz))
    weights = [rng.normal(0.0, std, (n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    net = RateReduction.for_neuron(neuron, weights, [np.zeros((n, sizes[-1])) for n in sizes[1:]])
    x = rng.uniform(float(data["input_min"]), float(data["input_max"]), (data["samples"], sizes[0]))
    labels = rng.uniform(float(data["label_min"]), float(data["label_max"]), (data["samples"], sizes[-1]))
    net.feedback = jacobian_feedback(net, x, network["feedback"], network["feedback_gain"])
    r_out = net.forward(x)[1][-1]
    target = r_out - data["target_stepsize"] * (r_out - labels)
    return {"net": net, "x": x, "labels": labels, "target": target}


def _gram_scale(net, x) -> tuple[float, float]:
    """Mean diagonal of the MN Gram matrix J J^T and of the GN Gram matrix (per sample
    and output), to make the damping gamma relative."""
    voltages, rates = net.forward(x)
    jac = layer_jacobians(net, voltages)
    full = np.concatenate(jac, axis=2)
    mn = float(np.mean(np.einsum("bpn,bpn->bp", full, full)))
    pre = [x] + rates[:-1]
    gn = float(np.mean(sum(np.einsum("bpn,bpn->bp", j, j) * (r * r).sum(axis=1)[:, None] for j, r in zip(jac, pre))))
    return mn, gn


def rate_references(net, x, target, labels, alpha: float, gamma: float) -> dict:
    """Steady states and the reference updates (per layer, summed over the batch)."""
    ff_v, ff_r = net.forward(x)
    steady = controlled_steady_state(net, x, target, alpha)
    linear = linearised_steady_state(net, x, target, alpha)
    delta_L = target - ff_r[-1]
    batch = x.shape[0]
    mn_scale, gn_scale = _gram_scale(net, x)
    mn = [batch * dw for dw in minimum_norm_update(net, x, delta_L, gamma * mn_scale)[0]]
    gn = gauss_newton_update(net, x, delta_L, gamma * gn_scale, include_biases=False)[0]
    bp = [-g for g in backprop_gradients(net, x, ff_r[-1] - labels)[0]]
    per_sample_scales = presynaptic_scales(x, ff_r, include_biases=False)
    scales = [float(s.mean()) for s in per_sample_scales]
    pre = [x] + steady.r[:-1]
    # voltage difference rule (v - v^B) r_{l-1}^T at the exact steady state
    voltage_rule = [(steady.v[i] - steady.v_basal[i]).T @ pre[i] for i in range(net.depth)]
    jac = full_jacobian(net, ff_v)
    condition = condition_2(jac, net.full_feedback)
    condition_gn = gauss_newton_condition(jac, net.full_feedback, per_sample_scales, net.sizes[1:])
    return {
        "feedforward": ff_r, "steady": steady, "linear": linear, "layer_scales": np.array(scales),
        "condition_2": condition, "condition_GN": condition_gn,
        "updates": {"DFC": dfc_update(net, x, steady), "DFC-SSA": dfc_update(net, x, linear),
                    "MN": mn, "GN": gn, "BP": bp, "DFC-V": voltage_rule},
    }


def layer_rates(updates: list, scales) -> list:
    """The update with layer learning rates 1/s_l (Theorem 3's setting)."""
    return [u / s for u, s in zip(updates, scales)]


# -- the spiking side -------------------------------------------------------------------

def make_protocol(values: dict, problem: dict) -> Protocol:
    p = values["protocol"]
    return Protocol(problem["x"], problem["target"], feedforward=float(p["feedforward"]),
                    settle=float(p["settle"]), windows=tuple(float(w) for w in p["windows"]),
                    transient=float(p["transient"]), grid=float(p["learning_interval"]))


def run_spiking(values: dict, neuron, problem: dict, backend: Backend) -> dict:
    """Simulate the spiking network on ``backend`` (made for the file's seed and dt:
    ``Backend.for_config``); rates (Hz), unit-level updates (Hz) and the controller."""
    c = values["controller"]
    spec = SpikingDFC(neuron, problem["net"], values["network"]["population"],
                      ControllerParameters(alpha=c["alpha"], k_p=c["k_p"], tau_c=float(c["tau_c"]),
                                           tau_filter=float(c["tau_filter"])),
                      learning_interval=float(values["protocol"]["learning_interval"]))
    protocol = make_protocol(values, problem)
    with backend:
        circuit = build_circuit(spec, protocol, backend)
        backend.run(circuit.network, protocol.duration * second)
        results = {
            "rates_feedforward": circuit.population_rates(protocol.transient, protocol.feedforward - protocol.transient),
            "rates_controlled": circuit.population_rates(protocol.measuring_start(), max(protocol.windows)),
            "updates": circuit.updates(),
            "controller": circuit.controller_trace(),
            "backend": backend.describe(),
            "basal_weights": spec.basal_weights(backend.dt),
            "apical_weights": spec.apical_weights(),
        }
    results["protocol"] = protocol
    return results


# -- analysis ---------------------------------------------------------------------------

def rate_agreement(spiking: list, model: list) -> dict:
    """Per layer: max and mean ``|relative error|`` and the correlation over units and samples."""
    rel = [np.abs(s / m - 1.0) for s, m in zip(spiking, model)]
    return {
        "max_relative_error": np.array([r.max() for r in rel]),
        "mean_relative_error": np.array([r.mean() for r in rel]),
        "correlation": np.array([np.corrcoef(s.ravel(), m.ravel())[0, 1] for s, m in zip(spiking, model)]),
        "model_min": np.array([m.min() for m in model]), "model_max": np.array([m.max() for m in model]),
    }


def analyse(spiking: dict, references: dict, population: int) -> dict:
    """Angles (degrees) of the spiking update per window against every reference, per
    layer (windows x layers) and for the whole network (windows); norm ratios to DFC."""
    windows = np.array(spiking["protocol"].windows)
    updates = references["updates"]
    out = {"windows": windows}
    for name in REFERENCES:
        out[f"angle_{name}"] = np.array([[angle(s, r) for s, r in zip(per_layer, updates[name])]
                                         for per_layer in spiking["updates"]])
        out[f"network_angle_{name}"] = np.array([_network_angle(per_layer, updates[name])
                                                 for per_layer in spiking["updates"]])
        out[f"rate_DFC_angle_{name}"] = np.array([angle(a, b) for a, b in zip(updates["DFC"], updates[name])])
    # Gauss-Newton in the theorem's setting: layer learning rates 1/s_l
    scales = references["layer_scales"]
    out["network_angle_GN_theorem"] = np.array([_network_angle(layer_rates(per_layer, scales), updates["GN"])
                                                for per_layer in spiking["updates"]])
    for name in ("DFC", "DFC-SSA", "DFC-V"):
        out[f"rate_{name}_GN_theorem"] = _network_angle(layer_rates(updates[name], scales), updates["GN"])
        out[f"rate_{name}_GN_general"] = _network_angle(updates[name], updates["GN"])
    out["condition_2"] = references["condition_2"]
    out["condition_GN"] = references["condition_GN"]
    # spiking update per synapse and second (Hz^2) against the rate update (Hz^2)
    out["norm_ratio_DFC"] = np.array([[np.linalg.norm(s) / (population**2 * w) / np.linalg.norm(r)
                                       for s, r in zip(per_layer, updates["DFC"])]
                                      for per_layer, w in zip(spiking["updates"], windows)])
    out["rates_feedforward"] = rate_agreement(spiking["rates_feedforward"], references["feedforward"])
    out["rates_controlled"] = rate_agreement(spiking["rates_controlled"], references["steady"].r)
    return out


def _window_ticks(ax, windows) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(windows))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{w:g}" for w in windows])


def _network_angle(a, b) -> float:
    return angle(np.concatenate([np.ravel(x) for x in a]), np.concatenate([np.ravel(x) for x in b]))


def figure(spiking: dict, references: dict, metrics: dict, title: str = ""):
    import matplotlib.pyplot as plt

    depth = len(references["feedforward"])
    fig, axes = plt.subplots(2, max(depth, 3), figsize=(4.2 * max(depth, 3), 8))
    for l in range(depth):
        ax = axes[0, l]
        model_ff, model_c = references["feedforward"][l], references["steady"].r[l]
        lo = min(model_ff.min(), model_c.min()) * 0.85
        hi = max(model_ff.max(), model_c.max()) * 1.15
        grid = np.linspace(lo, hi, 2)
        ax.fill_between(grid, 0.9 * grid, 1.1 * grid, color="0.88", label="+-10 %", zorder=0)
        ax.plot(grid, grid, "k", lw=1, zorder=1)
        ax.scatter(model_ff.ravel(), spiking["rates_feedforward"][l].ravel(), s=14, facecolors="none",
                   edgecolors="C0", zorder=2,
                   label=f"feedforward (r = {metrics['rates_feedforward']['correlation'][l]:.3f})")
        ax.scatter(model_c.ravel(), spiking["rates_controlled"][l].ravel(), s=10, color="C3", zorder=3,
                   label=f"controlled (r = {metrics['rates_controlled']['correlation'][l]:.3f})")
        ax.set(xlabel="rate model steady state (Hz)", ylabel="spiking population rate (Hz)",
               title=f"layer {l + 1}")
        ax.legend(fontsize=7)
    for ax in axes[0, depth:]:
        ax.axis("off")
    windows = metrics["windows"]
    ax = axes[1, 0]
    for l in range(depth):
        ax.semilogx(windows, metrics["angle_DFC"][:, l], "o-", label=f"layer {l + 1}")
    ax.axhline(30, color="0.5", ls=":")
    ax.set(xlabel="simulated time per sample (s)", ylabel="angle (deg)", title="spiking vs rate DFC update",
           ylim=(0, None))
    _window_ticks(ax, windows)
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for n, name in enumerate(REFERENCES):
        ax.semilogx(windows, metrics[f"network_angle_{name}"], "o-", color=f"C{n}", label=f"spiking vs {name}")
        if name != "DFC":
            ax.axhline(_network_angle(references["updates"]["DFC"], references["updates"][name]), color=f"C{n}",
                       ls="--", lw=1)
    ax.semilogx(windows, metrics["network_angle_GN_theorem"], "s-.", color="C6",
                label="spiking (rates 1/s_l) vs GN, Theorem 3")
    ax.set(xlabel="simulated time per sample (s)", ylabel="angle (deg)",
           title="whole network (dashed: rate DFC vs reference)", ylim=(0, None))
    _window_ticks(ax, windows)
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    trace = spiking["controller"]
    for k in range(trace["control"].shape[1]):
        ax.plot(trace["t"], trace["control"][:, k], color=f"C{k}", lw=0.8)
    slot = spiking["protocol"].slot
    start = spiking["protocol"].measuring_start()
    steady = references["steady"].control
    for b in range(steady.shape[0]):
        for k in range(steady.shape[1]):
            ax.hlines(steady[b, k], b * slot + start, (b + 1) * slot, color=f"C{k}", ls="--", lw=1.5)
    ax.set(xlabel="time (s)", ylabel="control c (Hz)", title="controller output (dashed: rate steady state)")
    for ax in axes[1, 3:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _layers(arrays) -> dict:
    return {f"layer_{l + 1}": np.asarray(a) for l, a in enumerate(arrays)}


def results_tree(problem: dict, references: dict, spiking: dict, metrics: dict, neuron) -> dict:
    """What the results file holds: both networks' weights, the inputs and targets, rates,
    updates (spiking per window and every reference), the metrics of :func:`analyse`, the
    controller trace and the neuron's parameters."""
    net = problem["net"]
    return {
        "rate_network": {"weights": _layers(net.weights), "feedback": _layers(net.feedback), "x": problem["x"],
                         "labels": problem["labels"], "target": problem["target"]},
        "spiking_network": {"basal_weights": _layers(spiking["basal_weights"]),
                            "apical_weights": _layers(spiking["apical_weights"])},
        "rates": {
            "model_feedforward": _layers(references["feedforward"]),
            "model_steady_state": _layers(references["steady"].r),
            "spiking_feedforward": _layers(spiking["rates_feedforward"]),
            "spiking_controlled": _layers(spiking["rates_controlled"]),
            "model_control": references["steady"].control,
        },
        "updates": {
            "spiking": {f"window_{k}": _layers(u) for k, u in enumerate(spiking["updates"])},
            **{name: _layers(u) for name, u in references["updates"].items()},
        },
        "metrics": metrics,
        "controller": spiking["controller"],
        "parameters": {"neuron": dict(neuron.parameters)},
    }
