"""Writing files a user would hate to lose: atomically, and cleaning up after a kill -9."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _lock(fd: int, blocking: bool) -> bool:
    """An exclusive advisory lock on ``fd`` (released when the process dies); False if held."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def remove_stale_temp_files(path: Path) -> None:
    """Delete temporary files an interrupted write of ``path`` left behind (a kill -9).

    A writer holds a lock on its temporary file, so a file that can be locked has
    no writer left (without locks, on Windows: untouched for an hour).
    """
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            fd = os.open(tmp, os.O_RDWR)
        except OSError:
            continue
        try:
            if fcntl is not None:
                stale = _lock(fd, blocking=False)
            else:
                stale = time.time() - os.fstat(fd).st_mtime > 3600
        finally:
            os.close(fd)
        if stale:
            try:
                tmp.unlink()
            except OSError:
                pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; leftovers of
    interrupted earlier writes of ``path`` are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _lock(fd, blocking=True)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
            os.replace(tmp, path)  # before closing: the lock covers the whole write
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
