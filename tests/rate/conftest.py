"""Session fixtures for the rate tests: toy data and a student with learned feedback."""

import numpy as np
import pytest
from rate_toy import TOY_CONTROLLER, TOY_FEEDBACK_CONTROLLER, TOY_TARGET_STEPSIZE, make_teacher_data

from dendritic.rate import training
from dendritic.rate.network import RateNetwork, random_feedback


@pytest.fixture(scope="session")
def toy_data():
    """5000 inputs (sleep phase), teacher outputs for the first 256 (the test batches)."""
    return make_teacher_data(np.random.default_rng(1), 5000, n_labelled=256)


@pytest.fixture(scope="session")
def toy_trained_feedback(toy_data):
    """Student with feedback weights learned in the sleep phase from random Q (15 epochs)."""
    rng = np.random.default_rng(2)
    x, _ = toy_data
    net = RateNetwork.create([15, 10, 10, 5], rng=rng)
    net.feedback = random_feedback(net, rng)
    initial_feedback = [q.copy() for q in net.feedback]
    config = training.MethodConfig(
        "dfc", loss="mse", lr=0.05, optimizer="sgd", target_stepsize=TOY_TARGET_STEPSIZE,
        controller=TOY_CONTROLLER, feedback_controller=TOY_FEEDBACK_CONTROLLER, lr_feedback=0.002,
        lr_feedback_init=0.1, optimizer_feedback="sgd", feedback_weight_decay=0.025, freeze_output_feedback=False)
    learner = training.Learner(net, config, rng)
    for _ in range(15):
        training.train_feedback_epoch(learner, x, 128, rng, init=True)
    return net, initial_feedback
