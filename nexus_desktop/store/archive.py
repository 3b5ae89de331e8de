"""The archive of original message text: zlib-compressed with its SHA-256, and indexed in
the contentless ``message_archive_fts`` (rowid = message id) so that archived words stay
searchable although only a summary is left in ``messages``.

Every function takes the caller's connection and runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

import apsw

from nexus_desktop.errors import StoreError

_LEVEL = 6


def checksum(text: str) -> str:
    """The SHA-256 the archive keeps of a message's original text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unpack(message_id: int, blob: bytes, sha256: str) -> str:
    """The original text of an archive row, checked against its SHA-256."""
    try:
        text = zlib.decompress(blob).decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        text = None
    if text is None or checksum(text) != sha256:
        raise StoreError(
            f"The archived original of message {message_id} is damaged, so it was left as it "
            "is. Run `nexus-desktop doctor`; a backup in the backups folder may still hold it."
        )
    return text


def archive_original(connection: apsw.Connection, message_id: int, text: str,
                     at: float) -> int:
    """Store ``text`` as message ``message_id``'s original; returns the bytes it takes."""
    blob = zlib.compress(text.encode("utf-8"), _LEVEL)
    connection.execute(
        "INSERT INTO message_archive(message_id, content, sha256, archived_at) "
        "VALUES (?, ?, ?, ?)",
        (message_id, blob, checksum(text), at),
    )
    connection.execute(
        "INSERT INTO message_archive_fts(rowid, content) VALUES (?, ?)", (message_id, text)
    )
    return len(blob)


def original(connection: apsw.Connection, message_id: int) -> str | None:
    """The archived original of a message, or None when it has none in the archive."""
    row = connection.execute(
        "SELECT content, sha256 FROM message_archive WHERE message_id = ?", (message_id,)
    ).fetchone()
    return None if row is None else unpack(message_id, row[0], row[1])


def originals(connection: apsw.Connection, message_ids: Iterable[int]) -> dict[int, str]:
    """The archived originals of those of ``message_ids`` that have one."""
    found = {}
    for message_id in message_ids:
        text = original(connection, message_id)
        if text is not None:
            found[message_id] = text
    return found


def unarchive(connection: apsw.Connection, message_id: int) -> str | None:
    """Remove a message's original from the archive and its index; returns the text."""
    text = original(connection, message_id)
    if text is not None:
        connection.execute("DELETE FROM message_archive_fts WHERE rowid = ?", (message_id,))
        connection.execute("DELETE FROM message_archive WHERE message_id = ?", (message_id,))
    return text


def search(connection: apsw.Connection, fts_query: str, limit: int) -> list[tuple[int, float]]:
    """(message id, BM25 score; lower is better) of archived originals matching an FTS5
    query, best first."""
    return [
        (row[0], row[1])
        for row in connection.execute(
            "SELECT rowid, bm25(message_archive_fts) FROM message_archive_fts "
            "WHERE message_archive_fts MATCH ? ORDER BY bm25(message_archive_fts) LIMIT ?",
            (fts_query, limit),
        )
    ]


def reindex(connection: apsw.Connection) -> tuple[int, list[int]]:
    """Rebuild the archive's full-text index from the archive itself (a contentless index
    cannot rebuild itself). Returns how many originals were indexed and the ids of
    archive rows too damaged to read."""
    connection.execute("INSERT INTO message_archive_fts(message_archive_fts) VALUES ('delete-all')")
    indexed, damaged = 0, []
    rows = connection.execute(
        "SELECT message_id, content, sha256 FROM message_archive ORDER BY message_id"
    ).fetchall()
    for message_id, blob, sha256 in rows:
        try:
            text = unpack(message_id, blob, sha256)
        except StoreError:
            damaged.append(message_id)
            continue
        connection.execute(
            "INSERT INTO message_archive_fts(rowid, content) VALUES (?, ?)", (message_id, text)
        )
        indexed += 1
    return indexed, damaged
