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
from nexus_desktop.store import archive
from nexus_desktop.store.backups import Backup, BackupManager
from nexus_desktop.store.connection import open_connection, translate_errors, write_transaction

# Tables whose rows are copied from the damaged file, parents before children; the FTS
# indexes are rebuilt instead.
SALVAGED_TABLES = (
    "sessions", "messages", "events", "meta", "facts", "fact_audit", "summaries",
    "message_archive", "training_examples", "embeddings", "links",
)
# External-content FTS5 indexes, rebuilt from their tables; the contentless index of the
# message archive is rebuilt from the decompressed originals (archive.reindex).
REBUILT_INDEXES = ("messages_fts", "facts_fts", "summaries_fts")


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
    # The other tables of SALVAGED_TABLES, by name.
    tables: dict[str, TableSalvage] = field(default_factory=dict)
    # Messages whose archived original was copied but cannot be decompressed.
    unreadable_archive: list[int] = field(default_factory=list)

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
        lines.extend(self._describe_other_tables())
        return "\n".join(lines)

    def _describe_other_tables(self) -> list[str]:
        recovered = [f"{name} {result.changed}" for name, result in self.tables.items()
                     if result.changed]
        lines = [f"Also recovered from the damaged file (rows per table): "
                 f"{', '.join(recovered)}."] if recovered else []
        lost = [f"{name} {len(result.lost)}" for name, result in self.tables.items()
                if result.lost]
        if lost:
            lines.append(f"Lost: rows that could not be read (per table): {', '.join(lost)}.")
        unscanned = [name for name, result in self.tables.items()
                     if not result.complete and not result.lost]
        if unscanned:
            lines.append(f"Lost: rows of {', '.join(unscanned)} written after the backup may be "
                         "gone (the damaged file could not be read in full).")
        if self.unreadable_archive:
            lines.append(f"The archived originals of messages {_ranges(self.unreadable_archive)} "
                         "could not be decompressed; they were kept as found.")
        return lines


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
    # Rows are copied as they were found: a fact whose source message was lost must not
    # abort the whole salvage on a foreign key.
    target.pragma("foreign_keys", False)
    try:
        with translate_errors(damaged), write_transaction(target):
            for table in SALVAGED_TABLES:
                result = _copy_rows(source, target, table)
                if table == "messages":
                    report.messages = result
                else:
                    report.tables[table] = result
            for index in REBUILT_INDEXES:
                target.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")
            report.unreadable_archive = archive.reindex(target)[1]
    finally:
        target.pragma("foreign_keys", True)
        source.close()


def _copy_rows(source: apsw.Connection, target: apsw.Connection, table: str) -> TableSalvage:
    """Copy each readable row of ``table`` over the target's row with the same key."""
    result = TableSalvage()
    try:
        source_columns = {row[1] for row in source.execute(f"PRAGMA table_info({table})")}
    except apsw.Error:
        return result
    if not source_columns:
        result.complete = True  # the damaged file predates this table: nothing to lose
        return result
    columns = [
        row[1] for row in target.execute(f"PRAGMA table_info({table})") if row[1] in source_columns
    ]
    if not columns:
        return result
    key = _key_columns(target, table)
    try:
        keys: list[object] = [
            row[0] if len(key) == 1 else tuple(row)
            for row in source.execute(f"SELECT {', '.join(key)} FROM {table}")
        ]
        result.complete = True
    except apsw.Error:
        keys = list(_probe_rowids(source, target, table)) if key == ["rowid"] else []
    column_list = ", ".join(columns)
    placeholders = ", ".join("?" for _ in columns)
    select = f"SELECT {column_list} FROM {table} WHERE " + " AND ".join(f"{c} = ?" for c in key)
    for row_key in keys:
        bindings = row_key if isinstance(row_key, tuple) else (row_key,)
        try:
            row = source.execute(select, bindings).fetchone()
        except apsw.Error:
            # Lost only if the restored backup does not have the row either.
            if target.execute(select, bindings).fetchone() is None:
                result.lost.append(row_key)
            else:
                result.from_backup.append(row_key)
            continue
        if row is not None and target.execute(select, bindings).fetchone() != row:
            target.execute(
                f"INSERT OR REPLACE INTO {table} ({column_list}) VALUES ({placeholders})", row
            )
            result.changed += 1
    return result


def _key_columns(connection: apsw.Connection, table: str) -> list[str]:
    """The columns that identify a row: rowid, or the primary key of a WITHOUT ROWID table."""
    without_rowid = connection.execute(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", (table,)
    ).get
    if not without_rowid:
        return ["rowid"]
    primary = sorted((row[5], row[1]) for row in connection.execute(f"PRAGMA table_info({table})")
                     if row[5])
    return [name for _, name in primary]


def _probe_rowids(source: apsw.Connection, target: apsw.Connection, table: str) -> list[int]:
    """Rowids to try one by one when the damaged table cannot be scanned."""
    highest = target.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").get
    with contextlib.suppress(apsw.Error):
        highest = max(highest, source.execute(f"SELECT max(rowid) FROM {table}").get or 0)
    return list(range(1, highest + 1))
