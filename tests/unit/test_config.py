"""verification.config: schema validation (field, value, allowed range in every message), unknown keys,
defaults, TOML errors, and the stable hash."""
from __future__ import annotations

import pytest

from solvers.errors import InvalidArgumentError
from verification.config import (
    REQUIRED,
    Array,
    Boolean,
    ConfigError,
    Criterion,
    Integer,
    Interval,
    Real,
    String,
    Table,
    canonical_json,
    config_hash,
    describe_schema,
    load_config,
    parse_config,
    schema_defaults,
    validate,
)

SCHEMA = Table({
    "seed": Integer(minimum=0, doc="root seed"),
    "sizes": Array(Integer(minimum=2), min_length=2, sorted=True, unique=True),
    "t_end": Real(minimum=0.0, exclusive_minimum=True, default=5.0),
    "method": String(choices=("exact", "clock"), default="exact"),
    "quick": Boolean(default=False),
    "window": Interval(minimum=0.0, default=[0.0, 1.2]),
    "dt": Real(minimum=0.0, exclusive_minimum=True, default=None),
    "criteria": Table({
        "exponent": Criterion(default={"kind": "within", "low": -0.65, "high": -0.35}),
        "ratio": Criterion(default={"kind": "contains", "target": 1.0}),
    }),
})

GOOD = """
# a comment
seed = 12
sizes = [100, 200, 400]
t_end = 4
[criteria]
exponent = { kind = "within", low = -0.6, high = -0.4 }
"""


def test_valid_config_fills_defaults_and_normalises():
    cfg = parse_config(GOOD, SCHEMA)
    assert cfg.data == {
        "seed": 12, "sizes": [100, 200, 400], "t_end": 4.0, "method": "exact", "quick": False,
        "window": [0.0, 1.2], "dt": None,
        "criteria": {"exponent": {"kind": "within", "low": -0.6, "high": -0.4},
                     "ratio": {"kind": "contains", "target": 1.0}},
    }
    assert isinstance(cfg.data["t_end"], float)
    assert cfg["seed"] == 12 and len(cfg.hash) == 16 and cfg.full_hash.startswith(cfg.hash)


def test_hash_is_stable_under_formatting_order_and_defaults():
    a = parse_config(GOOD, SCHEMA)
    reordered = """
[criteria]
exponent = {high = -0.4, low = -0.6, kind = "within"}
ratio = { kind = "contains", target = 1 }
"""
    b = parse_config("t_end = 4.0\nmethod = 'exact'\nsizes = [100,200,400]\nseed=12\n" + reordered, SCHEMA)
    assert a.full_hash == b.full_hash
    c = parse_config(GOOD.replace("t_end = 4", "t_end = 4.5"), SCHEMA)
    assert c.full_hash != a.full_hash
    # the hash is the sha256 of the canonical JSON, independently recomputed
    import hashlib
    import json
    text = json.dumps(a.data, sort_keys=True, separators=(",", ":"))
    assert a.full_hash == hashlib.sha256(text.encode()).hexdigest() == config_hash(a.data)
    assert canonical_json(a.data) == text


@pytest.mark.parametrize("text, field, pieces", [
    ("seed = -1\nsizes = [2, 3]", "seed", ["-1", "an integer >= 0"]),
    ("seed = true\nsizes = [2, 3]", "seed", ["True", "bool"]),
    ("seed = 1\nsizes = [2, 3]\nt_end = 0", "t_end", ["0", "(0.0, inf)"]),
    ("seed = 1\nsizes = [2, 3]\nt_end = '5'", "t_end", ["'5'", "str"]),
    ("seed = 1\nsizes = [3, 2]", "sizes", ["sorted", "[2, 3]"]),
    ("seed = 1\nsizes = [2, 2]", "sizes", ["repeat"]),
    ("seed = 1\nsizes = [2]", "sizes", ["between 2 and"]),
    ("seed = 1\nsizes = [2, 1]", "sizes[1]", ["an integer >= 2"]),
    ("seed = 1\nsizes = [2, 3]\nmethod = 'euler'", "method", ["'euler'", "['exact', 'clock']"]),
    ("seed = 1\nsizes = [2, 3]\nquick = 1", "quick", ["true or false"]),
    ("seed = 1\nsizes = [2, 3]\nwindow = [1.0, 0.5]", "window", ["lo < hi"]),
    ("seed = 1\nsizes = [2, 3]\nwindow = [-1.0, 0.5]", "window", ["inside [0.0, inf]"]),
    ("seed = 1\nsizes = [2, 3]\nsizez = [1]", "sizez", ["not a known key", "sizes"]),
    ("seed = 1\nsizes = [2, 3]\n[criteria]\nexp = {kind='within', low=0, high=1}", "criteria.exp",
     ["not a known key", "exponent"]),
    ("seed = 1\nsizes = [2, 3]\n[criteria]\nexponent = {kind='between', low=0, high=1}", "criteria.exponent.kind",
     ["'between'", "within(low, high)"]),
    ("seed = 1\nsizes = [2, 3]\n[criteria]\nexponent = {kind='within', low=0, hi=1}", "criteria.exponent.hi",
     ["not a parameter", "['low', 'high']"]),
    ("seed = 1\nsizes = [2, 3]\n[criteria]\nexponent = {kind='within', low=1, high=0}", "criteria.exponent",
     ["< high"]),
])
def test_errors_name_field_value_and_rule(text, field, pieces):
    with pytest.raises(ConfigError) as info:
        parse_config(text, SCHEMA, source="v1.toml")
    msg = str(info.value)
    assert f"field {field!r}" in msg and "config v1.toml" in msg and "Fix:" in msg
    for p in pieces:
        assert p in msg, msg
    assert isinstance(info.value, InvalidArgumentError)


def test_missing_required_field():
    with pytest.raises(ConfigError, match=r"field 'sizes' is missing: it is required \(a list of 2\.\. items"):
        parse_config("seed = 1", SCHEMA)
    with pytest.raises(ConfigError, match="is missing"):
        schema_defaults(SCHEMA)
    assert schema_defaults(Table({"a": Integer(default=3)})) == {"a": 3}


def test_toml_syntax_error_and_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("seed = = 1", SCHEMA)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "nope.toml", SCHEMA)


def test_load_config_names_the_file(tmp_path):
    p = tmp_path / "study.toml"
    p.write_text(GOOD)
    cfg = load_config(p, SCHEMA)
    assert cfg.source == str(p) and cfg.full_hash == parse_config(GOOD, SCHEMA).full_hash
    p.write_text(GOOD + "bogus = 1\n")
    with pytest.raises(ConfigError, match=f"config {p}: field 'criteria.bogus'"):
        load_config(p, SCHEMA)


def test_bad_defaults_are_caught_and_schema_described():
    with pytest.raises(ConfigError, match="field 'x'"):
        validate({}, Table({"x": Integer(minimum=1, default=0)}))
    lines = describe_schema(SCHEMA)
    assert any(line.startswith("seed: an integer >= 0; required -- root seed") for line in lines)
    assert any(line.startswith("criteria.exponent: a criterion table") for line in lines)
    assert REQUIRED is not None and repr(REQUIRED) == "REQUIRED"
    with pytest.raises(InvalidArgumentError, match="schema"):
        validate({}, {"x": Integer()})
