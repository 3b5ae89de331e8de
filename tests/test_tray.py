"""The tray icon: its menu, state icons, tooltip, balloons and the topic dialog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QDialogButtonBox, QInputDialog, QLineEdit, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from nexus_desktop.ui.icons import state_pixmap
from nexus_desktop.ui.tray import (
    MESSAGE_TEXT_LIMIT,
    MESSAGE_TITLE_LIMIT,
    PAUSE_TEXT,
    RESUME_TEXT,
    TOOLTIP_LIMIT,
    Tray,
    clip,
)


@pytest.fixture
def tray(qtbot: QtBot) -> Iterator[Tray]:
    tray = Tray()
    qtbot.addWidget(tray.menu)
    yield tray
    dialog = tray.topic_dialog
    if dialog is not None:
        dialog.reject()
    tray.hide()


def action(tray: Tray, name: str) -> QAction:
    found = tray.menu.findChild(QAction, name)
    assert found is not None, f"no menu action named {name}"
    return found


def same_image(a: QImage, b: QImage) -> bool:
    fmt = QImage.Format.Format_ARGB32
    return a.convertToFormat(fmt) == b.convertToFormat(fmt)


def tray_icon(tray: Tray) -> QSystemTrayIcon:
    icon = tray.findChild(QSystemTrayIcon, "tray-icon")
    assert icon is not None
    return icon


def test_menu_lists_the_actions_in_order(tray: Tray):
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Open chat", "Dashboard", "Pause learning", "Train on topic...",
                     "Settings", "Quit"]
    assert tray_icon(tray).contextMenu() is tray.menu


@pytest.mark.parametrize(("name", "signal"), [
    ("tray-open-chat", "chat_requested"),
    ("tray-dashboard", "dashboard_requested"),
    ("tray-pause-resume", "pause_requested"),
    ("tray-settings", "settings_requested"),
    ("tray-quit", "quit_requested"),
])
def test_each_menu_action_emits_its_signal(qtbot: QtBot, tray: Tray, name: str, signal: str):
    others = [getattr(tray, s) for s in ("chat_requested", "dashboard_requested",
                                         "pause_requested", "resume_requested",
                                         "settings_requested", "quit_requested",
                                         "chat_toggle_requested")
              if s != signal]
    with qtbot.waitSignal(getattr(tray, signal), timeout=1000):
        for other in others:
            other.connect(lambda *_: pytest.fail(f"{name} emitted another signal"))
        action(tray, name).trigger()


def test_pause_item_follows_the_learning_state(qtbot: QtBot, tray: Tray):
    item = action(tray, "tray-pause-resume")
    tray.set_learning_paused(True)
    assert item.text() == RESUME_TEXT
    with qtbot.waitSignal(tray.resume_requested, timeout=1000), \
            qtbot.assertNotEmitted(tray.pause_requested):
        item.trigger()
    tray.set_learning_paused(False)
    assert item.text() == PAUSE_TEXT
    with qtbot.waitSignal(tray.pause_requested, timeout=1000), \
            qtbot.assertNotEmitted(tray.resume_requested):
        item.trigger()


def open_topic_dialog(qtbot: QtBot, tray: Tray) -> QInputDialog:
    action(tray, "tray-train-topic").trigger()
    # trigger() returned while the dialog is still up: opening it did not block.
    dialog = tray.topic_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.isVisible()
    return dialog


def type_and_press(qtbot: QtBot, dialog: QInputDialog, text: str,
                   button: QDialogButtonBox.StandardButton) -> None:
    line_edit = dialog.findChild(QLineEdit)
    assert line_edit is not None
    qtbot.keyClicks(line_edit, text)
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)


def test_train_dialog_emits_the_trimmed_topic(qtbot: QtBot, tray: Tray):
    dialog = open_topic_dialog(qtbot, tray)
    with qtbot.waitSignal(tray.train_topic_requested, timeout=1000) as blocker:
        type_and_press(qtbot, dialog, "  Rust lifetimes  ", QDialogButtonBox.StandardButton.Ok)
    assert blocker.args == ["Rust lifetimes"]
    assert not dialog.isVisible()
    assert tray.topic_dialog is None


@pytest.mark.parametrize(("text", "button"), [
    ("   ", QDialogButtonBox.StandardButton.Ok),
    ("", QDialogButtonBox.StandardButton.Ok),
    ("Rust lifetimes", QDialogButtonBox.StandardButton.Cancel),
], ids=["blank", "empty", "cancelled"])
def test_train_dialog_without_a_topic_emits_nothing(qtbot: QtBot, tray: Tray, text: str,
                                                    button: QDialogButtonBox.StandardButton):
    dialog = open_topic_dialog(qtbot, tray)
    with qtbot.assertNotEmitted(tray.train_topic_requested):
        type_and_press(qtbot, dialog, text, button)
    assert not dialog.isVisible()
    assert tray.topic_dialog is None


def test_asking_twice_reuses_the_open_dialog(qtbot: QtBot, tray: Tray):
    first = open_topic_dialog(qtbot, tray)
    action(tray, "tray-train-topic").trigger()
    assert tray.topic_dialog is first
    first.reject()
    second = open_topic_dialog(qtbot, tray)
    assert second is not first


def test_set_state_changes_icon_and_tooltip(tray: Tray):
    tray.set_state("learning", "learning from 3 new messages")
    learning = tray.icon().pixmap(16).toImage()
    assert same_image(learning, state_pixmap("learning", 16).toImage())
    assert tray.tooltip() == "Nexus Desktop - learning from 3 new messages"
    assert tray.state == "learning"

    tray.set_state("error", "the model could not be loaded")
    error = tray.icon().pixmap(16).toImage()
    assert same_image(error, state_pixmap("error", 16).toImage())
    assert not same_image(error, learning)
    assert tray.tooltip() == "Nexus Desktop - the model could not be loaded"


def test_tooltip_is_kept_short_and_on_one_line(tray: Tray):
    tray.set_state("answering", "writing a reply\nabout " + "very " * 40 + "long things")
    tooltip = tray.tooltip()
    assert len(tooltip) <= TOOLTIP_LIMIT
    assert tooltip.startswith("Nexus Desktop - writing a reply about very")
    assert tooltip.endswith("…")
    assert "\n" not in tooltip
    tray.set_state("idle", "")
    assert tray.tooltip() == "Nexus Desktop"


def test_unknown_state_is_refused_and_changes_nothing(tray: Tray):
    tray.set_state("paused", "paused by you")
    with pytest.raises(ValueError, match="idle, learning, answering, paused, error"):
        tray.set_state("sleeping", "zzz")
    assert tray.state == "paused"
    assert tray.tooltip() == "Nexus Desktop - paused by you"


@pytest.mark.parametrize("reason", [
    QSystemTrayIcon.ActivationReason.DoubleClick,
    QSystemTrayIcon.ActivationReason.Context,
    QSystemTrayIcon.ActivationReason.MiddleClick,
])
def test_only_a_left_click_toggles_the_chat(qtbot: QtBot, tray: Tray,
                                            reason: QSystemTrayIcon.ActivationReason):
    icon = tray_icon(tray)
    with qtbot.assertNotEmitted(tray.chat_toggle_requested):
        icon.activated.emit(reason)
    with qtbot.waitSignal(tray.chat_toggle_requested, timeout=1000):
        icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)


def test_messages_are_clipped_to_the_balloon_limits(tray: Tray):
    title, text = tray.show_message("T" * 100, "x" * 1000)
    assert len(title) == MESSAGE_TITLE_LIMIT and title.endswith("…")
    assert len(text) == MESSAGE_TEXT_LIMIT and text.endswith("…")
    assert tray.show_message("Nexus Desktop keeps running", "Quit from this menu.") == (
        "Nexus Desktop keeps running", "Quit from this menu.")


def test_clip_keeps_short_text_and_marks_cut_text():
    assert clip("exactly ten", 11) == "exactly ten"
    assert clip("one two three", 8) == "one two…"
    assert len(clip("a" * 300, 120)) == 120


def test_availability_is_what_qt_reports(tray: Tray):
    # The offscreen test platform has no tray; the real-desktop run checks the other case.
    assert Tray.is_available() is QSystemTrayIcon.isSystemTrayAvailable()
