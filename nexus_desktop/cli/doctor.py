"""`nexus-desktop doctor`: where everything is and whether it is healthy.

It never downloads or converts anything and does not load the model, so it stays quick
even when the model is the problem.
"""

from __future__ import annotations

import platform
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from nexus_desktop import __version__
from nexus_desktop.engine import Engine
from nexus_desktop.errors import NexusError
from nexus_desktop.llm import gguf_cache
from nexus_desktop.llm.device import pick_device, pick_dtype
from nexus_desktop.llm.loader import thread_count
from nexus_desktop.llm.source import bundled_gguf, resolve_source
from nexus_desktop.store.database import OpenReport


def collect(engine: Engine, opened: OpenReport) -> dict[str, Any]:
    paths = engine.paths
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "paths": {
            "data": str(paths.data_dir),
            "config": str(paths.user_config),
            "cache": str(paths.cache_dir),
            "logs": str(paths.log_dir),
            "database": str(paths.database),
            "backups": str(paths.backups_dir),
        },
        "model": _model(engine),
        "database": _database(engine, opened),
    }


def _model(engine: Engine) -> dict[str, Any]:
    settings, paths = engine.settings, engine.paths
    info: dict[str, Any] = {"setting": settings.get("model.source")}
    try:
        source = resolve_source(settings.get("model.source"))
        info.update(kind=source.kind, name=source.name)
        folder = _local_folder(source.kind, source.location, paths.models_dir)
        info["folder"] = str(folder) if folder else None
        info["ready"] = folder is not None
        device = pick_device(settings.get("model.device"))
        info["device"] = device.type
        info["threads"] = thread_count(settings.get("model.threads"))
        if folder is not None:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(folder)
            choice = pick_dtype(
                settings.get("model.dtype"), device, config.hidden_size,
                getattr(config, "intermediate_size", 4 * config.hidden_size),
                paths.cache_dir / "dtype-measurements.json",
            )
            info["dtype"] = str(choice.dtype).removeprefix("torch.")
            info["dtype_reason"] = choice.reason
            info["context_window"] = min(
                settings.get("generation.context_tokens"),
                getattr(config, "max_position_embeddings", 10**9),
            )
        else:
            info["dtype"] = None
            info["note"] = "prepared on first use (the bundled model is converted once)"
    except (NexusError, OSError, ValueError) as exc:
        info["problem"] = str(exc)
    return info


def _local_folder(kind: str, location: str, models_dir: Path) -> Path | None:
    if kind == "folder":
        return Path(location)
    if kind == "bundled":
        folder = gguf_cache.cache_folder(bundled_gguf(), models_dir)
        return folder if gguf_cache.is_converted(folder) else None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(location, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def _database(engine: Engine, opened: OpenReport) -> dict[str, Any]:
    database = engine.database
    connection = database.connection()
    size = sum(
        p.stat().st_size
        for p in (database.path, database.path.with_name(database.path.name + "-wal"))
        if p.exists()
    )
    problems = database.quick_check()
    backups = database.backups.all()
    statuses = dict(connection.execute(
        "SELECT status, count(*) FROM messages GROUP BY status ORDER BY status"
    ).fetchall())
    return {
        "size_bytes": size,
        "schema_version": connection.pragma("user_version"),
        "integrity": problems if problems else "ok",
        "rows": {
            "messages": sum(statuses.values()),
            "messages_by_status": statuses,
            "sessions": connection.execute("SELECT count(*) FROM sessions").get,
            "events": connection.execute("SELECT count(*) FROM events").get,
        },
        "memory": {
            "messages_by_tier": dict(connection.execute(
                "SELECT tier, count(*) FROM messages GROUP BY tier ORDER BY tier").fetchall()),
            "facts_by_status": dict(connection.execute(
                "SELECT status, count(*) FROM facts GROUP BY status ORDER BY status"
            ).fetchall()),
            "vectors": connection.execute("SELECT count(*) FROM embeddings").get,
            "summaries": connection.execute("SELECT count(*) FROM summaries").get,
            "archived_originals": connection.execute(
                "SELECT count(*) FROM message_archive").get,
            "training_examples": connection.execute(
                "SELECT count(*) FROM training_examples").get,
            "last_compaction": _last_compaction(connection),
        },
        "backups": {
            "count": len(backups),
            "newest": backups[0].taken_at.isoformat() if backups else None,
        },
        "this_start": {
            "created": opened.created,
            "migrated_to": opened.migrated_to,
            "recovered": opened.recovery.describe() if opened.recovery else None,
            "backup_taken": opened.backup_taken,
        },
    }


def _last_compaction(connection: Any) -> str | None:
    at = connection.execute("SELECT max(at) FROM events WHERE kind = 'compaction'").get
    return None if at is None else datetime.fromtimestamp(at).astimezone().isoformat(
        timespec="seconds")


def render(report: dict[str, Any], indent: int = 0) -> str:
    lines = []
    for key, value in report.items():
        label = " " * indent + key.replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{label}:")
            lines.append(render(value, indent + 2))
        else:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)
