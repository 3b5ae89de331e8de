"""The settings dialog: every field checked as the user types, with the settings' own
validation, and saved on Apply.

The dialog is non-modal (opened with show() or open()) and never does slow work on the
GUI thread: the Ollama check and model downloads run on worker threads, and export,
import and reset are only asked for here (``export_requested`` and friends); the app closes
the engine and runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.config import Settings
from nexus_desktop.errors import NexusError
from nexus_desktop.learning.topics import focus_topics
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.export import REPLACED
from nexus_desktop.ui.settings_pages import (
    ModelPage,
    TeacherPage,
    TopicsEditor,
    error_label,
    show_error,
)

LIMITS = (
    ("resources.active_cpu_percent", "CPU while you work (%):"),
    ("resources.idle_cpu_percent", "CPU while you are away (%):"),
    ("resources.idle_minutes", "Away after (minutes):"),
    ("resources.pause_on_battery_below", "Pause on battery below (%):"),
    ("resources.ram_mb", "Memory limit (MB):"),
    ("resources.vram_mb", "GPU memory limit (MB, 0: none):"),
)
# The skill library's thresholds, shown with two decimals (they are cosines and shares).
SKILL_LIMITS = (
    ("skills.replay_similarity", "Answer from a skill at similarity:"),
    ("skills.example_similarity", "Use a skill as an example at similarity:"),
    ("skills.min_confidence", "Use skills trusted at least:"),
    ("skills.prune_after_days", "Archive unused weak skills after (days):"),
)


class Autostart(Protocol):
    """Starting Nexus Desktop at login (the registry on Windows, a desktop file on Linux)."""

    def is_enabled(self) -> bool: ...
    def enable(self, command: list[str]) -> None: ...
    def disable(self) -> None: ...
    def describe(self) -> str: ...


class SettingsDialog(QDialog):
    settings_applied = Signal(list)  # the keys whose values changed
    export_requested = Signal(Path)  # the zip file to write
    import_requested = Signal(Path)  # the export to import, confirmed by the user
    reset_requested = Signal()  # confirmed by the user

    def __init__(self, settings: Settings, paths: AppPaths, autostart: Autostart,
                 launch_command: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Nexus Desktop settings")
        self.setObjectName("settings-dialog")
        self.settings = settings
        self.paths = paths
        self.autostart = autostart
        self.launch_command = list(launch_command)
        # Each field: how to read its value, where its problem shows, and any check beyond
        # the setting's own.
        self._fields: dict[str, tuple[Callable[[], Any], QLabel | None,
                                      Callable[[Any], None] | None]] = {}
        self.problems: dict[str, str] = {}
        self.confirmation: QMessageBox | None = None

        self.model_page = ModelPage(settings.get("model.source"))
        self.teacher_page = TeacherPage(settings)
        self.topics = TopicsEditor(settings.get("learning.focus_topics"))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.model_page, "Model")
        self.tabs.addTab(self.teacher_page, "Teacher")
        self.tabs.addTab(self._learning_page(), "Learning")
        self.tabs.addTab(self._limits_page(), "Limits")
        self.tabs.addTab(self._skills_page(), "Skills")
        self.tabs.addTab(self._general_page(), "General")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)

        model_error = error_label()
        self.model_page.layout().insertWidget(1, model_error)
        self._add_field("model.source", self.model_page.value, model_error,
                        self.model_page.changed, self.model_page.check)
        self._add_field("teacher.url", self.teacher_page.url_edit.text,
                        self.teacher_page.url_error, self.teacher_page.changed,
                        TeacherPage.check_url)
        self._add_field("teacher.model", self.teacher_page.model_edit.text,
                        self.teacher_page.model_error, self.teacher_page.changed)
        self._add_field("teacher.enabled", self.teacher_page.enabled.isChecked, None,
                        self.teacher_page.changed)
        self._add_field("learning.focus_topics", self.topics.value, self.topics.error,
                        self.topics.changed, focus_topics)

        self.apply_button.clicked.connect(self.apply)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)
        self.validate()

    # --- pages --------------------------------------------------------------------------

    def _learning_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.learning_enabled = self._switch("learning.enabled",
                                             "Learn from our conversation while I am away")
        layout.addWidget(self.learning_enabled)
        layout.addWidget(self.topics)
        return page

    def _switch(self, key: str, text: str) -> QCheckBox:
        """A check box for a true/false setting, with the setting's description as tip."""
        box = QCheckBox(text)
        box.setChecked(self.settings.get(key))
        box.setToolTip(self.settings.spec(key).description)
        self._add_field(key, box.isChecked, None, box.toggled)
        return box

    def _limits_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.limit_boxes: dict[str, QAbstractSpinBox] = {}
        self._add_number_rows(form, LIMITS, self.limit_boxes, decimals=1)
        form.addRow(QLabel("Limits apply at once."))
        return page

    def _skills_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.skills_enabled = self._switch("skills.enabled",
                                           "Keep the replies I accept to tasks as skills")
        form.addRow(self.skills_enabled)
        self.skill_boxes: dict[str, QAbstractSpinBox] = {}
        self._add_number_rows(form, SKILL_LIMITS, self.skill_boxes, decimals=2)
        return page

    def _add_number_rows(self, form: QFormLayout, rows: tuple[tuple[str, str], ...],
                         boxes: dict[str, QAbstractSpinBox], decimals: int) -> None:
        """A spin box per setting, its range from the setting's spec, checked as typed."""
        for key, text in rows:
            spec = self.settings.spec(key)
            box: QSpinBox | QDoubleSpinBox
            if spec.type == "int":
                box = QSpinBox()
                box.setRange(int(spec.minimum or 0), int(spec.maximum or 2**31 - 1))
            else:
                box = QDoubleSpinBox()
                box.setDecimals(decimals)
                box.setSingleStep(10.0 ** -decimals)
                box.setRange(float(spec.minimum or 0.0), float(spec.maximum or 1e9))
            box.setValue(self.settings.get(key))
            box.setToolTip(spec.description)
            problem = error_label()
            form.addRow(text, box)
            form.addRow("", problem)
            boxes[key] = box
            self._add_field(key, box.value, problem, box.valueChanged)

    def _general_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.start_at_login = QCheckBox("Start Nexus Desktop when I log in")
        self.start_at_login.setChecked(self.autostart.is_enabled())
        self.autostart_info = QLabel(self.autostart.describe())
        self.autostart_info.setWordWrap(True)
        self.autostart_error = error_label()
        layout.addWidget(self.start_at_login)
        layout.addWidget(self.autostart_info)
        layout.addWidget(self.autostart_error)

        data = QGroupBox("Data folder")
        row = QHBoxLayout(data)
        self.data_folder = QLabel(str(self.paths.data_dir))
        self.data_folder.setWordWrap(True)
        self.open_folder_button = QPushButton("Open")
        row.addWidget(self.data_folder, 1)
        row.addWidget(self.open_folder_button)
        layout.addWidget(data)

        memory = QGroupBox("The whole memory (conversation, facts, learned adapters, settings)")
        buttons = QHBoxLayout(memory)
        self.export_button = QPushButton("Export...")
        self.import_button = QPushButton("Import...")
        self.reset_button = QPushButton("Reset...")
        for button in (self.export_button, self.import_button, self.reset_button):
            buttons.addWidget(button)
        layout.addWidget(memory)
        layout.addStretch()

        self.start_at_login.toggled.connect(self.validate)
        self.open_folder_button.clicked.connect(self.open_data_folder)
        self.export_button.clicked.connect(self._choose_export_file)
        self.import_button.clicked.connect(self._choose_import_file)
        self.reset_button.clicked.connect(self._confirm_reset)
        return page

    # --- validation and saving ------------------------------------------------------------

    def _add_field(self, key: str, read: Callable[[], Any], problem: QLabel | None,
                   changed: Any, check: Callable[[Any], Any] | None = None) -> None:
        """Register a field; ``problem`` is None for one that cannot hold a bad value."""
        self._fields[key] = (read, problem, check)
        changed.connect(self.validate)

    def _checked_value(self, key: str) -> Any:
        """The field's value in the setting's type; ConfigError (or another NexusError)
        with the reason when it is not allowed."""
        read, _, check = self._fields[key]
        raw = read()
        spec = self.settings.spec(key)
        value = spec.parse(raw) if isinstance(raw, str) else spec.coerce(raw)
        if check is not None:
            check(value)
        return value

    @Slot()
    def validate(self) -> bool:
        """Check every field, show each problem next to its field, and allow Apply and OK
        only when there is none."""
        self.problems = {}
        for key, (_, problem, _) in self._fields.items():
            try:
                self._checked_value(key)
            except NexusError as exc:
                self.problems[key] = str(exc)
            if problem is not None:
                show_error(problem, self.problems.get(key))
        valid = not self.problems
        self.apply_button.setEnabled(valid)
        self.ok_button.setEnabled(valid)
        return valid

    def changed_keys(self) -> list[str]:
        keys = []
        for key in self._fields:
            try:
                if self._checked_value(key) != self.settings.get(key):
                    keys.append(key)
            except NexusError:
                continue
        return keys

    @Slot()
    def apply(self) -> bool:
        """Save every changed field (limits take effect at once: the app re-reads them
        every second) and start at login as chosen; False if something was refused."""
        if not self.validate():
            return False
        keys = self.changed_keys()
        for key in keys:
            try:
                self.settings.set(key, self._checked_value(key))
            except NexusError as exc:
                problem = self._fields[key][1]
                if problem is not None:
                    show_error(problem, str(exc))
                return False
        if not self._apply_autostart():
            return False
        if keys:
            self.settings_applied.emit(keys)
        return True

    def _apply_autostart(self) -> bool:
        wanted = self.start_at_login.isChecked()
        try:
            if wanted != self.autostart.is_enabled():
                if wanted:
                    self.autostart.enable(self.launch_command)
                else:
                    self.autostart.disable()
        except (NexusError, OSError) as exc:
            show_error(self.autostart_error, f"Start at login could not be changed: {exc}")
            return False
        show_error(self.autostart_error, None)
        self.autostart_info.setText(self.autostart.describe())
        return True

    @Slot()
    def _ok(self) -> None:
        if self.apply():
            self.accept()

    # --- data folder, export, import, reset -------------------------------------------------

    @Slot()
    def open_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.paths.data_dir)))

    def _replaced_folder(self) -> Path:
        return self.paths.data_dir / REPLACED

    @Slot()
    def _choose_export_file(self) -> None:
        dialog = QFileDialog(self, "Export the memory to", str(Path.home() / "nexus-memory.zip"),
                             "Nexus Desktop memory (*.zip)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("zip")
        dialog.fileSelected.connect(self._export_chosen)
        dialog.open()

    @Slot(str)
    def _export_chosen(self, path: str) -> None:
        if path:
            self.export_requested.emit(Path(path))

    @Slot()
    def _choose_import_file(self) -> None:
        dialog = QFileDialog(self, "Import a memory export", str(Path.home()),
                             "Nexus Desktop memory (*.zip)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self._import_chosen)
        dialog.open()

    @Slot(str)
    def _import_chosen(self, path: str) -> None:
        if not path:
            return
        archive = Path(path)
        self._confirm(
            "Import this memory?",
            f"Importing replaces the conversation, facts, learned adapters and settings with "
            f"those in {archive.name}. Nexus Desktop restarts its engine to do it.\n\n"
            f"Nothing is lost: the memory in use now is kept in {self._replaced_folder()}, "
            "from where it can be restored.",
            "Import", lambda: self.import_requested.emit(archive))

    @Slot()
    def _confirm_reset(self) -> None:
        self._confirm(
            "Start with a fresh memory?",
            "Resetting takes the conversation, facts and learned adapters out of use, so "
            "Nexus Desktop starts fresh. Settings stay as they are.\n\n"
            f"Nothing is deleted: the old memory is kept in {self._replaced_folder()}, from "
            "where it can be restored.",
            "Reset", self.reset_requested.emit)

    def _confirm(self, title: str, text: str, action: str, on_yes: Callable[[], None]) -> None:
        """Ask without blocking (open(), not exec()); ``on_yes`` runs only if confirmed."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.NoButton, self)
        yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(button: object) -> None:
            self.confirmation = None
            if button is yes:
                on_yes()

        box.buttonClicked.connect(answered)
        self.confirmation = box
        box.open()

    # --- closing ------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self._stop_work()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._stop_work()
        super().closeEvent(event)

    def _stop_work(self) -> None:
        self.model_page.stop()
        self.teacher_page.stop()
