"""Deep Feedback Control with spiking three-compartment neurons, and its rate reduction.

Modules:

- :mod:`~dendritic.spiking_dfc.network`: the spiking network (populations of
  three-compartment Poisson neurons, rate-unit controller), written as a circuit and
  built by :mod:`dendritic.circuits`: ``SpikingDFC``, ``circuit_mapping``,
  ``build_circuit``, ``Circuit``, ``coupling_factors``, ``psp_time_constant``.
- :mod:`~dendritic.spiking_dfc.controller`: the controller as the neuron kind
  ``rate_controller`` (``CONTROLLER_EQUATIONS``; ``models/neurons/dfc_controller.toml``).
- :mod:`~dendritic.spiking_dfc.protocol`: the schedule of samples (``Protocol``), the
  controller's parameters (``ControllerParameters``) and the measured update
  (``WindowedUpdateRule``, the circuit rule ``windowed_dendritic_prediction``).
- :mod:`~dendritic.spiking_dfc.reduction`: the rate reduction (``RateReduction``) and its
  steady states (``controlled_steady_state``, ``linearised_steady_state``), DFC update
  (``dfc_update``) and Jacobian feedback (``jacobian_feedback``).
- :mod:`~dendritic.spiking_dfc.crosscheck`: the spiking network against its reduction,
  the experiment behind ``dendritic run crosscheck`` (not imported here).
"""

from dendritic.spiking_dfc.network import (CONTROLLER_EQUATIONS, Circuit, SpikingDFC, build_circuit, circuit_mapping,
                                           coupling_factors, psp_time_constant)
from dendritic.spiking_dfc.protocol import ControllerParameters, Protocol, WindowedUpdateRule
from dendritic.spiking_dfc.reduction import (ControlledState, RateReduction, controlled_steady_state, dfc_update,
                                             jacobian_feedback, linearised_steady_state)

__all__ = [
    "RateReduction",
    "ControlledState",
    "controlled_steady_state",
    "linearised_steady_state",
    "dfc_update",
    "jacobian_feedback",
    "WindowedUpdateRule",
    "ControllerParameters",
    "Protocol",
    "SpikingDFC",
    "Circuit",
    "CONTROLLER_EQUATIONS",
    "build_circuit",
    "circuit_mapping",
    "coupling_factors",
    "psp_time_constant",
]
