"""float32 DFC against float64 where the plain formulation loses its digits: trained
classifiers have output potentials of order 10 and target shifts lambda dL/dr_L of
1e-4, and the dynamics move the potentials by 1e-6..1e-3 per step."""

import mpmath
import numpy as np
import pytest

from reference_dynamics import reference_simulation

from dendritic.rate import dfc, losses
from dendritic.rate import references as ref
from dendritic.rate.network import ActivationIncrement, RateNetwork, weight_product_feedback

mpmath.mp.dps = 60


@pytest.mark.parametrize("name, phi", [("tanh", mpmath.tanh), ("linear", lambda z: z), ("relu", lambda z: max(z, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_increment_against_mpmath(name, phi, dtype):
    """phi(v0 + d) - phi(v0) to a few units of the last place, for |v0| up to ~15 and
    |d| from 1e-8 to 1e-2; the plain difference in float32 is off by tens of percent."""
    rng = np.random.default_rng(1)
    v0 = rng.normal(0, 4, 400).astype(dtype)
    d = (rng.choice([-1, 1], 400) * 10.0 ** rng.uniform(-8, -2, 400)).astype(dtype)
    exact = np.array([float(phi(mpmath.mpf(float(a)) + mpmath.mpf(float(b))) - phi(mpmath.mpf(float(a))))
                      for a, b in zip(v0, d)])
    got = ActivationIncrement(name, v0)(d, out=np.empty_like(v0))
    nonzero = exact != 0
    assert np.all(got[~nonzero] == 0)
    rel = np.abs(got - exact)[nonzero] / np.abs(exact[nonzero])
    assert rel.max() < 8 * np.finfo(dtype).eps
    if dtype == np.float32 and name != "relu":
        plain = {"tanh": np.tanh(v0 + d) - np.tanh(v0), "linear": (v0 + d) - v0}[name]
        assert np.median(np.abs(plain - exact)[nonzero] / np.abs(exact[nonzero])) > 1e-3


def _trained_like_problem(dtype, seed=3):
    """A 30-64-64-64-10 tanh network whose output potentials are of order 10 and whose
    cross-entropy target shift lambda dL/dr_L is small, as after training."""
    rng = np.random.default_rng(seed)
    net = RateNetwork.create([30, 64, 64, 64, 10], rng=rng, bias_scale=0.1)
    net.weights[-1] *= 6.0
    net.feedback = weight_product_feedback(net)
    x = rng.uniform(0, 1, (64, 30))
    voltages, rates = net.forward(x)
    labels = rates[-1].argmax(axis=1)   # mostly right, confident: small gradients
    labels[:8] = (labels[:8] + 1) % 10  # a few wrong
    gradient = losses.cross_entropy_gradient(rates[-1], labels)
    target = dfc.output_target(rates[-1], gradient, 0.1)
    return net.astype(dtype), x.astype(dtype), target, rates[-1]


def _fashion_mnist_controller(name):
    """The controller of one method of the shipped ``dfc_fashion_mnist.toml``."""
    from dendritic.rate.experiment import load_experiment, method_config

    methods = {m["name"]: m for m in load_experiment("dfc_fashion_mnist")["methods"]}
    return method_config(methods[name], "cross_entropy").controller


@pytest.mark.parametrize("settings", [
    # the published fixed-feedback Fashion-MNIST dynamics (fmnist_fixed_dfc.py), Q = weight product
    _fashion_mnist_controller("dfc_fixed"),
    # the learned-feedback ones (fmnist_dfc.py), with a stabilising Q = J^+ per sample
    _fashion_mnist_controller("dfc_learned"),
], ids=["fixed_feedback", "learned_feedback"])
def test_float32_dfc_update_matches_float64(settings):
    """The trajectory-averaged DFC update, the final control and the convergence test in
    float32 agree with float64 (target given in float64, as the learner does), while
    the plain step-by-step integration (``reference_dynamics``) in float32 is off by
    degrees: the comparison can fail."""
    net64, x64, target, r_out = _trained_like_problem(np.float64)
    net32, x32, _, _ = _trained_like_problem(np.float32)
    assert np.abs(r_out).max() > 5 and np.median(np.abs(target - r_out)) < 1e-4
    feedback = None
    if settings.alpha < 0.1:
        voltages, _ = net64.forward(x64)
        feedback = np.linalg.pinv(ref.full_jacobian(net64, voltages))   # J Q = I
    a = dfc.simulate(net64, x64, target, settings, feedback=feedback)
    b = dfc.simulate(net32, x32, target, settings, feedback=None if feedback is None else feedback.astype(np.float32))
    converged64, _, _ = dfc.convergence(a, r_out, settings.alpha)
    converged32, _, _ = dfc.convergence(b, r_out, settings.alpha)
    assert converged64.all() and converged32.all()
    angles = ref.layer_angles([w.astype(np.float64) for w in b.mean_weight_update], a.mean_weight_update)
    assert angles.max() < 0.25, angles
    assert np.linalg.norm(b.final.u - a.final.u) < 5e-3 * np.linalg.norm(a.final.u)
    plain = reference_simulation(net32, x32, target.astype(np.float32), settings,
                                 feedback=None if feedback is None else feedback.astype(np.float32))
    plain_angles = ref.layer_angles([w.astype(np.float64) for w in plain["dW"]], a.mean_weight_update)
    assert plain_angles[-1] > 5, plain_angles
