"""The figure of a rate DFC run (:mod:`dendritic.rate.classification`,
:mod:`dendritic.rate.regression`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot"]


def plot(results: dict, task: str):
    """Test accuracy and training loss per epoch (classification), or test loss, angles and
    Condition 2 (regression), of every method in ``results``: a matplotlib ``Figure``."""
    import dendritic.plots  # noqa: F401  (selects the Agg backend before pyplot loads)

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
        for ax, size in zip(axes, (None, 7, None)):
            if ax.get_legend_handles_labels()[0]:  # BP alone has no angles to DFC and no Condition 2
                ax.legend(fontsize=size)
    fig.tight_layout()
    return fig
