"""The student-teacher regression of Meulemans et al. 2021 (Fig. 3) with the rate DFC
network (``task = "regression"``: ``dfc_toy``).

Students trained with BP and with DFC (learned or fixed feedback) on the outputs of a
random ReLU teacher (:func:`teacher_data`). Every ``angle_every`` epochs, on a fixed
batch of training samples, :func:`alignment` measures the angles between the DFC update
(trajectory average), DFC-SS, DFC-SSA, the minimum-norm (MN) update, damped
Gauss-Newton (GN, the published batch form) and backprop, per layer and for the whole
network, and Condition 2; beside them the angles to GN in the setting of the paper's
Gauss-Newton theorem (``gn_theorem_*``, :func:`gauss_newton_setting`). Progress: one
``logging`` line per epoch (logger ``dendritic.rate.regression``).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from dendritic.rate import dfc, losses, training
from dendritic.rate import references as ref
from dendritic.rate.experiment import RunOptions, build_student, feedback_epochs, method_config, selected_methods
from dendritic.rate.network import RateNetwork

__all__ = ["teacher_data", "gauss_newton_setting", "alignment", "train_regression", "run_regression"]

logger = logging.getLogger(__name__)


def teacher_data(teacher: dict, network: dict, seed: int, train_subset: int | None = None,
                 test_subset: int | None = None):
    """Inputs uniform in [-1, 1]; targets from a random ReLU teacher (He-normal, N(0, 0.1^2) biases).

    ``train_subset`` / ``test_subset`` keep the first N training / validation and test
    samples; the inputs are drawn in full first, so a subset is a prefix of the full set.
    """
    rng = np.random.default_rng(seed)
    sizes = [network["input_size"]] + [teacher["hidden_size"]] * teacher["hidden_layers"] + [network["output_size"]]
    net = RateNetwork.create(sizes, hidden_activation=teacher["activation"], rng=rng, init="he_normal", bias_scale=0.1)
    n = teacher["n_train"] + teacher["n_validation"] + teacher["n_test"]
    x = rng.uniform(-1.0, 1.0, (n, sizes[0]))
    a, b = teacher["n_train"], teacher["n_train"] + teacher["n_validation"]
    splits = [x[:a][:train_subset or None], x[a:b][:test_subset or None], x[b:][:test_subset or None]]
    return tuple((part, net.predict(part)) for part in splits)


def gauss_newton_setting(net: RateNetwork, x: np.ndarray, target: np.ndarray, controller, samples: int) -> dict:
    """DFC against Gauss-Newton in the setting of Meulemans et al. 2021, Theorem 3
    (:mod:`dendritic.rate.references`): per-sample feedback Q^b = D^b J^b^T (Condition 2 in
    the metric D = blockdiag(s_i I), s_i = ||r_{i-1}||^2 + 1), layer learning rates 1/s_i^b,
    GN damping alpha. The linearised steady state then equals the GN step exactly; the
    angles that remain come from the finite target (lambda) and, for the rate difference
    rule, from phi' within a layer. Keys (whole network, degrees):

    - ``gn_theorem_dfc_ssa_voltage``: DFC-SSA with the voltage difference rule (v - v^B) r^T
    - ``gn_theorem_dfc_ssa``: DFC-SSA with the rule used in training, phi(v) - phi(v^B)
    - ``gn_theorem_dfc_ss_voltage`` / ``gn_theorem_dfc_ss``: the simulated end state, one
      sample at a time (batch size 1) for the first ``samples`` samples, mean over samples
      (0: not computed).
    """
    alpha = controller.alpha
    voltages, rates = net.forward(x)
    delta = target - rates[-1]
    q = ref.gauss_newton_feedback(net, x)
    scales = ref.presynaptic_scales(x, rates)
    gn_W, gn_b = ref.gauss_newton_update(net, x, delta, alpha)
    state = dfc.analytic_steady_state(net, x, target, alpha, feedback=q, feedforward=(voltages, rates))
    pre = [x] + state.r[:-1]
    out = {}
    for key, post in (("voltage", state.v_apical), ("rule", state.signal)):
        dW, db = ref.scale_layers(post, pre, scales)
        suffix = "_voltage" if key == "voltage" else ""
        out[f"gn_theorem_dfc_ssa{suffix}"] = ref.network_angle(dW + db, gn_W + gn_b)
    angles = {"_voltage": [], "": []}
    for b in range(min(samples, len(x))):
        one = slice(b, b + 1)
        sim = dfc.simulate(net, x[one], target[one], controller, feedback=q[one], accumulate_updates=False)
        final = sim.final
        pre_b = [x[one]] + final.r[:-1]
        scales_b = [s[one] for s in scales]
        gn_one = ref.gauss_newton_update(net, x[one], delta[one], alpha)
        for suffix, post in (("_voltage", [v - vb for v, vb in zip(final.v, final.v_basal)]), ("", final.signal)):
            dW, db = ref.scale_layers(post, pre_b, scales_b)
            angles[suffix].append(ref.network_angle(dW + db, gn_one[0] + gn_one[1]))
    for suffix, values in angles.items():
        out[f"gn_theorem_dfc_ss{suffix}"] = float(np.mean(values)) if values else float("nan")
    return out


def alignment(net: RateNetwork, x: np.ndarray, y: np.ndarray, config: training.MethodConfig, gamma: float,
              gn_samples: int = 8) -> dict:
    """Angles (degrees) between updates on one batch, per layer and network, and Condition 2.

    Updates compared: DFC (trajectory average), DFC-SS, DFC-SSA, MN and GN (damping
    ``gamma``; the published batch form, the mean of single-sample GN steps), and the
    negative BP gradient (all as descent directions): the general comparison, with the
    network's own feedback and one learning rate. Beside it, the Gauss-Newton theorem's
    setting (:func:`gauss_newton_setting`, keys ``gn_theorem_*``) and ``condition_gn``
    (Condition 2 in the theorem's metric for the network's own Q).
    """
    voltages, rates = net.forward(x)
    output_gradient = losses.mse_gradient(rates[-1], y)
    target = dfc.output_target(rates[-1], output_gradient, config.target_stepsize)
    delta = target - rates[-1]
    updates = {"bp": [-g for g in ref.backprop_gradients(net, x, output_gradient, voltages, rates)[0]],
               "mn": ref.minimum_norm_update(net, x, delta, gamma)[0],
               "gn": ref.gauss_newton_update(net, x, delta, gamma)[0]}
    out = {}
    if config.controller is not None:
        sim = dfc.simulate(net, x, target, config.controller, feedforward=(voltages, rates))
        updates["dfc"] = sim.mean_weight_update
        updates["dfc_ss"] = dfc.weight_update_from_state(net, x, sim.final)[0]
        state = dfc.analytic_steady_state(net, x, target, config.controller.alpha, feedforward=(voltages, rates))
        updates["dfc_ssa"] = dfc.weight_update_from_state(net, x, state)[0]
        converged, _, _ = dfc.convergence(sim, rates[-1], config.controller.alpha)
        out["converged_fraction"] = float(converged.mean())
        out["condition_2"] = float(ref.condition_2(ref.full_jacobian(net, voltages), net.full_feedback).mean())
        out.update(gauss_newton_setting(net, x, target, config.controller, gn_samples))
        out["condition_gn"] = float(ref.gauss_newton_condition(
            ref.full_jacobian(net, voltages), net.full_feedback, ref.presynaptic_scales(x, rates), net.sizes[1:]).mean())
        pairs = [("dfc", "bp"), ("dfc", "mn"), ("dfc", "gn"), ("dfc", "dfc_ssa"), ("dfc_ss", "dfc_ssa"),
                 ("dfc_ssa", "mn"), ("dfc_ssa", "gn"), ("bp", "mn"), ("bp", "gn")]
    else:
        pairs = [("bp", "mn"), ("bp", "gn")]
    for a, b in pairs:
        out[f"{a}_vs_{b}_layers"] = ref.layer_angles(updates[a], updates[b])
        out[f"{a}_vs_{b}_network"] = ref.network_angle(updates[a], updates[b])
    return out


def train_regression(method: dict, experiment: dict, data, epochs: int, seed: int,
                     sleep_epochs: tuple[int, int] | None = None, angle_every: int | None = None,
                     on_epoch=None) -> dict:
    """Train one method on the teacher's data (:func:`teacher_data`); returns per-epoch
    losses and times, and ``angles``: :func:`alignment` on the first mini-batch of the
    training set at epoch 0, every ``angle_every`` epochs (default the file's) and at the
    last. ``sleep_epochs``: (before training, after every epoch) of learned feedback,
    default the method's (:func:`~dendritic.rate.experiment.feedback_epochs`);
    ``on_epoch(history, angles)`` after every epoch.
    """
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data
    dtype = np.dtype(experiment["dtype"])
    network = experiment["network"]
    sizes = [network["input_size"]] + [network["hidden_size"]] * network["hidden_layers"] + [network["output_size"]]
    net = build_student(sizes, network, method, dtype, seed)
    rng = np.random.default_rng(seed + 2)
    config = method_config(method, "mse")
    learner = training.Learner(net, config, rng)
    init_epochs, extra_epochs = feedback_epochs(method) if sleep_epochs is None else sleep_epochs
    batch = experiment["batch_size"]
    x_probe, y_probe = x_train[:batch], y_train[:batch]
    angle_every = angle_every or experiment["angle_every"]
    for _ in range(init_epochs):
        training.train_feedback_epoch(learner, x_train, batch, rng, init=True)
    history = {"train_loss": [], "val_loss": [], "test_loss": [], "epoch_seconds": []}
    angles = {"epoch": []}

    def measure(epoch):
        angles["epoch"].append(epoch)
        for key, value in alignment(net, x_probe, y_probe, config, experiment["gamma"],
                                    experiment["gn_samples"]).items():
            angles.setdefault(key, []).append(value)

    measure(0)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss = training.train_epoch(learner, x_train, y_train, batch, rng)
        for _ in range(extra_epochs):
            training.train_feedback_epoch(learner, x_train, batch, rng)
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(training.evaluate(net, x_val, y_val, "mse")[0] if len(x_val) else np.nan)
        history["test_loss"].append(training.evaluate(net, x_test, y_test, "mse")[0])
        if epoch % angle_every == 0 or epoch == epochs:
            measure(epoch)
        logger.info("[dfc] %s epoch %d/%d: train loss %.5f, test loss %.5f", method["name"], epoch, epochs,
                    train_loss, history["test_loss"][-1])
        if on_epoch is not None:
            on_epoch(history, angles)
    result = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    result["angles"] = {k: np.asarray(v, dtype=np.float64) for k, v in angles.items()}
    result["initial_test_loss"] = training.evaluate(build_student(sizes, network, method, dtype, seed),
                                                    x_test, y_test, "mse")[0]
    result["rule"] = method["rule"]
    result["feedback"] = method["feedback"]
    return result


def run_regression(experiment: dict, options: RunOptions) -> dict:
    """Train the selected methods one after the other on a teacher's data (seed
    ``options.seed + 1000``). Returns ``{"config": ..., method name: train_regression's
    arrays}``."""
    data = teacher_data(experiment["teacher"], experiment["network"], options.seed + 1000, options.train_subset,
                        options.test_subset)
    epochs = experiment["epochs"] if options.epochs is None else options.epochs
    results = {"config": {"dataset": "student_teacher", "epochs": epochs, "gamma": experiment["gamma"],
                          "n_train": len(data[0][0]), "n_validation": len(data[1][0]), "n_test": len(data[2][0]),
                          "experiment_file": experiment["path"]}}
    for method in selected_methods(experiment, options.methods):
        results[method["name"]] = train_regression(
            method, experiment, data, epochs, options.seed,
            sleep_epochs=feedback_epochs(method, options.feedback_init_epochs, options.extra_feedback_epochs),
            angle_every=options.angle_every)
    return results
