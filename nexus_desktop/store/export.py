"""The whole memory as one file: export it, import it, reset it, and undo an import or reset.

The memory is the database (conversation, facts, skills, everything learned from them), the
adapter versions the model learned, and the user's settings. An export is a zip holding a
consistent copy of the database taken with SQLite's online backup while the app may keep
writing, the adapters folder, config.toml and a manifest that lists every file with its
size and SHA-256.

Import and reset never delete anything: what they replace is moved into
``<data_dir>/replaced/<time>/``, from where ``restore_replaced`` puts it back. The database
backups are moved along with the database, because the app restores a damaged database
from its newest backup, and that must never bring back memory the user replaced.

Import, reset and restore move the database file: the caller closes the database (and
everything using it: engine, learner, index thread) before, and opens it again after.
Export does not need that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import apsw

from nexus_desktop import __version__
from nexus_desktop.config import Settings
from nexus_desktop.errors import ConfigError, InputError, StoreError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.connection import open_connection, translate_errors
from nexus_desktop.store.migrate import check_known, schema_version

FORMAT = "nexus-desktop-memory"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "nexus.db"
CONFIG = "config.toml"
ADAPTERS = "adapters"
BACKUPS = "backups"
REPLACED = "replaced"
NOTE = "replaced.json"
# SQLite's companions of the database file; they belong to it wherever it goes.
_DB_SIDE_FILES = ("-wal", "-shm", "-journal")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExportReport:
    path: Path
    messages: int
    facts: int
    files: int
    size_bytes: int
    skills: int = 0


@dataclass(frozen=True)
class ImportReport:
    archive: Path
    replaced: Path  # where the memory in use before the import was kept (for undo)
    messages: int
    facts: int
    created_at: str
    app_version: str
    skills: int = 0


# --- export ---------------------------------------------------------------------------


def export_memory(paths: AppPaths, destination: Path) -> ExportReport:
    """Write the whole memory to the zip file ``destination``.

    The zip is written under a temporary name next to it and renamed when complete, so a
    failed export leaves no half-written file (and an existing file is replaced only by a
    complete export).
    """
    if not paths.database.exists():
        raise StoreError(
            f"There is no memory to export yet: {paths.database} does not exist. Talk to "
            "Nexus Desktop first, or check that NEXUS_HOME points at the right folder."
        )
    destination = destination.expanduser()
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nexus-export-") as scratch:
        snapshot = Path(scratch) / DATABASE
        _snapshot_database(paths.database, snapshot)
        version, messages, facts = _database_summary(snapshot)
        skills = _skill_count(snapshot)
        files: list[tuple[str, Path]] = [(DATABASE, snapshot)]
        if paths.user_config.is_file():
            files.append((CONFIG, paths.user_config))
        files.extend(_adapter_files(paths.adapters_dir))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": __version__,
            "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "schema_version": version,
            "messages": messages,
            "facts": facts,
            "skills": skills,
            "files": [{"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}
                      for name, path in files],
        }
        partial = destination.with_name(f".{destination.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
                for name, path in files:
                    archive.write(path, name)
            with partial.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(partial, destination)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StoreError(
                f"Could not write the export {destination} ({exc.strerror or exc}). Check that "
                "the folder is writable and the disk has space, then try again; nothing of "
                "the memory was changed."
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return ExportReport(destination, messages, facts, len(files),
                        destination.stat().st_size, skills)


def _snapshot_database(source: Path, target: Path) -> None:
    """A consistent copy of the live database, made with SQLite's online backup.

    One step copies every page inside one read transaction: in WAL mode that never blocks
    the app's writers, and the copy is the database as of one moment. (Copying in small
    steps would restart whenever the app writes, possibly for ever.)
    """
    with translate_errors(source):
        reader = open_connection(source, readonly=True)
        try:
            copy = apsw.Connection(str(target))
            try:
                with copy.backup("main", reader, "main") as backup:
                    backup.step(-1)
                # One self-contained file: no WAL beside it.
                copy.pragma("journal_mode", "delete")
            finally:
                copy.close()
        finally:
            reader.close()


def _adapter_files(adapters_dir: Path) -> list[tuple[str, Path]]:
    if not adapters_dir.is_dir():
        return []
    return [(f"{ADAPTERS}/{path.relative_to(adapters_dir).as_posix()}", path)
            for path in sorted(adapters_dir.rglob("*"))
            if path.is_file() and not path.is_symlink()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _database_summary(path: Path) -> tuple[int, int, int]:
    """Schema version, message count and count of facts in force."""
    connection = open_connection(path, readonly=True)
    try:
        version = schema_version(connection)
        messages = connection.execute("SELECT count(*) FROM messages").get
        facts = connection.execute("SELECT count(*) FROM facts WHERE status = 'active'").get
        return version, int(messages), int(facts)
    finally:
        connection.close()


def _skill_count(path: Path) -> int:
    """Skills in use; 0 in a database from before the skill library."""
    connection = open_connection(path, readonly=True)
    try:
        known = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'skills'").get
        if not known:
            return 0
        return int(connection.execute(
            "SELECT count(*) FROM skills WHERE state = 'active'").get)
    finally:
        connection.close()


# --- import ---------------------------------------------------------------------------


def import_memory(paths: AppPaths, archive: Path) -> ImportReport:
    """Replace the memory in use with the one in the export ``archive``.

    The archive is checked completely first (manifest, every file's size and checksum, no
    entry pointing outside the data folder, a sound database of a known schema, valid
    settings); a bad one is refused with InputError before anything is changed. Then the
    memory in use is moved into ``<data_dir>/replaced/<time>/`` and the imported one put
    in place. The database must be closed while this runs.
    """
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=paths.data_dir))
    try:
        manifest = _unpack_checked(archive, staging)
        messages, facts = _check_database(archive, staging / DATABASE)
        if (staging / CONFIG).exists():
            _check_config(archive, staging / CONFIG)
        replaced = _set_aside(paths, _MEMORY_AND_SETTINGS, f"import of {archive}")
        try:
            _swap_in(paths, staging, replaced)
        except OSError as exc:
            raise StoreError(
                f"Could not put the imported memory in place ({exc.strerror or exc}); the "
                "memory in use before was put back unchanged. Free some disk space or close "
                "programs using the data folder, then try again."
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportReport(archive, replaced, messages, facts, str(manifest.get("created_at", "")),
                        str(manifest.get("app_version", "")), _skill_count(paths.database))


def _refuse(archive: Path, why: str) -> InputError:
    return InputError(
        f"{archive} cannot be imported: {why} Nothing was changed; choose a file made with "
        "Export... in Nexus Desktop."
    )


def _unpack_checked(archive: Path, staging: Path) -> dict[str, Any]:
    """Check the archive and unpack its files into ``staging``; returns the manifest."""
    try:
        with zipfile.ZipFile(archive) as opened:
            manifest = _read_manifest(archive, opened)
            expected = _expected_files(archive, manifest)
            entries = {info.filename: info for info in opened.infolist() if not info.is_dir()}
            if len(entries) != len([i for i in opened.infolist() if not i.is_dir()]):
                raise _refuse(archive, "it holds the same file twice.")
            for name, info in entries.items():
                _check_entry_name(archive, name, staging)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise _refuse(archive, f"the entry {name!r} is a link, not a file.")
            listed = set(expected) | {MANIFEST}
            if set(entries) != listed:
                odd = sorted(set(entries) ^ listed)
                raise _refuse(archive, "its files do not match its manifest "
                                       f"({', '.join(repr(n) for n in odd[:3])}).")
            for name, (size, sha256) in expected.items():
                _unpack_one(archive, opened, entries[name], staging / name, size, sha256)
    except zipfile.BadZipFile:
        raise _refuse(archive, "it is not a Nexus Desktop export (not a valid zip file).") from None
    except FileNotFoundError:
        raise InputError(f"{archive} does not exist. Choose an existing export file.") from None
    return manifest


def _read_manifest(archive: Path, opened: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(opened.read(MANIFEST))
    except KeyError:
        raise _refuse(archive, f"it has no {MANIFEST}.") from None
    except (ValueError, zipfile.BadZipFile):
        raise _refuse(archive, f"its {MANIFEST} is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(archive, "it is not a Nexus Desktop memory export.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _refuse(archive, f"its format version {version!r} is not valid.")
    if version > FORMAT_VERSION:
        raise _refuse(archive, f"it was made by a newer version of Nexus Desktop (format "
                               f"{version}); update Nexus Desktop to import it.")
    return manifest


def _expected_files(archive: Path, manifest: dict[str, Any]) -> dict[str, tuple[int, str]]:
    expected: dict[str, tuple[int, str]] = {}
    for item in manifest.get("files") or []:
        try:
            name, size, sha256 = str(item["name"]), int(item["size"]), str(item["sha256"])
        except (TypeError, KeyError, ValueError):
            raise _refuse(archive, f"its {MANIFEST} lists a file without name, size or "
                                   "checksum.") from None
        expected[name] = (size, sha256)
    if DATABASE not in expected:
        raise _refuse(archive, "it holds no database.")
    return expected


def _check_entry_name(archive: Path, name: str, staging: Path) -> None:
    """Only the known files, and adapter files strictly inside the adapters folder."""
    parts = PurePosixPath(name).parts
    safe = (
        "\\" not in name and ":" not in name and not name.startswith("/")
        and parts and all(part not in ("", ".", "..") for part in parts)
        and (name in (MANIFEST, DATABASE, CONFIG) or (parts[0] == ADAPTERS and len(parts) > 1))
        and (staging / name).resolve().is_relative_to(staging.resolve())
    )
    if not safe:
        raise _refuse(archive, f"the entry {name!r} points outside the data folder or is not "
                               "part of a memory export.")


def _unpack_one(archive: Path, opened: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                size: int, sha256: str) -> None:
    """Copy one entry out, stopping as soon as it is longer than the manifest says."""
    if info.file_size != size:
        raise _refuse(archive, f"{info.filename!r} is not the size its manifest says.")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with opened.open(info) as source, target.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > size:
                raise _refuse(archive, f"{info.filename!r} is longer than its manifest says.")
            digest.update(chunk)
            sink.write(chunk)
    if written != size or digest.hexdigest() != sha256:
        raise _refuse(archive, f"{info.filename!r} is damaged (its checksum does not match).")


def _check_database(archive: Path, path: Path) -> tuple[int, int]:
    """A sound database of a schema this version knows; returns message and fact counts."""
    try:
        connection = open_connection(path, readonly=True)
        try:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise _refuse(archive, "its database is damaged (" + "; ".join(problems[:3]) + ").")
            check_known(schema_version(connection))
        finally:
            connection.close()
        _, messages, facts = _database_summary(path)
    except StoreError as exc:
        raise _refuse(archive, str(exc)) from None
    except apsw.Error as exc:
        raise _refuse(archive, f"its database cannot be read ({exc}).") from None
    return messages, facts


def _check_config(archive: Path, path: Path) -> None:
    try:
        Settings(path)
    except ConfigError as exc:
        raise _refuse(archive, f"its settings are not valid ({exc}).") from None


# --- setting aside and restoring ---------------------------------------------------------

_MEMORY = (DATABASE, ADAPTERS, BACKUPS)
_MEMORY_AND_SETTINGS = (*_MEMORY, CONFIG)


def reset_memory(paths: AppPaths) -> Path:
    """Move the memory (database, its backups, adapters) aside so the next start is fresh.

    Nothing is deleted: returns the folder that keeps it, which ``restore_replaced`` puts
    back. Settings stay as they are. The database must be closed while this runs.
    """
    return _set_aside(paths, _MEMORY, "reset")


def undo_import(paths: AppPaths, report: ImportReport) -> Path:
    """Put back the memory that the import replaced; see ``restore_replaced``."""
    return restore_replaced(paths, report.replaced)


def restore_replaced(paths: AppPaths, folder: Path) -> Path:
    """Put the memory kept in ``folder`` (made by an import or reset) back in use.

    The memory in use now is itself set aside first (nothing is deleted), into the folder
    returned. The database must be closed while this runs.
    """
    folder = folder.resolve()
    if not (folder.parent == (paths.data_dir / REPLACED).resolve() and folder.is_dir()):
        raise InputError(
            f"{folder} is not a folder of replaced memory; choose one inside "
            f"{paths.data_dir / REPLACED}."
        )
    kept = _replaced_names(folder)
    if not kept:
        raise InputError(f"{folder} holds no memory to restore.")
    # Everything the import or reset replaced is set aside, also what did not exist then
    # (adapters learned since, say): the memory goes back exactly as it was.
    displaced = _set_aside(paths, kept, f"restore of {folder.name}")
    try:
        _swap_in(paths, folder, displaced)
    except OSError as exc:
        raise StoreError(
            f"Could not restore {folder} ({exc.strerror or exc}); the memory in use was put "
            "back unchanged. Close programs using the data folder and try again."
        ) from None
    (folder / NOTE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # emptied; anything the user put there stays
    return displaced


def _replaced_names(folder: Path) -> tuple[str, ...]:
    """The kinds of items (database, adapters...) that were replaced into ``folder``, as its
    note records them; without a note, those present in it."""
    try:
        recorded = json.loads((folder / NOTE).read_text(encoding="utf-8"))["replaced"]
        return tuple(name for name in _MEMORY_AND_SETTINGS if name in recorded)
    except (OSError, ValueError, KeyError, TypeError):
        return tuple(name for name in _MEMORY_AND_SETTINGS if (folder / name).exists())


def _live_location(paths: AppPaths, name: str) -> Path:
    return {DATABASE: paths.database, ADAPTERS: paths.adapters_dir,
            BACKUPS: paths.backups_dir, CONFIG: paths.user_config}[name]


def _with_side_files(name: str) -> Iterator[str]:
    yield name
    if name == DATABASE:
        yield from (name + suffix for suffix in _DB_SIDE_FILES)


def _set_aside(paths: AppPaths, names: tuple[str, ...], reason: str) -> Path:
    """Move the live items ``names`` into a new folder under ``<data_dir>/replaced``; on a
    failure everything moved so far goes back."""
    folder = _new_replaced_folder(paths)
    moved: list[tuple[Path, Path]] = []
    try:
        for name in names:
            live = _live_location(paths, name)
            for member in _with_side_files(name):
                source = live.with_name(member) if name == DATABASE else live
                if source.exists() or source.is_symlink():
                    shutil.move(source, folder / member)
                    moved.append((folder / member, source))
        (folder / NOTE).write_text(json.dumps({
            "reason": reason,
            "replaced": list(names),
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "items": [target.name for target, _ in moved],
        }, indent=2), encoding="utf-8")
    except OSError as exc:
        for target, source in reversed(moved):
            shutil.move(target, source)
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(
            f"Could not move the memory in use aside ({exc.strerror or exc}); nothing was "
            "changed. Close Nexus Desktop's other windows or programs using the data folder, "
            "free some disk space, and try again."
        ) from None
    return folder


def _swap_in(paths: AppPaths, folder: Path, set_aside: Path) -> None:
    """Move the memory items found in ``folder`` to their live locations. On a failure,
    what was moved goes back to ``folder`` and the items in ``set_aside`` (the memory in
    use before) back in use, and the error is raised again."""
    moved: list[tuple[Path, Path]] = []
    try:
        _put_in_place(paths, folder, moved)
    except OSError:
        for source, target in reversed(moved):
            shutil.move(target, source)
        _put_in_place(paths, set_aside, [])
        raise


def _put_in_place(paths: AppPaths, folder: Path, moved: list[tuple[Path, Path]]) -> None:
    """Move the memory items found in ``folder`` to their live locations, recording each
    move in ``moved``."""
    for name in _MEMORY_AND_SETTINGS:
        live = _live_location(paths, name)
        for member in _with_side_files(name):
            source = folder / member
            if source.exists():
                target = live.with_name(member) if name == DATABASE else live
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, target)
                moved.append((source, target))


def _new_replaced_folder(paths: AppPaths) -> Path:
    root = paths.data_dir / REPLACED
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    for attempt in range(1, 1000):
        folder = root / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise StoreError(f"Too many folders named {stamp} in {root}; remove some and try again.")
