"""The app's SQLite file: checked, recovered if damaged, migrated, backed up, and shared
between threads with one APSW connection each."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from nexus_desktop.config import Settings
from nexus_desktop.errors import ReadOnlyStorageError, StoreError
from nexus_desktop.store.backups import BackupManager
from nexus_desktop.store.connection import (
    open_connection,
    quick_check,
    translate_errors,
    write_transaction,
)
from nexus_desktop.store.migrate import check_known, migrate, schema_version
from nexus_desktop.store.recovery import RecoveryReport, recover

log = logging.getLogger(__name__)


@dataclass
class OpenReport:
    """What happened while opening the database, for the user and for `doctor`."""

    created: bool = False
    migrated_to: list[int] = field(default_factory=list)
    recovery: RecoveryReport | None = None
    backup_taken: bool = False


class Database:
    """One SQLite file; each thread that touches it gets its own connection."""

    def __init__(self, path: Path, backups_dir: Path, *, backup_keep: int = 5,
                 backup_interval_hours: int = 24) -> None:
        self.path = path
        self.backups = BackupManager(backups_dir, backup_keep)
        self.backup_interval_s = backup_interval_hours * 3600
        self._local = threading.local()
        self._connections: list[apsw.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> OpenReport:
        """Check, recover, migrate and back up the file; call once before anything else."""
        report = OpenReport()
        self._check_writable()
        report.created = not self.path.exists()
        problem = None if report.created else self._problem()
        if problem is not None:
            report.recovery = recover(self.path, self.backups, problem, self._prepare)
            damaged = str(report.recovery.damaged_copy)
            self.record_event("recovery", report.recovery.describe(), {"damaged": damaged})
        else:
            report.migrated_to = self._prepare(self.connection())
        age = self.backups.newest_age_seconds()
        if not report.created and (age is None or age > self.backup_interval_s):
            self.backup("daily")
            report.backup_taken = True
        # Query planner statistics, once per start while no other thread uses the file
        # (not in every new connection: see connection.py). Only an optimisation.
        with contextlib.suppress(apsw.Error):
            self.connection().pragma("optimize", 0x10002)
        return report

    def _prepare(self, connection: apsw.Connection) -> list[int]:
        with translate_errors(self.path):
            if connection.execute("SELECT 1 FROM sqlite_schema LIMIT 1").fetchone() is None:
                _use_incremental_vacuum(connection)  # a new file: before the first table
            applied = migrate(connection, self.backups)  # backs up a file holding data first
            _use_incremental_vacuum(connection)  # an older file: converted once
            return applied

    def _check_writable(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-test-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ReadOnlyStorageError(
                f"Nexus Desktop cannot write to its data folder {folder} ({exc.strerror}). "
                "Make the folder writable, free some disk space, or point NEXUS_HOME at a "
                "writable folder; nothing saved before has been touched."
            ) from None
        # SQLite opens a write-protected file read-only without a word; the first message
        # would then fail. Say so now instead.
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ReadOnlyStorageError(
                f"Nexus Desktop cannot write to its database {self.path} (the file is "
                "read-only). Make the file writable, or point NEXUS_HOME at a writable "
                "folder; nothing saved before has been touched."
            )

    def _problem(self) -> str | None:
        """Why the file cannot be used as it is, or None when it is sound.

        The check reads only: a damaged file is set aside as it was found, and a file from
        a newer version of the app is refused before anything could write to it.
        """
        try:
            connection = open_connection(self.path, readonly=True)
        except (apsw.CorruptError, apsw.NotADBError) as exc:
            return f"SQLite says: {exc}"
        try:
            problems = quick_check(connection)
            version = schema_version(connection)
        except (apsw.CorruptError, apsw.NotADBError) as exc:
            return f"SQLite says: {exc}"
        finally:
            connection.close()
        if problems:
            return "integrity check: " + "; ".join(problems[:3])
        check_known(version)
        return None

    def connection(self) -> apsw.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise StoreError("The database has been closed.")
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = open_connection(self.path)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def backup(self, reason: str) -> Path:
        return self.backups.take(self.connection(), reason).path

    def record_event(self, kind: str, message: str,
                     detail: dict[str, object] | None = None) -> None:
        with translate_errors(self.path), write_transaction(self.connection()) as connection:
            connection.execute(
                "INSERT INTO events(at, kind, message, detail) VALUES (?, ?, ?, ?)",
                (time.time(), kind, message, json.dumps(detail or {})),
            )

    def release_free_pages(self) -> int:
        """Under memory pressure: give this thread's page cache back (``PRAGMA
        shrink_memory``) and the file's free pages back to the disk; returns the pages
        freed on disk."""
        connection = self.connection()
        with translate_errors(self.path):
            connection.execute("PRAGMA shrink_memory").fetchall()
            if connection.pragma("auto_vacuum") != 2:
                return 0
            free = int(connection.pragma("freelist_count"))
            if free:
                with write_transaction(connection):
                    connection.execute("PRAGMA incremental_vacuum").fetchall()
            return free - int(connection.pragma("freelist_count"))

    def quick_check(self) -> list[str]:
        return quick_check(self.connection())

    def close(self) -> None:
        """Close every thread's connection; the threads must be done with them."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


def _use_incremental_vacuum(connection: apsw.Connection) -> None:
    """Switch the file to ``auto_vacuum = INCREMENTAL``, so that memory compaction can give
    freed pages back to the disk (``PRAGMA incremental_vacuum``).

    The setting only takes effect when the file is rewritten (VACUUM): instant for a new
    file, once for a file made by an older version. Without disk space for the copy the
    file stays as it is, fully usable, and the switch is tried again at the next start.
    """
    if connection.pragma("auto_vacuum") == 2:
        return
    connection.pragma("auto_vacuum", 2)
    try:
        connection.execute("VACUUM")
    except apsw.FullError:
        log.warning("Not enough disk space to convert the database for incremental vacuum; "
                    "it stays as it is until the next start.")


def app_database(path: Path, backups_dir: Path, settings: Settings) -> Database:
    """The app's database file with the backup settings applied (not opened yet)."""
    return Database(
        path, backups_dir,
        backup_keep=settings.get("store.backup_keep"),
        backup_interval_hours=settings.get("store.backup_interval_hours"),
    )
