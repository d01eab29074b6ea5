"""Building blocks shared by the neuron models: equation lines for compartments,
parameters, external inputs and spike generation.

Every tunable parameter becomes an equation variable ``name : unit (shared, constant)``,
never a namespace constant, so a ``cpp_standalone`` binary can change it through
``device.run(run_args=...)`` without recompiling.

External inputs (somatic current, nudging conductance, dendritic drive) are per-neuron
variables by default (``I_soma : amp``), settable from Python or ``run_args``; a network
can instead give an expression for them, typically a ``TimedArray``
(``I_soma = teacher(t, i) : amp``), without touching the neuron's own equations.
"""

from __future__ import annotations

from collections.abc import Mapping

from brian2 import Equations

__all__ = [
    "passive_dendrite",
    "kernel_step_factor",
    "poisson_threshold",
    "synaptic_input",
    "coupled_soma",
    "parameter_lines",
    "input_lines",
    "spike_generation",
    "noise_update",
    "unit_name",
]


def unit_name(quantity) -> str:
    """Brian's name of a quantity's base unit, for equation strings ('volt', 'siemens', '1')."""
    from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions, get_unit

    dimensions = get_dimensions(quantity)
    return "1" if dimensions is DIMENSIONLESS else repr(get_unit(dimensions))


def passive_dendrite(name: str, synaptic_current: bool = False, exact: bool = False) -> str:
    """Dendritic potential as a low-pass filter of its synaptic input.

    Without a synaptic-current stage (the default)::

        tau_<name> dv_<name>/dt = E_L + v_<name>_drive - v_<name>

    and synapses add jumps to ``v_<name>``, so v_<name> - E_L = sum_j w_j psp_j(t) with
    single-exponential PSP kernels exp(-t/tau_<name>).

    With ``synaptic_current``, the input is an exponentially decaying synaptic current
    (in voltage units: the current times the dendrite's leak resistance)::

        tau_<name> dv_<name>/dt = E_L + v_<name>_drive + v_<name>_syn - v_<name>
        tau_syn_<name> dv_<name>_syn/dt = -v_<name>_syn

    and a spike of weight w raises ``v_<name>_syn`` by w tau_<name>/tau_syn_<name> (see
    :func:`synaptic_input`). The PSP kernel is then the difference of exponentials

        psp(t) = tau_L/(tau_L - tau_s) (exp(-t/tau_L) - exp(-t/tau_s)),  tau_L = tau_<name>, tau_s = tau_syn_<name>,

    of Urbanczik & Senn 2014 (doi:10.1016/j.neuron.2013.11.030) and NEST's
    ``pp_cond_exp_mc_urbanczik`` (dendritic input currents decaying with tau_syn_ex into
    a leaky dendrite, C_p/g_L,p = 10 ms). This normalisation keeps the PSP's integral
    (w tau_L) and has the single exponential w exp(-t/tau_L) as its tau_s -> 0 limit. A
    NEST weight w_NEST (pA) corresponds to w = w_NEST tau_s / C_p.

    ``exact``: the exponential-Euler step (which holds the input at its start-of-step
    value) is given the step-averaged input v_<name>_syn * kernel_step_factor(tau_<name>,
    tau_syn_<name>), which makes it the exact solution (see :func:`kernel_step_factor`).
    The dendrite is not affected by the soma (no back-coupling).
    """
    if not synaptic_current:
        return f"dv_{name}/dt = (E_L + v_{name}_drive - v_{name}) / tau_{name} : volt"
    syn = f"v_{name}_syn"
    drive = f"{syn}*{kernel_step_factor(f'tau_{name}', f'tau_syn_{name}')}" if exact else syn
    return "\n".join([
        f"dv_{name}/dt = (E_L + v_{name}_drive + {drive} - v_{name}) / tau_{name} : volt",
        f"d{syn}/dt = -{syn} / tau_syn_{name} : volt",
    ])


def kernel_step_factor(tau: str, tau_input: str) -> str:
    """Brian expression of the factor that makes exponential Euler exact for an
    exponentially decaying input.

    For tau dx/dt = -x + y(t) with y(t) = y_0 exp(-t/tau_input) over one step, the exact
    solution is x(dt) = x_0 e + y_0 tau_input/(tau_input - tau) (e_input - e) with
    e = exp(-dt/tau), e_input = exp(-dt/tau_input); exponential Euler with a constant
    input y_0 F gives x_0 e + y_0 F (1 - e), so

        F = tau_input/(tau_input - tau) * (e_input - e)/(1 - e)     (F -> 1 as dt -> 0).

    Requires tau != tau_input (checked where the parameters are known).
    """
    e, e_input = f"exp(-dt/{tau})", f"exp(-dt/{tau_input})"
    return f"({tau_input}/({tau_input} - {tau})*({e_input} - {e})/(1 - {e}))"


def synaptic_input(dendrite: str, synaptic_current: bool, weight: str = "w") -> str:
    """``on_pre`` statement of a synapse onto ``dendrite`` with weight ``weight`` (volt):
    the jump of v_<dendrite>, or with a synaptic-current stage the jump
    w tau_<dendrite>/tau_syn_<dendrite> of its synaptic input (same PSP integral)."""
    if not synaptic_current:
        return f"v_{dendrite}_post += {weight}"
    return f"v_{dendrite}_syn_post += {weight}*tau_{dendrite}_post/tau_syn_{dendrite}_post"


def coupled_soma(couplings: tuple[tuple[str, str], ...], predicting: str, noise: bool, soma_flags: str = "",
                 synaptic_current: bool = False, exact: bool = False) -> str:
    """A soma coupled to passive dendrites, and its dendritic prediction.

        C du/dt = g_L (E_L - u) + sum_d g_d (v_d - u) + nudge g_som (u_target - u) + I_soma [+ I_noise]
        dendritic_prediction = E_L + g_p / (g_L + sum_d g_d) (v_p - E_L)

    ``couplings`` lists (conductance, dendrite) pairs; ``predicting`` names the dendrite
    p whose input alone the prediction uses (all other dendrites at rest).
    ``synaptic_current``: each dendrite gets the synaptic-current stage of
    :func:`passive_dendrite`.

    Integration (exponential Euler, ``NeuronModel.make_group``): by default each v_d
    enters the soma at its start-of-step value, a first-order error in dt (the soma,
    tau_soma = C/(g_L + sum_d g_d + nudge g_som) ~ 0.5 ms, follows dendrites that
    move within the step). ``exact``: within a step each dendrite is a sum of decaying
    exponentials, v_d(t) = rest_d + a exp(-t/tau_d) + b exp(-t/tau_syn_d), and the soma
    sees ``v_<d>_at_soma`` = rest_d + a F(tau_soma, tau_d) + b F(tau_soma, tau_syn_d)
    (:func:`kernel_step_factor`), which makes the step the exact solution of the linear
    soma-dendrite system for inputs (I_soma, nudge, u_target, drives) constant over the
    step. Loop-invariant factors are computed once per step by Brian.
    """
    lines = []
    for g, dendrite in couplings:
        lines.append(passive_dendrite(dendrite, synaptic_current, exact))
        if exact:
            lines.append(_dendrite_at_soma(dendrite, synaptic_current))
    potential = (lambda d: f"v_{d}_at_soma") if exact else (lambda d: f"v_{d}")
    coupling = " + ".join(f"{g}*({potential(dendrite)} - u)" for g, dendrite in couplings)
    noise_term = " + I_noise" if noise else ""
    total = " + ".join(["g_L", *(g for g, _ in couplings)])
    g_predicting = dict((d, g) for g, d in couplings)[predicting]
    if exact:
        lines.append(f"tau_soma = C/({total} + nudge*g_som) : second")
    return "\n".join([
        f"du/dt = (g_L*(E_L - u) + {coupling} + nudge*g_som*(u_target - u) + I_soma{noise_term}) / C : volt{soma_flags}",
        *lines,
        f"dendritic_prediction = E_L + {g_predicting}/({total})*(v_{predicting} - E_L) : volt",
    ])


def _dendrite_at_soma(dendrite: str, synaptic_current: bool) -> str:
    """The constant dendritic potential that gives the soma's exponential-Euler step the
    exact effect of the dendrite's trajectory over the step (see :func:`coupled_soma`).

    Within a step, with rest = E_L + v_d_drive and s = v_d_syn at the step's start:
    v_d(t) = rest + (v_d - rest - b) exp(-t/tau_d) + b exp(-t/tau_syn_d),
    b = s tau_syn_d/(tau_syn_d - tau_d) (b = 0 without the synaptic stage).
    """
    rest, tau = f"(E_L + v_{dendrite}_drive)", f"tau_{dendrite}"
    if not synaptic_current:
        return (f"v_{dendrite}_at_soma = {rest} + (v_{dendrite} - {rest})*{kernel_step_factor('tau_soma', tau)}"
                f" : volt")
    tau_syn = f"tau_syn_{dendrite}"
    b = f"(v_{dendrite}_syn*{tau_syn}/({tau_syn} - {tau}))"
    return (f"v_{dendrite}_at_soma = {rest} + (v_{dendrite} - {rest} - {b})*{kernel_step_factor('tau_soma', tau)}"
            f" + {b}*{kernel_step_factor('tau_soma', tau_syn)} : volt")


def parameter_lines(parameters: Mapping) -> str:
    """``name : unit (shared, constant)`` for every parameter of a population."""
    return "\n".join(f"{key} : {unit_name(value)} (shared, constant)" for key, value in parameters.items())


def input_lines(inputs: Mapping[str, str], expressions: Mapping[str, str] | None) -> str:
    """Lines for the external inputs: a per-neuron variable, or the given expression.

    ``inputs`` maps input name -> unit name; ``expressions`` maps some of them to a
    Brian expression (e.g. ``"teacher(t, i)"``).
    """
    expressions = dict(expressions or {})
    unknown = set(expressions) - set(inputs)
    if unknown:
        raise ValueError(f"unknown input(s) {sorted(unknown)}; this neuron takes {sorted(inputs)}")
    lines = []
    for name, unit in inputs.items():
        expression = expressions.get(name)
        lines.append(f"{name} : {unit}" if expression is None else f"{name} = {expression} : {unit}")
    return "\n".join(lines)


def poisson_threshold(rate: str = "rate") -> str:
    """Threshold of a Poisson spike train on the time grid: a spike in a step with
    probability 1 - exp(-rate dt) (at least one event of a Poisson process of rate
    ``rate``, a Brian expression, within the step)."""
    return f"rand() < 1 - exp(-({rate})*dt)"


def spike_generation(spiking: str, rate: str = "rate", potential: str = "u", actions=()) -> dict:
    """Keyword arguments of ``NeuronGroup`` for the output mode.

    ``poisson``: a spike in each step with probability 1 - exp(-phi(u) dt) (an
    inhomogeneous Poisson process with rate phi(u), Urbanczik & Senn 2014), refractory
    for t_ref; the potential is not reset (as in NEST's ``pp_cond_exp_mc_urbanczik``).
    ``threshold``: spike when u > V_threshold, reset to V_reset, clamped during t_ref.
    ``actions``: further statements run for each spiking neuron (plasticity traces).
    """
    actions = tuple(actions)
    if spiking == "poisson":
        return {"threshold": poisson_threshold(rate), "refractory": "t_ref",
                **({"reset": "\n".join(actions)} if actions else {})}
    if spiking == "threshold":
        return {
            "threshold": f"{potential} > V_threshold",
            "reset": "\n".join((f"{potential} = V_reset", *actions)),
            "refractory": "t_ref",
        }
    raise ValueError(f"unknown spiking mode {spiking!r}; expected 'poisson' or 'threshold'")


def noise_update() -> str:
    """Exact update of the somatic noise current, an Ornstein-Uhlenbeck process

        tau_noise dI_noise = -I_noise dt + sigma_noise sqrt(2 tau_noise) dW,

    sampled once per step: I <- I e^{-dt/tau} + sigma sqrt(1 - e^{-2 dt/tau}) N(0, 1).
    Kept out of the differential equations so that the neuron stays deterministic
    within a step and is integrated exactly (exponential Euler), instead of forcing the
    Euler-Maruyama scheme on the fast somatic time constant.
    """
    return (
        "I_noise = I_noise*exp(-dt/tau_noise)"
        " + sigma_noise*sqrt(1 - exp(-2*dt/tau_noise))*randn()"
    )


def equations(*parts: str) -> Equations:
    """Join equation fragments into one Brian ``Equations`` object."""
    return Equations("\n".join(part for part in parts if part))
