"""Every code block of ``docs/`` and of ``README.md`` runs (issue 11), and the docs stand on their own.

Rules (``docs/writing-docs.md`` states them for authors):

* ```` ```python ```` blocks run in order, one namespace per page, in a fresh working folder per page
  (a page that declares ``<!-- docs-test: slow -->`` runs in the slow tier);
* ```` ```bash ```` blocks: each line starting with ``ifmf`` runs through :func:`verification.cli.main`
  in that folder (``*`` patterns are expanded as a shell would); it must exit with 0, or with the code
  a trailing ``# exit N`` comment announces.  Any other command line (installing, running the whole
  test suite) must be a command of ``.ci/run``, which CI executes: each ``&&`` part must appear there;
* ```` ```toml ```` blocks whose first line is ``# file: NAME.toml`` are written to that file (for a
  later ``ifmf solve NAME.toml``) and must be valid TOML; ```` ```text ```` blocks are output or
  diagrams and are not run; a block with any other tag (or none) fails the test;
* no page mentions ``SPEC`` (users do not have it), every relative link points to an existing file,
  and every page of ``docs/`` is reachable from ``docs/index.md``.
"""
from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FILES = [ROOT / "README.md", *PAGES]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def blocks(path: Path) -> list[tuple[str, str, int]]:
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text[:m.start()].count("\n") + 1) for m in FENCE.finditer(text)]


def _ci_commands() -> str:
    return (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _run_ifmf(line: str, where: str) -> None:
    from verification.cli import main

    m = re.search(r"#\s*runs in (\S+)\s*$", line)
    if m:  # a long command (the main job) run by a test of its own: check that the test runs exactly it
        test = ROOT / m.group(1)
        assert test.is_file(), f"{where}: `{line}` names {m.group(1)}, which does not exist"
        tokens = shlex.split(line, comments=True)[1:]
        text = test.read_text(encoding="utf-8")
        assert all(f'"{tok}"' in text for tok in tokens), f"{where}: {m.group(1)} does not run `{line}`"
        return
    expected = 0
    m = re.search(r"#\s*exit\s+(\d+)\s*$", line)
    if m:
        expected = int(m.group(1))
    argv = []
    for tok in shlex.split(line, comments=True)[1:]:
        argv.extend(sorted(glob.glob(tok)) or [tok] if any(c in tok for c in "*?[") else [tok])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # --help
            code = exc.code
    assert code == expected, f"{where}: `{line}` exited {code}, expected {expected}\n{out.getvalue()}{err.getvalue()}"


def _run_page(path: Path, workdir: Path) -> None:
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    ci = _ci_commands()
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for lang, code, line in blocks(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if lang == "python":
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the docs' own examples
            elif lang == "bash":
                for cmd in code.splitlines():
                    cmd = cmd.strip()
                    if not cmd or cmd.startswith("#"):
                        continue
                    if cmd.startswith("ifmf ") or cmd == "ifmf":
                        _run_ifmf(cmd, where)
                    else:
                        for part in cmd.split("&&"):
                            assert part.strip() in ci, f"{where}: `{part.strip()}` is neither ifmf nor in .ci/run"
            elif lang == "toml":
                first = code.splitlines()[0] if code.strip() else ""
                data = tomllib.loads(code)
                m = re.match(r"#\s*file:\s*(\S+)", first)
                if m:
                    Path(m.group(1)).write_text(code, encoding="utf-8")
                assert isinstance(data, dict)
            elif lang != "text":
                raise AssertionError(f"{where}: code block with tag {lang!r}: use python, bash, toml or text")
    finally:
        os.chdir(old)


def _param(path: Path):
    """A page that declares ``<!-- docs-test: slow ... -->`` (seconds of work) runs in the slow tier."""
    slow = "<!-- docs-test: slow" in path.read_text(encoding="utf-8")
    return pytest.param(path, id=str(path.relative_to(ROOT)), marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("path", [_param(p) for p in FILES])
def test_code_blocks_run(path, tmp_path):
    assert blocks(path) or path.name in ("writing-docs.md",), f"{path} has no example"
    _run_page(path, tmp_path)


def test_docs_stand_alone():
    assert (DOCS / "index.md").exists()
    linked: set[Path] = set()
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        if path.parent != ROOT or path.name != "README.md":
            assert "SPEC" not in text, f"{path}: users do not have the SPEC; write it in the project's words"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            dest = (path.parent / target).resolve()
            assert dest.exists(), f"{path}: broken link {target}"
            if dest.suffix == ".md":
                linked.add(dest)
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    reachable, todo = {DOCS / "index.md"}, [DOCS / "index.md"]
    while todo:
        page = todo.pop()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            dest = (page.parent / target).resolve()
            if dest.suffix == ".md" and dest.exists() and dest not in reachable and DOCS in dest.parents:
                reachable.add(dest)
                todo.append(dest)
    missing = [str(p.relative_to(ROOT)) for p in PAGES if p.resolve() not in reachable]
    assert not missing, f"pages not reachable from docs/index.md: {missing}"
    assert "docs/index.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert index.count("](") >= len(PAGES) - 1


def test_every_public_module_has_a_page():
    expected = ["solvers.model", "solvers.graphons", "solvers.quadrature", "solvers.validation", "solvers.particles",
                "solvers.meanfield", "solvers.references", "verification.graphs", "verification.hypotheses",
                "verification.studies", "cli"]
    have = {p.stem for p in (DOCS / "modules").glob("*.md")}
    assert set(expected) <= have, sorted(set(expected) - have)
    studies = (DOCS / "modules" / "verification.studies.md").read_text(encoding="utf-8")
    for mod in ("verification.config", "verification.sweep", "verification.rates", "verification.observables",
                "verification.report"):
        assert mod in studies
