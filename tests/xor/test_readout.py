"""The XOR readout (:mod:`dendritic.xor.readout`) against ``compute_cost`` of
``sim/sim_xor.cpp`` evaluated by hand."""

import numpy as np
import pytest

from dendritic.xor.protocol import Example
from dendritic.xor.readout import cost, epoch_costs, example_costs, pattern_rates, solved, teaching_response


def test_cost_is_the_cross_entropy_of_the_normalised_rate():
    assert cost(6.0, 1) == pytest.approx(np.log(2))  # p = 0.5
    assert cost(4.0, 0) == pytest.approx(-np.log(0.75))  # p = 0.25
    assert cost(1.0, 1) == pytest.approx(-np.log(0.01))  # clipped below
    assert cost(12.0, 0) == pytest.approx(-np.log(0.01))  # clipped above (1 - 0.99)
    assert cost(12.0, 1) == pytest.approx(-np.log(0.99))


def _examples():
    out, t = [], 1.0
    for k, pattern in enumerate(["00", "10", "01", "11", "00", "10", "01", "11"]):
        out.append(Example("train", k, k // 4, pattern, int(pattern[0] != pattern[1]), t, t + 0.8, t + 1.0))
        t += 1.0
    out.append(Example("test_after", 8, 2, "10", 1, t, None, t + 1.0))
    return out


def test_example_and_epoch_costs_read_the_samples_at_the_window_edges():
    examples = _examples()
    t = np.round(np.arange(0, 10.01, 0.2), 10)
    estimate = 2 + t  # a rising mean estimate, Hz
    costs = example_costs(examples, t, estimate)
    np.testing.assert_allclose(costs["rate_pre"], [e.learning + 2 for e in examples[:8]])
    np.testing.assert_allclose(costs["rate_post"], [e.end + 2 for e in examples[:8]])
    expected = [cost(e.learning + 2, e.target) for e in examples[:8]]
    np.testing.assert_allclose(costs["cost_pre"], expected)
    np.testing.assert_allclose(epoch_costs(costs), [sum(expected[:4]), sum(expected[4:])])


def test_missing_samples_are_an_error():
    with pytest.raises(ValueError, match="no sample"):
        example_costs(_examples(), np.arange(0, 10, 0.3), np.zeros(34))


def test_pattern_rates_average_the_second_half_and_decide_against_the_threshold():
    examples = _examples()
    t = np.round(np.arange(0, 10, 0.1), 10)
    rate = np.where(t >= 9.5, 8.0, 1.0)  # the last test example: 1 Hz in its first half, 8 Hz in its second
    tests = pattern_rates(examples, t, rate, "test_after")
    assert tests["event_rate"] == pytest.approx([8.0]) and list(tests["pattern"]) == ["10"]
    assert solved(tests, 6.0)
    assert not solved({**tests, "event_rate": np.array([5.0])}, 6.0)


def test_teaching_response_measures_the_changes_and_their_correlation():
    examples = _examples()
    t = np.round(np.arange(0, 9, 0.1), 10)
    rng = np.random.default_rng(1)
    kick = {e.index: (0.2 if e.target else -0.2) * (1 + rng.uniform()) for e in examples if e.phase == "train"}
    output, hidden1, hidden2 = (np.full(t.size, 0.3) for _ in range(3))
    for e in examples[:8]:
        during = (t >= e.learning - 1e-9) & (t < e.end - 1e-9)
        output[during] += kick[e.index]
        hidden1[during] += 0.5 * kick[e.index]
        hidden2[during] -= 0.25 * kick[e.index]
    response = teaching_response(examples, t, {"output": output, "hidden1": hidden1, "hidden2": hidden2})
    np.testing.assert_allclose(response["change"]["output"], [kick[k] for k in range(8)])
    np.testing.assert_allclose(response["change"]["hidden2"], [-0.25 * kick[k] for k in range(8)])
    assert response["correlation_with_output"]["hidden1"] == pytest.approx(1.0)
    assert response["correlation_with_output"]["hidden2"] == pytest.approx(-1.0)
