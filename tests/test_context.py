"""Context assembly: the most recent turns that fit, never more than the window holds."""

from __future__ import annotations

import time

import pytest

from nexus_desktop.engine import Engine, TurnResult
from nexus_desktop.errors import ConfigError
from nexus_desktop.llm import generation
from nexus_desktop.memory.context import Budget, ContextBuilder
from nexus_desktop.store.connection import write_transaction


@pytest.fixture
def engine(quiet_engine: Engine) -> Engine:
    return quiet_engine


def add_history(engine: Engine, turns: int, text: str = "turn {i}: some words about day {i}"):
    """Write ``turns`` user/assistant pairs in one transaction (fast, like years of use)."""
    connection = engine.database.connection()
    now = time.time() - turns * 60
    rows = []
    for i in range(turns):
        rows.append((engine.session.id, "user", text.format(i=i), now + i * 60))
        rows.append((engine.session.id, "assistant", f"reply {i}", now + i * 60 + 1))
    with write_transaction(connection):
        connection.executemany(
            "INSERT INTO messages(session_id, role, content, created_at) VALUES (?, ?, ?, ?)", rows
        )


def builder(engine: Engine, window: int = 512, reply: int = 64, cap: int = 128) -> ContextBuilder:
    return ContextBuilder(engine.load_model(), engine.session, "You are Nexus.", cap,
                          Budget(window, reply))


def test_recent_turns_fill_the_budget_newest_first(engine):
    add_history(engine, 200)
    current = engine.session.add_user_message("What did we talk about?")
    plan = builder(engine).build(current)
    assert len(plan.prompt_ids) <= plan.budget.prompt_tokens
    newest_ids = [m.id for m in engine.session.before(current.id, len(plan.history_ids))]
    assert plan.history_ids == newest_ids
    assert 10 < len(plan.history_ids) < 400
    assert plan.messages[0] == {"role": "system", "content": "You are Nexus."}
    assert plan.messages[-1] == {"role": "user", "content": "What did we talk about?"}


def test_a_megabyte_message_and_ten_thousand_turns_never_overflow_the_window(engine, monkeypatch):
    add_history(engine, 10_000)
    engine.settings.set("generation.max_new_tokens", 4096)
    window = engine.load_model().info.context_window
    assert window == 512  # the tiny model's own limit, below the configured 2048
    seen: list[int] = []
    real_forward = generation._forward

    def measuring_forward(model, ids, cache):
        seen.append(cache.get_seq_length() + ids.shape[1])
        return real_forward(model, ids, cache)

    monkeypatch.setattr(generation, "_forward", measuring_forward)
    huge = "A very long paste. " * 55_189
    assert len(huge) > 1_000_000
    results = [e for e in engine.turn(huge) if isinstance(e, TurnResult)]
    assert results[0].status == "complete"
    assert seen and max(seen) <= window
    plan = engine.last_plan
    assert len(plan.prompt_ids) <= plan.budget.prompt_tokens
    assert plan.budget.reply_tokens == window // 2
    assert engine.session.history(2)[0].content == huge


def test_a_message_over_the_cap_keeps_its_head_and_tail(engine):
    text = "BEGINNING " + "middle words " * 2000 + " THE END"
    current = engine.session.add_user_message(text)
    plan = builder(engine, cap=100).build(current)
    shown = plan.messages[-1]["content"]
    assert shown.startswith("BEGINNING") and shown.endswith("THE END")
    assert "characters of this message are not shown here" in shown
    assert plan.shortened[0].original_chars == len(text)
    assert engine.load_model().count_tokens(shown) <= 100 + 40


def test_cancelled_and_interrupted_replies_count_but_failed_ones_do_not(engine):
    session = engine.session
    question = session.add_user_message("first question")
    failed = session.begin_reply(question, "tiny")
    session.finish_reply(failed, "garbage from a failure", "failed", "boom")
    again = session.add_user_message("second question")
    cancelled = session.begin_reply(again, "tiny")
    session.finish_reply(cancelled, "stopped half", "cancelled")
    current = session.add_user_message("third question")
    plan = builder(engine).build(current)
    texts = [m["content"] for m in plan.messages]
    assert not any("garbage" in t for t in texts)
    # Two user messages in a row (the failed reply is left out) are merged into one turn,
    # because some chat templates insist that roles alternate.
    assert texts[1:] == ["first question\n\nsecond question", "stopped half", "third question"]


def test_a_persona_that_fills_the_window_is_a_clear_settings_error(engine):
    current = engine.session.add_user_message("hi")
    crowded = ContextBuilder(engine.load_model(), engine.session, "word " * 600, 128,
                             Budget(512, 64))
    with pytest.raises(ConfigError, match=r"chat\.persona"):
        crowded.build(current)


def test_budget_leaves_at_least_half_the_window_for_the_prompt():
    assert Budget.for_window(2048, 384) == Budget(2048, 384)
    assert Budget.for_window(512, 4096).reply_tokens == 256
    assert Budget.for_window(512, 4096).prompt_tokens == 256


def test_the_recent_turns_keep_their_start_until_they_must_slide(engine):
    add_history(engine, 60)
    first = engine.session.add_user_message("first question")
    full = builder(engine).build(first)
    # The window was full: the next turn cannot start at the same message, so a quarter
    # of the room is freed at once.
    engine.session.messages.append(engine.session.id, "assistant", "a short answer")
    second = engine.session.add_user_message("second question")
    slid = builder(engine).build(second, keep_from=full.history_ids[0])
    fresh = builder(engine).build(second)
    assert slid.history_ids[0] > fresh.history_ids[0] > full.history_ids[0]
    assert slid.history_ids[-1] == fresh.history_ids[-1] == second.id - 1
    assert len(slid.prompt_ids) < 0.9 * len(fresh.prompt_ids)
    # The turns after it keep that start while they fit, so their prompts share a prefix.
    engine.session.messages.append(engine.session.id, "assistant", "another answer")
    third = engine.session.add_user_message("third question")
    kept = builder(engine).build(third, keep_from=slid.history_ids[0])
    assert kept.history_ids[0] == slid.history_ids[0]
    assert kept.history_ids[-1] == third.id - 1
    shared = len(slid.prompt_ids) - 8
    assert kept.prompt_ids[:shared] == slid.prompt_ids[:shared]
