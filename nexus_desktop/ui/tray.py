"""The tray icon: Nexus Desktop's always-present handle while its windows are hidden.

The tray only reports what the user asked for (signals) and shows what it is told
(``set_state``, ``set_learning_paused``); the app decides what each request does.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QInputDialog, QMenu, QSystemTrayIcon

from nexus_desktop.ui.icons import state_icon

APP_NAME = "Nexus Desktop"
# Windows cuts tray tooltips at 127 characters and balloons at 63/255; staying under
# those keeps our own ellipsis visible instead of a silent cut.
TOOLTIP_LIMIT = 120
MESSAGE_TITLE_LIMIT = 64
MESSAGE_TEXT_LIMIT = 256
_ELLIPSIS = "…"

PAUSE_TEXT = "Pause learning"
RESUME_TEXT = "Resume learning"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + _ELLIPSIS


class Tray(QObject):
    """Wraps QSystemTrayIcon with Nexus Desktop's menu, state icons and tooltip."""

    chat_toggle_requested = Signal()
    chat_requested = Signal()
    dashboard_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    train_topic_requested = Signal(str)
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons: dict[str, QIcon] = {}
        self._state = "idle"
        self._learning_paused = False
        self._topic_dialog: QInputDialog | None = None

        self._tray = QSystemTrayIcon(self)
        self._tray.setObjectName("tray-icon")
        self._tray.activated.connect(self._on_activated)

        # A QMenu cannot have a QObject parent, so the tray holds it: without this
        # reference Python would collect it and the tray would lose its menu.
        self._menu = QMenu()
        self._menu.setObjectName("tray-menu")
        self._add_action("tray-open-chat", "Open chat", self.chat_requested.emit)
        self._add_action("tray-dashboard", "Dashboard", self.dashboard_requested.emit)
        self._pause_action = self._add_action("tray-pause-resume", PAUSE_TEXT,
                                              self._on_pause_resume)
        self._add_action("tray-train-topic", "Train on topic...", self.ask_for_topic)
        self._add_action("tray-settings", "Settings", self.settings_requested.emit)
        self._menu.addSeparator()
        self._add_action("tray-quit", "Quit", self.quit_requested.emit)
        self._tray.setContextMenu(self._menu)

        self.set_state("idle", "starting")

    def _add_action(self, name: str, text: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self._menu)
        action.setObjectName(name)
        action.triggered.connect(slot)
        self._menu.addAction(action)
        return action

    @property
    def menu(self) -> QMenu:
        return self._menu

    @property
    def state(self) -> str:
        return self._state

    @property
    def learning_paused(self) -> bool:
        return self._learning_paused

    @property
    def topic_dialog(self) -> QInputDialog | None:
        """The "Train on topic" dialog while it is open."""
        return self._topic_dialog

    @staticmethod
    def is_available() -> bool:
        """Whether the desktop has a tray to show the icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def icon(self) -> QIcon:
        return self._tray.icon()

    def tooltip(self) -> str:
        return self._tray.toolTip()

    def geometry(self) -> QRect:
        """Where the tray host shows the icon; empty until it has embedded it."""
        return self._tray.geometry()

    def show(self) -> None:
        self._tray.show()

    def hide(self) -> None:
        self._tray.hide()

    def set_state(self, state: str, detail: str) -> None:
        """Show ``state``'s icon and "Nexus Desktop - ``detail``" as the tooltip."""
        if state not in self._icons:  # state_icon rejects unknown states
            self._icons[state] = state_icon(state)
        self._state = state
        self._tray.setIcon(self._icons[state])
        detail = " ".join(detail.split())
        tooltip = f"{APP_NAME} - {detail}" if detail else APP_NAME
        self._tray.setToolTip(clip(tooltip, TOOLTIP_LIMIT))

    def set_learning_paused(self, paused: bool) -> None:
        """Make the pause/resume item offer the opposite of the current learning state."""
        self._learning_paused = paused
        self._pause_action.setText(RESUME_TEXT if paused else PAUSE_TEXT)

    def show_message(self, title: str, text: str) -> tuple[str, str]:
        """Show a balloon (the user's settings may hide it: never the only notice of
        anything important). Returns the title and text as shown, clipped to the limits."""
        shown = clip(title, MESSAGE_TITLE_LIMIT), clip(text, MESSAGE_TEXT_LIMIT)
        self._tray.showMessage(*shown, self._icons[self._state])
        return shown

    def ask_for_topic(self) -> None:
        """Open the "Train on topic" dialog without blocking; a second request brings the
        open dialog forward instead of stacking another."""
        if self._topic_dialog is not None:
            self._topic_dialog.raise_()
            self._topic_dialog.activateWindow()
            return
        dialog = QInputDialog()
        dialog.setObjectName("tray-train-topic-dialog")
        dialog.setWindowTitle(f"{APP_NAME} - Train on topic")
        dialog.setLabelText("What should Nexus Desktop learn about?")
        dialog.setWindowIcon(self._icons[self._state])
        dialog.textValueSelected.connect(self._on_topic_chosen)
        dialog.finished.connect(self._on_topic_dialog_finished)
        self._topic_dialog = dialog
        dialog.open()

    def _on_topic_chosen(self, text: str) -> None:
        topic = text.strip()
        if topic:
            self.train_topic_requested.emit(topic)

    def _on_topic_dialog_finished(self) -> None:
        dialog, self._topic_dialog = self._topic_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _on_pause_resume(self) -> None:
        if self._learning_paused:
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A single left click; right click opens the menu through Qt itself.
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.chat_toggle_requested.emit()
