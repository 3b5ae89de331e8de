"""The engine and its daemon, hosted in worker threads and spoken to through signals.

Two workers: the model thread (opens the engine, loads the model, then runs the daemon's
loop: chat first, learning in the gaps) and the store thread (quick reads and writes for
the windows: history pages, search, facts, ratings, the status). The GUI thread only
emits requests and receives results, so it never waits on the model or the disk.

Every user message is committed on the store thread the moment it is sent, before it
waits for the model thread (which may be finishing a learning slice).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from nexus_desktop.config import Settings
from nexus_desktop.daemon import Daemon
from nexus_desktop.engine import Engine, Notice, Piece, TurnEvent, TurnResult
from nexus_desktop.errors import NexusError
from nexus_desktop.governor.activity import DesktopActivity
from nexus_desktop.llm.generation import CancelToken
from nexus_desktop.paths import AppPaths
from nexus_desktop.status import build_status
from nexus_desktop.store.messages import Message
from nexus_desktop.ui.workers import start_worker, stop_worker

log = logging.getLogger(__name__)

# How long Quit waits for the model thread beyond its time limit before giving up on it.
LATE_STOP_MS = 60_000
# How often the status (mode, metrics, health) is read for the tray and the dashboard.
STATUS_INTERVAL_MS = 1000


@dataclass(frozen=True)
class Started:
    """What the model thread reports once the engine is open."""

    recovery: str | None
    interrupted_replies: int


def _failed(message_id: int, why: str) -> TurnResult:
    """A turn that ended before the model could answer."""
    return TurnResult(message_id, 0, "", "failed", "model", 0.0, None, 0, why)


class _ModelLoop(QObject):
    """On the model thread: open the engine, load the model, run the daemon until stopped."""

    opened = Signal(object)  # Started
    model_ready = Signal(str)  # the model's name
    model_failed = Signal(str)
    open_failed = Signal(str)
    finished = Signal()

    def __init__(self, host: EngineHost) -> None:
        super().__init__()
        self._host = host

    @Slot()
    def run(self) -> None:
        host = self._host
        try:
            host.engine = Engine(host.paths, host.settings, status=host.load_progress.emit)
            report = host.engine.open()
        except NexusError as exc:
            self.open_failed.emit(str(exc))
            self.finished.emit()
            return
        host.daemon = Daemon.for_engine(host.engine, activity=host.activity)
        host.engine.thoughts.add_listener(host.thought_added.emit)
        host.daemon.monitor.add_listener(host.sample_taken.emit)
        recovery = report.recovery.describe() if report.recovery is not None else None
        host.opened_event.set()
        self.opened.emit(Started(recovery, host.engine.session.interrupted_at_start))
        if not host.stopping.is_set():
            try:
                name = host.engine.load_model().info.name
                # Everything loaded so far lives as long as the app: kept out of the
                # cyclic GC's full passes, which otherwise walk it all while holding the
                # interpreter, and the GUI thread waits that long.
                gc.freeze()
                self.model_ready.emit(name)
            except NexusError as exc:
                # The app stays up: history, facts and search work, and each turn says why
                # it cannot answer.
                self.model_failed.emit(str(exc))
        try:
            if not host.stopping.is_set():
                host.daemon.run()
        finally:
            if host.stopping.is_set():
                # The store thread may be reading (the status, a history page) with the
                # database's connections: they are closed only once it has ended.
                host.store_ended.wait((LATE_STOP_MS + host.stop_timeout_ms) / 1000)
            try:
                host.engine.close(host.close_deadline)
            except NexusError:
                log.exception("closing the engine failed")
            self.finished.emit()


class _StoreTasks(QObject):
    """On the store thread: runs one callable at a time and hands back its result."""

    done = Signal(int, object, object)  # task id, result, error

    @Slot(int, object)
    def run(self, task_id: int, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as exc:  # handed to the GUI's error callback, never lost here
            if not isinstance(exc, NexusError):
                log.exception("a background task failed")
            self.done.emit(task_id, None, exc)
        else:
            self.done.emit(task_id, result, None)


class EngineHost(QObject):
    """The desktop app's one handle on the engine. Call everything from the GUI thread."""

    opened = Signal(object)  # Started: history, facts and search may be used
    open_failed = Signal(str)
    model_ready = Signal(str)
    model_failed = Signal(str)
    load_progress = Signal(str)
    stopped = Signal()
    # A chat turn, by the id ``send`` returned.
    message_committed = Signal(int, object)  # the user's Message
    message_refused = Signal(int, str)  # not saved: why, and what to do
    reply_piece = Signal(int, str)
    reply_notice = Signal(int, str)
    reply_finished = Signal(int, object)  # TurnResult
    # A reply's rating is stored (by reply id): it may have kept or weakened a skill.
    reply_rated = Signal(int)
    # Live data for the tray and the dashboard.
    status_changed = Signal(dict)
    sample_taken = Signal(object)  # ResourceSample, from the monitor thread
    thought_added = Signal(object)  # Thought, from whichever thread had it
    _task_requested = Signal(int, object)
    _run_model_loop = Signal()

    def __init__(self, paths: AppPaths, settings: Settings,
                 activity: DesktopActivity | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.settings = settings
        self.activity = activity
        self.engine: Engine | None = None
        self.daemon: Daemon | None = None
        self.opened_event = threading.Event()
        self.stopping = threading.Event()
        # Set by ``shutdown`` once the store thread has ended (or was given up on).
        self.store_ended = threading.Event()
        self.stop_timeout_ms = 5000
        # Set by ``shutdown``: the open learning round's check must end by then.
        self.close_deadline: float | None = None
        self._turns: dict[int, CancelToken] = {}
        self._next_id = 0
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None,
                                         Callable[[Exception], None] | None]] = {}
        self._model_thread: QThread | None = None
        self._store_thread: QThread | None = None
        self._status_timer = QTimer(self)
        self._status_timer.setObjectName("engine-status-timer")
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_pending = False
        self.opened.connect(lambda _started: self._status_timer.start())
        self.opened.connect(lambda _started: self.refresh_status())

    # -- life -------------------------------------------------------------------------

    def start(self) -> None:
        tasks = _StoreTasks()
        tasks.done.connect(self._task_done)
        self._task_requested.connect(tasks.run)
        self._store_thread = start_worker(tasks, "nexus-store")
        loop = _ModelLoop(self)
        loop.opened.connect(self.opened)
        loop.open_failed.connect(self.open_failed)
        loop.model_ready.connect(self.model_ready)
        loop.model_failed.connect(self.model_failed)
        loop.finished.connect(self.stopped)
        self._run_model_loop.connect(loop.run)
        self._model_thread = start_worker(loop, "nexus-model")
        # A queued call: the loop runs in its own thread, once.
        self._run_model_loop.emit()

    @property
    def is_open(self) -> bool:
        return self.opened_event.is_set() and not self.stopping.is_set()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the daemon (the slice in progress finishes, the open learning round is
        checked and saved), close the engine and end both threads. False if a thread did
        not end in time."""
        # The check of the open learning round gets what is left of the time after
        # the slice in progress; the second kept back is for closing everything else.
        self.close_deadline = time.monotonic() + max(timeout_ms / 1000 - 1.0, 0.5)
        self.stop_timeout_ms = timeout_ms
        self.stopping.set()
        self._status_timer.stop()
        for cancel in self._turns.values():
            cancel.cancel()
        if self.daemon is not None:
            self.daemon.stop(timeout=0)
        ended = True
        # The store thread first: the model thread closes the database as it ends, and
        # waits for this before it does.
        if self._store_thread is not None:
            ended = stop_worker(self._store_thread, timeout_ms)
            if not ended:
                log.warning("the store thread is still busy after %d ms; waiting", timeout_ms)
                ended = stop_worker(self._store_thread, LATE_STOP_MS)
        self.store_ended.set()
        if self._model_thread is not None:
            model_ended = stop_worker(self._model_thread, timeout_ms)
            if not model_ended:
                # A thread object dropped while it runs aborts the process (and the
                # supervisor would start the app again after a Quit): wait it out.
                log.warning("the model thread is still closing after %d ms; waiting",
                            timeout_ms)
                model_ended = stop_worker(self._model_thread, LATE_STOP_MS)
            ended = model_ended and ended
        self._model_thread = self._store_thread = None
        return ended

    # -- chat ---------------------------------------------------------------------------

    def send(self, text: str, context: str = "full", use_skills: bool = True) -> int:
        """Send a message; returns the turn's id for the reply signals. ``use_skills``
        False always asks the model (`ask --fresh`)."""
        turn_id = self._new_id()
        cancel = CancelToken()
        self._turns[turn_id] = cancel

        def commit() -> Message:
            engine = self._require_engine()
            return engine.session.add_user_message(text)

        def committed(message: Message) -> None:
            self.message_committed.emit(turn_id, message)
            self._reply(turn_id, message.id, cancel,
                        lambda engine: engine.reply_to(message, cancel, context,
                                                       use_skills=use_skills))

        def refused(exc: Exception) -> None:
            self._turns.pop(turn_id, None)
            self.message_refused.emit(turn_id, str(exc))

        self.query(commit, committed, refused)
        return turn_id

    def stop_reply(self, turn_id: int) -> None:
        cancel = self._turns.get(turn_id)
        if cancel is not None:
            cancel.cancel()

    def regenerate(self, reply_id: int, context: str = "full") -> int:
        """A fresh model reply to the message that reply ``reply_id`` answered (the old
        reply stays; the new one comes at the end). Returns the turn's id for the reply
        signals; ``stop_reply`` stops it like any reply."""
        turn_id = self._new_id()
        cancel = CancelToken()
        self._turns[turn_id] = cancel

        def asked_id() -> int:
            # Read on the store thread, like a sent message is saved there: the signals
            # come after the caller has the turn's id, and a failure carries the message.
            reply = self._require_engine().session.messages.get(reply_id)
            return reply.reply_to if reply is not None and reply.reply_to else 0

        def found(message_id: int) -> None:
            self._reply(turn_id, message_id, cancel,
                        lambda engine: engine.regenerate(reply_id, cancel, context))

        def refused(exc: Exception) -> None:
            self._finish(turn_id, _failed(0, str(exc)))

        self.query(asked_id, found, refused)
        return turn_id

    def _reply(self, turn_id: int, message_id: int, cancel: CancelToken,
               events: Callable[[Engine], Iterator[TurnEvent]]) -> None:
        """Run a reply's ``events`` as a model-thread job, each one out as a signal."""
        engine, daemon = self._require_engine(), self.daemon
        assert daemon is not None

        def work() -> None:
            try:
                for event in events(engine):
                    if isinstance(event, Piece):
                        self.reply_piece.emit(turn_id, event.text)
                    elif isinstance(event, Notice):
                        self.reply_notice.emit(turn_id, event.shown_in("What I remember"))
                    elif isinstance(event, TurnResult):
                        self._finish(turn_id, event)
            except NexusError as exc:
                self._finish(turn_id, _failed(message_id, str(exc)))

        daemon.submit("chat turn", work)

    def _finish(self, turn_id: int, result: TurnResult) -> None:
        self._turns.pop(turn_id, None)
        self.reply_finished.emit(turn_id, result)

    # -- everything else ------------------------------------------------------------------

    def query(self, work: Callable[[], Any], on_result: Callable[[Any], None] | None = None,
              on_error: Callable[[Exception], None] | None = None) -> int:
        """Run ``work`` on the store thread; the callbacks run on the GUI thread."""
        task_id = self._new_id()
        self._callbacks[task_id] = (on_result, on_error)
        self._task_requested.emit(task_id, work)
        return task_id

    @Slot(int, object, object)
    def _task_done(self, task_id: int, result: Any, error: Exception | None) -> None:
        on_result, on_error = self._callbacks.pop(task_id, (None, None))
        if error is None:
            if on_result is not None:
                on_result(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("background task failed: %s", error)

    def pause(self) -> None:
        self._control(lambda daemon: daemon.pause())

    def resume(self) -> None:
        self._control(lambda daemon: daemon.resume())

    def train_start(self, topic: str | None = None) -> None:
        self._control(lambda daemon: daemon.train_start(topic or None))

    def train_stop(self) -> None:
        self._control(lambda daemon: daemon.train_stop())

    def rate_reply(self, reply_id: int, good: bool | None,
                   on_error: Callable[[Exception], None] | None = None) -> None:
        self.query(lambda: self._require_engine().rate_reply(reply_id, good),
                   lambda _none: self.reply_rated.emit(reply_id), on_error)

    def _control(self, action: Callable[[Daemon], None]) -> None:
        def work() -> None:
            if self.daemon is None:
                raise NexusError("Nexus Desktop is still starting; try again in a moment.")
            action(self.daemon)
        self.query(work, lambda _none: self.refresh_status())

    @Slot()
    def refresh_status(self) -> None:
        """Read the status on the store thread; ``status_changed`` brings it back. A read
        still under way is not doubled."""
        if self._status_pending or not self.is_open:
            return
        self._status_pending = True

        def read() -> dict[str, Any]:
            return build_status(self._require_engine(), self.daemon)

        def finished(status: dict[str, Any]) -> None:
            self._status_pending = False
            if not self.stopping.is_set():
                self.status_changed.emit(status)

        def failed(exc: Exception) -> None:
            self._status_pending = False
            log.warning("reading the status failed: %s", exc)

        self.query(read, finished, failed)

    def _require_engine(self) -> Engine:
        if self.engine is None or not self.opened_event.is_set():
            raise NexusError("Nexus Desktop is still starting; try again in a moment.")
        return self.engine

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id
