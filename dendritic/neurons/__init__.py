"""Neuron models as composable Brian 2 equations (see each module's docstring)."""

from dendritic.neurons import burst_poisson, bursting, interneuron, pyramidal  # noqa: F401  (register the kinds)
from dendritic.neurons.kinds import KINDS, NeuronKind
from dendritic.neurons.model import NeuronModel, load_neuron, neuron_from_mapping

__all__ = ["KINDS", "NeuronKind", "NeuronModel", "load_neuron", "neuron_from_mapping"]
