""""What I remember": the facts Nexus Desktop keeps about its user, to correct, pin or
forget.

Every read and change runs on the store thread (``host.query``); the list is read again
after each change and whenever a turn says something was remembered. Forgetting cannot be
undone (the fact store has no way back from it), so it asks first, in the fact's own row.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.store.facts import Fact
from nexus_desktop.ui.chat_pages import require_engine
from nexus_desktop.ui.chat_tasks import ask
from nexus_desktop.ui.engine_host import EngineHost

EMPTY_TEXT = ("Nothing remembered yet. Tell Nexus Desktop something about yourself, like "
              '"My favorite color is teal."')
FORGET_QUESTION = ("Forget this? Nexus Desktop stops using it in chats, recall and learning. "
                   "This cannot be undone.")
PIN_MARK = "\N{PUSHPIN} "


class FactRow(QFrame):
    """One fact: its sentence and the buttons to change it. Editing and the question
    before forgetting happen in the row itself."""

    edit_requested = Signal(int, str)  # fact id, new value
    pin_requested = Signal(int, bool)
    forget_requested = Signal(int)

    def __init__(self, fact: Fact, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fact-row")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.fact = fact
        self.text_label = QLabel(self)
        self.text_label.setObjectName("fact-text")
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.edit_button = self._button("fact-edit", "Edit", self._start_editing)
        self.pin_button = self._button("fact-pin", "Pin", self._toggle_pin)
        self.forget_button = self._button("fact-forget", "Forget", self._ask_to_forget)
        self.value_field = QLineEdit(self)
        self.value_field.setObjectName("fact-value")
        self.value_field.returnPressed.connect(self._save)
        self.save_button = self._button("fact-save", "Save", self._save)
        self.cancel_button = self._button("fact-cancel", "Cancel", self._show_normal)
        self.question = QLabel(FORGET_QUESTION, self)
        self.question.setObjectName("fact-forget-question")
        self.question.setWordWrap(True)
        self.confirm_button = self._button("fact-forget-confirm", "Forget",
                                           lambda: self.forget_requested.emit(self.fact.id))
        self.keep_button = self._button("fact-keep", "Keep", self._show_normal)

        self._normal = self._group(self.text_label, self.edit_button, self.pin_button,
                                   self.forget_button)
        self._editing = self._group(self.value_field, self.save_button, self.cancel_button)
        self._confirming = self._group(self.question, self.confirm_button, self.keep_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        for group in (self._normal, self._editing, self._confirming):
            layout.addWidget(group)
        self.set_fact(fact)
        self._show_normal()

    def _button(self, name: str, text: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def _group(self, first: QWidget, *buttons: QWidget) -> QWidget:
        group = QWidget(self)
        layout = QHBoxLayout(group)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(first, stretch=1)
        for button in buttons:
            layout.addWidget(button)
        return group

    @property
    def mode(self) -> str:
        """normal, editing or confirming (the question before forgetting)."""
        if self._editing.isVisibleTo(self):
            return "editing"
        return "confirming" if self._confirming.isVisibleTo(self) else "normal"

    def set_fact(self, fact: Fact) -> None:
        """Show the fact as stored now; an edit or question in progress stays open."""
        self.fact = fact
        self.text_label.setText((PIN_MARK if fact.pinned else "") + fact.text)
        self.text_label.setToolTip("Pinned: used in every chat" if fact.pinned else "")
        self.pin_button.setText("Unpin" if fact.pinned else "Pin")

    def _switch(self, shown: QWidget) -> None:
        for group in (self._normal, self._editing, self._confirming):
            group.setVisible(group is shown)

    @Slot()
    def _show_normal(self) -> None:
        self._switch(self._normal)

    @Slot()
    def _start_editing(self) -> None:
        self.value_field.setText(self.fact.value)
        self._switch(self._editing)
        self.value_field.setFocus()
        self.value_field.selectAll()

    @Slot()
    def _save(self) -> None:
        self._show_normal()
        self.edit_requested.emit(self.fact.id, self.value_field.text())

    @Slot()
    def _toggle_pin(self) -> None:
        self.pin_requested.emit(self.fact.id, not self.fact.pinned)

    @Slot()
    def _ask_to_forget(self) -> None:
        self._switch(self._confirming)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc leaves an edit or the question; outside them it goes on to the window.
        if event.key() == Qt.Key.Key_Escape and self.mode != "normal":
            self._show_normal()
            return
        super().keyPressEvent(event)


class FactsPanel(QWidget):
    """The list of active facts, pinned first, kept current through ``refresh``."""

    changed = Signal()  # a fact was edited, pinned or forgotten (after it is stored)

    def __init__(self, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("facts-panel")
        self._host = host
        self._rows: dict[int, FactRow] = {}
        self.loaded = False
        title = QLabel("What I remember", self)
        title.setStyleSheet("font-weight: bold;")
        hint = QLabel("Pinned facts are used in every chat; the others when they matter.",
                      self)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")
        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("facts-empty")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        self.error_label = QLabel(self)
        self.error_label.setObjectName("facts-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d0021b;")
        self.error_label.hide()
        self._list = QWidget(self)
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        layout = QVBoxLayout(self)
        for widget in (title, hint, self.error_label, self.empty_label):
            layout.addWidget(widget)
        layout.addWidget(scroll, stretch=1)
        host.opened.connect(self._on_opened)
        host.reply_notice.connect(self._on_notice)

    def rows(self) -> list[FactRow]:
        """The rows in the order shown."""
        return [row for row in (self._list_layout.itemAt(i).widget()
                                for i in range(self._list_layout.count()))
                if isinstance(row, FactRow)]

    def row_for(self, fact_id: int) -> FactRow | None:
        return self._rows.get(fact_id)

    # ----------------------------------------------------------------- reading

    @Slot()
    def refresh(self) -> None:
        host = self._host
        ask(host, self, lambda: require_engine(host.engine).facts.active(), self._show,
            self._show_error)

    @Slot(object)
    def _on_opened(self, _started: object) -> None:
        self.refresh()

    @Slot(int, str)
    def _on_notice(self, _turn: int, _text: str) -> None:
        # A notice during a turn is most often "I'll remember: ..."; reading a few rows
        # again is cheaper than telling the notices apart.
        self.refresh()

    def _show(self, facts: list[Fact]) -> None:
        self.loaded = True
        wanted = {fact.id for fact in facts}
        for fact_id in [i for i in self._rows if i not in wanted]:
            self._rows.pop(fact_id).deleteLater()
        for index, fact in enumerate(facts):
            row = self._rows.get(fact.id)
            if row is None:
                row = FactRow(fact, self._list)
                row.edit_requested.connect(self._edit)
                row.pin_requested.connect(self._pin)
                row.forget_requested.connect(self._forget)
                self._rows[fact.id] = row
            else:
                row.set_fact(fact)
                self._list_layout.removeWidget(row)
            self._list_layout.insertWidget(index, row)
        self.empty_label.setVisible(not facts)

    def _show_error(self, exc: Exception) -> None:
        self.error_label.setText(str(exc))
        self.error_label.show()

    # ----------------------------------------------------------------- changes

    @Slot(int, str)
    def _edit(self, fact_id: int, value: str) -> None:
        host = self._host
        self._change(lambda: require_engine(host.engine).facts.edit(fact_id, value))

    @Slot(int, bool)
    def _pin(self, fact_id: int, pinned: bool) -> None:
        host = self._host
        self._change(lambda: require_engine(host.engine).facts.pin(fact_id, pinned))

    @Slot(int)
    def _forget(self, fact_id: int) -> None:
        host = self._host
        self._change(lambda: require_engine(host.engine).facts.forget(fact_id))

    def _change(self, work: Callable[[], object]) -> None:
        self.error_label.hide()

        def done(_result: object) -> None:
            self.refresh()
            self.changed.emit()

        def failed(exc: Exception) -> None:
            self._show_error(exc)
            self.refresh()

        ask(self._host, self, work, done, failed)
