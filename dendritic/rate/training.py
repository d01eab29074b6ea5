"""Optimisers and training loops for backprop and the DFC variants.

Conventions follow the published DFC code (Meulemans et al. 2021,
``meulemansalex/deep_feedback_control``) so that its hyperparameters carry over:

- the forward "gradient" handed to the optimiser is -2 Delta W (Delta W the DFC update
  of :func:`dendritic.rate.dfc.dfc_update`); backprop hands dL/dW of the batch-mean loss;
- every parameter's gradient is clipped to norm ``clip_grad_norm`` before the step
  (``torch.nn.utils.clip_grad_norm_`` per parameter);
- the forward learning rate is divided by the target step size lambda
  (``normalize_lr``), since DFC updates scale with lambda;
- as in the published code, delta_L comes from the batch-mean loss and Delta W is again
  a batch mean, so a DFC step is about 1/B of the corresponding BP gradient (times the
  Gauss-Newton scaling); Adam does not see this factor, SGD does (the published toy
  learning rate includes it);
- Adam is PyTorch's: m = b1 m + (1 - b1) g, s = b2 s + (1 - b2) g^2,
  p -= lr (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps), weight decay added to g.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dendritic.rate import dfc
from dendritic.rate.losses import LOSSES, one_hot
from dendritic.rate.network import RateNetwork
from dendritic.rate.references import backprop_gradients
from dendritic.rate.threads import limited

__all__ = ["SGD", "Adam", "clip_by_norm", "make_optimizer", "MethodConfig", "Learner", "train_epoch",
           "train_feedback_epoch", "evaluate", "METHODS"]

METHODS = ("bp", "dfc_ssa", "dfc_ss", "dfc")


class SGD:
    """p -= lr (g + weight_decay p)."""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = lr
        self.weight_decay = weight_decay

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            if self.weight_decay:
                g = g + self.weight_decay * p
            p -= self.lr * g


class Adam:
    """Adam (Kingma & Ba 2015) with PyTorch's bias correction and eps placement."""

    def __init__(self, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.s: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.s = [np.zeros_like(p) for p in params]
        self.t += 1
        correction1 = 1.0 - self.beta1 ** self.t
        correction2 = 1.0 - self.beta2 ** self.t
        step_size = self.lr / correction1
        for p, g, m, s in zip(params, grads, self.m, self.s):
            if self.weight_decay:
                g = g + self.weight_decay * p
            work = np.empty_like(p)  # in place: one scratch array instead of five temporaries
            m *= self.beta1
            np.multiply(g, 1.0 - self.beta1, out=work)
            m += work
            s *= self.beta2
            np.multiply(g, g, out=work)
            work *= 1.0 - self.beta2
            s += work
            # p -= lr (m / c1) / (sqrt(s / c2) + eps)
            np.divide(s, correction2, out=work)
            np.sqrt(work, out=work)
            work += self.eps
            np.divide(m, work, out=work)
            work *= step_size
            p -= work


def clip_by_norm(grad: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale ``grad`` to norm ``max_norm`` if larger (PyTorch's 1e-6 guard included)."""
    if max_norm is None or max_norm <= 0:
        return grad
    norm = float(np.linalg.norm(grad))
    if norm > max_norm:
        return grad * (max_norm / (norm + 1e-6))
    return grad


def make_optimizer(name: str, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
    if name == "sgd":
        return SGD(lr, weight_decay)
    if name == "adam":
        return Adam(lr, betas, eps, weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: expected 'sgd' or 'adam'")


@dataclass
class MethodConfig:
    """One learning method with its hyperparameters.

    method: "bp", "dfc_ssa", "dfc_ss" or "dfc". controller: forward-phase dynamics (DFC
    variants). feedback_controller: sleep-phase dynamics with apical noise, or ``None``
    for fixed feedback. strong_feedback: target = label (classification only).
    """

    method: str
    loss: str = "cross_entropy"
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    target_stepsize: float = 0.1
    normalize_lr: bool = True
    clip_grad_norm: float = 1.0
    controller: dfc.ControllerSettings | None = None
    include_nonconverged: bool = True
    feedback_controller: dfc.ControllerSettings | None = None
    lr_feedback: float = 1e-3
    lr_feedback_init: float = 1e-3
    optimizer_feedback: str = "adam"
    betas_feedback: tuple = (0.9, 0.999)
    eps_feedback: float = 1e-8
    feedback_weight_decay: float = 0.0
    freeze_output_feedback: bool = True
    strong_feedback: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: expected one of {METHODS}")
        if self.method != "bp" and self.controller is None:
            raise ValueError(f"method {self.method!r} needs controller settings")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: expected one of {sorted(LOSSES)}")

    @property
    def learns_feedback(self) -> bool:
        return self.method != "bp" and self.feedback_controller is not None


class Learner:
    """A network, its method and optimiser state; one call per mini-batch."""

    def __init__(self, net: RateNetwork, config: MethodConfig, rng: np.random.Generator):
        self.net = net
        self.config = config
        self.rng = rng
        # the published code divides every forward learning rate (BP included) by lambda
        lr = config.lr / config.target_stepsize if config.normalize_lr else config.lr
        self.optimizer = make_optimizer(config.optimizer, lr, config.betas, config.eps)
        self.feedback_optimizer = None
        self.feedback_init_optimizer = None
        if config.learns_feedback:
            kwargs = dict(betas=config.betas_feedback, eps=config.eps_feedback,
                          weight_decay=config.feedback_weight_decay)
            self.feedback_optimizer = make_optimizer(config.optimizer_feedback, config.lr_feedback, **kwargs)
            self.feedback_init_optimizer = make_optimizer(config.optimizer_feedback, config.lr_feedback_init, **kwargs)
        self.converged_fractions: list[float] = []

    def _loss(self, r_out, y):
        loss_fn, grad_fn = LOSSES[self.config.loss]
        return loss_fn(r_out, y), grad_fn(r_out, y)

    def forward_gradients(self, x: np.ndarray, y: np.ndarray, feedforward=None):
        """Gradients (to descend) for all W_i and b_i, and the batch loss."""
        net, c = self.net, self.config
        voltages, rates = net.forward(x) if feedforward is None else feedforward
        loss, output_gradient = self._loss(rates[-1], y)
        if c.method == "bp":
            gW, gb = backprop_gradients(net, x, output_gradient, voltages, rates)
            return gW, gb, loss
        if c.strong_feedback:
            target = dfc.strong_feedback_target(one_hot(y, rates[-1].shape[1], dtype=net.dtype))
        else:
            # in float64, so that delta_L = r_L* - r_L^- = -lambda dL/dr_L keeps its digits
            # beside output rates of order 10 (dfc.simulate forms delta_L in float64)
            target = dfc.output_target(rates[-1].astype(np.float64), output_gradient, c.target_stepsize)
        dW, db, info = dfc.dfc_update(net, x, target, c.controller, variant=c.method,
                                      include_nonconverged=c.include_nonconverged,
                                      feedforward=(voltages, rates))
        if np.isfinite(info["converged_fraction"]):
            self.converged_fractions.append(info["converged_fraction"])
        return [-2.0 * w for w in dW], [-2.0 * b for b in db], loss

    @limited
    def train_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        gW, gb, loss = self.forward_gradients(x, y)
        clip = self.config.clip_grad_norm
        params = self.net.weights + self.net.biases
        grads = [clip_by_norm(g, clip) for g in gW + gb]
        self.optimizer.step(params, grads)
        return loss

    @limited
    def train_feedback_batch(self, x: np.ndarray, init: bool = False) -> None:
        """One sleep-phase step on the feedback weights (no-op for fixed feedback)."""
        if not self.config.learns_feedback:
            return
        grads = dfc.feedback_gradients(self.net, x, self.config.feedback_controller, self.rng)
        layers = range(self.net.depth - 1) if self.config.freeze_output_feedback else range(self.net.depth)
        params = [self.net.feedback[i] for i in layers]
        grads = [grads[i] for i in layers]
        (self.feedback_init_optimizer if init else self.feedback_optimizer).step(params, grads)


def _batches(n: int, batch_size: int, rng: np.random.Generator | None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


@limited
def train_epoch(learner: Learner, x: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator | None = None, max_batches: int | None = None, progress=None) -> float:
    """One pass over (x, y) in shuffled mini-batches; returns the mean training loss."""
    losses = []
    for k, idx in enumerate(_batches(len(x), batch_size, rng)):
        if max_batches is not None and k >= max_batches:
            break
        losses.append(learner.train_batch(x[idx], y[idx]))
        if progress is not None:
            progress(k, losses[-1])
    return float(np.mean(losses))


@limited
def train_feedback_epoch(learner: Learner, x: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                         init: bool = False, max_batches: int | None = None) -> None:
    """One sleep-phase pass over the inputs x."""
    for k, idx in enumerate(_batches(len(x), batch_size, rng)):
        if max_batches is not None and k >= max_batches:
            break
        learner.train_feedback_batch(x[idx], init=init)


@limited
def evaluate(net: RateNetwork, x: np.ndarray, y: np.ndarray, loss: str, batch_size: int = 1000):
    """(mean loss, accuracy or nan) on a data set, in batches."""
    loss_fn = LOSSES[loss][0]
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        out = net.predict(x[start:start + batch_size])
        target = y[start:start + batch_size]
        total += loss_fn(out, target) * len(out)
        if loss == "cross_entropy":
            correct += int((out.argmax(axis=1) == target).sum())
    accuracy = correct / len(x) if loss == "cross_entropy" else float("nan")
    return total / len(x), accuracy
