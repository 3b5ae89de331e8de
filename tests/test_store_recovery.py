"""A damaged database is replaced by the newest sound backup plus everything still
readable from the damaged file, and the report says exactly what was restored, recovered
and lost. The damage is real: bytes of the SQLite file are overwritten."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from nexus_desktop.paths import AppPaths
from nexus_desktop.store.connection import open_connection
from nexus_desktop.store.database import Database, OpenReport
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.recovery import _ranges
from nexus_desktop.store.sessions import persistent_session_id

FILLER = "lorem ipsum dolor sit amet " * 8


def content(n: int) -> str:
    return f"Message number {n:04d} says hello{n} " + FILLER


@dataclass
class Made:
    session: int
    contents: dict[int, str]  # message id -> content
    backup: Path | None


def make_database(paths: AppPaths, before_backup: int, after_backup: int,
                  *, backup: bool = True) -> Made:
    """Messages 1..before_backup, a backup (if asked), then the rest; closed cleanly, so
    everything is in the main file and there is no WAL."""
    database = Database(paths.database, paths.backups_dir)
    assert database.open().created
    session = persistent_session_id(database)
    store = MessageStore(database)
    contents = {}
    taken = None
    for n in range(1, before_backup + after_backup + 1):
        if n == before_backup + 1 and backup:
            taken = database.backup("daily")
        message = store.append(session, "user", content(n))
        contents[message.id] = message.content
    database.close()
    assert sorted(contents) == list(range(1, before_backup + after_backup + 1))
    assert not paths.database.with_name(paths.database.name + "-wal").exists()
    return Made(session, contents, taken)


def varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's variable-length integer at ``at``: (value, offset after it)."""
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def message_pages(path: Path) -> dict[int, list[int]]:
    """Each leaf page of the messages table and the message ids whose rows it holds, read
    from the b-tree cells themselves (stale copies of moved rows linger in free space, so
    searching the file for a message's text can find the wrong page)."""
    connection = open_connection(path, readonly=True)
    try:
        page_size = connection.pragma("page_size")
        pages = [row[0] for row in connection.execute(
            "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'"
        )]
    finally:
        connection.close()
    data = path.read_bytes()
    found = {}
    for page in pages:
        base = (page - 1) * page_size
        header = base + (100 if page == 1 else 0)
        assert data[header] == 0x0D  # a table b-tree leaf
        cells = int.from_bytes(data[header + 3:header + 5], "big")
        ids = []
        for cell in range(cells):
            pointer = int.from_bytes(data[header + 8 + 2 * cell:header + 10 + 2 * cell], "big")
            _payload_size, at = varint(data, base + pointer)
            ids.append(varint(data, at)[0])
        found[page] = ids
    return found


def wreck_page_holding(path: Path, message_id: int, contents: dict[int, str]) -> list[int]:
    """Overwrite the page that holds ``message_id``'s row with zeros; return the ids of
    every message whose row was on that page."""
    pages = message_pages(path)
    assert sorted(n for ids in pages.values() for n in ids) == sorted(contents)
    page, on_page = next((p, ids) for p, ids in pages.items() if message_id in ids)
    assert page > 1 and len(on_page) > 1
    assert on_page == list(range(on_page[0], on_page[-1] + 1))
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[(page - 1) * page_size:page * page_size] = bytes(page_size)
    path.write_bytes(bytes(data))
    return on_page


def clobber_header(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[:100] = b"this is not a database any more; " * 3 + b"!"
    path.write_bytes(bytes(data))
    return bytes(data)


def open_again(paths: AppPaths) -> tuple[Database, OpenReport]:
    database = Database(paths.database, paths.backups_dir)
    return database, database.open()


def stored(database: Database) -> dict[int, str]:
    return dict(database.connection().execute("SELECT id, content FROM messages").fetchall())


def assert_sound(database: Database) -> None:
    assert database.quick_check() == []
    database.connection().execute(
        "INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')"
    )


def recovery_events(database: Database) -> list[tuple[str, dict]]:
    found = database.connection().execute(
        "SELECT message, detail FROM events WHERE kind = 'recovery'"
    ).fetchall()
    return [(message, json.loads(detail)) for message, detail in found]


def test_damage_to_messages_newer_than_the_backup_is_reported_exactly(paths: AppPaths):
    made = make_database(paths, before_backup=300, after_backup=100)
    wrecked = wreck_page_holding(paths.database, 350, made.contents)
    damaged_bytes = paths.database.read_bytes()

    database, report = open_again(paths)
    try:
        recovery = report.recovery
        assert recovery is not None
        assert "malformed" in recovery.problem
        assert recovery.backup is not None and recovery.backup.path == made.backup
        assert recovery.messages_in_backup == 300
        assert recovery.messages.complete is True
        assert recovery.messages.lost == wrecked
        assert recovery.messages.from_backup == []
        assert recovery.messages.changed == 100 - len(wrecked)

        text = recovery.describe()
        assert f"The damaged file was kept at {recovery.damaged_copy}." in text
        assert "which holds 300 messages" in text
        assert f"Recovered {100 - len(wrecked)} messages from the damaged file" in text
        assert (f"Lost: {len(wrecked)} messages could not be read "
                f"(numbers {wrecked[0]}-{wrecked[-1]}).") in text
        assert "Nothing was lost" not in text

        # Exactly the wrecked messages are missing; every other one is there unchanged.
        expected = {n: c for n, c in made.contents.items() if n not in wrecked}
        assert stored(database) == expected
        assert_sound(database)
        store = MessageStore(database)
        assert [h.message.id for h in store.search("hello399")] == [399]
        assert store.search(f"hello{wrecked[0]}") == []
        assert persistent_session_id(database) == made.session
        assert store.append(made.session, "user", "life goes on").id == 401

        assert recovery_events(database) == [(text, {"damaged": str(recovery.damaged_copy)})]
    finally:
        database.close()

    # The damaged file was moved aside as it was, not deleted or "fixed".
    assert recovery.damaged_copy.parent.parent == paths.backups_dir
    assert recovery.damaged_copy.parent.name.startswith("damaged-")
    assert recovery.damaged_copy.read_bytes() == damaged_bytes


def test_damage_to_messages_the_backup_holds_loses_nothing(paths: AppPaths):
    made = make_database(paths, before_backup=300, after_backup=100)
    wrecked = wreck_page_holding(paths.database, 150, made.contents)

    database, report = open_again(paths)
    try:
        recovery = report.recovery
        assert recovery is not None
        assert recovery.messages_in_backup == 300
        assert recovery.messages.lost == []
        assert recovery.messages.from_backup == wrecked
        assert recovery.messages.changed == 100
        text = recovery.describe()
        assert "Recovered 100 messages" in text
        assert (f"{len(wrecked)} messages could not be read from the damaged file; the "
                f"backup's copies of them were kept (numbers {wrecked[0]}-{wrecked[-1]}).") in text
        assert text.endswith("Nothing was lost.")
        assert "Lost:" not in text
        assert stored(database) == made.contents
        assert_sound(database)
    finally:
        database.close()


def test_a_clobbered_header_restores_the_backup_and_says_what_may_be_gone(paths: AppPaths):
    made = make_database(paths, before_backup=120, after_backup=30)
    damaged_bytes = clobber_header(paths.database)

    database, report = open_again(paths)
    try:
        recovery = report.recovery
        assert recovery is not None
        assert "not a database" in recovery.problem
        assert recovery.backup is not None and recovery.backup.path == made.backup
        assert recovery.messages_in_backup == 120
        assert recovery.messages.complete is False
        assert (recovery.messages.changed, recovery.messages.lost) == (0, [])
        text = recovery.describe()
        assert "which holds 120 messages" in text
        taken = recovery.backup.taken_at.astimezone()
        assert (f"Lost: the damaged file could not be read in full, so messages written after "
                f"{taken:%Y-%m-%d %H:%M} that are not listed above as recovered are gone.") in text
        assert "Nothing was lost" not in text
        assert stored(database) == {n: c for n, c in made.contents.items() if n <= 120}
        assert_sound(database)
        assert len(recovery_events(database)) == 1
    finally:
        database.close()
    assert recovery.damaged_copy.read_bytes() == damaged_bytes


def test_without_a_backup_the_readable_rows_go_into_a_new_database(paths: AppPaths):
    made = make_database(paths, before_backup=100, after_backup=0, backup=False)
    assert not paths.backups_dir.exists()
    wrecked = wreck_page_holding(paths.database, 50, made.contents)

    database, report = open_again(paths)
    try:
        recovery = report.recovery
        assert recovery is not None and recovery.backup is None
        assert recovery.messages_in_backup == 0
        assert recovery.messages.complete is True
        assert recovery.messages.lost == wrecked
        assert recovery.messages.changed == 100 - len(wrecked)
        text = recovery.describe()
        assert "No usable backup was found, so a new database was started." in text
        assert f"Recovered {100 - len(wrecked)} messages" in text
        assert f"(numbers {wrecked[0]}-{wrecked[-1]})" in text
        assert stored(database) == {n: c for n, c in made.contents.items() if n not in wrecked}
        assert persistent_session_id(database) == made.session
        assert_sound(database)
        # Now there is something worth keeping, a first backup is taken at once.
        assert report.backup_taken is True
    finally:
        database.close()


def test_without_a_backup_an_unreadable_file_gives_a_new_empty_database(paths: AppPaths):
    make_database(paths, before_backup=40, after_backup=0, backup=False)
    damaged_bytes = clobber_header(paths.database)

    database, report = open_again(paths)
    try:
        recovery = report.recovery
        assert recovery is not None and recovery.backup is None
        text = recovery.describe()
        assert "No usable backup was found, so a new database was started." in text
        assert "could not be read in full, so messages written before now" in text
        assert stored(database) == {}
        assert_sound(database)
        assert len(recovery_events(database)) == 1
    finally:
        database.close()
    assert recovery.damaged_copy.read_bytes() == damaged_bytes


def test_a_damaged_newest_backup_is_passed_over(paths: AppPaths):
    made = make_database(paths, before_backup=60, after_backup=0, backup=False)
    database = Database(paths.database, paths.backups_dir)
    database.open()  # takes the first daily backup: 60 messages
    store = MessageStore(database)
    for n in range(61, 91):
        made.contents[store.append(made.session, "user", content(n)).id] = content(n)
    newest = database.backup("daily")  # 90 messages
    database.close()
    older = [b for b in database.backups.all() if b.path != newest]
    assert len(older) == 1
    clobber_header(newest)
    clobber_header(paths.database)

    database, report = open_again(paths)
    try:
        assert report.recovery.backup.path == older[0].path
        assert report.recovery.messages_in_backup == 60
        assert stored(database) == {n: c for n, c in made.contents.items() if n <= 60}
    finally:
        database.close()


def test_after_recovery_the_database_opens_normally(paths: AppPaths):
    made = make_database(paths, before_backup=50, after_backup=50)
    wrecked = wreck_page_holding(paths.database, 80, made.contents)
    database, report = open_again(paths)
    assert report.recovery is not None
    database.close()

    database, report = open_again(paths)
    try:
        assert report.recovery is None
        assert sorted(stored(database)) == [n for n in range(1, 101) if n not in wrecked]
        assert_sound(database)
    finally:
        database.close()


@pytest.mark.parametrize("ids, expected", [
    ([1], "1"), ([1, 2, 3], "1-3"), ([1, 3, 4, 5, 9], "1, 3-5, 9"), ([7, 8, 10], "7-8, 10"),
])
def test_lost_numbers_are_written_as_ranges(ids, expected):
    assert _ranges(ids) == expected

