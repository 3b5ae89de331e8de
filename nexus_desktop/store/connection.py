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


def connection_app_busy_timeout(connection: apsw.Connection) -> None:
    """The app's busy timeout, in place of APSW's 100 ms, before the other hooks run."""
    connection.set_busy_timeout(BUSY_TIMEOUT_MS)


def _connection_hooks() -> tuple:
    """APSW's recommended hooks with two changes.

    The busy timeout is the app's: the WAL hook may wait for a lock while other threads
    write. ``PRAGMA optimize`` does not run on every new connection: it may run ANALYZE,
    whose first run creates the statistics tables, and doing that while other threads
    write made appends fail with "database is locked" (and it wrote to files the app was
    about to refuse or set aside as damaged). ``Database.open`` runs it once instead.
    """
    hooks = []
    for hook in apsw.bestpractice.recommended:
        if hook is apsw.bestpractice.connection_busy_timeout:
            hooks.append(connection_app_busy_timeout)
        elif hook is not apsw.bestpractice.connection_optimize:
            hooks.append(hook)
    return tuple(hooks)


def apply_best_practice() -> None:
    """Install APSW's recommended connection hooks once per process."""
    global _best_practice_applied
    with _best_practice_lock:
        if not _best_practice_applied:
            apsw.bestpractice.apply(_connection_hooks())
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
def write_transaction(connection: apsw.Connection) -> Iterator[apsw.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken first, waiting up to the busy
    timeout, and the block is rolled back if anything in it fails.

    ``with connection:`` (a deferred SAVEPOINT) is not used for writes: its first statement
    on a new connection reads the schema, and SQLite cannot then wait for the write lock,
    so an append from a second thread failed at once with "database is locked". APSW's
    ``transaction_mode = "IMMEDIATE"`` waits while holding the GIL, which stalls the
    thread that holds the lock (every writer then timed out after 10 s).
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Re-raise disk-full and read-only conditions as errors that say what to do."""
    try:
        yield
    except apsw.BusyError:
        raise StoreError(
            f"The database {path} stayed locked by another program for "
            f"{BUSY_TIMEOUT_MS // 1000} seconds, so nothing was changed. Close other copies of "
            "Nexus Desktop (or anything else that has the file open) and try again."
        ) from None
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
