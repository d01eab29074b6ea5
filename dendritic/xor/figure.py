"""The XOR figure in the layout of Payeur et al. 2021, Fig. 4 (``analysis/xor/plot_xor.py``
of ``apayeur/spikingburstprop``): inputs and output event rate before and after
learning against e_th, burst probabilities of the output and hidden populations during
one training epoch (at a fifth of the training, as published), the cost per epoch,
and the mean plastic weights."""

from __future__ import annotations

import numpy as np

__all__ = ["figure"]

LABELS = {"00": "(0, 0)", "10": "(1, 0)", "01": "(0, 1)", "11": "(1, 1)"}


def _window(t, start, stop):
    return (t >= start - 1e-9) & (t < stop - 1e-9)


def _examples(result, phase):
    tests = result["tests"][phase]
    return list(tests["pattern"])


def figure(result: dict, config, title: str = "", seeds: dict | None = None):
    """``result``: one seed's results (see :func:`dendritic.experiments.xor.run_one`);
    ``seeds``: all seeds' results, for the cost curves."""
    import matplotlib.pyplot as plt

    signals = result["signals"]
    t = np.asarray(signals["t"], float)
    schedule = config.protocol.examples()
    r = config.values["readout"]
    e_th = float(r["threshold"])
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))

    def test_span(phase):
        chosen = [e for e in schedule if e.phase == phase]
        return (chosen[0].start, chosen[-1].end, chosen) if chosen else None

    before, after = test_span("test_before"), test_span("test_after")
    # (a) inputs during the first test
    ax = axes[0, 0]
    if before:
        inside = _window(t, before[0], before[1])
        for name, style in (("input1", "-"), ("input2", "--")):
            ax.plot(t[inside] - before[0], np.asarray(signals[name]["event_rate"])[inside], style, color="C0",
                    label=name)
        for e in before[2]:
            ax.text((e.start + e.end) / 2 - before[0], -0.5, LABELS.get(e.pattern, e.pattern), ha="center", va="top")
    ax.set(ylabel="event rate, inputs (Hz)", title="inputs (test before learning)", ylim=(-1.5, 11))
    ax.legend(fontsize=8)
    # (b) output before/after
    ax = axes[0, 1]
    for span, style, label in ((before, "--", "before"), (after, "-", "after")):
        if span:
            inside = _window(t, span[0], span[1])
            ax.plot(t[inside] - span[0], np.asarray(signals["output"]["event_rate"])[inside], style, color="C0",
                    label=label)
    ref = before or after
    if ref:
        ax.axhline(e_th, color="k", ls=":", lw=0.8)
        for e in ref[2]:
            ax.text((e.start + e.end) / 2 - ref[0], -0.5, LABELS.get(e.pattern, e.pattern), ha="center", va="top")
    ax.set(ylabel="event rate, output (Hz)", title="output before / after learning", ylim=(-1.5, 11))
    ax.legend(fontsize=8)
    # (c, d) burst probabilities during one training epoch
    train = [e for e in schedule if e.phase == "train"]
    if train:
        epoch = min(max(e.epoch for e in train), config.protocol.epochs // 5)
        chosen = [e for e in train if e.epoch == epoch]
        start, stop = chosen[0].start, chosen[-1].end
        inside = _window(t, start, stop)
        for ax, names in ((axes[0, 2], ("output",)), (axes[1, 0], ("hidden1", "hidden2"))):
            for n, name in enumerate(names):
                ax.plot(t[inside] - start, 100 * np.asarray(signals[name]["burst_probability"])[inside],
                        color=f"C{3 + n}", label=name)
            for e in chosen:
                ax.axvspan(e.learning - start, e.end - start, color="0.9", zorder=0)
                ax.text((e.start + e.end) / 2 - start, 0.02, LABELS.get(e.pattern, e.pattern), ha="center",
                        va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
            ax.set(ylabel="burst probability (%)", xlabel=f"time in epoch {epoch} (s; grey: learning)")
            ax.legend(fontsize=8)
        axes[0, 2].set_title("output burst probability (teaching)")
        axes[1, 0].set_title("hidden burst probabilities")
    # (e) cost per epoch
    ax = axes[1, 1]
    for seed, res in (seeds or {"": result}).items():
        costs = np.asarray(res["epochs"]["cost"])
        if costs.size:
            ax.plot(np.arange(costs.size), costs, lw=1, marker="o" if costs.size < 20 else None, ms=3,
                    label=f"seed {seed}" if seed else None)
    ax.set(xlabel="epoch", ylabel="cost (sum over the 4 examples)", title="cost per epoch")
    if seeds and len(seeds) > 1:
        ax.legend(fontsize=7)
    # (f) mean plastic weights
    ax = axes[1, 2]
    weights = result["weights"]
    wt = np.asarray(weights["t"], float)
    for name, values in weights["mean"].items():
        ax.plot(wt, np.asarray(values), lw=1, label=name.replace("_g_ampa_s", ""))
    ax.set(xlabel="time (s)", ylabel="mean weight", title="plastic weights")
    ax.legend(fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
