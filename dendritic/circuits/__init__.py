"""The circuit layer: every network of the package is declared in a TOML file and built here.

- :mod:`~dendritic.circuits.spec`: the file's schema and validation
  (:func:`load_circuit`, :class:`CircuitSpec`);
- :mod:`~dendritic.circuits.build`: the Brian objects (:func:`build_circuit`,
  :class:`Circuit`);
- :mod:`~dendritic.circuits.connectivity`: connectivity drawn in NumPy from the seed;
- :mod:`~dendritic.circuits.background`: private Poisson background inputs;
- :mod:`~dendritic.circuits.rules`: plasticity rules chosen by name;
- :mod:`~dendritic.circuits.teaching`: a teaching current set per neuron from its
  online event rate (the XOR network's ``generate_error``).

Populations are of any registered neuron kind (:mod:`dendritic.neurons.kinds`), their
inputs constant, sinusoidal or driven by ``TimedArray`` inputs; connections target a
dendrite, a conductance or another synaptic variable of the kind, transmit spikes,
events or bursts, optionally through short-term plasticity, and learn by a rule named in
the file (or registered from code, :func:`~dendritic.circuits.rules.register`); summed
connections set an input to a weighted sum of a presynaptic variable. Connectivity is
drawn from the seed or given by code with the weights (``build_circuit(synapses=...)``).
"""

from dendritic.circuits.build import Circuit, build_circuit
from dendritic.circuits.connectivity import draw_connectivity
from dendritic.circuits.spec import CircuitSpec, circuit_from_mapping, circuit_schema, load_circuit

__all__ = ["Circuit", "CircuitSpec", "build_circuit", "circuit_from_mapping", "circuit_schema", "draw_connectivity",
           "load_circuit"]
