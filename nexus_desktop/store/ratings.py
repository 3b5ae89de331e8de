"""The user's thumbs up or down on replies, kept so the chat window shows them again after
a restart and so learning (and later the skill library) can use them."""

from __future__ import annotations

import time
from collections.abc import Iterable

from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

GOOD, BAD = 1, -1


class ReplyRatings:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set(self, message_id: int, rating: int | None) -> None:
        """Rate a reply GOOD or BAD; None removes the rating."""
        if rating not in (GOOD, BAD, None):
            raise ValueError(f"a rating is {GOOD}, {BAD} or None, not {rating!r}")
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            if rating is None:
                connection.execute("DELETE FROM reply_ratings WHERE message_id = ?",
                                   (message_id,))
            else:
                connection.execute(
                    "INSERT INTO reply_ratings(message_id, rating, at) VALUES (?, ?, ?) "
                    "ON CONFLICT(message_id) DO UPDATE SET rating = excluded.rating, "
                    "at = excluded.at", (message_id, rating, time.time()))

    def of(self, message_ids: Iterable[int]) -> dict[int, int]:
        """The ratings of these messages (unrated ones are absent)."""
        ids = list(message_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.database.connection().execute(
            f"SELECT message_id, rating FROM reply_ratings WHERE message_id IN ({marks})", ids))
