"""The desktop app's engine for callers on other threads: the HTTP API's request threads
and the local channel's command threads.

Everything goes through the app's EngineHost, as the chat window's own requests do: a
message sent by the API or `nexus-desktop ask` is committed on the store thread, answered
on the model thread, and shown live in the chat window like one typed there. The host is
a GUI-thread object, so each call is handed to the GUI thread and its answer waited for
here; the reply's pieces come straight from the model thread into a queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

from nexus_desktop.api.backend import (
    CONTEXTS,
    CONTROL_ACTIONS,
    GRACE_SECONDS,
    POLL_SECONDS,
    TURN_SECONDS,
    BackendUnavailable,
    final_result,
    turn_payload,
)
from nexus_desktop.engine import TurnResult
from nexus_desktop.errors import InputError, NexusError
from nexus_desktop.memory.session import check_user_text
from nexus_desktop.status import build_status
from nexus_desktop.ui.engine_host import EngineHost

T = TypeVar("T")

CLOSING = "Nexus Desktop is quitting; try again once it runs."
# Where the app's replies tell the user to look at remembered facts.
FACTS_PLACE = "What I remember"


class _GuiCalls(QObject):
    """Runs callables on the thread it lives on (the GUI thread)."""

    requested = Signal(object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.requested.connect(self._run)

    @Slot(object)
    def _run(self, call: Callable[[], None]) -> None:
        call()


class HostBackend:
    """The API backend (``ApiBackend``) on an EngineHost. Call it from any thread but the
    GUI thread, which must keep running to answer; ``close`` (on the GUI thread) ends every
    wait at once."""

    def __init__(self, host: EngineHost) -> None:
        self._host = host
        self._gui = _GuiCalls(host)
        self._lock = threading.Lock()
        self._turns: dict[int, queue.Queue[tuple[str, Any]]] = {}
        self._closed = threading.Event()
        direct = Qt.ConnectionType.DirectConnection
        # Direct: the queue is filled on the emitting thread (the model thread for the
        # pieces), so a reply reaches its caller even while the GUI thread is busy.
        host.message_refused.connect(self._refused, direct)
        host.reply_piece.connect(self._piece, direct)
        host.reply_notice.connect(self._notice, direct)
        host.reply_finished.connect(self._finished, direct)

    def close(self) -> None:
        """Refuse new calls and end the waiting ones (they get BackendUnavailable)."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            for events in self._turns.values():
                events.put(("closed", None))
        for signal, slot in ((self._host.message_refused, self._refused),
                             (self._host.reply_piece, self._piece),
                             (self._host.reply_notice, self._notice),
                             (self._host.reply_finished, self._finished)):
            signal.disconnect(slot)

    # -- the API ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        host = self._host
        return self.on_store_thread(lambda: build_status(self.engine(), host.daemon))

    def control(self, action: str, topic: str | None = None) -> dict[str, Any]:
        if action not in CONTROL_ACTIONS:
            raise InputError(f"Unknown action {action!r}; use one of "
                             f"{', '.join(CONTROL_ACTIONS)}.")

        def act() -> dict[str, Any]:
            engine, daemon = self.engine(), self._host.daemon
            if daemon is None:
                raise BackendUnavailable("Nexus Desktop is still starting; try again in a "
                                         "moment.")
            if action == "train_start":
                daemon.train_start(topic or None)
            else:
                getattr(daemon, action)()
            return {"action": action, "learning": engine.learning.state,
                    "topic": engine.learning.topic}
        answer = self.on_store_thread(act)
        self._on_gui(self._host.refresh_status)
        return answer

    def interact(self, prompt: str, context: str = "full") -> dict[str, Any]:
        return final_result(self.interact_stream(prompt, context))

    def interact_stream(self, prompt: str, context: str = "full", use_skills: bool = True,
                        stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
        """The turn as it happens; ``stop`` set (the caller hung up) stops the reply."""
        check_user_text(prompt)
        if context not in CONTEXTS:
            raise InputError(f"Unknown context {context!r}; use one of {', '.join(CONTEXTS)}.")
        self.engine()  # refuses at once while starting or quitting
        events: queue.Queue[tuple[str, Any]] = queue.Queue()

        def send() -> int:
            turn_id = self._host.send(prompt, context, use_skills)
            with self._lock:
                self._turns[turn_id] = events
            return turn_id
        turn_id = self._on_gui_and_wait(send)
        return self._turn_events(turn_id, events, stop or threading.Event())

    # -- for the local channel's other commands ---------------------------------------------

    def on_store_thread(self, work: Callable[[], T], timeout_s: float = GRACE_SECONDS) -> T:
        """``work()`` on the app's store thread (where the windows' reads and writes run),
        its result or its exception here."""
        future: Future[T] = Future()

        def ask() -> None:
            self._host.query(work, future.set_result, future.set_exception)
        self._on_gui(ask)
        return self._wait(future, timeout_s)

    # -- plumbing ----------------------------------------------------------------------------

    def engine(self) -> Any:
        """The open engine, or BackendUnavailable while starting or quitting."""
        if self._closed.is_set() or self._host.stopping.is_set():
            raise BackendUnavailable(CLOSING)
        engine = self._host.engine
        if engine is None or not self._host.opened_event.is_set():
            raise BackendUnavailable("Nexus Desktop is still starting; try again in a moment.")
        return engine

    def _on_gui(self, call: Callable[[], None]) -> None:
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("HostBackend waits for the GUI thread; call it from another")
        self._gui.requested.emit(call)

    def _on_gui_and_wait(self, call: Callable[[], T]) -> T:
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(call())
            except Exception as exc:  # raised again on the waiting thread
                future.set_exception(exc)
        self._on_gui(run)
        return self._wait(future, GRACE_SECONDS)

    def _wait(self, future: Future[T], seconds: float) -> T:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:
                if self._closed.is_set():
                    raise BackendUnavailable(CLOSING) from None
                if time.monotonic() > deadline:
                    raise BackendUnavailable("Nexus Desktop did not answer in time; try "
                                             "again in a moment.") from None

    def _turn_events(self, turn_id: int, events: queue.Queue[tuple[str, Any]],
                     stop: threading.Event) -> Iterator[dict[str, Any]]:
        notices: list[str] = []
        deadline = time.monotonic() + TURN_SECONDS
        finished = False
        try:
            while not stop.is_set():
                try:
                    kind, value = events.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if time.monotonic() > deadline:
                        self._on_gui(lambda: self._host.stop_reply(turn_id))
                    if time.monotonic() > deadline + GRACE_SECONDS:
                        raise BackendUnavailable(
                            f"No reply within {TURN_SECONDS + GRACE_SECONDS:.0f} s; Nexus "
                            "Desktop is busy. Try again in a moment.") from None
                    continue
                if kind == "piece":
                    yield {"piece": value}
                elif kind == "notice":
                    notices.append(value)
                    yield {"notice": value}
                elif kind == "refused":
                    finished = True
                    raise NexusError(value)
                elif kind == "closed":
                    raise BackendUnavailable(f"{CLOSING} What was said so far is kept.")
                else:
                    finished = True
                    yield {"result": turn_payload(value, notices)}
                    return
        finally:
            with self._lock:
                self._turns.pop(turn_id, None)
            if not finished and not self._closed.is_set():
                # The caller went away, or the reply took too long: stop it.
                self._on_gui(lambda: self._host.stop_reply(turn_id))

    def _put(self, turn_id: int, kind: str, value: Any) -> None:
        with self._lock:
            events = self._turns.get(turn_id)
        if events is not None:
            events.put((kind, value))

    def _refused(self, turn_id: int, why: str) -> None:
        self._put(turn_id, "refused", why)

    def _piece(self, turn_id: int, text: str) -> None:
        self._put(turn_id, "piece", text)

    def _notice(self, turn_id: int, text: str) -> None:
        self._put(turn_id, "notice", text)

    def _finished(self, turn_id: int, result: TurnResult) -> None:
        self._put(turn_id, "result", result)
