"""Export, import, reset and restore of the whole memory, on the real database and real
zip files."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError, StoreError
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.export import (
    FORMAT_VERSION,
    MANIFEST,
    REPLACED,
    export_memory,
    import_memory,
    reset_memory,
    restore_replaced,
    undo_import,
)
from nexus_desktop.store.facts import FactStore

ADAPTER_FILE = "SmolLM2-135M-Instruct-1234abcd/v0003/adapter.safetensors"
ADAPTER_BYTES = b"adapter weights " * 200


def say(database: Database, *texts: str) -> None:
    """Store user messages with a reply each, and the facts they state (as the app does)."""
    session = PersistentSession(database)
    facts = FactStore(database)
    for text in texts:
        message = session.add_user_message(text)
        session.record_reply(message, f"Noted: {text}", "model")
        for candidate in extract_facts(text):
            facts.remember(candidate, message.id)


def conversation(paths: AppPaths) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Messages (role, content) and active facts (subject, key, value) of a home's memory."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        messages = [(m.role, m.content) for m in PersistentSession(database).history(1000)]
        facts = [(f.subject, f.key, f.value) for f in FactStore(database).active()]
    finally:
        database.close()
    return messages, facts


def other_home(tmp_path: Path, name: str = "other-home") -> AppPaths:
    root = tmp_path / name
    result = AppPaths(root / "data", root / "config", root / "cache", root / "logs")
    result.ensure()
    return result


def tree(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` with its SHA-256: to show that nothing changed."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def filled(paths: AppPaths, db: Database, settings: Settings) -> AppPaths:
    """A home with a conversation, facts, a changed setting and an adapter version."""
    say(db, "My favorite color is teal.", "I live in Lyon.", "What should I cook tonight?")
    settings.set("teacher.model", "qwen2.5")
    adapter = paths.adapters_dir / ADAPTER_FILE
    adapter.parent.mkdir(parents=True)
    adapter.write_bytes(ADAPTER_BYTES)
    return paths


@pytest.fixture
def exported(filled: AppPaths, db: Database, tmp_path: Path) -> Path:
    archive = tmp_path / "exports" / "memory.zip"
    export_memory(filled, archive)
    db.close()
    return archive


# --- export and import ------------------------------------------------------------------


def test_export_holds_database_adapters_settings_and_manifest(filled, db, tmp_path):
    archive = tmp_path / "memory.zip"

    report = export_memory(filled, archive)  # while the database is open and in use

    assert report.path == archive and report.messages == 6 and report.facts == 2
    assert report.files == 3 and report.size_bytes == archive.stat().st_size
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        manifest = json.loads(opened.read(MANIFEST))
        assert opened.read(f"adapters/{ADAPTER_FILE}") == ADAPTER_BYTES
        assert opened.read("config.toml") == filled.user_config.read_bytes()
    assert names == {MANIFEST, "nexus.db", "config.toml", f"adapters/{ADAPTER_FILE}"}
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["messages"] == 6 and manifest["facts"] == 2
    assert manifest["app_version"] and manifest["created_at"]
    assert {f["name"] for f in manifest["files"]} == names - {MANIFEST}
    assert not [p for p in archive.parent.iterdir() if p.name.endswith(".partial")]


def test_export_is_a_consistent_copy_while_the_app_writes(filled, db, tmp_path):
    writer = db.connection()
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE messages SET content = 'half-written' WHERE id = 1")
    try:
        export_memory(filled, tmp_path / "memory.zip")
    finally:
        writer.execute("ROLLBACK")
    fresh = other_home(tmp_path)

    import_memory(fresh, tmp_path / "memory.zip")

    messages, _ = conversation(fresh)
    assert ("user", "My favorite color is teal.") in messages
    assert all(content != "half-written" for _, content in messages)


def test_import_into_a_fresh_home_gives_the_same_memory(filled, exported, tmp_path):
    expected = conversation(filled)
    fresh = other_home(tmp_path)
    before = Database(fresh.database, fresh.backups_dir)
    before.open()
    say(before, "I am someone else entirely.")
    before.close()

    report = import_memory(fresh, exported)

    assert conversation(fresh) == expected
    assert ("user", "favorite color", "teal") in expected[1]
    assert Settings(fresh.user_config).get("teacher.model") == "qwen2.5"
    assert (fresh.adapters_dir / ADAPTER_FILE).read_bytes() == ADAPTER_BYTES
    assert report.messages == 6 and report.facts == 2
    # The memory in use before is kept, not deleted.
    assert report.replaced.parent == fresh.data_dir / REPLACED
    kept = Database(report.replaced / "nexus.db", report.replaced / "unused-backups")
    kept.open()
    try:
        assert [m.content for m in PersistentSession(kept).history(10)][:1] == [
            "I am someone else entirely."]
    finally:
        kept.close()
    assert not [p for p in fresh.data_dir.iterdir() if p.name.startswith(".import-")]


def test_undo_import_puts_the_old_memory_back(filled, exported, tmp_path):
    fresh = other_home(tmp_path)
    database = Database(fresh.database, fresh.backups_dir)
    database.open()
    say(database, "My name is Robin.")
    database.close()
    Settings(fresh.user_config).set("teacher.model", "mistral")
    before = conversation(fresh)
    report = import_memory(fresh, exported)
    assert conversation(fresh) != before

    displaced = undo_import(fresh, report)

    assert conversation(fresh) == before
    assert Settings(fresh.user_config).get("teacher.model") == "mistral"
    assert not fresh.adapters_dir.exists()
    assert not report.replaced.exists()
    # The imported memory was set aside in turn: undoing is itself undoable.
    assert (displaced / "nexus.db").exists() and (displaced / "adapters" / ADAPTER_FILE).exists()
    restore_replaced(fresh, displaced)
    assert conversation(fresh) == conversation(filled)


# --- refused archives -------------------------------------------------------------------


def rewrite(archive: Path, target: Path, *, drop: tuple[str, ...] = (),
            replace: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None,
            manifest_changes: dict | None = None, list_extra: bool = True) -> Path:
    """A copy of ``archive`` with entries dropped, replaced or added; the manifest lists
    the new files with correct sizes and checksums (unless ``list_extra`` is false), so
    only the change under test is wrong."""
    replace = replace or {}
    extra = extra or {}
    with zipfile.ZipFile(archive) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    manifest = json.loads(contents.pop(MANIFEST))
    contents = {name: replace.get(name, data) for name, data in contents.items()
                if name not in drop}
    listed = dict(contents)
    if list_extra:
        listed.update(extra)
    manifest["files"] = [{"name": name, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()}
                         for name, data in listed.items()]
    manifest.update(manifest_changes or {})
    with zipfile.ZipFile(target, "w") as out:
        if MANIFEST not in drop:
            out.writestr(MANIFEST, json.dumps(manifest))
        for name, data in {**contents, **extra}.items():
            out.writestr(zipfile.ZipInfo(name), data)
    return target


def damaged_database(data: bytes) -> bytes:
    """The database with the middle of its second page overwritten: a damaged b-tree."""
    page = int.from_bytes(data[16:18], "big") or 65536
    broken = bytearray(data)
    broken[page + 8: page + 64] = b"\xff" * 56
    return bytes(broken)


BAD_ARCHIVES = {
    "not a zip": ("not a valid zip file", lambda a, t: (t.write_bytes(b"PK nonsense" * 50), t)[1]),
    "no manifest": ("has no manifest.json", lambda a, t: rewrite(a, t, drop=(MANIFEST,))),
    "newer format": ("newer version of Nexus Desktop",
                     lambda a, t: rewrite(a, t, manifest_changes={"format_version": 99})),
    "not an export": ("not a Nexus Desktop memory export",
                      lambda a, t: rewrite(a, t, manifest_changes={"format": "something"})),
    "no database": ("holds no database", lambda a, t: rewrite(a, t, drop=("nexus.db",))),
    "path traversal": ("points outside the data folder",
                       lambda a, t: rewrite(a, t, extra={"adapters/../../evil.txt": b"x"})),
    "absolute path": ("points outside the data folder",
                      lambda a, t: rewrite(a, t, extra={"/tmp/evil.txt": b"x"})),
    "unknown top-level file": ("points outside the data folder",
                               lambda a, t: rewrite(a, t, extra={"evil.txt": b"x"})),
    "unlisted file": ("do not match its manifest",
                      lambda a, t: rewrite(a, t, extra={"adapters/x.bin": b"x"},
                                           list_extra=False)),
    "checksum": ("checksum does not match", lambda a, t: _wrong_checksum(a, t)),
    "damaged database": ("database is damaged", lambda a, t: rewrite(
        a, t, replace={"nexus.db": damaged_database(zipfile.ZipFile(a).read("nexus.db"))})),
    "newer schema": ("newer version of Nexus Desktop", lambda a, t: rewrite(
        a, t, replace={"nexus.db": _with_user_version(zipfile.ZipFile(a).read("nexus.db"),
                                                      999)})),
    "bad settings": ("settings are not valid", lambda a, t: rewrite(
        a, t, replace={"config.toml": b"[teacher]\nenabled = \"maybe\"\n"})),
}


def _wrong_checksum(archive: Path, target: Path) -> Path:
    rewrite(archive, target)
    with zipfile.ZipFile(target) as opened:
        contents = {name: opened.read(name) for name in opened.namelist()}
    manifest = json.loads(contents[MANIFEST])
    for item in manifest["files"]:
        if item["name"] == "config.toml":
            item["sha256"] = "0" * 64
    contents[MANIFEST] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as out:
        for name, data in contents.items():
            out.writestr(name, data)
    return target


def _with_user_version(data: bytes, version: int) -> bytes:
    # The schema version (PRAGMA user_version) lives at offset 60 of the header.
    return data[:60] + version.to_bytes(4, "big") + data[64:]


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_a_bad_archive_is_refused_before_anything_changes(case, exported, tmp_path):
    expected_message, make = BAD_ARCHIVES[case]
    bad = make(exported, tmp_path / f"bad-{case.replace(' ', '-')}.zip")
    fresh = other_home(tmp_path)
    database = Database(fresh.database, fresh.backups_dir)
    database.open()
    say(database, "I keep my own memory.")
    database.close()
    Settings(fresh.user_config).set("teacher.model", "mistral")
    before = tree(tmp_path / "other-home")

    with pytest.raises(InputError) as caught:
        import_memory(fresh, bad)

    message = str(caught.value)
    assert expected_message in message and str(bad) in message
    assert "Nothing was changed" in message
    assert tree(tmp_path / "other-home") == before
    assert not (fresh.data_dir / REPLACED).exists()
    assert not list(tmp_path.rglob("evil.txt"))
    assert [p.name for p in fresh.data_dir.iterdir()] == ["nexus.db"]  # no staging left


def test_a_missing_archive_is_refused(paths, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        import_memory(paths, tmp_path / "nowhere.zip")


def test_a_failed_export_leaves_nothing_behind(filled, db, tmp_path):
    destination = tmp_path / "taken"
    destination.mkdir()  # a folder where the file should go: the final rename fails

    with pytest.raises(StoreError, match="Could not write the export"):
        export_memory(filled, destination)

    assert list(tmp_path.glob(".taken*")) == []
    assert destination.is_dir() and not any(destination.iterdir())


def test_export_without_a_database_says_so(paths, tmp_path):
    with pytest.raises(StoreError, match="no memory to export yet"):
        export_memory(paths, tmp_path / "memory.zip")
    assert not (tmp_path / "memory.zip").exists()


# --- reset and restore ------------------------------------------------------------------


def test_reset_moves_the_memory_aside_and_restore_brings_it_back(filled, db):
    db.backup("daily")
    db.close()
    expected = conversation(filled)

    folder = reset_memory(filled)

    assert folder.parent == filled.data_dir / REPLACED
    assert not filled.database.exists() and not filled.adapters_dir.exists()
    assert not filled.backups_dir.exists()
    assert (folder / "nexus.db").exists() and (folder / "adapters" / ADAPTER_FILE).exists()
    assert list((folder / "backups").glob("nexus-*.db"))
    note = json.loads((folder / "replaced.json").read_text(encoding="utf-8"))
    assert note["reason"] == "reset"
    # Settings are not memory: they stay.
    assert Settings(filled.user_config).get("teacher.model") == "qwen2.5"
    assert conversation(filled) == ([], [])  # the next start is fresh

    restore_replaced(filled, folder)

    assert conversation(filled) == expected
    assert (filled.adapters_dir / ADAPTER_FILE).read_bytes() == ADAPTER_BYTES


def test_restore_refuses_a_folder_that_is_not_replaced_memory(paths, tmp_path):
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    with pytest.raises(InputError, match="not a folder of replaced memory"):
        restore_replaced(paths, elsewhere)
    empty = paths.data_dir / REPLACED / "empty"
    empty.mkdir(parents=True)
    with pytest.raises(InputError, match="holds no memory"):
        restore_replaced(paths, empty)


def test_skills_travel_with_the_memory(filled, db, tmp_path):
    from nexus_desktop.store.skills import SkillStore

    store = SkillStore(db)
    kept = store.add(name="Miles to km", intent="Convert 5 miles to km",
                     request_key="convert 5 miles to km", embedding=None,
                     embedding_model=None, steps={"how": "rated good"},
                     result="About 8 km.", confidence=0.8, source_reply_id=None)
    store.pin(kept.id, True)
    archive = tmp_path / "memory.zip"
    report = export_memory(filled, archive)
    with zipfile.ZipFile(archive) as opened:
        assert json.loads(opened.read(MANIFEST))["skills"] == 1
    assert report.skills == 1
    fresh = other_home(tmp_path)

    imported = import_memory(fresh, archive)

    assert imported.skills == 1
    database = Database(fresh.database, fresh.backups_dir)
    database.open()
    try:
        [skill] = SkillStore(database).all()
    finally:
        database.close()
    assert (skill.name, skill.result, skill.pinned, skill.confidence) == \
        ("Miles to km", "About 8 km.", True, 0.8)
