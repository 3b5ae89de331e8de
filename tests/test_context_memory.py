"""Context assembly with memory: facts and recalled memories as a reminder exchange,
inside the memory's share of the window, and the three context modes."""

from __future__ import annotations

import time

import pytest

from nexus_desktop.cli.why import explain_plan
from nexus_desktop.engine import Engine, Notice, TurnResult
from nexus_desktop.memory.context import MEMORY_SHARE, Budget, ContextBuilder
from nexus_desktop.memory.recall import Recall, RecalledFact
from nexus_desktop.memory.recap import recap_messages
from nexus_desktop.memory.retrieval import Memory


@pytest.fixture
def engine(quiet_engine: Engine) -> Engine:
    return quiet_engine


def fact(i: int, pinned: bool = False) -> RecalledFact:
    return RecalledFact(i, f"The user's thing {i} is value {i}.", f"Your thing {i} is value {i}.",
                        pinned, "test")


def memory(i: int, text: str = "we talked about gardening and tomatoes") -> Memory:
    return Memory("message", 1000 + i, f"{text} {i}", time.time() - 86400 * i, "user", None,
                  None, 0.5, "test")


def test_the_reminder_quotes_memories_and_the_assistant_tells_the_facts() -> None:
    recall = Recall("full", [fact(1), fact(2)], [memory(2)], [])
    user, assistant = recap_messages(recall)
    assert user["role"] == "user" and assistant["role"] == "assistant"
    assert " I said: we talked about gardening and tomatoes 2" in user["content"]
    assert user["content"].endswith("What do you remember about me?")
    assert assistant["content"] == "Your thing 1 is value 1. Your thing 2 is value 2."
    assert recap_messages(Recall("full", [], [memory(1)], []))[1]["content"] == \
        "Yes, I remember."
    assert recap_messages(Recall()) == []


def test_a_long_recalled_message_is_quoted_only_in_part() -> None:
    recall = Recall("full", [], [memory(1, "word " * 5000)], [])
    assert len(recap_messages(recall)[0]["content"]) < 600


def test_memory_sits_before_the_recent_turns_within_its_share(engine: Engine) -> None:
    for i in range(30):
        engine.session.add_user_message(f"turn {i} about the weather")
    current = engine.session.add_user_message("What is my thing 3?")
    recall = Recall("full", [fact(i, pinned=i == 39) for i in range(40)],
                    [memory(i) for i in range(30)], ["An older summary."])
    budget = Budget(512, 64)
    plan = ContextBuilder(engine.load_model(), engine.session, "You are Nexus.", 128,
                          budget).build(current, recall)
    assert len(plan.prompt_ids) <= budget.prompt_tokens
    # The reminder follows the user's own turns, so it joins the last of them.
    assert plan.messages[-3]["content"].endswith("What do you remember about me?")
    assert plan.messages[-2]["content"].startswith("Your thing")
    assert plan.messages[-1] == {"role": "user", "content": "What is my thing 3?"}
    # Not everything fits: memories go first, the pinned fact stays.
    assert len(plan.recall.memories) < 30 and len(plan.recall.facts) < 40
    assert 39 in [f.id for f in plan.recall.facts]
    memory_tokens = sum(engine.load_model().message_cost(m["content"])
                        for m in recap_messages(plan.recall))
    assert memory_tokens <= budget.prompt_tokens * MEMORY_SHARE
    assert plan.history_ids, "recent turns still get the rest of the window"


def test_context_modes(engine: Engine) -> None:
    engine.session.add_user_message("an earlier message")
    current = engine.session.add_user_message("hello")
    builder = ContextBuilder(engine.load_model(), engine.session, "You are Nexus.", 128,
                             Budget(512, 64))
    none = builder.build(current, Recall("none"))
    assert none.messages == [{"role": "system", "content": "You are Nexus."},
                             {"role": "user", "content": "hello"}]
    facts = builder.build(current, Recall("facts", [fact(1)]))
    assert facts.history_ids == [] and len(facts.messages) == 4
    full = builder.build(current, Recall("full", [fact(1)]))
    assert len(full.history_ids) == 1


def test_a_turn_remembers_a_stated_fact_and_why_explains_the_prompt(engine: Engine) -> None:
    events = list(engine.turn("My favourite colour is teal."))
    assert any(isinstance(e, Notice) and "favorite color is teal" in e.text for e in events)
    assert isinstance(events[-1], TurnResult)
    list(engine.turn("What colour do I like?", context="facts"))
    plan = engine.last_plan
    assert [f.text for f in plan.recall.facts] == ["The user's favorite color is teal."]
    assert plan.messages[-2]["content"] == "Your favorite color is teal."
    explained = explain_plan(plan)
    assert "Context mode: facts" in explained
    assert "#1 The user's favorite color is teal." in explained
    list(engine.turn("And now?", context="none"))
    assert engine.last_plan.recall.empty and len(engine.last_plan.messages) == 2
    assert "No reply yet" in explain_plan(None)


def test_a_forgotten_fact_leaves_the_context_retrieval_and_training_examples(engine) -> None:
    list(engine.turn("My dog's name is Biscuit."))
    list(engine.turn("How are you today?", context="full"))
    fact = engine.facts.active()[0]
    assert engine.last_plan.recall.facts[0].id == fact.id
    connection = engine.database.connection()
    assert connection.execute("SELECT count(*) FROM training_examples WHERE source_kind = 'fact' "
                              "AND source_id = ?",
                              (fact.id,)).get > 0
    engine.facts.forget(fact.id)

    list(engine.turn("Tell me something nice.", context="full"))
    plan = engine.last_plan
    assert plan.recall.facts == []
    prompt = "\n".join(m["content"] for m in plan.messages)
    assert "Biscuit" not in prompt, "neither as a fact nor through the turn that stated it"
    assert fact.source_message_id in plan.recall.outdated.message_ids
    found = engine.retriever.search("Biscuit dog name", k=5, kinds=("fact",))
    assert found == []
    assert connection.execute("SELECT count(*) FROM training_examples WHERE source_kind = 'fact' "
                              "AND source_id = ?",
                              (fact.id,)).get == 0
    assert connection.execute("SELECT action FROM fact_audit WHERE fact_id = ?",
                              (fact.id,)).get == "forget"
