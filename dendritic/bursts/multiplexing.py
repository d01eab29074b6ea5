"""The analysis of burst multiplexing (Payeur et al. 2021, Nature Neuroscience,
doi:10.1038/s41593-021-00857-x, Fig. 3; published analysis
``analysis/propagation/`` of ``apayeur/spikingburstprop``).

From a circuit run (spike, event and burst times, the stimuli tabulated on the time
grid): binned population signals after the burn-in (:func:`analyse`), their mean over
realisations (:func:`average_analyses`), the Pearson correlations of the four
relations of Fig. 3 (:func:`correlations`) and the figure (:func:`figure`).
"""

from __future__ import annotations

import numpy as np

from dendritic.bursts.signals import population_signals

__all__ = ["analyse", "average_analyses", "correlations", "figure"]


def analyse(circuit_results: dict, spec) -> dict:
    """Binned population signals after the burn-in, the stimuli per bin, correlations."""
    run = spec.values["run"]
    burn_in, duration, width = float(run["burn_in"]), float(run["duration"]), float(run["bin"])
    t_stop = burn_in + duration
    signals = {}
    for population in spec.values["populations"]:
        name = population["name"]
        record = circuit_results["spikes"][name]
        if "event_t" in record:
            signals[name] = population_signals(record["event_t"], record["burst_t"], int(record["N"]),
                                                      burn_in, t_stop, width)
        else:
            edges = np.arange(burn_in, t_stop + width / 2, width)
            counts, _ = np.histogram(record["t"], bins=edges)
            signals[name] = {"time": (edges[:-1] + edges[1:]) / 2, "rate": counts / (int(record["N"]) * width)}
    stimuli = {}
    edges = np.arange(burn_in, t_stop + width / 2, width)
    for key, stimulus in circuit_results["stimuli"].items():
        which = np.digitize(stimulus["time"], edges) - 1
        inside = (which >= 0) & (which < len(edges) - 1)
        sums = np.bincount(which[inside], weights=stimulus["current_pA"][inside], minlength=len(edges) - 1)
        counts = np.bincount(which[inside], minlength=len(edges) - 1)
        stimuli[key] = sums / np.maximum(counts, 1)  # mean current per bin (pA)
    return {"signals": signals, "stimuli": stimuli}


def average_analyses(analyses: list[dict]) -> dict:
    """Bin-by-bin mean over realisations of the same circuit (seeds), as the published
    figure (``std_BRER_over_realizations``): event and burst rates averaged, and the
    burst probability of each realisation averaged."""
    signals = {name: {key: (values if key == "time" else np.nanmean([a["signals"][name][key] for a in analyses],
                                                                   axis=0))
                      for key, values in analyses[0]["signals"][name].items()}
               for name in analyses[0]["signals"]}
    return {"signals": signals, "stimuli": analyses[0]["stimuli"]}


def correlations(analysis: dict, names=("pyr1", "pyr2")) -> dict:
    """Pearson correlations of Fig. 3: each signal with its own input and the other."""
    first, second_ = names
    signals, stimuli = analysis["signals"], analysis["stimuli"]
    soma = stimuli[f"stimulus_{first}_I_soma"]
    dend = stimuli[f"stimulus_{second_}_I_dend"]
    e1, p2 = signals[first]["event_rate"], signals[second_]["burst_probability"]
    e2, p1, b2 = signals[second_]["event_rate"], signals[first]["burst_probability"], signals[second_]["burst_rate"]

    def r(a, b):
        good = np.isfinite(a) & np.isfinite(b)
        return float(np.corrcoef(a[good], b[good])[0, 1])

    return {
        "event_rate_1_vs_somatic_input": r(e1, soma),
        "burst_probability_2_vs_dendritic_input": r(p2, dend),
        "event_rate_1_vs_dendritic_input": r(e1, dend),
        "burst_probability_2_vs_somatic_input": r(p2, soma),
        "event_rate_2_vs_event_rate_1": r(e2, e1),
        "burst_probability_1_vs_burst_rate_2": r(p1, b2),
        "inputs": r(soma, dend),
    }


def figure(analysis: dict, correlation: dict, title: str = ""):
    import matplotlib.pyplot as plt

    signals, stimuli = analysis["signals"], analysis["stimuli"]
    time = signals["pyr1"]["time"]
    soma, dend = stimuli["stimulus_pyr1_I_soma"], stimuli["stimulus_pyr2_I_dend"]

    def zscore(x):
        x = np.asarray(x, float)
        return (x - np.nanmean(x)) / np.nanstd(x)

    figure, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    rows = [
        ("pyr1", "event_rate", soma, "somatic input 1", "population 1 event rate",
         correlation["event_rate_1_vs_somatic_input"]),
        ("pyr2", "burst_probability", dend, "dendritic input 2", "population 2 burst probability",
         correlation["burst_probability_2_vs_dendritic_input"]),
        ("pyr2", "event_rate", signals["pyr1"]["event_rate"], "population 1 event rate",
         "population 2 event rate", correlation["event_rate_2_vs_event_rate_1"]),
        ("pyr1", "burst_probability", signals["pyr2"]["burst_rate"], "population 2 burst rate",
         "population 1 burst probability", correlation["burst_probability_1_vs_burst_rate_2"]),
    ]
    for ax, (population, key, reference, reference_label, label, r) in zip(axes, rows):
        ax.plot(time, zscore(signals[population][key]), "k", lw=1.5, label=label)
        ax.plot(time, zscore(reference), "C1--", lw=1, label=reference_label)
        ax.set(ylabel="z-score", title=f"{label} vs {reference_label}: r = {r:.2f}")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
