"""The shipped anchor set: general questions the learner keeps the adapter's answers close
to the base model's on. It must stay apart from the canary set, which is the held-out check
of whether learning harmed the model, and say nothing about the user."""

from __future__ import annotations

import re

from nexus_desktop.learning.canary import KINDS, CanaryItem, load_canary
from nexus_desktop.paths import configs_dir

# The user speaks in prompts, Nexus Desktop in answers: "I"/"my" in a prompt and "you" in
# an answer would be about the user. "You" in a prompt addresses Nexus Desktop ("How are
# you today?"), but "your" would ask about Nexus Desktop itself, so it is refused too.
USER_IN_PROMPT = re.compile(
    r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|us|our|ours|your|yours|yourself)\b",
    re.IGNORECASE)
USER_IN_ANSWER = re.compile(
    r"\b(you|you're|you've|you'd|you'll|your|yours|yourself|my|mine|myself)\b", re.IGNORECASE)


def anchors() -> tuple[CanaryItem, ...]:
    return load_canary(configs_dir() / "anchors.jsonl")


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def overlap(a: str, b: str) -> float:
    first, second = words(a), words(b)
    return len(first & second) / len(first | second)


def test_the_shipped_anchors_load_with_both_kinds_and_no_duplicates():
    items = anchors()
    assert len(items) >= 40
    assert {item.kind for item in items} == set(KINDS)
    prompts = [item.prompt.strip().lower() for item in items]
    assert len(prompts) == len(set(prompts))
    assert all(item.answer.strip() and len(item.answer) < 160 for item in items)


def test_no_anchor_repeats_a_canary_question_or_answer():
    canary = load_canary()
    canary_prompts = {item.prompt.strip().lower() for item in canary}
    for anchor in anchors():
        assert anchor.prompt.strip().lower() not in canary_prompts, anchor.prompt
        for item in canary:
            assert overlap(anchor.prompt, item.prompt) < 0.6, (anchor.prompt, item.prompt)
            assert overlap(anchor.answer, item.answer) < 0.6, (anchor.answer, item.answer)


def test_the_overlap_check_catches_a_close_paraphrase():
    assert overlap("Who wrote Romeo and Juliet?", 'Who wrote "Romeo and Juliet"?') == 1.0
    assert overlap("What is the capital of Germany?", "What is the capital of France?") >= 0.6
    assert overlap("Good night!", "What is 7 times 8?") == 0.0


def test_the_shipped_anchors_say_nothing_about_the_user():
    for item in anchors():
        assert not USER_IN_PROMPT.search(item.prompt), item.prompt
        assert not USER_IN_ANSWER.search(item.answer), item.answer
