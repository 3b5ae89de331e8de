"""The always-on loop: the user first, learning in the gaps (seed 000's daemon), no Qt.

One thread owns the model and runs this loop. Each pass: sample resources and run the
memory manager, serve the user's model jobs (a priority queue: chat before anything
else), and only when the queue is empty and the governor allows it, learn in slices
under the CPU budget of the current mode. A job submitted while learning runs makes
``may_continue`` false at once (``LearningControl.request_begins``), so learning steps
aside at the next slice boundary. An open learning round is checked and saved every
``learning.checkpoint_minutes`` on the clock as well as per minutes of work.

The desktop app hosts ``run`` in a QThread; the headless CLI calls ``start``.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nexus_desktop.engine import Engine, TurnEvent, TurnResult
from nexus_desktop.errors import NexusError
from nexus_desktop.governor.activity import AppActivity, DesktopActivity, detect_activity_source
from nexus_desktop.governor.cpu_budget import CpuBudget
from nexus_desktop.governor.memory import MemoryManager, MemoryStatus
from nexus_desktop.governor.modes import Decision, Governor, Mode, ModeChange, limits_from
from nexus_desktop.governor.monitor import ResourceMonitor
from nexus_desktop.governor.priority import PriorityChange
from nexus_desktop.governor.throttle import cpu_count, throttled
from nexus_desktop.llm.generation import CancelToken

log = logging.getLogger(__name__)

# Priorities of model jobs: lower runs first.
USER = 0
BACKGROUND = 10
# How often the loop looks at the desktop and resources when there is nothing to do.
TICK_SECONDS = 1.0
# How often a pause between learning slices looks at the desktop: learning stops within
# about this long of the user coming back (plus the slice running at that moment).
PAUSE_CHECK_SECONDS = 0.2
# Mode changes kept for the status, newest last.
MODE_HISTORY = 50


class Job:
    """One piece of model work for the owner thread; its result or error when done."""

    def __init__(self, name: str, work: Callable[[], Any]) -> None:
        self.name = name
        self._work = work
        self._done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:  # handed to the waiting thread, never lost here
            self.error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.name} did not finish within {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result


@dataclass(order=True)
class _Queued:
    priority: int
    seq: int
    job: Job = field(compare=False)


class Daemon:
    def __init__(self, engine: Engine, governor: Governor, monitor: ResourceMonitor,
                 memory: MemoryManager, budget: CpuBudget,
                 activity: DesktopActivity | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 follow_settings: bool = True) -> None:
        self.engine = engine
        self.governor = governor
        self.monitor = monitor
        self.memory = memory
        self.budget = budget
        self.activity = activity
        self._clock = clock
        self._queue: queue.PriorityQueue[_Queued] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._owner: int | None = None
        self._lock = threading.Lock()
        self.started_at: float | None = None
        self.memory_status: MemoryStatus | None = None
        self.mode_changes: list[ModeChange] = []
        self._last_checkpoint = clock()
        self._learning_announced = False
        self._priority: PriorityChange | None = None
        # Take the governor's limits from the settings at every tick (changes apply at
        # once); tests hand the governor fixed limits instead.
        self._follow_settings = follow_settings
        governor.on_change = self._mode_changed
        engine.learning.add_check(self._learning_allowed)

    @classmethod
    def for_engine(cls, engine: Engine, activity: DesktopActivity | None = None,
                   app_activity: AppActivity | None = None) -> Daemon:
        """A daemon with the real desktop activity, monitor and memory manager."""
        if activity is None:
            source, reason = detect_activity_source()
            activity = DesktopActivity(source, app_activity or AppActivity(), reason=reason)
        get = engine.settings.get
        governor = Governor(activity.read, limits_from(get))
        critical = get("resources.ram_mb")
        # The warning level must lie below the limit; a user may have set it above.
        memory = MemoryManager(warning_mb=min(get("resources.ram_warning_mb"), critical * 0.9),
                               critical_mb=critical,
                               on_event=engine.thoughts.add)
        engine.register_cleanups(memory)
        return cls(engine, governor, ResourceMonitor(), memory,
                   CpuBudget(get("resources.idle_cpu_percent")), activity)

    # -- life -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop on a thread of its own (headless use; the app uses a QThread)."""
        self._thread = threading.Thread(target=self.run, name="nexus-model", daemon=False)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def uptime_seconds(self) -> float:
        return 0.0 if self.started_at is None else self._clock() - self.started_at

    @property
    def running(self) -> bool:
        return self.started_at is not None and not self._stopping.is_set()

    def run(self) -> None:
        """The loop; returns after ``stop``, with the queue answered and the open learning
        round checked and saved."""
        self._owner = threading.get_ident()
        self.started_at = self._clock()
        self.monitor.start()
        self.engine.thoughts.add("daemon", "started")
        try:
            while not self._stopping.is_set():
                self._housekeeping()
                if self._run_next_job():
                    continue
                if not self._learn_if_allowed():
                    self._wake.wait(TICK_SECONDS)
                    self._wake.clear()
        finally:
            self._drain()
            self.monitor.stop()
            self.close_sources()
            self.engine.thoughts.add("daemon", "stopped")

    def look_once(self) -> Decision:
        """One reading of resources and the desktop, without running the loop (the
        status of a headless engine)."""
        sample = self.monitor.poll()
        if sample is not None:
            self.memory_status = self.memory.tick(sample)
        return self.decide()

    def close_sources(self) -> None:
        """Release the desktop-activity source (an X display, a D-Bus connection)."""
        if self.activity is not None:
            self.activity.close()

    # -- jobs ----------------------------------------------------------------------------

    def submit(self, name: str, work: Callable[[], Any], priority: int = USER) -> Job:
        """Queue model work; a user job makes running learning step aside at once."""
        job = Job(name, work)
        if priority == USER:
            self.engine.learning.request_begins()
            if self.activity is not None:
                # Where the desktop cannot be read, using the app is the activity known.
                self.activity.app.note()
            lowered = self._priority
            if lowered is not None and lowered.restore_now is not None:
                # The slice in progress finishes at normal priority: on a busy machine a
                # starved slice would hold the answer up for many seconds.
                lowered.restore_now()
        self._queue.put(_Queued(priority, next(self._seq), job))
        self._wake.set()
        return job

    def submit_turn(self, text: str, on_event: Callable[[TurnEvent], None] | None = None,
                    context: str = "full", cancel: CancelToken | None = None) -> Job:
        """A chat turn; ``on_event`` gets each piece on the model thread. The job's result
        is the TurnResult."""
        def work() -> TurnResult | None:
            result = None
            for event in self.engine.turn(text, cancel, context):
                if on_event is not None:
                    on_event(event)
                if isinstance(event, TurnResult):
                    result = event
            return result
        return self.submit("chat turn", work)

    def _run_next_job(self) -> bool:
        try:
            queued = self._queue.get_nowait()
        except queue.Empty:
            return False
        self.governor.decide(busy=True, paused_by_user=self.engine.learning.state == "paused")
        try:
            queued.job.run()
        finally:
            if queued.priority == USER:
                self.engine.learning.request_ends()
        return True

    def _drain(self) -> None:
        while True:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                return
            queued.job.run()
            if queued.priority == USER:
                self.engine.learning.request_ends()

    # -- control -----------------------------------------------------------------------

    def pause(self) -> None:
        self.engine.learning.pause()
        self.engine.thoughts.add("control", "learning paused by you")
        self._wake.set()

    def resume(self) -> None:
        self.engine.learning.resume()
        self.engine.thoughts.add("control", "learning resumed")
        self._wake.set()

    def train_start(self, topic: str | None = None) -> None:
        self.engine.learning.start(topic)
        if topic and self.engine.settings.get("teacher.enabled"):
            self.engine.start_teacher(topic)
        self.engine.thoughts.add("control", f"training started on {topic}" if topic
                                 else "training started")
        self._wake.set()

    def train_stop(self) -> None:
        self.engine.learning.stop()
        self.engine.thoughts.add("control", "training stopped by you")
        self._wake.set()

    # -- the governor ------------------------------------------------------------------

    def decide(self) -> Decision:
        return self.governor.decide(paused_by_user=self.engine.learning.state
                                    in ("paused", "stopped"))

    def _learning_allowed(self) -> bool:
        """The governor's part of ``may_continue``: nothing stopping, the mode allows
        learning, and its budget is the one in force."""
        if self._stopping.is_set() or threading.get_ident() != self._owner:
            # Learning outside the loop (the headless command) is not the daemon's.
            return not self._stopping.is_set()
        decision = self.decide()
        if not decision.learning_allowed:
            return False
        if decision.cpu_percent != self.budget.percent:
            # A new budget applies from now: no pause owed under the old one.
            self.budget.set_percent(decision.cpu_percent)
            self.budget.begin()
        return True

    def _mode_changed(self, change: ModeChange) -> None:
        with self._lock:
            self.mode_changes = [*self.mode_changes, change][-MODE_HISTORY:]
        if change.previous is not None and Mode.BUSY not in (change.mode, change.previous):
            # The first decision is the start, not a change; each answer would add two
            # lines. The status keeps all of them.
            self.engine.thoughts.add("mode", f"{change.mode}: {change.reason}")

    # -- learning -----------------------------------------------------------------------

    def _learn_if_allowed(self) -> bool:
        """Learn while allowed; False when nothing was done (then the loop waits)."""
        engine = self.engine
        if not engine.settings.get("learning.enabled") or not engine.learning.may_continue():
            self._learning_announced = False
            return False
        breaker = engine.breakers["learning"]
        if not breaker.allow():
            return False
        try:
            for _ in throttled(self._learning_work(), self.budget, self._pause,
                               engine.settings.get("resources.learning_threads"),
                               self._busy_cores(), self._set_priority):
                self._announce()
                self._housekeeping()
        except NexusError as exc:
            self._learning_failed(exc)
            return True
        except Exception as exc:
            log.exception("learning failed")
            self._learning_failed(exc)
            return True
        breaker.record_success()
        if engine.learning_metrics().state == "up to date":
            # Nothing to learn: look again at the next tick, not at once.
            self._learning_announced = False
            return False
        return True

    def _learning_work(self) -> Iterator[object]:
        yield from self.engine.learn(math.inf)
        if (self.engine.learning_round_open and self.engine.learning.may_continue()
                and self._clock() - self._last_checkpoint
                >= self.engine.settings.get("learning.checkpoint_minutes") * 60):
            yield from self.engine.finish_learning()
            self._last_checkpoint = self._clock()

    def _announce(self) -> None:
        if self._learning_announced:
            return
        metrics = self.engine.learning_metrics()
        if metrics.state != "learning":
            return
        self._learning_announced = True
        decision = self.governor.last
        why = f"{decision.mode} ({decision.reason})" if decision is not None else "learning"
        self.engine.thoughts.add(
            "learning", f"{why}: replaying {metrics.replay_size} examples, "
                        f"{metrics.new_examples} new, within {self.budget.percent:.0f}% CPU")

    def _learning_failed(self, exc: BaseException) -> None:
        breaker = self.engine.breakers["learning"]
        breaker.record_failure(str(exc))
        self.engine.thoughts.add("breaker", f"learning failed: {exc}; breaker "
                                 f"{breaker.snapshot().state}")

    def _set_priority(self, change: PriorityChange | None) -> None:
        self._priority = change

    def _busy_cores(self) -> float:
        """Cores other programs kept busy at the last sample (the machine's CPU minus
        this process's)."""
        sample = self.monitor.latest()
        if sample is None:
            return 0.0
        other = max(0.0, sample.system_cpu_percent - sample.process_cpu_percent)
        return other / 100 * cpu_count()

    def _pause(self, seconds: float) -> None:
        """The budget's pause, cut short by a user job, a stop or a change of mode."""
        deadline = self._clock() + seconds
        while not self._stopping.is_set() and self._queue.empty():
            left = deadline - self._clock()
            if left <= 0:
                return
            self._wake.wait(min(left, PAUSE_CHECK_SECONDS))
            self._wake.clear()
            if not self._learning_allowed():
                return

    # -- resources -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        if self._follow_settings:
            self.governor.set_limits(limits_from(self.engine.settings.get))
        sample = self.monitor.latest()
        if sample is not None:
            self.memory_status = self.memory.tick(sample)
        if self.governor.last is None or self._clock() - self.governor.last.at >= TICK_SECONDS:
            self.decide()
