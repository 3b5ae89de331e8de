"""A circuit breaker for a service that may be missing or failing (the local Ollama server).

After ``failure_threshold`` failures in a row the breaker opens: calls are refused at once
instead of waiting for another timeout. When the backoff has passed it lets one trial call
through (half open); success closes it, failure opens it again for twice as long, up to a
maximum, so a server that stays down costs almost nothing and one that comes back is used
again soon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerState:
    """What a breaker looks like at one moment, for status displays and logs."""

    name: str
    state: str
    failures: int
    last_error: str | None
    retry_in_seconds: float


class CircuitBreaker:
    """Counts failures of one service and decides whether the next call may go out.

    Safe to use from several threads. ``clock`` is injectable so tests need not wait.
    """

    def __init__(self, name: str, failure_threshold: int = 3, base_backoff_seconds: float = 5.0,
                 max_backoff_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if base_backoff_seconds <= 0 or max_backoff_seconds < base_backoff_seconds:
            raise ValueError("backoff must be positive and the maximum at least the base")
        self.name = name
        self.failure_threshold = failure_threshold
        self.base_backoff_seconds = base_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0  # in a row, since the last success
        self._openings = 0  # in a row, since the last success: sets the backoff
        self._retry_at = 0.0
        self._trial_out = False  # half open: the one trial call has been let through
        self._last_error: str | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """Whether a call may go out now. Open: no until the retry time; then one trial
        call is let through (half open) and others wait for its result."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if self._clock() < self._retry_at:
                    return False
                self._state = HALF_OPEN
                self._trial_out = False
            if self._trial_out:
                return False
            self._trial_out = True
            return True

    def record_success(self) -> None:
        """The service answered: close the breaker and forget past failures."""
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._openings = 0
            self._trial_out = False
            self._last_error = None

    def reset(self) -> None:
        """Start afresh (say, after the service's address was changed): closed, no
        failures remembered."""
        self.record_success()

    def record_failure(self, reason: str) -> None:
        """The service failed: open the breaker after enough failures in a row, or at
        once when the half-open trial failed (with a doubled backoff)."""
        with self._lock:
            self._failures += 1
            self._last_error = reason
            if self._state == HALF_OPEN or (
                    self._state == CLOSED and self._failures >= self.failure_threshold):
                self._open()
            # Already open: a call let out before it opened failed late; the retry time
            # stands.

    def _open(self) -> None:
        # The exponent is capped so a server down for months cannot overflow the float.
        backoff = min(self.base_backoff_seconds * 2.0 ** min(self._openings, 60),
                      self.max_backoff_seconds)
        self._openings += 1
        self._state = OPEN
        self._trial_out = False
        self._retry_at = self._clock() + backoff

    def snapshot(self) -> BreakerState:
        with self._lock:
            retry_in = max(0.0, self._retry_at - self._clock()) if self._state == OPEN else 0.0
            return BreakerState(self.name, self._state, self._failures, self._last_error,
                                retry_in)
