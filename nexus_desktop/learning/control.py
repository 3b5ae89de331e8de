"""Who may stop learning: the user (pause, stop, learning off), a chat request waiting for
the model, and the governor. The learner asks ``may_continue()`` between slices."""

from __future__ import annotations

import threading
from collections.abc import Callable


class LearningControl:
    """Thread-safe switches, set from any thread and read by the model's owner thread."""

    def __init__(self, enabled: bool = True) -> None:
        self._lock = threading.Lock()
        self._enabled = enabled
        self._paused = False
        self._stopped = False
        self._waiting_requests = 0
        self._topic: str | None = None
        self._checks: list[Callable[[], bool]] = []

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._enabled = enabled

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def start(self, topic: str | None = None) -> None:
        """Learn now (on ``topic`` when given, else on everything)."""
        with self._lock:
            self._stopped = False
            self._paused = False
            self._topic = topic

    def stop(self) -> None:
        with self._lock:
            self._stopped = True

    def request_begins(self) -> None:
        """A user request wants the model: learning steps aside at the next slice."""
        with self._lock:
            self._waiting_requests += 1

    def request_ends(self) -> None:
        with self._lock:
            self._waiting_requests = max(0, self._waiting_requests - 1)

    def add_check(self, check: Callable[[], bool]) -> None:
        """Another condition learning needs (the governor's budget, desktop idle)."""
        with self._lock:
            self._checks.append(check)

    @property
    def topic(self) -> str | None:
        with self._lock:
            return self._topic

    @property
    def state(self) -> str:
        with self._lock:
            if not self._enabled:
                return "off"
            if self._stopped:
                return "stopped"
            if self._paused:
                return "paused"
            if self._waiting_requests:
                return "yielding"
            return "allowed"

    def may_continue(self) -> bool:
        if self.state != "allowed":
            return False
        with self._lock:
            checks = list(self._checks)
        return all(check() for check in checks)
