"""The conversation as a scrolling list of message bubbles.

Only the pages the user has scrolled through are built: the view asks for the page before
its oldest message (``older_requested``) when the user reaches the top, and keeps what
they were looking at in place while that page is inserted above it. A streaming reply
grows in its own bubble; pieces are gathered and drawn at most every ``RENDER_MS``, and
only that bubble is drawn again.

A reply the skill library replayed says so ("From memory") and offers Regenerate: a fresh
reply from the model, which comes at the end of the conversation like any reply.
"""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QHideEvent, QShowEvent, QTextDocument, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.store.messages import Message
from nexus_desktop.store.ratings import BAD, GOOD
from nexus_desktop.ui.chat_pages import Page
from nexus_desktop.ui.skill_marks import REGENERATE_TIP, SkillMark, stored_skill_mark

# A streaming reply is drawn again at most this often (25 times a second).
RENDER_MS = 40
# Within this many pixels of the bottom the view follows new messages.
FOLLOW_SLACK_PX = 8
NAMES = {"user": "You", "assistant": "Nexus Desktop", "system": "System"}
OUTCOMES = {
    "cancelled": "Stopped before the end.",
    "interrupted": "Cut off when Nexus Desktop stopped while writing it.",
    "failed": "This reply failed.",
}
_MARKDOWN = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
             | QTextDocument.MarkdownFeature.MarkdownNoHTML)
_PLAIN = Qt.TextFormat.PlainText
_RICH = Qt.TextFormat.RichText
_NO_BAR = Qt.ScrollBarPolicy.ScrollBarAlwaysOff
_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse
STYLE = """
QFrame#chat-message-user { background: rgba(64, 128, 255, 0.16); border-radius: 8px; }
QFrame#chat-message-assistant, QFrame#chat-message-system {
    background: rgba(128, 128, 128, 0.14); border-radius: 8px; }
QFrame[highlighted="true"] { border: 2px solid #f5a623; }
QLabel#chat-meta, QLabel#chat-notice { color: gray; font-size: 11px; }
QLabel#chat-outcome { color: gray; font-style: italic; }
QLabel#chat-outcome[failed="true"] { color: #d0021b; font-style: normal; }
QLabel#chat-skill { color: #2b7a78; font-size: 11px; }
"""


def markdown_html(text: str) -> str:
    """A reply's Markdown as the HTML a label shows; HTML inside the reply stays text, and
    code blocks come out in a monospace font."""
    document = QTextDocument()
    document.setMarkdown(text, _MARKDOWN)
    return document.toHtml()


def when(timestamp: float, now: float | None = None) -> str:
    """The time of a message, with its date unless it is from today."""
    moment = datetime.fromtimestamp(timestamp)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d %H:%M")


class MessageBubble(QFrame):
    """One message. A reply shows its Markdown rendered and can be rated; the user's own
    text is shown exactly as typed."""

    rating_requested = Signal(int, object)  # reply id, True (good), False (bad) or None
    regenerate_requested = Signal(int)  # reply id

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"chat-message-{role}")
        self.role = role
        self.message: Message | None = None
        self.rating: int | None = None
        self.skill_mark: SkillMark | None = None
        self._can_regenerate = True
        self._text = ""
        self._dirty = False
        self.meta = QLabel(NAMES.get(role, role), self)
        self.meta.setObjectName("chat-meta")
        self.body = QLabel(self)
        self.body.setObjectName("chat-body")
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(self.body.textInteractionFlags()
                                          | _SELECTABLE)
        self.body.setOpenExternalLinks(True)
        self.body.setTextFormat(_PLAIN if role == "user" else _RICH)
        self.outcome = QLabel(self)
        self.outcome.setObjectName("chat-outcome")
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.meta)
        layout.addWidget(self.body)
        layout.addWidget(self.outcome)
        self.good_button = self.bad_button = self.regenerate_button = None
        self.skill_label: QLabel | None = None
        if role == "assistant":
            # Words, not thumb emoji: many Linux desktops have no emoji font.
            self.good_button = self._rating_button("chat-rate-good", "Good",
                                                   "A good reply: learn from it first")
            self.bad_button = self._rating_button("chat-rate-bad", "Bad",
                                                  "A bad reply: never learn from it")
            self.good_button.clicked.connect(lambda: self._rate(GOOD))
            self.bad_button.clicked.connect(lambda: self._rate(BAD))
            self.skill_label = QLabel(self)
            self.skill_label.setObjectName("chat-skill")
            self.skill_label.setTextFormat(_PLAIN)
            self.skill_label.hide()
            self.regenerate_button = QToolButton(self)
            self.regenerate_button.setObjectName("chat-regenerate")
            self.regenerate_button.setText("Regenerate")
            self.regenerate_button.setToolTip(REGENERATE_TIP)
            self.regenerate_button.setAutoRaise(True)
            self.regenerate_button.hide()
            self.regenerate_button.clicked.connect(self._regenerate)
            buttons = QHBoxLayout()
            buttons.addWidget(self.skill_label)
            buttons.addStretch(1)
            buttons.addWidget(self.regenerate_button)
            buttons.addWidget(self.good_button)
            buttons.addWidget(self.bad_button)
            layout.addLayout(buttons)
            self._update_rating_buttons()

    def _rating_button(self, name: str, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setAutoRaise(True)
        return button

    # ----------------------------------------------------------------- content

    def text(self) -> str:
        """The message's text as received so far (drawn or not)."""
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._dirty = True
        self.render()

    def append(self, piece: str) -> None:
        """Add a piece of a streaming reply; drawn by the next ``render``."""
        self._text += piece
        self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def render(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if self.role == "user":
            self.body.setText(self._text)
        else:
            self.body.setText(markdown_html(self._text) if self._text else "")
        self.body.setVisible(bool(self._text) or self.role == "user")

    def set_message(self, message: Message, text: str | None = None,
                    rating: int | None = None) -> None:
        """Bind the bubble to its stored message (and draw it, when ``text`` is given)."""
        self.message = message
        self.meta.setText(f"{NAMES.get(self.role, self.role)} · {when(message.created_at)}")
        self.meta.setToolTip(datetime.fromtimestamp(message.created_at)
                             .strftime("%Y-%m-%d %H:%M:%S"))
        if text is not None:
            self.set_text(text)
        self.set_outcome(message.status, message.error)
        self.set_rating(rating)

    def set_outcome(self, status: str, error: str | None = None) -> None:
        """A reply that did not complete says so (a failure with its error)."""
        note = OUTCOMES.get(status)
        if status == "failed" and error:
            note = f"This reply failed: {error}"
        self.outcome.setProperty("failed", status == "failed")
        self.outcome.setText(note or "")
        self.outcome.setVisible(note is not None)
        # The dynamic property changes the colour only once the style is applied again.
        self.outcome.style().unpolish(self.outcome)
        self.outcome.style().polish(self.outcome)
        self._update_rating_buttons()

    def mark_sending(self) -> None:
        """A user message not yet saved says so, until ``set_message`` gives its time."""
        self.meta.setText(f"{NAMES['user']} · sending...")

    def set_highlighted(self, highlighted: bool) -> None:
        self.setProperty("highlighted", highlighted)
        self.style().unpolish(self)
        self.style().polish(self)

    # ----------------------------------------------------------------- skills

    def set_skill_mark(self, mark: SkillMark | None) -> None:
        """Say where the reply came from in the skill library; a replay can be made
        again by the model."""
        if self.skill_label is None or self.regenerate_button is None:
            return
        self.skill_mark = mark
        self.skill_label.setText(mark.text if mark is not None else "")
        self.skill_label.setToolTip(mark.tip if mark is not None else "")
        self.skill_label.setVisible(mark is not None)
        self.regenerate_button.setVisible(mark is not None and mark.kind == "replay")
        self._update_regenerate_button()

    def set_regenerate_enabled(self, enabled: bool) -> None:
        """Off while a reply runs: one reply at a time, like Send."""
        self._can_regenerate = enabled
        self._update_regenerate_button()

    def _update_regenerate_button(self) -> None:
        if self.regenerate_button is not None:
            self.regenerate_button.setEnabled(self._can_regenerate
                                              and self.skill_mark is not None)

    def _regenerate(self) -> None:
        if self.skill_mark is not None and self._can_regenerate:
            self.regenerate_requested.emit(self.skill_mark.reply_id)

    # ----------------------------------------------------------------- rating

    @property
    def rateable(self) -> bool:
        """Only a reply to a stored user message can be rated."""
        return (self.message is not None and self.message.role == "assistant"
                and self.message.reply_to is not None and self.message.status != "streaming")

    def set_rating(self, rating: int | None) -> None:
        self.rating = rating
        self._update_rating_buttons()

    def _rate(self, value: int) -> None:
        if not self.rateable or self.message is None:
            self._update_rating_buttons()
            return
        new = None if self.rating == value else value
        self.set_rating(new)
        self.rating_requested.emit(self.message.id, None if new is None else new == GOOD)

    def _update_rating_buttons(self) -> None:
        if self.good_button is None or self.bad_button is None:
            return
        for button, value in ((self.good_button, GOOD), (self.bad_button, BAD)):
            button.setChecked(self.rating == value)
            button.setEnabled(self.rateable)


class ChatView(QScrollArea):
    """A page of the conversation, growing upwards on demand and downwards as turns come."""

    older_requested = Signal(int)  # the id of the oldest message shown
    rating_requested = Signal(int, object)
    regenerate_requested = Signal(int)  # the id of a replayed reply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(_NO_BAR)
        self._content = QWidget(self)
        self._content.setObjectName("chat-content")
        self._content.setStyleSheet(STYLE)
        self._layout = QVBoxLayout(self._content)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(8)
        # New messages sit at the bottom while there are too few to fill the view.
        self._layout.addStretch(1)
        self.setWidget(self._content)
        self._items: list[QWidget] = []
        self._regenerate_enabled = True
        self.has_older = False
        self.loading_older = False
        self._follow = True
        self._from_bottom: int | None = None
        self._scroll_target: QWidget | None = None
        self._adjusting = False
        self._render_timer = QTimer(self)
        self._render_timer.setObjectName("chat-render-timer")
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self.flush)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

    # ----------------------------------------------------------------- reading

    def bubbles(self) -> list[MessageBubble]:
        return [item for item in self._items if isinstance(item, MessageBubble)]

    def message_ids(self) -> list[int]:
        return [b.message.id for b in self.bubbles() if b.message is not None]

    def first_id(self) -> int | None:
        ids = self.message_ids()
        return ids[0] if ids else None

    def bubble_for(self, message_id: int) -> MessageBubble | None:
        return next((b for b in self.bubbles()
                     if b.message is not None and b.message.id == message_id), None)

    # ----------------------------------------------------------------- pages

    def show_page(self, page: Page, highlight: int | None = None) -> None:
        """Replace everything shown by ``page``; scroll to ``highlight`` or the bottom."""
        for item in self._items:
            item.deleteLater()
        self._items = []
        self.loading_older = False
        self.has_older = page.has_older
        for message in page.messages:
            self._insert(len(self._items), self._bubble(message, page))
        target = self.bubble_for(highlight) if highlight is not None else None
        if target is not None:
            target.set_highlighted(True)
        self._scroll_target = target
        self._from_bottom = None
        self._follow = target is None
        self._settle()

    def prepend_page(self, page: Page) -> None:
        """Insert an older page above, keeping the messages in view where they are."""
        self.loading_older = False
        self.has_older = page.has_older
        shown = set(self.message_ids())
        older = [m for m in page.messages if m.id not in shown]
        if not older:
            return
        bar = self.verticalScrollBar()
        self._from_bottom = bar.maximum() - bar.value()
        self._follow = False
        for index, message in enumerate(older):
            self._insert(index, self._bubble(message, page))

    def older_failed(self) -> None:
        """The page asked for did not come; scrolling up asks again."""
        self.loading_older = False

    def _bubble(self, message: Message, page: Page) -> MessageBubble:
        bubble = self._new_bubble(message.role)
        bubble.set_message(message, page.text_of(message), page.ratings.get(message.id))
        bubble.set_skill_mark(stored_skill_mark(message, page.skill_uses.get(message.id)))
        return bubble

    # ----------------------------------------------------------------- live turns

    def add_user_message(self, text: str) -> MessageBubble:
        """The user's message as sent, drawn at once; ``set_message`` once it is saved."""
        bubble = self._new_bubble("user")
        bubble.set_text(text)
        bubble.mark_sending()
        self._append(bubble)
        return bubble

    def start_reply(self) -> MessageBubble:
        bubble = self._new_bubble("assistant")
        bubble.render()
        self._append(bubble)
        return bubble

    def add_notice(self, text: str) -> QLabel:
        """Something said during a turn that is not part of the reply: a small grey line."""
        label = QLabel(text, self._content)
        label.setObjectName("chat-notice")
        label.setWordWrap(True)
        label.setTextFormat(_PLAIN)
        self._append(label)
        return label

    def append_piece(self, bubble: MessageBubble, piece: str) -> None:
        """Add a piece to a streaming reply; drawn with the others that come in time."""
        bubble.append(piece)
        if not self._render_timer.isActive() and self.isVisible():
            self._render_timer.start()

    @Slot()
    def flush(self) -> None:
        """Draw every reply with pieces not yet drawn."""
        self._render_timer.stop()
        for bubble in self.bubbles():
            bubble.render()

    def set_regenerate_enabled(self, enabled: bool) -> None:
        """Regenerate on every replayed reply, now and in pages still to come."""
        self._regenerate_enabled = enabled
        for bubble in self.bubbles():
            bubble.set_regenerate_enabled(enabled)

    def remove(self, item: QWidget) -> None:
        if item in self._items:
            self._items.remove(item)
            item.deleteLater()

    def scroll_to_bottom(self) -> None:
        self._follow = True
        self._from_bottom = None
        self._scroll_target = None
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _new_bubble(self, role: str) -> MessageBubble:
        bubble = MessageBubble(role, self._content)
        bubble.rating_requested.connect(self.rating_requested)
        bubble.regenerate_requested.connect(self.regenerate_requested)
        bubble.set_regenerate_enabled(self._regenerate_enabled)
        return bubble

    def _append(self, item: QWidget) -> None:
        # New content below leaves the messages in view where they are, unless the view
        # is at the bottom, where it follows.
        self._from_bottom = None
        self._insert(len(self._items), item)

    def _insert(self, index: int, item: QWidget) -> None:
        self._items.insert(index, item)
        # Layout position 0 is the stretch that keeps a short conversation at the bottom.
        self._layout.insertWidget(index + 1, item)

    # ----------------------------------------------------------------- scrolling

    def _settle(self) -> None:
        bar = self.verticalScrollBar()
        self._on_range_changed(bar.minimum(), bar.maximum())

    @Slot(int, int)
    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        bar = self.verticalScrollBar()
        self._adjusting = True
        try:
            if self._scroll_target is not None:
                bar.setValue(max(0, self._scroll_target.y() - FOLLOW_SLACK_PX * 4))
            elif self._from_bottom is not None:
                bar.setValue(maximum - self._from_bottom)
            elif self._follow:
                bar.setValue(maximum)
        finally:
            self._adjusting = False

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        if self._adjusting:
            return
        bar = self.verticalScrollBar()
        self._from_bottom = None
        self._scroll_target = None
        self._follow = value >= bar.maximum() - FOLLOW_SLACK_PX
        if value <= bar.minimum():
            self._want_older()

    def wheelEvent(self, event: QWheelEvent) -> None:
        # At the top already, or with too few messages to scroll: the wheel still asks
        # for older ones.
        if event.angleDelta().y() > 0 and self.verticalScrollBar().value() <= 0:
            self._want_older()
        super().wheelEvent(event)

    def _want_older(self) -> None:
        first = self.first_id()
        if self.has_older and not self.loading_older and first is not None:
            self.loading_older = True
            self.older_requested.emit(first)

    # ----------------------------------------------------------------- visibility

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.flush()

    def hideEvent(self, event: QHideEvent) -> None:
        # Hidden, nothing is drawn: the pieces wait for the view to be shown again.
        self._render_timer.stop()
        super().hideEvent(event)

