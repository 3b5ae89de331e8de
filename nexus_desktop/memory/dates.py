"""Dates in questions: "last week", "in May", "3 days ago" become a time range.

Retrieval favours memories from that range, and the words naming it are taken out of the
query so that "last week" does not make every message containing "week" look relevant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1)
    for name in names}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUMBER = r"(\d+|a couple of|a few|an?|one|two|three|four|five|six|seven|eight|nine|ten)"


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float
    phrase: str


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


def _span(first: date, days: int, phrase: str) -> TimeRange:
    return TimeRange(_day_start(first), _day_start(first + timedelta(days=days)), phrase)


def _month_span(year: int, month: int, phrase: str) -> TimeRange:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return TimeRange(_day_start(date(year, month, 1)), _day_start(following), phrase)


def _relative(match: re.Match[str], today: date) -> TimeRange | None:
    word = match.group(0)
    lowered = word.lower()
    if lowered == "today":
        return _span(today, 1, word)
    if lowered == "yesterday":
        return _span(today - timedelta(days=1), 1, word)
    if lowered in ("this week", "last week"):
        monday = today - timedelta(days=today.weekday())
        if lowered == "last week":
            monday -= timedelta(days=7)
        return _span(monday, 7, word)
    if lowered in ("this month", "last month"):
        year, month = today.year, today.month
        if lowered == "last month":
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return _month_span(year, month, word)
    if lowered in ("this year", "last year"):
        year = today.year - (lowered == "last year")
        return TimeRange(_day_start(date(year, 1, 1)), _day_start(date(year + 1, 1, 1)), word)
    if lowered in ("recently", "lately", "the other day"):
        return _span(today - timedelta(days=14), 15, word)
    return None


def find_time_range(query: str, now: float) -> TimeRange | None:
    """The first date expression in ``query`` as a range of epoch seconds, or None."""
    today = datetime.fromtimestamp(now).date()
    text = query.lower()
    match = re.search(rf"\b{_NUMBER} (day|week|month|year)s? ago\b", text)
    if match:
        count = int(match.group(1)) if match.group(1).isdigit() else _NUMBERS[match.group(1)]
        days = count * _UNITS[match.group(2)]
        # "3 weeks ago" means around then, not exactly that day.
        slack = max(1, _UNITS[match.group(2)] // 2)
        return _span(today - timedelta(days=days + slack), 2 * slack + 1, match.group(0))
    match = re.search(r"\b(?:last|on|this past) (" + "|".join(WEEKDAYS) + r")\b", text)
    if match:
        back = (today.weekday() - WEEKDAYS.index(match.group(1))) % 7 or 7
        return _span(today - timedelta(days=back), 1, match.group(0))
    match = re.search(rf"\b(?:on |in )?({_MONTH_NAMES}) (\d{{1,2}})(?:st|nd|rd|th)?"
                      rf"(?:,? (\d{{4}}))?\b", text)
    if match and 1 <= int(match.group(2)) <= 31:
        year = int(match.group(3)) if match.group(3) else today.year
        month = MONTHS[match.group(1)]
        try:
            day = date(year, month, int(match.group(2)))
        except ValueError:
            day = None
        if day is not None:
            if not match.group(3) and day > today:
                day = day.replace(year=year - 1)
            return _span(day, 1, match.group(0))
    match = re.search(rf"\b(?:in|during|from|back in|since) ({_MONTH_NAMES})(?: (\d{{4}}))?\b",
                      text)
    if match:
        month = MONTHS[match.group(1)]
        year = int(match.group(2)) if match.group(2) else today.year
        if not match.group(2) and date(year, month, 1) > today:
            year -= 1
        return _month_span(year, month, match.group(0))
    match = re.search(r"\bin (\d{4})\b", text)
    if match and 1970 <= int(match.group(1)) <= today.year + 1:
        year = int(match.group(1))
        return TimeRange(_day_start(date(year, 1, 1)), _day_start(date(year + 1, 1, 1)),
                         match.group(0))
    match = re.search(r"\b(today|yesterday|(?:this|last) (?:week|month|year)|recently|lately|"
                      r"the other day)\b", text)
    if match:
        return _relative(match, today)
    return None


def without_phrase(query: str, found: TimeRange | None) -> str:
    """``query`` with the date expression removed, for keyword and vector search."""
    if found is None:
        return query
    start = query.lower().find(found.phrase)
    if start < 0:
        return query
    rest = (query[:start] + query[start + len(found.phrase):]).strip()
    return rest or query
