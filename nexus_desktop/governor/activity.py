"""Is the user at the desktop? Seconds since the last keyboard or mouse input.

The governor only learns while the user is away, so it needs the desktop-wide idle time
that the OS keeps (see docs: "Is the user at the desktop?"). Each OS has its own source
module; this one holds what they share, the in-app fallback used when the OS cannot be
asked, and ``detect_activity_source`` that picks the right source for this session.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class ActivityReading:
    """One look at the desktop: how long the user has been idle, and who said so."""

    idle_seconds: float
    """Seconds since the last keyboard/mouse input on the desktop (or in the app)."""
    source: str
    """"windows", "x11", "macos", "gnome", "freedesktop" or "app"."""
    fallback: bool
    """True when only the app's own activity is known: input to other apps is invisible."""
    full_screen: str | None = None
    """Why the desktop is busy even if idle ("full-screen app", "game", "presentation")."""
    present: bool = True
    """False while the session is locked or the screensaver runs: the user is away."""


class ActivityUnavailable(Exception):
    """The OS could not tell the idle time; the message says why, in words a user can act on."""


class ActivitySource(Protocol):
    """A desktop-wide idle-time reader for one OS or desktop environment."""

    name: str

    def read(self) -> ActivityReading:
        """Ask the OS now; raise ActivityUnavailable when it cannot answer."""
        ...

    def close(self) -> None:
        """Release the display, bus connection or library handle; safe to call twice."""
        ...


class AppActivity:
    """The fallback: time since the user last did something in this app (typing, clicks).

    Thread-safe, since the UI notes activity while the governor reads it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()

    def note(self) -> None:
        """The user did something in the app."""
        now = self._clock()
        with self._lock:
            self._last = now

    def read(self) -> ActivityReading:
        now = self._clock()
        with self._lock:
            idle = max(0.0, now - self._last)
        return ActivityReading(idle_seconds=idle, source="app", fallback=True)


class DesktopActivity:
    """What the governor reads: the OS source while it works, else the app's own activity.

    A failing OS source is logged once, then retried at most every ``retry_seconds`` so a
    broken source costs nothing and one that recovers (a restarted session bus) is used
    again. ``fallback_reason`` says why the fallback is in use, for the dashboard.
    """

    def __init__(self, source: ActivitySource | None, app: AppActivity, *,
                 reason: str | None = None, retry_seconds: float = RETRY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._app = app
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._reason = None if source is not None else reason or "no desktop activity source"
        self._retry_at: float | None = None

    @property
    def app(self) -> AppActivity:
        """The app's own activity, which the chat window and daemon note."""
        return self._app

    @property
    def fallback_reason(self) -> str | None:
        """Why the OS source is not used, or None while it is."""
        with self._lock:
            return self._reason

    def read(self) -> ActivityReading:
        with self._lock:
            source = self._source
            if source is not None and (self._retry_at is None or self._clock() >= self._retry_at):
                try:
                    reading = source.read()
                except Exception as exc:  # any failure of the OS source means: use the fallback
                    self._failed(source, exc)
                else:
                    if self._reason is not None:
                        log.info("Desktop activity from %s works again", source.name)
                    self._reason = None
                    self._retry_at = None
                    return reading
        return self._app.read()

    def _failed(self, source: ActivitySource, exc: Exception) -> None:
        if isinstance(exc, ActivityUnavailable):
            reason = str(exc)
        else:
            reason = f"{source.name} activity source failed: {exc!r}"
        if self._reason is None:
            log.warning("Cannot read desktop activity from %s (%s); using the app's own "
                        "activity, retrying every %.0f s", source.name, reason,
                        self._retry_seconds)
        else:
            log.debug("Desktop activity from %s still unavailable: %s", source.name, reason)
        self._reason = reason
        self._retry_at = self._clock() + self._retry_seconds

    def close(self) -> None:
        with self._lock:
            source, self._source = self._source, None
            if source is not None:
                self._reason = "closed"
        if source is not None:
            source.close()


def detect_activity_source(
    platform: str = sys.platform, environ: Mapping[str, str] = os.environ,
) -> tuple[ActivitySource | None, str | None]:
    """The working idle-time source for this session, or None and the reason there is none.

    On Wayland only the compositor knows about all input, so X11 (XWayland) is not used
    there: it would see only input to X11 windows and call a busy user idle.
    """
    if platform == "win32":
        from nexus_desktop.governor.activity_windows import WindowsActivity

        return _first_working([WindowsActivity()])
    if platform == "darwin":
        from nexus_desktop.governor.activity_macos import MacActivity

        return _first_working([MacActivity()])
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None, f"no desktop activity source for the platform {platform!r}"
    if environ.get("WAYLAND_DISPLAY"):
        from nexus_desktop.governor.activity_wayland import (
            FreedesktopScreenSaver,
            MutterIdleMonitor,
            session_bus_address,
        )

        bus = session_bus_address(environ)
        if bus is None:
            return None, "Wayland session without a D-Bus session bus (DBUS_SESSION_BUS_ADDRESS)"
        return _first_working([MutterIdleMonitor(bus), FreedesktopScreenSaver(bus)])
    if environ.get("DISPLAY"):
        from nexus_desktop.governor.activity_x11 import X11Activity

        return _first_working([X11Activity(environ["DISPLAY"])])
    return None, "no desktop session (neither WAYLAND_DISPLAY nor DISPLAY is set)"


def _first_working(
    candidates: Sequence[ActivitySource],
) -> tuple[ActivitySource | None, str | None]:
    """Try each source once; keep the first that answers and close the others."""
    reasons: list[str] = []
    for index, source in enumerate(candidates):
        try:
            source.read()
        except ActivityUnavailable as exc:
            reasons.append(str(exc))
            source.close()
        else:
            for unused in candidates[index + 1:]:
                unused.close()
            return source, None
    return None, "; ".join(reasons)
