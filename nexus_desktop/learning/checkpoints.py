"""Versioned adapter checkpoints: what the model has learned survives a crash or power cut.

Each save is a new folder ``v000001``, ``v000002``... holding the learning adapter
(``adapter.safetensors``), its steady EMA copy (``ema.safetensors``) and ``manifest.json``
(version, time, training config, metrics, and the size and SHA-256 of each weights file).
A version is written into a hidden ``.tmp-*`` folder, flushed to disk, and only then renamed
to its final name, so a version folder is either complete or absent: a process killed in
the middle of a save leaves only a ``.tmp-*`` folder, removed at the next start.

Reading checks sizes and hashes. A version that fails (a disk error, a file edited by hand)
is renamed ``v000003.damaged`` so it is not tried again but is kept for inspection, and the
version before it is used instead: learning goes back a few minutes rather than breaking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file

from nexus_desktop.errors import CheckpointError

log = logging.getLogger(__name__)

ADAPTER_FILE = "adapter.safetensors"
EMA_FILE = "ema.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = 1
TEMP_PREFIX = ".tmp-"
DAMAGED_SUFFIX = ".damaged"
_VERSION = re.compile(r"v(\d{6,})")
_ANY_VERSION = re.compile(r"v(\d{6,})(?:\.damaged(?:-\d+)?)?")


@dataclass(frozen=True)
class AdapterVersion:
    """One saved adapter version, as its manifest describes it."""

    version: int
    folder: Path
    created_at: float  # seconds since the epoch, like every time Nexus Desktop stores
    metrics: dict[str, Any] = field(hash=False)
    config: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class LoadedAdapter:
    """A version read back and checked, plus the damaged versions passed over to reach it."""

    version: AdapterVersion
    adapter: dict[str, torch.Tensor] = field(hash=False)
    ema: dict[str, torch.Tensor] = field(hash=False)
    skipped: list[tuple[int, str]] = field(default_factory=list, hash=False)


class _Damaged(Exception):
    """A version folder fails its checks; the message says how."""


def folder_name(version: int) -> str:
    return f"v{version:06d}"


def _fsync_file(path: Path) -> None:
    # Opened for writing: Windows flushes only a handle that may write.
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename or new entry in ``path`` durable. Windows cannot open a folder for
    this; NTFS journals its metadata, so there is nothing to do there."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cpu_copy(tensors: dict[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies that share no storage: safetensors refuses shared or strided
    tensors, and the learner keeps changing its own while the file is written."""
    if not isinstance(tensors, dict):
        raise TypeError(f"The {what} weights must be a dict of tensors, not {type(tensors)!r}.")
    result = {}
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise TypeError(f"The {what} weights must map names to tensors ({name!r} does not).")
        result[name] = tensor.detach().to("cpu").contiguous().clone()
    return result


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AdapterCheckpoints:
    """The adapter versions of one base model in ``root`` (``adapters_dir / <model slug>``),
    keeping the newest ``keep``."""

    def __init__(self, root: Path, keep: int) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"The number of adapter versions to keep must be >= 1, not {keep!r}.")
        self.root = Path(root)
        self.keep = keep
        self._lock = threading.Lock()

    # -- listing --------------------------------------------------------------------

    def _numbered(self, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
        """Folders in root whose whole name matches ``pattern``, newest first."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and entry.is_dir():
                found.append((int(match.group(1)), entry))
        found.sort(key=lambda item: (item[0], item[1].name), reverse=True)
        return found

    def versions(self) -> list[AdapterVersion]:
        """The versions with a readable manifest, newest first (weights are not checked)."""
        result = []
        for number, folder in self._numbered(_VERSION):
            try:
                result.append(self._read_manifest(number, folder)[0])
            except _Damaged:
                continue
        return result

    # -- saving ---------------------------------------------------------------------

    def save(
        self,
        adapter: dict[str, torch.Tensor],
        ema: dict[str, torch.Tensor],
        config: dict[str, Any],
        metrics: dict[str, Any],
    ) -> AdapterVersion:
        """Write a new version atomically, then drop the oldest beyond ``keep``."""
        adapter = _cpu_copy(adapter, "adapter")
        ema = _cpu_copy(ema, "EMA")
        try:
            json.dumps({"config": config, "metrics": metrics})
        except (TypeError, ValueError) as error:
            raise TypeError(f"Adapter config and metrics must be JSON values: {error}") from None
        with self._lock:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                number = max((n for n, _ in self._numbered(_ANY_VERSION)), default=0) + 1
                final = self.root / folder_name(number)
                created_at = time.time()
                temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))
                try:
                    files = {}
                    for name, tensors in ((ADAPTER_FILE, adapter), (EMA_FILE, ema)):
                        path = temp / name
                        save_file(tensors, str(path), metadata={"format": "pt"})
                        _fsync_file(path)
                        data = path.read_bytes()
                        files[name] = {"size": len(data), "sha256": _sha256(data)}
                    manifest = {
                        "format": FORMAT, "version": number, "created_at": created_at,
                        "config": config, "metrics": metrics, "files": files,
                    }
                    with (temp / MANIFEST_FILE).open("w", encoding="utf-8") as out:
                        json.dump(manifest, out, indent=2, sort_keys=True)
                        out.flush()
                        os.fsync(out.fileno())
                    _fsync_dir(temp)
                    if final.exists():
                        raise OSError(f"{final} already exists")
                    os.replace(temp, final)
                except BaseException:
                    shutil.rmtree(temp, ignore_errors=True)
                    raise
                _fsync_dir(self.root)
            except OSError as error:
                raise CheckpointError(
                    f"Could not save the adapter in {self.root}: {error}. Free some disk space "
                    "or make the folder writable; learning goes on from the last saved version."
                ) from error
            self._prune()
        log.info("Saved adapter version %d in %s", number, final)
        return AdapterVersion(number, final, created_at, dict(metrics), dict(config))

    def _prune(self) -> None:
        """Keep the newest ``keep`` versions, and as many damaged ones for inspection.

        A folder is first renamed to a ``.tmp-`` name so that a removal cut short never
        leaves a half-deleted version behind; ``clean_temporary`` finishes it.
        """
        damaged = [
            item for item in self._numbered(_ANY_VERSION) if not _VERSION.fullmatch(item[1].name)
        ]
        for _, folder in self._numbered(_VERSION)[self.keep :] + damaged[self.keep :]:
            try:
                doomed = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))
                os.replace(folder, doomed / folder.name)
                shutil.rmtree(doomed)
            except OSError as error:
                log.warning("Could not remove old adapter version %s: %s", folder, error)

    def clean_temporary(self) -> int:
        """Remove what a save or prune cut short left behind; returns how many entries.

        Call it at start, never while another thread or process saves in this folder.
        """
        removed = 0
        if not self.root.is_dir():
            return 0
        for entry in self.root.iterdir():
            if not entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except OSError as error:
                log.warning("Could not remove the leftover %s: %s", entry, error)
        return removed

    # -- loading --------------------------------------------------------------------

    def load_latest(self) -> LoadedAdapter | None:
        """The newest intact version, or None when there is none.

        Damaged versions met on the way are renamed ``*.damaged``, logged and listed in
        ``skipped``.
        """
        skipped: list[tuple[int, str]] = []
        with self._lock:
            for number, folder in self._numbered(_VERSION):
                try:
                    loaded = self._load_folder(number, folder)
                except _Damaged as damage:
                    reason = str(damage)
                    skipped.append((number, reason))
                    kept = self._set_aside(folder)
                    log.warning(
                        "Adapter version %d is damaged (%s); it was moved to %s and the "
                        "version before it is used.", number, reason, kept,
                    )
                    continue
                return LoadedAdapter(loaded.version, loaded.adapter, loaded.ema, skipped)
        return None

    def load(self, version: int) -> LoadedAdapter:
        """Read back one version (to roll back to it); CheckpointError if it is missing or
        damaged. A damaged version is left where it is."""
        folder = self.root / folder_name(version)
        if not folder.is_dir():
            have = ", ".join(str(v.version) for v in self.versions()) or "none"
            raise CheckpointError(
                f"Adapter version {version} does not exist in {self.root} (saved versions: "
                f"{have}). Choose one of the saved versions."
            )
        try:
            return self._load_folder(version, folder)
        except _Damaged as damage:
            raise CheckpointError(
                f"Adapter version {version} in {folder} is damaged: {damage}. Choose another "
                "version, or delete this folder."
            ) from None

    def _set_aside(self, folder: Path) -> Path:
        target = folder.with_name(folder.name + DAMAGED_SUFFIX)
        counter = 2
        while target.exists():
            target = folder.with_name(f"{folder.name}{DAMAGED_SUFFIX}-{counter}")
            counter += 1
        try:
            os.replace(folder, target)
            _fsync_dir(self.root)
        except OSError as error:
            log.warning("Could not rename the damaged adapter version %s: %s", folder, error)
            return folder
        return target

    def _read_manifest(self, number: int, folder: Path) -> tuple[AdapterVersion, dict]:
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _Damaged(f"{MANIFEST_FILE} is missing") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise _Damaged(f"{MANIFEST_FILE} cannot be read ({error})") from None
        try:
            if manifest["format"] != FORMAT:
                raise _Damaged(f"{MANIFEST_FILE} has unknown format {manifest['format']!r}")
            if manifest["version"] != number:
                raise _Damaged(f"{MANIFEST_FILE} says version {manifest['version']!r}")
            files = manifest["files"]
            for name in (ADAPTER_FILE, EMA_FILE):
                entry = files[name]
                if not isinstance(entry["size"], int) or not isinstance(entry["sha256"], str):
                    raise TypeError(name)
            config, metrics = manifest["config"], manifest["metrics"]
            if not isinstance(config, dict) or not isinstance(metrics, dict):
                raise TypeError("config")
            created_at = float(manifest["created_at"])
        except (KeyError, TypeError, ValueError) as error:
            raise _Damaged(f"{MANIFEST_FILE} is incomplete ({error!r})") from None
        return AdapterVersion(number, folder, created_at, metrics, config), files

    def _load_folder(self, number: int, folder: Path) -> LoadedAdapter:
        version, files = self._read_manifest(number, folder)
        tensors = []
        for name in (ADAPTER_FILE, EMA_FILE):
            try:
                data = (folder / name).read_bytes()
            except FileNotFoundError:
                raise _Damaged(f"{name} is missing") from None
            except OSError as error:
                raise _Damaged(f"{name} cannot be read ({error})") from None
            expected = files[name]
            if len(data) != expected["size"]:
                raise _Damaged(f"{name} has {len(data)} bytes, not {expected['size']}")
            if _sha256(data) != expected["sha256"]:
                raise _Damaged(f"{name} does not match its SHA-256")
            try:
                tensors.append(load_tensors(data))
            except Exception as error:  # safetensors raises its own error types
                raise _Damaged(f"{name} cannot be loaded ({error})") from None
        return LoadedAdapter(version, tensors[0], tensors[1], [])
