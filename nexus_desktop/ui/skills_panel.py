"""Skills: requests whose replies the user accepted, kept so that the same request again is
answered at once, and a similar one with it as a worked example. Rename, pin, delete (the
last deletion can be undone), and read the reply a skill gives.

Every read and change runs on the store thread (``host.query``); the list is read again
after each change, after each reply and after each rating, since either may have kept a
new skill or changed how far one is trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.store.skills import Skill, SkillStore
from nexus_desktop.ui.chat_pages import require_engine
from nexus_desktop.ui.chat_tasks import ask
from nexus_desktop.ui.engine_host import EngineHost

EMPTY_TEXT = ("No skills yet. Ask for a task (rewrite, summarise, convert, translate, draft, "
              "explain...) and accept the reply: a thumbs up, or simply carry on without "
              "correcting it.")
HINT_TEXT = ("The same request again is answered from memory at once. Pinned skills are "
             "never archived; archived ones (grey) are no longer used.")
NO_SELECTION_TEXT = "Choose a skill to see the reply it gives."
PIN_MARK = "\N{PUSHPIN} "
# How much of a skill's request its row shows; the whole of it is shown when chosen.
REQUEST_CHARS = 120
GREY = "color: gray;"
SELECTED_STYLE = "QFrame#skill-row { border: 2px solid #4080ff; border-radius: 4px; }"


def shortened(text: str, limit: int = REQUEST_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def skill_record(skill: Skill) -> str:
    """How far a skill is trusted and how its uses went, in one line."""
    times = "time" if skill.uses == 1 else "times"
    used = f"used {skill.uses} {times}" if skill.uses else "not used yet"
    parts = [f"Trust {skill.confidence:.0%}", used,
             f"{skill.successes} accepted, {skill.failures} rejected"]
    if skill.pinned:
        parts.append("pinned")
    if skill.state == "archived":
        parts.append("archived")
    return " · ".join(parts)


@dataclass(frozen=True)
class DeletedSkill:
    """The last deletion, kept so that Undo can put the skill back as it was."""

    skill: Skill
    rows: tuple[tuple, list[tuple]]


def _store(host: EngineHost) -> SkillStore:
    return require_engine(host.engine).skills.store


class SkillRow(QFrame):
    """One skill: its name, request and record, and the buttons to change it. Renaming
    happens in the row itself; a click anywhere else on it chooses it."""

    rename_requested = Signal(int, str)  # skill id, new name
    pin_requested = Signal(int, bool)
    delete_requested = Signal(int)
    chosen = Signal(int)

    def __init__(self, skill: Skill, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skill-row")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.skill = skill
        self.selected = False
        self.name_label = self._label("skill-name")
        self.request_label = self._label("skill-request")
        self.record_label = self._label("skill-record")
        self.rename_button = self._button("skill-rename", "Rename", self._start_renaming)
        self.pin_button = self._button("skill-pin", "Pin", self._toggle_pin)
        self.delete_button = self._button(
            "skill-delete", "Delete", lambda: self.delete_requested.emit(self.skill.id))
        self.name_field = QLineEdit(self)
        self.name_field.setObjectName("skill-name-field")
        self.name_field.returnPressed.connect(self._save)
        self.save_button = self._button("skill-save", "Save", self._save)
        self.cancel_button = self._button("skill-cancel", "Cancel", self._show_normal)

        texts = QWidget(self)
        texts_layout = QVBoxLayout(texts)
        texts_layout.setContentsMargins(0, 0, 0, 0)
        texts_layout.setSpacing(2)
        for label in (self.name_label, self.request_label, self.record_label):
            texts_layout.addWidget(label)
        # The side panel is narrow: the texts get its whole width, the buttons a row below.
        self._normal = QWidget(self)
        normal_layout = QVBoxLayout(self._normal)
        normal_layout.setContentsMargins(0, 0, 0, 0)
        normal_layout.addWidget(texts)
        normal_layout.addWidget(self._group(None, self.rename_button, self.pin_button,
                                            self.delete_button))
        self._renaming = self._group(self.name_field, self.save_button, self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self._normal)
        layout.addWidget(self._renaming)
        self.set_skill(skill)
        self._show_normal()

    def _label(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    def _button(self, name: str, text: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def _group(self, first: QWidget | None, *buttons: QWidget) -> QWidget:
        """``first`` taking the room left by ``buttons`` (or the buttons to the right)."""
        group = QWidget(self)
        layout = QHBoxLayout(group)
        layout.setContentsMargins(0, 0, 0, 0)
        if first is None:
            layout.addStretch(1)
        else:
            layout.addWidget(first, stretch=1)
        for button in buttons:
            layout.addWidget(button)
        return group

    @property
    def renaming(self) -> bool:
        return self._renaming.isVisibleTo(self)

    @property
    def archived(self) -> bool:
        return self.skill.state == "archived"

    def set_skill(self, skill: Skill) -> None:
        """Show the skill as stored now; a rename in progress stays open."""
        self.skill = skill
        self.name_label.setText(f"{PIN_MARK if skill.pinned else ''}{skill.id}. {skill.name}")
        self.request_label.setText(shortened(skill.intent))
        self.record_label.setText(skill_record(skill))
        self.pin_button.setText("Unpin" if skill.pinned else "Pin")
        self.pin_button.setToolTip("Let it be archived again when it stops working"
                                   if skill.pinned else
                                   "Never archive it (an archived skill is used again)")
        weight = "font-weight: bold;"
        self.name_label.setStyleSheet(weight + (GREY if self.archived else ""))
        self.request_label.setStyleSheet(GREY)
        self.record_label.setStyleSheet(GREY)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.setStyleSheet(SELECTED_STYLE if selected else "")

    def _switch(self, renaming: bool) -> None:
        self._normal.setVisible(not renaming)
        self._renaming.setVisible(renaming)

    @Slot()
    def _show_normal(self) -> None:
        self._switch(False)

    @Slot()
    def _start_renaming(self) -> None:
        self.name_field.setText(self.skill.name)
        self._switch(True)
        self.name_field.setFocus()
        self.name_field.selectAll()

    @Slot()
    def _save(self) -> None:
        self._show_normal()
        self.rename_requested.emit(self.skill.id, self.name_field.text())

    @Slot()
    def _toggle_pin(self) -> None:
        self.pin_requested.emit(self.skill.id, not self.skill.pinned)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.chosen.emit(self.skill.id)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Esc leaves a rename; outside one it goes on to the window.
        if event.key() == Qt.Key.Key_Escape and self.renaming:
            self._show_normal()
            return
        super().keyPressEvent(event)


class SkillsPanel(QWidget):
    """Every skill, active first (pinned at the top), archived ones greyed at the end, and
    the request and reply of the one chosen."""

    changed = Signal()  # a skill was renamed, pinned, deleted or restored (once stored)

    def __init__(self, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skills-panel")
        self._host = host
        self._rows: dict[int, SkillRow] = {}
        self.selected_id: int | None = None
        self.last_deleted: DeletedSkill | None = None
        self.loaded = False
        title = QLabel("Skills", self)
        title.setStyleSheet("font-weight: bold;")
        hint = QLabel(HINT_TEXT, self)
        hint.setWordWrap(True)
        hint.setStyleSheet(GREY)
        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("skills-empty")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        self.error_label = QLabel(self)
        self.error_label.setObjectName("skills-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d0021b;")
        self.error_label.hide()
        self.undo_bar = QWidget(self)
        self.undo_label = QLabel(self.undo_bar)
        self.undo_label.setObjectName("skills-undo-text")
        self.undo_label.setWordWrap(True)
        self.undo_label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton("Undo", self.undo_bar)
        self.undo_button.setObjectName("skills-undo")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(0, 0, 0, 0)
        undo_layout.addWidget(self.undo_label, stretch=1)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.hide()

        self._list = QWidget(self)
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._list)
        details = QWidget(self)
        self.detail_label = QLabel(NO_SELECTION_TEXT, details)
        self.detail_label.setObjectName("skills-detail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_view = QPlainTextEdit(details)
        self.result_view.setObjectName("skills-result")
        self.result_view.setReadOnly(True)
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.detail_label)
        details_layout.addWidget(self.result_view, stretch=1)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(scroll)
        split.addWidget(details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        # The list first: without sizes the reply box's larger size hint takes the room.
        split.setSizes([300, 200])

        layout = QVBoxLayout(self)
        for widget in (title, hint, self.error_label, self.undo_bar, self.empty_label):
            layout.addWidget(widget)
        layout.addWidget(split, stretch=1)
        host.opened.connect(self._on_opened)
        host.reply_finished.connect(self._on_reply_finished)
        host.reply_rated.connect(self._on_reply_rated)

    def rows(self) -> list[SkillRow]:
        """The rows in the order shown."""
        return [row for row in (self._list_layout.itemAt(i).widget()
                                for i in range(self._list_layout.count()))
                if isinstance(row, SkillRow)]

    def row_for(self, skill_id: int) -> SkillRow | None:
        return self._rows.get(skill_id)

    # ----------------------------------------------------------------- reading

    @Slot()
    def refresh(self) -> None:
        host = self._host
        ask(host, self, lambda: _store(host).all(include_archived=True), self._show,
            self._show_error)

    @Slot(object)
    def _on_opened(self, _started: object) -> None:
        self.refresh()

    @Slot(int, object)
    def _on_reply_finished(self, _turn: int, _result: object) -> None:
        self.refresh()

    @Slot(int)
    def _on_reply_rated(self, _reply_id: int) -> None:
        self.refresh()

    def _show(self, skills: list[Skill]) -> None:
        self.loaded = True
        wanted = {skill.id for skill in skills}
        for skill_id in [i for i in self._rows if i not in wanted]:
            self._rows.pop(skill_id).deleteLater()
        for index, skill in enumerate(skills):
            row = self._rows.get(skill.id)
            if row is None:
                row = SkillRow(skill, self._list)
                row.rename_requested.connect(self._rename)
                row.pin_requested.connect(self._pin)
                row.delete_requested.connect(self._delete)
                row.chosen.connect(self.select)
                self._rows[skill.id] = row
            else:
                row.set_skill(skill)
                self._list_layout.removeWidget(row)
            self._list_layout.insertWidget(index, row)
        self.empty_label.setVisible(not skills)
        self.select(self.selected_id if self.selected_id in wanted else None)

    @Slot(int)
    def select(self, skill_id: int | None) -> None:
        """Choose a skill (None: none): its request and the reply it gives are shown."""
        self.selected_id = skill_id
        for row_id, row in self._rows.items():
            row.set_selected(row_id == skill_id)
        row = self._rows.get(skill_id) if skill_id is not None else None
        if row is None:
            self.detail_label.setText(NO_SELECTION_TEXT)
            self.result_view.clear()
            return
        skill = row.skill
        self.detail_label.setText(f"Skill {skill.id}, asked as: {skill.intent}\n"
                                  "The reply it gives:")
        if self.result_view.toPlainText() != skill.result:
            self.result_view.setPlainText(skill.result)

    def _show_error(self, exc: Exception) -> None:
        self.error_label.setText(str(exc))
        self.error_label.show()

    # ----------------------------------------------------------------- changes

    @Slot(int, str)
    def _rename(self, skill_id: int, name: str) -> None:
        host = self._host
        self._change(lambda: _store(host).rename(skill_id, name))

    @Slot(int, bool)
    def _pin(self, skill_id: int, pinned: bool) -> None:
        host = self._host
        self._change(lambda: _store(host).pin(skill_id, pinned))

    @Slot(int)
    def _delete(self, skill_id: int) -> None:
        host = self._host

        def delete() -> DeletedSkill:
            store = _store(host)
            skill = store.require(skill_id)
            return DeletedSkill(skill, store.delete(skill_id))

        def deleted(gone: DeletedSkill) -> None:
            self.last_deleted = gone
            self.undo_label.setText(f"Deleted skill {gone.skill.id}, {gone.skill.name!r}: "
                                    "the same request goes to the model again.")
            self.undo_bar.show()

        self._change(delete, deleted)

    @Slot()
    def undo_delete(self) -> None:
        """Put the last deleted skill back, with its record and uses."""
        gone = self.last_deleted
        if gone is None:
            return
        # Taken at once, so a second click cannot put it back twice.
        self.last_deleted = None
        self.undo_bar.hide()
        host = self._host

        def restored(skill: Skill) -> None:
            self.selected_id = skill.id

        def failed() -> None:
            if self.last_deleted is None:
                self.last_deleted = gone
                self.undo_bar.show()

        self._change(lambda: _store(host).restore(gone.rows), restored, failed)

    def _change(self, work: Callable[[], Any], then: Callable[[Any], None] | None = None,
                otherwise: Callable[[], None] | None = None) -> None:
        self.error_label.hide()

        def done(result: Any) -> None:
            if then is not None:
                then(result)
            self.refresh()
            self.changed.emit()

        def failed(exc: Exception) -> None:
            if otherwise is not None:
                otherwise()
            self._show_error(exc)
            self.refresh()

        ask(self._host, self, work, done, failed)
