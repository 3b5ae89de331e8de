"""Importing history from other chat apps (JSON lines) into the persistent conversation:
each bad line is reported by number with its reason, every good line is imported with its
time, role, speaker and id, in time order, and importing the same ids again adds nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from nexus_desktop.errors import InputError
from nexus_desktop.memory.importer import BATCH_LINES, import_jsonl
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.store.database import Database


@pytest.fixture
def session(db: Database) -> PersistentSession:
    return PersistentSession(db)


def write_lines(path: Path, lines: list[str | bytes | dict]) -> Path:
    data = b""
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line, ensure_ascii=False)
        data += (line if isinstance(line, bytes) else line.encode()) + b"\n"
    path.write_bytes(data)
    return path


def rows(db: Database) -> list[tuple]:
    return db.connection().execute(
        "SELECT id, role, content, speaker, external_id, created_at, source, status, reply_to "
        "FROM messages ORDER BY id").fetchall()


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_bad_lines_are_reported_by_number_and_good_lines_imported(
        session: PersistentSession, db: Database, tmp_path: Path):
    path = write_lines(tmp_path / "history.jsonl", [
        {"text": "I adopted a cat named Miso.", "role": "user", "t": "2023-03-01T10:00:00Z",
         "id": "a1"},                                                         # 1
        '{"text": "broken", ',                                                # 2
        {"text": "Congratulations on Miso!", "role": "assistant",
         "t": "2023-03-01T10:00:05Z", "id": "a2"},                            # 3
        "[1, 2, 3]",                                                          # 4
        {"role": "user", "t": "2023-03-01T10:01:00Z"},                        # 5
        {"text": "   ", "role": "user"},                                      # 6
        {"text": "hi", "role": "bot"},                                        # 7
        {"text": "hi", "t": "yesterday"},                                     # 8
        {"text": "hi", "t": 1700000000},                                      # 9
        b'{"text": "caf\xe9"}',                                               # 10
        '{"text": "half \\ud800 pair"}',                                       # 11
        "",                                                                   # 12: blank
        {"text": 42},                                                         # 13
        {"text": "hi", "id": ["x"]},                                          # 14
        {"text": "hi", "t": "2999-01-01T00:00:00Z"},                          # 15
        {"text": "We met at the café.", "speaker": "Alice",
         "t": "2023-03-01T09:00:00+01:00", "id": 7},                          # 16
        {"text": "hi", "speaker": ""},                                        # 17
    ])
    report = import_jsonl(session, path)

    assert report.imported == 3 and report.duplicate_lines == []
    reasons = dict(report.bad_lines)
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17]
    assert "not valid JSON" in reasons[2]
    assert "expected a JSON object, got a list" in reasons[4]
    assert 'no "text"' in reasons[5]
    assert '"text" is empty' in reasons[6]
    assert '"role" must be "user" or "assistant", not "bot"' in reasons[7]
    assert '"t" is not an ISO-8601 time' in reasons[8] and "yesterday" in reasons[8]
    assert '"t" must be an ISO-8601 time' in reasons[9] and "a number" in reasons[9]
    assert "UTF-8" in reasons[10]
    assert "half of a character pair" in reasons[11]
    assert '"text" must be a string' in reasons[13]
    assert '"id" must be' in reasons[14]
    assert "future" in reasons[15]
    assert '"speaker"' in reasons[17]

    stored = rows(db)
    # In time order: Alice at 08:00 UTC comes before the 10:00 pair.
    assert [r[1:7] for r in stored] == [
        ("user", "We met at the café.", "Alice", "7", utc("2023-03-01T08:00:00"), "import"),
        ("user", "I adopted a cat named Miso.", None, "a1", utc("2023-03-01T10:00:00"), "import"),
        ("assistant", "Congratulations on Miso!", None, "a2", utc("2023-03-01T10:00:05"),
         "import"),
    ]
    assert all(r[7] == "complete" for r in stored)
    assert stored[2][8] == stored[1][0]  # the reply answers the message before it


def test_a_second_import_of_the_same_ids_adds_nothing(
        session: PersistentSession, db: Database, tmp_path: Path):
    path = write_lines(tmp_path / "h.jsonl", [
        {"text": f"message {n}", "role": "user", "t": f"2022-01-01T00:00:{n:02d}Z", "id": f"m{n}"}
        for n in range(5)
    ] + [{"text": "message 2 again", "id": "m2"}])
    first = import_jsonl(session, path)
    assert (first.imported, first.duplicate_lines, first.bad_lines) == (5, [6], [])
    before = rows(db)
    second = import_jsonl(session, path)
    assert (second.imported, second.duplicate_lines) == (0, [1, 2, 3, 4, 5, 6])
    assert second.skipped == 6
    assert rows(db) == before


def test_times_without_a_zone_are_local_time(session: PersistentSession, db: Database,
                                             tmp_path: Path):
    path = write_lines(tmp_path / "h.jsonl", [
        {"text": "naive", "t": "2021-06-15T12:30:00"},
        {"text": "date only", "t": "2021-06-16"},
    ])
    assert import_jsonl(session, path).imported == 2
    assert [r[5] for r in rows(db)] == [
        datetime(2021, 6, 15, 12, 30).timestamp(), datetime(2021, 6, 16).timestamp(),
    ]


def test_roles_from_speakers(session: PersistentSession, db: Database, tmp_path: Path):
    path = write_lines(tmp_path / "h.jsonl", [
        {"text": "one", "speaker": "Bob", "t": "2020-01-01T00:00:01Z"},
        {"text": "two", "speaker": "Nexus", "t": "2020-01-01T00:00:02Z"},
        {"text": "three", "speaker": "assistant", "role": "user", "t": "2020-01-01T00:00:03Z"},
        {"text": "four", "t": "2020-01-01T00:00:04Z"},
    ])
    assert import_jsonl(session, path).imported == 4
    assert [(r[1], r[3]) for r in rows(db)] == [
        ("user", "Bob"), ("assistant", "Nexus"), ("user", "assistant"), ("user", None),
    ]


def test_old_history_keeps_its_times_after_newer_messages(
        session: PersistentSession, db: Database, tmp_path: Path):
    live = session.add_user_message("Hello from today")
    lines = [{"text": f"old {n}", "role": ("user", "assistant")[n % 2],
              "t": f"2019-05-01T10:{n // 60:02d}:{n % 60:02d}Z", "id": f"o{n}"}
             for n in reversed(range(2 * BATCH_LINES + 203))]
    path = write_lines(tmp_path / "h.jsonl", lines)
    report = import_jsonl(session, path)
    assert report.imported == len(lines) and report.bad_lines == []
    stored = rows(db)
    assert stored[0][0] == live.id
    imported = stored[1:]
    assert [r[2] for r in imported] == [f"old {n}" for n in range(len(lines))]
    assert [r[5] for r in imported] == sorted(r[5] for r in imported)
    assert all(r[5] < live.created_at for r in imported)
    # Every reply answers the user message just before it, across batches too.
    for before, reply in pairwise(imported):
        if reply[1] == "assistant":
            assert reply[8] == before[0]


def test_an_empty_file_imports_nothing(session: PersistentSession, tmp_path: Path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    report = import_jsonl(session, path)
    assert (report.imported, report.bad_lines, report.skipped) == (0, [], 0)


def test_a_missing_file_says_what_to_do(session: PersistentSession, tmp_path: Path):
    with pytest.raises(InputError, match="Cannot read the import file"):
        import_jsonl(session, tmp_path / "nowhere.jsonl")
