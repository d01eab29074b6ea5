"""Registry of neuron kinds: what a ``model = "..."`` entry in a parameter file means."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dendritic import config as cfg

__all__ = ["NeuronKind", "register", "KINDS"]


@dataclass(frozen=True)
class NeuronKind:
    """A neuron type: its parameters, external inputs and equation body.

    ``body(noise, soma_flags)`` returns the differential equations and subexpressions
    (without parameter and input declarations); ``dendrites`` names the passive
    dendritic compartments (state ``v_<name>``, parameter ``tau_<name>``, input
    ``v_<name>_drive``); ``initial_inputs`` gives non-zero starting values of inputs.
    ``options`` names the optional features ``body`` accepts as keyword arguments
    (``synaptic_current``: a synaptic-current stage per dendrite, parameters
    ``tau_syn_<name>``; ``exact``: exact integration of the soma-dendrite system).
    """

    name: str
    parameters: Mapping[str, cfg.Field]
    inputs: Mapping[str, str]
    body: Callable[..., str]
    dendrites: tuple[str, ...] = ()
    initial_inputs: Mapping[str, str] = field(default_factory=dict)
    options: frozenset[str] = frozenset()


KINDS: dict[str, NeuronKind] = {}


def register(kind: NeuronKind) -> NeuronKind:
    KINDS[kind.name] = kind
    return kind
