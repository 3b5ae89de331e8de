"""The thought stream: a bounded, persisted log of what the app does in the background,
in words ("idle 3 min: replaying 12 examples", "adapter rolled back: canary +7%").

The dashboard shows it live (listeners) and after a restart (the table). Writes come
from several threads (the model's owner, the teacher, the monitor); each uses its own
connection. A failed write is logged and never stops the work it describes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nexus_desktop.errors import NexusError
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

# Rows kept; older ones are deleted as new ones come. About months of background life.
KEEP_THOUGHTS = 2000


@dataclass(frozen=True)
class Thought:
    at: float  # seconds since the epoch
    kind: str  # mode, learning, checkpoint, rollback, teacher, memory, breaker, ...
    text: str


class ThoughtStream:
    def __init__(self, database: Database, keep: int = KEEP_THOUGHTS,
                 clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Thought], None]] = []

    def add_listener(self, listener: Callable[[Thought], None]) -> None:
        """Called on the writing thread with each new thought (the GUI's worker relays
        it with a signal)."""
        with self._lock:
            self._listeners.append(listener)

    def add(self, kind: str, text: str) -> Thought:
        thought = Thought(self._clock(), kind, text)
        log.info("%s: %s", kind, text)
        try:
            with translate_errors(self.database.path), \
                    write_transaction(self.database.connection()) as connection:
                connection.execute("INSERT INTO thoughts(at, kind, text) VALUES (?, ?, ?)",
                                   (thought.at, kind, text))
                connection.execute(
                    "DELETE FROM thoughts WHERE id <= (SELECT max(id) FROM thoughts) - ?",
                    (self.keep,))
        except NexusError:
            log.exception("writing to the thought stream failed")
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(thought)
            except Exception:
                log.exception("a thought stream listener failed")
        return thought

    def recent(self, limit: int = 50) -> list[Thought]:
        """The newest thoughts, oldest first."""
        rows = self.database.connection().execute(
            "SELECT at, kind, text FROM thoughts ORDER BY id DESC LIMIT ?", (limit,))
        return [Thought(at, kind, text) for at, kind, text in rows][::-1]
