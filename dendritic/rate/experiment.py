"""The rate DFC experiment files (``models/experiments/dfc_*.toml``) and what a run of
one needs besides them.

- :data:`SCHEMA` and :func:`load_experiment`: the file, validated (``ConfigError`` names
  file, key, expectation); ``task`` chooses :mod:`dendritic.rate.regression` (the
  student-teacher task, ``dfc_toy``) or :mod:`dendritic.rate.classification`
  (``dfc_fashion_mnist``, ``dfc_mnist``).
- :class:`RunOptions`: the overrides of one run (seed, epochs, methods, data subsets,
  sleep epochs, resume), typed; the command line builds them
  (:mod:`dendritic.experiments.dfc`).
- :func:`selected_methods`, :func:`feedback_epochs`: the ``[[methods]]`` entries a run
  trains and the sleep epochs of each.
- :func:`method_config`: one ``[[methods]]`` entry as a
  :class:`~dendritic.rate.training.MethodConfig`; :func:`build_student`: its network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dendritic import config as cfg
from dendritic.rate import dfc, training
from dendritic.rate.network import RateNetwork, random_feedback

__all__ = ["SCHEMA", "load_experiment", "RunOptions", "selected_methods", "feedback_epochs", "method_config",
           "build_student"]


_RULES = ("bp", "dfc_ssa", "dfc_ss", "dfc")
#: the controlled dynamics, simulated in the forward phase and in the sleep phase
_DYNAMICS = {
    "alpha": cfg.Number("controller leak alpha", bound="nonnegative"),
    "k_p": cfg.Number("proportional gain", bound="nonnegative"),
    "dt": cfg.Number("Euler step (units of tau_u)", bound="positive"),
    "steps": cfg.Integer("time points simulated", minimum=2),
    "time_constant_ratio": cfg.Number("tau_v / tau_u", bound="positive"),
}
_CONTROLLER = {
    **_DYNAMICS,
    "proactive": cfg.Flag("update u before the layers", default=False),
    "include_nonconverged": cfg.Flag("keep samples failing the convergence test", default=True),
}
_FEEDBACK_LEARNING = {
    **_DYNAMICS,
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
_METHOD_RULES = (cfg.Requires("rule", needs="controller", when=tuple(r for r in _RULES if r != "bp")),
                 cfg.Requires("feedback", needs="feedback_learning", when="learned"))
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
    "methods": cfg.TableList("learning methods", schema=_METHOD, minimum=1, rules=_METHOD_RULES),
}
RULES = (cfg.Requires("task", needs="teacher", when="regression"),)


def load_experiment(name_or_path, overrides=()) -> dict:
    """Read and validate an experiment file (``ConfigError`` names file, key, expectation),
    with ``key=value`` overrides (the command line's ``--set``, e.g. ``epochs=2``)."""
    path = cfg.resolve_model_file(name_or_path, "experiments")
    experiment = cfg.load(path, SCHEMA, rules=RULES, overrides=overrides)
    experiment["path"] = str(path)
    return experiment


@dataclass(frozen=True)
class RunOptions:
    """One run of an experiment file: what the file does not fix, and overrides of it.

    ``seed``: the student's initial weights and the mini-batch order (regression: the
    teacher and its data use seed + 1000). ``None`` everywhere else keeps the file's value:
    ``epochs``; ``methods``, names of the ``[[methods]]`` to train (in the file's order);
    ``dataset`` and ``data_dir`` (the folder of the IDX files) for classification;
    ``train_subset`` / ``test_subset``, the first N training / test (regression: and
    validation) samples only; ``feedback_init_epochs`` / ``extra_feedback_epochs``, the
    sleep epochs of learned feedback before training / after every epoch;
    ``angle_every``, the epochs between angle measurements (regression). ``resume``:
    classification continues every method from its checkpoint.
    """

    seed: int = 0
    epochs: int | None = None
    methods: tuple[str, ...] | None = None
    dataset: str | None = None
    data_dir: Path | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    feedback_init_epochs: int | None = None
    extra_feedback_epochs: int | None = None
    angle_every: int | None = None
    resume: bool = False


def selected_methods(experiment: dict, names=None) -> list[dict]:
    """The ``[[methods]]`` entries named in ``names`` (all if ``None``), in the file's order;
    ``ValueError`` for a name the file does not have."""
    methods = experiment["methods"]
    if names is not None:
        known = [m["name"] for m in methods]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)} (file has {', '.join(known)})")
        methods = [m for m in methods if m["name"] in names]
    return methods


def feedback_epochs(method: dict, init: int | None = None, extra: int | None = None) -> tuple[int, int]:
    """Sleep epochs (before training, after every training epoch) of one method: none
    without learned feedback, else the file's unless ``init`` / ``extra`` are given."""
    if method["feedback"] != "learned":
        return 0, 0
    learning = method["feedback_learning"]
    return (learning["init_epochs"] if init is None else init,
            learning["extra_epochs"] if extra is None else extra)


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
