"""Pieces shared by the ``ifmf`` sub-commands: ``--json`` output, memory estimates, named weights.

JSON output (``--json``): one JSON object on stdout, nothing else (logs and errors go to stderr);
numpy scalars and arrays become numbers and lists, non-finite floats become ``null`` (strict JSON),
mpmath numbers become decimal strings (they carry more digits than a float).

Memory: :func:`check_memory` compares an estimate with the memory the process may use (``--max-memory``,
default the memory available now: ``MemAvailable`` of ``/proc/meminfo``, else the physical memory)
and refuses before allocating, with the number and the alternatives.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Any

import numpy as np

from solvers.errors import bad_argument

__all__ = ["add_json_flag", "emit_json", "to_jsonable", "available_memory", "parse_size", "format_bytes",
           "check_memory", "add_memory_flag", "weights_memory_alternatives"]


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (machine-readable) instead of the table")


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy and mpmath numbers converted, non-finite floats as ``None``."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if type(value).__module__.startswith("mpmath"):
        import mpmath

        return mpmath.nstr(value, 30) if mpmath.isfinite(value) else None
    return str(value)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as strict JSON (indent 2) on stdout."""
    print(json.dumps(to_jsonable(obj), indent=2, allow_nan=False, sort_keys=False))


# ---------------------------------------------------------------------------------------- memory
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_size(text: str) -> int:
    """``"8G"``, ``"500MB"``, ``"1.5GiB"``, ``"123456"`` -> bytes (argparse ``type``)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write e.g. 8G, 500MB or 1.5GiB")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive size")
    return int(value)


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def available_memory() -> tuple[int | None, str]:
    """``(bytes, source)``: memory available to a new allocation now, or ``(None, reason)``."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")), "physical memory"
    except (ValueError, OSError, AttributeError):
        return None, "unknown"


def add_memory_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-memory", type=parse_size, metavar="SIZE",
                        help="refuse to start when the estimated memory exceeds SIZE (e.g. 8G, 500MB; "
                             "default: the memory available now)")


def check_memory(flag: str, value: Any, need: int, what: str, alternatives: str, *, limit: int | None) -> None:
    """Refuse (``InvalidArgumentError`` naming ``flag``) when ``need`` bytes exceed ``limit`` (or,
    when ``limit`` is None, the memory available now)."""
    source = "allowed by --max-memory"
    if limit is None:
        limit, where = available_memory()
        if limit is None:
            return
        source = f"available now ({where})"
    if need > limit:
        raise bad_argument(flag, value, f"{what} need about {format_bytes(need)}, more than the "
                           f"{format_bytes(limit)} {source}", alternatives)


def weights_memory_alternatives(N: int, dtype: str) -> str:
    """The alternatives the memory refusal of dense named weights lists."""
    alt = []
    if dtype != "float32":
        alt.append(f"--dtype float32 (halves the matrix: {format_bytes(4 * N * N)})")
    alt.append("a sparse network (--kernel erdos-renyi, or --weights FILE.npz holding a scipy.sparse matrix "
               "saved by scipy.sparse.save_npz)")
    alt.append("a smaller --N")
    alt.append("for the named kernels ring, two-block, constant, skew, product: --operator low-rank or "
               "--operator on-the-fly (no N x N matrix)")
    return "use " + ", or ".join(alt)


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


# ----------------------------------------------------------------------------------- named weights
def weights_seed(seed: int) -> np.random.SeedSequence:
    """The seed of random named weights for the command-line ``--seed``: the first child of
    ``SeedSequence(seed)``, so that the weights are independent of the dynamics' streams and
    ``ifmf weights NAME --N N --seed S`` writes the matrix ``ifmf simulate --kernel NAME --N N --seed S``
    simulates."""
    return np.random.SeedSequence(seed).spawn(1)[0]


def sequences_help(*, kernels_only: bool = False) -> str:
    """The named weight sequences of :data:`solvers.graphons.WEIGHT_SEQUENCES`, one per line."""
    import textwrap

    from solvers.graphons import WEIGHT_SEQUENCES

    rows = [s for s in WEIGHT_SEQUENCES.values() if s.kernel or not kernels_only]
    width = max(len(s.name) for s in rows)
    lines = []
    for s in rows:
        tags = [t for t, on in (("random: uses --seed", s.random), ("sparse", s.sparse)) if on]
        text = s.summary + (f" [{'; '.join(tags)}]" if tags else "")
        lines += textwrap.wrap(text, width=96, initial_indent=f"  {s.name:<{width}}  ",
                               subsequent_indent=" " * (width + 4))
    return "\n".join(lines)


def named_weights(flag: str, name: str, N: int, *, seed: int, dtype: str, max_memory: int | None):
    """``build_weights(name, N)`` after the memory check (errors name ``flag`` / ``--N``)."""
    from solvers.graphons import build_weights, sequence_info
    from solvers.validation import check_int

    info = sequence_info(name)
    N = check_int("--N", N, 2 if info.name == "hub" else 1, "pass e.g. --N 1000")
    npdtype = np.float32 if dtype == "float32" else np.float64
    what = (f"the sparse {info.name} weights for N = {N}" if info.sparse else
            f"dense {dtype} {info.name} weights for N = {N} (an N x N matrix"
            + (" and the builder's temporaries)" if info.scratch else ")"))
    check_memory("--N", N, info.peak_bytes(N, dtype=npdtype), what,
                 weights_memory_alternatives(N, dtype), limit=max_memory)
    seq = weights_seed(seed) if info.random else None
    return build_weights(info.name, N, seed=seq, dtype=npdtype)


def read_values_file(flag: str, path: str, n: int | None = None) -> np.ndarray:
    """A 1-D array of numbers from ``.npy`` (never unpickled) or ``.csv``/``.txt`` (one value per line,
    or one comma-separated row); length ``n`` when given.  Errors name ``flag``."""
    from solvers.validation import check_vector

    shape = f"{n} numbers" if n is not None else "numbers"
    fix = f"pass a file with {shape} (.npy 1-D array, or .csv/.txt with one value per line)"
    if not os.path.isfile(path):
        raise bad_argument(flag, path, "is a folder, not a file" if os.path.isdir(path) else "file does not exist",
                           fix)
    if path.lower().endswith(".npy"):
        try:
            with open(path, "rb") as fh:
                head = fh.read(6)
        except OSError as exc:
            raise bad_argument(flag, path, f"cannot be opened ({exc.strerror or exc})", fix) from None
        if head != b"\x93NUMPY":
            kind = "it is empty" if not head else "it does not start like one; if it is text, name it .csv or .txt"
            raise bad_argument(flag, path, f"is not a NumPy .npy file ({kind})", fix)
    try:
        if path.lower().endswith(".npy"):
            values = np.load(path, allow_pickle=False)
        else:
            values = np.loadtxt(path, delimiter="," if path.lower().endswith(".csv") else None, ndmin=1)
    except (ValueError, OSError, EOFError) as exc:
        if "pickle" in str(exc).lower():
            raise bad_argument(flag, path, "holds Python objects, and files are never unpickled", fix) from None
        raise bad_argument(flag, path, f"could not be read as numbers ({type(exc).__name__}: {exc})", fix) from None
    values = np.asarray(values)
    if values.ndim == 2 and 1 in values.shape:
        values = values.ravel()
    return check_vector(flag, values, n, what="values", fix=fix)
