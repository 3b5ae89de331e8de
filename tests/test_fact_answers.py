"""Direct questions about remembered facts, answered from memory."""

from __future__ import annotations

import time

import pytest

from nexus_desktop.embed.shared import shared_embedding_model
from nexus_desktop.memory.fact_answers import FactAnswerer, looks_like_question
from nexus_desktop.store.facts import Fact


def fact(fact_id: int, subject: str, key: str, value: str) -> Fact:
    now = time.time()
    return Fact(fact_id, subject, key, value, f"{subject} {key} {value}", "active", False, 0.9,
                "pattern", None, None, now, now, 0, None)


FACTS = [fact(1, "user", "favorite color", "teal"), fact(2, "user's dog", "name", "Rex"),
         fact(3, "user", "home city", "Lyon")]


@pytest.mark.parametrize(("question", "answer"), [
    ("what's my favorite color?", "Your favorite color is teal."),
    ("What is my favourite colour", "Your favorite color is teal."),
    ("Tell me my dog's name.", "Your dog's name is Rex."),
    ("where do I live?", "You live in Lyon."),
])
def test_the_same_question_is_answered_without_the_embedding_model(question, answer) -> None:
    found = FactAnswerer(None).answer(question, FACTS)
    assert found is not None and found.answer == answer and found.similarity == 1.0


@pytest.mark.parametrize("text", [
    "my favorite color is teal",            # a statement, not a question
    "What's the weather like in Paris?",    # a question no fact answers
    "Is teal a good color for a kitchen?",
])
def test_other_messages_go_to_the_model(text: str) -> None:
    assert FactAnswerer(None).answer(text, FACTS) is None


@pytest.mark.slow
def test_a_question_that_means_the_same_is_matched_by_meaning() -> None:
    model = shared_embedding_model()
    answerer = FactAnswerer(lambda text: model.encode([text])[0])
    found = answerer.answer("do you still remember what my favourite color is?", FACTS)
    assert found is not None and found.fact_id == 1 and 0.9 <= found.similarity < 1.0
    assert answerer.answer("What color should I paint the kitchen?", FACTS) is None
    assert answerer.answer("What is my cat's name?", FACTS) is None


def test_what_counts_as_a_question() -> None:
    assert looks_like_question("where do I live")
    assert looks_like_question("my color?")
    assert not looks_like_question("I live in Lyon.")
