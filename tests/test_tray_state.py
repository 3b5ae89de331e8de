"""What the tray icon shows, from the status: error, answering, paused, learning, idle."""

from __future__ import annotations

from typing import Any

from nexus_desktop.ui.app import tray_state


def status(*, paused: bool = False, mode: str = "active", reason: str = "at the desktop",
           learning: str = "idle", health: str = "healthy", issues: tuple[str, ...] = (),
           version: int | None = None) -> dict[str, Any]:
    return {"daemon": {"paused": paused},
            "health": {"status": health, "issues": list(issues)},
            "resources": {"mode": mode, "reason": reason, "learning_cpu_budget": 25.0},
            "metrics": {"learning": {"state": learning, "adapter_version": version}}}


def test_a_problem_loading_the_model_wins_over_everything():
    assert tray_state(status(learning="learning"), True, "no model") == ("error", "no model")


def test_answering_shows_while_a_reply_runs():
    assert tray_state(status(learning="learning"), True, None) == ("answering", "answering")


def test_an_unhealthy_engine_is_an_error_with_its_issues():
    state = tray_state(status(health="unhealthy", issues=("memory critical: 5000 MB",)),
                       False, None)
    assert state == ("error", "memory critical: 5000 MB")


def test_paused_by_the_user_or_by_the_governor():
    assert tray_state(status(paused=True), False, None) == ("paused", "learning paused by you")
    assert tray_state(status(mode="paused", reason="on battery at 30%"), False, None) == (
        "paused", "learning paused: on battery at 30%")


def test_learning_shows_its_budget_and_idle_shows_the_adapter():
    assert tray_state(status(learning="learning"), False, None) == (
        "learning", "learning within 25% CPU")
    assert tray_state(status(version=3), False, None) == ("idle", "ready; adapter v3")
    assert tray_state(None, False, None) == ("idle", "starting")
