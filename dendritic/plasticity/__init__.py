"""Synaptic plasticity rules as Brian 2 synapse models, one rule per module.

- :mod:`dendritic.plasticity.dendritic_prediction`: voltage-dependent rule of
  Urbanczik & Senn 2014 / Sacramento et al. 2018 (rate and spike forms) and the
  apical cancellation rule.
- :mod:`dendritic.plasticity.bdsp`: burst-dependent plasticity (Payeur et al. 2021).
- :mod:`dendritic.plasticity.short_term`: Tsodyks-Markram short-term plasticity.

Import the submodule you need; this package re-exports nothing.
"""
