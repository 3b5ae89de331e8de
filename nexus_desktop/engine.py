"""The engine: the store, the persistent session and the model behind one chat turn.

No Qt here: the terminal chat drives it directly, the desktop app from a worker thread.
A turn is a generator of events, so every piece of the reply is a place to cancel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from nexus_desktop.config import Settings
from nexus_desktop.errors import NexusError, StoreError
from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.llm.generation import CancelToken, Sampling
from nexus_desktop.llm.loader import LoadReport, Status, load_chat_model
from nexus_desktop.memory.context import Budget, ContextBuilder, PromptPlan
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database, OpenReport
from nexus_desktop.store.messages import Message

log = logging.getLogger(__name__)

# How often a streaming reply's text so far is written down, so a crash loses little.
PARTIAL_SAVE_SECONDS = 1.5


@dataclass(frozen=True)
class Notice:
    """Something the user should be told during a turn (not part of the reply)."""

    text: str


@dataclass(frozen=True)
class Piece:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class TurnResult:
    user_message_id: int
    reply_id: int
    reply: str
    status: str
    source: str
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    error: str | None = None


TurnEvent = Notice | Piece | TurnResult


class Engine:
    def __init__(self, paths: AppPaths, settings: Settings, status: Status = log.info) -> None:
        self.paths = paths
        self.settings = settings
        self.status = status
        self.database = Database(
            paths.database, paths.backups_dir,
            backup_keep=settings.get("store.backup_keep"),
            backup_interval_hours=settings.get("store.backup_interval_hours"),
        )
        self._session: PersistentSession | None = None
        self._model: ChatModel | None = None
        self.load_report: LoadReport | None = None
        self.last_plan: PromptPlan | None = None

    def open(self) -> OpenReport:
        self.paths.ensure()
        report = self.database.open()
        self._session = PersistentSession(self.database)
        return report

    @property
    def session(self) -> PersistentSession:
        if self._session is None:
            raise StoreError("The engine is not open yet.")
        return self._session

    def load_model(self) -> ChatModel:
        """The chat model, loaded on first use."""
        if self._model is None:
            self._model, self.load_report = load_chat_model(self.settings, self.paths, self.status)
        return self._model

    def turn(self, text: str, cancel: CancelToken | None = None) -> Iterator[TurnEvent]:
        """One exchange: commit the user's message, then stream and commit the reply.

        Raises InputError or StoreError before anything else happens when the message
        cannot be saved; later failures end the turn with a ``failed`` result instead.
        """
        cancel = cancel or CancelToken()
        user_message = self.session.add_user_message(text)
        started = time.perf_counter()
        try:
            model = self.load_model()
            plan = self._plan(model, user_message)
        except NexusError as exc:
            reply = self.session.record_failed_reply(user_message, str(exc))
            yield TurnResult(user_message.id, reply.id, "", "failed", "model",
                             _ms(started), None, 0, str(exc))
            return
        for shortened in plan.shortened:
            if shortened.message_id == user_message.id:
                yield Notice(
                    f"Your message has {shortened.original_chars:,} characters; the model reads "
                    f"only its beginning and end ({shortened.shown_chars:,} characters). The "
                    "whole message is saved in your history."
                )
        reply = self.session.begin_reply(user_message, model.info.name)
        pieces: list[str] = []
        status, error, ttft = "complete", None, None
        last_save = time.monotonic()
        try:
            for piece in model.stream(plan.prompt_ids, self._sampling(plan), cancel):
                if ttft is None:
                    ttft = _ms(started)
                pieces.append(piece)
                yield Piece(piece)
                if time.monotonic() - last_save > PARTIAL_SAVE_SECONDS:
                    self.session.save_partial(reply, "".join(pieces))
                    last_save = time.monotonic()
            if cancel.cancelled:
                status = "cancelled"
        except (GeneratorExit, KeyboardInterrupt):
            # The consumer stopped listening or the user interrupted: a cancelled reply.
            status = "cancelled"
            raise
        except NexusError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:
            log.exception("generation failed")
            status, error = "failed", f"generation failed: {exc}"
        finally:
            self.session.finish_reply(reply, "".join(pieces), status, error)
        yield TurnResult(user_message.id, reply.id, "".join(pieces), status, "model",
                         _ms(started), ttft, len(plan.prompt_ids), error)

    def _plan(self, model: ChatModel, user_message: Message) -> PromptPlan:
        budget = Budget.for_window(model.info.context_window,
                                   self.settings.get("generation.max_new_tokens"))
        builder = ContextBuilder(
            model, self.session, self.settings.get("chat.persona"),
            self.settings.get("chat.message_tokens"), budget,
        )
        self.last_plan = builder.build(user_message)
        return self.last_plan

    def _sampling(self, plan: PromptPlan) -> Sampling:
        get = self.settings.get
        return Sampling(
            max_new_tokens=plan.budget.reply_tokens,
            temperature=get("generation.temperature"),
            top_p=get("generation.top_p"),
            repetition_penalty=get("generation.repetition_penalty"),
        )

    def close(self) -> None:
        self.database.close()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
