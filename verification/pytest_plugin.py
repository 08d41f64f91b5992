"""The pytest plugin of ifmf (entry point ``pytest11``: ``ifmf = verification.pytest_plugin``).

Installed with ifmf, it is active in every pytest run and adds:

* the marker ``ifmf`` for convergence checks (``@pytest.mark.ifmf``, or ``@pytest.mark.ifmf(budget=0.5)``
  to run one test at half the session's budget); select or deselect them with ``-m ifmf`` /
  ``-m "not ifmf"``;
* the option ``--ifmf-budget B`` (a number ``> 0``, default 1): the budget of the assertions of
  :mod:`verification.assertions` (replicates times ``B``, sizes times ``sqrt(B)``).  It is put in the
  environment variable ``IFMF_BUDGET`` for the session (so subprocesses see it too) and restored at
  the end; a marker's ``budget`` multiplies it for its test;
* the Hypothesis settings profile ``"ifmf"`` for convergence checks: ``derandomize=True`` (the same
  examples on every run: a CI failure reproduces), ``deadline=None`` (a study takes seconds),
  ``max_examples=5``, no example database, the phases ``explicit, generate, shrink`` (no "explain"
  phase: it would re-run studies), one bug reported, ``print_blob=True``, the slow-data health checks
  suppressed.  Use it per test with ``@convergence_settings`` (this module) or for a whole run with
  ``--hypothesis-profile=ifmf``;
* the fixture ``ifmf_budget`` (the test's budget) and a report-header line.

The plugin imports nothing heavy (no numpy): it costs nothing to test runs that do not use ifmf.
"""
from __future__ import annotations

import math
import os

import pytest

__all__ = ["PROFILE", "MARKER", "convergence_settings", "pytest_addoption", "pytest_configure",
           "pytest_unconfigure", "pytest_runtest_call", "pytest_report_header", "ifmf_budget"]

PROFILE = "ifmf"
MARKER = "ifmf"
_ENV = "IFMF_BUDGET"  # verification.assertions.BUDGET_ENV (not imported: keep the plugin light)
_KEY_BUDGET = pytest.StashKey[float]()
_KEY_SAVED = pytest.StashKey[tuple]()

try:
    from hypothesis import HealthCheck, Phase, settings
except ImportError:  # pragma: no cover - hypothesis is a test extra; the marker and option still work
    convergence_settings = None
else:
    settings.register_profile(
        PROFILE, derandomize=True, deadline=None, max_examples=5, database=None, print_blob=True,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    #: the ``"ifmf"`` profile as a decorator: ``@convergence_settings`` or ``@settings(convergence_settings, ...)``
    convergence_settings = settings.get_profile(PROFILE)


def _budget_error(name: str, value: object, where: str) -> pytest.UsageError:
    shown = f"{value!r} (type {type(value).__name__})"
    return pytest.UsageError(f"argument {name!r} = {shown}: must be a finite number > 0 ({where}). "
                             f"Fix: pass e.g. {name}=2 (1 = the default cost).")


def _parse_budget(name: str, value: object, where: str) -> float:
    if isinstance(value, bool):
        raise _budget_error(name, value, where)
    try:
        b = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _budget_error(name, value, where) from None
    if not (math.isfinite(b) and b > 0):
        raise _budget_error(name, value, where)
    return b


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ifmf", "ifmf convergence checks")
    group.addoption("--ifmf-budget", action="store", default=None, metavar="B",
                    help="budget of ifmf's convergence assertions: replicates x B, sizes x sqrt(B) "
                         f"(default: ${_ENV} or 1)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: an ifmf convergence check (runs small studies; "
                            "optional budget=B multiplies --ifmf-budget for this test)")
    given = config.getoption("ifmf_budget", default=None)
    saved = os.environ.get(_ENV)
    if given is not None:
        budget = _parse_budget("--ifmf-budget", given, "command line")
        os.environ[_ENV] = repr(budget)
    elif saved is not None and saved.strip():
        budget = _parse_budget(_ENV, saved, "environment variable")
    else:
        budget = 1.0
    config.stash[_KEY_BUDGET] = budget
    config.stash[_KEY_SAVED] = (given is not None, saved)


def pytest_unconfigure(config: pytest.Config) -> None:
    changed, saved = config.stash.get(_KEY_SAVED, (False, None))
    if changed:
        if saved is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = saved


def _item_budget(item: pytest.Item) -> float:
    budget = item.config.stash.get(_KEY_BUDGET, 1.0)
    marker = item.get_closest_marker(MARKER)
    if marker is not None and "budget" in marker.kwargs:
        budget *= _parse_budget("budget", marker.kwargs["budget"], f"marker {MARKER} of {item.nodeid}")
    if marker is not None:
        extra = sorted(set(marker.kwargs) - {"budget"})
        if extra or marker.args:
            raise pytest.UsageError(f"marker {MARKER!r} of {item.nodeid} takes only budget=B; got "
                                    f"{list(marker.args) + extra}. Fix: use @pytest.mark.{MARKER} or "
                                    f"@pytest.mark.{MARKER}(budget=0.5).")
    return budget


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Run an ``ifmf`` test with its budget in ``IFMF_BUDGET`` (restored afterwards)."""
    if item.get_closest_marker(MARKER) is None:
        yield
        return
    budget = _item_budget(item)
    before = os.environ.get(_ENV)
    os.environ[_ENV] = repr(budget)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = before


def pytest_report_header(config: pytest.Config) -> str:
    budget = config.stash.get(_KEY_BUDGET, 1.0)
    profile = f"hypothesis profile {PROFILE!r} registered" if convergence_settings is not None else \
        "hypothesis not installed (no profile)"
    return f"ifmf: budget {budget:g} (replicates x B, sizes x sqrt(B)); {profile}"


@pytest.fixture
def ifmf_budget(request: pytest.FixtureRequest) -> float:
    """The budget the ifmf assertions use in this test (``--ifmf-budget`` times the marker's ``budget``)."""
    return _item_budget(request.node)
