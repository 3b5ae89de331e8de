"""Errors a user can act on: a full disk and a data folder that cannot be written.

The disk is filled for real with SQLite's own limit (PRAGMA max_page_count). The read-only
folder is real too: as root (tests run as root in CI) permissions do not stop writes, so
the check runs in a subprocess that drops to the unprivileged user 'nobody' first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from nexus_desktop.errors import ReadOnlyStorageError, StorageFullError, StoreError
from nexus_desktop.store.connection import open_connection, translate_errors
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id

REPO = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).parent / "helpers" / "readonly_probe.py"


# --- a full disk -------------------------------------------------------------------------


def test_a_full_disk_fails_the_append_clearly_and_keeps_what_was_saved(db: Database):
    store = MessageStore(db)
    sid = persistent_session_id(db)
    saved = [store.append(sid, "user", f"saved message {n} " + "words " * 40) for n in range(30)]
    reply = store.append(sid, "assistant", "the start of a reply", status="streaming")
    connection = db.connection()
    # The file may not grow any more: the next page SQLite needs is "beyond the disk".
    pages = connection.pragma("page_count")
    assert connection.pragma("max_page_count", pages) == pages

    with pytest.raises(StorageFullError) as full:
        store.append(sid, "user", "a long message that needs new pages " * 5000)
    message = str(full.value)
    assert f"The disk holding {db.path.parent} is full" in message
    assert "nothing new could be saved" in message
    assert "Free some disk space" in message
    assert "everything saved before is safe" in message
    assert isinstance(full.value, StoreError)

    # A streaming reply that cannot grow keeps the text it had.
    with pytest.raises(StorageFullError):
        store.update(reply.id, "the start of a reply " + "and more " * 20000, "streaming",
                     finished=False)
    assert not connection.in_transaction

    # Everything saved before is intact and readable, here and from a new connection.
    assert store.recent(sid, 100) == [*saved, reply]
    assert store.count() == 31
    assert [h.message.id for h in store.search("saved message 17")] == [saved[17].id]
    assert db.quick_check() == []
    other = open_connection(db.path, readonly=True)
    try:
        assert other.execute("SELECT count(*) FROM messages").get == 31
        assert other.execute("SELECT content FROM messages WHERE id = ?", (reply.id,)).get == (
            "the start of a reply"
        )
    finally:
        other.close()

    # Once there is room again, the same connection writes again.
    connection.pragma("max_page_count", 1 << 30)
    after = store.append(sid, "user", "a long message that needs new pages " * 5000)
    assert store.get(after.id).content == after.content
    assert store.count() == 32


# --- a folder or file that cannot be written ---------------------------------------------


def test_a_data_folder_that_cannot_be_made_is_reported(tmp_path: Path):
    blocker = tmp_path / "a-file-not-a-folder"
    blocker.write_text("keep me")
    database = Database(blocker / "data" / "nexus.db", tmp_path / "backups")
    with pytest.raises(ReadOnlyStorageError) as refused:
        database.open()
    database.close()
    message = str(refused.value)
    assert f"cannot write to its data folder {blocker / 'data'}" in message
    assert "NEXUS_HOME" in message
    assert "nothing saved before has been touched" in message
    assert blocker.read_text() == "keep me"


def test_a_connection_to_an_impossible_path_is_reported(tmp_path: Path):
    with pytest.raises(ReadOnlyStorageError, match="cannot write to"):
        open_connection(tmp_path / "missing-folder" / "nexus.db")


@pytest.mark.parametrize("error, expected", [
    (apsw.FullError, StorageFullError),
    (apsw.ReadOnlyError, ReadOnlyStorageError),
    (apsw.PermissionsError, ReadOnlyStorageError),
    (apsw.CantOpenError, ReadOnlyStorageError),
    (apsw.IOError, StoreError),
])
def test_sqlite_errors_become_errors_that_say_what_to_do(tmp_path, error, expected):
    with pytest.raises(expected) as translated, translate_errors(tmp_path / "nexus.db"):
        raise error("from SQLite")
    assert type(translated.value) is expected
    assert "safe" in str(translated.value)


def test_other_sqlite_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(apsw.ConstraintError), translate_errors(tmp_path / "nexus.db"):
        raise apsw.ConstraintError("CHECK constraint failed")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temp dir another user can enter (pytest's own may be private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="nexus-readonly-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def make_database(data: Path) -> None:
    database = Database(data / "nexus.db", data / "backups")
    database.open()
    store = MessageStore(database)
    sid = persistent_session_id(database)
    for n in range(5):
        store.append(sid, "user", f"written before, number {n}")
    database.close()


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
        )
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def run_probe(data: Path) -> dict:
    """Open the database and append as an unprivileged user; skip where that is impossible."""
    if not hasattr(os, "geteuid"):
        pytest.skip("POSIX permissions and users are needed to make a folder read-only")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(PROBE), str(data)], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "drop_failed" in result:
        pytest.skip(f"running as root and cannot drop privileges: {result['drop_failed']}")
    assert result["uid"] != 0
    return result


def test_a_read_only_data_folder_is_refused_and_left_as_it_was(shared_dir: Path):
    data = shared_dir / "data"
    make_database(data)
    before = fingerprint(data)
    data.chmod(0o555)

    result = run_probe(data)
    if result["folder_writable"]:
        pytest.skip("permissions do not stop writes on this file system")
    assert "opened" not in result
    assert result["error_type"] == "ReadOnlyStorageError"
    assert f"cannot write to its data folder {data}" in result["error"]
    assert "Permission denied" in result["error"]
    assert "nothing saved before has been touched" in result["error"]
    data.chmod(0o755)
    assert fingerprint(data) == before


def test_a_read_only_database_file_is_refused_and_left_as_it_was(shared_dir: Path):
    data = shared_dir / "data"
    make_database(data)
    (data / "nexus.db").chmod(0o444)
    data.chmod(0o777)  # the folder is writable; only the file is not
    before = fingerprint(data)

    result = run_probe(data)
    if result["file_writable"]:
        pytest.skip("permissions do not stop writes on this file system")
    assert result["folder_writable"] is True
    assert "opened" not in result
    assert result["error_type"] == "ReadOnlyStorageError"
    assert f"cannot write to its database {data / 'nexus.db'}" in result["error"]
    assert "read-only" in result["error"]
    assert fingerprint(data) == before
    assert not (data / "backups").exists()
