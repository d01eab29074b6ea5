"""Plasticity rules chosen by name in a circuit file (``plasticity = { rule = ... }``).

=========================  ==========================================================
``rule``                   what learns (module)
=========================  ==========================================================
``dendritic_prediction``   basal weights by the dendritic prediction of the soma,
                           spike form (Urbanczik & Senn 2014, doi:10.1016/j.neuron.2013.11.030)
                           or rate form (Sacramento et al. 2018,
                           doi:10.48550/arXiv.1810.11393)
                           (:mod:`dendritic.plasticity.dendritic_prediction`)
``apical_cancellation``    interneuron -> apical weights cancel the top-down input
                           (Sacramento et al. 2018, NeurIPS)
``bdsp``                   burst-dependent plasticity (Payeur et al. 2021,
                           doi:10.1038/s41593-021-00857-x; :mod:`dendritic.plasticity.bdsp`)
=========================  ==========================================================

Each entry gives the schema of its parameters (validated with the file, errors naming
``connections[n].plasticity.<key>``), the cross-checks against the connected neuron
kinds, what it adds to the presynaptic and postsynaptic populations before their groups
exist (traces, averages, event code; once per population, shared by all connections
of the rule), and the ``Synapses``. ``gate``: the name of a ``TimedArray`` of 0/1 given
at build time, switching learning on and off within a run.

Other modules add rules of their own with :func:`register` (e.g.
``windowed_dendritic_prediction`` from :mod:`dendritic.spiking_dfc.network`); a
variant of the voltage-dependent rules subclasses :class:`VoltageRule`, giving its
``rule`` object and the ``TimedArray`` inputs its synapses read (``namespace``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Hz, ms, volt

from dendritic import config as cfg
from dendritic.plasticity import bdsp, short_term
from dendritic.plasticity import dendritic_prediction as dp

__all__ = ["RULES", "PlasticityRule", "VoltageRule", "register", "timed_array", "validate", "problems"]


@dataclass(frozen=True)
class PlasticityRule:
    """A rule by name: parameter schema, checks, population preparation, synapses."""

    name: str
    schema: dict

    def problems(self, connection: dict, pre, post) -> list[str]:
        """Problems of this rule on ``connection`` (``pre`` None for a Poisson input)."""
        return []

    def prepare_pre(self, plan, connection: dict, post_model) -> None:
        """Add what the presynaptic side needs to its population's plan."""

    def prepare_post(self, plan, connection: dict, post_model) -> None:
        """Add what the postsynaptic side needs to its population's plan."""

    def synapses(self, pre, post, i, j, w, connection: dict, post_model, name: str, arrays: dict, delay=None):
        """The plastic ``Synapses`` (``delay``: of the transmission, None for none)."""
        raise NotImplementedError


def timed_array(arrays: dict, key: str, where: str):
    """The ``TimedArray`` ``key`` of ``arrays`` (given to ``build_circuit``), or a
    ``KeyError`` saying ``where`` it is needed."""
    if key not in arrays:
        raise KeyError(f"{where}: TimedArray {key!r} was not given to build_circuit (given: {sorted(arrays) or 'none'})")
    return arrays[key]


def _gate(parameters, arrays, name):
    gate = parameters.get("gate")
    return None if gate is None else timed_array(arrays, gate, f"{name}: plasticity gate")


class _Bdsp(PlasticityRule):
    def problems(self, connection, pre, post):
        found = []
        if pre is None or not pre.detects_bursts:
            found.append(f"bdsp needs a bursting presynaptic population (events drive its trace), "
                         f"got {connection['pre']!r}")
        if not post.detects_bursts:
            found.append(f"bdsp needs a bursting postsynaptic population, got the {post.kind} kind")
        if post.synaptic_targets.get(connection["target"]) != "1":
            found.append("bdsp weights are conductance jumps in units of the leak: target a conductance")
        return found

    def prepare_pre(self, plan, connection, post_model):
        parameters = connection["plasticity"]
        plan.add("bdsp_pre", equations=(bdsp.presynaptic_equations(),), event_code=bdsp.presynaptic_event_code(),
                 after_create=lambda group: bdsp.attach_presynaptic(group, parameters["tau_pre"]),
                 same=("tau_pre", parameters["tau_pre"]))

    def prepare_post(self, plan, connection, post_model):
        parameters = connection["plasticity"]

        def attach(group):
            bdsp.attach_postsynaptic(group, parameters["tau_avg"], parameters["P_max"], parameters["homeostasis"],
                                     parameters["rate_min"], parameters["rate_max"],
                                     parameters["potentiation_estimate"], parameters["tau_hom"])

        def initialise(group, rng):
            bdsp.initialise_postsynaptic(group, spike_rate=float(parameters["rate_hom_initial"] / Hz))

        plan.add("bdsp_post", equations=(bdsp.postsynaptic_equations(),), event_code=bdsp.postsynaptic_event_code(),
                 after_create=attach, initialise=initialise,
                 same=("averages", tuple(parameters[k] for k in
                                         ("tau_avg", "P_max", "homeostasis", "rate_min", "rate_max",
                                          "potentiation_estimate", "tau_hom", "rate_hom_initial"))))

    def synapses(self, pre, post, i, j, w, connection, post_model, name, arrays, delay=None):
        p = connection["plasticity"]
        efficacy = f"*{short_term.efficacy(connection['stp'])}" if connection["stp"] != "none" else ""
        return bdsp.synapses(pre, post, i, j, np.asarray(w, float), eta=p["eta"], w_min=p["w_min"], w_max=p["w_max"],
                             homeostasis=p["homeostasis"], gate=_gate(p, arrays, name),
                             transmit=post_model.synaptic_input(connection["target"]) + efficacy,
                             transmit_on=short_term.transmission_event(connection["transmit"]), name=name,
                             delay=delay)


_VOLT_BOUNDS = {
    "interval": cfg.Quantity(unit=ms, bound="positive", default=None, doc="learning interval (default: dt)"),
    "tau_delta": cfg.Quantity(unit=ms, bound="positive", default=None, doc="low-pass filter of the update"),
    "w_min": cfg.Magnitude(default=None, doc="lower weight bound (volt)"),
    "w_max": cfg.Magnitude(default=None, doc="upper weight bound (volt)"),
    "gate": cfg.Text(default=None, doc="TimedArray of 0/1 switching learning"),
}


class VoltageRule(PlasticityRule):
    """The voltage-dependent rules of :mod:`dendritic.plasticity.dendritic_prediction`."""

    @staticmethod
    def common(connection, post) -> dict:
        """The keyword arguments every rule object of this family takes."""
        p = connection["plasticity"]
        return dict(eta=p["eta"], interval=p["interval"], tau_delta=p["tau_delta"], w_min=p["w_min"],
                    w_max=p["w_max"], trace=dp.PresynapticTrace.matching(post, connection["target"]))

    def rule(self, connection, post):
        """The rule object (``dendritic_prediction``'s rules) of ``connection`` onto ``post``."""
        if self.name == "apical_cancellation":
            return dp.ApicalCancellationRule(**self.common(connection, post))
        return dp.DendriticPredictionRule(form=connection["plasticity"]["form"], target=connection["target"],
                                          **self.common(connection, post))

    def namespace(self, parameters: dict, arrays: dict, name: str) -> dict:
        """The ``TimedArray`` inputs the synapses read, by name (the gate)."""
        gate = _gate(parameters, arrays, name)
        return {parameters["gate"]: gate} if gate is not None else {}

    def problems(self, connection, pre, post):
        if connection["target"] not in post.spec.dendrites:
            return [f"{self.name} learns weights onto a dendrite of a compartmental neuron; "
                    f"{connection['target']!r} is not one of the {post.kind} kind's ({', '.join(post.spec.dendrites)})"]
        if self.name == "apical_cancellation" and connection["target"] != "apical":
            return [f"apical_cancellation learns weights onto the apical dendrite, got {connection['target']!r}"]
        found = []
        if connection["transmit"] != "spikes" or connection["stp"] != "none":
            found.append(f"{self.name} synapses transmit every spike without short-term plasticity")
        for key in ("w_min", "w_max"):
            value = connection["plasticity"][key]
            if value is not None and getattr(value, "dim", None) != volt.dim:
                found.append(f"{key}: expected a voltage, got {value!r}")
        if not found:
            try:
                self.rule(connection, post)
            except ValueError as error:
                found.append(str(error))
        return found

    def prepare_pre(self, plan, connection, post_model):
        plan.add_trace(dp.PresynapticTrace.matching(post_model, connection["target"]))

    def prepare_post(self, plan, connection, post_model):
        plan.transform(lambda model: self.rule(connection, model).postsynaptic(model))

    def synapses(self, pre, post, i, j, w, connection, post_model, name, arrays, delay=None):
        p = connection["plasticity"]
        return self.rule(connection, post_model).connect(pre, post, i, j, w, post_model, name,
                                                         gate=f"{p['gate']}(t)" if p["gate"] is not None else "1",
                                                         namespace=self.namespace(p, arrays, name), delay=delay)


RULES = {
    "bdsp": _Bdsp("bdsp", {**bdsp.PARAMETERS, "gate": cfg.Text(default=None, doc="TimedArray of 0/1")}),
    "dendritic_prediction": VoltageRule("dendritic_prediction", {
        "form": cfg.Choice(options=("spike", "rate"), default="spike"),
        "eta": cfg.Magnitude(bound="nonnegative", doc="learning rate: volt**2 (spike form), volt*second (rate)"),
        **_VOLT_BOUNDS}),
    "apical_cancellation": VoltageRule("apical_cancellation", {
        "eta": cfg.Magnitude(bound="nonnegative", doc="learning rate (dimensionless)"), **_VOLT_BOUNDS}),
}


def register(rule: PlasticityRule) -> PlasticityRule:
    """Add ``rule`` to :data:`RULES` under its name (once: another rule of that name is refused)."""
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"register takes a PlasticityRule, got {rule!r}")
    if rule.name in RULES and RULES[rule.name] != rule:
        raise ValueError(f"a plasticity rule named {rule.name!r} is registered already")
    RULES[rule.name] = rule
    return rule


def validate(raw: dict, source, where: str) -> dict:
    """The parameters of a ``plasticity`` table, with ``rule`` naming the entry."""
    raw = dict(raw)
    name = raw.pop("rule", None)
    if name not in RULES:
        raise cfg.ConfigError([f"{source}: key '{where}.rule': expected one of {', '.join(map(repr, RULES))}, "
                               f"got {name!r}"])
    values = cfg.validate(raw, RULES[name].schema, source=source, prefix=f"{where}.")
    return {"rule": name, **values}


def problems(connection: dict, pre, post) -> list[str]:
    return RULES[connection["plasticity"]["rule"]].problems(connection, pre, post)
