"""The settings dialog's larger pages: the model, the Ollama teacher and the focus topics.

Each page shows values and reports changes (``changed``); the dialog reads the values,
checks them with the settings' own validation and saves them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QThread, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.config import Settings
from nexus_desktop.errors import ConfigError, ModelLoadError
from nexus_desktop.learning.topics import check_topic, focus_topics
from nexus_desktop.llm.source import BUNDLED, BUNDLED_NAME, resolve_source
from nexus_desktop.ui.settings_workers import ModelDownload, OllamaCheck, let_finish
from nexus_desktop.ui.workers import start_worker, stop_worker

NEXT_START = "Changes to the model apply at the next start of Nexus Desktop."


def error_label() -> QLabel:
    """The place next to a field where its problem is shown (hidden while there is none)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: #c0392b;")
    label.hide()
    return label


def show_error(label: QLabel, message: str | None) -> None:
    label.setText(message or "")
    label.setVisible(bool(message))


class ModelPage(QWidget):
    """model.source: the bundled model, a local folder, or a Hugging Face id (downloadable
    now, so the next start does not wait for it)."""

    changed = Signal()
    _download_requested = Signal(str)

    def __init__(self, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bundled = QRadioButton(f"Bundled model ({BUNDLED_NAME})")
        self.folder = QRadioButton("Local model folder")
        self.hub = QRadioButton("Hugging Face model")
        self._kinds = QButtonGroup(self)
        for button in (self.bundled, self.folder, self.hub):
            self._kinds.addButton(button)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder with config.json and *.safetensors")
        self.choose_button = QPushButton("Choose...")
        self.hub_edit = QLineEdit()
        self.hub_edit.setPlaceholderText("HuggingFaceTB/SmolLM2-360M-Instruct")
        self.download_button = QPushButton("Download now")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.hide()
        self.download_status = QLabel()
        self.download_status.setWordWrap(True)
        self._download: ModelDownload | None = None
        self._download_thread: QThread | None = None

        grid = QGridLayout()
        grid.addWidget(self.bundled, 0, 0, 1, 3)
        grid.addWidget(self.folder, 1, 0)
        grid.addWidget(self.folder_edit, 1, 1)
        grid.addWidget(self.choose_button, 1, 2)
        grid.addWidget(self.hub, 2, 0)
        grid.addWidget(self.hub_edit, 2, 1)
        grid.addWidget(self.download_button, 2, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        downloading = QHBoxLayout()
        downloading.addWidget(self.progress)
        downloading.addWidget(self.cancel_button)
        layout.addLayout(downloading)
        layout.addWidget(self.download_status)
        layout.addWidget(QLabel(NEXT_START))
        layout.addStretch()

        self._show(current)
        for button in (self.bundled, self.folder, self.hub):
            button.toggled.connect(self._kind_changed)
        self.folder_edit.textChanged.connect(self.changed)
        self.hub_edit.textChanged.connect(self._hub_text_changed)
        self.choose_button.clicked.connect(self._choose_folder)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self._kind_changed()

    def _show(self, current: str) -> None:
        if current.strip() == BUNDLED:
            self.bundled.setChecked(True)
        elif Path(current).expanduser().is_dir():
            self.folder.setChecked(True)
            self.folder_edit.setText(current)
        else:
            self.hub.setChecked(True)
            self.hub_edit.setText(current)

    def value(self) -> str:
        if self.bundled.isChecked():
            return BUNDLED
        if self.folder.isChecked():
            return self.folder_edit.text().strip()
        return self.hub_edit.text().strip()

    def check(self, value: str) -> None:
        """ConfigError when the chosen source cannot be used."""
        if self.bundled.isChecked():
            return
        if self.folder.isChecked():
            if not Path(value).expanduser().is_dir():
                raise ConfigError(f"The folder {value!r} does not exist. Choose a folder that "
                                  "holds a model (config.json and *.safetensors files).")
            return
        try:
            if resolve_source(value).kind == "hub":
                return
        except ModelLoadError:
            pass
        raise ConfigError(f"{value!r} is not a Hugging Face model id. Enter one like "
                          "'HuggingFaceTB/SmolLM2-360M-Instruct'.")

    @Slot()
    def _kind_changed(self) -> None:
        self.folder_edit.setEnabled(self.folder.isChecked())
        self.choose_button.setEnabled(self.folder.isChecked())
        self.hub_edit.setEnabled(self.hub.isChecked())
        self._hub_text_changed()

    @Slot()
    def _hub_text_changed(self) -> None:
        idle = self._download_thread is None
        self.download_button.setEnabled(
            idle and self.hub.isChecked() and bool(self.hub_edit.text().strip()))
        self.changed.emit()

    @Slot()
    def _choose_folder(self) -> None:
        dialog = QFileDialog(self, "Choose a model folder", self.folder_edit.text())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        dialog.fileSelected.connect(self._folder_chosen)
        dialog.open()

    @Slot(str)
    def _folder_chosen(self, path: str) -> None:
        self.folder.setChecked(True)
        self.folder_edit.setText(path)

    @Slot()
    def start_download(self) -> None:
        """Download the Hugging Face model into the local cache now, on a worker thread."""
        repo_id = self.hub_edit.text().strip()
        try:
            self.check(repo_id)
        except ConfigError as exc:
            self.download_status.setText(str(exc))
            return
        self._download = ModelDownload()
        self._download.progress.connect(self._download_progress)
        self._download.done.connect(self._download_done)
        self._download.failed.connect(self._download_failed)
        self._download.cancelled.connect(self._download_cancelled)
        self._download_thread = start_worker(self._download, "settings-model-download")
        self._download_requested.connect(self._download.run)
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.show()
        self.cancel_button.show()
        self.download_button.setEnabled(False)
        self.download_status.setText(f"Downloading {repo_id}...")
        self._download_requested.emit(repo_id)

    @Slot()
    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel()
            self.download_status.setText("Cancelling the download...")

    @Slot(float, float)
    def _download_progress(self, done: float, total: float) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))

    @Slot(str)
    def _download_done(self, folder: str) -> None:
        self._download_ended(f"Downloaded to {folder}. {NEXT_START}")

    @Slot(str)
    def _download_failed(self, message: str) -> None:
        self._download_ended(message)

    @Slot()
    def _download_cancelled(self) -> None:
        self._download_ended("Download cancelled; what was downloaded so far is kept in the "
                             "cache and reused next time.")

    def _download_ended(self, message: str) -> None:
        if self._download_thread is None:
            return  # the page stopped the download already
        thread, self._download_thread, self._download = self._download_thread, None, None
        self._download_requested.disconnect()
        if thread is not None:
            stop_worker(thread)  # the worker's slot has returned: this does not wait long
        self.progress.hide()
        self.cancel_button.hide()
        self.download_status.setText(message)
        self._hub_text_changed()

    def stop(self) -> None:
        """The dialog closes: cancel a download and let its thread end by itself."""
        if self._download is not None and self._download_thread is not None:
            self._download.cancel()
            self._download_requested.disconnect()
            let_finish(self._download_thread)
            self._download = self._download_thread = None


class TeacherPage(QWidget):
    """The Ollama teacher: on/off, address and model, and a connection test."""

    changed = Signal()
    _check_requested = Signal(str, str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled = QCheckBox("Learn from examples written by a local Ollama model")
        self.enabled.setChecked(settings.get("teacher.enabled"))
        self.url_edit = QLineEdit(settings.get("teacher.url"))
        self.model_edit = QLineEdit(settings.get("teacher.model"))
        self.url_error = error_label()
        self.model_error = error_label()
        self.test_button = QPushButton("Test connection")
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self._check_thread: QThread | None = None

        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Ollama address:", self.url_edit)
        form.addRow("", self.url_error)
        form.addRow("Teacher model:", self.model_edit)
        form.addRow("", self.model_error)
        form.addRow(self.test_button)
        form.addRow(self.test_result)

        self.enabled.toggled.connect(self.changed)
        self.url_edit.textChanged.connect(self.changed)
        self.model_edit.textChanged.connect(self.changed)
        self.test_button.clicked.connect(self.test_connection)

    @staticmethod
    def check_url(value: str) -> None:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{value!r} is not a web address. Enter Ollama's address, such "
                              "as http://127.0.0.1:11434.")

    @Slot()
    def test_connection(self) -> None:
        """Ask the server at the address typed for its models, on a worker thread."""
        url, model = self.url_edit.text().strip(), self.model_edit.text().strip()
        try:
            self.check_url(url)
        except ConfigError as exc:
            self.test_result.setText(str(exc))
            return
        worker = OllamaCheck()
        worker.finished.connect(self._checked)
        self._check_thread = start_worker(worker, "settings-ollama-check")
        self._check_requested.connect(worker.run)
        self.test_button.setEnabled(False)
        self.test_result.setText(f"Connecting to {url}...")
        self._check_requested.emit(url, model)

    @Slot(bool, str)
    def _checked(self, connected: bool, message: str) -> None:
        if self._check_thread is None:
            return  # the page stopped the check already
        thread, self._check_thread = self._check_thread, None
        self._check_requested.disconnect()
        if thread is not None:
            stop_worker(thread)  # the worker's slot has returned: this does not wait long
        self.test_button.setEnabled(True)
        self.test_result.setText(message)
        self.test_result.setProperty("connected", connected)

    def stop(self) -> None:
        """The dialog closes: a check still running ends by itself, unseen."""
        if self._check_thread is not None:
            self._check_requested.disconnect()
            let_finish(self._check_thread)
            self._check_thread = None
            self.test_button.setEnabled(True)


class TopicsEditor(QWidget):
    """learning.focus_topics as a list: add, remove, move up and down."""

    changed = Signal()

    def __init__(self, setting_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.addItems(focus_topics(setting_text))
        self.new_topic = QLineEdit()
        self.new_topic.setPlaceholderText("A topic, such as organic chemistry")
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.error = error_label()

        adding = QHBoxLayout()
        adding.addWidget(self.new_topic)
        adding.addWidget(self.add_button)
        moving = QVBoxLayout()
        for button in (self.remove_button, self.up_button, self.down_button):
            moving.addWidget(button)
        moving.addStretch()
        listing = QHBoxLayout()
        listing.addWidget(self.list)
        listing.addLayout(moving)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Topics the Ollama teacher teaches, in turn (none: a built-in "
                                "list of academic subjects):"))
        layout.addLayout(listing)
        layout.addLayout(adding)
        layout.addWidget(self.error)

        self.add_button.clicked.connect(self.add_typed)
        self.new_topic.returnPressed.connect(self.add_typed)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))

    def topics(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def value(self) -> str:
        """The setting's text: the topics separated by commas, "-" for none."""
        return ", ".join(self.topics()) or "-"

    @Slot()
    def add_typed(self) -> None:
        try:
            topic = check_topic(self.new_topic.text())
            if "," in topic:
                raise ConfigError("A topic cannot hold a comma; add each topic on its own.")
            if topic.casefold() in {t.casefold() for t in self.topics()}:
                raise ConfigError(f"{topic!r} is already in the list.")
        except ConfigError as exc:
            show_error(self.error, str(exc))
            return
        show_error(self.error, None)
        self.list.addItem(topic)
        self.list.setCurrentRow(self.list.count() - 1)
        self.new_topic.clear()
        self.changed.emit()

    @Slot()
    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()

    def move_selected(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        self.list.insertItem(target, self.list.takeItem(row))
        self.list.setCurrentRow(target)
        self.changed.emit()
