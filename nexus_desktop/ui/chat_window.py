"""The chat window: the one lifelong conversation, with search, "What I remember" and the
skills.

There is no "new chat": the window opens on the newest page of the conversation and
reads older pages as the user scrolls up. Everything it reads or writes goes through the
engine host (the store thread for reads, the model thread for replies), so the window
never waits. A search result opens in a second view, the conversation around it, while
the live conversation (and a reply still streaming into it) stays as it was. A reply
replayed from a skill can be made again by the model (Regenerate): the fresh reply comes
at the end of the conversation, like any reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.engine import TurnResult
from nexus_desktop.governor.monitor import ResourceSample
from nexus_desktop.store.messages import Message
from nexus_desktop.ui.chat_pages import (
    Page,
    latest_page,
    page_around,
    page_before,
    require_engine,
)
from nexus_desktop.ui.chat_tasks import ask, while_alive
from nexus_desktop.ui.chat_view import ChatView, MessageBubble
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.facts_panel import FactsPanel
from nexus_desktop.ui.resource_bars import CRITICAL_COLOUR, NORMAL_COLOUR, WARNING_COLOUR
from nexus_desktop.ui.search_panel import SearchPanel
from nexus_desktop.ui.skill_marks import turn_skill_mark
from nexus_desktop.ui.skills_panel import SkillsPanel

# The header's colour for each memory level of the status (seed 002's header).
LEVEL_COLOURS = {"normal": NORMAL_COLOUR.name(), "warning": WARNING_COLOUR.name(),
                 "critical": CRITICAL_COLOUR.name()}
STARTING_TEXT = "Starting Nexus Desktop..."
NO_SAMPLE_TEXT = "MEM: - | SYS: -"
RESOURCE_TIP = "MEM: memory Nexus Desktop uses. SYS: RAM in use on the whole computer."


def resource_text(sample: ResourceSample) -> str:
    """Seed 002's header: this process's resident memory and the system's RAM in use."""
    return f"MEM: {sample.rss_mb:.0f} MB | SYS: {sample.system_ram_percent:.0f}%"


class ChatInput(QPlainTextEdit):
    """The message box: Enter sends, Shift+Enter starts a new line, Esc goes to the
    window (which hides)."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            event.ignore()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        super().keyPressEvent(event)


@dataclass
class _Turn:
    """A turn in progress: its message as typed (none for a regenerated reply), and its
    bubbles."""

    id: int
    text: str
    user: MessageBubble | None
    reply: MessageBubble | None = None

ERROR_BANNER = "background: #d0021b; color: white; padding: 6px;"
NOTE_BANNER = "background: #fff4ce; color: #3b2f00; padding: 6px;"


class ChatWindow(QWidget):
    """The conversation, its input, search and facts, bound to one engine host."""

    hidden_to_tray = Signal()
    closed = Signal()  # closed for good: only when ``hide_on_close`` is off (no tray)

    def __init__(self, host: EngineHost, parent: QWidget | None = None,
                 hide_on_close: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("chat-window")
        self.setWindowTitle("Nexus Desktop")
        self.hide_on_close = hide_on_close
        self._host = host
        self._turns: dict[int, _Turn] = {}
        self._can_send = True
        self.history_loaded = False
        self.memory_level: str | None = None
        self._build()
        self._connect()
        if host.is_open:
            # Opened before this window was made: the panels' own signal came and went.
            self._on_opened(None)
            self.facts_panel.refresh()
            self.skills_panel.refresh()
            engine = host.engine
            if engine is not None and engine.loaded_model is not None:
                self._on_model_ready(engine.loaded_model.info.name)
        self._update_buttons()

    # ----------------------------------------------------------------- layout

    def _build(self) -> None:
        self.status_label = QLabel(STARTING_TEXT, self)
        self.status_label.setObjectName("chat-status")
        self.resource_label = QLabel(NO_SAMPLE_TEXT, self)
        self.resource_label.setObjectName("chat-resources")
        self.resource_label.setToolTip(RESOURCE_TIP)
        header = QHBoxLayout()
        header.addWidget(self.status_label, stretch=1)
        header.addWidget(self.resource_label)
        self.banner = QLabel(self)
        self.banner.setObjectName("chat-banner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(ERROR_BANNER)
        self.banner.hide()

        self.view = ChatView(self)
        self.view.setObjectName("chat-view")
        self.context_view = ChatView(self)
        self.context_view.setObjectName("chat-context-view")
        context_page = QWidget(self)
        self.back_button = QPushButton("Back to the conversation", context_page)
        self.back_button.setObjectName("chat-back")
        self.back_button.clicked.connect(self.show_conversation)
        context_bar = QHBoxLayout()
        context_bar.addWidget(QLabel("An earlier part of the conversation, around the "
                                     "message you chose.", context_page), stretch=1)
        context_bar.addWidget(self.back_button)
        context_layout = QVBoxLayout(context_page)
        context_layout.setContentsMargins(0, 0, 0, 0)
        context_layout.addLayout(context_bar)
        context_layout.addWidget(self.context_view)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(context_page)

        self.error_label = QLabel(self)
        self.error_label.setObjectName("chat-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d0021b;")
        self.error_label.hide()
        self.input = ChatInput(self)
        self.input.setObjectName("chat-input")
        self.input.setPlaceholderText("Message Nexus Desktop (Enter sends, Shift+Enter "
                                      "for a new line)")
        self.input.setMaximumHeight(120)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("chat-send")
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("chat-stop")
        self.stop_button.setToolTip("Stop the reply; what it wrote so far is kept")
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, stretch=1)
        input_row.addLayout(buttons)

        chat = QWidget(self)
        chat_layout = QVBoxLayout(chat)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addWidget(self.stack, stretch=1)
        chat_layout.addWidget(self.error_label)
        chat_layout.addLayout(input_row)

        self.search_panel = SearchPanel(self._host, self)
        self.facts_panel = FactsPanel(self._host, self)
        self.skills_panel = SkillsPanel(self._host, self)
        self.side = QTabWidget(self)
        self.side.setObjectName("chat-side")
        self.side.addTab(self.search_panel, "Search")
        self.side.addTab(self.facts_panel, "What I remember")
        self.side.addTab(self.skills_panel, "Skills")
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(chat)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        # Room for the three side tabs and their rows' buttons; the user can move it.
        splitter.setSizes([620, 380])

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, stretch=1)
        self.resize(1000, 700)

    def _connect(self) -> None:
        host = self._host
        host.opened.connect(self._on_opened)
        host.open_failed.connect(self._on_open_failed)
        host.load_progress.connect(self._on_load_progress)
        host.model_ready.connect(self._on_model_ready)
        host.model_failed.connect(self._on_model_failed)
        host.message_committed.connect(self._on_committed)
        host.message_refused.connect(self._on_refused)
        host.reply_piece.connect(self._on_piece)
        host.reply_notice.connect(self._on_notice)
        host.reply_finished.connect(self._on_finished)
        host.status_changed.connect(self._on_status)
        # From the monitor's thread: a bound slot of this window, so it runs queued here.
        host.sample_taken.connect(self._on_sample)
        self.input.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.input.textChanged.connect(self.error_label.hide)
        for view in (self.view, self.context_view):
            view.older_requested.connect(self._on_older_requested)
            view.rating_requested.connect(self._on_rating_requested)
            view.regenerate_requested.connect(self.regenerate)
        self.search_panel.message_activated.connect(self.show_in_context)

    # ----------------------------------------------------------------- sending

    @property
    def reply_running(self) -> bool:
        return bool(self._turns)

    @Slot()
    def send(self) -> None:
        """Send what is in the box. It shows at once; a refused message comes back."""
        if self.reply_running or not self._can_send:
            return
        text = self.input.toPlainText()
        self.error_label.hide()
        self.show_conversation()
        turn_id = self._host.send(text)
        bubble = None
        if text.strip():
            bubble = self.view.add_user_message(text)
            self.view.scroll_to_bottom()
            self.input.clear()
        self._turns[turn_id] = _Turn(turn_id, text, bubble)
        self._update_buttons()

    @Slot(int)
    def regenerate(self, reply_id: int) -> None:
        """A fresh model reply to what reply ``reply_id`` answered, streamed at the end of
        the conversation; the old reply stays where it is."""
        if self.reply_running or not self._can_send:
            return
        self.error_label.hide()
        self.show_conversation()
        self.view.scroll_to_bottom()
        turn_id = self._host.regenerate(reply_id)
        self._turns[turn_id] = _Turn(turn_id, "", None)
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        for turn_id in self._turns:
            self._host.stop_reply(turn_id)

    @Slot(int, object)
    def _on_committed(self, turn_id: int, message: Message) -> None:
        turn = self._turns.get(turn_id)
        if turn is None:
            # Sent from elsewhere in the app: shown all the same.
            turn = self._turns[turn_id] = _Turn(turn_id, message.content, None)
            self._update_buttons()
        if turn.user is None:
            turn.user = self.view.add_user_message(message.content)
        turn.user.set_message(message)

    @Slot(int, str)
    def _on_refused(self, turn_id: int, why: str) -> None:
        turn = self._turns.pop(turn_id, None)
        if turn is not None:
            if turn.user is not None:
                self.view.remove(turn.user)
            if not self.input.toPlainText():
                self.input.setPlainText(turn.text)
        self._show_error(why)
        self._update_buttons()

    @Slot(int, str)
    def _on_piece(self, turn_id: int, piece: str) -> None:
        turn = self._turns.get(turn_id)
        if turn is None:
            return
        if turn.reply is None:
            turn.reply = self.view.start_reply()
        self.view.append_piece(turn.reply, piece)

    @Slot(int, str)
    def _on_notice(self, _turn_id: int, text: str) -> None:
        self.view.add_notice(text)

    @Slot(int, object)
    def _on_finished(self, turn_id: int, result: TurnResult) -> None:
        turn = self._turns.pop(turn_id, None)
        self._update_buttons()
        if turn is None:
            return
        reply = turn.reply if turn.reply is not None else self.view.start_reply()
        self.view.flush()
        if reply.text() != result.reply:
            reply.set_text(result.reply)
        reply.set_outcome(result.status, result.error)
        # A replay says so, and offers Regenerate, before its stored message is read.
        reply.set_skill_mark(turn_skill_mark(result))
        if result.reply_id:
            # The stored reply (its time, what it answers) makes it ratable.
            host = self._host
            reply_id = result.reply_id
            ask(host, reply,
                lambda: require_engine(host.engine).session.messages.get(reply_id),
                lambda stored: reply.set_message(stored) if stored is not None else None,
                self._show_exception)

    def _update_buttons(self) -> None:
        can_start = self._can_send and not self.reply_running
        self.send_button.setEnabled(can_start)
        self.stop_button.setEnabled(self.reply_running)
        for view in (self.view, self.context_view):
            view.set_regenerate_enabled(can_start)

    # ----------------------------------------------------------------- history

    @Slot(object)
    def _on_opened(self, _started: object) -> None:
        self.status_label.setText("Loading the model... (history, search and facts work "
                                  "already)")
        host = self._host
        ask(host, self, lambda: latest_page(require_engine(host.engine)), self._show_latest,
            self._show_exception)

    def _show_latest(self, page: Page) -> None:
        self.view.show_page(page)
        self.history_loaded = True

    @Slot(int)
    def _on_older_requested(self, first_id: int) -> None:
        view = self.sender()
        if not isinstance(view, ChatView):
            return
        host = self._host

        def failed(exc: Exception) -> None:
            view.older_failed()
            self._show_exception(exc)

        ask(host, view, lambda: page_before(require_engine(host.engine), first_id),
            view.prepend_page, failed)

    @Slot(int)
    def show_in_context(self, message_id: int) -> None:
        """Show the conversation around one message (a search result), marked."""
        host = self._host

        def shown(page: Page) -> None:
            self.context_view.show_page(page, highlight=message_id)
            self.stack.setCurrentIndex(1)

        ask(host, self, lambda: page_around(require_engine(host.engine), message_id),
            shown, self._show_exception)

    @Slot()
    def show_conversation(self) -> None:
        self.stack.setCurrentIndex(0)

    @property
    def showing_context(self) -> bool:
        return self.stack.currentIndex() == 1

    # ----------------------------------------------------------------- ratings

    @Slot(int, object)
    def _on_rating_requested(self, reply_id: int, good: bool | None) -> None:
        for view in (self.view, self.context_view):
            bubble = view.bubble_for(reply_id)
            if bubble is not None and self.sender() is not view:
                bubble.set_rating(None if good is None else 1 if good else -1)
        self._host.rate_reply(reply_id, good, while_alive(
            self, lambda exc: self._rating_failed(reply_id, exc)))

    def _rating_failed(self, reply_id: int, exc: Exception) -> None:
        """Show the rating that is really stored, and why the change failed."""
        self._show_exception(exc)
        host = self._host

        def stored(ratings: dict[int, int]) -> None:
            for view in (self.view, self.context_view):
                bubble = view.bubble_for(reply_id)
                if bubble is not None:
                    bubble.set_rating(ratings.get(reply_id))

        ask(host, self, lambda: require_engine(host.engine).ratings.of([reply_id]), stored)

    # ----------------------------------------------------------------- state

    @Slot(str)
    def _on_open_failed(self, why: str) -> None:
        self.status_label.setText("Nexus Desktop could not start.")
        self._show_banner(f"Nexus Desktop could not open its data: {why}")
        self._can_send = False
        self._update_buttons()

    @Slot(str)
    def _on_load_progress(self, text: str) -> None:
        if not self._host.is_open:
            self.status_label.setText(text)

    @Slot(str)
    def _on_model_ready(self, name: str) -> None:
        self.status_label.setText(f"Ready · {name}")

    @Slot(str)
    def _on_model_failed(self, why: str) -> None:
        self.status_label.setText("No model: replies are unavailable.")
        self._show_banner(f"The language model could not be loaded: {why} Your history, "
                          "search and what I remember still work.")

    @Slot(object)
    def _on_sample(self, sample: ResourceSample) -> None:
        self.resource_label.setText(resource_text(sample))

    @Slot(dict)
    def _on_status(self, status: dict[str, Any]) -> None:
        memory = status.get("memory") or {}
        level = memory.get("level") if isinstance(memory, dict) else None
        if level == self.memory_level:
            return
        self.memory_level = level
        colour = LEVEL_COLOURS.get(level or "")
        self.resource_label.setStyleSheet(f"color: {colour}; font-weight: bold;"
                                          if colour else "")
        self.resource_label.setToolTip(f"Memory level: {level}. {RESOURCE_TIP}" if level
                                       else RESOURCE_TIP)

    def _show_banner(self, text: str) -> None:
        self.banner.setStyleSheet(ERROR_BANNER)
        self.banner.setText(text)
        self.banner.show()

    def show_note(self, text: str) -> None:
        """A lasting line above the conversation that is not an error (for example, why
        there is no tray icon)."""
        self.banner.setStyleSheet(NOTE_BANNER)
        self.banner.setText(text)
        self.banner.show()

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def _show_exception(self, exc: Exception) -> None:
        self._show_error(str(exc))

    # ----------------------------------------------------------------- window

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self._hide_to_tray()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.hide_on_close:
            # Closing the window is not quitting: the conversation goes on in the tray.
            event.ignore()
            self._hide_to_tray()
            return
        super().closeEvent(event)
        self.closed.emit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Opened from the tray, the user types at once.
        self.input.setFocus()

    def _hide_to_tray(self) -> None:
        self.hide()
        self.hidden_to_tray.emit()
