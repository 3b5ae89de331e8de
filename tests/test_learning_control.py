"""Who may stop learning, and when: pause, stop, learning off, a waiting user request and
the governor's checks, each honoured at the next slice."""

from __future__ import annotations

import pytest

from nexus_desktop.engine import Engine
from nexus_desktop.errors import InputError
from nexus_desktop.learning.control import LearningControl
from nexus_desktop.memory.facts import extract_facts


def test_control_states_and_checks() -> None:
    control = LearningControl()
    assert control.state == "allowed" and control.may_continue()
    control.pause()
    assert control.state == "paused" and not control.may_continue()
    control.resume()
    control.request_begins()
    assert control.state == "yielding" and not control.may_continue()
    control.request_ends()
    busy = [True]
    control.add_check(lambda: not busy[0])
    assert control.state == "allowed" and not control.may_continue()
    busy[0] = False
    assert control.may_continue()
    control.stop()
    assert control.state == "stopped"
    control.start("geology")
    assert control.may_continue() and control.topic == "geology"
    control.set_enabled(False)
    assert control.state == "off" and not control.may_continue()


def tell(engine: Engine, *statements: str) -> None:
    for statement in statements:
        for candidate in extract_facts(statement):
            engine.facts.remember(candidate, None, "pattern")


def test_pausing_stops_learning_at_the_next_slice_and_resuming_goes_on(
        quiet_engine: Engine) -> None:
    tell(quiet_engine, "My favorite color is teal.", "My sister's name is Ola.")
    for slices, _ in enumerate(quiet_engine.learn(1e9), start=1):
        if slices == 3:
            quiet_engine.learning.pause()
    assert slices == 3
    assert quiet_engine.learning_metrics().state == "paused"

    quiet_engine.learning.resume()
    steps_before = quiet_engine.learning_metrics().steps
    for slices, _ in enumerate(quiet_engine.learn(1e9), start=1):
        if slices == 10:
            quiet_engine.learning.request_begins()  # a message from the user arrives
    assert slices == 10 and quiet_engine.learning_metrics().steps > steps_before
    assert quiet_engine.learning_metrics().state == "yielding"
    quiet_engine.learning.request_ends()
    assert quiet_engine.learning_metrics().replay_size == 6


def test_stop_ends_learning_and_start_on_a_topic_sets_it(quiet_engine: Engine) -> None:
    tell(quiet_engine, "My favorite color is teal.")
    for slices, _ in enumerate(quiet_engine.learn(1e9), start=1):
        if slices == 2:
            quiet_engine.learning.stop()
    assert slices == 2 and quiet_engine.learning_metrics().state == "stopped"
    assert list(quiet_engine.learn(1e9)) == []

    quiet_engine.learning.start("geology")
    assert quiet_engine.learning.topic == "geology"
    assert list(quiet_engine.learn(0.5))


def test_learning_off_refuses_with_the_setting_to_change(quiet_engine: Engine) -> None:
    quiet_engine.settings.set("learning.enabled", False)
    with pytest.raises(InputError, match=r"learning\.enabled true"):
        list(quiet_engine.learn(5))
