"""The engine hosted in worker threads: a turn streams through signals and lands in the
database; controls, ratings and the status arrive on the GUI thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.ui.engine_host import EngineHost


@pytest.fixture
def host(qtbot, paths: AppPaths, tiny_settings: Settings) -> Iterator[EngineHost]:
    engine_host = EngineHost(paths, tiny_settings)
    with qtbot.waitSignal(engine_host.model_ready, timeout=60_000):
        engine_host.start()
    yield engine_host
    assert engine_host.shutdown()


def test_a_sent_message_is_committed_then_streams_and_lands_in_the_database(
        qtbot, host: EngineHost, paths: AppPaths):
    pieces: list[str] = []
    committed = []
    host.reply_piece.connect(lambda _turn, text: pieces.append(text))
    host.message_committed.connect(lambda _turn, message: committed.append(message))
    with qtbot.waitSignal(host.reply_finished, timeout=60_000) as finished:
        turn = host.send("hello there")
    turn_id, result = finished.args
    assert turn_id == turn
    assert committed[0].content == "hello there"
    assert result.status == "complete"
    assert "".join(pieces) == result.reply
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        stored = MessageStore(database).get(result.reply_id)
        assert stored is not None and stored.content == result.reply
        assert MessageStore(database).get(committed[0].id).content == "hello there"
    finally:
        database.close()


def test_an_empty_message_is_refused_with_a_reason(qtbot, host: EngineHost):
    with qtbot.waitSignal(host.message_refused, timeout=10_000) as refused:
        host.send("   ")
    assert "empty" in refused.args[1].lower()


def test_pause_and_resume_show_in_the_status(qtbot, host: EngineHost):
    host.pause()
    qtbot.waitUntil(lambda: host.engine.learning.state == "paused", timeout=10_000)
    with qtbot.waitSignal(host.status_changed, timeout=10_000,
                          check_params_cb=lambda s: s["daemon"]["paused"]):
        host.refresh_status()
    host.resume()
    qtbot.waitUntil(lambda: host.engine.learning.state != "paused", timeout=10_000)


def test_a_rating_is_saved_and_a_bad_reply_is_not_learned(qtbot, host: EngineHost):
    with qtbot.waitSignal(host.reply_finished, timeout=60_000) as finished:
        host.send("tell me something")
    reply_id = finished.args[1].reply_id
    errors = []
    host.rate_reply(reply_id, False, errors.append)
    qtbot.waitUntil(lambda: host.engine.ratings.of([reply_id]) == {reply_id: -1},
                    timeout=10_000)
    examples = host.engine.database.connection().execute(
        "SELECT count(*) FROM training_examples WHERE source_id = ?", (reply_id,)).get
    assert examples == 0
    host.rate_reply(reply_id, True, errors.append)
    qtbot.waitUntil(lambda: host.engine.ratings.of([reply_id]) == {reply_id: 1},
                    timeout=10_000)
    kind = host.engine.database.connection().execute(
        "SELECT kind FROM training_examples WHERE source_id = ?", (reply_id,)).get
    assert kind == "good"
    assert errors == []


def test_a_thought_reaches_the_gui_thread(qtbot, host: EngineHost):
    with qtbot.waitSignal(host.thought_added, timeout=10_000,
                          check_params_cb=lambda t: t.text == "learning paused by you"):
        host.pause()
