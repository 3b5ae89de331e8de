"""The memory lifecycle: full -> compressed -> archived, and back on request.

The most recent ``memory.full_turns`` turns are always left in full. Older messages past
``memory.compress_after_days`` are compressed: a long reply's original goes to the archive
and a summary of its first sentences takes its place; the user's own words are kept.
Compressed turns past ``memory.archive_after_days`` are folded into summaries (one per
stretch of conversation) and archived. Past ``memory.pressure_db_mb`` the age limits are
ignored. Nothing is ever deleted: every original stays in ``message_archive``, searchable
through ``message_archive_fts``, and ``restore_message`` puts it back.

Work is done in short write transactions, so a chat turn waits at most for one batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import apsw

from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError
from nexus_desktop.memory.digest import Said, summarise_reply, summarise_stretch
from nexus_desktop.store import archive
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

DAY_SECONDS = 86_400
# One write transaction handles at most this many messages or this much text.
BATCH_MESSAGES = 200
BATCH_CHARS = 8_000_000
# A summary covers at most this many turns (user messages) or messages, and a pause
# longer than the gap starts a new one: one summary per sitting, roughly.
STRETCH_TURNS = 20
STRETCH_MESSAGES = 60
STRETCH_GAP_SECONDS = 6 * 3600
# An archived user message longer than this is archived too and replaced by its start;
# shorter ones keep their text (they are what the user said, and cost little).
LONG_USER_CHARS = 1_000
VACUUM_STEP_PAGES = 1024
# Pages of FTS5 segment merging per write transaction (see _merge_index).
MERGE_STEP_PAGES = 500
# Streaming replies are still being written; failed ones hold no answer worth summarising.
COMPRESSIBLE = "('complete', 'cancelled', 'interrupted')"


@dataclass
class CompactionReport:
    """What one compaction pass did."""

    pressure: bool = False  # over memory.pressure_db_mb: ages were ignored
    replies_summarised: int = 0  # replies now a summary, their originals archived
    kept_as_is: int = 0  # compressed with their text unchanged (the user's, short replies)
    archived: int = 0  # messages folded into summaries
    long_prompts_archived: int = 0  # long user messages archived when folded
    summaries: int = 0
    archive_bytes: int = 0  # compressed originals added to the archive
    size_before: int = 0  # the file, in bytes
    size_after: int = 0
    reclaimed_bytes: int = 0  # free pages given back to the file system
    seconds: float = 0.0

    @property
    def compressed(self) -> int:
        return self.replies_summarised + self.kept_as_is

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "compressed": self.compressed}

    def describe(self) -> str:
        lines = [
            f"Compressed {self.compressed} messages ({self.replies_summarised} replies "
            f"summarised, their originals archived; {self.kept_as_is} kept as they were).",
            f"Folded {self.archived} messages into {self.summaries} summaries"
            + (f" ({self.long_prompts_archived} long messages of yours archived)."
               if self.long_prompts_archived else "."),
            f"Database {_mb(self.size_before)} -> {_mb(self.size_after)}; "
            f"{_mb(self.reclaimed_bytes)} reclaimed; took {self.seconds:.1f} s.",
        ]
        if self.pressure:
            lines.insert(0, "The database is over its size limit (memory.pressure_db_mb), so "
                            "age limits were ignored.")
        return "\n".join(lines)


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


class _Row(NamedTuple):
    id: int
    session_id: int
    role: str
    created_at: float


class Compactor:
    """One pass of the lifecycle over the whole conversation."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def run(self, now: float | None = None) -> CompactionReport:
        """Compress, archive and reclaim space; ``now`` (epoch seconds) sets the ages."""
        started = time.monotonic()
        now = time.time() if now is None else now
        connection = self.database.connection()
        report = CompactionReport(size_before=_size(connection))
        pressure_bytes = self.settings.get("memory.pressure_db_mb") * 1_048_576
        report.pressure = report.size_before > pressure_bytes
        with translate_errors(self.database.path):
            boundary = self._recent_boundary(connection)
            if boundary is not None:
                compress_before = self._cutoff(now, "compress", report.pressure)
                self._compress(connection, boundary, compress_before, report)
                archive_before = self._cutoff(now, "archive", report.pressure)
                self._archive(connection, boundary, archive_before, report)
            _merge_index(connection, "messages_fts")
            report.reclaimed_bytes = _vacuum(connection)
            report.size_after = _size(connection)
        report.seconds = time.monotonic() - started
        self.database.record_event("compaction", report.describe(), report.as_dict())
        return report

    def _cutoff(self, now: float, stage: str, pressure: bool) -> float:
        """Messages created before this are old enough for ``stage`` (any, under pressure)."""
        if pressure:
            return math.inf
        return now - self.settings.get(f"memory.{stage}_after_days") * DAY_SECONDS

    def _recent_boundary(self, connection: apsw.Connection) -> tuple[float, int] | None:
        """(created_at, id) of the oldest user message among the recent turns: it and
        everything after it stays in full. None when there are no older turns."""
        row = connection.execute(
            "SELECT created_at, id FROM messages WHERE role = 'user' "
            "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?",
            (self.settings.get("memory.full_turns") - 1,),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _compress(self, connection: apsw.Connection, boundary: tuple[float, int],
                  before: float, report: CompactionReport) -> None:
        eligible = (
            f"tier = 'full' AND restored_at IS NULL AND status IN {COMPRESSIBLE} "
            "AND (created_at, id) < (?, ?) AND created_at < ?"
        )
        ids = [row[0] for row in connection.execute(
            f"SELECT id FROM messages WHERE {eligible} ORDER BY created_at, id",
            (*boundary, before),
        )]
        stamp = time.time()
        position = 0
        while position < len(ids):
            with write_transaction(connection):
                chars = 0
                for message_id in ids[position:position + BATCH_MESSAGES]:
                    position += 1
                    # Read again under the write lock: a restore may have come in between.
                    row = connection.execute(
                        f"SELECT role, content FROM messages WHERE id = ? AND {eligible}",
                        (message_id, *boundary, before),
                    ).fetchone()
                    if row is None:
                        continue
                    chars += len(row[1])
                    self._compress_one(connection, message_id, row[0], row[1], stamp, report)
                    if chars > BATCH_CHARS:
                        break

    @staticmethod
    def _compress_one(connection: apsw.Connection, message_id: int, role: str, content: str,
                      stamp: float, report: CompactionReport) -> None:
        summary = summarise_reply(content) if role == "assistant" else None
        if summary is None:
            connection.execute("UPDATE messages SET tier = 'compressed' WHERE id = ?",
                               (message_id,))
            report.kept_as_is += 1
            return
        report.archive_bytes += archive.archive_original(connection, message_id, content, stamp)
        connection.execute(
            "UPDATE messages SET content = ?, tier = 'compressed' WHERE id = ?",
            (summary, message_id),
        )
        report.replies_summarised += 1

    def _archive(self, connection: apsw.Connection, boundary: tuple[float, int],
                 before: float, report: CompactionReport) -> None:
        rows = [_Row(*row) for row in connection.execute(
            "SELECT id, session_id, role, created_at FROM messages "
            "WHERE tier = 'compressed' AND restored_at IS NULL "
            "AND (created_at, id) < (?, ?) AND created_at < ? ORDER BY created_at, id",
            (*boundary, before),
        )]
        stretches = _stretches(rows)
        if stretches and not self._closed(connection, stretches[-1]):
            stretches.pop()  # the conversation may still go on in it; next pass
        stamp = time.time()
        position = 0
        while position < len(stretches):
            with write_transaction(connection):
                done = 0
                while position < len(stretches) and done < BATCH_MESSAGES:
                    done += len(stretches[position])
                    _fold(connection, stretches[position], stamp, report)
                    position += 1

    @staticmethod
    def _closed(connection: apsw.Connection, stretch: Sequence[_Row]) -> bool:
        """Whether no later message can still belong to ``stretch``."""
        if sum(1 for row in stretch if row.role == "user") >= STRETCH_TURNS:
            return True
        last = stretch[-1]
        following = connection.execute(
            "SELECT created_at FROM messages WHERE (created_at, id) > (?, ?) "
            "ORDER BY created_at, id LIMIT 1",
            (last.created_at, last.id),
        ).fetchone()
        return following is None or following[0] - last.created_at > STRETCH_GAP_SECONDS


def _stretches(rows: Sequence[_Row]) -> list[list[_Row]]:
    """Split messages (in time order) into stretches of one sitting and at most
    STRETCH_TURNS turns each."""
    stretches: list[list[_Row]] = []
    turns = 0
    for row in rows:
        current = stretches[-1] if stretches else None
        if (current is None or row.session_id != current[-1].session_id
                or row.created_at - current[-1].created_at > STRETCH_GAP_SECONDS
                or (row.role == "user" and turns >= STRETCH_TURNS)
                or len(current) >= STRETCH_MESSAGES):
            stretches.append([row])
            turns = 0
        else:
            current.append(row)
        turns += row.role == "user"
    return stretches


def _fold(connection: apsw.Connection, stretch: Sequence[_Row], stamp: float,
          report: CompactionReport) -> None:
    """Write the summary of one stretch, link it to its messages and archive them."""
    ids = [row.id for row in stretch]
    marks = ", ".join("?" for _ in ids)
    current = connection.execute(
        f"SELECT id, role, speaker, content, created_at FROM messages WHERE id IN ({marks}) "
        "AND tier = 'compressed' AND restored_at IS NULL ORDER BY created_at, id",
        ids,
    ).fetchall()
    if len(current) != len(ids):
        return  # changed since it was planned (a restore); regrouped next pass
    text = summarise_stretch([Said(role, speaker, content, at)
                              for _, role, speaker, content, at in current])
    first, last = stretch[0], stretch[-1]
    summary_id = connection.execute(
        "INSERT INTO summaries(session_id, first_message_id, last_message_id, first_at, "
        "last_at, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (first.session_id, first.id, last.id, first.created_at, last.created_at, text, stamp),
    ).get
    connection.executemany(
        "INSERT OR IGNORE INTO links(src_kind, src_id, relation, dst_kind, dst_id, weight, "
        "created_at) VALUES ('summary', ?, 'summary_of', 'message', ?, 1.0, ?)",
        [(summary_id, message_id, stamp) for message_id in ids],
    )
    for message_id, role, _, content, _ in current:
        if role == "user" and len(content) > LONG_USER_CHARS:
            shortened = summarise_reply(content)
            if shortened is not None:
                report.archive_bytes += archive.archive_original(
                    connection, message_id, content, stamp
                )
                connection.execute("UPDATE messages SET content = ? WHERE id = ?",
                                   (shortened, message_id))
                report.long_prompts_archived += 1
    connection.execute(f"UPDATE messages SET tier = 'archived' WHERE id IN ({marks})", ids)
    report.archived += len(ids)
    report.summaries += 1


def _size(connection: apsw.Connection) -> int:
    return int(connection.pragma("page_count")) * int(connection.pragma("page_size"))


def _merge_index(connection: apsw.Connection, index: str) -> None:
    """Merge an FTS5 index's segments a bounded step at a time.

    A compressed reply's old text stays in the index as deleted entries until the segments
    holding it are merged; merging drops them and frees their pages for the vacuum. The
    first (negative) step asks for everything to be merged; a step that changes fewer than
    two rows found nothing left to do.
    """
    step = -MERGE_STEP_PAGES
    while True:
        before = connection.total_changes()
        with write_transaction(connection):
            connection.execute(f"INSERT INTO {index}({index}, rank) VALUES ('merge', ?)",
                               (step,))
        if connection.total_changes() - before < 2:
            return
        step = MERGE_STEP_PAGES


def _vacuum(connection: apsw.Connection) -> int:
    """Give free pages back to the file system a step at a time; returns the bytes freed.

    Needs ``auto_vacuum = INCREMENTAL``, which ``Database.open`` sets up.
    """
    if connection.pragma("auto_vacuum") != 2:
        return 0
    freed = 0
    while (free := int(connection.pragma("freelist_count"))) > 0:
        with write_transaction(connection):
            # Each step of the statement frees one page: run it to the end.
            connection.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
        left = int(connection.pragma("freelist_count"))
        if left >= free:
            break
        freed += free - left
    # Let the file itself shrink now if no reader holds the log; never waits.
    connection.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
    return freed * int(connection.pragma("page_size"))


def restore_message(database: Database, message_id: int) -> str:
    """Put a message's original text back in full and keep it so from then on; returns
    the tier it had. The archive row and its index entry are removed, since the text is
    in ``messages`` again; a summary that covered the message stays."""
    connection = database.connection()
    with translate_errors(database.path), write_transaction(connection):
        row = connection.execute("SELECT tier FROM messages WHERE id = ?",
                                 (message_id,)).fetchone()
        if row is None:
            raise InputError(
                f"There is no message {message_id}. `nexus-desktop memory search` shows the "
                "numbers of stored messages."
            )
        text = archive.unarchive(connection, message_id)
        if text is not None:
            connection.execute("UPDATE messages SET content = ? WHERE id = ?",
                               (text, message_id))
        connection.execute(
            "UPDATE messages SET tier = 'full', restored_at = ? WHERE id = ?",
            (time.time(), message_id),
        )
    return str(row[0])
