"""One process at a time works on a data folder.

The desktop app holds the lock for as long as it runs, and so does every command that
opens the memory itself (a headless engine for `ask`, `status`, `learn`; the database for
`facts`, `skills`, `memory`; `export` and `import`). SQLite would keep two writers
consistent, but the rest of the memory would not: an import moves the database file away
under the other process, a recovery puts a backup in its place, and two learners would
write the same adapter versions. Commands therefore ask the running app to do the work
(over its local channel) and open the memory themselves only when no app runs.

The lock is an OS file lock (``flock``, or ``msvcrt.locking`` on Windows): it ends with
the process that held it, so a crash never leaves the memory locked.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from nexus_desktop.errors import NexusError
from nexus_desktop.paths import AppPaths

log = logging.getLogger(__name__)

LOCK_FILE = "in-use.lock"
# Windows locks byte ranges that others then cannot read: the lock is on a byte far past
# the holder's description, which stays readable.
_LOCKED_OFFSET = 1 << 20


class DataInUseError(NexusError):
    """Another process works on this data folder now."""


class DataLock:
    """The held lock; ``release`` (or the end of a ``with`` block) gives it up."""

    def __init__(self, handle: IO[str] | None, path: Path) -> None:
        self._handle: IO[str] | None = handle
        self.path = path

    @classmethod
    def acquire(cls, paths: AppPaths, purpose: str) -> DataLock:
        """Take the lock for ``purpose`` (said to whoever finds it taken), or raise
        DataInUseError saying who has it."""
        path = paths.data_dir / LOCK_FILE
        try:
            paths.data_dir.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        except OSError as exc:
            # A folder this process cannot write to, it cannot change either: the store
            # says so clearly when it opens, and nothing needs keeping out meanwhile.
            log.warning("cannot open %s (%s); going on without the data lock", path, exc)
            return cls(None, path)
        if not _try_lock(handle):
            handle.close()
            raise DataInUseError(in_use_message(paths))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "purpose": purpose,
                                 "since": time.time()}))
        handle.flush()
        return cls(handle, path)

    def release(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        handle.seek(0)
        handle.truncate()  # no stale description for the next reader
        handle.flush()
        _unlock(handle)
        handle.close()

    def __enter__(self) -> DataLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def holder(paths: AppPaths) -> dict[str, object] | None:
    """Who holds the lock, as it described itself; None when nobody says."""
    try:
        text = (paths.data_dir / LOCK_FILE).read_text(encoding="utf-8")
        described = json.loads(text)
    except (OSError, ValueError):
        return None
    return described if isinstance(described, dict) else None


def in_use_message(paths: AppPaths) -> str:
    described = holder(paths)
    if described is None:
        who = "another Nexus Desktop process"
    else:
        since = datetime.fromtimestamp(float(described.get("since", 0))).strftime("%H:%M")
        who = (f"{described.get('purpose', 'another Nexus Desktop process')} (process "
               f"{described.get('pid', '?')}, since {since})")
    return (f"The memory in {paths.data_dir} is in use by {who}. Wait until it ends, or "
            "end it, and try again.")


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        handle.seek(_LOCKED_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(_LOCKED_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
