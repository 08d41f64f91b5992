"""The ``ifmf`` command line.

Every sub-command is a module of :mod:`verification.commands` (``NAME``, ``HELP``, optional
``DESCRIPTION`` and ``ALIASES``, ``add_arguments(parser)``, ``run(args) -> exit code``).  The
command modules import the numerical packages inside ``run``, so ``ifmf --help`` stays fast.

Errors: a library error (:class:`~solvers.errors.IfmfError`) is printed as one line
``ifmf COMMAND: error: ...`` on stderr with exit code 2.  Its message names the argument as the
command line spells it: the Python names of the library (``t_end``, ``x_range``) are rewritten to
the flags (``--t-end``, ``--x-range``) of the sub-command, from its parser and its ``ALIASES``.
An operating-system error (``OSError``) and ``MemoryError`` are reported the same way (exit 2);
Ctrl-C exits with code 130 and one line.  ``-v`` / ``--verbose`` works before or after the command.
A command module that runs compiled loops sets ``COMPILES = True``: when numba compiles an ifmf
function during it (a cold cache, see :mod:`solvers._compiled`), one line on stderr says so.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import re
import sys
from collections.abc import Mapping

from solvers import __version__
from solvers.errors import IfmfError
from verification.commands import COMMANDS

DESCRIPTION = """\
ifmf: simulate networks of stochastic integrate-and-fire neurons, solve their mean-field PDE,
and check the hypotheses of the mean-field theorem (Jabin, Schmutz, Zhou 2024) on weight matrices.

Run 'ifmf COMMAND --help' for the options of a command."""

EPILOG = """\
exit codes: 0 success; 1 a check found a violation, or a result could not be written where asked
(the command says where it went); 2 bad input (one line naming the flag, the value, the rule and
the fix); 130 interrupted.  Documentation: the docs/ folder of the ifmf sources (start at
docs/index.md)."""


def _verbose_parent() -> argparse.ArgumentParser:
    # SUPPRESS: a sub-command's -v sets the flag, its absence leaves the top-level value alone
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress to stderr")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ifmf", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ifmf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = _verbose_parent()
    for mod_name in COMMANDS:
        mod = importlib.import_module(f"verification.commands.{mod_name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           epilog=getattr(mod, "EPILOG", None), parents=[parent],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _flags=_flag_names(p, getattr(mod, "ALIASES", {})),
                       _compiles=bool(getattr(mod, "COMPILES", False)))
    return parser


def _flag_names(parser: argparse.ArgumentParser, aliases: Mapping[str, str]) -> dict[str, str]:
    """Python name -> flag: every option's ``dest`` (``t_end`` -> ``--t-end``) plus the command's aliases."""
    out: dict[str, str] = {}
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs and action.dest not in ("help", "verbose"):
            out[action.dest] = longs[0]
    out.update(aliases)
    return out


def translate(message: str, flags: Mapping[str, str]) -> str:
    """Rewrite the library's Python argument names in ``message`` to the command's flags (one pass).

    ``argument 't_end'`` -> ``argument '--t-end'``; ``t_end=10`` (in a fix) -> ``--t-end 10``; a bare
    name with an underscore (``t_end``, unambiguous) -> its flag.  Names that are not arguments of
    the command are left alone.  A flag written ``--param lam=`` stands for a ``NAME=VALUE`` option.
    """
    names = sorted((n for n in flags if flags[n] != n), key=len, reverse=True)
    if not names:
        return message
    alt = "|".join(re.escape(n) for n in names)
    bare = "|".join(re.escape(n) for n in names if "_" in n) or r"(?!x)x"
    pattern = re.compile(rf"argument '(?P<quoted>[^']+)'|(?<![\w.'-])(?P<assign>{alt})=(?!=)(?P<tuple>\([^()]*\))?"
                         rf"|(?<![\w.'-])(?P<bare>{bare})(?![\w'])")

    def repl(m: re.Match) -> str:
        if m.group("quoted") is not None:
            name = m.group("quoted")
            return f"argument '{flags.get(name, name).rstrip('=')}'"
        if m.group("assign") is not None:
            flag = flags[m.group("assign")]
            head = flag if flag.endswith("=") else f"{flag} "
            tup = m.group("tuple")  # x_range=(-5, 10) -> --x-range -5 10
            return head + (" ".join(v.strip() for v in tup[1:-1].split(",")) if tup else "")
        return flags[m.group("bare")].rstrip("=")

    return pattern.sub(repl, message)


def _compile_notice(command: str, compiles: bool):
    """For a command that runs compiled loops: say once, on stderr, when numba starts compiling an
    ifmf function (a cold cache: the first run after installing or changing ifmf)."""
    if not compiles:
        return contextlib.nullcontext()
    from solvers import _compiled

    def notice() -> None:
        where = _compiled.cache_directory()
        tail = (f"once per install; later runs load the cache in {where}" if where is not None else
                "the on-disk cache is disabled, so every run compiles (see the log)")
        print(f"ifmf {command}: compiling numba code for this command, a few seconds ({tail})", file=sys.stderr,
              flush=True)

    return _compiled.on_first_compile(notice)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    prefix = f"ifmf {args.command}: error:"
    try:
        with _compile_notice(args.command, args._compiles):
            return int(args._run(args) or 0)
    except IfmfError as exc:
        print(f"{prefix} {translate(str(exc), args._flags)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{prefix} out of memory; reduce the problem size (see 'ifmf {args.command} --help')",
              file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"{prefix} {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ifmf {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
