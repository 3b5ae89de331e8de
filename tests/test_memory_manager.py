"""MemoryManager decisions on a fake clock and made-up samples: levels and cleanups, GC
and cache schedules, leak detection, peaks, failing actions."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from nexus_desktop.governor.memory import (
    AGGRESSIVE,
    CRITICAL,
    EVENT_CLEANUP,
    EVENT_CLEANUP_FAILED,
    EVENT_GROWING,
    EVENT_LEVEL,
    GENTLE,
    NORMAL,
    WARNING,
    MemoryManager,
    MemoryStatus,
    empty_torch_cache,
    slope_per_hour,
)
from nexus_desktop.governor.monitor import ResourceSample


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A manager on a fake clock that counts GC and cache calls, actions and events."""

    def __init__(self, **kwargs: float) -> None:
        self.clock = Clock()
        self.events: list[tuple[str, str]] = []
        self.calls: list[str] = []
        self.manager = MemoryManager(
            clock=self.clock, on_event=lambda kind, text: self.events.append((kind, text)),
            collect=lambda: self.calls.append("gc"), empty_cache=lambda: self.calls.append("cache"),
            **kwargs)
        for level in (GENTLE, AGGRESSIVE):
            self.manager.register_cleanup(level, f"{level}-action",
                                          lambda level=level: self.calls.append(level))

    def tick(self, rss: float, vram: float | None = None, seconds: float = 1.0) -> MemoryStatus:
        self.clock.now += seconds
        return self.manager.tick(ResourceSample(at=self.clock.now, system_cpu_percent=10.0,
                                                process_cpu_percent=5.0, rss_mb=rss,
                                                system_ram_percent=50.0, vram_mb=vram))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def test_rising_levels_run_gentle_then_aggressive_cleanup():
    h = Harness()
    assert h.tick(1000).level == NORMAL
    assert h.calls == [] and h.events == []
    assert h.tick(2100).level == WARNING
    assert h.calls == [GENTLE, "gc", "cache"]
    assert (EVENT_CLEANUP, "gentle memory cleanup: 1 of 1 actions succeeded") in h.events
    h.calls.clear()
    h.tick(2200)
    assert h.calls == []  # staying in warning: nothing more
    status = h.tick(4200)
    assert status.level == CRITICAL and status.last_cleanup == AGGRESSIVE
    assert h.calls == [GENTLE, AGGRESSIVE, "gc", "cache"]
    assert h.kinds().count(EVENT_LEVEL) == 2
    assert "memory critical" in h.events[-2][1]


def test_aggressive_cleanup_repeats_every_five_minutes_while_critical():
    h = Harness()
    h.tick(5000)
    for _ in range(299):
        h.tick(5000)
    assert h.calls.count(AGGRESSIVE) == 1
    h.tick(5000)
    assert h.calls.count(AGGRESSIVE) == 2


def test_jumping_straight_to_critical_runs_aggressive_only_once():
    h = Harness()
    h.tick(4500)
    assert h.calls == [GENTLE, AGGRESSIVE, "gc", "cache"]


def test_levels_fall_back_with_hysteresis():
    h = Harness()
    h.tick(2100)
    assert h.tick(2000).level == WARNING  # above 95% of 2048 MB
    assert h.tick(2100).level == WARNING
    assert h.calls.count(GENTLE) == 1  # hovering at the threshold: one cleanup
    assert h.tick(1900).level == NORMAL
    assert h.events[-1][0] == EVENT_LEVEL and h.events[-1][1].startswith("memory normal")
    h.tick(4100)
    assert h.tick(4000).level == CRITICAL
    assert h.tick(3800).level == WARNING
    assert h.calls.count(GENTLE) == 2  # coming down from critical runs nothing new


def test_gc_every_ten_minutes_and_cache_every_five():
    h = Harness()
    for _ in range(25 * 60):
        h.tick(500)
    assert h.calls.count("gc") == 2
    assert h.calls.count("cache") == 5
    assert h.manager.status().last_gc_at == 1000.0 + 20 * 60


def test_cleanup_now_resets_the_gc_schedule():
    h = Harness()
    h.tick(500, seconds=9 * 60)
    h.calls.clear()
    assert h.manager.cleanup_now(AGGRESSIVE) == {"gentle-action": True, "aggressive-action": True}
    assert h.calls == [GENTLE, AGGRESSIVE, "gc", "cache"]
    h.tick(500, seconds=2 * 60)  # 11 minutes after start, 2 after the cleanup's collection
    assert h.calls.count("gc") == 1
    assert h.manager.status().last_cleanup == AGGRESSIVE


def test_failing_cleanup_is_reported_not_raised():
    h = Harness()

    def broken() -> None:
        raise OSError("database is locked")

    h.manager.register_cleanup(GENTLE, "compact database", broken)
    h.manager.register_cleanup(GENTLE, "trim histories", lambda: h.calls.append("trim"))
    results = h.manager.cleanup_now(GENTLE)
    assert results == {"gentle-action": True, "compact database": False, "trim histories": True}
    assert (EVENT_CLEANUP_FAILED, "memory cleanup 'compact database' failed: database is locked") \
        in h.events
    assert h.calls == [GENTLE, "trim", "gc", "cache"]


def test_failing_gc_and_event_listener_do_not_raise():
    def broken() -> None:
        raise RuntimeError("boom")

    manager = MemoryManager(clock=Clock(), collect=broken, empty_cache=broken, on_event=broken)
    manager.cleanup_now(GENTLE)


def test_unknown_level_is_refused():
    h = Harness()
    with pytest.raises(ValueError, match="gentle"):
        h.manager.register_cleanup("medium", "x", lambda: None)
    with pytest.raises(ValueError, match="aggressive"):
        h.manager.cleanup_now("everything")
    with pytest.raises(ValueError, match="below critical"):
        MemoryManager(warning_mb=4096, critical_mb=2048)


def test_steady_growth_of_20_mb_per_hour_is_a_leak():
    h = Harness()
    statuses = [h.tick(1000 + 20 * i / 3600) for i in range(1, 3 * 3600)]
    assert statuses[9 * 60].growth_mb_per_hour is None  # under a third of the window
    assert statuses[10 * 60 + 5].growth_mb_per_hour == pytest.approx(20, rel=0.01)
    # First after a full 30-minute window, then at most once per window.
    assert h.kinds().count(EVENT_GROWING) == 5
    assert "memory growing: 20 MB/hour" in next(t for k, t in h.events if k == EVENT_GROWING)


def test_flat_noisy_series_is_not_a_leak():
    h = Harness()
    rng = random.Random(1)
    for _ in range(2 * 3600):
        status = h.tick(1000 + rng.gauss(0, 5))
    assert EVENT_GROWING not in h.kinds()
    assert abs(status.growth_mb_per_hour or 0) < 5


@pytest.mark.parametrize("period_minutes", [3, 10])
def test_gc_sawtooth_is_not_a_leak(period_minutes: int):
    """RSS climbs 40 MB between collections and falls back: each collection returns it."""
    h = Harness()
    period = period_minutes * 60
    for i in range(3 * 3600):
        h.tick(1000 + 40 * (i % period) / period)
    assert EVENT_GROWING not in h.kinds()


def test_growth_on_top_of_a_sawtooth_is_a_leak():
    h = Harness()
    for i in range(2 * 3600):
        h.tick(1000 + 20 * i / 3600 + 40 * (i % 600) / 600)
    assert EVENT_GROWING in h.kinds()


def test_peaks_and_status_dict():
    h = Harness()
    h.tick(800, vram=300)
    h.tick(900, vram=500)
    status = h.tick(850, vram=400)
    assert (status.current_mb, status.peak_mb) == (850, 900)
    assert (status.vram_mb, status.vram_peak_mb) == (400, 500)
    assert status.as_dict() == {
        "process": {"current_mb": 850, "peak_mb": 900, "growth_rate_mb_per_hour": None},
        "level": NORMAL, "vram": {"current_mb": 400, "peak_mb": 500},
        "last_gc_at": None, "last_cleanup": None}
    assert h.tick(700).as_dict()["vram"] is None


def test_slope_per_hour():
    assert slope_per_hour([(0, 5), (3600, 15), (7200, 25)]) == pytest.approx(10)
    assert slope_per_hour([(5, 1), (5, 2)]) == 0.0
    assert math.isclose(slope_per_hour([(0, 1), (60, 1)]), 0.0)


def test_cache_release_never_imports_torch():
    code = ("import sys; from nexus_desktop.governor.memory import empty_torch_cache; "
            "empty_torch_cache(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cache_release_returns_cuda_blocks():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")
    del block
    held = torch.cuda.memory_reserved()
    empty_torch_cache()
    assert torch.cuda.memory_reserved() <= held - 64 * 2**20


def test_the_same_sample_twice_counts_once():
    h = Harness()
    h.clock.now += 1
    sample = ResourceSample(at=h.clock.now, system_cpu_percent=0.0, process_cpu_percent=0.0,
                            rss_mb=2100, system_ram_percent=50.0)
    first = h.manager.tick(sample)
    h.clock.now += 11 * 60  # GC would be due, but no new reading has come
    assert h.manager.tick(sample) == first
    assert h.calls == [GENTLE, "gc", "cache"]
