"""Search over the whole conversation from the chat window, on a real engine host: by
words, by meaning (the real embedding model), and a result shown in its context."""

from __future__ import annotations

import re

import pytest
from chat_host import numbered_exchanges, open_window, start, write_history
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from nexus_desktop.paths import AppPaths
from nexus_desktop.ui.chat_pages import CONTEXT_AFTER, CONTEXT_BEFORE, PAGE_SIZE
from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.search_panel import WORDS_HEADING, SearchPanel, summary

MAGNOLIA = "I planted a magnolia tree by the garden gate this morning."
PET = "I adopted a grey cat from the shelter and named her Pixel."


@pytest.fixture
def history(paths: AppPaths) -> list[int]:
    """Sixty exchanges; the magnolia and the cat early on, far beyond the first page."""
    exchanges = numbered_exchanges(60)
    exchanges[2] = (MAGNOLIA, "A magnolia is a lovely tree.")
    exchanges[4] = (PET, "Pixel is a fine name for a cat.")
    return write_history(paths, exchanges)


@pytest.fixture
def window(qtbot, host: EngineHost, history: list[int]) -> ChatWindow:
    """The window on a host started after the history was written."""
    chat = open_window(qtbot, host)
    start(qtbot, host, chat)
    return chat


def search(qtbot, panel: SearchPanel, text: str) -> None:
    before = panel.status_label.text()
    panel.field.clear()
    qtbot.keyClicks(panel.field, text)
    qtbot.keyClick(panel.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.status_label.text() != before
                    and not panel.status_label.text().startswith("Searching"), timeout=60_000)


def test_a_keyword_finds_an_old_message_with_its_date_and_snippet(
        qtbot, window: ChatWindow, history: list[int]):
    panel = window.search_panel
    assert window.findChild(QLineEdit, "chat-search") is panel.field
    search(qtbot, panel, "magnolia")
    question, answer = history[4], history[5]
    assert question not in window.view.message_ids()
    words = [r.message_id for r in panel.results if r.found_by == "words"]
    assert sorted(words) == [question, answer]
    assert panel.list.item(0).text() == WORDS_HEADING
    lines = {item.data(Qt.ItemDataRole.UserRole): item.text() for item in panel.items()}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d  You: .*\[magnolia\].*", lines[question])
    assert "Nexus Desktop: " in lines[answer]
    assert panel.status_label.text().startswith("2 with all the words of 'magnolia'.")


def open_result(qtbot, panel: SearchPanel, message_id: int) -> None:
    row = next(i for i in range(panel.list.count())
               if panel.list.item(i).data(Qt.ItemDataRole.UserRole) == message_id)
    panel.list.setCurrentRow(row)
    qtbot.keyClick(panel.list, Qt.Key.Key_Return)


def test_a_result_opens_in_its_context_and_the_conversation_stays(
        qtbot, window: ChatWindow, history: list[int]):
    panel = window.search_panel
    search(qtbot, panel, "magnolia")
    live = window.view.message_ids()
    magnolia_id = history[4]
    open_result(qtbot, panel, magnolia_id)
    qtbot.waitUntil(lambda: window.showing_context)
    context = window.context_view
    shown = context.bubble_for(magnolia_id)
    assert shown is not None and shown.text() == MAGNOLIA
    assert shown.property("highlighted") is True
    assert [b for b in context.bubbles() if b.property("highlighted")] == [shown]
    # The page around it: everything before it (only four messages) and what came after.
    assert context.message_ids() == history[:4 + CONTEXT_AFTER + 1]
    assert len(context.message_ids()) <= CONTEXT_BEFORE + CONTEXT_AFTER + 1
    assert not context.has_older
    assert window.view.message_ids() == live and len(live) == PAGE_SIZE
    qtbot.mouseClick(window.back_button, Qt.MouseButton.LeftButton)
    assert not window.showing_context


def test_a_word_said_nowhere_is_not_found_by_words(qtbot, window: ChatWindow):
    panel = window.search_panel
    search(qtbot, panel, "xylophonist")
    assert [r for r in panel.results if r.found_by == "words"] == []
    assert len(panel.items()) == len(panel.results)
    assert panel.status_label.text() == summary("xylophonist", 0, len(panel.results))
    assert summary("xylophonist", 0, 0) == "Nothing found for 'xylophonist'. Try other words."
    # The nearest messages in meaning, if any, come under their own heading.
    assert summary("xylophonist", 0, 3).startswith("No message has all the words of")
    assert all(r.found_by == "meaning" for r in panel.results)


@pytest.mark.slow
def test_a_question_in_other_words_finds_the_message_by_meaning(
        qtbot, window: ChatWindow, host: EngineHost, history: list[int]):
    # The index thread embeds the history written before the start.
    qtbot.waitUntil(lambda: len(host.engine.index) >= len(history), timeout=120_000)
    panel = window.search_panel
    search(qtbot, panel, "Which animal lives with me?")
    by_meaning = [r.message_id for r in panel.results if r.found_by == "meaning"]
    assert history[8] in by_meaning
