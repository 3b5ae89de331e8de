"""Helpers for the chat window's tests: a conversation written before the app starts, a
host started under a shown window, typing into the window, and work on the host's store
thread (skills kept there, as the app keeps them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt

from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import Message, MessageStore
from nexus_desktop.store.skills import Skill
from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.engine_host import EngineHost

TURN_TIMEOUT_MS = 60_000
STARTED_MS = 60_000


def numbered_exchanges(count: int) -> list[tuple[str, str]]:
    return [(f"old question number {n}", f"old answer number {n}") for n in range(count)]


def write_history(paths: AppPaths, exchanges: Sequence[tuple[str, str]]) -> list[int]:
    """Question/answer pairs written straight to the database before the app starts;
    their message ids, oldest first."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        session = PersistentSession(database)
        ids = []
        for question_text, answer_text in exchanges:
            question = session.add_user_message(question_text)
            answer = session.record_reply(question, answer_text, "model")
            ids += [question.id, answer.id]
        return ids
    finally:
        database.close()


def stored_message(paths: AppPaths, message_id: int) -> Message | None:
    """A message as the database holds it, read over a connection of its own."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        return MessageStore(database).get(message_id)
    finally:
        database.close()


def open_window(qtbot, host: EngineHost) -> ChatWindow:
    """The chat window on ``host``, registered with qtbot and shown."""
    window = ChatWindow(host)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def start(qtbot, host: EngineHost, window: ChatWindow) -> None:
    """Start the host and wait for the model and the window's first page."""
    with qtbot.waitSignal(host.model_ready, timeout=STARTED_MS):
        host.start()
    qtbot.waitUntil(lambda: window.history_loaded, timeout=10_000)


def send(qtbot, window: ChatWindow, text: str) -> None:
    """Type ``text`` into the message box and press Enter."""
    qtbot.keyClicks(window.input, text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)


def on_store(qtbot, host: EngineHost, work: Callable[[], Any]) -> Any:
    """Run ``work`` on the host's store thread, where the app does its database work, and
    return its result (or raise its error)."""
    answers: list[Any] = []
    host.query(work, answers.append, answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=30_000)
    if isinstance(answers[0], Exception):
        raise answers[0]
    return answers[0]


def kept_skill(qtbot, host: EngineHost, request_id: int, reply_id: int) -> Skill:
    """The exchange ``request_id`` -> ``reply_id`` kept as a skill, as a thumbs up on the
    reply keeps it."""
    def keep() -> Skill | None:
        engine = host.engine
        messages = engine.session.messages
        return engine.skills.record(messages.get(request_id), messages.get(reply_id),
                                    "rated good")
    skill = on_store(qtbot, host, keep)
    assert skill is not None, "the exchange was not kept as a skill"
    return skill
