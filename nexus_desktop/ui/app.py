"""The desktop app: the tray icon, the chat window, the dashboard and the settings,
around one EngineHost.

The app lives in the tray: closing a window hides it, and only Quit ends the app.
Quit stops the daemon at the next slice, saves the open learning round, closes the
database and ends every thread. Import and reset of the whole memory need the database
closed, so the app does them and then starts again (the supervisor starts the next
instance at once; without one, the app launches it itself).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from nexus_desktop import autostart
from nexus_desktop.api.local_channel import instance_name, send
from nexus_desktop.config import Settings
from nexus_desktop.data_lock import DataInUseError, DataLock
from nexus_desktop.engine import TurnResult
from nexus_desktop.errors import NexusError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store import export
from nexus_desktop.store.thoughts import Thought
from nexus_desktop.supervisor import EXIT_DO_NOT_RESTART, EXIT_RESTART
from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.dashboard import Dashboard
from nexus_desktop.ui.engine_host import EngineHost, Started
from nexus_desktop.ui.icons import app_icon
from nexus_desktop.ui.remote_control import RemoteControl
from nexus_desktop.ui.settings_dialog import SettingsDialog
from nexus_desktop.ui.single_instance import SHOW_COMMAND, SingleInstance
from nexus_desktop.ui.tray import Tray

log = logging.getLogger(__name__)

# The first close of a window says once that the app keeps running in the tray.
TRAY_NOTICE_FLAG = "tray-notice-shown"
CHAT_TITLE = "Chat - Nexus Desktop"
# Stored thoughts shown when the dashboard opens.
DASHBOARD_THOUGHTS = 200
# How long Quit waits for the model thread (finishing its slice and saving) to end.
QUIT_TIMEOUT_MS = 5000
# How long a starting app waits for a command that works on the memory to end.
DATA_LOCK_WAIT_S = 60.0


class DesktopApp(QObject):
    # The app has shut down; run_app ends the event loop with this exit code.
    finished = Signal(int)

    def __init__(self, paths: AppPaths, settings: Settings,
                 instance: SingleInstance, *, supervised: bool = False,
                 tray_available: bool | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.instance = instance
        self.supervised = supervised
        self.exit_code = 0
        self.host = EngineHost(paths, settings, parent=self)
        self.tray = Tray(self)
        self.chat = ChatWindow(self.host)
        self.chat.setWindowTitle(CHAT_TITLE)
        self.dashboard: Dashboard | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._answering: set[int] = set()
        self._model_problem: str | None = None
        self._last_status: dict[str, Any] | None = None
        self._quitting = False
        self.remote = RemoteControl(self.host, instance, paths, settings,
                                    self.replace_memory_for_caller)
        self.tray_available = Tray.is_available() if tray_available is None else tray_available
        self._connect()

    def _connect(self) -> None:
        tray, host = self.tray, self.host
        tray.chat_toggle_requested.connect(self.toggle_chat)
        tray.chat_requested.connect(self.show_chat)
        tray.dashboard_requested.connect(self.show_dashboard)
        tray.pause_requested.connect(host.pause)
        tray.resume_requested.connect(host.resume)
        tray.train_topic_requested.connect(host.train_start)
        tray.settings_requested.connect(self.show_settings)
        tray.quit_requested.connect(self.quit)
        self.instance.show_requested.connect(self.show_chat)
        self.chat.hidden_to_tray.connect(self._tell_once_about_the_tray)
        host.message_committed.connect(lambda turn, _message: self._answering_changed(turn, True))
        host.reply_finished.connect(self._reply_finished)
        host.status_changed.connect(self._status_changed)
        host.model_failed.connect(self._model_failed)
        host.open_failed.connect(self._open_failed)
        host.opened.connect(self._opened)

    # -- life -------------------------------------------------------------------------

    def start(self) -> None:
        # What start-up imported lives as long as the app: kept out of the cyclic GC's
        # passes, which hold the interpreter (and so the GUI thread) while they walk it.
        # The model thread does the same once the model is loaded.
        gc.freeze()
        self.host.start()
        self.tray.set_state("idle", "starting")
        if self.tray_available:
            self.tray.show()
        else:
            # Without a tray host, the chat window is the app; closing it quits.
            self.chat.hide_on_close = False
            self.chat.closed.connect(self.quit)
            self.chat.show_note(
                "No system tray was found on this desktop, so Nexus Desktop runs in this "
                "window: closing it quits. Learning in the background needs the app running.")
            self.show_chat()

    @Slot()
    def quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self.tray.set_state("paused", "quitting: saving what was learned")
        for window in (self.chat, self.dashboard, self.settings_dialog):
            if window is not None:
                window.hide()
        self.remote.close()
        if not self.host.shutdown(QUIT_TIMEOUT_MS):
            log.warning("a worker thread did not end within %d ms", QUIT_TIMEOUT_MS)
        self.instance.close()
        self.tray.hide()
        self.finished.emit(self.exit_code)

    # -- windows ------------------------------------------------------------------------

    @Slot()
    def toggle_chat(self) -> None:
        if self.chat.isVisible() and self.chat.isActiveWindow():
            self.chat.hide()
        else:
            self.show_chat()

    @Slot()
    def show_chat(self) -> None:
        self.chat.show()
        self.chat.raise_()
        self.chat.activateWindow()

    @Slot()
    def show_dashboard(self) -> None:
        if self.dashboard is None:
            self.dashboard = Dashboard()
            self.dashboard.setWindowIcon(app_icon())
            self.dashboard.pause_requested.connect(self.host.pause)
            self.dashboard.resume_requested.connect(self.host.resume)
            self.dashboard.train_start_requested.connect(self.host.train_start)
            self.dashboard.train_stop_requested.connect(self.host.train_stop)
            self.host.sample_taken.connect(self.dashboard.add_sample)
            self.host.status_changed.connect(self.dashboard.show_status)
            if self._last_status is not None:
                self.dashboard.show_status(self._last_status)
            self._show_earlier_thoughts(self.dashboard)
        self.dashboard.show()
        self.dashboard.raise_()
        self.dashboard.activateWindow()

    def _show_earlier_thoughts(self, dashboard: Dashboard) -> None:
        """The stored thoughts first (from before this window, or this run), then the
        live ones, in order."""
        def show(thoughts: list[Thought]) -> None:
            for thought in thoughts:
                dashboard.add_thought(thought)
            self.host.thought_added.connect(dashboard.add_thought)

        def read() -> list[Thought]:
            engine = self.host.engine
            return [] if engine is None else engine.thoughts.recent(DASHBOARD_THOUGHTS)

        self.host.query(read, show, lambda _exc: show([]))

    @Slot()
    def show_settings(self) -> None:
        if self.settings_dialog is None:
            dialog = SettingsDialog(self.settings, self.paths, autostart.autostart_for_platform(),
                                    autostart.launch_command())
            dialog.export_requested.connect(self._export)
            dialog.import_requested.connect(self._import)
            dialog.reset_requested.connect(self._reset)
            dialog.finished.connect(self._settings_closed)
            self.settings_dialog = dialog
        self.settings_dialog.show()
        self.settings_dialog.raise_()
        self.settings_dialog.activateWindow()

    @Slot()
    def _settings_closed(self) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()
            self.settings_dialog = None

    @Slot()
    def _tell_once_about_the_tray(self) -> None:
        flag = self.paths.data_dir / TRAY_NOTICE_FLAG
        if flag.exists():
            return
        self.tray.show_message("Nexus Desktop is still running",
                               "It keeps learning in the tray. Click the icon to chat; "
                               "choose Quit in its menu to end it.")
        try:
            flag.touch()
        except OSError as exc:
            log.warning("cannot write %s: %s", flag, exc)

    # -- the tray icon's state ----------------------------------------------------------------

    def _answering_changed(self, turn_id: int, answering: bool) -> None:
        if answering:
            self._answering.add(turn_id)
        else:
            self._answering.discard(turn_id)
        self._show_state()

    @Slot(int, object)
    def _reply_finished(self, turn_id: int, result: TurnResult) -> None:
        self._answering_changed(turn_id, False)

    @Slot(dict)
    def _status_changed(self, status: dict[str, Any]) -> None:
        self._last_status = status
        self.tray.set_learning_paused(bool(status["daemon"]["paused"]))
        self._show_state()

    @Slot(object)
    def _opened(self, started: Started) -> None:
        if started.recovery:
            self.chat.show_note(started.recovery)
            self.show_chat()
        problem = self.remote.start_api()
        if problem:
            log.warning("%s", problem)
            self.tray.show_message("The HTTP API is not available", problem)

    @Slot(str)
    def _model_failed(self, why: str) -> None:
        # The chat window shows the reason itself; the tray shows the error state.
        self._model_problem = why
        self._show_state()

    @Slot(str)
    def _open_failed(self, why: str) -> None:
        self._model_problem = why
        self.show_chat()
        self._show_state()

    def _show_state(self) -> None:
        state, detail = tray_state(self._last_status, bool(self._answering),
                                   self._model_problem)
        self.tray.set_state(state, detail)

    # -- the whole memory -------------------------------------------------------------------

    @Slot(Path)
    def _export(self, destination: Path) -> None:
        def done(report: export.ExportReport) -> None:
            self.tray.show_message("Memory exported",
                                   f"{report.messages} messages, {report.facts} facts and "
                                   f"{report.skills} skills saved to {report.path.name}.")

        self.host.query(lambda: export.export_memory(self.paths, destination), done,
                        lambda exc: self._problem("The export failed", exc))

    @Slot(Path)
    def _import(self, archive: Path) -> None:
        self._replace_memory(lambda: export.import_memory(self.paths, archive).replaced,
                             "imported")

    @Slot()
    def _reset(self) -> None:
        self._replace_memory(lambda: export.reset_memory(self.paths), "reset")

    def _replace_memory(self, replace: Any, done_word: str) -> None:
        """Close the engine, replace the memory, then start again on the new memory."""
        self.tray.set_state("paused", "closing the memory")
        self.remote.close()
        self.host.shutdown(QUIT_TIMEOUT_MS)
        try:
            kept = replace()
        except NexusError as exc:
            self._problem("Nothing was changed", exc)
            self.exit_code = EXIT_RESTART
            self._restart()
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Nexus Desktop",
                          f"Memory {done_word}. Your previous memory is kept in {kept}; "
                          "Nexus Desktop starts again now.")
        box.setWindowIcon(app_icon())
        box.finished.connect(self._restart)
        box.open()
        self._restart_box = box

    def replace_memory_for_caller(self, replace: Callable[[], str]) -> str:
        """The same for `nexus-desktop import`: close the memory, replace it and start
        again, and tell the caller what happened (or raise why nothing changed)."""
        self.tray.set_state("paused", "closing the memory")
        self.remote.close()
        self.host.shutdown(QUIT_TIMEOUT_MS)
        try:
            return replace()
        finally:
            # After the caller's answer is written: a restart closes the channel.
            QTimer.singleShot(0, self._restart)

    def _problem(self, title: str, exc: Exception) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, f"Nexus Desktop: {title}", str(exc))
        box.open()
        self._problem_box = box

    @Slot()
    def _restart(self) -> None:
        """Start again: the supervisor does it on this exit code; alone, start a new
        instance after giving up the single-instance socket."""
        self.exit_code = EXIT_RESTART
        if not self.supervised:
            self.instance.close()
            QProcess.startDetached(autostart.launch_command()[0], autostart.launch_command()[1:])
            self.exit_code = 0
        QTimer.singleShot(0, self.quit)


def tray_state(status: dict[str, Any] | None, answering: bool,
               problem: str | None) -> tuple[str, str]:
    """The tray icon's state and tooltip from the latest status."""
    if problem:
        return "error", problem
    if answering:
        return "answering", "answering"
    if status is None:
        return "idle", "starting"
    health = status["health"]
    if health["status"] == "unhealthy":
        return "error", "; ".join(health["issues"]) or "unhealthy"
    if status["daemon"]["paused"]:
        return "paused", "learning paused by you"
    resources = status["resources"]
    if resources.get("mode") == "paused":
        return "paused", f"learning paused: {resources.get('reason')}"
    learning = status["metrics"]["learning"]
    if learning.get("state") == "learning":
        budget = resources.get("learning_cpu_budget")
        within = f" within {budget:.0f}% CPU" if budget is not None else ""
        return "learning", f"learning{within}"
    version = learning.get("adapter_version")
    return "idle", f"ready; adapter v{version}" if version else "ready"


def run_app(paths: AppPaths, settings: Settings, *, supervised: bool) -> int:
    """The desktop app's event loop; returns the process exit code."""
    qt_app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("Nexus Desktop")
    qt_app.setQuitOnLastWindowClosed(False)
    qt_app.setWindowIcon(app_icon())
    name = instance_name(paths)
    instance = SingleInstance(name)
    if not instance.claim():
        if send(name, {"command": SHOW_COMMAND}) is None:
            print("Nexus Desktop is already running but does not answer. If it stays that "
                  "way, end it in the task manager and start it again.", file=sys.stderr)
            return 1
        log.info("Nexus Desktop is already running; its chat window was brought forward")
        return 0
    try:
        lock = _wait_for_data_lock(paths)
    except DataInUseError as exc:
        log.error("%s", exc)
        QMessageBox.warning(None, "Nexus Desktop cannot start", str(exc))
        instance.close()
        return EXIT_DO_NOT_RESTART
    app = DesktopApp(paths, settings, instance, supervised=supervised)
    app.finished.connect(lock.release)
    app.finished.connect(qt_app.exit)
    app.start()
    return qt_app.exec()


def _wait_for_data_lock(paths: AppPaths) -> DataLock:
    """The data lock for the app's life. A command working on the memory without the app
    (`nexus-desktop ask` just before the app was started, say) ends soon: wait for it."""
    deadline = time.monotonic() + DATA_LOCK_WAIT_S
    while True:
        try:
            return DataLock.acquire(paths, "the Nexus Desktop app")
        except DataInUseError:
            if time.monotonic() > deadline:
                raise
            log.info("the memory is in use by a command; waiting for it to end")
            time.sleep(0.5)
