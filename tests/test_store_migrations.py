"""Schema migrations: a database made by the first schema version keeps every row, gets a
backup first and an event; a database from a newer app is refused and left alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import apsw
import pytest

from nexus_desktop.errors import StoreError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.connection import open_connection, quick_check
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.migrate import migrate, schema_version
from nexus_desktop.store.schema import LATEST_VERSION, MIGRATIONS, Migration
from nexus_desktop.store.sessions import persistent_session_id

LONG_TEXT = (
    "".join(f"paragraph {n}: the quick brown fox, naïvely. " for n in range(6000)) + "zanzibar"
)
V1_CONTENTS = [
    "plain words about a lighthouse",
    "café crème and a croissant",
    "nul\x00bytes\x00\x00inside",
    "emoji 😀 and Ελληνικά and 中文 and e\u0301",
    LONG_TEXT,
    "",
    "quotes \" ' and operators AND OR NOT NEAR *",
]


def build_v1(path: Path) -> None:
    """A database exactly as the first release made it, with varied rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = open_connection(path)
    try:
        assert migrate(connection, None, MIGRATIONS[:1]) == [1]
        with connection:
            connection.execute(
                "INSERT INTO sessions(id, uid, created_at) VALUES (1, 'persistent-abc', 1.5), "
                "(2, 'another', 2.5)"
            )
            for n, content in enumerate(V1_CONTENTS * 3):
                role = ("user", "assistant", "system")[n % 3]
                status = ("complete", "streaming", "cancelled", "failed", "interrupted")[n % 5]
                connection.execute(
                    "INSERT INTO messages(session_id, role, content, status, source, model, "
                    "reply_to, error, created_at, completed_at, tier, summary, importance, "
                    "retrieval_count, last_retrieved_at) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (1 + n % 2, role, content, status, "model" if role == "assistant" else "user",
                     "m1" if n % 2 else None, n if n else None, f"err {n}" if n % 4 == 0 else None,
                     1000.0 + n, None if status == "streaming" else 1001.0 + n,
                     ("full", "compressed", "archived")[n % 3], f"summary {n}" if n % 3 else None,
                     n / 7, n, 5000.0 + n if n % 2 else None),
                )
    finally:
        connection.close()


def rows(connection: apsw.Connection, table: str) -> list[tuple]:
    return connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


def snapshot(path: Path) -> dict[str, list[tuple]]:
    connection = open_connection(path, readonly=True)
    try:
        return {table: rows(connection, table) for table in ("sessions", "messages")}
    finally:
        connection.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_first_version_database_is_migrated_with_every_row_kept(paths: AppPaths):
    build_v1(paths.database)
    before = snapshot(paths.database)
    assert len(before["messages"]) == 3 * len(V1_CONTENTS)

    database = Database(paths.database, paths.backups_dir)
    report = database.open()
    try:
        assert report.created is False
        assert report.recovery is None
        assert report.migrated_to == [v.version for v in MIGRATIONS[1:]]
        connection = database.connection()
        assert schema_version(connection) == LATEST_VERSION
        # Later migrations add columns at the end of a table; the old columns are unchanged.
        after = {table: rows(connection, table) for table in before}
        assert {table: [row[:len(old[0])] for row in after[table]]
                for table, old in before.items()} == before
        assert database.quick_check() == []

        # The full-text index still covers the old rows (and is consistent with them).
        connection.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        store = MessageStore(database)
        by_id = {row[0]: row[3] for row in before["messages"]}
        for query, expected in (
            ("cafe", "café crème and a croissant"),
            ("lighthouse", "plain words about a lighthouse"),
            # Words far into the long text (unique ones: FTS5's snippet() is slow on a
            # word that occurs thousands of times in one message).
            ("5999 zanzibar", LONG_TEXT),
            ("中文", V1_CONTENTS[3]),
            ("bytes inside", V1_CONTENTS[2]),
        ):
            hits = store.search(query, limit=50)
            assert len(hits) == 3, query
            assert {by_id[h.message.id] for h in hits} == {expected}, query

        # New rows go in after the old ones, in the old session.
        assert persistent_session_id(database) == 1
        new = store.append(1, "user", "after the migration")
        assert new.id == len(before["messages"]) + 1

        # One event says what happened.
        events = connection.execute("SELECT kind, message, detail FROM events").fetchall()
        assert len(events) == 1
        kind, message, detail = events[0]
        assert kind == "migration"
        assert f"from version 1 to {LATEST_VERSION}" in message
        assert json.loads(detail) == {"from": 1, "to": LATEST_VERSION}
    finally:
        database.close()

    # A backup of the version-1 file was taken before anything changed.
    backups = database.backups.all()
    assert [(b.reason, b.schema_version) for b in backups] == [("before-migration", 1)]
    assert report.backup_taken is False  # that backup is fresh, so no daily one as well
    assert snapshot(backups[0].path) == before
    copy = open_connection(backups[0].path, readonly=True)
    try:
        assert schema_version(copy) == 1
        assert quick_check(copy) == []
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_schema")}
        assert "events" not in tables and "messages" in tables
        assert copy.pragma("journal_mode") == "delete"
    finally:
        copy.close()

    # Opening again changes nothing more.
    again = Database(paths.database, paths.backups_dir)
    report = again.open()
    try:
        assert report.migrated_to == []
        assert again.connection().execute(
            "SELECT count(*) FROM events WHERE kind = 'migration'"
        ).get == 1
    finally:
        again.close()
    assert len(again.backups.all()) == 1


def test_a_new_database_gets_the_whole_schema_without_backup_or_event(paths: AppPaths):
    database = Database(paths.database, paths.backups_dir)
    report = database.open()
    try:
        assert report.created is True
        assert report.migrated_to == [m.version for m in MIGRATIONS]
        assert report.backup_taken is False
        assert schema_version(database.connection()) == LATEST_VERSION
        assert database.connection().execute("SELECT count(*) FROM events").get == 0
    finally:
        database.close()
    assert database.backups.all() == []


def test_a_failing_migration_changes_nothing(paths: AppPaths):
    build_v1(paths.database)
    before = snapshot(paths.database)
    broken = (*MIGRATIONS, Migration(
        LATEST_VERSION + 1, "a step that fails half-way",
        "CREATE TABLE half_done(x); SELECT no_such_function();",
    ))
    database = Database(paths.database, paths.backups_dir)
    connection = open_connection(paths.database)
    try:
        with pytest.raises(apsw.SQLError, match="no_such_function"):
            migrate(connection, database.backups, broken)
        assert schema_version(connection) == 1
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
        assert "half_done" not in tables and "events" not in tables
        assert not connection.in_transaction
    finally:
        connection.close()
    assert snapshot(paths.database) == before
    # The backup was taken before the attempt.
    assert [b.reason for b in database.backups.all()] == ["before-migration"]


def make_future_database(paths: AppPaths) -> None:
    database = Database(paths.database, paths.backups_dir)
    database.open()
    store = MessageStore(database)
    sid = persistent_session_id(database)
    for n in range(50):
        store.append(sid, "user", f"message {n} from the future")
    database.connection().pragma("user_version", LATEST_VERSION + 1)
    database.close()


def test_a_database_from_a_newer_app_is_refused_and_left_untouched(paths: AppPaths):
    make_future_database(paths)
    assert not paths.backups_dir.exists()
    wal = paths.database.with_name(paths.database.name + "-wal")
    assert not wal.exists()
    before = digest(paths.database)
    mtime = paths.database.stat().st_mtime_ns

    database = Database(paths.database, paths.backups_dir)
    with pytest.raises(StoreError) as refused:
        database.open()
    database.close()

    assert type(refused.value) is StoreError
    message = str(refused.value)
    assert "newer version of Nexus Desktop" in message
    assert f"schema {LATEST_VERSION + 1}" in message
    assert f"knows up to {LATEST_VERSION}" in message
    assert "Update Nexus Desktop" in message
    # Not a byte written: no statistics, no journal change, no backup, no event.
    assert digest(paths.database) == before
    assert paths.database.stat().st_mtime_ns == mtime
    assert not wal.exists() or wal.stat().st_size == 0
    assert not paths.backups_dir.exists() or list(paths.backups_dir.iterdir()) == []

    # Refused every time, and the rows are all still there for the newer app.
    with pytest.raises(StoreError, match="Update Nexus Desktop"):
        Database(paths.database, paths.backups_dir).open()
    connection = apsw.Connection(str(paths.database), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        assert connection.execute("SELECT count(*) FROM messages").get == 50
        assert connection.pragma("user_version") == LATEST_VERSION + 1
    finally:
        connection.close()


def test_migrate_itself_refuses_a_newer_schema(tmp_path: Path):
    connection = open_connection(tmp_path / "future.db")
    try:
        connection.pragma("user_version", 7)
        with pytest.raises(StoreError, match="schema 7; this version knows up to 1"):
            migrate(connection, None, MIGRATIONS[:1])
        assert schema_version(connection) == 7
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_schema")]
        assert tables == []
    finally:
        connection.close()


def test_migration_versions_are_one_to_n_in_order():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert MIGRATIONS[-1].version == LATEST_VERSION
