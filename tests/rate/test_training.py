"""Optimisers against hand computations; training loops move the loss."""

import numpy as np
import pytest

from dendritic.rate import dfc, training
from dendritic.rate.network import RateNetwork


def test_adam_two_steps_by_hand():
    p = np.array([1.0, -2.0])
    opt = training.Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 0.3])
    opt.step([p], [g1])
    # step 1: m = 0.1 g, s = 0.01 g^2, bias corrected m/0.1 = g, s/0.01 = g^2 -> p -= lr sign(g)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)], rtol=1e-12)
    opt.step([p], [g2])
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    s = 0.99 * 0.01 * g1 ** 2 + 0.01 * g2 ** 2
    m_hat, s_hat = m / (1 - 0.9 ** 2), s / (1 - 0.99 ** 2)
    expected = np.array([1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 / (1.0 + 1e-8)]) - 0.1 * m_hat / (np.sqrt(s_hat) + 1e-8)
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_adam_weight_decay_and_sgd():
    p = np.array([2.0])
    training.SGD(lr=0.5, weight_decay=0.1).step([p], [np.array([1.0])])
    assert p[0] == pytest.approx(2.0 - 0.5 * (1.0 + 0.2))
    q = np.array([2.0])
    opt = training.Adam(lr=0.01, weight_decay=0.5)
    opt.step([q], [np.array([0.0])])  # gradient is the decay term only: one signed step
    assert q[0] == pytest.approx(2.0 - 0.01, rel=1e-6)


def test_clip_by_norm():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(training.clip_by_norm(g, 1.0), g / (5.0 + 1e-6))
    np.testing.assert_allclose(training.clip_by_norm(g, 10.0), g)


@pytest.mark.parametrize("method", ["bp", "dfc_ssa", "dfc"])
def test_methods_reduce_training_loss_on_a_small_problem(method):
    rng = np.random.default_rng(0)
    teacher = RateNetwork.create([6, 12, 3], rng=rng)
    x = rng.uniform(-1, 1, (256, 6))
    labels = teacher.predict(x).argmax(axis=1)
    net = RateNetwork.create([6, 16, 16, 3], rng=rng)
    controller = dfc.ControllerSettings(alpha=0.01, k_p=2.0, dt=0.02, steps=100, time_constant_ratio=0.2)
    config = training.MethodConfig(method, lr=1e-3, target_stepsize=0.1, controller=controller,
                                   betas=(0.9, 0.99))
    learner = training.Learner(net, config, rng)
    before, _ = training.evaluate(net, x, labels, "cross_entropy")
    for _ in range(15):
        training.train_epoch(learner, x, labels, 32, rng)
    after, acc = training.evaluate(net, x, labels, "cross_entropy")
    assert after < 0.7 * before
    assert acc > 0.8


def test_strong_feedback_dfc_learns_from_the_label_target():
    """Strong-feedback variant: the controller drives the output to the label itself."""
    rng = np.random.default_rng(0)
    teacher = RateNetwork.create([6, 12, 3], rng=rng)
    x = rng.uniform(-1, 1, (256, 6))
    labels = teacher.predict(x).argmax(axis=1)
    net = RateNetwork.create([6, 16, 16, 3], rng=np.random.default_rng(1))
    controller = dfc.ControllerSettings(alpha=0.1, k_p=2.0, dt=0.02, steps=200, time_constant_ratio=0.2)
    config = training.MethodConfig("dfc", lr=1e-3, target_stepsize=1.0, controller=controller, betas=(0.9, 0.99),
                                   strong_feedback=True)
    learner = training.Learner(net, config, rng)
    before, _ = training.evaluate(net, x, labels, "cross_entropy")
    for _ in range(15):
        training.train_epoch(learner, x, labels, 32, rng)
    after, accuracy = training.evaluate(net, x, labels, "cross_entropy")
    assert after < 0.8 * before and accuracy > 0.8
