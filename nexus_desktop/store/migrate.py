"""Bringing a database to the current schema, all steps in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import apsw

from nexus_desktop.errors import StoreError
from nexus_desktop.store.backups import BackupManager
from nexus_desktop.store.connection import write_transaction
from nexus_desktop.store.schema import MIGRATIONS, Migration


def schema_version(connection: apsw.Connection) -> int:
    return int(connection.pragma("user_version"))


def check_known(current: int, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Refuse a database written by a newer version of the app, which this one cannot read."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreError(
            f"The database was written by a newer version of Nexus Desktop (schema {current}; "
            f"this version knows up to {latest}). Update Nexus Desktop to open it."
        )


def migrate(
    connection: apsw.Connection,
    backups: BackupManager | None,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply the pending migrations; returns the versions applied.

    A database that already holds data is backed up first, so a migration that goes
    wrong in a way SQLite cannot roll back still leaves the user's data intact.
    """
    current = schema_version(connection)
    check_known(current, migrations)
    latest = migrations[-1].version if migrations else 0
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return []
    if current > 0 and backups is not None:
        backups.take(connection, "before-migration")
    with write_transaction(connection):
        for migration in pending:
            connection.execute(migration.sql)
            connection.pragma("user_version", migration.version)
        if current > 0:
            connection.execute(
                "INSERT INTO events(at, kind, message, detail) VALUES (?, 'migration', ?, ?)",
                (
                    time.time(),
                    f"Database schema updated from version {current} to {latest}.",
                    json.dumps({"from": current, "to": latest}),
                ),
            )
    return [m.version for m in pending]
