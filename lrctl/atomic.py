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

NAME_MAX = 255
"""The longest file name, in bytes, on the file systems lrctl writes to (ext4, XFS, APFS, NTFS)."""
_TEMP_STEM_BYTES = 200

@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is fsynced and renamed onto `target`.

    `suffix` lets writers that insist on an extension (SB3 appends ".zip") keep it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The target's name, cut so that the temporary name stays within NAME_MAX however long the target's is.
    stem = os.fsdecode(os.fsencode(target.name)[:_TEMP_STEM_BYTES])
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=target.parent)
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


def output_name_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be written under its name (not UTF-8, a part longer than `NAME_MAX`); None if fine.

    Checked before any compute, so that a name no file system or report can hold never ends a long run.
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    for part in Path(text).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            return f"a part of it is {len(os.fsencode(part))} bytes long, above the limit of {NAME_MAX}"
    return None


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether `path` is `folder` or lies inside it, links resolved."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())
