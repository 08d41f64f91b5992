"""Output files of the ``ifmf`` commands: checked before any work, written atomically, never lost.

Rules every command follows for a file it writes (``--out``, ``--csv``, ``--out-dir``):

* before any computation, :func:`check_output` refuses an empty path, a folder, a missing folder, an
  existing file (unless ``--force``) and a folder where no file can be created (read-only file
  system, permissions: a probe file is created and removed, since permission bits alone do not tell);
* :func:`write_atomic` writes to a temporary file in the same folder and renames it over the target,
  so a reader sees the old file or the new one, never a part.  The file gets the permissions
  ``open()`` would give it (``0o666`` minus the umask; a replaced file keeps its own mode), not the
  ``0o600`` of ``tempfile.mkstemp``;
* if the final write still fails (disk full, the folder became read-only), :func:`save_with_fallback`
  writes the same bytes to a fallback file (the temporary folder, then the home folder, then the
  working folder) and returns where they went, or ``None`` when nothing could be written; the
  command then says so on stderr and exits with code 1.
"""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from typing import BinaryIO

from solvers.errors import bad_argument
from verification._files import write_atomic

__all__ = ["check_output", "write_atomic", "save_with_fallback", "report_fallback", "fallback_folders"]

logger = logging.getLogger(__name__)

Writer = Callable[[BinaryIO], None]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _probe(folder: str) -> OSError | None:
    """Create and remove an empty file in ``folder``; the error when that is impossible."""
    probe = os.path.join(folder, f".ifmf-probe-{secrets.token_hex(6)}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return exc
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:  # pragma: no cover - created but not removable: still writable
        pass
    return None


def check_output(flag: str, path: str | None, *, force: bool, suffixes: tuple[str, ...] = (),
                 example: str = "run.npz") -> str:
    """Check that ``path`` (given with ``flag``) can be written; returns its absolute path.

    Raises :class:`~solvers.errors.InvalidArgumentError` naming ``flag`` for an empty path, a
    suffix not in ``suffixes``, a folder, a missing parent folder, an existing file without
    ``force``, or a folder in which no file can be created.
    """
    if path is None or str(path).strip() == "":
        raise bad_argument(flag, path, "is an empty path", f"pass a file name, e.g. {flag} {example}")
    path = os.fspath(path)
    if suffixes and not path.lower().endswith(suffixes):
        raise bad_argument(flag, path, f"must end with {' or '.join(suffixes)}", f"pass e.g. {flag} {example}")
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise bad_argument(flag, path, "is a folder", f"pass a file name inside it, e.g. {flag} "
                           f"{os.path.join(path, example)}")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise bad_argument(flag, path, f"its folder {folder} does not exist", f"create it first (mkdir -p {folder})")
    if os.path.lexists(full) and not force:
        raise bad_argument(flag, path, "exists already (ifmf never overwrites a file silently)",
                           "pass --force to replace it, or choose another name")
    err = _probe(folder)
    if err is not None:
        raise bad_argument(flag, path, f"cannot be written: creating a file in {folder} fails ({_reason(err)})",
                           "choose a writable folder (check its permissions, a read-only file system, free space)")
    return full


def fallback_folders() -> list[str]:
    """Where :func:`save_with_fallback` tries to put a file it could not write where asked."""
    out = []
    for d in (tempfile.gettempdir(), os.path.expanduser("~"), os.getcwd()):
        if d and os.path.isdir(d) and os.path.abspath(d) not in out:
            out.append(os.path.abspath(d))
    return out


def save_with_fallback(path: str, write: Writer) -> tuple[str | None, str]:
    """Write ``path`` atomically; if that fails, write the same contents to a fallback file.

    Returns ``(where, reason)``: ``where`` is ``path`` on success (``reason`` empty), the fallback
    file when the target failed (``reason`` says why), or ``None`` when no file could be written.
    """
    try:
        write_atomic(path, write)
        return os.path.abspath(path), ""
    except OSError as exc:
        reason = _reason(exc)
        logger.warning("could not write %s (%s); trying a fallback file", path, reason)
    stem, ext = os.path.splitext(os.path.basename(path))
    name = f"ifmf-{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{ext}"
    for folder in fallback_folders():
        target = os.path.join(folder, name)
        if os.path.lexists(target) or os.path.abspath(folder) == os.path.dirname(os.path.abspath(path)):
            continue
        try:
            write_atomic(target, write)
            return target, reason
        except OSError as exc:  # try the next folder
            logger.warning("fallback %s failed too (%s)", target, _reason(exc))
    return None, reason


def report_fallback(command: str, flag: str, path: str, where: str | None, reason: str) -> int:
    """Tell the user (stderr) where the results went after a failed write; returns exit code 1."""
    import sys

    if where is None:
        print(f"ifmf {command}: error: could not write {flag} {path} ({reason}), nor a fallback file in "
              f"{', '.join(fallback_folders())}: the results were NOT saved", file=sys.stderr)
    else:
        print(f"ifmf {command}: error: could not write {flag} {path} ({reason}); the results were written "
              f"to {where} instead", file=sys.stderr)
    return 1
