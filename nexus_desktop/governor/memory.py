"""Keeps a long-running process's memory in check: periodic GC and cache release,
cleanup levels at RSS thresholds, and a warning when memory keeps growing (a leak).

It has no thread of its own: the engine calls ``tick`` with each resource sample.
"""

from __future__ import annotations

import collections
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nexus_desktop.governor.monitor import ResourceSample

log = logging.getLogger(__name__)

NORMAL, WARNING, CRITICAL = "normal", "warning", "critical"
GENTLE, AGGRESSIVE = "gentle", "aggressive"
# A level is left downwards only below this share of its threshold, so RSS hovering at
# a threshold does not flip the level (and the thought stream) every second.
HYSTERESIS = 0.95
# Event kinds passed to ``on_event``.
EVENT_LEVEL, EVENT_CLEANUP = "memory_level", "memory_cleanup"
EVENT_CLEANUP_FAILED, EVENT_GROWING = "memory_cleanup_failed", "memory_growing"


def empty_torch_cache() -> None:
    """Return cached CUDA / MPS blocks to the driver, only where torch is already imported
    and that backend in use: this must never import torch or start CUDA."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    if torch.backends.mps.is_available():
        torch.mps.empty_cache()


@dataclass(frozen=True)
class MemoryStatus:
    """The memory picture after a tick; times are on the manager's (monotonic) clock."""

    current_mb: float
    peak_mb: float
    growth_mb_per_hour: float | None
    level: str
    vram_mb: float | None
    vram_peak_mb: float | None
    last_gc_at: float | None
    last_cleanup: str | None

    def as_dict(self) -> dict[str, Any]:
        growth = None if self.growth_mb_per_hour is None else round(self.growth_mb_per_hour, 1)
        vram = None if self.vram_mb is None else {
            "current_mb": round(self.vram_mb, 1), "peak_mb": round(self.vram_peak_mb or 0.0, 1)}
        return {"process": {"current_mb": round(self.current_mb, 1),
                            "peak_mb": round(self.peak_mb, 1),
                            "growth_rate_mb_per_hour": growth},
                "level": self.level, "vram": vram,
                "last_gc_at": self.last_gc_at, "last_cleanup": self.last_cleanup}


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 3600.0 * sum((t - mean_t) * (y - mean_y) for t, y in points) / var


@dataclass
class _Bucket:
    """The RSS samples of one slice of the leak window: their mean and their lowest."""

    start: float
    end: float
    sum_t: float = 0.0
    sum_y: float = 0.0
    count: int = 0
    low: float = float("inf")

    def add(self, t: float, y: float) -> None:
        self.end, self.sum_t, self.sum_y = t, self.sum_t + t, self.sum_y + y
        self.count, self.low = self.count + 1, min(self.low, y)


class RssWindow:
    """RSS over the last ``seconds``, kept as 120 slices, so a tick costs the same
    whatever the sampling rate and the window length."""

    SLICES = 120

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._buckets: collections.deque[_Bucket] = collections.deque()

    def add(self, t: float, mb: float) -> None:
        if not self._buckets or t - self._buckets[-1].start >= self.seconds / self.SLICES:
            self._buckets.append(_Bucket(t, t))
        self._buckets[-1].add(t, mb)
        # Keep one slice starting at or before the window's start, so a full window spans
        # all of it.
        while len(self._buckets) > 2 and self._buckets[1].start <= t - self.seconds:
            self._buckets.popleft()

    @property
    def span(self) -> float:
        return self._buckets[-1].end - self._buckets[0].start if self._buckets else 0.0

    def slope(self) -> float:
        """Least-squares slope of the slices' means, MB/hour."""
        return slope_per_hour([(b.sum_t / b.count, b.sum_y / b.count) for b in self._buckets])

    def floor_rate(self) -> float:
        """How fast the lowest RSS rose from the first third of the span to the last, MB/hour."""
        start, end, third = self._buckets[0].start, self._buckets[-1].end, self.span / 3
        first = min(b.low for b in self._buckets if b.start <= start + third)
        last = min(b.low for b in self._buckets if b.end >= end - third)
        return (last - first) * 3600 / (2 * third) if third > 0 else 0.0


class MemoryManager:
    """Decides when to collect, release caches and run cleanup actions, from RSS samples.

    Entering warning runs the gentle actions, entering critical the aggressive ones
    (gentle ones first), and again every ``critical_repeat_minutes`` while it stays
    critical. Each cleanup ends with ``gc.collect()`` and the torch cache release, since
    trimmed objects only give memory back once collected.

    Growth (``growth_mb_per_hour``) is the least-squares slope of RSS over the last
    ``leak_window_minutes``, reported once the samples span a third of that window. The
    "memory growing" warning waits for a full window and also needs the floor to rise: the
    lowest RSS in the window's last third must exceed the lowest in its first third at half
    the threshold rate. A sawtooth from collections (period up to a third of the window)
    has a trough in every third and is not a leak; a steady rise is. At most one warning
    per window.
    """

    def __init__(self, warning_mb: float = 2048, critical_mb: float = 4096,
                 gc_minutes: float = 10, cache_minutes: float = 5,
                 leak_mb_per_hour: float = 10, leak_window_minutes: float = 30,
                 critical_repeat_minutes: float = 5,
                 clock: Callable[[], float] = time.monotonic,
                 on_event: Callable[[str, str], object] | None = None,
                 collect: Callable[[], object] = gc.collect,
                 empty_cache: Callable[[], object] = empty_torch_cache) -> None:
        if not 0 < warning_mb < critical_mb:
            raise ValueError("warning_mb must be positive and below critical_mb")
        if min(gc_minutes, cache_minutes, leak_mb_per_hour, leak_window_minutes,
               critical_repeat_minutes) <= 0:
            raise ValueError("intervals, window and leak threshold must be positive")
        self.warning_mb, self.critical_mb = warning_mb, critical_mb
        self.gc_seconds, self.cache_seconds = gc_minutes * 60, cache_minutes * 60
        self.leak_mb_per_hour, self.window_seconds = leak_mb_per_hour, leak_window_minutes * 60
        self.critical_repeat_seconds = critical_repeat_minutes * 60
        self._clock, self._on_event = clock, on_event
        self._collect, self._empty_cache = collect, empty_cache
        self._actions: dict[str, list[tuple[str, Callable[[], object]]]] = {
            GENTLE: [], AGGRESSIVE: []}
        self._lock = threading.Lock()  # the state below
        self._cleanup_lock = threading.Lock()  # one cleanup at a time
        self._window = RssWindow(self.window_seconds)
        now = clock()
        self._next_gc, self._next_cache = now + self.gc_seconds, now + self.cache_seconds
        self._level, self._last_aggressive = NORMAL, float("-inf")
        self._next_leak_warning = float("-inf")
        self._current = self._peak = 0.0
        self._vram: float | None = None
        self._vram_peak: float | None = None
        self._last_gc_at: float | None = None
        self._last_cleanup: str | None = None
        self._last_sample_at: float | None = None

    def register_cleanup(self, level: str, name: str, action: Callable[[], object]) -> None:
        if level not in self._actions:
            raise ValueError(f"cleanup level must be {GENTLE!r} or {AGGRESSIVE!r}, not {level!r}")
        with self._lock:
            self._actions[level].append((name, action))

    def tick(self, sample: ResourceSample) -> MemoryStatus:
        """Records a sample and does what is due. The same sample handed in again (a loop
        faster than the monitor) changes nothing. Actions and events run outside the state
        lock, so ``status()`` from another thread never waits on a cleanup."""
        events: list[tuple[str, str]] = []
        with self._lock:
            if sample.at == self._last_sample_at:
                return self._status()
            self._last_sample_at, now = sample.at, self._clock()
            self._record(now, sample)
            old, level = self._level, self._level_for(sample.rss_mb)
            self._level = level
            if level != old:
                events.append((EVENT_LEVEL, f"memory {level}: {sample.rss_mb:.0f} MB in use "
                               f"(warning at {self.warning_mb:.0f} MB, critical at "
                               f"{self.critical_mb:.0f} MB)"))
            cleanup = None
            if level == WARNING and old == NORMAL:
                cleanup = GENTLE
            elif level == CRITICAL and now - self._last_aggressive >= self.critical_repeat_seconds:
                cleanup, self._last_aggressive = AGGRESSIVE, now
            growing = self._growing(now)
            if growing:
                events.append((EVENT_GROWING, growing))
            run_gc, run_cache = now >= self._next_gc, now >= self._next_cache
        for kind, text in events:
            self._event(kind, text)
        if cleanup is not None:
            results = self.cleanup_now(cleanup)
            self._event(EVENT_CLEANUP, f"{cleanup} memory cleanup: {sum(results.values())} "
                        f"of {len(results)} actions succeeded")
        else:
            if run_gc:
                self._gc()
            if run_cache:
                self._cache()
        return self.status()

    def cleanup_now(self, level: str = GENTLE) -> dict[str, bool]:
        """Runs a level's actions now (aggressive includes gentle), then collects and
        releases the torch cache; returns action name -> succeeded."""
        if level not in self._actions:
            raise ValueError(f"cleanup level must be {GENTLE!r} or {AGGRESSIVE!r}, not {level!r}")
        with self._cleanup_lock:
            with self._lock:
                levels = [GENTLE, AGGRESSIVE] if level == AGGRESSIVE else [GENTLE]
                actions = [entry for each in levels for entry in self._actions[each]]
                if level == AGGRESSIVE:
                    self._last_aggressive = self._clock()
            results = {name: self._run(name, action) for name, action in actions}
            self._gc()
            self._cache()
            with self._lock:
                self._last_cleanup = level
            return results

    def status(self) -> MemoryStatus:
        with self._lock:
            return self._status()

    def _status(self) -> MemoryStatus:
        return MemoryStatus(self._current, self._peak, self._growth(), self._level, self._vram,
                            self._vram_peak, self._last_gc_at, self._last_cleanup)

    def _record(self, now: float, sample: ResourceSample) -> None:
        self._current, self._peak = sample.rss_mb, max(self._peak, sample.rss_mb)
        self._vram = sample.vram_mb
        if sample.vram_mb is not None:
            self._vram_peak = max(self._vram_peak or 0.0, sample.vram_mb)
        self._window.add(now, sample.rss_mb)

    def _level_for(self, rss: float) -> str:
        """Thresholds with hysteresis: a level is left downwards only below 95% of it."""
        if rss >= self.critical_mb:
            return CRITICAL
        if self._level == CRITICAL and rss >= self.critical_mb * HYSTERESIS:
            return CRITICAL
        if rss >= self.warning_mb:
            return WARNING
        if self._level != NORMAL and rss >= self.warning_mb * HYSTERESIS:
            return WARNING
        return NORMAL

    def _gc(self) -> None:
        self._run("garbage collection", self._collect)
        with self._lock:
            self._last_gc_at = now = self._clock()
            self._next_gc = now + self.gc_seconds

    def _cache(self) -> None:
        self._run("torch cache release", self._empty_cache)
        with self._lock:
            self._next_cache = self._clock() + self.cache_seconds

    def _growth(self) -> float | None:
        if self._window.span < self.window_seconds / 3:
            return None
        return self._window.slope()

    def _growing(self, now: float) -> str | None:
        """The "memory growing" text when a warning is due (see the class docstring)."""
        growth = self._growth()
        if growth is None or growth <= self.leak_mb_per_hour or now < self._next_leak_warning \
                or self._window.span < self.window_seconds \
                or self._window.floor_rate() < self.leak_mb_per_hour / 2:
            return None
        self._next_leak_warning = now + self.window_seconds
        return (f"memory growing: {growth:.0f} MB/hour over the last "
                f"{self.window_seconds / 60:.0f} minutes, now {self._current:.0f} MB")

    def _run(self, name: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except Exception as exc:
            log.exception("memory cleanup %r failed", name)
            self._event(EVENT_CLEANUP_FAILED, f"memory cleanup '{name}' failed: {exc}")
            return False
        return True

    def _event(self, kind: str, text: str) -> None:
        log.info("%s: %s", kind, text)
        if self._on_event is not None:
            try:
                self._on_event(kind, text)
            except Exception:
                log.exception("memory event listener failed")
