"""Backups: a daily one when the newest is older than the interval, pruning to the newest
``keep``, and only sound backups offered for recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nexus_desktop.paths import AppPaths
from nexus_desktop.store.backups import Backup, BackupManager
from nexus_desktop.store.connection import open_connection, quick_check
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.schema import LATEST_VERSION
from nexus_desktop.store.sessions import persistent_session_id


def open_db(paths: AppPaths, **options) -> tuple[Database, bool]:
    database = Database(paths.database, paths.backups_dir, **options)
    return database, database.open().backup_taken


def add_messages(database: Database, count: int) -> None:
    store = MessageStore(database)
    sid = persistent_session_id(database)
    for n in range(count):
        store.append(sid, "user", f"message {n}")


def messages_in(path: Path) -> int:
    connection = open_connection(path, readonly=True)
    try:
        return connection.execute("SELECT count(*) FROM messages").get
    finally:
        connection.close()


def age(backup: Backup, hours: float) -> Path:
    """Rename a backup as if it had been taken ``hours`` ago (its time is in its name)."""
    then = datetime.now(UTC) - timedelta(hours=hours)
    older = backup.path.with_name(
        f"nexus-{then:%Y%m%dT%H%M%S%f}-v{backup.schema_version}-{backup.reason}.db"
    )
    backup.path.rename(older)
    return older


def test_a_daily_backup_is_taken_on_open_only_when_due(paths: AppPaths):
    database, taken = open_db(paths)
    assert taken is False  # a brand-new database has nothing to back up
    add_messages(database, 12)
    database.close()
    assert database.backups.all() == []

    database, taken = open_db(paths)
    database.close()
    assert taken is True
    [first] = database.backups.all()
    assert (first.reason, first.schema_version) == ("daily", LATEST_VERSION)
    assert messages_in(first.path) == 12
    assert (datetime.now(UTC) - first.taken_at) < timedelta(minutes=5)

    database, taken = open_db(paths)  # the newest is minutes old
    database.close()
    assert taken is False
    assert database.backups.all() == [first]

    age(first, hours=23)  # younger than the 24 h interval
    database, taken = open_db(paths)
    database.close()
    assert taken is False
    assert len(database.backups.all()) == 1

    age(database.backups.all()[0], hours=25)
    database, taken = open_db(paths)
    database.close()
    assert taken is True
    newest, older = database.backups.all()
    assert (datetime.now(UTC) - newest.taken_at) < timedelta(minutes=5)
    assert older.taken_at < newest.taken_at - timedelta(hours=24)


def test_the_interval_comes_from_the_setting(paths: AppPaths):
    database, _ = open_db(paths)
    add_messages(database, 3)
    database.close()
    database, taken = open_db(paths, backup_interval_hours=2)
    database.close()
    assert taken is True
    age(database.backups.all()[0], hours=3)
    database, taken = open_db(paths, backup_interval_hours=2)
    database.close()
    assert taken is True
    assert len(database.backups.all()) == 2


def test_a_backup_is_one_self_contained_file(paths: AppPaths):
    database, _ = open_db(paths)
    add_messages(database, 40)
    path = database.backup("daily")
    add_messages(database, 5)  # later writes do not reach the backup
    database.close()
    assert path.parent == paths.backups_dir
    assert sorted(p.name for p in paths.backups_dir.iterdir()) == [path.name]  # no .partial
    connection = open_connection(path, readonly=True)
    try:
        assert connection.pragma("journal_mode") == "delete"
        assert quick_check(connection) == []
        assert connection.execute("SELECT count(*) FROM messages").get == 40
    finally:
        connection.close()


def test_pruning_keeps_the_newest(paths: AppPaths):
    database, _ = open_db(paths, backup_keep=3)
    add_messages(database, 2)
    taken = []
    for n in range(6):
        add_messages(database, 1)
        taken.append(database.backup("daily"))
        assert len(database.backups.all()) == min(n + 1, 3)
    database.close()
    assert [b.path for b in database.backups.all()] == taken[:-4:-1]
    assert [messages_in(p) for p in taken[-3:]] == [6, 7, 8]


def test_files_that_are_not_backups_are_neither_listed_nor_pruned(paths: AppPaths):
    paths.backups_dir.mkdir(parents=True)
    strangers = [
        paths.backups_dir / "notes.txt",
        paths.backups_dir / "nexus-unfinished.partial",
        paths.backups_dir / "nexus-20200101T000000000000-v1-daily.db.bak",
    ]
    for path in strangers:
        path.write_text("not a backup")
    (paths.backups_dir / "damaged-20200101T000000000000").mkdir()
    database, _ = open_db(paths, backup_keep=1)
    add_messages(database, 1)
    for _ in range(3):
        database.backup("daily")
    database.close()
    assert len(database.backups.all()) == 1
    assert all(path.read_text() == "not a backup" for path in strangers)
    assert (paths.backups_dir / "damaged-20200101T000000000000").is_dir()


def test_newest_sound_passes_over_damaged_backups(paths: AppPaths):
    database, _ = open_db(paths)
    add_messages(database, 20)
    good = database.backup("daily")
    add_messages(database, 20)
    garbled = database.backup("daily")
    add_messages(database, 20)
    truncated = database.backup("daily")
    add_messages(database, 20)
    emptied = database.backup("daily")
    database.close()
    manager = BackupManager(paths.backups_dir, keep=10)
    assert manager.newest_sound().path == emptied

    emptied.write_bytes(b"")  # a valid, empty SQLite file, but not a backup of anything
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    data = bytearray(garbled.read_bytes())
    data[:16] = b"garbage garbage!"
    garbled.write_bytes(bytes(data))

    sound = manager.newest_sound()
    assert sound is not None and sound.path == good
    assert messages_in(sound.path) == 20

    good.write_bytes(b"\x00" * 4096)
    assert manager.newest_sound() is None


@pytest.mark.parametrize("name, expected", [
    ("nexus-20240102T030405123456-v2-daily.db",
     (datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), 2, "daily")),
    ("nexus-20231231T235959000000-v1-before-migration.db",
     (datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC), 1, "before-migration")),
])
def test_a_backups_name_says_when_which_schema_and_why(tmp_path: Path, name, expected):
    (tmp_path / name).write_bytes(b"")
    [backup] = BackupManager(tmp_path, keep=5).all()
    assert (backup.taken_at, backup.schema_version, backup.reason) == expected
    assert backup.reason in backup.describe()
