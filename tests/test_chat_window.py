"""The chat window on a real engine host and the tiny model: turns stream in and land in
the database, history comes a page at a time, keys, stop, ratings, the status header and
a model that fails to load."""

from __future__ import annotations

from pathlib import Path

import pytest
from chat_host import (
    STARTED_MS,
    TURN_TIMEOUT_MS,
    numbered_exchanges,
    open_window,
    send,
    start,
    stored_message,
    write_history,
)
from PySide6.QtCore import Qt

from nexus_desktop.config import Settings
from nexus_desktop.governor.monitor import ResourceSample
from nexus_desktop.paths import AppPaths
from nexus_desktop.ui.chat_pages import PAGE_SIZE
from nexus_desktop.ui.chat_view import MessageBubble, markdown_html
from nexus_desktop.ui.chat_window import (
    LEVEL_COLOURS,
    STARTING_TEXT,
    ChatWindow,
    resource_text,
)
from nexus_desktop.ui.engine_host import EngineHost


@pytest.fixture
def chat(qtbot, host: EngineHost) -> ChatWindow:
    """The window, shown, on a host not started yet."""
    return open_window(qtbot, host)


@pytest.fixture
def window(qtbot, host: EngineHost, chat: ChatWindow) -> ChatWindow:
    start(qtbot, host, chat)
    return chat


def test_the_window_says_it_is_starting_until_the_host_is_open(
        qtbot, host: EngineHost, chat: ChatWindow):
    assert chat.status_label.text() == STARTING_TEXT
    assert not chat.history_loaded
    start(qtbot, host, chat)
    assert chat.status_label.text().startswith("Ready")
    assert not chat.banner.isVisible()


def test_a_sent_message_shows_at_once_and_the_reply_streams_into_the_database(
        qtbot, window: ChatWindow, host: EngineHost, paths: AppPaths):
    pieces: list[str] = []
    # The view grows with every piece: at each one, the reply's bubble holds them all.
    grown: list[bool] = []

    def on_piece(_turn: int, text: str) -> None:
        pieces.append(text)
        grown.append(window.view.bubbles()[-1].text() == "".join(pieces))

    host.reply_piece.connect(on_piece)
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as finished:
        send(qtbot, window, "hello <b>there</b> & you")
        # Before the store thread has even saved it, the message is in the view.
        user = window.view.bubbles()[-1]
        assert (user.role, user.text()) == ("user", "hello <b>there</b> & you")
        assert window.input.toPlainText() == ""
        assert window.reply_running
        assert not window.send_button.isEnabled() and window.stop_button.isEnabled()
    result = finished.args[1]
    assert result.status == "complete"
    assert len(pieces) >= 2 and "".join(pieces) == result.reply
    assert all(grown)
    user, reply = window.view.bubbles()[-2:]
    # The user's text is shown as typed, never as markup.
    assert user.body.textFormat() == Qt.TextFormat.PlainText
    assert user.body.text() == "hello <b>there</b> & you"
    assert reply.role == "assistant" and reply.text() == result.reply
    qtbot.waitUntil(lambda: reply.message is not None and user.message is not None)
    assert reply.message.id == result.reply_id
    assert stored_message(paths, user.message.id).content == "hello <b>there</b> & you"
    assert stored_message(paths, result.reply_id).content == result.reply
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()


def test_replies_render_markdown_with_code_in_monospace_and_html_as_text(qtbot):
    html = markdown_html("Some **bold** text\n\n```python\nx = 1\n```\n\n<b>not bold</b>")
    assert "font-weight:700" in html
    assert "<pre" in html and "monospace" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    bubble = MessageBubble("assistant")
    qtbot.addWidget(bubble)
    bubble.set_text("`code`")
    assert bubble.body.textFormat() == Qt.TextFormat.RichText
    assert "monospace" in bubble.body.text()


def test_only_the_newest_page_loads_and_scrolling_up_brings_older_ones(
        qtbot, host: EngineHost, chat: ChatWindow, paths: AppPaths):
    ids = write_history(paths, numbered_exchanges(60))
    start(qtbot, host, chat)
    view = chat.view
    assert view.message_ids() == ids[-PAGE_SIZE:]
    assert view.has_older
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    anchor = view.bubbles()[0]
    bar.setValue(0)
    offset = anchor.y() - bar.value()
    assert offset < view.viewport().height()
    qtbot.waitUntil(lambda: len(view.message_ids()) == 2 * PAGE_SIZE)
    assert view.message_ids() == ids[-2 * PAGE_SIZE:]
    # What was in view stays where it was: the older page went in above it.
    qtbot.waitUntil(lambda: bar.value() > 0
                    and abs(anchor.y() - bar.value() - offset) <= 2)
    bar.setValue(0)
    qtbot.waitUntil(lambda: view.message_ids() == ids)
    assert not view.has_older
    assert view.bubbles()[0].text() == "old question number 0"


def test_enter_sends_shift_enter_adds_a_line_and_esc_hides(
        qtbot, window: ChatWindow, host: EngineHost):
    qtbot.keyClicks(window.input, "line one")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.input, "line two")
    assert window.input.toPlainText() == "line one\nline two"
    assert not window.reply_running
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS):
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
    user = [b for b in window.view.bubbles() if b.role == "user"][-1]
    qtbot.waitUntil(lambda: user.message is not None)
    assert user.message.content == "line one\nline two"
    with qtbot.waitSignal(window.hidden_to_tray, timeout=1000):
        qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert not window.isVisible()


def test_closing_hides_to_the_tray_unless_told_otherwise(qtbot, window: ChatWindow):
    with qtbot.waitSignal(window.hidden_to_tray, timeout=1000):
        window.close()
    assert not window.isVisible()
    window.show()
    window.hide_on_close = False
    with qtbot.assertNotEmitted(window.hidden_to_tray):
        assert window.close()
    assert not window.isVisible()


def test_a_refused_message_keeps_its_text_and_says_why(
        qtbot, window: ChatWindow, host: EngineHost):
    before = len(window.view.bubbles())
    with qtbot.waitSignal(host.message_refused, timeout=10_000):
        send(qtbot, window, "   ")
    assert window.input.toPlainText() == "   "
    assert window.error_label.isVisible() and "empty" in window.error_label.text()
    assert len(window.view.bubbles()) == before
    assert window.send_button.isEnabled() and not window.reply_running


def test_stop_ends_a_running_reply_which_is_kept_as_cancelled(
        qtbot, window: ChatWindow, host: EngineHost, tiny_settings: Settings,
        paths: AppPaths):
    tiny_settings.set("generation.max_new_tokens", 4096)
    stopped: list[bool] = []

    def stop_at_first_piece(_turn: int, _text: str) -> None:
        if not stopped:
            stopped.append(True)
            qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)

    host.reply_piece.connect(stop_at_first_piece)
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as finished:
        send(qtbot, window, "Tell me a very long story")
    result = finished.args[1]
    assert stopped and result.status == "cancelled"
    reply = window.view.bubbles()[-1]
    assert reply.text() == result.reply
    qtbot.waitUntil(reply.outcome.isVisible)
    assert reply.outcome.text() == "Stopped before the end."
    stored = stored_message(paths, result.reply_id)
    assert (stored.status, stored.content) == ("cancelled", result.reply)
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()


def test_thumbs_save_the_rating_toggle_back_and_show_again_after_a_reload(
        qtbot, window: ChatWindow, host: EngineHost):
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as finished:
        send(qtbot, window, "rate this")
    reply_id = finished.args[1].reply_id
    # The bubble knows its stored reply a moment after the turn ends; then it can be rated.
    qtbot.waitUntil(lambda: window.view.bubble_for(reply_id) is not None)
    reply = window.view.bubble_for(reply_id)
    assert reply.good_button.isEnabled() and reply.bad_button.isEnabled()
    ratings = host.engine.ratings

    qtbot.mouseClick(reply.good_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ratings.of([reply_id]) == {reply_id: 1})
    assert reply.good_button.isChecked() and not reply.bad_button.isChecked()
    qtbot.mouseClick(reply.good_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ratings.of([reply_id]) == {})
    assert not reply.good_button.isChecked()
    qtbot.mouseClick(reply.bad_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ratings.of([reply_id]) == {reply_id: -1})
    assert reply.bad_button.isChecked() and not reply.good_button.isChecked()

    again = ChatWindow(host)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.history_loaded)
    shown = again.view.bubble_for(reply_id)
    assert shown is not None and shown.rating == -1 and shown.bad_button.isChecked()
    assert again.status_label.text().startswith("Ready")


def test_the_header_shows_memory_and_is_coloured_by_the_memory_level(
        qtbot, window: ChatWindow, host: EngineHost):
    with qtbot.waitSignal(host.sample_taken, timeout=10_000) as taken:
        pass
    real = taken.args[0]
    qtbot.waitUntil(lambda: window.resource_label.text() != "MEM: - | SYS: -")
    assert window.resource_label.text().startswith("MEM: ")
    assert real.rss_mb > 0

    sample = ResourceSample(at=0.0, system_cpu_percent=12.0, process_cpu_percent=1.0,
                            rss_mb=1234.4, system_ram_percent=65.3)
    assert resource_text(sample) == "MEM: 1234 MB | SYS: 65%"
    host.sample_taken.emit(sample)
    qtbot.waitUntil(lambda: window.resource_label.text() == "MEM: 1234 MB | SYS: 65%")

    for level in ("warning", "critical", "normal"):
        host.status_changed.emit({"memory": {"level": level}})
        assert window.memory_level == level
        assert LEVEL_COLOURS[level] in window.resource_label.styleSheet()
    # The daemon's own status arrives as well and carries a level.
    with qtbot.waitSignal(host.status_changed, timeout=10_000) as status:
        pass
    assert window.memory_level == status.args[0]["memory"]["level"]


def test_a_model_that_fails_to_load_shows_a_banner_and_history_still_works(
        qtbot, paths: AppPaths, settings: Settings, tmp_path: Path):
    write_history(paths, numbered_exchanges(3))
    settings.set("model.source", str(tmp_path / "no-model-here"))
    failing = EngineHost(paths, settings)
    window = open_window(qtbot, failing)
    try:
        with qtbot.waitSignal(failing.model_failed, timeout=STARTED_MS) as failed:
            failing.start()
        assert window.banner.isVisible()
        assert failed.args[0] in window.banner.text()
        qtbot.waitUntil(lambda: window.history_loaded)
        assert len(window.view.message_ids()) == 6
        with qtbot.waitSignal(failing.reply_finished, timeout=TURN_TIMEOUT_MS) as finished:
            send(qtbot, window, "are you there?")
        result = finished.args[1]
        assert result.status == "failed"
        reply = window.view.bubbles()[-1]
        qtbot.waitUntil(reply.outcome.isVisible)
        assert reply.outcome.text() == f"This reply failed: {result.error}"
    finally:
        assert failing.shutdown()
