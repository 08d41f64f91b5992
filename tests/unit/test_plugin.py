"""The pytest plugin (entry point ``pytest11``): marker, ``--ifmf-budget``, the hypothesis profile, the
fixture, the header; inner pytest sessions run in process (``pytester``) with the installed plugin."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import Phase, settings

import verification.assertions  # noqa: F401 (loaded before the in-process sessions: numpy loads once per process)
from verification import pytest_plugin

pytest_plugins = ["pytester"]

INNER = """
import os
import pytest
from verification.assertions import current_budget

@pytest.mark.ifmf
def test_marked(ifmf_budget):
    assert ifmf_budget == float(os.environ["EXPECT"])
    assert current_budget() == ifmf_budget

@pytest.mark.ifmf(budget=0.5)
def test_half(ifmf_budget):
    assert ifmf_budget == 0.5 * float(os.environ["EXPECT"]) == current_budget()

def test_unmarked(ifmf_budget):
    assert ifmf_budget == float(os.environ["EXPECT"])
"""


def test_the_entry_point_is_installed():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert eps.get("ifmf") == "verification.pytest_plugin"


@pytest.mark.parametrize("args, env, expect", [((), None, 1.0), (("--ifmf-budget", "2"), None, 2.0),
                                               ((), "3", 3.0), (("--ifmf-budget=0.25",), "3", 0.25)])
def test_budget_from_the_option_the_environment_or_the_default(pytester, monkeypatch, args, env, expect):
    if env is None:
        monkeypatch.delenv("IFMF_BUDGET", raising=False)
    else:
        monkeypatch.setenv("IFMF_BUDGET", env)
    monkeypatch.setenv("EXPECT", repr(expect))
    pytester.makepyfile(INNER)
    result = pytester.runpytest("--strict-markers", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=3)
    header = f"ifmf: budget {expect:g} (replicates x B, sizes x sqrt(B)); hypothesis profile 'ifmf'*"
    result.stdout.fnmatch_lines([header])
    # the session restores the environment it changed
    assert os.environ.get("IFMF_BUDGET") == env


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan"])
def test_a_bad_budget_is_a_usage_error_naming_the_option(pytester, value):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--ifmf-budget", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "argument '--ifmf-budget'" in result.stderr.str() and "Fix:" in result.stderr.str()


def test_a_bad_budget_in_the_environment_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("IFMF_BUDGET", "lots")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "IFMF_BUDGET" in result.stderr.str()


def test_a_bad_marker_is_reported(pytester):
    pytester.makepyfile("import pytest\n\n@pytest.mark.ifmf(3)\ndef test_x():\n    pass\n\n"
                        "@pytest.mark.ifmf(budget='x')\ndef test_y():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*takes only budget=B*", "*argument 'budget' = 'x'*"])


def test_the_marker_selects_convergence_checks(pytester, monkeypatch):
    monkeypatch.delenv("IFMF_BUDGET", raising=False)
    monkeypatch.setenv("EXPECT", "1.0")
    pytester.makepyfile(INNER)
    result = pytester.runpytest("--strict-markers", "-p", "no:cacheprovider", "-m", "not ifmf", "-q")
    result.assert_outcomes(passed=1, deselected=2)


def test_the_convergence_profile():
    prof = settings.get_profile(pytest_plugin.PROFILE)
    assert prof.derandomize and prof.deadline is None and prof.max_examples == 5 and prof.database is None
    assert Phase.explain not in prof.phases and Phase.shrink in prof.phases and prof.print_blob
    assert not prof.report_multiple_bugs
    c = pytest_plugin.convergence_settings
    assert (c.derandomize, c.deadline, c.max_examples, tuple(c.phases)) == (True, None, 5, tuple(prof.phases))


def test_the_plugin_is_light():
    code = "import sys, verification.pytest_plugin; print('numpy' in sys.modules, 'solvers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
