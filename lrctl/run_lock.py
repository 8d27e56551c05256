"""One writer per run folder: an OS file lock held while a command writes into the folder.

The lock is `filelock`'s (``flock`` on Unix): the kernel drops it when its process ends, even on
``kill -9``, so a stale lock never blocks. Beside it the holder writes its process id, so a second
writer is told which process holds the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lrctl.errors import RunFolderBusy

LOCK_FILE = ".lrctl.lock"
OWNER_FILE = ".lrctl.lock.owner"


@contextmanager
def run_folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the write lock of `folder` (which must exist) for the block, or raise `RunFolderBusy`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run_dir, run_folder_lock(run_dir):
        ...     pass  # write into run_dir; a second writer is refused meanwhile
    """
    folder = Path(folder)
    lock = FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderBusy(f"run folder {str(folder)!r} is in use by {_holder(folder)}; wait for it to end "
                            "or choose another folder") from None
    owner = folder / OWNER_FILE
    try:
        owner.write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        # Unlinked before the release: a writer that opened this file meanwhile fails (the lock is never
        # waited on), and one that comes later makes a new file, so a run folder keeps no lock behind.
        owner.unlink(missing_ok=True)
        (folder / LOCK_FILE).unlink(missing_ok=True)
        lock.release()


def _holder(folder: Path) -> str:
    try:
        pid = int((folder / OWNER_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return "another process"
    return f"process {pid}"
