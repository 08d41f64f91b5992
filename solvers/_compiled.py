r"""The one home of compiled (numba) code shared by every loop: the named families and the cache.

Families
--------
Every compiled loop of ifmf (the particle simulators, the Lagrangian PDE passes, and the coming dual
and low-rank loops) evaluates the named drift and intensity families of :mod:`solvers.model` through
the functions below, and nowhere else.  A family is passed to compiled code as a tag and three
floats, obtained from ``Intensity.compiled_args()`` / ``Drift.compiled_args()`` (``None`` for a user
callable, which compiled code cannot run).  The one table of tags:

==============  ===  ===================================================  ======================
tag             int  ``f(x)``                                             ``(p0, p1, p2)``
==============  ===  ===================================================  ======================
``SIGMOID``     0    ``p0 / (1 + exp(-p1 (x - p2)))`` (stable form below)  ``(lam, beta, theta)``
``EXPONENTIAL`` 1    ``p0 exp(p1 (x - p2))``                               ``(c, beta, theta)``
``CONSTANT``    2    ``p0``                                                ``(lam0, 0, 0)``
``RELU``        3    ``min(p2, p0 max(0, x - p1))``                        ``(slope, theta, cap)``
``LEAKY``       0    drift ``b(x) = q0 - x``, exact flow                   ``(I0,)``
==============  ===  ===================================================  ======================

Stable sigmoid, with ``z = p1 (x - p2)``: ``f = p0 / (1 + exp(-z))`` for ``z >= -708`` (then
``exp(-z) <= e^708`` is finite, and the quotient has full relative accuracy, tails included) and
``f = p0 exp(z)`` for ``z < -708`` (there ``1 + exp(z)`` rounds to 1, so this is the same value to the
last bit, without the overflow of ``exp(-z)``).  The naive form alone returns 0 once ``exp(-z)``
overflows (``z < -709.78``), ``scipy.special.expit`` too.  The split point is far outside the range of
any simulation, so the branch is always predicted.  The derivative ``p0 p1 e / (1 + e)^2`` with
``e = exp(-|z|)`` has full relative accuracy in both tails.  The numpy evaluations of
:mod:`solvers.model` use the same expressions, so the compiled and numpy values differ only by the
ulps of the two ``exp`` implementations (the tests check a few ulps).  Results below the normal range
(``< 2.2e-308``) are subnormal numbers, with their reduced precision.

The loops that split the exponential out of a compiled pass (the Lagrangian Hermite step: numba
passes around numpy's SIMD ``np.exp``) use :func:`intensity_exponent` (the argument of the one
exponential, at most 708 for the sigmoid: it never overflows) and :func:`intensity_from_exponential`;
the scalar :func:`intensity_value` writes the same expressions out flat (a test checks they agree).

Cache
-----
Every ifmf module with compiled code decorates it with :func:`njit` from this module (never with
``numba.njit`` directly; a test checks it).  numba's on-disk cache is kept in a user cache directory,
``$IFMF_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ifmf``, else ``~/.cache/ifmf``, in a subfolder
``numba-<key>`` where ``<key>`` hashes the sources of every ifmf module containing compiled code
(every ``.py`` file of the ``solvers`` and ``verification`` packages that mentions ``njit``) and the
numba, numpy and Python versions.  numba itself only checks the file that defines a cached function,
so a loop that inlines a function of another file would otherwise keep running stale code after
that file changed; with the key, editing any compiled file moves every loop to a fresh folder.  How
this reaches numba: ``numba.config.CACHE_DIR`` is read when a dispatcher is decorated with
``cache=True`` (``FunctionCache`` -> ``UserProvidedCacheLocator``, the first locator numba tries,
which fixes the path at that moment), so :func:`njit` sets it to the keyed folder for the duration
of each decoration only and restores it (a user's own numba code is unaffected).  If the folder
cannot be created or written, ifmf runs without the on-disk cache (compiling in every process) and
logs it once; it never falls back to writing beside the sources.

:func:`cache_is_warm` and :func:`on_first_compile` let a front end say once "compiling numba code,
once per install" when the cache is cold.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numba
import numba.core.event as _numba_event
import numpy as np

__all__ = [
    "SIGMOID", "EXPONENTIAL", "CONSTANT", "RELU", "LEAKY", "INTENSITY_TAGS", "DRIFT_TAGS", "SIGMOID_SPLIT",
    "njit", "cfunc", "cache_directory", "cache_root", "source_key", "compiled_sources", "cache_is_warm",
    "on_first_compile",
    "intensity_value", "intensity_derivative", "intensity_derivative_from_value",
    "intensity_second_derivative_from_value",
    "intensity_exponent", "intensity_from_exponential",
    "drift_value", "drift_derivative", "drift_flow", "leaky_flow_decayed",
    "intensity_values", "intensity_derivatives", "drift_values", "drift_derivatives", "drift_flows",
]

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ the table of tags
SIGMOID = 0
EXPONENTIAL = 1
CONSTANT = 2
RELU = 3
LEAKY = 0
#: family ``kind`` -> tag (the one table; the families of :mod:`solvers.model` read it)
INTENSITY_TAGS: Mapping[str, int] = {"sigmoid": SIGMOID, "exponential": EXPONENTIAL, "constant": CONSTANT,
                                     "relu": RELU}
DRIFT_TAGS: Mapping[str, int] = {"leaky": LEAKY}

# ----------------------------------------------------------------------------------- the cache
CACHE_ENV = "IFMF_CACHE_DIR"
#: a module takes part in the cache key when its source contains this word
_COMPILED_MARK = b"njit"
_PACKAGES = ("solvers", "verification")


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The user cache directory of ifmf: ``$IFMF_CACHE_DIR``, else ``$XDG_CACHE_HOME/ifmf``, else
    ``~/.cache/ifmf`` (empty variables count as unset; a relative ``XDG_CACHE_HOME`` is ignored, as
    the XDG specification says)."""
    env = os.environ if environ is None else environ
    own = env.get(CACHE_ENV, "")
    if own:
        return Path(os.path.abspath(os.path.expanduser(own)))
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ifmf"
    home = env.get("HOME", "") or os.path.expanduser("~")
    return Path(home) / ".cache" / "ifmf"


def _base() -> Path:
    """The directory holding the ifmf packages (``site-packages`` once installed)."""
    return Path(__file__).resolve().parent.parent


def compiled_sources(base: Path | None = None) -> list[Path]:
    """Every ``.py`` file of the ifmf packages (``solvers``, ``verification``) under ``base`` (default:
    the directory holding this package) whose source mentions ``njit``, sorted."""
    base = _base() if base is None else Path(base)
    found = []
    for name in _PACKAGES:
        if (base / name).is_dir():
            found.extend(p for p in (base / name).rglob("*.py") if _COMPILED_MARK in p.read_bytes())
    return sorted(found)


def source_key(paths: list[Path] | None = None, base: Path | None = None) -> str:
    """Hex key (16 digits) of the sources ``paths`` (default :func:`compiled_sources`), each with its
    path relative to ``base`` (so an installed copy of the same sources has the same key), and of the
    numba, numpy and Python versions."""
    base = _base() if base is None else Path(base)
    paths = compiled_sources(base) if paths is None else paths
    h = hashlib.sha256()
    for path in paths:
        try:
            rel = Path(path).resolve().relative_to(base).as_posix()
        except ValueError:
            rel = Path(path).name
        h.update(rel.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    h.update(f"numba {numba.__version__}; numpy {np.__version__}; python {sys.version}".encode())
    return h.hexdigest()[:16]


@functools.cache
def cache_directory() -> str | None:
    """The keyed numba cache folder ``<cache_root>/numba-<source_key>`` (created), or ``None`` when it
    cannot be created or written (then compiled code is not cached on disk; logged once)."""
    try:
        path = cache_root() / f"numba-{source_key()}"
    except OSError as exc:  # a source of ifmf cannot be read: its freshness cannot be proven
        logger.warning("numba on-disk cache disabled: the compiled sources of ifmf cannot be hashed (%s); "
                       "compiled code is rebuilt in every process", exc)
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        logger.warning("numba on-disk cache disabled: %s is not writable (%s); compiled code is rebuilt in "
                       "every process (set %s to a writable directory)", path, exc, CACHE_ENV)
        return None
    logger.debug("numba cache directory: %s", path)
    return str(path)


_DISPATCHERS: list[Any] = []


def njit(func: Callable | None = None, **options: Any):
    """``numba.njit(cache=True, **options)`` with the cache in :func:`cache_directory` (see the
    module docstring); without a usable cache directory, ``numba.njit(cache=False, **options)``.
    Use as ``@njit`` or ``@njit(inline="always", fastmath=...)``."""
    if "cache" in options:
        raise TypeError("solvers._compiled.njit decides the cache itself; do not pass cache=")

    def decorate(f: Callable):
        directory = cache_directory()
        if directory is None:
            disp = numba.njit(cache=False, **options)(f)
        else:
            saved = numba.config.CACHE_DIR
            numba.config.CACHE_DIR = directory
            try:
                disp = numba.njit(cache=True, **options)(f)
            finally:
                numba.config.CACHE_DIR = saved
            _keep_cache_in(disp, directory)
        _DISPATCHERS.append(disp)
        return disp

    return decorate(func) if func is not None else decorate


def cfunc(signature: str, func: Callable) -> Any:
    """``numba.cfunc(signature, cache=False)(func)``: a C callback compiled in this process, for a user's
    function that compiled ifmf loops call through its address (the on-the-fly kernels of
    :mod:`solvers.particles.onthefly`).  Never cached on disk: the user's code is not an ifmf source."""
    return numba.cfunc(signature, cache=False)(func)


def _keep_cache_in(disp: Any, directory: str) -> None:
    """numba falls back to the next locator (beside the sources) when the chosen one fails, or a user's
    ``NUMBA_CACHE_LOCATOR_CLASSES`` may reorder them: refuse any cache outside ``directory``."""
    cache = getattr(disp, "_cache", None)
    path = getattr(cache, "cache_path", None)
    if path is not None and not os.path.abspath(path).startswith(directory):
        from numba.core.caching import NullCache

        logger.warning("numba chose the cache folder %s for %s, outside %s; not caching it", path,
                       getattr(disp, "__name__", disp), directory)
        disp._cache = NullCache()


def _has_cache_entry(disp: Any) -> bool:
    cache = getattr(disp, "_cache", None)
    try:
        index = os.path.join(cache.cache_path, cache._impl.filename_base + ".nbi")
    except AttributeError:
        return False
    return os.path.exists(index)


def cache_is_warm(*functions: Any) -> bool:
    """Whether compiled code is already on disk for the current sources and versions.

    Without arguments: whether the keyed cache folder holds any compiled code (some ifmf loop was
    compiled and cached since the sources last changed: the "once per install" question a command
    line asks before its first compiled call).  With compiled functions (dispatchers made by
    :func:`njit`): whether every one of them has a cached compilation (for some argument types).
    ``False`` when the on-disk cache is disabled."""
    directory = cache_directory()
    if directory is None:
        return False
    if not functions:
        return any(Path(directory).rglob("*.nbc"))
    return all(_has_cache_entry(f) for f in functions)


def _is_ifmf(dispatcher: Any) -> bool:
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    return module.split(".")[0] in _PACKAGES


class _FirstCompile(_numba_event.Listener):
    def __init__(self, callback: Callable[[], None]):
        self.callback = callback
        self.fired = False

    def on_start(self, event):
        if not self.fired and _is_ifmf(event.data.get("dispatcher")):
            self.fired = True
            self.callback()

    def on_end(self, event):
        pass


@contextlib.contextmanager
def on_first_compile(callback: Callable[[], None]) -> Iterator[None]:
    """Inside the block, call ``callback()`` once, when numba starts compiling an ifmf function (a
    cache miss: loading from the on-disk cache does not count).  For a front end's one-line notice,
    e.g. ``with on_first_compile(lambda: print("compiling numba code, once per install")): ...``."""
    with _numba_event.install_listener("numba:compile", _FirstCompile(callback)):
        yield


# ------------------------------------------------------------------------------- intensities
#: sigmoid: ``p0 / (1 + exp(-z))`` for ``z >= SIGMOID_SPLIT``, ``p0 exp(z)`` below (module docstring)
SIGMOID_SPLIT = -708.0


@njit(inline="always")
def intensity_exponent(tag, p1, p2, x):
    """The argument of the one exponential in ``f(x)``: sigmoid ``-z`` for ``z = p1 (x - p2) >= -708``
    and ``z`` below (at most 708: it never overflows), exponential ``p1 (x - p2)``; 0 for the families
    without one."""
    if tag == SIGMOID:
        z = p1 * (x - p2)
        return -z if z >= SIGMOID_SPLIT else z
    if tag == EXPONENTIAL:
        return p1 * (x - p2)
    return 0.0


@njit(inline="always")
def intensity_from_exponential(tag, p0, p1, p2, x, e):
    """``f(x)`` given ``e = exp(intensity_exponent(tag, p1, p2, x))`` (``e`` unused by constant and
    relu).  Sigmoid: ``p0 / (1 + e)``, or ``p0 e`` below the split; NaN propagates."""
    if tag == SIGMOID:
        if p1 * (x - p2) >= SIGMOID_SPLIT:
            return p0 / (1.0 + e)
        return p0 * e
    if tag == EXPONENTIAL:
        return p0 * e
    if tag == CONSTANT:
        return p0
    y = x - p1
    if y < 0.0:
        y = 0.0
    y = p0 * y
    if y > p2:
        return p2
    return y


@njit(inline="always")
def intensity_value(tag, p0, p1, p2, x):
    """``f(x)`` of the family ``tag`` (module table), in the stable form: the expressions of
    :func:`intensity_exponent` and :func:`intensity_from_exponential`, written out flat because
    the composition (tag tests and ``z`` repeated) costs ~6% in the scalar loops (measured); a test
    checks that the two give the same values."""
    if tag == SIGMOID:
        z = p1 * (x - p2)
        upper = z >= SIGMOID_SPLIT
        e = math.exp(-z if upper else z)
        return p0 / (1.0 + e) if upper else p0 * e
    if tag == EXPONENTIAL:
        return p0 * math.exp(p1 * (x - p2))
    return intensity_from_exponential(tag, p0, p1, p2, x, 1.0)


@njit(inline="always")
def intensity_derivative(tag, p0, p1, p2, x):
    """``f'(x)``: sigmoid ``p0 p1 e / (1 + e)^2`` with ``e = exp(-|p1 (x - p2)|)`` (full relative
    accuracy in both tails), exponential ``p1 f``, constant 0, relu ``p0`` on
    ``p1 < x < p1 + p2 / p0`` and 0 elsewhere (the left derivative at ``p1``, the right one at the cap)."""
    if tag == SIGMOID:
        e = math.exp(-abs(p1 * (x - p2)))
        return p0 * p1 * e / ((1.0 + e) * (1.0 + e))
    if tag == EXPONENTIAL:
        return p1 * (p0 * math.exp(p1 * (x - p2)))
    if tag == CONSTANT:
        return 0.0
    return p0 if (x > p1 and p0 * (x - p1) < p2) else 0.0


@njit(inline="always")
def intensity_derivative_from_value(tag, p0, p1, p2, x, fx):
    """``f'(x)`` from ``fx = f(x)`` without another exponential (loops that cache ``f``).  Sigmoid
    ``p1 fx (1 - fx / p0)``: full relative accuracy in the left tail, absolute error ``~ eps p0 p1`` in
    the right tail (where :func:`intensity_derivative` keeps the relative accuracy); the other families
    as :func:`intensity_derivative`."""
    if tag == SIGMOID:
        return p1 * fx * (1.0 - fx / p0) if p0 > 0.0 else 0.0
    if tag == EXPONENTIAL:
        return p1 * fx
    if tag == CONSTANT:
        return 0.0
    return p0 if (x > p1 and p0 * (x - p1) < p2) else 0.0


@njit(inline="always")
def intensity_second_derivative_from_value(tag, p0, p1, p2, x, fx):
    """``f''(x)`` from ``fx = f(x)`` (the dual solvers' tangents of the Hermite survival rule).
    Sigmoid ``p1 f' (1 - 2 fx / p0)`` with ``f' = p1 fx (1 - fx / p0)``; exponential ``p1^2 fx``;
    constant 0; relu 0 (its second derivative is a sum of Diracs at the kinks, which the dual's
    tangents do not see)."""
    if tag == SIGMOID:
        if p0 > 0.0:
            d1 = p1 * fx * (1.0 - fx / p0)
            return p1 * d1 * (1.0 - 2.0 * fx / p0)
        return 0.0
    if tag == EXPONENTIAL:
        return p1 * p1 * fx
    return 0.0


# ------------------------------------------------------------------------------------- drifts
@njit(inline="always")
def drift_value(tag, q0, x):
    """``b(x)``; leaky ``q0 - x``."""
    return q0 - x


@njit(inline="always")
def drift_derivative(tag, q0, x):
    """``b'(x)``; leaky ``-1``."""
    return -1.0


@njit(inline="always")
def leaky_flow_decayed(c, x, decay):
    """Leaky flow ``c + (x - c) decay`` with ``c = I0 + h`` and ``decay = exp(-s)`` computed by the
    caller (loops that advance many states by the same ``s`` compute the exponential once)."""
    return c + (x - c) * decay


@njit(inline="always")
def drift_flow(tag, q0, x, s, h):
    """Exact solution at time ``s`` of ``dx/dt = b(x) + h`` from ``x``; leaky ``c + (x - c) e^{-s}``,
    ``c = q0 + h``."""
    return leaky_flow_decayed(q0 + h, x, math.exp(-s))


# ---------------------------------------------------------- vectorised (Python callers, tests)
@njit
def intensity_values(tag, p0, p1, p2, x):
    """:func:`intensity_value` on a 1-D float array."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = intensity_value(tag, p0, p1, p2, x[i])
    return out


@njit
def intensity_derivatives(tag, p0, p1, p2, x):
    """:func:`intensity_derivative` on a 1-D float array."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = intensity_derivative(tag, p0, p1, p2, x[i])
    return out


@njit
def drift_values(tag, q0, x):
    """:func:`drift_value` on a 1-D float array."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = drift_value(tag, q0, x[i])
    return out


@njit
def drift_derivatives(tag, q0, x):
    """:func:`drift_derivative` on a 1-D float array."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = drift_derivative(tag, q0, x[i])
    return out


@njit
def drift_flows(tag, q0, x, s, h):
    """:func:`drift_flow` on a 1-D float array ``x`` (scalar ``s``, ``h``)."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = drift_flow(tag, q0, x[i], s, h)
    return out
