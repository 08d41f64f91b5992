"""Study configurations: TOML files validated against a declared schema, with a stable hash.

A study declares its fields once, as a :class:`Table` of field types::

    SCHEMA = Table({
        "seed": Integer(minimum=0, doc="root of every random stream"),
        "sizes": Array(Integer(minimum=2), min_length=2, sorted=True, unique=True),
        "t_end": Real(minimum=0.0, exclusive_minimum=True, default=5.0),
        "method": String(choices=("exact", "clock"), default="exact"),
        "criteria": Table({"exponent": Criterion(default={"kind": "within", "low": -0.65, "high": -0.35})}),
    })
    config = load_config("v1.toml", SCHEMA)       # or parse_config(text, SCHEMA)
    config.data["sizes"], config.hash

Rules (every violation raises :class:`ConfigError`, an
:class:`~solvers.errors.InvalidArgumentError`, whose message names the field by its dotted path,
shows the value and its type, states the allowed range and suggests the fix):

* unknown keys are errors (a typo never silently falls back to a default);
* a field without a default is required;
* types are strict: booleans are not numbers, integers are accepted where a real is expected (and
  become ``float``), strings are never parsed as numbers;
* the validated config is a plain ``dict`` of JSON-compatible values with every default filled in.

The config hash is the SHA-256 of the canonical JSON of the *validated* config (keys sorted, no
whitespace, floats by their shortest round-trip ``repr``), so two files that differ only in
comments, key order, ``1`` versus ``1.0`` for a real field, or an omitted default have the same hash.
:attr:`Config.hash` (the first 16 hex digits) names the config in ``run.json`` and reports; the
result store of :mod:`verification.sweep` is keyed by the hash of the task parameters only (the
config without its task grid), so that adding a size reuses the stored tasks.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from solvers.errors import InvalidArgumentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["ConfigError", "FieldType", "Integer", "Real", "String", "Boolean", "Array", "Interval", "Table",
           "Criterion", "Config", "parse_config", "load_config", "validate", "config_hash", "canonical_json",
           "schema_defaults", "describe_schema", "REQUIRED"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marker of a field without default.
REQUIRED: Any = _Required()


class ConfigError(InvalidArgumentError):
    """A configuration violates its schema (the message names the field, the value and the rule)."""


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def _error(path: str, value: Any, rule: str, fix: str, source: str | None = None) -> ConfigError:
    where = f"config {source}: " if source else "config: "
    return ConfigError(f"{where}field {path!r} = {_show(value)}: {rule}. Fix: {fix}.")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


@dataclass(frozen=True, kw_only=True)
class FieldType:
    """Base class of the field types.  ``default`` (keyword-only, as ``doc``) is :data:`REQUIRED`
    when the field must be given, ``None`` for an optional field without value."""

    default: Any = REQUIRED
    doc: str = ""

    def check(self, path: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def default_value(self, path: str) -> Any:
        """The validated default (defaults are checked like given values)."""
        return self.check(path, self.default)


@dataclass(frozen=True)
class Integer(FieldType):
    """An integer in ``[minimum, maximum]`` (either side optional)."""

    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"an integer in [{self.minimum}, {self.maximum}]"
        if self.minimum is not None:
            return f"an integer >= {self.minimum}"
        if self.maximum is not None:
            return f"an integer <= {self.maximum}"
        return "an integer"

    def check(self, path: str, value: Any) -> int:
        ok = _is_int(value) and (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum)
        if not ok:
            example = self.minimum if self.minimum is not None else (self.maximum if self.maximum is not None else 1)
            raise _error(path, value, f"must be {self.describe()}", f"write e.g. {path.rsplit('.', 1)[-1]} = {example}")
        return int(value)


@dataclass(frozen=True)
class Real(FieldType):
    """A finite real number in ``[minimum, maximum]`` (bounds optional; ``exclusive_*`` make them open)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    def describe(self) -> str:
        lo = "-inf" if self.minimum is None else repr(float(self.minimum))
        hi = "inf" if self.maximum is None else repr(float(self.maximum))
        left = "(" if (self.minimum is None or self.exclusive_minimum) else "["
        right = ")" if (self.maximum is None or self.exclusive_maximum) else "]"
        return f"a finite real number in {left}{lo}, {hi}{right}"

    def check(self, path: str, value: Any) -> float:
        ok = _is_real(value) and math.isfinite(float(value))
        if ok:
            v = float(value)
            if self.minimum is not None:
                ok = v > self.minimum if self.exclusive_minimum else v >= self.minimum
            if ok and self.maximum is not None:
                ok = v < self.maximum if self.exclusive_maximum else v <= self.maximum
        if not ok:
            raise _error(path, value, f"must be {self.describe()}", "write a number in that range (no quotes)")
        return float(value)


@dataclass(frozen=True)
class String(FieldType):
    """A string, optionally one of ``choices``."""

    choices: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"one of {list(self.choices)}" if self.choices is not None else "a string"

    def check(self, path: str, value: Any) -> str:
        if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
            fix = f"write one of {list(self.choices)}" if self.choices is not None else "write a quoted string"
            raise _error(path, value, f"must be {self.describe()}", fix)
        return value


@dataclass(frozen=True)
class Boolean(FieldType):
    """``true`` or ``false`` (integers are refused)."""

    def describe(self) -> str:
        return "true or false"

    def check(self, path: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _error(path, value, "must be true or false", "write true or false (no quotes)")
        return value


@dataclass(frozen=True)
class Array(FieldType):
    """A list whose items all have type ``item``, of length in ``[min_length, max_length]``,
    optionally sorted (non-decreasing) and with distinct items."""

    item: FieldType = field(default_factory=lambda: Real())
    min_length: int = 0
    max_length: int | None = None
    sorted: bool = False
    unique: bool = False

    def describe(self) -> str:
        n = f"{self.min_length}.." + ("" if self.max_length is None else str(self.max_length))
        extra = (", sorted" if self.sorted else "") + (", distinct" if self.unique else "")
        return f"a list of {n} items, each {self.item.describe()}{extra}"

    def check(self, path: str, value: Any) -> list:
        if not isinstance(value, list):
            raise _error(path, value, f"must be {self.describe()}", "write a TOML array, e.g. [1, 2, 3]")
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            raise _error(path, value, f"must have between {self.min_length} and "
                         f"{'any number of' if self.max_length is None else self.max_length} items "
                         f"(it has {len(value)})", "add or remove items")
        out = [self.item.check(f"{path}[{i}]", v) for i, v in enumerate(value)]
        if self.sorted and any(b < a for a, b in zip(out, out[1:])):
            raise _error(path, value, "must be sorted in increasing order", f"write {sorted(out)}")
        if self.unique and len(set(map(_freeze, out))) != len(out):
            raise _error(path, value, "must not repeat an item", "remove the duplicates")
        return out


@dataclass(frozen=True)
class Interval(FieldType):
    """A pair ``[lo, hi]`` of finite reals with ``lo < hi`` (each inside ``[minimum, maximum]`` if given)."""

    minimum: float | None = None
    maximum: float | None = None

    def describe(self) -> str:
        rng = ""
        if self.minimum is not None or self.maximum is not None:
            lo = "-inf" if self.minimum is None else repr(float(self.minimum))
            hi = "inf" if self.maximum is None else repr(float(self.maximum))
            rng = f" inside [{lo}, {hi}]"
        return f"a pair [lo, hi] of finite reals with lo < hi{rng}"

    def check(self, path: str, value: Any) -> list:
        ok = isinstance(value, list) and len(value) == 2 and all(_is_real(v) and math.isfinite(float(v)) for v in value)
        if ok:
            lo, hi = float(value[0]), float(value[1])
            ok = (lo < hi and (self.minimum is None or lo >= self.minimum)
                  and (self.maximum is None or hi <= self.maximum))
        if not ok:
            raise _error(path, value, f"must be {self.describe()}", "write e.g. [-0.65, -0.35]")
        return [lo, hi]


@dataclass(frozen=True)
class Table(FieldType):
    """A TOML table with the declared ``fields`` (name -> field type); unknown keys are errors.

    A table's default is built from its fields' defaults; it is required when one of them is."""

    fields: Mapping[str, FieldType] = field(default_factory=dict)

    def describe(self) -> str:
        return f"a table with keys {sorted(self.fields)}"

    def default_value(self, path: str) -> dict:
        if self.default is not REQUIRED:
            return self.check(path, self.default)
        return self.check(path, {})

    def check(self, path: str, value: Any) -> dict:
        if not isinstance(value, Mapping):
            raise _error(path or "<top level>", value, f"must be {self.describe()}", "write a [table] section")
        unknown = [k for k in value if k not in self.fields]
        if unknown:
            k = unknown[0]
            key = f"{path}.{k}" if path else k
            raise _error(key, value[k], f"is not a known key; allowed keys here: {sorted(self.fields)}",
                         "remove it or correct its spelling")
        out = {}
        for name, ftype in self.fields.items():
            key = f"{path}.{name}" if path else name
            if name in value:
                out[name] = ftype.check(key, value[name])
            elif isinstance(ftype, Table):
                out[name] = ftype.default_value(key)
            elif ftype.default is REQUIRED:
                raise ConfigError(f"config: field {key!r} is missing: it is required ({ftype.describe()}). "
                                  f"Fix: add {name} = ... to the {'[' + path + '] table' if path else 'top level'}.")
            else:
                out[name] = None if ftype.default is None else ftype.default_value(key)
        return out


@dataclass(frozen=True)
class Criterion(FieldType):
    """A pass criterion of :mod:`verification.rates` as a table: ``{kind = "within", low = -0.65,
    high = -0.35}``; the kinds and their parameters are :data:`verification.rates.CRITERIA`."""

    def describe(self) -> str:
        from verification.rates import CRITERIA
        kinds = ", ".join(f"{k}({', '.join(v)})" for k, v in CRITERIA.items())
        return f"a criterion table with kind and its parameters: {kinds}"

    def check(self, path: str, value: Any) -> dict:
        from verification.rates import CRITERIA, criterion_from_mapping
        if not isinstance(value, Mapping) or value.get("kind") not in CRITERIA:
            kind = value.get("kind") if isinstance(value, Mapping) else value
            raise _error(f"{path}.kind" if isinstance(value, Mapping) else path, kind,
                         f"must be {self.describe()}", "write e.g. { kind = \"within\", low = -0.65, high = -0.35 }")
        params = CRITERIA[value["kind"]]
        unknown = [k for k in value if k != "kind" and k not in params]
        if unknown:
            raise _error(f"{path}.{unknown[0]}", value[unknown[0]], f"is not a parameter of kind "
                         f"{value['kind']!r}; its parameters are {list(params)}", "remove it")
        out: dict[str, Any] = {"kind": value["kind"]}
        for p in params:
            if p not in value:
                raise ConfigError(f"config: field '{path}.{p}' is missing: criterion kind {value['kind']!r} needs "
                                  f"{list(params)}. Fix: add {p} = ... to {path}.")
            out[p] = Real().check(f"{path}.{p}", value[p])
        try:
            criterion_from_mapping(out)
        except InvalidArgumentError as exc:
            raise _error(path, value, str(exc), "correct the criterion's parameters") from None
        return out


def _freeze(v: Any) -> Any:
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


def canonical_json(data: Any) -> str:
    """Canonical JSON text: keys sorted, no whitespace, floats by shortest round-trip repr, NaN refused."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def config_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 64 digits) of :func:`canonical_json` of a validated config."""
    return hashlib.sha256(canonical_json(data).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Config:
    """A validated configuration.

    Attributes
    ----------
    data : dict
        The validated values, defaults filled in (JSON-compatible).
    full_hash : str
        :func:`config_hash` of ``data`` (64 hex digits).
    source : str or None
        File the config was read from.
    """

    data: dict
    full_hash: str
    source: str | None = None

    @property
    def hash(self) -> str:
        """The first 16 hex digits of :attr:`full_hash` (the key of the result store)."""
        return self.full_hash[:16]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def validate(data: Mapping[str, Any], schema: Table, *, source: str | None = None) -> Config:
    """Validate a parsed mapping against ``schema`` and hash it."""
    if not isinstance(schema, Table):
        from solvers.errors import bad_argument
        raise bad_argument("schema", schema, "must be a verification.config.Table",
                           "declare the schema with Table({...})")
    try:
        out = schema.check("", data)
    except ConfigError as exc:
        if source is not None:
            raise ConfigError(str(exc).replace("config: ", f"config {source}: ", 1)) from None
        raise
    return Config(data=out, full_hash=config_hash(out), source=source)


def parse_config(text: str, schema: Table, *, source: str | None = None) -> Config:
    """Parse TOML ``text`` and validate it (TOML syntax errors are :class:`ConfigError` too)."""
    if not isinstance(text, str):
        from solvers.errors import bad_argument
        raise bad_argument("text", text, "must be the TOML text as a str", "read the file first, or use load_config")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"config {source}" if source else "config"
        raise ConfigError(f"{where}: not valid TOML: {exc}. Fix: correct the syntax at that line.") from None
    return validate(raw, schema, source=source)


def load_config(path: str | os.PathLike, schema: Table) -> Config:
    """Read and validate the TOML file ``path``."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ConfigError(f"config: the path {path!r} (type {type(path).__name__}) is not a file path. "
                          "Fix: pass the path of a TOML file as a str.")
    p = os.fsdecode(os.fspath(path))
    try:
        with open(p, "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ConfigError(f"config {p}: cannot be read ({exc}). Fix: pass a readable UTF-8 TOML file.") from None
    return parse_config(text, schema, source=p)


def schema_defaults(schema: Table) -> dict:
    """The config made of defaults only (raises :class:`ConfigError` if a field is required)."""
    return schema.check("", {})


def describe_schema(schema: Table, prefix: str = "") -> Sequence[str]:
    """One line per field: dotted path, allowed values, default and doc (for ``--help`` and docs)."""
    lines = []
    for name, ftype in schema.fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(ftype, Table):
            lines.extend(describe_schema(ftype, key))
            continue
        default = "required" if ftype.default is REQUIRED else f"default {json.dumps(ftype.default)}"
        lines.append(f"{key}: {ftype.describe()}; {default}" + (f" -- {ftype.doc}" if ftype.doc else ""))
    return lines
