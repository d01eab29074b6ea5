"""Rate-based reduction of the dendritic microcircuit: Deep Feedback Control in NumPy.

Modules: ``network`` (layered rate nets), ``losses``, ``dfc`` (controlled dynamics,
steady state, weight and feedback learning), ``references`` (Jacobians, minimum-norm,
Gauss-Newton, backprop, angles, Condition 2), ``training`` (optimisers and loops).
"""
