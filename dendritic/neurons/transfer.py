"""Transfer functions phi(u): somatic potential -> instantaneous firing rate.

``sigmoid``  phi(u) = phi_max / (1 + k exp(beta (theta - u)))
             (Urbanczik & Senn 2014, doi:10.1016/j.neuron.2013.11.030; NEST
             ``pp_cond_exp_mc_urbanczik``)
``softplus`` phi(u) = phi_max log(1 + exp(beta (u - theta)))
             (the soft rectifier of Sacramento et al. 2018, NeurIPS,
             doi:10.48550/arXiv.1810.11393)

Each comes as a Brian expression (for the equations) and as a NumPy function of plain
SI floats (for analysis and for independent checks), together with the log-derivative
h(u) = d log phi / du that the Urbanczik-Senn rule needs.
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, mV
from brian2.codegen.generators.numpy_generator import NumpyCodeGenerator
from brian2.core.functions import DEFAULT_FUNCTIONS

from dendritic import config as cfg

# Brian 2.9 implements log1p for C++ and Cython only; on the numpy target it falls back
# to a unit-checking Python wrapper, about 50x slower per call (measured: 9.1 ms vs
# 0.19 ms per step for 1,000 softplus neurons). Give it NumPy's ufunc, same values.
_log1p = DEFAULT_FUNCTIONS["log1p"].implementations
if NumpyCodeGenerator not in _log1p._implementations:
    _log1p.add_implementation(NumpyCodeGenerator, code=np.log1p)

__all__ = ["TRANSFER_SCHEMAS", "rate_equation", "rate_expression", "log_derivative_expression", "phi", "log_derivative"]

_COMMON = {
    "phi_max": cfg.Quantity(unit=Hz, bound="positive", doc="rate scale phi_max"),
    "beta": cfg.Quantity(unit=1 / mV, bound="positive", doc="slope beta of phi"),
    "theta": cfg.Quantity(unit=mV, doc="midpoint / threshold theta of phi"),
}

#: Parameters each transfer function needs, by name.
TRANSFER_SCHEMAS = {
    "sigmoid": {**_COMMON, "k": cfg.Quantity(unit=1, bound="positive", doc="sigmoid offset k")},
    "softplus": dict(_COMMON),
}

# Brian expressions: softplus written in the overflow-free form max(x, 0) + log1p(exp(-|x|)).
_RATE = {
    "sigmoid": "phi_max / (1 + k*exp(beta*(theta - {u})))",
    "softplus": "phi_max * (clip(beta*({u} - theta), 0, inf) + log1p(exp(-abs(beta*({u} - theta)))))",
}
_LOG_DERIVATIVE = {
    # d/du log phi = beta k e^{beta(theta-u)} / (1 + k e^{beta(theta-u)}) = beta / (1 + exp(beta(u-theta))/k)
    "sigmoid": "beta / (1 + exp(beta*({u} - theta))/k)",
    # d/du log softplus(x) = beta * sigmoid(x) / softplus(x)
    "softplus": "beta / (1 + exp(-beta*({u} - theta))) / (clip(beta*({u} - theta), 0, inf) + log1p(exp(-abs(beta*({u} - theta)))))",
}


def rate_equation(kind: str, u: str = "u", name: str = "rate") -> str:
    """Brian equation line ``rate = phi(u) : Hz``."""
    return f"{name} = {_RATE[kind].format(u=u)} : Hz"


def rate_expression(kind: str, u: str) -> str:
    """Brian expression of phi(u) (unit Hz) for any potential expression ``u``."""
    return _RATE[kind].format(u=u)


def log_derivative_expression(kind: str, u: str) -> str:
    """Brian expression of h(u) = d log phi / du (unit 1/volt)."""
    return _LOG_DERIVATIVE[kind].format(u=u)


def phi(kind: str, u, phi_max, beta, theta, k=1.0):
    """NumPy phi(u) with all arguments in SI units (volt, hertz, 1/volt)."""
    u = np.asarray(u, dtype=float)
    if kind == "sigmoid":
        return phi_max / (1.0 + k * np.exp(beta * (theta - u)))
    if kind == "softplus":
        return phi_max * np.logaddexp(0.0, beta * (u - theta))
    raise ValueError(f"unknown transfer function {kind!r}; expected one of {sorted(TRANSFER_SCHEMAS)}")


def log_derivative(kind: str, u, beta, theta, k=1.0):
    """NumPy h(u) = d log phi / du, SI units."""
    u = np.asarray(u, dtype=float)
    if kind == "sigmoid":
        return beta / (1.0 + np.exp(beta * (u - theta)) / k)
    if kind == "softplus":
        x = beta * (u - theta)
        return beta / (1.0 + np.exp(-x)) / np.logaddexp(0.0, x)
    raise ValueError(f"unknown transfer function {kind!r}; expected one of {sorted(TRANSFER_SCHEMAS)}")
