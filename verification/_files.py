"""Atomic file writing shared by the library (study store, reports) and the command line.

:func:`write_atomic` writes to a temporary file in the target's folder, fsyncs it, renames it over the
target and fsyncs the folder, so a reader sees the old file or the new one, never a part.  The file
gets the permissions ``open()`` would give it (``0o666`` minus the umask; a replaced file keeps its
own mode), not the ``0o600`` of ``tempfile.mkstemp``.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["write_atomic", "atomic_write_bytes", "atomic_write_text"]

Writer = Callable[[BinaryIO], None]


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, write: Writer) -> None:
    """Write a file atomically: ``write(fh)`` on a temporary file of the same folder, fsync, rename.

    The temporary file is created with mode ``0o666`` (the kernel applies the umask, as for
    ``open()``); when ``path`` exists its mode is kept.  On any failure the temporary file is removed
    and the error propagates.
    """
    full = os.path.abspath(path)
    folder, base = os.path.split(full)
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            mode = os.stat(full).st_mode & 0o7777
        except OSError:
            mode = None
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, full)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """:func:`write_atomic` of ``data``."""
    write_atomic(os.fspath(path), lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`write_atomic` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
