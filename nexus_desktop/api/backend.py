"""What the HTTP API asks of Nexus Desktop, and its implementation on an engine and daemon.

Chat turns run as jobs on the daemon's model thread, like the desktop app's, so answering
and learning keep to the one thread that owns the model. Everything that reads or writes
the database (the status, control) runs on one store thread of the API's own: the
server's request threads come and go, and each thread that touches the database keeps a
connection open until the engine closes.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from nexus_desktop.engine import Notice, Piece, TurnEvent, TurnResult
from nexus_desktop.errors import InputError, NexusError
from nexus_desktop.llm.generation import CancelToken
from nexus_desktop.memory.session import check_user_text
from nexus_desktop.status import build_status

if TYPE_CHECKING:
    from nexus_desktop.daemon import Daemon, Job
    from nexus_desktop.engine import Engine

CONTROL_ACTIONS = ("pause", "resume", "train_start", "train_stop")
CONTEXTS = ("full", "facts", "none")
# A reply still running after this long is stopped; what was said so far is kept.
TURN_SECONDS = 300.0
# How long a stopped reply, or a status read, may take before the API gives up on it.
GRACE_SECONDS = 30.0
# How often a waiting request looks whether its turn ended without a result (it raised).
POLL_SECONDS = 0.1
# Where the API's replies tell the user to look at remembered facts.
FACTS_PLACE = "`nexus-desktop facts list`"


class BackendUnavailable(NexusError):
    """Nexus Desktop cannot answer the request now (still busy, or shutting down)."""


class ApiBackend(Protocol):
    def status(self) -> dict[str, Any]:
        """Seed 000's status object."""
        ...

    def interact(self, prompt: str, context: str = "full") -> dict[str, Any]:
        """One turn of the conversation; the reply as `nexus-desktop ask --json` has it."""
        ...

    def interact_stream(self, prompt: str, context: str = "full") -> Iterator[dict[str, Any]]:
        """The same turn as it happens: {"piece"} and {"notice"} lines, then {"result"}.
        Refuses the prompt (InputError) before returning when it cannot be sent."""
        ...

    def control(self, action: str, topic: str | None = None) -> dict[str, Any]:
        """Pause, resume, start or stop learning; the learning state after it."""
        ...


def turn_payload(result: TurnResult, notices: list[str]) -> dict[str, Any]:
    """A finished turn, with the fields of `nexus-desktop ask --json` and its notices."""
    return {**result.as_json(), "notices": notices}


def final_result(stream: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """The turn's result from its stream of lines (which ends with it, or raises)."""
    result: dict[str, Any] | None = None
    for line in stream:
        result = line.get("result", result)
    assert result is not None
    return result


class EngineBackend:
    """The API on a running engine and daemon (the daemon's loop must be running)."""

    def __init__(self, engine: Engine, daemon: Daemon) -> None:
        self._engine = engine
        self._daemon = daemon
        self._store = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexus-api-store")

    def close(self) -> None:
        """End the store thread; the server must have stopped sending requests."""
        self._store.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        return self._on_store_thread(lambda: build_status(self._engine, self._daemon))

    def control(self, action: str, topic: str | None = None) -> dict[str, Any]:
        if action not in CONTROL_ACTIONS:
            raise InputError(f"Unknown action {action!r}; use one of "
                             f"{', '.join(CONTROL_ACTIONS)}.")
        daemon = self._daemon

        def act() -> dict[str, Any]:
            if action == "train_start":
                daemon.train_start(topic or None)
            else:
                getattr(daemon, action)()
            learning = self._engine.learning
            return {"action": action, "learning": learning.state, "topic": learning.topic}
        return self._on_store_thread(act)

    def interact(self, prompt: str, context: str = "full") -> dict[str, Any]:
        return final_result(self.interact_stream(prompt, context))

    def interact_stream(self, prompt: str, context: str = "full") -> Iterator[dict[str, Any]]:
        check_user_text(prompt)
        if context not in CONTEXTS:
            raise InputError(f"Unknown context {context!r}; use one of {', '.join(CONTEXTS)}.")
        if not self._daemon.running:
            raise BackendUnavailable("Nexus Desktop is shutting down; try again when it "
                                     "is running.")
        events: queue.Queue[TurnEvent] = queue.Queue()
        cancel = CancelToken()
        job = self._daemon.submit_turn(prompt, events.put, context, cancel)
        return self._turn_events(job, events, cancel)

    def _turn_events(self, job: Job, events: queue.Queue[TurnEvent],
                     cancel: CancelToken) -> Iterator[dict[str, Any]]:
        notices: list[str] = []
        deadline = time.monotonic() + TURN_SECONDS
        finished = False
        try:
            while True:
                try:
                    event = events.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    # Every event is queued before the job is done: none can follow.
                    if job.done and events.empty():
                        job.wait(0)  # raises what ended the turn without a result
                        raise BackendUnavailable("The turn ended without a reply; see the "
                                                 "log for why and try again.") from None
                    if time.monotonic() > deadline:
                        cancel.cancel()
                    if time.monotonic() > deadline + GRACE_SECONDS:
                        raise BackendUnavailable(
                            f"No reply within {TURN_SECONDS + GRACE_SECONDS:.0f} s; "
                            "Nexus Desktop is busy. Try again in a moment.") from None
                    continue
                if isinstance(event, Piece):
                    yield {"piece": event.text}
                elif isinstance(event, Notice):
                    notices.append(event.shown_in(FACTS_PLACE))
                    yield {"notice": notices[-1]}
                elif isinstance(event, TurnResult):
                    finished = True
                    yield {"result": turn_payload(event, notices)}
                    return
        finally:
            if not finished:
                cancel.cancel()  # the client went away, or the reply took too long

    def _on_store_thread(self, work: Any) -> Any:
        try:
            future = self._store.submit(work)
        except RuntimeError:  # submitted after close
            raise BackendUnavailable("Nexus Desktop is shutting down; try again when it is "
                                     "running.") from None
        try:
            return future.result(timeout=GRACE_SECONDS)
        except TimeoutError:
            raise BackendUnavailable("Nexus Desktop did not answer in time; try again in a "
                                     "moment.") from None
