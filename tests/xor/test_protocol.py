"""The XOR schedule (:mod:`dendritic.xor.protocol`) against the published loop of
``sim/sim_xor.cpp`` (lines 500-660), written here in closed form: after the burn-in,
example k covers [burn_in + k T, burn_in + (k + 1) T); the first four are the test
before learning, then the epochs, then the test after."""

import numpy as np
import pytest
from brian2 import ms, pA, second

from dendritic import config as cfg
from dendritic.xor.protocol import SCHEMA, Protocol, xor_target

PATTERNS = ["00", "10", "01", "11"]


def _protocol(**changes):
    return Protocol.from_values({**cfg.validate({}, SCHEMA), **changes})


def published(t, burn_in=6.0, T=8.0, L=0.8, epochs=500):
    """(input1 pA, input2 pA, learning, target) at time t, as sim_xor.cpp sets them."""
    if t < burn_in:
        return 0.0, 0.0, 0, 0
    k = int((t - burn_in) // T)
    n_train = 4 * epochs
    if k >= 8 + n_train:
        return 0.0, 0.0, 0, 0
    pattern = PATTERNS[k % 4]  # the tests and each epoch run 00, 10, 01, 11
    x1, x2 = (150.0 if bit == "1" else -350.0 for bit in pattern)
    training = 4 <= k < 4 + n_train
    in_window = (t - burn_in - k * T) >= T - L - 1e-9
    return x1, x2, int(training and in_window), int(pattern[0] != pattern[1])


def test_published_protocol_lasts_16070_s():
    protocol = _protocol()
    assert protocol.duration == pytest.approx(6 + 4 * 8 + 2000 * 8 + 4 * 8)
    assert len(protocol.examples()) == 2008
    assert float(protocol.grid(0.1 * ms)) == pytest.approx(0.4)  # gcd of 6 s, 7.2 s and 0.8 s


def test_schedule_matches_the_published_loop():
    protocol = _protocol(epochs=3)
    schedule = protocol.schedule(0.1 * ms, until=protocol.duration + 20)
    arrays = schedule.arrays
    rng = np.random.default_rng(0)
    times = np.r_[rng.uniform(0, protocol.duration + 20, 3000), np.arange(0, protocol.duration, 0.4) + 0.05]
    for t in times:
        x1, x2, learning, target = published(t, epochs=3)
        assert float(arrays["xor_input1"](t * second) / pA) == pytest.approx(x1)
        assert float(arrays["xor_input2"](t * second) / pA) == pytest.approx(x2)
        assert float(arrays["xor_learning"](t * second)) == learning
        assert float(arrays["xor_teaching"](t * second)) == learning  # one recomputation: 0/1 as the gate
        if learning:
            assert float(arrays["xor_target"](t * second)) == target


def test_error_updates_alternate_the_teaching_window():
    protocol = _protocol(epochs=1, error_updates=2, test_before=False, test_after=False)
    arrays = protocol.schedule(0.1 * ms).arrays
    start = 6.0 + 7.2  # first learning window
    assert float(arrays["xor_teaching"]((start + 0.1) * second)) == 1
    assert float(arrays["xor_teaching"]((start + 0.5) * second)) == 2
    assert float(arrays["xor_learning"]((start + 0.5) * second)) == 1
    assert float(arrays["xor_teaching"]((start - 0.1) * second)) == 0


def test_shortened_examples_and_targets():
    assert [xor_target(p) for p in PATTERNS] == [0, 1, 1, 0]
    protocol = _protocol(example_duration=4 * second, learning_window=0.4 * second, epochs=200)
    assert protocol.duration == pytest.approx(6 + 808 * 4)
    train = [e for e in protocol.examples() if e.phase == "train"]
    assert train[0].learning - train[0].start == pytest.approx(3.6) and train[-1].epoch == 199


def test_bad_protocols_are_refused_with_their_key():
    with pytest.raises(cfg.ConfigError, match="patterns"):
        _protocol(patterns=["0", "12"])
    with pytest.raises(cfg.ConfigError, match="learning_window"):
        _protocol(learning_window=9 * second)
    with pytest.raises(cfg.ConfigError, match="whole number of time steps"):
        _protocol(burn_in=0.05 * ms).grid(0.1 * ms)
