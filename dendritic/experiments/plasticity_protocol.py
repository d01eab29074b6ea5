"""Burst-Poisson plasticity protocol (Payeur et al. 2021, Fig. 2B-D).

Methods, as in ``analysis/plasticity-protocol/simulate_burstpoissonprotocol_adaptive_
rule.py`` of ``apayeur/spikingburstprop``: a presynaptic and a postsynaptic neuron each
fire events as a Poisson process with a 20 ms dead time (event rate ER); each event is
followed, with probability p, by a second spike 4-14 ms later (a burst). The synapse
follows BDSP (:mod:`dendritic.plasticity.bdsp`) with the postsynaptic moving averages
starting at E_bar = ER and B_bar = P_bar(0) ER. The weight change after the protocol,
against p, is negative below and positive above the moving-average burst probability
P_bar(0): the rule potentiates when bursting exceeds its running average.

Every condition (event rate x burst probability) runs at once, as independent groups of
imposed spike trains (relay neurons with the online event/burst detector) in one
network: ``post_neurons`` postsynaptic neurons per condition, each receiving BDSP
synapses from all ``pre_neurons`` presynaptic neurons of its condition.

The mean-field prediction drawn beside the simulation: with independent pre and post
trains, <E_tilde_pre> = ER tau_pre, and P_bar relaxing from P_bar(0) to p with tau_avg,

    Delta w = eta ER^2 tau_pre (p - P_bar(0)) tau_avg (1 - exp(-T/tau_avg)),

evaluated at the measured postsynaptic event rate ER of each condition (the pre trains
have the same statistics): a burst's second spike starts the event dead time, so ER
falls below the nominal rate as p grows, by ~5 % at p = 0.5.

Parameters: ``models/experiments/plasticity_protocol.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import EventMonitor, Hz, Network, SpikeGeneratorGroup, Synapses, ms, second

from dendritic import bursts
from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.experiments import RunSettings, option_values
from dendritic.experiments.outcome import Outcome
from dendritic.plasticity import bdsp

NAME = "plasticity-protocol"
HELP = "BDSP under the burst-Poisson protocol: weight change against burst probability (HDF5 + PNG)"
RUN_TIME = "about 5 s (the first run on a machine about 1.5 min: Cython compiles)"  # benchmarks/run_times.py


SCHEMA = {
    "description": cfg.Text(default=""),
    "source": cfg.Text(default=""),
    "run": cfg.Table(schema={
        "duration": cfg.Quantity(unit=second, bound="positive", doc="protocol duration"),
        "dt": cfg.Quantity(unit=ms, bound="positive", default="1 ms"),
        "seed": cfg.Integer(minimum=0, default=0),
    }),
    "protocol": cfg.Table(schema={
        "event_rates": cfg.QuantityList(unit=Hz, bound="positive",
                                        doc="event rates of pre and post neurons, e.g. [\"5 Hz\"]"),
        "burst_probabilities": cfg.NumberList(minimum=0.0, maximum=1.0, doc="array of burst probabilities p"),
        "initial_burst_probability": cfg.Number(bound="nonnegative", maximum=1.0,
                                                doc="P_bar(0), the starting moving-average burst probability"),
        "event_dead_time": cfg.Quantity(unit=ms, bound="nonnegative", default="20 ms"),
        "burst_delay_min": cfg.Quantity(unit=ms, bound="positive", default="4 ms"),
        "burst_delay_max": cfg.Quantity(unit=ms, bound="positive", default="14 ms"),
        "burst_window": cfg.Quantity(unit=ms, bound="positive", default="16 ms"),
        "pre_neurons": cfg.Integer(minimum=1, doc="presynaptic neurons per condition"),
        "post_neurons": cfg.Integer(minimum=1, doc="postsynaptic neurons per condition"),
    }),
    "plasticity": cfg.Table(schema={
        **{key: field for key, field in bdsp.PARAMETERS.items() if key in ("eta", "tau_pre", "tau_avg", "P_max")},
        "w_initial": cfg.Number(default=0.5),
        "w_min": cfg.Number(doc="lower weight bound (-inf: unbounded)", default=0.0),
        "w_max": cfg.Number(doc="upper weight bound (inf: unbounded)", default=1.0),
    }),
}


def load_protocol(name="plasticity_protocol", overrides=()) -> dict:
    """Validated protocol file (a path or a name in ``models/experiments/``), with
    ``key=value`` overrides."""
    path = cfg.resolve_model_file(name, "experiments")
    values = cfg.load(path, SCHEMA, overrides=overrides)
    problems = []
    protocol = values["protocol"]
    rates = protocol["event_rates"]
    if protocol["burst_delay_max"] < protocol["burst_delay_min"]:
        problems.append(f"{path}: key 'protocol.burst_delay_max': expected at least burst_delay_min")
    if protocol["burst_delay_max"] >= protocol["burst_window"]:
        problems.append(f"{path}: key 'protocol.burst_delay_max': expected below burst_window "
                        f"({protocol['burst_window']}), so that every second spike is a burst")
    for rate in rates:
        if float(rate) * float(protocol["event_dead_time"]) >= 1:
            problems.append(f"{path}: key 'protocol.event_rates': {rate} is not reachable with a dead time of "
                            f"{protocol['event_dead_time']}")
    if problems:
        raise cfg.ConfigError(problems)
    values["source_file"] = str(path)
    return values


@dataclass(frozen=True)
class Config(RunSettings):
    """A validated protocol file (:func:`load_protocol`) with the command line's
    overrides applied."""

    values: dict


def burst_poisson_train(rng, event_rate: float, burst_probability: float, duration: float, dt: float,
                        dead_time: float = 0.020, burst_delay=(0.004, 0.014)):
    """Spike times (seconds, on the dt grid) of one burst-Poisson train.

    Events: Poisson with dead time, at rate ER / (1 - ER dead_time) between dead times
    so that the event rate is ER (``PoissonBurstProtocol`` in ``pairingprotocols.py``);
    each event is followed with probability p by one more spike after a uniform delay.
    """
    rate = event_rate / (1 - event_rate * dead_time)
    times, last = [], 0.0
    while True:
        last += dead_time + rng.exponential(1 / rate)
        if last > duration:
            break
        times.append(last)
        if rng.random() < burst_probability:
            last += rng.uniform(*burst_delay)
            if last > duration:
                break
            times.append(last)
    return np.rint(np.asarray(times) / dt) * dt


def mean_field_weight_change(p, event_rate, initial_burst_probability, eta, tau_pre, tau_avg, duration):
    """Delta w = eta ER^2 tau_pre (p - P_bar(0)) tau_avg (1 - exp(-T/tau_avg)) (see module docstring)."""
    p = np.asarray(p, dtype=float)
    return (eta * event_rate ** 2 * tau_pre * (p - initial_burst_probability) * tau_avg
            * (1 - np.exp(-duration / tau_avg)))


def zero_crossing(burst_probabilities, weight_change) -> float:
    """Burst probability where a least-squares line through (p, Delta w) crosses zero."""
    slope, intercept = np.polyfit(np.asarray(burst_probabilities), np.asarray(weight_change), 1)
    return float(-intercept / slope)


def simulate(config: Config, backend: Backend) -> dict:
    """Run every condition of the protocol in one network; return results (a nested dict)."""
    backend.check_config(config)
    run, protocol, plasticity = (config.values[key] for key in ("run", "protocol", "plasticity"))
    dt, duration = float(run["dt"]), float(run["duration"])
    rng = np.random.default_rng(config.seed)
    rates = [float(r) for r in protocol["event_rates"]]
    probabilities = protocol["burst_probabilities"]
    conditions = [(rate, p) for rate in rates for p in probabilities]
    n_pre, n_post = protocol["pre_neurons"], protocol["post_neurons"]
    delays = (float(protocol["burst_delay_min"]), float(protocol["burst_delay_max"]))

    def trains(count):
        return [burst_poisson_train(rng, rate, p, duration - 2 * dt, dt, float(protocol["event_dead_time"]), delays)
                for rate, p in conditions for _ in range(count)]

    pre_trains, post_trains = trains(n_pre), trains(n_post)
    # synapses: within each condition, all pre to all post
    condition_of_synapse = np.repeat(np.arange(len(conditions)), n_pre * n_post)
    pre_index = (condition_of_synapse * n_pre
                 + np.tile(np.repeat(np.arange(n_pre), n_post), len(conditions))).astype(np.int32)
    post_index = (condition_of_synapse * n_post
                  + np.tile(np.tile(np.arange(n_post), n_pre), len(conditions))).astype(np.int32)
    initial_rate = np.repeat(rates, len(probabilities) * n_post)

    with backend:
        drive_pre, drive_post = _generator(pre_trains, "drive_pre"), _generator(post_trains, "drive_post")
        window = float(protocol["burst_window"])
        pre = bursts.relay_group(len(pre_trains), "pre", bdsp.presynaptic_equations(),
                                 bdsp.presynaptic_event_code(), burst_window=window)
        post = bursts.relay_group(len(post_trains), "post", bdsp.postsynaptic_equations(),
                                  bdsp.postsynaptic_event_code(), burst_window=window)
        bdsp.attach_presynaptic(pre, plasticity["tau_pre"])
        bdsp.attach_postsynaptic(post, plasticity["tau_avg"], P_max=plasticity["P_max"])
        forcing = []
        for source, relay in ((drive_pre, pre), (drive_post, post)):
            synapses = Synapses(source, relay, on_pre="forced_post = 1", name=f"force_{relay.name}")
            synapses.connect(j="i")
            forcing.append(synapses)
        w_initial = plasticity["w_initial"]
        plastic = bdsp.synapses(pre, post, pre_index, post_index, np.full(len(pre_index), w_initial), eta=plasticity["eta"],
                                w_min=plasticity["w_min"], w_max=plasticity["w_max"], name="plastic")
        backend.parameters_set({"pre": pre, "post": post})
        bursts.initialise_detection(pre)
        bursts.initialise_detection(post)
        bdsp.initialise_postsynaptic(post, initial_rate, protocol["initial_burst_probability"])
        events, burst_monitor = EventMonitor(post, "event"), EventMonitor(post, "burst")
        network = Network(drive_pre, drive_post, pre, post, *forcing, plastic, events, burst_monitor)
        backend.run(network, run["duration"])
        weights = np.asarray(plastic.w[:])
        synapse_post = np.asarray(plastic.j[:])
        P_bar_final = np.asarray(post.B_bar[:] / np.maximum(np.asarray(post.E_bar[:]), 1e-12))
        event_counts = np.bincount(np.asarray(events.i[:]), minlength=len(post_trains))
        burst_counts = np.bincount(np.asarray(burst_monitor.i[:]), minlength=len(post_trains))

    change = (weights - w_initial).reshape(len(rates), len(probabilities), -1)
    condition_of_post = (synapse_post // n_post).reshape(len(rates), len(probabilities), -1)
    assert np.all(condition_of_post == np.arange(len(conditions)).reshape(len(rates), len(probabilities), 1))
    per_post = change.reshape(len(rates), len(probabilities), n_pre, n_post).mean(axis=2)
    counts = lambda c: c.reshape(len(rates), len(probabilities), n_post).sum(axis=2)  # noqa: E731
    measured_p = counts(burst_counts) / np.maximum(counts(event_counts), 1)
    measured_rate = counts(event_counts) / (n_post * duration)
    crossings = np.array([zero_crossing(probabilities, change[r].mean(axis=1)) for r in range(len(rates))])
    # at the measured event rate: the dead time counts from a burst's second spike, so the
    # event rate falls below the nominal one as p grows (10.1 -> 9.6 Hz for 10 Hz, p 0 -> 0.5)
    prediction = np.array([mean_field_weight_change(probabilities, measured_rate[r], protocol["initial_burst_probability"],
                                                    plasticity["eta"], float(plasticity["tau_pre"]),
                                                    float(plasticity["tau_avg"]), duration) for r in range(len(rates))])
    return {
        "burst_probability": np.asarray(probabilities),
        "event_rate": np.asarray(rates) * Hz,
        "initial_burst_probability": np.float64(protocol["initial_burst_probability"]),
        "weight_change_mean": change.mean(axis=2),
        # postsynaptic neurons are the independent samples (synapses onto one neuron share its bursts)
        "weight_change_sem": per_post.std(axis=2, ddof=1) / np.sqrt(n_post) if n_post > 1 else np.zeros_like(per_post[..., 0]),
        "weight_change_mean_field": prediction,
        "zero_crossing": crossings,
        "measured_burst_probability": measured_p,
        "measured_event_rate": measured_rate * Hz,
        "P_bar_final_mean": P_bar_final.reshape(len(rates), len(probabilities), n_post).mean(axis=2),
        "duration": run["duration"],
        "dt": run["dt"],
        "plasticity": {key: value for key, value in plasticity.items()},
    }


def _generator(trains, name):
    indices = np.concatenate([np.full(len(train), k, dtype=np.int32) for k, train in enumerate(trains)])
    times = np.concatenate(trains)
    return SpikeGeneratorGroup(len(trains), indices, times * second, name=name)


def figure(results: dict, title: str = ""):
    import matplotlib.pyplot as plt

    p = np.asarray(results["burst_probability"])
    rates = np.asarray(results["event_rate"])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    for r, rate in enumerate(rates):
        color = f"C{r}"
        ax.errorbar(100 * p, results["weight_change_mean"][r], yerr=results["weight_change_sem"][r], fmt="o-",
                    color=color, ms=4, label=f"ER = {rate:g} Hz (simulated)")
        ax.plot(100 * p, results["weight_change_mean_field"][r], "--", color=color, lw=1, label="mean field")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(100 * float(results["initial_burst_probability"]), color="grey", ls=":",
               label="moving-average P_bar(0)")
    ax.set(xlabel="burst probability (%)", ylabel="weight change", title="Burst-Poisson protocol")
    ax.legend(fontsize=8)
    ax = axes[1]
    for r, rate in enumerate(rates):
        ax.plot(100 * p, 100 * np.asarray(results["measured_burst_probability"][r]), "o-", ms=4, color=f"C{r}",
                label=f"measured P, ER = {rate:g} Hz")
        ax.plot(100 * p, 100 * np.asarray(results["P_bar_final_mean"][r]), "s--", ms=3, color=f"C{r}",
                label=f"P_bar at the end, ER = {rate:g} Hz")
    ax.plot(100 * p, 100 * p, "k:", lw=1, label="identity")
    ax.set(xlabel="protocol burst probability (%)", ylabel="(%)", title="Detected bursts and running estimate")
    ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="plasticity_protocol",
                        help="protocol file or name in models/experiments (default: %(default)s)")
    parser.add_argument("--duration", default=None,
                        help='protocol duration with its unit, e.g. "100 s" (default: from the file)')


def configure(args) -> Config:
    values = load_protocol(args.config, overrides=args.set)
    values["run"].update(option_values(args, {key: SCHEMA["run"].schema[key] for key in ("duration", "seed")}))
    return Config(values)


def run_plasticity_protocol(config: Config, backend: Backend, output: Path) -> Outcome:
    """Every condition of the protocol; the zero crossing of the mean weight change."""
    results = simulate(config, backend)
    crossings = ", ".join(f"{float(c):.3f}" for c in results["zero_crossing"])
    summary = [f"zero crossing of the mean weight change: {crossings} "
               f"(moving-average burst probability {float(results['initial_burst_probability']):.3f})"]
    return Outcome(results, attrs={"protocol": config.values["source_file"]},
                   figure=lambda: figure(results, title=f"BDSP, burst-Poisson protocol ({backend.target})"),
                   summary=summary)


def redraw(results: dict, attrs: dict):
    """The figure of a saved run (``dendritic plot``), from its results file alone."""
    return figure(results, title=f"BDSP, burst-Poisson protocol ({attrs.get('target', '')}, redrawn)")
