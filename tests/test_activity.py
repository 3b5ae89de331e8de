"""The in-app fallback, the wrapper that falls back to it, and the choice of OS source."""

from __future__ import annotations

import logging
import sys

import pytest

from nexus_desktop.governor import activity_windows
from nexus_desktop.governor.activity import (
    ActivityReading,
    ActivityUnavailable,
    AppActivity,
    DesktopActivity,
    _first_working,
    detect_activity_source,
)
from nexus_desktop.governor.activity_windows import WindowsActivity


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSource:
    """An OS source whose answer the test sets: a number of seconds or an exception."""

    def __init__(self, name: str = "fake", answer: float | Exception = 3.0) -> None:
        self.name = name
        self.answer = answer
        self.reads = 0
        self.closed = 0

    def read(self) -> ActivityReading:
        self.reads += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return ActivityReading(idle_seconds=self.answer, source=self.name, fallback=False)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_app_activity_counts_from_the_last_note(clock: FakeClock):
    app = AppActivity(clock)
    clock.now += 30
    assert app.read() == ActivityReading(idle_seconds=30.0, source="app", fallback=True)
    app.note()
    clock.now += 2.5
    assert app.read().idle_seconds == 2.5


def test_app_activity_never_reports_negative_idle(clock: FakeClock):
    app = AppActivity(clock)
    clock.now -= 1
    assert app.read().idle_seconds == 0.0


def test_a_working_source_is_used_as_is(clock: FakeClock):
    source = FakeSource(answer=42.0)
    desktop = DesktopActivity(source, AppActivity(clock), clock=clock)
    reading = desktop.read()
    assert (reading.idle_seconds, reading.source, reading.fallback) == (42.0, "fake", False)
    assert desktop.fallback_reason is None


def test_without_a_source_the_app_activity_is_used_and_the_reason_kept(clock: FakeClock):
    app = AppActivity(clock)
    clock.now += 7
    desktop = DesktopActivity(None, app, reason="no X display (DISPLAY is not set)")
    assert desktop.read() == ActivityReading(idle_seconds=7.0, source="app", fallback=True)
    assert desktop.fallback_reason == "no X display (DISPLAY is not set)"
    assert DesktopActivity(None, app).fallback_reason == "no desktop activity source"


def test_a_failing_source_falls_back_logs_once_and_retries_every_minute(
        clock: FakeClock, caplog: pytest.LogCaptureFixture):
    source = FakeSource(answer=ActivityUnavailable("libXss not found"))
    app = AppActivity(clock)
    desktop = DesktopActivity(source, app, clock=clock)
    with caplog.at_level(logging.INFO, logger="nexus_desktop.governor.activity"):
        assert desktop.read().source == "app"
        assert desktop.fallback_reason == "libXss not found"
        clock.now += 59
        assert desktop.read().fallback
        assert source.reads == 1  # not asked again before the minute is up
        clock.now += 1
        assert desktop.read().fallback
        assert source.reads == 2
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        assert "libXss not found" in warnings[0].getMessage()

        source.answer = 5.0
        clock.now += 60
        assert desktop.read().source == "fake"
        assert desktop.fallback_reason is None
        assert any("works again" in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_from_the_source_also_falls_back(clock: FakeClock):
    source = FakeSource(name="x11", answer=OSError("broken pipe"))
    desktop = DesktopActivity(source, AppActivity(clock), clock=clock)
    assert desktop.read().fallback
    assert desktop.fallback_reason == "x11 activity source failed: OSError('broken pipe')"


def test_close_closes_the_source_once_and_leaves_the_fallback(clock: FakeClock):
    source = FakeSource()
    desktop = DesktopActivity(source, AppActivity(clock), clock=clock)
    desktop.close()
    desktop.close()
    assert source.closed == 1
    assert desktop.read().fallback
    assert desktop.fallback_reason == "closed"


def test_first_working_keeps_the_first_answer_and_closes_the_rest():
    broken = FakeSource("gnome", ActivityUnavailable("org.gnome.Mutter.IdleMonitor is not running"))
    working, spare = FakeSource("freedesktop"), FakeSource("other")
    assert _first_working([broken, working, spare]) == (working, None)
    assert (broken.closed, working.closed, spare.closed) == (1, 0, 1)


def test_first_working_joins_the_reasons_when_nothing_answers():
    first = FakeSource("a", ActivityUnavailable("first reason"))
    second = FakeSource("b", ActivityUnavailable("second reason"))
    assert _first_working([first, second]) == (None, "first reason; second reason")
    assert first.closed == second.closed == 1


def test_detect_on_an_unknown_platform():
    assert detect_activity_source("sunos5", {}) == (
        None, "no desktop activity source for the platform 'sunos5'")


def test_detect_on_linux_without_a_desktop_session():
    assert detect_activity_source("linux", {}) == (
        None, "no desktop session (neither WAYLAND_DISPLAY nor DISPLAY is set)")


def test_detect_x11_with_a_display_that_does_not_exist():
    source, reason = detect_activity_source("linux", {"DISPLAY": ":4093"})
    assert source is None
    assert reason is not None
    assert ":4093" in reason


def test_detect_wayland_without_a_session_bus():
    assert detect_activity_source("linux", {"WAYLAND_DISPLAY": "wayland-0"}) == (
        None, "Wayland session without a D-Bus session bus (DBUS_SESSION_BUS_ADDRESS)")


def test_detect_wayland_ignores_x11_and_names_both_dbus_services(tmp_path):
    environ = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0",
               "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    source, reason = detect_activity_source("linux", environ)
    assert source is None
    assert reason is not None
    assert reason.count("cannot connect to the D-Bus session bus") == 2


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_detect_windows_off_windows_gives_the_reason():
    assert detect_activity_source("win32", {}) == (
        None, "the Windows activity source works only on Windows")


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the refusal off macOS")
def test_detect_macos_off_macos_gives_the_reason():
    assert detect_activity_source("darwin", {}) == (
        None, "the macOS activity source works only on macOS")


def test_detect_windows_returns_the_windows_source_when_it_answers(
        monkeypatch: pytest.MonkeyPatch):
    def get_last_input_info(info) -> int:
        info.contents.dwTime = 1000
        return 1

    def query_state(state) -> int:
        state.contents.value = 5
        return 0

    fakes = (get_last_input_info, lambda: 4000, query_state)
    monkeypatch.setattr(activity_windows, "_load_win32", lambda: fakes)
    source, reason = detect_activity_source("win32", {})
    assert isinstance(source, WindowsActivity)
    assert reason is None
    assert source.read().idle_seconds == 3.0
