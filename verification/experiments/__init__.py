"""The verification studies of SPEC section 7, one module per study, and the runner behind ``ifmf verify``.

=========  ==================  ================================================================
label      module              what it verifies
=========  ==================  ================================================================
V1         :mod:`.scaling`      O(1/N): bounded ``kappa_N``, ``N^{-1/2}`` fluctuations, their size
V2         :mod:`.subsequence`  subsequence convergence in ``d_w`` after relabelling
V3         :mod:`.initial_data` weak convergence of the initial data carried forward
V4         :mod:`.solvers`      observed orders of every solver against exact references
user       :mod:`.user`         the V1/V2 machinery on a user's sequence of weight files
=========  ==================  ================================================================

Each study module defines ``NAME``, ``LABEL``, ``TITLE``, ``SCHEMA`` (a :class:`verification.config.Table`
with the study's fields, their defaults and its pass criteria), ``validate(data, base_dir=...)``
(checks beyond the schema; it may return the data completed, e.g. the user study's resolved file
paths and their content hashes), ``plan(data) -> (tasks, params)``, the task function ``task(task, seed,
params) -> rows``, ``run(data, sweep) -> table`` and an analysis registered with
:func:`verification.report.register_analysis` under ``NAME`` (so ``ifmf report`` rebuilds a report).

A *run configuration* is a TOML file whose top-level tables are study names (``[scaling]``,
``[subsequence]``, ...); the studies present are the studies run.  The embedded defaults are
``verification/configs/quick.toml`` (``ifmf verify --quick``) and ``verification/configs/full.toml``.
"""
from __future__ import annotations

import importlib
import importlib.resources
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from verification.config import Config, ConfigError, Table, config_hash, validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

__all__ = ["STUDIES", "LABELS", "study_module", "resolve_studies", "RunConfig", "load_run_config",
           "embedded_config_text"]

#: study name -> label, in the order the studies run
STUDIES: dict[str, str] = {"scaling": "V1", "subsequence": "V2", "initial_data": "V3", "solvers": "V4",
                           "user": "user"}
LABELS: dict[str, str] = {v.lower(): k for k, v in STUDIES.items()}


def study_module(name: str):
    """The module of study ``name`` (imported on demand)."""
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; the studies are {list(STUDIES)} (labels "
                          f"{list(STUDIES.values())})")
    return importlib.import_module(f"verification.experiments.{name}")


def resolve_studies(spec: str) -> list[str]:
    """``"V1,V3"`` or ``"scaling,initial_data"`` (any mix, case-insensitive for labels) -> study names
    in run order."""
    out = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        key = item.lower()
        name = LABELS.get(key, key.replace("-", "_"))
        if name not in STUDIES:
            raise ConfigError(f"--only: unknown study {item!r}. Fix: use labels {list(STUDIES.values())} or names "
                              f"{list(STUDIES)}, comma-separated (e.g. --only V1,V3).")
        out.append(name)
    if not out:
        raise ConfigError("--only: no study given. Fix: pass e.g. --only V1,V3.")
    return [n for n in STUDIES if n in out]


def embedded_config_text(kind: str) -> str:
    """Text of the embedded ``quick`` or ``full`` run configuration."""
    if kind not in ("quick", "full"):
        raise ConfigError(f"embedded config {kind!r} does not exist; use 'quick' or 'full'")
    return importlib.resources.files("verification").joinpath("configs", f"{kind}.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration: one :class:`Config` per study present, in run order."""

    studies: Mapping[str, Config]
    source: str
    base_dir: str | None

    def names(self) -> list[str]:
        return list(self.studies)


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {source}: not valid TOML: {exc}. Fix: correct the syntax at that line.") from None


def load_run_config(path: str | os.PathLike | None = None, *, quick: bool = False,
                    only: Sequence[str] | None = None) -> RunConfig:
    """Read, validate and check a run configuration before any work.

    Parameters
    ----------
    path : path, optional
        A TOML file with study sections; default the embedded ``full`` (or ``quick``) configuration.
    quick : bool, keyword
        Use the embedded quick configuration (only without ``path``).
    only : sequence of str, keyword
        Study names to keep (each must be present in the configuration).

    Raises
    ------
    ConfigError
        Unknown section or key, wrong type, out-of-range value, a study-specific rule (the message
        names the field as ``study.field``), a requested study missing from the file.
    """
    if path is not None:
        p = os.fspath(path)
        try:
            with open(p, "rb") as fh:
                text = fh.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {p}: cannot be read ({exc}). Fix: pass a readable UTF-8 TOML file.") from None
        source, base_dir = p, os.path.dirname(os.path.abspath(p))
    else:
        kind = "quick" if quick else "full"
        text, source, base_dir = embedded_config_text(kind), f"<embedded {kind}.toml>", None
    raw = _parse(text, source)
    unknown = [k for k in raw if k not in STUDIES]
    if unknown:
        raise ConfigError(f"config {source}: field {unknown[0]!r} is not a known study section; allowed: "
                          f"{list(STUDIES)}. Fix: remove it or correct its spelling.")
    if not raw:
        raise ConfigError(f"config {source}: holds no study section. Fix: add e.g. a [scaling] table.")
    names = [n for n in STUDIES if n in raw]
    if only is not None:
        missing = [n for n in only if n not in raw]
        if missing:
            raise ConfigError(f"config {source}: --only asks for {missing}, which the config does not hold "
                              f"(it holds {names}). Fix: add the section or drop it from --only.")
        names = [n for n in names if n in only]
    out: dict[str, Config] = {}
    for name in names:
        mod = study_module(name)
        schema = Table({name: mod.SCHEMA})
        cfg = validate({name: raw[name]}, schema, source=source if path is not None else None)
        data = cfg.data[name]
        try:
            resolved = mod.validate(data, base_dir=base_dir)
        except ConfigError as exc:
            msg = str(exc)
            if path is not None:
                msg = msg.replace("config: ", f"config {source}: ", 1)
            raise ConfigError(msg) from None
        if resolved is not None:  # e.g. the user study: absolute paths and content hashes of its files
            data = resolved
        out[name] = Config(data=data, full_hash=config_hash({"study": name, "config": data}), source=source)
    return RunConfig(studies=out, source=source, base_dir=base_dir)
