"""Recovering from a damaged database file.

The damaged file is moved aside (never deleted), the newest sound backup takes its
place, and every row that can still be read from the damaged file is copied over the
backup's. The report says exactly what was restored, salvaged and lost.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import apsw

from nexus_desktop.errors import StoreError
from nexus_desktop.store.backups import Backup, BackupManager
from nexus_desktop.store.connection import open_connection, translate_errors, write_transaction

# Tables whose rows are copied from the damaged file; the FTS index is rebuilt instead.
SALVAGED_TABLES = ("sessions", "messages", "events", "meta")


@dataclass
class TableSalvage:
    changed: int = 0
    lost: list[object] = field(default_factory=list)
    # Rows the damaged file could not give back but the restored backup holds.
    from_backup: list[object] = field(default_factory=list)
    # True when every key of the damaged table could be listed, so ``lost`` is exact.
    complete: bool = False


@dataclass
class RecoveryReport:
    problem: str
    damaged_copy: Path
    backup: Backup | None
    messages_in_backup: int = 0
    messages: TableSalvage = field(default_factory=TableSalvage)

    def describe(self) -> str:
        """A plain account for the user of what happened and what, if anything, was lost."""
        lines = [
            f"Your Nexus Desktop database was damaged ({self.problem}).",
            f"The damaged file was kept at {self.damaged_copy}.",
        ]
        if self.backup is not None:
            lines.append(
                f"Restored {self.backup.describe()}, which holds {self.messages_in_backup} "
                "messages."
            )
        else:
            lines.append("No usable backup was found, so a new database was started.")
        if self.messages.changed:
            lines.append(
                f"Recovered {self.messages.changed} messages from the damaged file that the "
                "backup did not have or had in an older state."
            )
        kept = sorted(int(key) for key in self.messages.from_backup)  # type: ignore[call-overload]
        if kept:
            lines.append(
                f"{len(kept)} messages could not be read from the damaged file; the backup's "
                f"copies of them were kept (numbers {_ranges(kept)})."
            )
        lost = sorted(int(key) for key in self.messages.lost)  # type: ignore[call-overload]
        if lost:
            lines.append(f"Lost: {len(lost)} messages could not be read (numbers {_ranges(lost)}).")
        if not self.messages.complete:
            since = (
                f"after {self.backup.taken_at.astimezone():%Y-%m-%d %H:%M}"
                if self.backup is not None
                else "before now"
            )
            lines.append(
                "Lost: the damaged file could not be read in full, so messages written "
                f"{since} that are not listed above as recovered are gone."
            )
        elif not lost:
            lines.append("Nothing was lost.")
        return "\n".join(lines)


def _ranges(ids: list[int]) -> str:
    parts: list[str] = []
    start = prev = ids[0]
    for number in ids[1:]:
        if number == prev + 1:
            prev = number
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = number
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def move_aside(database: Path, folder: Path) -> Path:
    """Move the database and its WAL/SHM files into a folder of their own."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target_dir = folder / f"damaged-{stamp}"
    target_dir.mkdir(parents=True)
    target = target_dir / database.name
    for suffix in ("", "-wal", "-shm"):
        source = database.with_name(database.name + suffix)
        if source.exists():
            shutil.move(source, target.with_name(target.name + suffix))
    return target


def recover(
    database: Path,
    backups: BackupManager,
    problem: str,
    prepare: Callable[[apsw.Connection], None],
) -> RecoveryReport:
    """Replace a damaged database with the newest sound backup plus whatever can be salvaged.

    ``prepare`` brings the restored (or new) database to the current schema before rows
    from the damaged file are copied into it.
    """
    damaged = move_aside(database, backups.folder)
    backup = backups.newest_sound()
    report = RecoveryReport(problem=problem, damaged_copy=damaged, backup=backup)
    if backup is not None:
        with translate_errors(database):
            shutil.copyfile(backup.path, database)
    connection = open_connection(database)
    try:
        prepare(connection)
        report.messages_in_backup = connection.execute("SELECT count(*) FROM messages").get
        _salvage(connection, damaged, report)
    finally:
        connection.close()
    return report


def _salvage(target: apsw.Connection, damaged: Path, report: RecoveryReport) -> None:
    try:
        source = open_connection(damaged, readonly=True)
    except StoreError:
        return
    try:
        with translate_errors(damaged), write_transaction(target):
            for table in SALVAGED_TABLES:
                result = _copy_rows(source, target, table)
                if table == "messages":
                    report.messages = result
            target.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    finally:
        source.close()


def _copy_rows(source: apsw.Connection, target: apsw.Connection, table: str) -> TableSalvage:
    """Copy each readable row of ``table`` over the target's row with the same key."""
    result = TableSalvage()
    try:
        source_columns = {row[1] for row in source.execute(f"PRAGMA table_info({table})")}
    except apsw.Error:
        return result
    columns = [
        row[1] for row in target.execute(f"PRAGMA table_info({table})") if row[1] in source_columns
    ]
    if not columns:
        return result
    key = "key" if table == "meta" else "rowid"
    try:
        keys = [row[0] for row in source.execute(f"SELECT {key} FROM {table}")]
        result.complete = True
    except apsw.Error:
        keys = _probe_rowids(source, target, table) if key == "rowid" else []
    column_list = ", ".join(columns)
    placeholders = ", ".join("?" for _ in columns)
    select = f"SELECT {column_list} FROM {table} WHERE {key} = ?"
    for row_key in keys:
        try:
            row = source.execute(select, (row_key,)).fetchone()
        except apsw.Error:
            # Lost only if the restored backup does not have the row either.
            if target.execute(select, (row_key,)).fetchone() is None:
                result.lost.append(row_key)
            else:
                result.from_backup.append(row_key)
            continue
        if row is not None and target.execute(select, (row_key,)).fetchone() != row:
            target.execute(
                f"INSERT OR REPLACE INTO {table} ({column_list}) VALUES ({placeholders})", row
            )
            result.changed += 1
    return result


def _probe_rowids(source: apsw.Connection, target: apsw.Connection, table: str) -> list[int]:
    """Rowids to try one by one when the damaged table cannot be scanned."""
    highest = target.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").get
    with contextlib.suppress(apsw.Error):
        highest = max(highest, source.execute(f"SELECT max(rowid) FROM {table}").get or 0)
    return list(range(1, highest + 1))
