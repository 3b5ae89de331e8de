"""Reading requests for the skill library: tasks, keys, corrections, references back."""

from __future__ import annotations

import pytest

from nexus_desktop.memory.skill_requests import (
    is_correction,
    is_task_request,
    matching_text,
    refers_back,
    request_key,
    short_name,
)


@pytest.mark.parametrize("text", [
    "Rewrite this more politely: send me the report now",
    "Summarise: The meeting moved to Friday because the room was booked.",
    "summarize the plot of Hamlet in two lines",
    "Convert 5 miles to km",
    "Translate 'good morning' into French",
    "Draft an email to my landlord about the broken heater",
    "Explain recursion to a ten-year-old",
    "Please convert 3 cups to ml",
    "Could you please translate 'thank you' into Spanish?",
    "Hey, can you write a haiku about rain?",
    "How do I boil an egg?",
])
def test_task_requests_are_recognised(text: str):
    assert is_task_request(text)


@pytest.mark.parametrize("text", [
    "hi there", "I had a long day at work.", "My sister's name is Ola.",
    "What's my favorite color?", "Thanks!", "ok", "Do you like music?",
])
def test_conversation_is_not_a_task(text: str):
    assert not is_task_request(text)


def test_the_key_ignores_case_punctuation_politeness_and_articles():
    same = ["Convert 5 miles to km", "Please convert 5 miles to km.",
            "could you please CONVERT 5 miles to km?", "convert 5 miles to km, thanks",
            "Convert  5   miles to km!"]
    assert len({request_key(text) for text in same}) == 1


@pytest.mark.parametrize(("first", "second"), [
    ("convert 5 miles to km", "convert 5 km to miles"),
    ("convert 5 miles to km", "convert 50 miles to km"),
    ("convert 1.5 miles to km", "convert 15 miles to km"),
    ("translate 'good morning' into French", "translate 'good morning' into German"),
    ("rewrite this formally: see you soon", "rewrite this casually: see you soon"),
    ("explain why the sky is blue", "explain why the sky is not blue"),
    ("convert -10 °C to Fahrenheit", "convert 10 °C to Fahrenheit"),
    ("convert 20 € to $", "convert 20 $ to €"),
    ("calculate 12 + 7", "calculate 12 - 7"),
    ("calculate 6 * 4", "calculate 6 / 4"),
    ("convert 1,5 kg", "convert 15 kg"),
    ("count the capitals in: NASA", "count the capitals in: nasa"),
    ("translate 'Bill' into French", "translate 'bill' into French"),
    ("explain how to quickly cool a cake", "explain how to cool a cake"),
    ("write a thanks card for my teacher", "write a card for my teacher"),
])
def test_the_key_keeps_what_changes_the_request(first: str, second: str):
    assert request_key(first) != request_key(second)


def test_a_thousands_separator_and_the_instructions_case_do_not_matter():
    assert request_key("Convert 1,000 feet to m") == request_key("convert 1000 feet to m")
    assert request_key("COUNT the capitals in: NASA") == request_key("count the capitals in: NASA")


def test_the_matched_text_drops_what_only_changes_the_vector():
    assert matching_text("Hey, could you please  Calculate 7 \u00d7 8?!") == "Calculate 7 \u00d7 8"


def test_british_and_american_spellings_share_a_key():
    assert request_key("Summarize: the cat sat") == request_key("summarise: the cat sat")


@pytest.mark.parametrize("text", [
    "No, that's wrong", "nope", "That is not what I asked", "Actually, make it shorter",
    "Try again", "I meant kilometres", "Wrong answer", "not quite", "you misunderstood me",
])
def test_corrections_are_recognised(text: str):
    assert is_correction(text)


@pytest.mark.parametrize("text", [
    "Thanks!", "Great, now convert 10 miles", "Perfect", "Translate 'cat' into French",
    "Nobody told me that", "Notable people from Oslo?",
])
def test_other_messages_are_not_corrections(text: str):
    assert not is_correction(text)


@pytest.mark.parametrize(("text", "leans_on_conversation"), [
    ("summarise the above", True),
    ("translate that", True),
    ("rewrite your last answer more simply", True),
    ("Summarise this: the meeting moved to Friday.", False),
    ("translate 'that is fine' into French", False),
    ("Convert 5 miles to km", False),
])
def test_requests_that_point_back_into_the_conversation(text: str, leans_on_conversation: bool):
    assert refers_back(text) is leans_on_conversation


def test_a_short_name_is_the_first_words():
    assert short_name("Convert 5 miles to km") == "Convert 5 miles to km"
    assert short_name("Draft an email to my landlord about the broken heater") == \
        "Draft an email to my landlord about..."
