"""The sessions table, which holds exactly one row: the conversation for life."""

from __future__ import annotations

import time
import uuid

from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database


def persistent_session_id(database: Database) -> int:
    """The id of the one conversation, created the first time the app runs."""
    connection = database.connection()
    query = "SELECT id FROM sessions ORDER BY id LIMIT 1"
    with translate_errors(database.path):
        row = connection.execute(query).fetchone()
        if row is not None:
            return row[0]
        with write_transaction(connection):
            # Checked again under the write lock: another thread may have just made it.
            row = connection.execute(query).fetchone()
            if row is not None:
                return row[0]
            return connection.execute(
                "INSERT INTO sessions(uid, created_at) VALUES (?, ?) RETURNING id",
                (f"persistent-{uuid.uuid4().hex[:12]}", time.time()),
            ).get
