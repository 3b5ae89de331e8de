"""The desktop app put together (offscreen): the tray menu opens the windows and drives
learning, the tray icon follows what the app does, and Quit ends every thread with the
database closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_desktop.api.local_channel import instance_name
from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.supervisor import EXIT_RESTART
from nexus_desktop.ui.app import CHAT_TITLE, TRAY_NOTICE_FLAG, DesktopApp
from nexus_desktop.ui.single_instance import SingleInstance
from nexus_desktop.ui.workers import running_workers

STARTED_MS = 60_000


class ShownMessages:
    """The tray's balloons, as the user would have seen them."""

    def __init__(self, app: DesktopApp) -> None:
        self.shown: list[tuple[str, str]] = []
        original = app.tray.show_message

        def record(title: str, text: str) -> tuple[str, str]:
            self.shown.append((title, text))
            return original(title, text)

        app.tray.show_message = record  # type: ignore[method-assign]


def make_app(qtbot, paths: AppPaths, settings: Settings, *, tray: bool) -> DesktopApp:
    instance = SingleInstance(instance_name(paths))
    assert instance.claim()
    app = DesktopApp(paths, settings, instance, tray_available=tray)
    qtbot.addWidget(app.chat)
    with qtbot.waitSignal(app.host.model_ready, timeout=STARTED_MS):
        app.start()
    return app


@pytest.fixture
def app(qtbot, paths: AppPaths, tiny_settings: Settings) -> Iterator[DesktopApp]:
    desktop = make_app(qtbot, paths, tiny_settings, tray=True)
    yield desktop
    desktop.quit()
    for window in (desktop.dashboard, desktop.settings_dialog):
        if window is not None:
            window.close()
            window.deleteLater()


def test_the_tray_menu_opens_the_windows_and_drives_learning(qtbot, app: DesktopApp):
    assert not app.chat.isVisible()
    app.tray.chat_toggle_requested.emit()
    assert app.chat.isVisible() and app.chat.windowTitle() == CHAT_TITLE
    app.tray.dashboard_requested.emit()
    assert app.dashboard is not None and app.dashboard.isVisible()
    # The dashboard is fed the live status.
    qtbot.waitUntil(lambda: app.dashboard.mode_label.text() != "", timeout=10_000)
    app.tray.settings_requested.emit()
    assert app.settings_dialog is not None and app.settings_dialog.isVisible()

    app.tray.pause_requested.emit()
    qtbot.waitUntil(lambda: app.tray.learning_paused, timeout=10_000)
    qtbot.waitUntil(lambda: app.tray.state == "paused", timeout=10_000)
    app.tray.resume_requested.emit()
    qtbot.waitUntil(lambda: not app.tray.learning_paused, timeout=10_000)
    app.host.train_stop()
    qtbot.waitUntil(lambda: app.host.engine.learning.state == "stopped", timeout=10_000)
    app.tray.train_topic_requested.emit("astronomy")
    qtbot.waitUntil(lambda: app.host.engine.learning.topic == "astronomy", timeout=10_000)
    assert app.host.engine.learning.state == "allowed"


def test_the_icon_shows_answering_while_a_reply_runs(qtbot, app: DesktopApp):
    states: list[str] = []
    original = app.tray.set_state

    def record(state: str, detail: str) -> None:
        states.append(state)
        original(state, detail)

    app.tray.set_state = record  # type: ignore[method-assign]
    with qtbot.waitSignal(app.host.reply_finished, timeout=STARTED_MS):
        app.host.send("hello")
    assert "answering" in states
    assert app.tray.state != "answering"


def test_closing_the_chat_keeps_the_app_and_says_so_once(qtbot, app: DesktopApp,
                                                        paths: AppPaths):
    balloons = ShownMessages(app)
    app.show_chat()
    app.chat.close()
    assert not app.chat.isVisible() and app.host.is_open
    app.show_chat()
    app.chat.close()
    assert len(balloons.shown) == 1 and "still running" in balloons.shown[0][0]
    assert (paths.data_dir / TRAY_NOTICE_FLAG).exists()


def test_export_from_the_settings_writes_the_whole_memory(qtbot, app: DesktopApp,
                                                          tmp_path: Path):
    with qtbot.waitSignal(app.host.reply_finished, timeout=STARTED_MS):
        app.host.send("my favorite color is teal")
    balloons = ShownMessages(app)
    target = tmp_path / "memory.zip"
    app._export(target)
    qtbot.waitUntil(lambda: bool(balloons.shown), timeout=30_000)
    assert target.exists()
    assert "2 messages, 1 facts and 0 skills" in balloons.shown[0][1]


def test_quit_ends_every_thread_and_closes_the_database(qtbot, paths: AppPaths,
                                                       tiny_settings: Settings):
    app = make_app(qtbot, paths, tiny_settings, tray=True)
    with qtbot.waitSignal(app.host.reply_finished, timeout=STARTED_MS):
        app.host.send("remember this")
    engine = app.host.engine
    app.quit()
    assert running_workers() == []
    assert engine.database._closed
    # The single-instance name is free again for the next start.
    again = SingleInstance(instance_name(paths))
    assert again.claim()
    again.close()


def test_without_a_tray_the_chat_window_is_the_app(qtbot, paths: AppPaths,
                                                   tiny_settings: Settings):
    app = make_app(qtbot, paths, tiny_settings, tray=False)
    assert app.chat.isVisible()
    assert "No system tray" in app.chat.banner.text()
    app.chat.close()
    assert running_workers() == []
    assert not app.host.is_open


def test_reset_moves_the_memory_aside_and_asks_the_supervisor_for_a_restart(
        qtbot, paths: AppPaths, tiny_settings: Settings):
    app = make_app(qtbot, paths, tiny_settings, tray=True)
    app.supervised = True
    with qtbot.waitSignal(app.host.reply_finished, timeout=STARTED_MS):
        app.host.send("my favorite color is teal")
    app._reset()
    # The engine is closed before anything is moved; the old memory is kept.
    assert running_workers() == [] and not paths.database.exists()
    kept = list((paths.data_dir / "replaced").iterdir())
    assert len(kept) == 1 and (kept[0] / paths.database.name).exists()
    assert str(kept[0]) in app._restart_box.text()
    with qtbot.waitSignal(app.finished, timeout=10_000) as finished:
        app._restart_box.done(0)
    assert finished.args == [EXIT_RESTART]
