"""The Skills panel on a real engine host: it lists the skills kept in the database, and
renaming, pinning, deleting and undoing a deletion change the database."""

from __future__ import annotations

import time

import pytest
from chat_host import TURN_TIMEOUT_MS, kept_skill, on_store, open_window, send, start, write_history
from PySide6.QtCore import Qt

from nexus_desktop.paths import AppPaths
from nexus_desktop.store.skills import Skill, SkillStore
from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.skills_panel import EMPTY_TEXT, PIN_MARK, SkillRow, SkillsPanel

LEFT = Qt.MouseButton.LeftButton
EXCHANGES = [
    ("convert 5 km to miles", "5 km is about 3.11 miles."),
    ("translate good morning to French", "Bonjour."),
    ("summarise: the meeting moved from Thursday to Friday at noon", "Meeting: Friday, noon."),
]


@pytest.fixture
def window(qtbot, host: EngineHost, paths: AppPaths) -> ChatWindow:
    """The window on a started host, with three task exchanges in its history (not kept
    as skills yet), showing the Skills tab."""
    write_history(paths, EXCHANGES)
    chat = open_window(qtbot, host)
    start(qtbot, host, chat)
    chat.side.setCurrentWidget(chat.skills_panel)
    qtbot.waitUntil(lambda: chat.skills_panel.loaded)
    return chat


def keep_all(qtbot, host: EngineHost, panel: SkillsPanel) -> list[Skill]:
    """Keep every exchange of the history as a skill; the panel shows them all."""
    history = on_store(qtbot, host, lambda: host.engine.session.history(2 * len(EXCHANGES)))
    skills = [kept_skill(qtbot, host, history[i].id, history[i + 1].id)
              for i in range(0, len(history), 2)]
    panel.refresh()
    qtbot.waitUntil(lambda: len(panel.rows()) == len(skills))
    return skills


def store_of(host: EngineHost) -> SkillStore:
    return host.engine.skills.store


def test_the_panel_lists_kept_skills_with_their_record_and_shows_the_chosen_reply(
        qtbot, window: ChatWindow, host: EngineHost):
    panel: SkillsPanel = window.findChild(SkillsPanel, "skills-panel")
    assert panel.rows() == [] and panel.empty_label.text() == EMPTY_TEXT
    qtbot.waitUntil(panel.empty_label.isVisible)
    skills = keep_all(qtbot, host, panel)
    assert [row.skill.id for row in panel.rows()] == [s.id for s in skills]
    assert not panel.empty_label.isVisible()
    first = panel.rows()[0]
    assert first.name_label.text() == f"{skills[0].id}. {skills[0].name}"
    assert first.request_label.text() == EXCHANGES[0][0]
    assert first.record_label.text() == "Trust 80% · not used yet · 0 accepted, 0 rejected"

    qtbot.mouseClick(panel.rows()[1], LEFT)
    assert panel.selected_id == skills[1].id and panel.rows()[1].selected
    assert panel.result_view.toPlainText() == EXCHANGES[1][1]
    assert EXCHANGES[1][0] in panel.detail_label.text()


def test_archived_skills_come_last_in_grey(qtbot, window: ChatWindow, host: EngineHost):
    panel = window.skills_panel
    skills = keep_all(qtbot, host, panel)
    weak = skills[0]

    def archive() -> int:
        store = store_of(host)
        store.set_confidence(weak.id, 0.1, success=False)
        return store.archive_weak(0.5, time.time() + 1)

    assert on_store(qtbot, host, archive) == 1
    panel.refresh()
    qtbot.waitUntil(lambda: panel.rows()[-1].skill.id == weak.id)
    row = panel.rows()[-1]
    assert row.archived and row.record_label.text().endswith("archived")
    assert "gray" in row.name_label.styleSheet()
    assert not any(r.archived for r in panel.rows()[:-1])


def test_replies_accepted_in_chat_appear_as_skills(
        qtbot, window: ChatWindow, host: EngineHost):
    panel = window.skills_panel
    store = store_of(host)
    # A thumbs up on a task's reply keeps it at once.
    history = on_store(qtbot, host, lambda: host.engine.session.history(2 * len(EXCHANGES)))
    first_reply = history[1]
    bubble = window.view.bubble_for(first_reply.id)
    assert bubble.good_button.isEnabled()
    qtbot.mouseClick(bubble.good_button, LEFT)
    qtbot.waitUntil(lambda: len(panel.rows()) == 1)
    rated = store.by_source(first_reply.id)
    assert rated is not None and rated.result == EXCHANGES[0][1]
    assert panel.rows()[0].skill.id == rated.id
    # Writing on without correcting the last reply accepts it: the panel, read again
    # after the turn, shows that exchange kept too, after the more trusted one.
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS):
        send(qtbot, window, "thanks, that helps")
    qtbot.waitUntil(lambda: len(panel.rows()) == 2)
    accepted = store.by_source(history[-1].id)
    assert accepted is not None and accepted.intent == EXCHANGES[-1][0]
    assert accepted.confidence < rated.confidence
    assert [row.skill.id for row in panel.rows()] == [rated.id, accepted.id]


def test_renaming_a_skill_and_an_empty_name_refused(
        qtbot, window: ChatWindow, host: EngineHost):
    panel = window.skills_panel
    skill = keep_all(qtbot, host, panel)[0]
    row: SkillRow = panel.row_for(skill.id)
    qtbot.mouseClick(row.rename_button, LEFT)
    assert row.renaming and row.name_field.text() == skill.name
    row.name_field.clear()
    qtbot.keyClicks(row.name_field, "Kilometres to miles")
    qtbot.mouseClick(row.save_button, LEFT)
    qtbot.waitUntil(lambda: store_of(host).require(skill.id).name == "Kilometres to miles")
    qtbot.waitUntil(lambda: row.name_label.text() == f"{skill.id}. Kilometres to miles")
    assert not row.renaming

    qtbot.mouseClick(row.rename_button, LEFT)
    row.name_field.clear()
    qtbot.keyClick(row.name_field, Qt.Key.Key_Return)
    qtbot.waitUntil(panel.error_label.isVisible)
    assert "cannot be empty" in panel.error_label.text()
    assert store_of(host).require(skill.id).name == "Kilometres to miles"


def test_pinning_moves_a_skill_first_and_unpinning_takes_it_back(
        qtbot, window: ChatWindow, host: EngineHost):
    panel = window.skills_panel
    last = keep_all(qtbot, host, panel)[-1]
    row = panel.row_for(last.id)
    assert row.pin_button.text() == "Pin"
    qtbot.mouseClick(row.pin_button, LEFT)
    qtbot.waitUntil(lambda: store_of(host).require(last.id).pinned)
    qtbot.waitUntil(lambda: panel.rows()[0] is row)
    assert row.name_label.text().startswith(PIN_MARK) and row.pin_button.text() == "Unpin"
    assert "pinned" in row.record_label.text()
    qtbot.mouseClick(row.pin_button, LEFT)
    qtbot.waitUntil(lambda: not store_of(host).require(last.id).pinned)
    qtbot.waitUntil(lambda: panel.rows()[-1] is row and row.pin_button.text() == "Pin")
    assert not row.name_label.text().startswith(PIN_MARK)


def test_deleting_a_skill_can_be_undone_with_its_record_and_uses(
        qtbot, window: ChatWindow, host: EngineHost):
    panel = window.skills_panel
    skill = keep_all(qtbot, host, panel)[1]
    reply_id = skill.source_reply_id
    on_store(qtbot, host, lambda: store_of(host).record_use(reply_id, skill.id, "replay", 0.99))
    before = on_store(qtbot, host, lambda: store_of(host).require(skill.id))
    assert before.uses == 1
    panel.select(skill.id)

    qtbot.mouseClick(panel.row_for(skill.id).delete_button, LEFT)
    qtbot.waitUntil(lambda: store_of(host).get(skill.id) is None)
    qtbot.waitUntil(lambda: panel.row_for(skill.id) is None and len(panel.rows()) == 2)
    assert store_of(host).uses_of([reply_id]) == {}
    assert panel.undo_bar.isVisible() and skill.name in panel.undo_label.text()
    assert panel.selected_id is None and panel.result_view.toPlainText() == ""

    qtbot.mouseClick(panel.undo_button, LEFT)
    assert not panel.undo_bar.isVisible()
    qtbot.waitUntil(lambda: store_of(host).get(skill.id) is not None)
    assert store_of(host).get(skill.id) == before
    assert store_of(host).uses_of([reply_id])[reply_id].skill_id == skill.id
    qtbot.waitUntil(lambda: [r.skill.id for r in panel.rows()].count(skill.id) == 1)
    assert len(panel.rows()) == 3 and panel.selected_id == skill.id
    assert panel.result_view.toPlainText() == skill.result
