"""Which mode the app is in, and so how much CPU learning may use right now.

ACTIVE: the user is at the desktop; learning stays within the active budget (0: off).
IDLE: no input for ``resources.idle_minutes`` (or the session is locked); learning
within the idle budget. PAUSED: by the user, on battery below a threshold, or while a
full-screen app, game or presentation holds the desktop. BUSY: answering the user.
Every change of mode is reported once, with its reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psutil

from nexus_desktop.governor.activity import ActivityReading


class Mode(StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    PAUSED = "paused"
    BUSY = "busy"


@dataclass(frozen=True)
class Limits:
    """The user's limits (the ``resources.*`` settings) the decisions are made with."""

    active_cpu_percent: float = 10.0
    idle_cpu_percent: float = 25.0
    idle_minutes: float = 2.0
    pause_on_battery_below: float = 50.0
    pause_when_full_screen: bool = True


@dataclass(frozen=True)
class Battery:
    percent: float
    plugged_in: bool


@dataclass(frozen=True)
class Decision:
    """The governor's answer at one moment."""

    mode: Mode
    reason: str
    cpu_percent: float  # the learning budget, a share of the whole machine; 0: no learning
    activity: ActivityReading
    at: float

    @property
    def learning_allowed(self) -> bool:
        return self.cpu_percent > 0


@dataclass(frozen=True)
class ModeChange:
    mode: Mode
    previous: Mode | None
    reason: str
    at: float


def limits_from(get: Callable[[str], Any]) -> Limits:
    """The limits in the ``resources.*`` settings (``get`` is ``Settings.get``)."""
    return Limits(active_cpu_percent=get("resources.active_cpu_percent"),
                  idle_cpu_percent=get("resources.idle_cpu_percent"),
                  idle_minutes=get("resources.idle_minutes"),
                  pause_on_battery_below=get("resources.pause_on_battery_below"),
                  pause_when_full_screen=get("resources.pause_when_full_screen"))


def read_battery() -> Battery | None:
    """The battery, when there is one and the OS says whether it is charging."""
    try:
        state = psutil.sensors_battery()
    except (OSError, NotImplementedError, AttributeError):
        return None
    if state is None or state.power_plugged is None:
        return None
    return Battery(float(state.percent), bool(state.power_plugged))


class Governor:
    """Decides the mode from desktop activity, battery and the user's switches.

    Pure decisions: the activity, battery and clock are passed in, so every rule is
    tested with fakes. Not thread-safe; the model's owner thread asks it.
    """

    def __init__(self, read_activity: Callable[[], ActivityReading], limits: Limits,
                 read_battery: Callable[[], Battery | None] = read_battery,
                 on_change: Callable[[ModeChange], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read_activity = read_activity
        self._read_battery = read_battery
        self.on_change = on_change
        self._clock = clock
        self.limits = limits
        self.last: Decision | None = None

    def set_limits(self, limits: Limits) -> None:
        """New limits apply from the next decision on (no restart)."""
        self.limits = limits

    def decide(self, *, busy: bool = False, paused_by_user: bool = False) -> Decision:
        activity = self._read_activity()
        mode, reason = self._mode(activity, busy, paused_by_user)
        budget = {Mode.ACTIVE: self.limits.active_cpu_percent,
                  Mode.IDLE: self.limits.idle_cpu_percent}.get(mode, 0.0)
        decision = Decision(mode, reason, budget, activity, self._clock())
        previous = self.last.mode if self.last is not None else None
        self.last = decision
        if mode != previous and self.on_change is not None:
            self.on_change(ModeChange(mode, previous, reason, decision.at))
        return decision

    def _mode(self, activity: ActivityReading, busy: bool,
              paused_by_user: bool) -> tuple[Mode, str]:
        if busy:
            return Mode.BUSY, "answering you"
        if paused_by_user:
            return Mode.PAUSED, "paused by you"
        battery = self._read_battery()
        if (battery is not None and not battery.plugged_in
                and battery.percent < self.limits.pause_on_battery_below):
            return Mode.PAUSED, f"on battery ({battery.percent:.0f}%)"
        if activity.full_screen and self.limits.pause_when_full_screen:
            return Mode.PAUSED, f"{activity.full_screen} on screen"
        if not activity.present:
            return Mode.IDLE, "screen locked"
        idle_after = self.limits.idle_minutes * 60
        where = "in Nexus Desktop" if activity.fallback else "at the desktop"
        if activity.idle_seconds >= idle_after:
            return Mode.IDLE, f"no input {where} for {_duration(activity.idle_seconds)}"
        return Mode.ACTIVE, f"input {where} {_duration(activity.idle_seconds)} ago"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
