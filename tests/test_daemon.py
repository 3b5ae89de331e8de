"""The daemon on the tiny model: learning in the gaps, the user first, modes from a fake
desktop, breakers, and the status object."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from ollama_server import closed_port_url

from nexus_desktop.config import Settings
from nexus_desktop.daemon import Daemon
from nexus_desktop.engine import Engine, Piece, TurnResult
from nexus_desktop.governor.activity import ActivityReading
from nexus_desktop.governor.cpu_budget import CpuBudget
from nexus_desktop.governor.memory import MemoryManager
from nexus_desktop.governor.modes import Governor, Limits
from nexus_desktop.governor.monitor import ResourceMonitor
from nexus_desktop.paths import AppPaths
from nexus_desktop.status import build_status

FACTS = ["My favorite color is teal.", "My sister's name is Ola.", "My dog's name is Biscuit.",
         "I am from Tromsø.", "My favorite food is pierogi."]


@dataclass
class FakeDesktop:
    """Seconds since the user's last input, set by the test."""

    idle_seconds: float = 0.0

    def read(self) -> ActivityReading:
        return ActivityReading(self.idle_seconds, "fake", False)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def engine(paths: AppPaths, tiny_settings: Settings) -> Iterator[Engine]:
    tiny_settings.set("learning.batch_size", 2)
    tiny_settings.set("learning.lora_rank", 4)
    engine = Engine(paths, tiny_settings)
    engine.open(background_indexing=False)
    for fact in FACTS:  # the tiny model knows none of them: learning never runs out
        for _ in engine.turn(fact):
            pass
    yield engine
    engine.close()


@pytest.fixture
def desktop() -> FakeDesktop:
    return FakeDesktop(idle_seconds=3600.0)


@pytest.fixture
def daemon(engine: Engine, desktop: FakeDesktop) -> Iterator[Daemon]:
    limits = Limits(active_cpu_percent=0.0, idle_cpu_percent=100.0, idle_minutes=1.0)
    governor = Governor(desktop.read, limits, read_battery=lambda: None)
    daemon = Daemon(engine, governor, ResourceMonitor(interval_seconds=0.2),
                    MemoryManager(on_event=engine.thoughts.add), CpuBudget(100.0),
                    follow_settings=False)
    slices = SliceCounter(engine)
    daemon.slices = slices  # type: ignore[attr-defined]
    daemon.start()
    yield daemon
    daemon.stop()


class SliceCounter:
    """Counts the learner's slices as they end, by wrapping Learner.slice."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        learner = engine.learner()
        original = learner.slice

        def counted(topic: str | None = None) -> bool:
            worked = original(topic)
            self.count += 1
            return worked

        learner.slice = counted  # type: ignore[method-assign]


def test_learning_runs_while_the_user_is_away(daemon: Daemon, engine: Engine):
    wait_for(lambda: engine.learning_metrics().steps >= 2)
    assert daemon.governor.last is not None and daemon.governor.last.mode == "idle"
    kinds = [t.kind for t in engine.thoughts.recent()]
    assert "learning" in kinds


def test_learning_stops_when_the_user_comes_back_and_the_change_is_an_event(
        daemon: Daemon, engine: Engine, desktop: FakeDesktop):
    wait_for(lambda: daemon.slices.count >= 5)  # type: ignore[attr-defined]
    desktop.idle_seconds = 0.0
    wait_for(lambda: daemon.governor.last is not None and daemon.governor.last.mode == "active")
    stopped_at = daemon.slices.count  # type: ignore[attr-defined]
    time.sleep(0.5)
    # At most the slice running at that moment ends after the change.
    assert daemon.slices.count <= stopped_at + 1  # type: ignore[attr-defined]
    texts = [t.text for t in engine.thoughts.recent()]
    assert any(text.startswith("active: input at the desktop") for text in texts), texts
    assert [c.mode for c in daemon.mode_changes][-1] == "active"


def test_a_user_turn_starts_within_one_slice_of_learning(daemon: Daemon, engine: Engine):
    counter = daemon.slices  # type: ignore[attr-defined]
    wait_for(lambda: counter.count >= 5)
    seen: list[int] = []
    submitted = counter.count

    def on_event(event: object) -> None:
        if isinstance(event, Piece) and not seen:
            seen.append(counter.count)

    job = daemon.submit_turn("How are you today?", on_event)
    result = job.wait(60)
    assert isinstance(result, TurnResult) and result.status == "complete"
    assert seen and seen[0] <= submitted + 1, (submitted, seen)
    # Learning goes on after the answer.
    after = counter.count
    wait_for(lambda: counter.count > after)


def test_pause_and_resume_by_the_user(daemon: Daemon, engine: Engine):
    counter = daemon.slices  # type: ignore[attr-defined]
    wait_for(lambda: counter.count >= 3)
    daemon.pause()
    wait_for(lambda: daemon.governor.last is not None and daemon.governor.last.mode == "paused")
    paused_at = counter.count
    time.sleep(0.5)
    assert counter.count <= paused_at + 1
    status = build_status(engine, daemon)
    assert status["daemon"]["paused"] and status["resources"]["mode"] == "paused"
    daemon.resume()
    wait_for(lambda: counter.count > paused_at + 1)


def test_a_failing_learner_opens_its_breaker_and_chat_keeps_working(
        daemon: Daemon, engine: Engine):
    learner = engine.learner()

    def broken(topic: str | None = None) -> bool:
        raise RuntimeError("out of memory in a learning step")

    done = threading.Event()
    job = daemon.submit("break learning", lambda: (
        setattr(learner, "slice", broken), done.set()))
    job.wait(30)
    wait_for(lambda: engine.breakers["learning"].state == "open")
    result = daemon.submit_turn("Still there?").wait(60)
    assert result.status == "complete"
    status = build_status(engine, daemon)
    assert status["circuit_breakers"]["learning"]["state"] == "open"
    assert "out of memory" in status["circuit_breakers"]["learning"]["last_error"]
    assert status["health"]["status"] == "degraded"
    assert any(t.kind == "breaker" for t in engine.thoughts.recent())


def test_a_failing_teacher_opens_its_breaker_chat_keeps_working_and_status_shows_it(
        daemon: Daemon, engine: Engine):
    engine.settings.set("teacher.enabled", True)
    engine.settings.set("teacher.url", closed_port_url())
    teacher = engine.start_teacher()
    teacher.pause_seconds = 0.05
    # Open for long: a slow turn on a busy machine must not outlast the back-off.
    teacher.breaker.base_backoff_seconds = teacher.breaker.max_backoff_seconds = 600.0
    wait_for(lambda: teacher.breaker.state == "open")
    result = daemon.submit_turn("What is my favorite color?").wait(60)
    assert result.status == "complete"
    status = build_status(engine, daemon)
    assert status["circuit_breakers"]["teacher"]["state"] == "open"
    assert status["health"]["status"] == "degraded"
    assert any("teacher" in issue for issue in status["health"]["issues"])
    assert any(t.kind == "breaker" and "teacher unavailable" in t.text
               for t in engine.thoughts.recent())


def test_the_status_object_has_seed_000s_structure(daemon: Daemon, engine: Engine):
    wait_for(lambda: daemon.monitor.latest() is not None and daemon.memory_status is not None)
    daemon.submit_turn("Hello there.").wait(60)
    status = build_status(engine, daemon)
    assert set(status) >= {"daemon", "health", "model", "metrics", "memory", "resources",
                           "circuit_breakers", "checkpoints", "facts"}
    assert status["facts"]["count"] == len(FACTS)
    assert status["daemon"]["running"] and status["daemon"]["uptime_seconds"] >= 0
    assert status["health"] == {"healthy": True, "status": "healthy", "issues": []}
    assert status["model"]["loaded"] and status["model"]["interactions"] == len(FACTS) + 1
    assert status["metrics"]["success_rate"] == 1.0
    assert status["memory"]["process"]["current_mb"] > 0
    assert status["memory"]["level"] == "normal"
    resources = status["resources"]
    assert resources["mode"] in ("idle", "busy")
    assert resources["budgets"]["idle_cpu_percent"] == 25.0  # the settings' default
    assert resources["learning_cpu_budget"] == 100.0  # this daemon's fixed limits
    assert status["circuit_breakers"]["inference"]["state"] == "closed"


def test_stop_ends_the_loop_and_answers_queued_jobs(engine: Engine, desktop: FakeDesktop):
    desktop.idle_seconds = 0.0
    governor = Governor(desktop.read, Limits(active_cpu_percent=0.0), read_battery=lambda: None)
    daemon = Daemon(engine, governor, ResourceMonitor(), MemoryManager(), CpuBudget(100.0),
                    follow_settings=False)
    daemon.start()
    job = daemon.submit_turn("One more thing.")
    daemon.stop()
    assert job.done and job.wait(0).status == "complete"
    assert not daemon.running
    assert [t.text for t in engine.thoughts.recent()][-1] == "stopped"


def test_a_daemon_with_nothing_to_learn_looks_once_a_tick_and_does_not_spin(
        paths: AppPaths, tiny_settings: Settings, desktop: FakeDesktop):
    engine = Engine(paths, tiny_settings)
    engine.open(background_indexing=False)
    governor = Governor(desktop.read, Limits(idle_cpu_percent=100.0, idle_minutes=1.0),
                        read_battery=lambda: None)
    daemon = Daemon(engine, governor, ResourceMonitor(), MemoryManager(), CpuBudget(100.0),
                    follow_settings=False)
    slices = SliceCounter(engine)
    daemon.start()
    try:
        wait_for(lambda: slices.count >= 1)
        time.sleep(2.5)
        assert slices.count <= 4, slices.count  # one look per second, not thousands
        assert engine.learning_metrics().state == "up to date"
        assert not any(t.kind == "learning" for t in engine.thoughts.recent())
    finally:
        daemon.stop()
        engine.close()
