"""`nexus-desktop memory import | compact | restore` run as real processes. None of them
loads the language model: the settings point it at a folder that does not exist."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database


def nexus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nexus_desktop", *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def home(paths: AppPaths, settings: Settings, tmp_path: Path) -> Iterator[AppPaths]:
    settings.set("model.source", str(tmp_path / "no-model-here"))
    yield paths


def stored(paths: AppPaths, sql: str) -> list[tuple]:
    database = Database(paths.database, paths.backups_dir)
    try:
        return [tuple(row) for row in database.connection().execute(sql).fetchall()]
    finally:
        database.close()


def jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(
        (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_import_reports_bad_lines_and_imports_the_rest(home: AppPaths, tmp_path: Path):
    path = jsonl(tmp_path / "chat.jsonl", [
        {"text": "My sister lives in Porto.", "role": "user", "t": "2022-02-02T10:00:00Z",
         "id": "x1"},
        "not json at all",
        {"text": "Porto is lovely.", "role": "assistant", "t": "2022-02-02T10:00:09Z", "id": "x2"},
        {"role": "user", "text": ""},
        {"text": "Shall we meet?", "speaker": "Dana", "t": "2022-02-03T08:00:00Z", "id": "x3"},
    ])
    result = nexus("memory", "import", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Imported 3 messages; 2 lines skipped"
    assert lines[1].startswith("line 2: not valid JSON")
    assert lines[2] == 'line 4: "text" is empty'
    assert stored(home, "SELECT role, content, speaker, external_id FROM messages ORDER BY id") == [
        ("user", "My sister lives in Porto.", None, "x1"),
        ("assistant", "Porto is lovely.", None, "x2"),
        ("user", "Shall we meet?", "Dana", "x3"),
    ]

    again = nexus("memory", "import", str(path))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "Imported 0 messages; 5 lines skipped"
    assert "3 lines had an id imported before" in again.stdout and "(lines 1, 3, 5)" in again.stdout
    assert len(stored(home, "SELECT id FROM messages")) == 3


def test_import_fails_when_every_line_is_bad_and_not_when_the_file_is_empty(
        home: AppPaths, tmp_path: Path):
    bad = nexus("memory", "import", str(jsonl(tmp_path / "bad.jsonl", ["{", '{"t": 1}'])))
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[0] == "Imported 0 messages; 2 lines skipped"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    fine = nexus("memory", "import", str(empty))
    assert (fine.returncode, fine.stdout) == (0, "Imported 0 messages; 0 lines skipped\n")
    missing = nexus("memory", "import", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1 and "Cannot read the import file" in missing.stderr


@pytest.mark.slow
def test_compact_then_restore(home: AppPaths, tmp_path: Path):
    reply = "A long answer. " + "It goes on about the sea and the sky. " * 20
    lines = []
    for n in range(120):
        lines.append({"text": f"question {n}", "role": "user",
                      "t": f"2021-01-{1 + n // 24:02d}T{n % 24:02d}:00:00Z"})
        lines.append({"text": reply + f"marker{n}", "role": "assistant",
                      "t": f"2021-01-{1 + n // 24:02d}T{n % 24:02d}:00:30Z"})
    assert nexus("memory", "import", str(jsonl(tmp_path / "old.jsonl", lines))).returncode == 0

    compact = nexus("memory", "compact")
    assert compact.returncode == 0, compact.stderr
    assert "Compressed" in compact.stdout and "summaries" in compact.stdout
    tiers = dict(stored(home, "SELECT tier, count(*) FROM messages GROUP BY tier"))
    assert tiers["full"] == 100 and tiers["archived"] > 0
    assert stored(home, "SELECT count(*) FROM events WHERE kind = 'compaction'") == [(1,)]

    message_id = stored(home, "SELECT min(message_id) FROM message_archive")[0][0]
    restore = nexus("memory", "restore", str(message_id))
    assert restore.returncode == 0, restore.stderr
    assert f"Message {message_id} is back in full (it was archived)" in restore.stdout
    content, tier = stored(home, f"SELECT content, tier FROM messages WHERE id = {message_id}")[0]
    assert tier == "full" and content.startswith(reply) and content.endswith("marker0")

    unknown = nexus("memory", "restore", "999999")
    assert unknown.returncode == 1 and "There is no message 999999" in unknown.stderr
