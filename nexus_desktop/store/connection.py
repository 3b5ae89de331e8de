"""Opening APSW connections the one way the app does it, and turning SQLite errors into
messages a user can act on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import apsw
import apsw.bestpractice

from nexus_desktop.errors import ReadOnlyStorageError, StorageFullError, StoreError

# Several threads write (the model thread, the index thread, the UI's quick edits), and
# each commit waits for the disk; a generous timeout turns lock waits into short stalls
# instead of errors.
BUSY_TIMEOUT_MS = 10_000

_best_practice_lock = threading.Lock()
_best_practice_applied = False


def apply_best_practice() -> None:
    """Install APSW's recommended connection hooks once per process."""
    global _best_practice_applied
    with _best_practice_lock:
        if not _best_practice_applied:
            apsw.bestpractice.apply(apsw.bestpractice.recommended)
            _best_practice_applied = True


def open_connection(path: Path, *, readonly: bool = False) -> apsw.Connection:
    """A connection with WAL, foreign keys, FULL sync and the app's busy timeout."""
    apply_best_practice()
    flags = apsw.SQLITE_OPEN_READONLY if readonly else (
        apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    )
    with translate_errors(path):
        connection = apsw.Connection(str(path), flags=flags)
        connection.set_busy_timeout(BUSY_TIMEOUT_MS)
        if not readonly:
            # A user message must survive a power cut once its append has returned.
            connection.pragma("synchronous", "FULL")
    return connection


@contextlib.contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Re-raise disk-full and read-only conditions as errors that say what to do."""
    try:
        yield
    except apsw.FullError:
        raise StorageFullError(
            f"The disk holding {path.parent} is full, so nothing new could be saved. "
            "Free some disk space and try again; everything saved before is safe."
        ) from None
    except (apsw.ReadOnlyError, apsw.PermissionsError, apsw.CantOpenError) as exc:
        raise ReadOnlyStorageError(
            f"Nexus Desktop cannot write to {path} ({exc}). Check that the folder exists, is "
            "not read-only and that you have permission to write there; everything saved "
            "before is safe."
        ) from None
    except apsw.IOError as exc:
        raise StoreError(
            f"The disk reported an error while using {path} ({exc}). Check the disk; "
            "everything saved before the error is safe."
        ) from None


def quick_check(connection: apsw.Connection) -> list[str]:
    """SQLite's quick integrity check; an empty list means the file is sound."""
    problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    return [] if problems == ["ok"] else problems
