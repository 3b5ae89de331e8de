"""What the model is reminded of in one turn: facts, recalled memories, older summaries.

Chosen before the prompt is assembled; every item carries why it was chosen, which
`/why` in the terminal chat shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from nexus_desktop.config import Settings
from nexus_desktop.memory.retrieval import Memory, Retriever
from nexus_desktop.store.database import Database
from nexus_desktop.store.fact_phrasing import (
    FEELING_PREFIX,
    NOTE_KEY,
    fact_in_person,
    normalise_key,
)
from nexus_desktop.store.facts import Fact, FactStore

CONTEXT_MODES = ("full", "facts", "none")
# The newest summaries of older conversation that form the rolling summary.
SUMMARY_COUNT = 3
# How much of a message is read to see whether it states an outdated fact.
OUTDATED_CHECK_CHARS = 4000


@dataclass(frozen=True)
class RecalledFact:
    id: int
    text: str
    second_person: str
    pinned: bool
    why: str
    fact: Fact | None = None

    @classmethod
    def of(cls, fact: Fact, why: str) -> RecalledFact:
        spoken = fact_in_person(fact.subject, fact.key, fact.value, "second")
        return cls(fact.id, fact.text, spoken, fact.pinned, why, fact)


@dataclass(frozen=True)
class Outdated:
    """What the user has since corrected or asked to forget.

    Turns stating it are left out of the prompt (they stay in the history): a small model
    repeats what the conversation says more readily than what it is reminded of, and a
    forgotten fact must not come back through the recent turns.
    """

    message_ids: frozenset[int] = frozenset()
    # (key, value) pairs: a message naming both states the outdated fact.
    statements: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def hides(self, message_id: int, text: str) -> bool:
        if message_id in self.message_ids:
            return True
        if not self.statements:
            return False
        words = normalise_key(text[:OUTDATED_CHECK_CHARS])
        return any(key in words and value.search(words) for key, value in self.statements)


@dataclass
class Recall:
    """The memory part of one prompt."""

    mode: str = "full"
    facts: list[RecalledFact] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    outdated: Outdated = field(default_factory=Outdated)

    @property
    def empty(self) -> bool:
        return not (self.facts or self.memories or self.summaries)


class MemoryRecall:
    def __init__(self, database: Database, retriever: Retriever, settings: Settings) -> None:
        self.database = database
        self.retriever = retriever
        self.facts = FactStore(database)
        self.fact_items = settings.get("memory.fact_items")
        self.memory_items = settings.get("memory.retrieved_items")

    def recall(self, query: str, mode: str = "full", exclude_messages: Collection[int] = (),
               now: float | None = None) -> Recall:
        if mode not in CONTEXT_MODES:
            raise ValueError(f"context mode must be one of {', '.join(CONTEXT_MODES)}")
        result = Recall(mode)
        if mode == "none":
            return result
        now = time.time() if now is None else now
        result.facts = self._facts(query, now)
        if mode == "full":
            result.outdated = self._outdated()
            excluded = [("message", message_id) for message_id in exclude_messages]
            excluded += [("message", message_id) for message_id in result.outdated.message_ids]
            if self.memory_items:
                found = self.retriever.search(
                    query, self.memory_items, kinds=("message", "summary"), now=now,
                    exclude=excluded)
                result.memories = [m for m in found if not result.outdated.hides(
                    m.id if m.kind == "message" else -1, m.text)]
            result.summaries = [text for text in self._summaries()
                                if not result.outdated.hides(-1, text)]
        return result

    def _outdated(self) -> Outdated:
        """Superseded and forgotten facts whose value is not true again now."""
        facts = self.facts.all(include_inactive=True)
        current = {(f.subject, f.key, f.value.lower()) for f in facts if f.status == "active"}
        message_ids: set[int] = set()
        statements: list[tuple[str, re.Pattern[str]]] = []
        for fact in facts:
            if fact.status == "active" or (fact.subject, fact.key, fact.value.lower()) in current:
                continue
            if fact.source_message_id is not None:
                message_ids.add(fact.source_message_id)
            # Likes and notes are not stated with their key's words; their source suffices.
            if fact.key != NOTE_KEY and not fact.key.startswith(FEELING_PREFIX):
                value = re.compile(rf"\b{re.escape(normalise_key(fact.value))}\b")
                statements.append((fact.key, value))
        return Outdated(frozenset(message_ids), tuple(statements))

    def _facts(self, query: str, now: float) -> list[RecalledFact]:
        """Pinned facts, then the ones relevant to ``query``, then the newest, up to the limit."""
        if not self.fact_items:
            return []
        active = {fact.id: fact for fact in self.facts.active()}
        chosen: dict[int, RecalledFact] = {}
        for fact in active.values():
            if fact.pinned:
                chosen[fact.id] = RecalledFact.of(fact, "pinned")
        if len(chosen) < self.fact_items and len(active) > self.fact_items:
            for memory in self.retriever.search(query, self.fact_items, kinds=("fact",),
                                                now=now):
                if memory.id in active:
                    chosen.setdefault(memory.id, RecalledFact.of(active[memory.id],
                                                                 f"relevant: {memory.why}"))
        for fact in active.values():
            chosen.setdefault(fact.id, RecalledFact.of(fact, "one of the newest facts"))
        return list(chosen.values())[:self.fact_items]

    def _summaries(self) -> list[str]:
        rows = self.database.connection().execute(
            "SELECT first_at, last_at, text FROM summaries ORDER BY last_message_id DESC "
            "LIMIT ?", (SUMMARY_COUNT,)).fetchall()
        return [text for _first, _last, text in reversed(rows)]
