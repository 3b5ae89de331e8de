"""The persistent session through the engine: every user message is committed first, and
every reply ends recorded with what happened to it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from nexus_desktop.engine import Engine, Notice, Piece, TurnResult
from nexus_desktop.errors import InputError, StorageFullError, StoreError
from nexus_desktop.llm.generation import CancelToken
from nexus_desktop.memory.session import MAX_MESSAGE_CHARS, PersistentSession
from nexus_desktop.store.messages import Message


@pytest.fixture
def engine(paths, tiny_settings) -> Iterator[Engine]:
    engine = Engine(paths, tiny_settings)
    engine.open()
    yield engine
    engine.close()


def all_messages(engine: Engine) -> list[Message]:
    return engine.session.history(10_000)


def result_of(events) -> TurnResult:
    results = [e for e in events if isinstance(e, TurnResult)]
    assert len(results) == 1
    return results[0]


def test_a_turn_stores_the_user_message_then_the_complete_reply(engine):
    events = list(engine.turn("Hello there"))
    result = result_of(events)
    streamed = "".join(e.text for e in events if isinstance(e, Piece))
    user, reply = all_messages(engine)
    assert (user.role, user.content, user.status) == ("user", "Hello there", "complete")
    assert (reply.role, reply.status, reply.reply_to) == ("assistant", "complete", user.id)
    assert reply.content == streamed == result.reply
    assert result.status == "complete" and result.source == "model"
    assert result.ttft_ms is not None and result.latency_ms >= result.ttft_ms


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_blank_messages_are_refused_and_not_stored(engine, text):
    with pytest.raises(InputError, match="empty"):
        list(engine.turn(text))
    assert all_messages(engine) == []


def test_a_lone_surrogate_is_refused_clearly(engine):
    with pytest.raises(InputError) as caught:
        list(engine.turn("broken \ud800 pair"))
    assert "U+D800" in str(caught.value) and "not saved" in str(caught.value)
    assert all_messages(engine) == []


def test_an_enormous_message_is_refused_before_storing(engine):
    with pytest.raises(InputError, match="Send it in parts"):
        list(engine.turn("x" * (MAX_MESSAGE_CHARS + 1)))
    assert all_messages(engine) == []


def test_nul_bytes_and_unusual_text_are_stored_faithfully(engine):
    text = "nul\x00inside, tab\t, emoji 😀, rtl שלום, combining é"
    list(engine.turn(text))
    assert all_messages(engine)[0].content == text


def test_a_one_megabyte_message_is_stored_whole_and_shortened_for_the_model(engine):
    text = ("The quick brown fox jumps over the lazy dog. " * 23_302)[:1_048_576]
    events = list(engine.turn(text))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "1,048,576 characters" in notices[0]
    assert all_messages(engine)[0].content == text
    plan = engine.last_plan
    assert plan is not None and len(plan.prompt_ids) <= plan.budget.prompt_tokens
    assert plan.shortened[0].original_chars == 1_048_576


def test_a_full_disk_refuses_the_message_before_the_model_sees_it(engine, monkeypatch):
    list(engine.turn("saved before the disk filled"))
    connection = engine.database.connection()
    pages = connection.pragma("page_count")
    connection.pragma("max_page_count", pages)

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the model was asked to answer an unsaved message")

    monkeypatch.setattr(engine, "load_model", must_not_run)
    with pytest.raises(StorageFullError, match=r"disk .* is full"):
        list(engine.turn("a long message that needs new pages " * 2000))
    connection.pragma("max_page_count", 1_000_000)
    contents = [m.content for m in all_messages(engine)]
    assert contents[0] == "saved before the disk filled"
    assert len(contents) == 2


def test_cancel_mid_answer_keeps_the_partial_reply_marked_cancelled(engine):
    engine.settings.set("generation.max_new_tokens", 200)
    cancel = CancelToken()
    pieces = []
    for event in engine.turn("Tell me a long story", cancel):
        if isinstance(event, Piece):
            pieces.append(event.text)
            if len(pieces) == 3:
                cancel.cancel()
        elif isinstance(event, TurnResult):
            result = event
    assert result.status == "cancelled"
    reply = all_messages(engine)[-1]
    assert reply.status == "cancelled"
    assert reply.content == "".join(pieces) and len(pieces) == 3


def test_a_consumer_that_stops_listening_leaves_a_cancelled_reply(engine):
    engine.settings.set("generation.max_new_tokens", 200)
    turn = engine.turn("Start answering")
    first = next(e for e in turn if isinstance(e, Piece))
    turn.close()
    reply = all_messages(engine)[-1]
    assert reply.status == "cancelled" and reply.content == first.text


def test_a_failure_mid_answer_is_recorded_with_the_text_so_far(engine, monkeypatch):
    model = engine.load_model()

    def broken_stream(*_args, **_kwargs):
        yield "partial "
        raise RuntimeError("the GPU fell off")

    monkeypatch.setattr(model, "stream", broken_stream)
    result = result_of(engine.turn("Hi"))
    assert result.status == "failed" and "the GPU fell off" in result.error
    user, reply = all_messages(engine)
    assert user.content == "Hi"
    assert (reply.status, reply.content) == ("failed", "partial ")
    assert "the GPU fell off" in reply.error


def test_a_model_that_cannot_load_still_keeps_the_message(engine, tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    engine.settings.set("model.source", str(empty))
    result = result_of(engine.turn("Are you there?"))
    assert result.status == "failed" and "Could not load the model" in result.error
    user, reply = all_messages(engine)
    assert user.content == "Are you there?" and reply.status == "failed"


def test_replies_cut_off_by_a_crash_are_marked_interrupted_at_the_next_start(engine):
    session = engine.session
    user = session.add_user_message("question before the crash")
    reply = session.begin_reply(user, "tiny")
    session.save_partial(reply, "half an ans")
    restarted = PersistentSession(engine.database)
    assert restarted.interrupted_at_start == 1
    stored = restarted.messages.get(reply.id)
    assert stored.status == "interrupted" and stored.content == "half an ans"
    assert stored.error and "stopped" in stored.error


def test_the_session_is_the_same_one_after_reopening(paths, tiny_settings):
    first = Engine(paths, tiny_settings)
    first.open()
    session_id = first.session.id
    list(first.turn("remember me"))
    first.close()
    second = Engine(paths, tiny_settings)
    second.open()
    assert second.session.id == session_id
    assert second.session.history(1)[0].role == "assistant"
    assert second.database.connection().execute("SELECT count(*) FROM sessions").get == 1
    second.close()


def test_close_frees_the_model_and_the_learner_at_once(paths, tiny_settings):
    # The engine's parts call back into it, so the engine itself waits for the cycle
    # collector; what it holds must not. The collector is off here to see that.
    engine = Engine(paths, tiny_settings)
    engine.open(background_indexing=False)
    result_of(engine.turn("Hello there"))
    model = weakref.ref(engine.load_model().model)
    learner = weakref.ref(engine.learner())
    gc.disable()
    try:
        engine.close()
        assert model() is None and learner() is None
    finally:
        gc.enable()
    with pytest.raises(StoreError, match="closed"):
        engine.load_model()
