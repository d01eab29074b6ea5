"""`dendritic run dfc`: Deep Feedback Control in its rate reduction.

Two protocols, chosen by the experiment file (``models/experiments/dfc_*.toml``):

- regression (``dfc_toy``): the student-teacher task of Meulemans et al. 2021 (Fig. 3).
  Students trained with BP and with DFC (learned or fixed feedback); every
  ``angle_every`` epochs, on a fixed batch of 128 training samples, the angles between
  the DFC update (trajectory average), DFC-SS, DFC-SSA, the minimum-norm (MN) update,
  damped Gauss-Newton (GN, the published batch form) and backprop, per layer and for the
  whole network, and Condition 2; beside them the angles to GN in the setting of the
  paper's Gauss-Newton theorem (``gn_theorem_*``, :func:`gauss_newton_setting`).
- classification (``dfc_fashion_mnist``, ``dfc_mnist``): 784-256-256-256-10 trained with
  BP, DFC-SSA, DFC with fixed feedback and DFC with learned feedback; validation and
  test accuracy per epoch, epoch times, fraction of samples passing the convergence test.

Results: one HDF5 file (group per method) and a PNG with the same stem.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

from dendritic import config as cfg
from dendritic import data as datasets
from dendritic.io import provenance, write_results
from dendritic.rate import checkpoint as checkpoint_module
from dendritic.rate import dfc, losses, training
from dendritic.rate import references as ref
from dendritic.rate.network import RateNetwork, random_feedback

NAME = "dfc"
HELP = "Deep Feedback Control (rate model): toy angles, Fashion-MNIST / MNIST classification"

_RULES = ("bp", "dfc_ssa", "dfc_ss", "dfc")
_CONTROLLER = {
    "alpha": cfg.Number("controller leak alpha", bound="nonnegative"),
    "k_p": cfg.Number("proportional gain", bound="nonnegative"),
    "dt": cfg.Number("Euler step (units of tau_u)", bound="positive"),
    "steps": cfg.Integer("time points simulated", minimum=2),
    "time_constant_ratio": cfg.Number("tau_v / tau_u", bound="positive"),
    "proactive": cfg.Flag("update u before the layers", default=False),
    "include_nonconverged": cfg.Flag("keep samples failing the convergence test", default=True),
}
_FEEDBACK_LEARNING = {
    "alpha": cfg.Number("controller leak", bound="nonnegative"),
    "k_p": cfg.Number("proportional gain", bound="nonnegative"),
    "dt": cfg.Number("Euler step", bound="positive"),
    "steps": cfg.Integer("time points", minimum=2),
    "time_constant_ratio": cfg.Number("tau_v / tau_u", bound="positive"),
    "apical_time_constant": cfg.Number("tau_A / tau_u", bound="positive"),
    "sigma": cfg.Number("apical noise", bound="positive"),
    "optimizer": cfg.Choice("optimizer", options=("adam", "sgd"), default="adam"),
    "lr": cfg.Number("learning rate", bound="positive"),
    "lr_init": cfg.Number("learning rate of the initial sleep epochs", bound="positive"),
    "weight_decay": cfg.Number("beta", bound="nonnegative", default=0.0),
    "beta1": cfg.Number("Adam beta1", bound="nonnegative", maximum=1.0, default=0.9),
    "beta2": cfg.Number("Adam beta2", bound="nonnegative", maximum=1.0, default=0.999),
    "eps": cfg.Number("Adam eps", bound="positive", default=1e-8),
    "init_epochs": cfg.Integer("sleep epochs before training", minimum=0),
    "extra_epochs": cfg.Integer("sleep epochs after every training epoch", minimum=0),
    "freeze_output": cfg.Flag("keep Q_L = I", default=True),
}
_METHOD = {
    "name": cfg.Text("label of the run"),
    "rule": cfg.Choice("learning rule", options=_RULES),
    "optimizer": cfg.Choice("optimizer", options=("adam", "sgd"), default="adam"),
    "lr": cfg.Number("learning rate before division by target_stepsize", bound="positive"),
    "target_stepsize": cfg.Number("lambda", bound="positive"),
    "beta1": cfg.Number("Adam beta1", bound="nonnegative", maximum=1.0, default=0.9),
    "beta2": cfg.Number("Adam beta2", bound="nonnegative", maximum=1.0, default=0.999),
    "eps": cfg.Number("Adam eps", bound="positive", default=1e-8),
    "clip_grad_norm": cfg.Number("per-parameter gradient norm clip", bound="nonnegative", default=1.0),
    "feedback": cfg.Choice("feedback weights", options=("fixed", "learned"), default="fixed"),
    "controller": cfg.Table("forward-phase dynamics", schema=_CONTROLLER, default=None),
    "feedback_learning": cfg.Table("sleep phase", schema=_FEEDBACK_LEARNING, default=None),
    "target_accuracy": cfg.Number("test accuracy to reach at the best-validation epoch within 'epochs' "
                                  "(checked by the slow test and benchmarks/fashion_mnist_accuracy.py)",
                                  bound="positive", maximum=1.0, default=None),
}
_NETWORK = {
    "input_size": cfg.Integer("inputs (classification: from the data)", minimum=1, default=None),
    "hidden_layers": cfg.Integer("number of hidden layers", minimum=0),
    "hidden_size": cfg.Integer("units per hidden layer", minimum=1),
    "output_size": cfg.Integer("outputs (classification: number of classes)", minimum=1, default=None),
    "hidden_activation": cfg.Choice("hidden transfer function", options=("tanh", "linear", "relu")),
    "output_activation": cfg.Choice("output transfer function", options=("tanh", "linear", "relu")),
    "init": cfg.Choice("weight initialisation", options=("xavier_normal", "he_normal"), default="xavier_normal"),
}
_TEACHER = {
    "hidden_layers": cfg.Integer("teacher hidden layers", minimum=1),
    "hidden_size": cfg.Integer("teacher units per layer", minimum=1),
    "activation": cfg.Choice("teacher transfer function", options=("tanh", "linear", "relu")),
    "n_train": cfg.Integer("training samples", minimum=1),
    "n_validation": cfg.Integer("validation samples", minimum=0),
    "n_test": cfg.Integer("test samples", minimum=1),
}
SCHEMA = {
    "description": cfg.Text("one line"),
    "task": cfg.Choice("protocol", options=("regression", "classification")),
    "dataset": cfg.Choice("data", options=("student_teacher", "fashion_mnist", "mnist", "mnist_embedded")),
    "epochs": cfg.Integer("training epochs", minimum=0),
    "batch_size": cfg.Integer("mini-batch size", minimum=1),
    "validation": cfg.Integer("training samples held out for validation", minimum=0, default=0),
    "dtype": cfg.Choice("floating point type", options=("float32", "float64"), default="float64"),
    "normalization": cfg.Choice("input scaling: pixels / 255 ('unit') or standardised with the training "
                                "mean and std ('standardize')", options=("unit", "standardize"),
                                default="standardize"),
    "angle_every": cfg.Integer("epochs between angle measurements (regression)", minimum=1, default=10),
    "gamma": cfg.Number("damping of the MN and GN references", bound="positive", default=0.1),
    "gn_samples": cfg.Integer("samples simulated one at a time for the Gauss-Newton theorem's angles "
                              "(regression)", minimum=0, default=8),
    "network": cfg.Table("student network", schema=_NETWORK),
    "teacher": cfg.Table("teacher network (regression)", schema=_TEACHER, default=None),
    "methods": cfg.TableList("learning methods", schema=_METHOD, minimum=1),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="dfc_fashion_mnist",
                        help="experiment file: dfc_toy, dfc_fashion_mnist, dfc_mnist or a path (default %(default)s)")
    parser.add_argument("--methods", help="comma-separated subset of the file's method names")
    parser.add_argument("--epochs", type=int, help="override the number of training epochs")
    parser.add_argument("--dataset", choices=("fashion_mnist", "mnist", "mnist_embedded"),
                        help="override the classification data set")
    parser.add_argument("--data-dir", type=Path, help="folder holding the IDX files")
    parser.add_argument("--train-subset", type=int, help="train on the first N training samples only (both tasks)")
    parser.add_argument("--test-subset", type=int, help="evaluate on the first N test (regression: and validation) samples only")
    parser.add_argument("--feedback-init-epochs", type=int, help="override the initial sleep epochs")
    parser.add_argument("--extra-feedback-epochs", type=int, help="override the sleep epochs per epoch")
    parser.add_argument("--angle-every", type=int, help="override the epochs between angle measurements (regression)")
    parser.add_argument("--resume", action="store_true",
                        help="classification: continue every method from its checkpoint beside the output "
                             "(<output>.<method>.checkpoint.h5, written after each epoch), up to --epochs")


def load_experiment(name_or_path) -> dict:
    """Read and validate an experiment file (``ConfigError`` names file, key, expectation)."""
    path = cfg.resolve_model_file(name_or_path, "experiments")
    experiment = cfg.load(path, SCHEMA)
    problems = []
    for k, method in enumerate(experiment["methods"]):
        where = f"{path}: 'methods[{k}]"
        if method["rule"] != "bp" and method["controller"] is None:
            problems.append(f"{where}.controller': missing (rule {method['rule']!r} needs the controller table)")
        if method["feedback"] == "learned" and method["feedback_learning"] is None:
            problems.append(f"{where}.feedback_learning': missing (feedback = 'learned')")
    if experiment["task"] == "regression" and experiment["teacher"] is None:
        problems.append(f"{path}: 'teacher': missing (task = 'regression')")
    if problems:
        raise cfg.ConfigError(problems)
    experiment["path"] = str(path)
    return experiment


def method_config(method: dict, loss: str) -> training.MethodConfig:
    """The training configuration of one ``[[methods]]`` entry."""
    controller = None
    if method["controller"] is not None:
        c = method["controller"]
        controller = dfc.ControllerSettings(alpha=c["alpha"], k_p=c["k_p"], dt=c["dt"], steps=c["steps"],
                                            time_constant_ratio=c["time_constant_ratio"], proactive=c["proactive"])
    kwargs = {}
    fb = method["feedback_learning"] if method["feedback"] == "learned" else None
    if fb is not None:
        kwargs = dict(
            feedback_controller=dfc.ControllerSettings(
                alpha=fb["alpha"], k_p=fb["k_p"], dt=fb["dt"], steps=fb["steps"],
                time_constant_ratio=fb["time_constant_ratio"], apical_time_constant=fb["apical_time_constant"],
                sigma=fb["sigma"]),
            lr_feedback=fb["lr"], lr_feedback_init=fb["lr_init"], optimizer_feedback=fb["optimizer"],
            betas_feedback=(fb["beta1"], fb["beta2"]), eps_feedback=fb["eps"],
            feedback_weight_decay=fb["weight_decay"], freeze_output_feedback=fb["freeze_output"])
    return training.MethodConfig(
        method=method["rule"], loss=loss, lr=method["lr"], optimizer=method["optimizer"],
        betas=(method["beta1"], method["beta2"]), eps=method["eps"], target_stepsize=method["target_stepsize"],
        clip_grad_norm=method["clip_grad_norm"], controller=controller,
        include_nonconverged=True if controller is None else method["controller"]["include_nonconverged"],
        **kwargs)


def build_student(sizes, network: dict, method: dict, dtype, seed: int) -> RateNetwork:
    """Same initial forward weights for every method (same seed); learned feedback starts random."""
    rng = np.random.default_rng(seed)
    net = RateNetwork.create(sizes, network["hidden_activation"], network["output_activation"], rng=rng,
                             dtype=dtype, init=network["init"])
    if method["feedback"] == "learned":
        net.feedback = random_feedback(net, np.random.default_rng(seed + 1))
    return net


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _batch_bar(n_samples: int, batch: int, description: str):
    """A tqdm bar over the mini-batches of one epoch, showing the batch loss; drawn only
    when stderr is a terminal (log files and CI keep the one line per epoch)."""
    from tqdm.auto import tqdm

    with tqdm(total=-(-n_samples // batch), desc=description, unit="batch", leave=False, disable=None,
              file=sys.stderr) as bar:
        def update(k, loss):
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        yield update


def _selected(experiment: dict, args) -> list[dict]:
    methods = experiment["methods"]
    if getattr(args, "methods", None):
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        known = [m["name"] for m in methods]
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise SystemExit(f"--methods: unknown {', '.join(unknown)} (file has {', '.join(known)})")
        methods = [m for m in methods if m["name"] in wanted]
    return methods


def _feedback_epochs(method: dict, args) -> tuple[int, int]:
    if method["feedback"] != "learned":
        return 0, 0
    init = method["feedback_learning"]["init_epochs"]
    extra = method["feedback_learning"]["extra_epochs"]
    if getattr(args, "feedback_init_epochs", None) is not None:
        init = args.feedback_init_epochs
    if getattr(args, "extra_feedback_epochs", None) is not None:
        extra = args.extra_feedback_epochs
    return init, extra


# ----------------------------------------------------------------------------- classification

def load_classification_data(dataset: str, data_dir: Path | None, validation: int, dtype, train_subset=None,
                             test_subset=None, normalization: str = "standardize"):
    """(x_train, y_train, x_val, y_val, x_test, y_test, n_classes); validation = last N training
    samples. ``normalization``: "standardize" (one scalar mean and std of the training images
    used, like the published MNIST code's fixed 0.1307 / 0.3081) or "unit" (pixels / 255
    only, as the published Fashion-MNIST code, ``utils.FastFashionMNIST``)."""
    if dataset == "fashion_mnist":
        ds = datasets.load_fashion_mnist(data_dir)
    elif dataset == "mnist":
        ds = datasets.load_mnist(data_dir)
    else:
        ds = datasets.load_mnist_embedded()
    x_train, y_train = ds.x_train, ds.y_train
    if not 0 <= validation < len(x_train):
        raise ValueError(f"validation = {validation}: {ds.name} has only {len(x_train)} training samples")
    x_val, y_val = x_train[len(x_train) - validation:], y_train[len(y_train) - validation:]
    x_train, y_train = x_train[:len(x_train) - validation], y_train[:len(y_train) - validation]
    if train_subset:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    x_test, y_test = (ds.x_test[:test_subset], ds.y_test[:test_subset]) if test_subset else (ds.x_test, ds.y_test)
    dtype = np.dtype(dtype)
    if normalization == "unit":
        x_train, x_val, x_test = (np.asarray(a, dtype=dtype) / dtype.type(255) for a in (x_train, x_val, x_test))
    else:
        x_train, x_val, x_test = datasets.standardize(x_train, x_val, x_test, dtype=dtype)
    return x_train, y_train, x_val, y_val, x_test, y_test, ds.n_classes


def checkpoint_path(output: Path, method_name: str) -> Path:
    """Where a method's checkpoint lives: beside the results file."""
    output = Path(output)
    return output.with_name(f"{output.stem}.{method_name}.checkpoint.h5")


def train_classifier(method: dict, experiment: dict, data, epochs: int, seed: int, args, on_epoch=None,
                     checkpoint: Path | None = None, resume: bool = False) -> dict:
    """Train one method; returns per-epoch arrays (accuracies, losses, times, convergence).

    ``checkpoint``: file written after every epoch (:mod:`dendritic.rate.checkpoint`);
    with ``resume`` and an existing file, training continues from it (the same numbers
    as an uninterrupted run) up to ``epochs``.
    """
    x_train, y_train, x_val, y_val, x_test, y_test, n_classes = data
    dtype = np.dtype(experiment["dtype"])
    network = experiment["network"]
    sizes = [x_train.shape[1]] + [network["hidden_size"]] * network["hidden_layers"] + [n_classes]
    net = build_student(sizes, network, method, dtype, seed)
    rng = np.random.default_rng(seed + 2)
    learner = training.Learner(net, method_config(method, "cross_entropy"), rng)
    init_epochs, extra_epochs = _feedback_epochs(method, args)
    batch = experiment["batch_size"]
    meta = {"method": method["name"], "experiment_file": str(experiment["path"]), "sizes": np.asarray(sizes),
            "seed": np.int64(seed), "n_train": np.int64(len(x_train)), "batch_size": np.int64(batch),
            "dtype": dtype.name, "init_epochs": np.int64(init_epochs), "extra_epochs": np.int64(extra_epochs)}
    history = {k: [] for k in ("train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
                               "epoch_seconds", "converged_fraction")}
    if resume and checkpoint is not None and checkpoint.exists():
        saved_history, extra = checkpoint_module.load(checkpoint, learner, meta,
                                                      extra_keys=("feedback_init_seconds",))
        history.update(saved_history)
        feedback_init_seconds = float(extra["feedback_init_seconds"])
        _log(f"[dfc] {method['name']}: resumed from {checkpoint} after epoch {len(history['train_loss'])}")
    else:
        start = time.perf_counter()
        for k in range(init_epochs):
            training.train_feedback_epoch(learner, x_train, batch, rng, init=True)
            _log(f"[dfc] {method['name']} sleep epoch {k + 1}/{init_epochs}: {time.perf_counter() - start:.1f} s")
        feedback_init_seconds = time.perf_counter() - start
    for epoch in range(len(history["train_loss"]), epochs):
        start = time.perf_counter()
        learner.converged_fractions.clear()
        with _batch_bar(len(x_train), batch, f"{method['name']} epoch {epoch + 1}/{epochs}") as bar:
            train_loss = training.train_epoch(learner, x_train, y_train, batch, rng, progress=bar)
        for _ in range(extra_epochs):
            training.train_feedback_epoch(learner, x_train, batch, rng)
        seconds = time.perf_counter() - start
        val = training.evaluate(net, x_val, y_val, "cross_entropy") if len(x_val) else (np.nan, np.nan)
        test = training.evaluate(net, x_test, y_test, "cross_entropy")
        fractions = learner.converged_fractions
        for key, value in (("train_loss", train_loss), ("val_loss", val[0]), ("val_accuracy", val[1]),
                           ("test_loss", test[0]), ("test_accuracy", test[1]), ("epoch_seconds", seconds),
                           ("converged_fraction", np.mean(fractions) if fractions else np.nan)):
            history[key].append(value)
        _log(f"[dfc] {method['name']} epoch {epoch + 1}/{epochs}: train loss {train_loss:.4f}, "
             f"val acc {val[1]:.4f}, test acc {test[1]:.4f}, {seconds:.1f} s")
        if checkpoint is not None:
            checkpoint_module.save(checkpoint, learner, history, meta,
                                   extra={"feedback_init_seconds": feedback_init_seconds})
        if on_epoch is not None:
            on_epoch(history)
    result = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    result["feedback_init_seconds"] = feedback_init_seconds
    result["rule"] = method["rule"]
    result["feedback"] = method["feedback"]
    return result


def run_classification(experiment: dict, args, output: Path) -> dict:
    dataset = args.dataset or experiment["dataset"]
    dtype = np.dtype(experiment["dtype"])
    data = load_classification_data(dataset, args.data_dir, experiment["validation"], dtype,
                                    args.train_subset, args.test_subset, experiment["normalization"])
    epochs = experiment["epochs"] if args.epochs is None else args.epochs
    results = {"config": {"dataset": dataset, "epochs": epochs, "normalization": experiment["normalization"],
                          "n_train": len(data[0]), "n_validation": len(data[2]),
                          "n_test": len(data[4]), "experiment_file": experiment["path"]}}

    for method in _selected(experiment, args):
        def save_partial(history, name=method["name"]):
            results[name] = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
            _write(output, results, experiment, args)

        results[method["name"]] = train_classifier(method, experiment, data, epochs, args.seed, args,
                                                   on_epoch=save_partial,
                                                   checkpoint=checkpoint_path(output, method["name"]),
                                                   resume=getattr(args, "resume", False))
        _write(output, results, experiment, args)
    return results


# ----------------------------------------------------------------------------- regression

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


def train_regression(method: dict, experiment: dict, data, epochs: int, seed: int, args, on_epoch=None) -> dict:
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data
    dtype = np.dtype(experiment["dtype"])
    network = experiment["network"]
    sizes = [network["input_size"]] + [network["hidden_size"]] * network["hidden_layers"] + [network["output_size"]]
    net = build_student(sizes, network, method, dtype, seed)
    rng = np.random.default_rng(seed + 2)
    config = method_config(method, "mse")
    learner = training.Learner(net, config, rng)
    init_epochs, extra_epochs = _feedback_epochs(method, args)
    batch = experiment["batch_size"]
    x_probe, y_probe = x_train[:batch], y_train[:batch]
    angle_every = args.angle_every or experiment["angle_every"]
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
        _log(f"[dfc] {method['name']} epoch {epoch}/{epochs}: train loss {train_loss:.5f}, "
             f"test loss {history['test_loss'][-1]:.5f}")
        if on_epoch is not None:
            on_epoch(history, angles)
    result = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    result["angles"] = {k: np.asarray(v, dtype=np.float64) for k, v in angles.items()}
    result["initial_test_loss"] = training.evaluate(build_student(sizes, network, method, dtype, seed),
                                                    x_test, y_test, "mse")[0]
    result["rule"] = method["rule"]
    result["feedback"] = method["feedback"]
    return result


def run_regression(experiment: dict, args, output: Path) -> dict:
    data = teacher_data(experiment["teacher"], experiment["network"], args.seed + 1000, args.train_subset,
                        args.test_subset)
    epochs = experiment["epochs"] if args.epochs is None else args.epochs
    results = {"config": {"dataset": "student_teacher", "epochs": epochs, "gamma": experiment["gamma"],
                          "n_train": len(data[0][0]), "n_validation": len(data[1][0]), "n_test": len(data[2][0]),
                          "experiment_file": experiment["path"]}}
    for method in _selected(experiment, args):
        def save_partial(history, angles, name=method["name"]):
            results[name] = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
            results[name]["angles"] = {k: np.asarray(v, dtype=np.float64) for k, v in angles.items()}
            _write(output, results, experiment, args)

        results[method["name"]] = train_regression(method, experiment, data, epochs, args.seed, args,
                                                   on_epoch=save_partial)
        _write(output, results, experiment, args)
    return results


# ----------------------------------------------------------------------------- output

def _write(output: Path, results: dict, experiment: dict, args) -> None:
    write_results(output, results, attrs=provenance(experiment=NAME, seed=args.seed, target="numpy-rate",
                                                    config=experiment["path"], task=experiment["task"]))


def plot(results: dict, task: str, path: Path) -> Path:
    from dendritic.plots import save_figure  # selects the Agg backend before pyplot loads

    import matplotlib.pyplot as plt

    methods = [k for k in results if k != "config"]
    if task == "classification":
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name in methods:
            acc = results[name]["test_accuracy"]
            epochs = np.arange(1, len(acc) + 1)
            axes[0].plot(epochs, 100 * acc, marker="o", ms=3, label=name)
            axes[1].plot(epochs, results[name]["train_loss"], label=name)
        axes[0].set(xlabel="epoch", ylabel="test accuracy (%)", title=results["config"]["dataset"])
        axes[1].set(xlabel="epoch", ylabel="training loss", yscale="log")
        axes[0].legend()
    else:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        for name in methods:
            r = results[name]
            axes[0].plot(np.arange(1, len(r["test_loss"]) + 1), r["test_loss"], label=name)
            a = r["angles"]
            for key, style in (("dfc_vs_mn_network", "-"), ("bp_vs_mn_network", ":"), ("dfc_vs_bp_network", "--")):
                if key in a:
                    axes[1].plot(a["epoch"], a[key], style, marker="o", ms=3, label=f"{name}: {key[:-8]}")
            if "condition_2" in a:
                axes[2].plot(a["epoch"], a["condition_2"], marker="o", ms=3, label=name)
        axes[0].set(xlabel="epoch", ylabel="test MSE", yscale="log", title="student-teacher")
        axes[1].set(xlabel="epoch", ylabel="angle (deg), whole network")
        axes[2].set(xlabel="epoch", ylabel="Condition 2", ylim=(0, 1.05))
        axes[0].legend(), axes[1].legend(fontsize=7), axes[2].legend()
    fig.tight_layout()
    return save_figure(fig, path)


def run(args) -> Path:
    experiment = load_experiment(args.config)
    output = Path(args.output) if getattr(args, "output", None) else Path("data/runs") / f"{NAME}.h5"
    for name, default in (("methods", None), ("epochs", None), ("dataset", None), ("data_dir", None),
                          ("train_subset", None), ("test_subset", None), ("feedback_init_epochs", None),
                          ("extra_feedback_epochs", None), ("angle_every", None), ("seed", 0), ("no_plot", False),
                          ("resume", False)):
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    if experiment["task"] == "classification":
        results = run_classification(experiment, args, output)
    else:
        results = run_regression(experiment, args, output)
    if not args.no_plot:
        plot(results, experiment["task"], output.with_suffix(".png"))
    return output
