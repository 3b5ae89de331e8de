""""What I remember" on a real engine host: a fact said in chat appears, and editing,
pinning and forgetting it change the database."""

from __future__ import annotations

import pytest
from chat_host import TURN_TIMEOUT_MS, open_window, send, start
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.facts_panel import EMPTY_TEXT, PIN_MARK, FactRow, FactsPanel

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot, host: EngineHost) -> ChatWindow:
    chat = open_window(qtbot, host)
    start(qtbot, host, chat)
    chat.side.setCurrentWidget(chat.facts_panel)
    return chat


def said_in_chat(qtbot, window: ChatWindow, host: EngineHost, text: str) -> FactRow:
    """Say ``text`` in the chat; the row of the fact it states, once the panel shows it."""
    panel = window.facts_panel
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS):
        send(qtbot, window, text)
    qtbot.waitUntil(lambda: len(panel.rows()) == 1)
    return panel.rows()[0]


def active_facts(host: EngineHost):
    return host.engine.facts.active()


def test_a_fact_said_in_chat_appears_in_the_panel(qtbot, window: ChatWindow,
                                                  host: EngineHost):
    panel: FactsPanel = window.findChild(FactsPanel, "facts-panel")
    qtbot.waitUntil(lambda: panel.loaded)
    assert panel.rows() == [] and panel.empty_label.text() == EMPTY_TEXT
    qtbot.waitUntil(panel.empty_label.isVisible)
    row = said_in_chat(qtbot, window, host, "my favorite color is teal")
    assert "teal" in row.text_label.text()
    [fact] = active_facts(host)
    assert (row.fact.id, fact.value) == (fact.id, "teal")
    assert not panel.empty_label.isVisible()
    notices = [n.text() for n in window.view.findChildren(QLabel, "chat-notice")]
    assert any("teal" in notice for notice in notices)


def test_editing_a_fact_changes_its_value(qtbot, window: ChatWindow, host: EngineHost):
    row = said_in_chat(qtbot, window, host, "my favorite color is teal")
    qtbot.mouseClick(row.edit_button, LEFT)
    assert row.mode == "editing" and row.value_field.text() == "teal"
    row.value_field.clear()
    qtbot.keyClicks(row.value_field, "navy blue")
    qtbot.mouseClick(row.save_button, LEFT)
    qtbot.waitUntil(lambda: [f.value for f in active_facts(host)] == ["navy blue"])
    qtbot.waitUntil(lambda: "navy blue" in row.text_label.text())
    assert row.mode == "normal"


def test_an_empty_value_is_refused_with_the_reason(qtbot, window: ChatWindow,
                                                   host: EngineHost):
    row = said_in_chat(qtbot, window, host, "my favorite color is teal")
    panel = window.facts_panel
    qtbot.mouseClick(row.edit_button, LEFT)
    row.value_field.clear()
    qtbot.keyClick(row.value_field, Qt.Key.Key_Return)
    qtbot.waitUntil(panel.error_label.isVisible)
    assert "cannot be empty" in panel.error_label.text()
    assert [f.value for f in active_facts(host)] == ["teal"]


def test_pinning_and_unpinning_a_fact(qtbot, window: ChatWindow, host: EngineHost):
    row = said_in_chat(qtbot, window, host, "my favorite color is teal")
    assert row.pin_button.text() == "Pin"
    qtbot.mouseClick(row.pin_button, LEFT)
    qtbot.waitUntil(lambda: active_facts(host)[0].pinned)
    qtbot.waitUntil(lambda: row.text_label.text().startswith(PIN_MARK))
    assert row.pin_button.text() == "Unpin"
    qtbot.mouseClick(row.pin_button, LEFT)
    qtbot.waitUntil(lambda: not active_facts(host)[0].pinned)
    qtbot.waitUntil(lambda: row.pin_button.text() == "Pin")
    assert not row.text_label.text().startswith(PIN_MARK)


def test_forgetting_asks_first_then_takes_the_fact_out(qtbot, window: ChatWindow,
                                                       host: EngineHost):
    panel = window.facts_panel
    row = said_in_chat(qtbot, window, host, "my favorite color is teal")
    fact_id = row.fact.id
    qtbot.mouseClick(row.forget_button, LEFT)
    assert row.mode == "confirming" and "cannot be undone" in row.question.text()
    qtbot.mouseClick(row.keep_button, LEFT)
    assert row.mode == "normal"
    assert [f.id for f in active_facts(host)] == [fact_id]
    qtbot.mouseClick(row.forget_button, LEFT)
    qtbot.mouseClick(row.confirm_button, LEFT)
    qtbot.waitUntil(lambda: active_facts(host) == [])
    assert host.engine.facts.get(fact_id).status == "forgotten"
    qtbot.waitUntil(lambda: panel.rows() == [])
    qtbot.waitUntil(panel.empty_label.isVisible)
