"""Atomic file writes: write to a temporary file in the same folder, flush, then rename over the target.

A write killed half-way leaves at most a hidden temporary file (`.NAME.XXXX.tmp`), never a truncated
target; `remove_leftovers` clears those at the next start.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is fsynced and renamed onto `target`.

    `suffix` lets writers that insist on an extension (SB3 appends ".zip") keep it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what a plain open() would
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: str | os.PathLike[str], write: Callable[[Path], object], suffix: str = "") -> Path:
    """Call `write(tmp_path)` and move the result onto `target` atomically; returns `target`."""
    with atomic_path(target, suffix) as tmp:
        write(tmp)
    return Path(target)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically."""
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that writes killed half-way left in `folder`; returns what went."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    gone = [p for p in folder.glob(".*.tmp*") if p.is_file()]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def unwritable_reason(path: str | os.PathLike[str], *, folder: bool) -> str | None:
    """Why a file (or, with `folder`, a folder) could not be made at `path` by this process; None if it can.

    Nothing is written: the nearest existing folder on the way must be writable, and `path` itself, where
    it exists, must be of the kind asked for.
    """
    path = Path(path)
    if path.exists():
        if folder != path.is_dir():
            return f"it is {'a file' if folder else 'a folder'}"
        parent = path if folder else path.parent
    else:
        parent = next(p for p in path.absolute().parents if p.exists())
        if not parent.is_dir():
            return f"{str(parent)!r} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{str(parent)!r} is not writable"
    return None
