"""The database for commands that need no model (facts, memory): opened, any recovery
reported, and closed again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database, app_database


@contextmanager
def opened_database(paths: AppPaths, settings: Settings, err: TextIO) -> Iterator[Database]:
    paths.ensure()
    database = app_database(paths.database, paths.backups_dir, settings)
    try:
        opened = database.open()
        if opened.recovery is not None:
            print(opened.recovery.describe(), file=err)
        yield database
    finally:
        database.close()
