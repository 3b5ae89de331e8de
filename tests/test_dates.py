"""Dates named in questions become time ranges for retrieval."""

from __future__ import annotations

from datetime import datetime

import pytest

from nexus_desktop.memory.dates import find_time_range, without_phrase

# A Wednesday.
NOW = datetime(2026, 6, 17, 15, 30).timestamp()


def _days(found) -> tuple[str, str]:
    start = datetime.fromtimestamp(found.start)
    last = datetime.fromtimestamp(found.end - 1)
    return start.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")


@pytest.mark.parametrize(("question", "first", "last"), [
    ("what did I cook yesterday?", "2026-06-16", "2026-06-16"),
    ("what did we talk about today", "2026-06-17", "2026-06-17"),
    ("what did I cook last week?", "2026-06-08", "2026-06-14"),
    ("anything new this week?", "2026-06-15", "2026-06-21"),
    ("what did I say about the dentist in May?", "2026-05-01", "2026-05-31"),
    ("what happened in December?", "2025-12-01", "2025-12-31"),
    ("what did I plan in March 2025", "2025-03-01", "2025-03-31"),
    ("what did I do on March 3?", "2026-03-03", "2026-03-03"),
    ("what did I do on May 3rd, 2025?", "2025-05-03", "2025-05-03"),
    ("what did I do last Monday?", "2026-06-15", "2026-06-15"),
    ("what did I do on Friday?", "2026-06-12", "2026-06-12"),
    ("what did I say 3 days ago", "2026-06-13", "2026-06-15"),
    ("what did I buy two weeks ago", "2026-05-31", "2026-06-06"),
    ("where was I a month ago", "2026-05-03", "2026-06-02"),
    ("what did I read last month", "2026-05-01", "2026-05-31"),
    ("what did I do in 2025", "2025-01-01", "2025-12-31"),
    ("what have I mentioned recently", "2026-06-03", "2026-06-17"),
])
def test_date_expressions_become_ranges(question: str, first: str, last: str) -> None:
    found = find_time_range(question, NOW)
    assert found is not None, question
    assert _days(found) == (first, last)


@pytest.mark.parametrize("question", [
    "what is my favorite color?",
    "may I ask you something?",
    "how many days are in a week?",
    "tell me about the march of the penguins",
])
def test_questions_without_dates_have_no_range(question: str) -> None:
    assert find_time_range(question, NOW) is None


def test_last_january_is_the_most_recent_one() -> None:
    january = datetime(2026, 2, 10).timestamp()
    found = find_time_range("what did I do in January", january)
    assert _days(found) == ("2026-01-01", "2026-01-31")


def test_the_date_phrase_is_taken_out_of_the_query() -> None:
    question = "What did I cook last week?"
    assert without_phrase(question, find_time_range(question, NOW)) == "What did I cook ?"
    assert without_phrase("favorite color", None) == "favorite color"
