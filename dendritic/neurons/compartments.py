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


def passive_dendrite(name: str) -> str:
    """Dendritic potential as a low-pass filter of its synaptic input.

        tau_<name> dv_<name>/dt = E_L + v_<name>_drive - v_<name>

    Synapses add jumps to ``v_<name>`` (``v_<name>_post += w``), so without drive
    v_<name> - E_L = sum_j w_j psp_j(t) with exponential PSP kernels of time constant
    tau_<name>: the dendritic potential of Urbanczik & Senn (2014) and of Sacramento et
    al. (2018), v = W psp. The dendrite is not affected by the soma (no back-coupling).
    """
    return f"dv_{name}/dt = (E_L + v_{name}_drive - v_{name}) / tau_{name} : volt"


def coupled_soma(couplings: tuple[tuple[str, str], ...], predicting: str, noise: bool, soma_flags: str = "") -> str:
    """A soma coupled to passive dendrites, and its dendritic prediction.

        C du/dt = g_L (E_L - u) + sum_d g_d (v_d - u) + nudge g_som (u_target - u) + I_soma [+ I_noise]
        dendritic_prediction = E_L + g_p / (g_L + sum_d g_d) (v_p - E_L)

    ``couplings`` lists (conductance, dendrite) pairs; ``predicting`` names the dendrite
    p whose input alone the prediction uses (all other dendrites at rest).
    """
    coupling = " + ".join(f"{g}*(v_{dendrite} - u)" for g, dendrite in couplings)
    noise_term = " + I_noise" if noise else ""
    total = " + ".join(["g_L", *(g for g, _ in couplings)])
    g_predicting = dict((d, g) for g, d in couplings)[predicting]
    return "\n".join([
        f"du/dt = (g_L*(E_L - u) + {coupling} + nudge*g_som*(u_target - u) + I_soma{noise_term}) / C : volt{soma_flags}",
        *(passive_dendrite(dendrite) for _, dendrite in couplings),
        f"dendritic_prediction = E_L + {g_predicting}/({total})*(v_{predicting} - E_L) : volt",
    ])


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
        return {"threshold": f"rand() < 1 - exp(-{rate}*dt)", "refractory": "t_ref",
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
