"""Compaction in the background: at start, then once a day while the app runs.

A pass writes in small transactions, so a chat turn waits at most for one of them; it
runs on its own thread with its own database connection, never on the model's thread.
"""

from __future__ import annotations

import logging
import threading
import time

from nexus_desktop.config import Settings
from nexus_desktop.errors import NexusError
from nexus_desktop.memory.lifecycle import CompactionReport, Compactor
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

INTERVAL_S = 24 * 3600


class CompactionScheduler:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.last_report: CompactionReport | None = None
        self.last_error: Exception | None = None
        self._thread: threading.Thread | None = None

    def last_pass_at(self) -> float | None:
        return self.database.connection().execute(
            "SELECT max(at) FROM events WHERE kind = 'compaction'").get

    def run_if_due(self, now: float | None = None) -> bool:
        """Start a pass in the background when none ran in the last day; True if started."""
        now = time.time() if now is None else now
        if self._thread is not None and self._thread.is_alive():
            return False
        last = self.last_pass_at()
        if last is not None and now - last < INTERVAL_S:
            return False
        self._thread = threading.Thread(target=self._run, name="nexus-compaction", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        try:
            self.last_report = Compactor(self.database, self.settings).run()
        except NexusError as exc:
            log.exception("memory compaction failed")
            self.last_error = exc

    def wait(self) -> None:
        """Let a running pass finish (before the database closes)."""
        if self._thread is not None:
            self._thread.join()
