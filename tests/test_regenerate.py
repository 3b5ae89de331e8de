"""Regenerate on a real engine host and the tiny model: a replayed reply says it came from
memory and offers Regenerate; a fresh model reply then comes at the end of the
conversation, and the skill it replaced is trusted less."""

from __future__ import annotations

import pytest
from chat_host import (
    STARTED_MS,
    TURN_TIMEOUT_MS,
    kept_skill,
    open_window,
    send,
    start,
    stored_message,
    write_history,
)
from PySide6.QtCore import Qt

from nexus_desktop.config import Settings
from nexus_desktop.engine import TurnResult
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.messages import Message
from nexus_desktop.store.skills import SkillUse
from nexus_desktop.ui.chat_window import ChatWindow
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.skill_marks import stored_skill_mark, turn_skill_mark

REQUEST = "convert 5 km to miles"
ANSWER = "5 km is about 3.11 miles."
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def exchange(paths: AppPaths) -> tuple[int, int]:
    """A task and its reply, in the conversation before the app starts."""
    question_id, answer_id = write_history(paths, [(REQUEST, ANSWER)])
    return question_id, answer_id


def started(qtbot, host: EngineHost) -> None:
    with qtbot.waitSignal(host.model_ready, timeout=STARTED_MS):
        host.start()


def finished_turn(qtbot, host: EngineHost, start_turn) -> tuple[int, TurnResult]:
    """Start a turn with ``start_turn()`` (which returns its id); its id and result."""
    results: dict[int, TurnResult] = {}
    host.reply_finished.connect(lambda turn, result: results.__setitem__(turn, result))
    turn_id = start_turn()
    qtbot.waitUntil(lambda: turn_id in results, timeout=TURN_TIMEOUT_MS)
    return turn_id, results[turn_id]


def test_regenerate_streams_a_fresh_reply_to_the_same_message(
        qtbot, host: EngineHost, exchange: tuple[int, int], paths: AppPaths):
    question_id, answer_id = exchange
    started(qtbot, host)
    pieces: list[str] = []
    host.reply_piece.connect(lambda _turn, text: pieces.append(text))
    _, result = finished_turn(qtbot, host, lambda: host.regenerate(answer_id))
    assert (result.status, result.source) == ("complete", "model")
    assert result.user_message_id == question_id
    assert result.reply_id > answer_id
    assert pieces and "".join(pieces) == result.reply
    fresh = stored_message(paths, result.reply_id)
    assert (fresh.role, fresh.reply_to, fresh.content) == ("assistant", question_id,
                                                           result.reply)
    # The old reply stays as it was; the new one is the newest message.
    assert stored_message(paths, answer_id).content == ANSWER
    assert host.engine.session.history(1)[0].id == result.reply_id


def test_stop_ends_a_regenerated_reply(qtbot, host: EngineHost, exchange: tuple[int, int],
                                       tiny_settings: Settings, paths: AppPaths):
    tiny_settings.set("generation.max_new_tokens", 4096)
    started(qtbot, host)
    # Stop, as the Stop button does, at the first piece.
    host.reply_piece.connect(lambda turn, _text: host.stop_reply(turn))
    _, result = finished_turn(qtbot, host, lambda: host.regenerate(exchange[1]))
    assert result.status == "cancelled"
    assert stored_message(paths, result.reply_id).status == "cancelled"


def test_regenerating_what_is_not_a_reply_fails_with_the_reason(
        qtbot, host: EngineHost, exchange: tuple[int, int]):
    started(qtbot, host)
    question_id, _ = exchange
    _, result = finished_turn(qtbot, host, lambda: host.regenerate(question_id))
    assert (result.status, result.reply_id) == ("failed", 0)
    assert f"Message {question_id} is not a reply" in result.error


def test_a_replayed_reply_is_marked_and_regenerate_asks_the_model_instead(
        qtbot, host: EngineHost, exchange: tuple[int, int], paths: AppPaths):
    window = open_window(qtbot, host)
    start(qtbot, host, window)
    skill = kept_skill(qtbot, host, *exchange)
    store = host.engine.skills.store

    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as replayed:
        send(qtbot, window, REQUEST)
    replay = replayed.args[1]
    assert (replay.source, replay.skill_id, replay.reply) == ("skill", skill.id, ANSWER)
    bubble = window.view.bubbles()[-1]
    # Shown at once, before the stored reply is read back (the bubble itself is shown by
    # its layout a moment later).
    assert bubble.skill_label.isVisibleTo(bubble)
    assert bubble.skill_label.text() == f"From memory: skill {skill.id}"
    assert bubble.regenerate_button.isVisibleTo(bubble)
    assert bubble.regenerate_button.isEnabled()
    assert store.require(skill.id).uses == 1
    qtbot.waitUntil(lambda: bubble.message is not None)
    user_id = bubble.message.reply_to
    assert stored_message(paths, user_id).content == REQUEST

    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as regenerated:
        qtbot.mouseClick(bubble.regenerate_button, LEFT)
        # One reply at a time: Send and Regenerate wait for this one.
        assert window.reply_running
        assert not window.send_button.isEnabled()
        assert not bubble.regenerate_button.isEnabled()
    fresh = regenerated.args[1]
    assert (fresh.status, fresh.source) == ("complete", "model")
    assert fresh.user_message_id == user_id and fresh.reply_id > replay.reply_id
    newest = window.view.bubbles()[-1]
    assert newest is not bubble and newest.role == "assistant"
    assert newest.text() == fresh.reply and not newest.skill_label.isVisibleTo(newest)
    assert window.view.bubbles()[-2] is bubble
    assert stored_message(paths, fresh.reply_id).reply_to == user_id
    assert window.send_button.isEnabled() and bubble.regenerate_button.isEnabled()
    # Regenerate said the replay was not what was wanted.
    weakened = store.require(skill.id)
    assert weakened.confidence < skill.confidence
    assert (weakened.failures, store.use_of(replay.reply_id).outcome) == (1, "failure")
    panel = window.skills_panel
    qtbot.waitUntil(lambda: panel.row_for(skill.id) is not None
                    and f"Trust {weakened.confidence:.0%}"
                    in panel.row_for(skill.id).record_label.text())


def test_a_replayed_reply_is_marked_again_after_a_reload(
        qtbot, host: EngineHost, exchange: tuple[int, int]):
    window = open_window(qtbot, host)
    start(qtbot, host, window)
    skill = kept_skill(qtbot, host, *exchange)
    with qtbot.waitSignal(host.reply_finished, timeout=TURN_TIMEOUT_MS) as replayed:
        send(qtbot, window, REQUEST)
    replay_id = replayed.args[1].reply_id

    again = ChatWindow(host)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.history_loaded)
    bubble = again.view.bubble_for(replay_id)
    assert bubble is not None
    assert bubble.skill_label.text() == f"From memory: skill {skill.id}"
    assert not bubble.regenerate_button.isHidden()
    # The model's reply the skill was kept from carries no mark.
    original = again.view.bubble_for(exchange[1])
    assert original.skill_label.isHidden() and original.regenerate_button.isHidden()


def _message(message_id: int, source: str) -> Message:
    return Message(message_id, 1, "assistant", "text", "complete", source, None, 1, None,
                   0.0, 0.0, "full")


def test_marks_say_which_skill_replayed_or_helped_make_a_reply():
    replay = stored_skill_mark(_message(7, "skill"), SkillUse(7, 3, "replay", 0.99, None))
    assert (replay.kind, replay.text) == ("replay", "From memory: skill 3")
    deleted = stored_skill_mark(_message(7, "skill"), None)
    assert deleted.kind == "replay" and "deleted" in deleted.text
    example = stored_skill_mark(_message(8, "model"), SkillUse(8, 4, "example", 0.85, None))
    assert (example.kind, example.text) == ("example", "Used skill 4 as an example")
    assert stored_skill_mark(_message(9, "model"), None) is None
    live = turn_skill_mark(TurnResult(1, 9, "x", "complete", "model", 1.0, 1.0, 5,
                                      skill_example=4))
    assert (live.reply_id, live.kind, live.skill_id) == (9, "example", 4)
    failed = TurnResult(1, 0, "", "failed", "model", 0.0, None, 0, "no model")
    assert turn_skill_mark(failed) is None
