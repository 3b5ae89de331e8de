"""Extractive summaries for the memory lifecycle: the first sentences of a reply, and what
the user said over a stretch of conversation, with dates.

Extractive on purpose: the bundled model is small and would invent things, and a summary
built from the user's own words never claims what was not said. The originals are kept in
the archive, so nothing here has to be complete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SUMMARY_MARK = "[summary] "
REPLY_SUMMARY_CHARS = 240
LINE_CHARS = 160

_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def first_sentences(text: str, limit: int) -> tuple[str, bool]:
    """As many whole first sentences of ``text`` as fit in ``limit`` characters (at least
    the start of the first, cut at a word); True when something was left out."""
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat, False
    taken = ""
    for sentence in _SENTENCE_END.split(flat):
        candidate = f"{taken} {sentence}" if taken else sentence
        if len(candidate) > limit:
            break
        taken = candidate
    if not taken:
        cut = flat[: limit - 1]
        taken = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return taken, True


def summarise_reply(text: str, limit: int = REPLY_SUMMARY_CHARS) -> str | None:
    """The short form a compressed reply keeps in place of its text, or None when the text
    is short enough to keep as it is."""
    summary, shortened = first_sentences(text, limit)
    if not shortened:
        return None
    return f"{SUMMARY_MARK}{summary} …"


@dataclass(frozen=True)
class Said:
    """One message of a stretch, as the stretch summary needs it."""

    role: str
    speaker: str | None
    text: str
    created_at: float


def _when(at: float, previous: datetime | None) -> tuple[str, datetime]:
    moment = datetime.fromtimestamp(at)
    if previous is not None and previous.date() == moment.date():
        return f"{moment:%H:%M}", moment
    return f"{moment:%Y-%m-%d %H:%M}", moment


def summarise_stretch(messages: Sequence[Said]) -> str:
    """What was said over a stretch of turns, oldest first: a header with the dates, then
    the first sentence(s) of each thing the user said (the replies only when the stretch
    has nothing from the user)."""
    first = datetime.fromtimestamp(messages[0].created_at)
    last = datetime.fromtimestamp(messages[-1].created_at)
    turns = sum(1 for m in messages if m.role == "user")
    span = f"{first:%Y-%m-%d %H:%M} to {last:%H:%M}" if first.date() == last.date() else (
        f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
    )
    said = [m for m in messages if m.role == "user" and m.text.strip()]
    who = "the user said"
    if not said:
        said = [m for m in messages if m.text.strip()]
        who = "Nexus said"
    lines = [f"Conversation of {span} ({turns} turn{'' if turns == 1 else 's'}); {who}:"]
    previous: datetime | None = None
    for message in said:
        stamp, previous = _when(message.created_at, previous)
        text = message.text.removeprefix(SUMMARY_MARK)
        sentence, shortened = first_sentences(text, LINE_CHARS)
        name = f"{message.speaker}: " if message.speaker else ""
        lines.append(f"- {stamp} {name}{sentence}{' …' if shortened else ''}")
    return "\n".join(lines)
