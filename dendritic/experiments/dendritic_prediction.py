"""`dendritic run dendritic-prediction`: learning a somatic teacher by the dendritic
prediction of somatic spiking (Urbanczik & Senn 2014, Fig. 1).

Methods, as in ``models/experiments/dendritic_prediction.toml``:

1. Input: N sources repeat one frozen Poisson pattern of duration T (each source fires
   in each time step with probability rate*dt, drawn once), for the whole run.
2. Target: a teacher neuron with weights w* on the same inputs; its dendritic
   prediction u*(t) = E_L + g_B/(g_L+g_B) sum_i w*_i psp_i(t) (periodic, computed in
   NumPy, with the neuron's PSP kernel: for ``urbanczik2014`` the difference of
   exponentials, tau_L = 10 ms, tau_s = 3 ms) is the target potential, so the target
   is realisable.
3. Student: the same two-compartment neuron with random initial weights, learning by
   the spike form of the dendritic prediction rule
   dW/dt = eta PI, tau_Delta dPI/dt = -PI + (S - phi(v_hat)) h(v_hat) psp.
4. Protocol (one ``TimedArray`` per schedule, one Brian run): ``test_repetitions``
   patterns with the teacher and learning off, ``train_repetitions`` with the teacher
   nudging the soma, nudge g_som (u_target(t) - u), and learning on, then
   ``test_repetitions`` with both off again. Optionally eta decays over training as
   eta / (1 + k/K) (repetition k), so that the weights' spike noise averages out.
5. Read-out: the target rate phi(u*(t)) against the student's predicted rate
   phi(v_hat(t)) before and after training (correlation, mean squared error), the same
   error at every training repetition, the output spike histogram after training and
   the learned weights against w*.

At the fixed point of the rule the dendritic prediction equals the nudging target
(v_hat = u_target for any g_som), which is what the test phase measures.

Results: HDF5 (weights, traces, spikes, metrics, parameters) and a PNG figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import Network, SpikeMonitor, StateMonitor, TimedArray, mV, ms, nS, second, volt

from dendritic import config as cfg
from dendritic.backend import Backend
from dendritic.experiments import RunSettings, option_values
from dendritic.experiments.outcome import Outcome
from dendritic.neurons import load_neuron
from dendritic.neurons.transfer import phi
from dendritic.plasticity.dendritic_prediction import DendriticPredictionRule, PresynapticTrace, spike_source

NAME = "dendritic-prediction"
HELP = "Urbanczik-Senn: a neuron learns a somatic teacher by dendritic prediction (HDF5 + PNG)"
RUN_TIME = "about 1.5 min (the first run on a machine about 2.5 min: Cython compiles)"  # benchmarks/run_times.py

_ETA_UNITS = {"spike": mV**2, "rate": mV * second}

SCHEMA = {
    "description": cfg.Text(default=""),
    "neuron": cfg.Text(doc="neuron parameter file (pyramidal kind)"),
    "neuron_parameters": cfg.QuantityTable(default={}),
    "run": cfg.Table(schema={
        "dt": cfg.Quantity(unit=ms, bound="positive", default="0.1 ms"),
        "seed": cfg.Integer(minimum=0, default=0),
    }),
    "input": cfg.Table(schema={
        "N": cfg.Integer(minimum=1, doc="number of input sources"),
        "rate": cfg.Quantity(unit=1 / second, bound="positive", doc="rate of the frozen pattern"),
        "pattern": cfg.Quantity(unit=ms, bound="positive", doc="pattern duration"),
    }),
    "teacher": cfg.Table(schema={
        "g_som": cfg.Quantity(unit=nS, bound="positive", doc="somatic nudging conductance"),
        "weight_mean": cfg.Quantity(unit=mV),
        "weight_std": cfg.Quantity(unit=mV, bound="nonnegative"),
    }),
    "student": cfg.Table(schema={
        "start": cfg.Choice(options=("random", "teacher"), default="random",
                            doc="initial weights: random, or the teacher's (a check: the solution is a fixed point)"),
        "weight_mean": cfg.Quantity(unit=mV),
        "weight_std": cfg.Quantity(unit=mV, bound="nonnegative"),
    }),
    "learning": cfg.Table(schema={
        "form": cfg.Choice(options=("spike", "rate")),
        "eta": cfg.Text(doc="learning rate with its unit"),  # unit checked per form below
        "tau_delta": cfg.Quantity(unit=ms, bound="positive", default=None),
        "interval": cfg.Quantity(unit=ms, bound="positive", default=None),
    }),
    "protocol": cfg.Table(schema={
        "train_repetitions": cfg.Integer(minimum=1),
        "test_repetitions": cfg.Integer(minimum=1),
        "eta_halving": cfg.Integer(minimum=1, default=None,
                                   doc="training repetitions after which eta is halved, eta_k = eta/(1 + k/K)"),
        "record_dt": cfg.Quantity(unit=ms, bound="positive", default="1 ms"),
    }),
}


def load_experiment(path="dendritic_prediction", overrides=()) -> dict:
    """Validate an experiment file (a path, or a name in ``models/experiments/``), with
    ``key=value`` overrides."""
    path = cfg.resolve_model_file(path, "experiments")
    values = cfg.load(path, SCHEMA, overrides=overrides)
    learning = values["learning"]
    eta = cfg.validate({"eta": learning["eta"]},
                       {"eta": cfg.Quantity(unit=_ETA_UNITS[learning["form"]], bound="nonnegative")},
                       source=path, prefix="learning.")["eta"]
    learning["eta"] = eta
    values["file"] = path
    return values


@dataclass(frozen=True)
class Config(RunSettings):
    """A validated experiment file (:func:`load_experiment`) with the command line's
    overrides applied."""

    values: dict

    @property
    def file(self) -> str:
        return str(self.values["file"])


def frozen_pattern(rng: np.random.Generator, n_inputs: int, n_steps: int, rate_dt: float) -> np.ndarray:
    """Spike indicators (steps x inputs, float 0/1): one Bernoulli(rate*dt) draw per step."""
    return (rng.random((n_steps, n_inputs)) < rate_dt).astype(float)


def periodic_psp(pattern: np.ndarray, dt: float, tau: float, tau_syn: float | None = None) -> np.ndarray:
    """psp_i at the start of each step of the repeating pattern, in the periodic steady
    state; a spike in step s counts from step s + 1 on (as in the Brian model). Kernel
    exp(-t/tau), or with ``tau_syn`` the difference of exponentials
    tau/(tau - tau_syn) (exp(-t/tau) - exp(-t/tau_syn)) of a dendrite driven by
    synaptic currents (Urbanczik & Senn 2014)."""
    if tau_syn is not None:
        return tau / (tau - tau_syn) * (periodic_psp(pattern, dt, tau) - periodic_psp(pattern, dt, tau_syn))
    n_steps = len(pattern)
    decay = np.exp(-dt / tau)

    def one_period(start):
        out, trace = np.empty_like(pattern), start.copy()
        for n in range(n_steps):
            out[n] = trace
            trace = decay * trace + pattern[n]
        return out, trace

    _, end = one_period(np.zeros(pattern.shape[1]))
    # from rest, one period ends at `end`; the periodic start x0 solves x0 = decay^P x0 + end
    return one_period(end / (1.0 - decay**n_steps))[0]


def target_potential(pattern, weights, parameters, dt: float) -> np.ndarray:
    """u*(t) = E_L + g_B/(g_L+g_B+g_A) sum_i w*_i psp_i(t), in volt (SI floats); the PSP
    kernel has the synaptic-current stage if the parameters have ``tau_syn_basal``."""
    p = {key: float(value) for key, value in parameters.items()}
    factor = p["g_B"] / (p["g_L"] + p["g_B"] + p["g_A"])
    return p["E_L"] + factor * periodic_psp(pattern, dt, p["tau_basal"], p.get("tau_syn_basal")) @ weights


def run_protocol(config: Config, backend: Backend) -> dict:
    """Build and run the protocol; returns recorded arrays (SI floats) and metadata."""
    backend.check_config(config)
    values = config.values
    dt = values["run"]["dt"]
    seed = values["run"]["seed"]
    rng = np.random.default_rng(seed)
    inputs, teacher, student = values["input"], values["teacher"], values["student"]
    protocol, learning = values["protocol"], values["learning"]
    steps_per_pattern = int(round(float(inputs["pattern"] / dt)))
    pattern_duration = steps_per_pattern * dt

    neuron = load_neuron(values["neuron"], relative_to=Path(values["file"]).parent)
    try:
        neuron = neuron.with_parameters(**values["neuron_parameters"], g_som=teacher["g_som"])
    except (KeyError, ValueError) as error:
        raise cfg.ConfigError([f"{values['file']}: key 'neuron_parameters': {error}"]) from None
    pattern = frozen_pattern(rng, inputs["N"], steps_per_pattern, float(inputs["rate"] * dt))
    w_teacher = rng.normal(float(teacher["weight_mean"]), float(teacher["weight_std"]), inputs["N"])
    w_initial = rng.normal(float(student["weight_mean"]), float(student["weight_std"]), inputs["N"])
    if student["start"] == "teacher":
        w_initial = w_teacher.copy()
    u_star = target_potential(pattern, w_teacher, neuron.parameters, float(dt))

    n_test, n_train = protocol["test_repetitions"], protocol["train_repetitions"]
    schedule = np.r_[np.zeros(n_test), np.ones(n_train), np.zeros(n_test)]
    annealing = np.ones(n_train)
    if protocol["eta_halving"] is not None:  # a Robbins-Monro schedule: the spike noise of W averages out
        annealing = 1.0 / (1.0 + np.arange(n_train) / protocol["eta_halving"])
    learning_schedule = np.r_[np.zeros(n_test), annealing, np.zeros(n_test)]
    duration = len(schedule) * pattern_duration

    rule = DendriticPredictionRule(form=learning["form"], eta=learning["eta"], tau_delta=learning["tau_delta"],
                                   interval=learning["interval"], trace=PresynapticTrace.matching(neuron))
    in_pattern = "(t_in_timesteps % steps_per_pattern)*dt"
    model = rule.postsynaptic(neuron).with_equations("steps_per_pattern : integer (shared, constant)")
    namespace = {
        "teaching": TimedArray(schedule, dt=pattern_duration),
        "learning": TimedArray(learning_schedule, dt=pattern_duration),
        "target_potential": TimedArray(u_star * volt, dt=dt),
        "input_pattern": TimedArray(pattern, dt=dt),
    }
    with backend:
        source = spike_source(inputs["N"], f"input_pattern({in_pattern}, i) > 0.5", "inputs", traces=(rule.trace,),
                              equations="steps_per_pattern : integer (shared, constant)", namespace=namespace)
        neuron_group = model.make_group(1, name="student", namespace=namespace, inputs={
            "nudge": "teaching(t)", "u_target": f"target_potential({in_pattern})"})
        source.steps_per_pattern = steps_per_pattern
        neuron_group.steps_per_pattern = steps_per_pattern
        synapses = rule.connect(source, neuron_group, np.arange(inputs["N"]), np.zeros(inputs["N"], int),
                                w_initial * volt, model, "inputs_to_student", gate="learning(t)",
                                namespace=namespace)
        backend.parameters_set({"inputs": source, "student": neuron_group})
        model.initialise(neuron_group)
        spikes = SpikeMonitor(neuron_group, name="student_spikes")
        traces = StateMonitor(neuron_group, ["u", "dendritic_prediction", "u_target"], record=0,
                              dt=protocol["record_dt"], name="student_states")
        weights = StateMonitor(synapses, "w", record=True, dt=pattern_duration, name="weight_history")
        network = Network(source, neuron_group, synapses, spikes, traces, weights)
        backend.run(network, duration)
        results = {
            "t": np.asarray(traces.t / second),
            "u": np.asarray(traces.u[0] / volt),
            "v_hat": np.asarray(traces.dendritic_prediction[0] / volt),
            "u_target": np.asarray(traces.u_target[0] / volt),
            "spike_times": np.asarray(spikes.t / second),
            "weight_history": np.asarray(weights.w / volt).T,
            "w_final": np.asarray(synapses.w / volt),
        }
    results.update(w_initial=w_initial, w_teacher=w_teacher, pattern=pattern, u_star=u_star,
                   pattern_duration=float(pattern_duration), n_test=n_test, n_train=n_train,
                   duration=float(duration), neuron=neuron)
    return results


def analyse(results: dict) -> dict:
    """Target vs predicted rate before and after training, learning curve, PSTH."""
    neuron = results["neuron"]
    p = {key: float(value) for key, value in neuron.parameters.items()}
    shape = {key: p[key] for key in ("beta", "theta", "k") if key in p}

    def rate(u):
        return phi(neuron.transfer, u, p["phi_max"], **shape)

    t, period = results["t"], results["pattern_duration"]
    repetition = np.floor(t / period + 1e-9).astype(int)
    n_test, n_train = results["n_test"], results["n_train"]
    target_rate = rate(results["u_target"])
    predicted_rate = rate(results["v_hat"])

    def phase_metrics(reps):
        mask = np.isin(repetition, reps)
        if mask.sum() == 0:
            return np.nan, np.nan
        error = np.mean((predicted_rate[mask] - target_rate[mask]) ** 2)
        correlation = np.corrcoef(predicted_rate[mask], target_rate[mask])[0, 1]
        return error, correlation

    # the first repetition starts from rest, not from the periodic state: leave it out
    before = np.arange(1, n_test) if n_test > 1 else np.arange(0, 1)
    after = np.arange(n_test + n_train, 2 * n_test + n_train)
    mse_before, r_before = phase_metrics(before)
    mse_after, r_after = phase_metrics(after)
    curve = np.array([phase_metrics([n_test + k])[0] for k in range(n_train)])

    one_period = repetition == after[0]
    bins = np.arange(0.0, period + 1e-12, 0.01)
    after_start = (n_test + n_train) * period
    late = results["spike_times"][results["spike_times"] >= after_start]
    counts, _ = np.histogram((late - after_start) % period, bins=bins)
    return {
        "mse_before": mse_before, "mse_after": mse_after, "mse_reduction": mse_before / mse_after,
        "correlation_before": r_before, "correlation_after": r_after,
        "mse_per_repetition": curve,
        "pattern_time": t[one_period] - t[one_period][0],
        "target_rate": target_rate[one_period],
        "rate_before": predicted_rate[repetition == before[-1]],
        "rate_after": predicted_rate[one_period],
        "psth_time": (bins[:-1] + bins[1:]) / 2, "psth_after": counts / (n_test * 0.01),
        "weight_correlation": np.corrcoef(results["w_final"], results["w_teacher"])[0, 1],
    }


def figure(results: dict, metrics: dict, title: str = ""):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ax = axes[0, 0]
    ax.plot(metrics["pattern_time"] * 1e3, metrics["target_rate"], "k", lw=2, label="target phi(u*)")
    n = min(len(metrics["pattern_time"]), len(metrics["rate_before"]))
    ax.plot(metrics["pattern_time"][:n] * 1e3, metrics["rate_before"][:n], color="0.6",
            label=f"before (r = {metrics['correlation_before']:.2f})")
    ax.plot(metrics["pattern_time"] * 1e3, metrics["rate_after"], "C3",
            label=f"after (r = {metrics['correlation_after']:.2f})")
    ax.set(xlabel="time in pattern (ms)", ylabel="rate (Hz)", title="dendritic prediction phi(v_hat), teacher off")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.semilogy(np.arange(1, len(metrics["mse_per_repetition"]) + 1), metrics["mse_per_repetition"], "C0")
    ax.axhline(metrics["mse_before"], color="0.6", ls="--", label="before")
    ax.axhline(metrics["mse_after"], color="C3", ls="--", label="after")
    ax.set(xlabel="training repetition", ylabel="MSE (Hz$^2$)", title="learning curve")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    ax.plot(metrics["pattern_time"] * 1e3, metrics["target_rate"], "k", lw=2, label="target")
    ax.step(metrics["psth_time"] * 1e3, metrics["psth_after"], "C3", where="mid", label="output spikes after")
    ax.set(xlabel="time in pattern (ms)", ylabel="rate (Hz)", title="output spikes after training (10 ms bins)")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    ax.scatter(results["w_teacher"] * 1e3, results["w_initial"] * 1e3, s=6, color="0.6", label="initial")
    ax.scatter(results["w_teacher"] * 1e3, results["w_final"] * 1e3, s=6, color="C3",
               label=f"final (r = {metrics['weight_correlation']:.2f})")
    ax.set(xlabel="teacher weight w* (mV)", ylabel="student weight (mV)", title="weights")
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="dendritic_prediction",
                        help="experiment file or name in models/experiments (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=None,
                        help="training repetitions of the pattern (default: from the experiment file)")


def configure(args) -> Config:
    values = load_experiment(args.config, overrides=args.set)
    given = option_values(args, {"repetitions": SCHEMA["protocol"].schema["train_repetitions"],
                                 "seed": SCHEMA["run"].schema["seed"]})
    if "repetitions" in given:
        values["protocol"]["train_repetitions"] = given["repetitions"]
    if "seed" in given:
        values["run"]["seed"] = given["seed"]
    return Config(values)


def run_dendritic_prediction(config: Config, backend: Backend, output: Path) -> Outcome:
    """Run the protocol and measure how well the student learned the teacher."""
    results = run_protocol(config, backend)
    metrics = analyse(results)
    tree = {
        "weights": {key: results[key] for key in ("w_initial", "w_final", "w_teacher", "weight_history")},
        "traces": {"t": results["t"], "u": results["u"], "v_hat": results["v_hat"], "u_target": results["u_target"]},
        "spikes": {"t": results["spike_times"]},
        "input": {"pattern": results["pattern"].astype(np.uint8), "u_star": results["u_star"]},
        "metrics": metrics,
        "parameters": {"neuron": dict(results["neuron"].parameters)},
    }
    summary = [f"MSE {metrics['mse_before']:.1f} -> {metrics['mse_after']:.2f} Hz^2 "
               f"({metrics['mse_reduction']:.0f}x lower); correlation {metrics['correlation_before']:.3f} -> "
               f"{metrics['correlation_after']:.3f}"]
    return Outcome(tree, attrs={"experiment_file": config.file, "train_repetitions": results["n_train"]},
                   figure=lambda: figure(results, metrics,
                                         title=f"{config.values['description']} ({backend.target})"),
                   summary=summary)
