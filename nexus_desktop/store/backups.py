"""Online backups of the database with APSW's backup API: before each migration and daily."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import apsw

from nexus_desktop.errors import StoreError
from nexus_desktop.store.connection import open_connection, quick_check, translate_errors

_NAME = re.compile(r"^nexus-(\d{8}T\d{6}\d{6})-v(\d+)-([a-z-]+)\.db$")
_STEP_PAGES = 1024


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    schema_version: int
    reason: str

    def describe(self) -> str:
        local = self.taken_at.astimezone()
        return f"the backup of {local:%Y-%m-%d %H:%M} ({self.reason})"


class BackupManager:
    """Takes, lists, prunes and checks backups in one folder."""

    def __init__(self, folder: Path, keep: int) -> None:
        self.folder = folder
        self.keep = keep

    def take(self, source: apsw.Connection, reason: str) -> Backup:
        """Copy the live database page by page while it stays usable, then prune old copies."""
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        version = source.pragma("user_version")
        final = self.folder / f"nexus-{now:%Y%m%dT%H%M%S%f}-v{version}-{reason}.db"
        temp = final.with_suffix(".partial")
        with translate_errors(final):
            destination = apsw.Connection(str(temp))
            try:
                with destination.backup("main", source, "main") as backup:
                    while not backup.done:
                        backup.step(_STEP_PAGES)
                # Backups are single files that can be copied anywhere, so no WAL.
                destination.pragma("journal_mode", "delete")
            finally:
                destination.close()
            with temp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(temp, final)
        self.prune()
        return Backup(final, now, version, reason)

    def all(self) -> list[Backup]:
        """Backups, newest first."""
        found = []
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                match = _NAME.match(path.name)
                if match:
                    taken = datetime.strptime(match[1], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
                    found.append(Backup(path, taken, int(match[2]), match[3]))
        return sorted(found, key=lambda b: b.taken_at, reverse=True)

    def newest_age_seconds(self) -> float | None:
        backups = self.all()
        if not backups:
            return None
        return time.time() - backups[0].taken_at.timestamp()

    def prune(self) -> None:
        for old in self.all()[self.keep:]:
            old.path.unlink(missing_ok=True)

    def newest_sound(self) -> Backup | None:
        """The newest backup that passes SQLite's quick check and holds the schema version
        its name says (an empty or truncated-to-nothing file passes the quick check)."""
        for backup in self.all():
            try:
                connection = open_connection(backup.path, readonly=True)
            except (StoreError, apsw.Error):
                continue
            try:
                if (not quick_check(connection)
                        and connection.pragma("user_version") == backup.schema_version):
                    return backup
            except apsw.Error:
                continue
            finally:
                connection.close()
        return None
