"""The database schema as a list of migrations; ``PRAGMA user_version`` says how many ran.

A migration is never edited once released: a change to the schema is a new entry at
the end. Tables from docs/ARCHITECTURE.md that are not here yet arrive as later
migrations with the features that use them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the persistent session and its messages, with full-text search",
        """
        CREATE TABLE sessions(
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );

        -- Every message of the conversation, for the life of the install. Rows move
        -- through tiers (full -> compressed -> archived) but are never deleted.
        CREATE TABLE messages(
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
            content TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'cancelled', 'failed', 'interrupted')),
            source TEXT NOT NULL DEFAULT 'user',
            model TEXT,
            reply_to INTEGER REFERENCES messages(id),
            error TEXT,
            created_at REAL NOT NULL,
            completed_at REAL,
            tier TEXT NOT NULL DEFAULT 'full' CHECK (tier IN ('full', 'compressed', 'archived')),
            summary TEXT,
            importance REAL,
            retrieval_count INTEGER NOT NULL DEFAULT 0,
            last_retrieved_at REAL
        );
        CREATE INDEX messages_by_session ON messages(session_id, id);
        CREATE INDEX messages_by_time ON messages(created_at);

        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        """,
    ),
    Migration(
        2,
        "an event log for what happened to the data, and a small key/value table",
        """
        -- What the app did to the user's data and why (recoveries, migrations, backups),
        -- so `doctor` and the dashboard can tell the user.
        CREATE TABLE events(
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX events_by_kind ON events(kind, at);

        CREATE TABLE meta(
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
