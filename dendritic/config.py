"""Declarative parameter files: TOML with units written as strings.

A model file is read with :mod:`tomllib` and checked against a *schema*: a mapping from
key to a field description (:class:`Quantity`, :class:`Number`, :class:`Integer`,
:class:`Choice`, :class:`Text`, :class:`Flag`, :class:`Table`, :class:`TableList`).
Quantities are written as strings, ``"10 ms"``, ``"600 nS"``, ``"0.15 /ms"``,
``"1/3 /mV"``, and become Brian quantities after their physical dimension is checked.

Every problem raises :class:`ConfigError` naming the file, the key (as a dotted path,
``populations[0].N``) and what was expected; all problems of a file are reported at once.

Rules between the keys of one table (:class:`ExactlyOne`, :class:`AtMostOne`,
:class:`Requires`) are given as ``rules=(...)`` to :class:`Table`, :class:`TableList` or
:func:`validate` and checked after the table's fields.

Command-line overrides, ``run.seed=3``, ``populations[0].N=400``, ``run.duration=2 s``,
are applied to the raw file contents by :func:`apply_overrides` and validated with it.
:func:`describe` lists every key of a schema with its default and unit, for help texts.
"""

from __future__ import annotations

import ast
import operator
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from brian2.core.namespace import DEFAULT_UNITS
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Quantity as BrianQuantity,
    get_dimensions,
)

from dendritic.errors import DendriticError

__all__ = [
    "ConfigError",
    "Quantity",
    "Number",
    "Integer",
    "Choice",
    "Text",
    "Flag",
    "Table",
    "TableList",
    "TextList",
    "QuantityList",
    "IntegerList",
    "NumberList",
    "QuantityTable",
    "Magnitude",
    "RawTable",
    "Rule",
    "ExactlyOne",
    "AtMostOne",
    "Requires",
    "parse_quantity",
    "load",
    "read_toml",
    "validate",
    "apply_overrides",
    "parse_value",
    "lookup",
    "Option",
    "describe",
    "MODELS_DIR",
    "resolve_model_file",
]

#: Folder holding the model files shipped with the package (the repository's ``models/``).
MODELS_DIR = (Path(__file__).resolve().parent / "models").resolve()


class ConfigError(DendriticError):
    """A model file is malformed: names the file, the key and what was expected."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else "\n".join(["several problems:", *problems]))


_MISSING = object()


@dataclass(frozen=True)
class Field:
    doc: str = ""
    default: Any = _MISSING
    kind = "value"  # what a value looks like, for help texts (see :func:`describe`)

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def check(self, value, where: str, problems: list[str]):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Quantity(Field):
    """A physical quantity written as a string with units, e.g. ``"10 ms"``.

    ``unit`` is any Brian quantity of the expected dimension (``ms``, ``nS``, ``1/mV``;
    ``1`` for dimensionless). ``bound``: ``"positive"`` (> 0), ``"nonnegative"`` (>= 0)
    or ``None``.
    """

    unit: Any = 1
    bound: str | None = None

    @property
    def kind(self) -> str:
        name, unit = _unit_kind(self.unit)
        return _joined(f"{name} in {unit}" if unit else name, _BOUNDS.get(self.bound))

    def check(self, value, where, problems):
        expected = describe_dimension(self.unit)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(f"'{where}': expected {expected}, got {value!r}")
            return None
        if isinstance(value, (int, float)):
            if get_dimensions(self.unit) is not DIMENSIONLESS:
                problems.append(f"'{where}': expected {expected} written with its unit as a string, got the bare number {value!r}")
                return None
            quantity = BrianQuantity(float(value))
        else:
            try:
                quantity = parse_quantity(value)
            except ValueError as error:
                problems.append(f"'{where}': expected {expected}, got {value!r} ({error})")
                return None
        if get_dimensions(quantity) is not get_dimensions(self.unit):
            problems.append(f"'{where}': expected {expected}, got {value!r} which is {describe_dimension(quantity)}")
            return None
        return _bounded(quantity, self.bound, value, where, problems)


def _bounded(quantity, bound, value, where, problems):
    """``quantity`` if it satisfies ``bound`` (``"positive"``, ``"nonnegative"``, None)."""
    if bound == "positive" and not float(quantity) > 0:
        problems.append(f"'{where}': expected a positive value, got {value!r}")
        return None
    if bound == "nonnegative" and not float(quantity) >= 0:
        problems.append(f"'{where}': expected a non-negative value, got {value!r}")
        return None
    return quantity


@dataclass(frozen=True)
class Number(Field):
    """A plain real number; ``bound`` as for :class:`Quantity`; optional ``maximum``."""

    bound: str | None = None
    maximum: float | None = None

    @property
    def kind(self) -> str:
        bounds = _joined(_BOUNDS.get(self.bound), None if self.maximum is None else f"<= {self.maximum}")
        return f"number {bounds}" if bounds else "number"

    def check(self, value, where, problems):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or np.isnan(value):
            problems.append(f"'{where}': expected a number, got {value!r}")
            return None
        if self.bound == "positive" and not value > 0:
            problems.append(f"'{where}': expected a positive number, got {value!r}")
            return None
        if self.bound == "nonnegative" and not value >= 0:
            problems.append(f"'{where}': expected a non-negative number, got {value!r}")
            return None
        if self.maximum is not None and value > self.maximum:
            problems.append(f"'{where}': expected a number at most {self.maximum}, got {value!r}")
            return None
        return float(value)


@dataclass(frozen=True)
class Integer(Field):
    """A whole number, at least ``minimum``."""

    minimum: int | None = None

    @property
    def kind(self) -> str:
        return "whole number" if self.minimum is None else f"whole number >= {self.minimum}"

    def check(self, value, where, problems):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"'{where}': expected a whole number, got {value!r}")
            return None
        if self.minimum is not None and value < self.minimum:
            problems.append(f"'{where}': expected a whole number >= {self.minimum}, got {value!r}")
            return None
        return value


@dataclass(frozen=True)
class Choice(Field):
    """One string out of ``options``."""

    options: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "one of " + ", ".join(_toml(o) for o in self.options)

    def check(self, value, where, problems):
        if value not in self.options:
            choices = ", ".join(repr(o) for o in self.options)
            problems.append(f"'{where}': expected one of {choices}, got {value!r}")
            return None
        return value


@dataclass(frozen=True)
class Text(Field):
    """Free text (a description, a source reference, a file name)."""

    kind = "string"

    def check(self, value, where, problems):
        if not isinstance(value, str):
            problems.append(f"'{where}': expected a string, got {value!r}")
            return None
        return value


@dataclass(frozen=True)
class Flag(Field):
    """``true`` or ``false``."""

    kind = "true or false"

    def check(self, value, where, problems):
        if not isinstance(value, bool):
            problems.append(f"'{where}': expected true or false, got {value!r}")
            return None
        return value


@dataclass(frozen=True)
class QuantityList(Field):
    """An array of quantities, each checked as :class:`Quantity` (``unit``, ``bound``),
    at least ``minimum_length`` of them; ``ordered`` returns them sorted."""

    unit: Any = 1
    bound: str | None = None
    minimum_length: int = 1
    ordered: bool = False

    @property
    def kind(self) -> str:
        name, unit = _unit_kind(self.unit)
        values = f"array of {name} values in {unit}" if unit else "array of plain numbers"
        length = f"at least {self.minimum_length}" if self.minimum_length > 1 else None
        return _joined(values, _BOUNDS.get(self.bound), length)

    def check(self, value, where, problems):
        if not isinstance(value, list) or len(value) < self.minimum_length:
            problems.append(f"'{where}': expected an array of at least {self.minimum_length} "
                            f"{describe_dimension(self.unit)} values, got {value!r}")
            return None
        element = Quantity(unit=self.unit, bound=self.bound)
        before = len(problems)
        quantities = [element.check(item, f"{where}[{n}]", problems) for n, item in enumerate(value)]
        if len(problems) > before:
            return None
        return sorted(quantities, key=float) if self.ordered else quantities


@dataclass(frozen=True)
class NumberList(Field):
    """An array of at least ``minimum_length`` plain numbers, each within
    [``minimum``, ``maximum``] where given."""

    minimum: float | None = None
    maximum: float | None = None
    minimum_length: int = 1

    @property
    def kind(self) -> str:
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"array of numbers in [{low}, {high}]"

    def check(self, value, where, problems):
        if (not isinstance(value, list) or len(value) < self.minimum_length
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or (self.minimum is not None and any(v < self.minimum for v in value))
                or (self.maximum is not None and any(v > self.maximum for v in value))):
            problems.append(f"'{where}': expected an {self.kind} (at least {self.minimum_length}), got {value!r}")
            return None
        return [float(v) for v in value]


@dataclass(frozen=True)
class IntegerList(Field):
    """An array of at least ``minimum_length`` whole numbers, each at least ``minimum``."""

    minimum: int | None = None
    minimum_length: int = 1

    @property
    def kind(self) -> str:
        bound = "" if self.minimum is None else f" >= {self.minimum}"
        return _joined(f"array of whole numbers{bound}", f"at least {self.minimum_length}" if self.minimum_length > 1 else None)

    def check(self, value, where, problems):
        if (not isinstance(value, list) or len(value) < self.minimum_length
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or (self.minimum is not None and any(v < self.minimum for v in value))):
            bound = f" >= {self.minimum}" if self.minimum is not None else ""
            problems.append(f"'{where}': expected an array of at least {self.minimum_length} whole numbers{bound}, "
                            f"got {value!r}")
            return None
        return list(value)


@dataclass(frozen=True)
class TextList(Field):
    """An array of strings."""

    kind = "array of strings"

    def check(self, value, where, problems):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"'{where}': expected an array of strings, got {value!r}")
            return None
        return list(value)


@dataclass(frozen=True)
class QuantityTable(Field):
    """A table of name -> quantity string whose allowed names and units are known only
    later (e.g. the inputs of a neuron kind); values are parsed, checked by the caller."""

    kind = 'table of name = quantity ("5 mV")'

    def check(self, value, where, problems):
        if not isinstance(value, Mapping):
            problems.append(f"'{where}': expected a table, got {value!r}")
            return None
        parsed = {}
        for key, text in value.items():
            try:
                parsed[key] = parse_quantity(text) if isinstance(text, str) else BrianQuantity(float(text))
            except (ValueError, TypeError) as error:
                problems.append(f"{where}.{key}: expected a quantity such as \"5 mV\", got {text!r} ({error})")
        return parsed


@dataclass(frozen=True)
class Magnitude(Field):
    """A number or a quantity string (``0.05``, ``"1 mV"``) whose unit is known only later
    (e.g. a synaptic weight, in the unit of the target variable); parsed, its dimension
    checked by the caller. ``bound`` as for :class:`Quantity`."""

    bound: str | None = None

    @property
    def kind(self) -> str:
        return _joined("number or quantity (unit of the target)", _BOUNDS.get(self.bound))

    def check(self, value, where, problems):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(f"'{where}': expected a number or a quantity such as \"1 mV\", got {value!r}")
            return None
        try:
            quantity = parse_quantity(value) if isinstance(value, str) else BrianQuantity(float(value))
        except ValueError as error:
            problems.append(f"'{where}': expected a number or a quantity such as \"1 mV\", got {value!r} ({error})")
            return None
        return _bounded(quantity, self.bound, value, where, problems)


@dataclass(frozen=True)
class RawTable(Field):
    """A table passed on as written, validated later against a schema chosen by one of
    its keys (e.g. a plasticity rule's parameters, chosen by ``rule``)."""

    @property
    def kind(self) -> str:
        return "table"

    def check(self, value, where, problems):
        if not isinstance(value, Mapping):
            problems.append(f"'{where}': expected a table, got {value!r}")
            return None
        return dict(value)


@dataclass(frozen=True)
class Table(Field):
    """A TOML table with its own schema; ``rules`` (:class:`Rule`) relate its keys."""

    schema: Mapping[str, Field] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "rules", _bind_rules(self.rules, self.schema))

    def check(self, value, where, problems):
        if not isinstance(value, Mapping):
            problems.append(f"'{where}': expected a table, got {value!r}")
            return None
        return _validate(value, self.schema, where + ".", problems, self.rules)


@dataclass(frozen=True)
class TableList(Field):
    """An array of tables (``[[name]]`` in TOML), each with the same schema and ``rules``."""

    schema: Mapping[str, Field] = field(default_factory=dict)
    minimum: int = 0
    rules: tuple[Rule, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "rules", _bind_rules(self.rules, self.schema))

    def check(self, value, where, problems):
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            problems.append(f"'{where}': expected an array of tables ([[{where.rsplit('.', 1)[-1]}]]), got {value!r}")
            return None
        if len(value) < self.minimum:
            problems.append(f"'{where}': expected at least {self.minimum} entries, got {len(value)}")
            return None
        return [_validate(item, self.schema, f"{where}[{n}].", problems, self.rules) for n, item in enumerate(value)]


# ---------------------------------------------------------------------------------------
# Rules between the keys of one table

class Rule:
    """A condition on several keys of one table, checked after its fields.

    A key is *given* when the file has it (a default does not count). The keys a rule
    names must be in the table's schema (``ValueError`` when the schema is built).
    """

    keys: tuple[str, ...] = ()

    def bind(self, schema: Mapping[str, Field]) -> None:
        """Raise ``ValueError`` unless ``schema`` fits this rule."""
        unknown = [key for key in self.keys if key not in schema]
        if unknown:
            raise ValueError(f"{self!r} names {_listing(unknown)}, not in the schema "
                             f"(keys: {', '.join(sorted(schema)) or 'none'})")

    def check(self, table: Mapping, parsed: Mapping, schema: Mapping[str, Field]) -> str | None:
        """What is wrong with ``table`` (raw) / ``parsed`` (validated), or ``None``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(k) for k in self.keys)})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    __hash__ = None


class _Choose(Rule):
    def __init__(self, *keys: str):
        if len(keys) < 2 or len(set(keys)) != len(keys) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{type(self).__name__} takes two or more distinct keys, got {keys!r}")
        self.keys = keys

    def bind(self, schema):
        super().bind(schema)
        required = [key for key in self.keys if schema[key].required]
        if required:
            raise ValueError(f"{self!r}: {_listing(required)} is required, so always given; give it a default (None)")


class ExactlyOne(_Choose):
    """Exactly one of ``keys`` is given: ``ExactlyOne("fan_in", "probability")``."""

    def check(self, table, parsed, schema):
        given = _given(table, self.keys)
        if len(given) != 1:
            got = "neither" if not given else "both" if len(self.keys) == len(given) == 2 else _listing(given)
            return f"expected exactly one of {_listing(self.keys)}, got {got}"
        return None


class AtMostOne(_Choose):
    """At most one of ``keys`` is given: ``AtMostOne("rate", "rates_file")``."""

    def check(self, table, parsed, schema):
        given = _given(table, self.keys)
        if len(given) > 1:
            got = "both" if len(self.keys) == len(given) == 2 else _listing(given)
            return f"expected at most one of {_listing(self.keys)}, got {got}"
        return None


class Requires(Rule):
    """When ``key`` is given, every key of ``needs`` must be given too.

    ``Requires("stp", needs=("transmit",))``; with ``when``, only if ``key`` has that value
    (defaults count): ``Requires("transmit", needs="burst_length", when="bursts")``, or
    one of several, given as a tuple: ``when=("dfc", "dfc_ss")``.
    """

    def __init__(self, key: str, needs: str | tuple[str, ...], when: Any = _MISSING):
        needs = (needs,) if isinstance(needs, str) else tuple(needs)
        if not isinstance(key, str) or not needs or not all(isinstance(k, str) for k in needs) or key in needs:
            raise ValueError(f"Requires takes a key and the other keys it needs, got {key!r}, needs={needs!r}")
        self.key, self.needs, self.when = key, needs, when
        self.keys = (key, *needs)

    def bind(self, schema):
        super().bind(schema)
        if self.when is not _MISSING:
            problems: list[str] = []
            for value in self._values:
                schema[self.key].check(value, self.key, problems)
            if problems:
                raise ValueError(f"{self!r}: the value of when= does not fit the field: {problems[0]}")
        required = [key for key in self.needs if schema[key].required]
        if required:
            raise ValueError(f"{self!r}: {_listing(required)} is required anyway")

    def check(self, table, parsed, schema):
        if self.when is _MISSING:
            if not _given(table, (self.key,)):
                return None
            reason = f"'{self.key}' is given"
        else:
            value = parsed.get(self.key)
            if not any(_same(value, schema[self.key].check(when, self.key, [])) for when in self._values):
                return None
            reason = f"'{self.key}' is {value!r}"
        missing = [key for key in self.needs if not _given(table, (key,))]
        if missing:
            return f"missing {_listing(missing)} (required when {reason})"
        return None

    @property
    def _values(self) -> tuple:
        return self.when if isinstance(self.when, tuple) else (self.when,)

    def __repr__(self):
        when = "" if self.when is _MISSING else f", when={self.when!r}"
        return f"Requires({self.key!r}, needs={self.needs!r}{when})"


def _bind_rules(rules, schema) -> tuple[Rule, ...]:
    rules = (rules,) if isinstance(rules, Rule) else tuple(rules)
    for rule in rules:
        if not isinstance(rule, Rule):
            raise ValueError(f"rules must be Rule objects (ExactlyOne, AtMostOne, Requires), got {rule!r}")
        rule.bind(schema)
    return rules


def _given(table: Mapping, keys) -> list[str]:
    return [key for key in keys if table.get(key) is not None]


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _listing(keys) -> str:
    quoted = [f"'{key}'" for key in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def validate(mapping: Mapping, schema: Mapping[str, Field], source: str | Path = "<input>", prefix: str = "",
             rules=()) -> dict:
    """Check ``mapping`` against ``schema`` (and top-level ``rules``); return the parsed
    values (defaults filled in).

    Raises :class:`ConfigError` listing every problem, each prefixed with ``source``.
    """
    problems: list[str] = []
    parsed = _validate(mapping, schema, prefix, problems, _bind_rules(rules, schema))
    if problems:
        raise ConfigError([f"{source}: key {p}" for p in problems])
    return parsed


def read_toml(path: str | Path) -> dict:
    """The raw contents of a TOML file, with a :class:`ConfigError` if it cannot be read."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML ({error})"]) from None


def load(path: str | Path, schema: Mapping[str, Field], rules=(), overrides=()) -> dict:
    """Read the TOML file ``path``, apply ``overrides`` (``key=value`` strings, the
    command line's ``--set``; :func:`apply_overrides`) and :func:`validate` it against
    ``schema``."""
    raw = read_toml(path)
    if overrides:
        raw = apply_overrides(raw, overrides, schema, source=Path(path))
    return validate(raw, schema, source=Path(path), rules=rules)


# ---------------------------------------------------------------------------------------
# Overrides: key=value assignments applied to the raw contents of a file

def apply_overrides(raw: Mapping, assignments, schema: Mapping[str, Field], source: str | Path = "<input>") -> dict:
    """A copy of ``raw`` (unvalidated TOML data) with ``assignments`` applied, in order.

    Each assignment is ``key=value``: ``key`` a dotted path allowed by ``schema``
    (``run.seed``, ``connections[1].weight_std``; missing tables are created, entries of
    arrays of tables must exist), ``value`` read by :func:`parse_value`. Validate the result
    with the same schema. Raises :class:`ConfigError` naming every bad assignment.
    """
    if isinstance(assignments, str):
        assignments = [assignments]
    result = _copy(raw)
    problems = []
    for assignment in assignments:
        problem = _assign(result, assignment, schema)
        if problem is not None:
            problems.append(f"{source}: override {assignment!r}: {problem}")
    if problems:
        raise ConfigError(problems)
    return result


def parse_value(text: str):
    """``text`` read as a TOML value (``3``, ``"2 s"``, ``["a", "b"]``, ``true``), else
    the bare string (so ``2 s`` is ``"2 s"``)."""
    try:
        parsed = tomllib.loads("v = " + text)
    except tomllib.TOMLDecodeError:
        return text.strip()
    return parsed["v"] if list(parsed) == ["v"] else text.strip()


def lookup(mapping: Mapping, key: str, default: Any = _MISSING):
    """The value at the dotted path ``key`` (``connections[1].weight``) of raw or parsed
    values; ``default`` if it is absent, else ``KeyError``."""
    value = mapping
    for name, index in _split_key(key):
        if not isinstance(value, Mapping) or name not in value:
            break
        value = value[name]
        if index is not None:
            if not isinstance(value, list) or not -len(value) <= index < len(value):
                break
            value = value[index]
    else:
        return value
    if default is _MISSING:
        raise KeyError(key)
    return default


class Option(NamedTuple):
    """One row of :func:`describe`."""

    key: str  # dotted path, "[]" for any entry of an array of tables
    default: str  # as written in a file, "required", or "unset" (a default of None)
    help: str  # what the value looks like (unit, bounds) and the field's doc


def describe(schema: Mapping[str, Field], prefix: str = "") -> list[Option]:
    """Every leaf key of ``schema`` with its default and what it takes, in schema order:
    ``Option("run.dt", '"0.1 ms"', "time in ms, > 0")``, ``Option("populations[].N", ...)``."""
    options = []
    for key, spec in schema.items():
        if isinstance(spec, Table):
            options += describe(spec.schema, f"{prefix}{key}.")
        elif isinstance(spec, TableList):
            options += describe(spec.schema, f"{prefix}{key}[].")
        else:
            default = "required" if spec.required else "unset" if spec.default is None else _toml(spec.default)
            options.append(Option(prefix + key, default, f"{spec.kind}; {spec.doc}" if spec.doc else spec.kind))
    return options


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


_BOUNDS = {"positive": "> 0", "nonnegative": ">= 0"}


def _joined(*parts) -> str:
    return ", ".join(part for part in parts if part)


def _unit_kind(unit) -> tuple[str, str | None]:
    """``ms`` -> ("time", "ms"), ``1/mV`` -> ("inverse voltage", "/mV"), ``1`` -> ("plain number", None)."""
    if get_dimensions(unit) is DIMENSIONLESS:
        return "plain number", None
    name = describe_dimension(unit)
    match = re.match(r"^an? (.*?) \(e\.g\. .*\)$", name)
    return (match[1] if match else "quantity"), re.sub(r"^(\w+)\^-1$", r"/\1", str(unit))


_SEGMENT = re.compile(r"^([A-Za-z0-9_-]+)(?:\[(-?\d+)\])?$")


def _split_key(key: str) -> list[tuple[str, int | None]]:
    segments = []
    for part in key.split("."):
        match = _SEGMENT.match(part.strip())
        if not match:
            raise ValueError(f"malformed key {key!r} (expected names joined by '.', "
                             "each with an optional index, e.g. populations[0].N)")
        segments.append((match[1], None if match[2] is None else int(match[2])))
    return segments


def _copy(value):
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _assign(root: dict, assignment: str, schema: Mapping[str, Field]) -> str | None:
    """Apply one ``key=value`` to ``root`` in place; what is wrong with it, or ``None``."""
    key, equals, text = assignment.partition("=")
    key = key.strip()
    if not equals or not key:
        return "expected key=value, such as run.seed=3"
    try:
        segments = _split_key(key)
    except ValueError as error:
        return str(error)
    table, names, where = root, schema, ""
    for n, (name, index) in enumerate(segments):
        last = n == len(segments) - 1
        path = where + name
        if names is None:  # inside a QuantityTable: any name, one level
            spec = None
        elif name not in names:
            return f"unknown key '{path}' (expected one of: {', '.join(sorted(names))})"
        else:
            spec = names[name]
        if index is not None:
            if not isinstance(spec, TableList):
                return f"'{path}' is not an array of tables, so takes no index"
            entries = table.get(name, [])
            if not isinstance(entries, list):
                return f"'{path}' is not an array in the file (got {entries!r})"
            if not 0 <= index < len(entries):
                valid = f"0 to {len(entries) - 1}" if entries else "none"
                return (f"index {index} out of range: '{path}' has {len(entries)} "
                        f"{'entry' if len(entries) == 1 else 'entries'} (valid: {valid})")
            if last:
                entries[index] = parse_value(text)
                return None
            if not isinstance(entries[index], dict):
                return f"'{path}[{index}]' is not a table in the file (got {entries[index]!r})"
            table, names, where = entries[index], spec.schema, f"{path}[{index}]."
            continue
        if last:
            table[name] = parse_value(text)
            return None
        following = segments[n + 1][0]
        if isinstance(spec, TableList):
            return f"'{path}' is an array of tables: give an index, such as {path}[0].{following}"
        if not isinstance(spec, (Table, QuantityTable)):
            return f"'{path}' is a single value, so has no key '{following}'"
        inner = table.setdefault(name, {})
        if not isinstance(inner, dict):
            return f"'{path}' is not a table in the file (got {inner!r})"
        table, names, where = inner, spec.schema if isinstance(spec, Table) else None, path + "."
    return None  # pragma: no cover - the loop returns at the last segment


def resolve_model_file(name: str | Path, kind: str, relative_to: Path | None = None) -> Path:
    """Find a model file given as a path, or as a bare name under ``models/<kind>/``.

    ``"sacramento2018"`` -> ``models/neurons/sacramento2018.toml`` for ``kind="neurons"``.
    Relative paths are tried against ``relative_to`` (the folder of the referring file)
    first, then the working directory, then the shipped ``models/<kind>/``.
    """
    candidate = Path(name)
    candidates = []
    if relative_to is not None and not candidate.is_absolute():
        candidates.append(relative_to / candidate)
    candidates.append(candidate)
    shipped = MODELS_DIR / kind / candidate
    candidates.append(shipped if shipped.suffix == ".toml" else shipped.with_suffix(".toml"))
    for path in candidates:
        if path.is_file():
            return path
    shipped_names = sorted(p.stem for p in (MODELS_DIR / kind).glob("*.toml"))
    raise ConfigError([f"{name}: no such model file (looked for {', '.join(str(c) for c in candidates)}; shipped {kind}: {', '.join(shipped_names) or 'none'})"])


def _validate(mapping: Mapping, schema: Mapping[str, Field], prefix: str, problems: list[str], rules=()) -> dict:
    parsed = {}
    for key in mapping:
        if key not in schema:
            known = ", ".join(sorted(schema))
            problems.append(f"'{prefix}{key}': unknown key (expected one of: {known})")
    for key, spec in schema.items():
        where = f"{prefix}{key}"
        if key not in mapping:
            if spec.required:
                doc = f" ({spec.doc})" if spec.doc else ""
                problems.append(f"'{where}': missing{doc}")
            else:
                # defaults are written like file values ("0 mV") and pass the same check
                parsed[key] = None if spec.default is None else spec.check(spec.default, f"{prefix}{key}", problems)
            continue
        parsed[key] = spec.check(mapping[key], f"{prefix}{key}", problems)
    for rule in rules:
        problem = rule.check(mapping, parsed, schema)
        if problem is not None:
            # the table's dotted path; at top level, the first key the rule names
            problems.append(f"'{prefix[:-1] if prefix else rule.keys[0]}': {problem}")
    return parsed


# ---------------------------------------------------------------------------------------
# Quantities written as strings

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_PART = re.compile(rf"^\s*({_NUMBER}(?:\s*/\s*{_NUMBER})?)\s*(.*?)\s*$")
_ALIASES = {"s": DEFAULT_UNITS["second"], "min": 60 * DEFAULT_UNITS["second"]}
_OPERATORS = {
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
}


def parse_quantity(text: str) -> BrianQuantity:
    """``"600 nS"`` -> 600*nS; ``"0.15 /ms"`` -> 0.15/ms; ``"1/3 /mV"``; ``"2 mV/ms"``.

    A number (optionally a fraction) followed by a unit expression made of Brian unit
    names, ``*``, ``/`` and ``**``. Nothing is ``eval``'ed.
    """
    match = _NUMBER_PART.match(text)
    if not match:
        raise ValueError("expected a number followed by a unit, such as \"10 ms\"")
    number, unit_text = match.groups()
    value = _evaluate(number, text)
    if unit_text:
        if unit_text.startswith("/"):
            unit_text = "1" + unit_text
        value = value * _evaluate(unit_text, text)
    if not np.all(np.isfinite(np.asarray(value, dtype=float))):  # "1e400 mV" (a number is inf only if written so)
        raise ValueError("not a finite number")
    return BrianQuantity(value)


def _evaluate(expression: str, text: str):
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot read {expression!r} as a unit expression") from None
    return _evaluate_node(tree.body, text)


def _evaluate_node(node, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _ALIASES:
            return _ALIASES[node.id]
        if node.id not in DEFAULT_UNITS:
            raise ValueError(f"unknown unit {node.id!r}")
        return DEFAULT_UNITS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate_node(node.left, text), _evaluate_node(node.right, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate_node(node.operand, text)
    raise ValueError(f"unsupported expression in {text!r}")


_DIMENSION_NAMES = [
    ("volt", "a voltage", '"-70 mV"'),
    ("second", "a time", '"10 ms"'),
    ("siemens", "a conductance", '"30 nS"'),
    ("farad", "a capacitance", '"300 pF"'),
    ("amp", "a current", '"150 pA"'),
    ("hertz", "a rate", '"10 Hz"'),
    ("1/volt", "an inverse voltage", '"0.33 /mV"'),
    ("ohm", "a resistance", '"100 Mohm"'),
]


def describe_dimension(quantity) -> str:
    """Human name of a quantity's physical dimension, with an example."""
    dimensions = get_dimensions(quantity)
    if dimensions is DIMENSIONLESS:
        return "a plain number"
    for unit_expression, name, example in _DIMENSION_NAMES:
        if get_dimensions(_evaluate(unit_expression, unit_expression)) is dimensions:
            return f"{name} (e.g. {example})"
    return f"a quantity with dimensions {dimensions}"
