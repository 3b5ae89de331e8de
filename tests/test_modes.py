"""Every decision of the governor, with a fake desktop, battery and clock."""

from __future__ import annotations

from nexus_desktop.governor.activity import ActivityReading
from nexus_desktop.governor.modes import Battery, Governor, Limits, Mode, ModeChange

LIMITS = Limits(active_cpu_percent=10.0, idle_cpu_percent=25.0, idle_minutes=2.0,
                pause_on_battery_below=50.0, pause_when_full_screen=True)


class Desk:
    def __init__(self) -> None:
        self.reading = ActivityReading(0.0, "x11", False)
        self.battery: Battery | None = None
        self.now = 100.0
        self.changes: list[ModeChange] = []

    def governor(self, limits: Limits = LIMITS) -> Governor:
        return Governor(lambda: self.reading, limits, read_battery=lambda: self.battery,
                        on_change=self.changes.append, clock=lambda: self.now)

    def idle(self, seconds: float, **kwargs: object) -> None:
        self.reading = ActivityReading(seconds, kwargs.pop("source", "x11"),  # type: ignore[arg-type]
                                       bool(kwargs.pop("fallback", False)), **kwargs)  # type: ignore[arg-type]


def test_input_a_moment_ago_is_active_with_the_active_budget():
    desk = Desk()
    decision = desk.governor().decide()
    assert (decision.mode, decision.cpu_percent) == (Mode.ACTIVE, 10.0)
    assert decision.reason == "input at the desktop 0 s ago" and decision.learning_allowed


def test_no_input_for_the_idle_minutes_is_idle_with_the_idle_budget():
    desk = Desk()
    governor = desk.governor()
    desk.idle(119.0)
    assert governor.decide().mode == Mode.ACTIVE
    desk.idle(120.0)
    decision = governor.decide()
    assert (decision.mode, decision.cpu_percent) == (Mode.IDLE, 25.0)
    assert decision.reason == "no input at the desktop for 2 min"


def test_an_active_budget_of_zero_means_no_learning_at_the_desktop():
    desk = Desk()
    decision = desk.governor(Limits(active_cpu_percent=0.0)).decide()
    assert decision.mode == Mode.ACTIVE and not decision.learning_allowed


def test_a_locked_session_counts_as_away():
    desk = Desk()
    desk.idle(5.0, present=False)
    assert desk.governor().decide().mode == Mode.IDLE


def test_busy_answering_comes_first_and_allows_no_learning():
    desk = Desk()
    desk.idle(600.0)
    decision = desk.governor().decide(busy=True, paused_by_user=True)
    assert (decision.mode, decision.cpu_percent, decision.reason) == (
        Mode.BUSY, 0.0, "answering you")


def test_paused_by_the_user():
    desk = Desk()
    desk.idle(600.0)
    decision = desk.governor().decide(paused_by_user=True)
    assert (decision.mode, decision.reason, decision.cpu_percent) == (
        Mode.PAUSED, "paused by you", 0.0)


def test_on_battery_below_the_threshold_pauses_and_plugged_in_does_not():
    desk = Desk()
    desk.idle(600.0)
    governor = desk.governor()
    desk.battery = Battery(35.0, plugged_in=False)
    decision = governor.decide()
    assert (decision.mode, decision.reason) == (Mode.PAUSED, "on battery (35%)")
    desk.battery = Battery(60.0, plugged_in=False)
    assert governor.decide().mode == Mode.IDLE
    desk.battery = Battery(10.0, plugged_in=True)
    assert governor.decide().mode == Mode.IDLE
    never = desk.governor(Limits(pause_on_battery_below=0.0))
    desk.battery = Battery(1.0, plugged_in=False)
    assert never.decide().mode == Mode.IDLE


def test_a_full_screen_app_pauses_unless_the_setting_is_off():
    desk = Desk()
    desk.idle(600.0, full_screen="presentation")
    decision = desk.governor().decide()
    assert (decision.mode, decision.reason) == (Mode.PAUSED, "presentation on screen")
    assert desk.governor(Limits(pause_when_full_screen=False)).decide().mode == Mode.IDLE


def test_the_fallback_says_the_activity_is_the_apps_own():
    desk = Desk()
    desk.idle(30.0, source="app", fallback=True)
    assert desk.governor().decide().reason == "input in Nexus Desktop 30 s ago"


def test_each_change_of_mode_is_reported_once_with_its_reason():
    desk = Desk()
    governor = desk.governor()
    governor.decide()
    desk.now = 101.0
    governor.decide()  # same mode: nothing new
    desk.idle(200.0)
    desk.now = 102.0
    governor.decide()
    desk.idle(0.5)
    desk.now = 103.0
    governor.decide()
    assert [(c.previous, c.mode, c.at) for c in desk.changes] == [
        (None, Mode.ACTIVE, 100.0), (Mode.ACTIVE, Mode.IDLE, 102.0),
        (Mode.IDLE, Mode.ACTIVE, 103.0)]
    assert desk.changes[1].reason == "no input at the desktop for 3 min"


def test_new_limits_apply_from_the_next_decision():
    desk = Desk()
    desk.idle(90.0)
    governor = desk.governor()
    assert governor.decide().mode == Mode.ACTIVE
    governor.set_limits(Limits(idle_minutes=1.0, idle_cpu_percent=50.0))
    decision = governor.decide()
    assert (decision.mode, decision.cpu_percent) == (Mode.IDLE, 50.0)
