"""What the XOR network is judged by (Payeur et al. 2021, Fig. 4; ``compute_cost`` of
``sim/sim_xor.cpp`` and ``analysis/xor/plot_xor.py`` in ``apayeur/spikingburstprop``).

Cost, per example, before its learning window ("pre") and after it ("post"): with r
the mean over the output neurons of their event-rate estimate E_bar (Hz),

    p = clip((r - e_min) / (e_max - e_min), 0.01, 0.99),   C = -y log p - (1 - y) log(1 - p)

(e_min = 2 Hz, e_max = 10 Hz); the epoch cost is the sum of the pre costs of its
examples (``cost_epoch.dat``). The network's answer to a pattern is the output
population's event rate against e_th = (e_min + e_max)/2 = 6 Hz (``plot_xor.py``):
here its mean over the second half of the test example (the first half lets the rate
settle; the moving averages relax with 2 s). XOR is solved when the rate is above e_th
for the patterns of target 1 and below for those of target 0.

Response to the teacher (:func:`teaching_response`): per training example, each
population's burst probability in the learning window minus that in the equally long
stretch just before it. The teacher raises the output's for target 1 and lowers it for
target 0; the feedback should carry this to hidden 1 in phase (net excitatory) and to
hidden 2 inverted (net inhibitory): the correlations across examples of the hidden
changes with the output's change measure it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cost", "example_costs", "epoch_costs", "pattern_rates", "solved", "teaching_response"]


def cost(rate, target, rate_min: float = 2.0, rate_max: float = 10.0, clip: float = 0.01):
    """Cross-entropy of the normalised event rate (``compute_cost``); rates in Hz."""
    p = np.clip((np.asarray(rate, float) - rate_min) / (rate_max - rate_min), clip, 1 - clip)
    y = np.asarray(target, float)
    return -y * np.log(p) - (1 - y) * np.log(1 - p)


def _at(t, values, when: float):
    index = int(np.argmin(np.abs(t - when)))
    if abs(t[index] - when) > 1e-6:
        raise ValueError(f"no sample of the output averages at t = {when} s (nearest {t[index]} s)")
    return values[index]


def example_costs(examples, t, mean_estimate, rate_min=2.0, rate_max=10.0) -> dict:
    """Pre and post cost of every training example, from the mean output estimate
    ``mean_estimate`` (Hz) sampled at ``t`` (s); the samples must include each learning
    window's start and each example's end."""
    train = [e for e in examples if e.phase == "train"]
    t = np.asarray(t, float)
    pre = np.array([_at(t, mean_estimate, e.learning) for e in train])
    post = np.array([_at(t, mean_estimate, e.end) for e in train])
    targets = np.array([e.target for e in train])
    return {"index": np.array([e.index for e in train]), "epoch": np.array([e.epoch for e in train]),
            "pattern": np.array([e.pattern for e in train]), "target": targets,
            "rate_pre": pre, "rate_post": post,
            "cost_pre": cost(pre, targets, rate_min, rate_max), "cost_post": cost(post, targets, rate_min, rate_max)}


def epoch_costs(costs: dict) -> np.ndarray:
    """The summed pre cost of each epoch."""
    epochs = costs["epoch"]
    if epochs.size == 0:
        return np.zeros(0)
    return np.bincount(epochs, weights=costs["cost_pre"], minlength=int(epochs.max()) + 1)


def pattern_rates(examples, t, rate, phase: str) -> dict:
    """Per test example of ``phase``: its pattern, target and the population event rate
    ``rate`` (Hz, bins starting at ``t``) averaged over the second half of the example."""
    t = np.asarray(t, float)
    chosen = [e for e in examples if e.phase == phase]
    means = []
    for e in chosen:
        inside = (t >= (e.start + e.end) / 2 - 1e-9) & (t < e.end - 1e-9)
        means.append(float(np.mean(np.asarray(rate)[inside])) if inside.any() else np.nan)
    return {"pattern": np.array([e.pattern for e in chosen]), "target": np.array([e.target for e in chosen]),
            "event_rate": np.array(means)}


def solved(tests: dict, threshold: float = 6.0) -> bool:
    """Whether every pattern is on its side of ``threshold`` (Hz)."""
    rates, targets = tests["event_rate"], tests["target"]
    if rates.size == 0 or np.any(np.isnan(rates)):
        return False
    return bool(np.all((rates > threshold) == (targets == 1)))


def teaching_response(examples, t, burst_probability: dict) -> dict:
    """Change of each population's burst probability (``burst_probability``: name ->
    per-bin values, bins starting at ``t``) from the stretch before each learning window
    to the window; and the correlation of each population's change with the output's."""
    t = np.asarray(t, float)
    train = [e for e in examples if e.phase == "train"]
    change = {}
    for name, values in burst_probability.items():
        values = np.asarray(values, float)
        deltas = []
        for e in train:
            width = e.end - e.learning
            during = (t >= e.learning - 1e-9) & (t < e.end - 1e-9)
            before = (t >= e.learning - width - 1e-9) & (t < e.learning - 1e-9)
            deltas.append(np.nanmean(values[during]) - np.nanmean(values[before])
                          if during.any() and before.any() else np.nan)
        change[name] = np.array(deltas)
    out = {"target": np.array([e.target for e in train]), "change": change, "correlation_with_output": {}}
    reference = change.get("output")
    for name, deltas in change.items():
        if reference is None or name == "output":
            continue
        ok = ~np.isnan(deltas) & ~np.isnan(reference)
        out["correlation_with_output"][name] = (float(np.corrcoef(deltas[ok], reference[ok])[0, 1])
                                                if ok.sum() > 2 else float("nan"))
    return out
