"""The messages table: appends, reply updates, history pages and full-text search."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.snippets import WORD, snippet

_COLUMNS = (
    "id, session_id, role, content, status, source, model, reply_to, error, created_at, "
    "completed_at, tier, external_id, speaker"
)


@dataclass(frozen=True)
class Message:
    id: int
    session_id: int
    role: str
    content: str
    status: str
    source: str
    model: str | None
    reply_to: int | None
    error: str | None
    created_at: float
    completed_at: float | None
    tier: str
    external_id: str | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class ImportedMessage:
    """A message brought from another chat app, with its own time and id there."""

    role: str
    content: str
    created_at: float
    speaker: str | None = None
    external_id: str | None = None
    importance: float | None = None


@dataclass(frozen=True)
class SearchHit:
    message: Message
    snippet: str


def fts_query(text: str) -> str | None:
    """Turn what a user typed into an FTS5 query that matches all its words.

    Each word is quoted, so punctuation and FTS5 operators in the text are taken literally.
    """
    words = WORD.findall(text)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


class MessageStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, session_id: int, role: str, content: str, *, status: str = "complete",
               source: str = "user", model: str | None = None,
               reply_to: int | None = None, error: str | None = None,
               importance: float | None = None) -> Message:
        """Insert one message and commit it; when this returns, the message is on disk."""
        now = time.time()
        completed = None if status == "streaming" else now
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            row = connection.execute(
                "INSERT INTO messages(session_id, role, content, status, source, model, reply_to, "
                "error, created_at, completed_at, importance) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (session_id, role, content, status, source, model, reply_to, error, now, completed,
                 importance),
            ).fetchone()
        return Message(*row)

    def append_imported(self, session_id: int, items: Sequence[ImportedMessage],
                        answering: int | None = None) -> list[tuple[int, bool]]:
        """Insert imported messages (in time order) in one transaction.

        Returns each item's message id and whether it was inserted now: an item whose
        external_id is already stored is skipped and gets the stored message's id. An
        assistant message answers the user message before it (``answering`` for the first).
        """
        connection = self.database.connection()
        results = []
        with translate_errors(self.database.path), write_transaction(connection):
            for item in items:
                existing = None if item.external_id is None else connection.execute(
                    "SELECT id FROM messages WHERE external_id = ? ORDER BY id LIMIT 1",
                    (item.external_id,),
                ).fetchone()
                if existing is not None:
                    results.append((existing[0], False))
                else:
                    reply_to = answering if item.role == "assistant" else None
                    message_id = connection.execute(
                        "INSERT INTO messages(session_id, role, content, source, reply_to, "
                        "created_at, completed_at, external_id, speaker, importance) "
                        "VALUES (?, ?, ?, 'import', ?, ?, ?, ?, ?, ?) RETURNING id",
                        (session_id, item.role, item.content, reply_to, item.created_at,
                         item.created_at, item.external_id, item.speaker, item.importance),
                    ).get
                    results.append((message_id, True))
                if item.role == "user":
                    answering = results[-1][0]
        return results

    def update(self, message_id: int, content: str, status: str, *, error: str | None = None,
               finished: bool = True, importance: float | None = None) -> None:
        """Store a reply's text so far (streaming) or its final text and outcome."""
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "UPDATE messages SET content = ?, status = ?, error = ?, "
                "completed_at = CASE WHEN ? THEN ? ELSE completed_at END, "
                "importance = coalesce(?, importance) WHERE id = ?",
                (content, status, error, finished, time.time(), importance, message_id),
            )

    def mark_interrupted(self, session_id: int) -> int:
        """Replies that were streaming when the app stopped are marked as interrupted."""
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "UPDATE messages SET status = 'interrupted', error = 'the app stopped while "
                "this reply was being written', completed_at = ? "
                "WHERE session_id = ? AND status = 'streaming'",
                (time.time(), session_id),
            )
            return connection.changes()

    def get(self, message_id: int) -> Message | None:
        row = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return Message(*row) if row else None

    def recent(self, session_id: int, limit: int, before_id: int | None = None) -> list[Message]:
        """Up to ``limit`` messages before ``before_id`` (or the newest), oldest first."""
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM messages WHERE session_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT ?",
            (session_id, before_id if before_id is not None else 2**63 - 1, limit),
        ).fetchall()
        return [Message(*row) for row in reversed(rows)]

    def count(self, session_id: int | None = None) -> int:
        connection = self.database.connection()
        if session_id is None:
            return connection.execute("SELECT count(*) FROM messages").get
        return connection.execute(
            "SELECT count(*) FROM messages WHERE session_id = ?", (session_id,)
        ).get

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching every word of ``text``, best match first (BM25)."""
        query = fts_query(text)
        if query is None:
            return []
        rows = self.database.connection().execute(
            f"SELECT {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))} "
            "FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid "
            "WHERE messages_fts MATCH ? ORDER BY bm25(messages_fts) LIMIT ?",
            (query, limit),
        ).fetchall()
        return [SearchHit(message, snippet(message.content, text))
                for message in (Message(*row) for row in rows)]
