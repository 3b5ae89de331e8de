"""How much a message is worth remembering, scored once when it is stored.

A cheap heuristic, so every message gets a score without waiting for a model: what the
user says about themselves, plans, names, numbers and dates weigh more than small talk.
Retrieval uses it as one of its re-ranking signals.
"""

from __future__ import annotations

import math
import re

_SMALL_TALK = re.compile(
    r"^\W*(ok(ay)?|thanks?( you)?|thx|cool|nice|great|yes|no|yep|nope|sure|hi|hello|hey|bye|"
    r"good (morning|night|evening)|lol|haha|hmm+)\W*$", re.IGNORECASE)
_SELF = re.compile(r"\b(i|i'm|i've|i'll|my|mine|we|our)\b", re.IGNORECASE)
_REMEMBER = re.compile(r"\b(remember|don't forget|do not forget|note that|important)\b",
                       re.IGNORECASE)
_PLAN = re.compile(r"\b(tomorrow|next (week|month|year)|on (mon|tues|wednes|thurs|fri|satur|"
                   r"sun)day|appointment|deadline|birthday|meeting|trip|flight)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


def score_importance(text: str, role: str) -> float:
    """A score from 0 (small talk) to 1 (something the user clearly wants remembered)."""
    stripped = text.strip()
    if not stripped or _SMALL_TALK.match(stripped):
        return 0.05
    score = 0.15 + min(0.2, math.log10(1 + len(stripped)) / 15)
    if role == "user":
        score += 0.1
        if _SELF.search(stripped):
            score += 0.15
    if _REMEMBER.search(stripped):
        score += 0.3
    if _PLAN.search(stripped):
        score += 0.1
    if _NUMBER.search(stripped):
        score += 0.05
    if _NAME.search(stripped):
        score += 0.05
    return round(min(1.0, score), 3)
