"""Context assembly: what the model reads for one turn, always inside its token window.

The persona (with the rolling summary of older conversation), then the most recent turns
that fit, newest kept first, then the recalled memory as a short reminder exchange
(facts, memories with their dates) and, for a request like one the skill library kept, that
request and its reply as a worked example, with the current message last. Memory takes at most
``MEMORY_SHARE`` of the prompt; what does not fit is dropped, least important first. A
message longer than ``message_tokens`` is shortened in the prompt only (its head and tail
kept, with a marker), never in the history.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from nexus_desktop.errors import ConfigError
from nexus_desktop.memory.recall import Outdated, Recall
from nexus_desktop.memory.recap import recap_messages, summary_block
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.store.messages import Message

PAGE_SIZE = 64
# Statuses whose text the user saw, so the model should see it too.
_SHOWN_STATUSES = {"complete", "cancelled", "interrupted"}
_MARKER = (
    "\n[... {omitted:,} characters of this message are not shown here; "
    "the whole message is saved ...]\n"
)
# Tokens are rarely longer than this many characters; used to cut text before tokenizing.
_CHARS_PER_TOKEN_BOUND = 8
# The most of the prompt that recalled memory (facts, memories, summaries) may take.
MEMORY_SHARE = 0.4
# The most of the prompt a worked example (a skill for a similar request) may take.
EXAMPLE_SHARE = 0.25
# When the recent turns no longer fit from where they started last time, this share of
# their room is freed at once, so that the next turns start at the same message again
# (and the model can reuse what it computed for them).
SLIDE_SHARE = 0.25


class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...
    def message_cost(self, text: str) -> int: ...
    def render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True
               ) -> list[int]: ...
    def truncate_tokens(self, text: str, max_tokens: int) -> str: ...
    def truncate_tokens_from_end(self, text: str, max_tokens: int) -> str: ...


@dataclass(frozen=True)
class Shortened:
    message_id: int
    original_chars: int
    shown_chars: int


@dataclass(frozen=True)
class Budget:
    """How a context window is split between the prompt and the reply."""

    context_window: int
    reply_tokens: int

    @classmethod
    def for_window(cls, context_window: int, max_new_tokens: int) -> Budget:
        return cls(context_window, max(1, min(max_new_tokens, context_window // 2)))

    @property
    def prompt_tokens(self) -> int:
        return self.context_window - self.reply_tokens


@dataclass
class PromptPlan:
    prompt_ids: list[int]
    messages: list[dict[str, str]]
    history_ids: list[int]
    budget: Budget
    shortened: list[Shortened] = field(default_factory=list)
    recall: Recall = field(default_factory=Recall)


@dataclass(frozen=True)
class _Entry:
    message_id: int
    role: str
    text: str
    original_chars: int
    shortened: bool
    reply_to: int | None = None


class ContextBuilder:
    def __init__(self, model: TokenCounter, session: PersistentSession, persona: str,
                 message_tokens: int, budget: Budget) -> None:
        self.model = model
        self.session = session
        self.persona = persona
        self.message_tokens = message_tokens
        self.budget = budget

    def build(self, current: Message, recall: Recall | None = None,
              keep_from: int | None = None,
              worked_example: tuple[str, str] | None = None) -> PromptPlan:
        """The prompt for ``current``; ``keep_from`` is the first message of the recent
        turns last time, kept as the start while they fit. ``worked_example`` is a
        (request, reply) pair that worked before for a similar request; it is shown as
        that exchange, right before the current message, which a small model follows
        far better than a description."""
        limit = self.budget.prompt_tokens
        recall = self._fit_memory(recall or Recall(), int(limit * MEMORY_SHARE))
        system = {"role": "system", "content": self.persona + summary_block(recall)}
        recap = [*recap_messages(recall),
                 *self._example_messages(worked_example, int(limit * EXAMPLE_SHARE))]
        base = len(self.model.render([system, *recap]))
        cap = max(1, min(self.message_tokens, limit - base - self.model.message_cost("")))
        newest = self._entry(current, cap)
        older: list[_Entry] = []
        if recall.mode == "full":
            older = self._older(current, limit - base - self.model.message_cost(newest.text),
                                recall.outdated)
            if keep_from is not None:
                older = self._stable_start(older, keep_from)
        entries = [*older, newest]
        # The reminder goes right before the current message: a small model uses what was
        # just said, and the turns before it stay a stable prefix from turn to turn.
        reminder = [_Entry(-1, m["role"], m["content"], len(m["content"]), False)
                    for m in recap]
        while True:
            messages = [system, *_merge_roles([*entries[:-1], *reminder, entries[-1]])]
            ids = self.model.render(messages)
            if len(ids) <= limit:
                break
            if len(entries) > 1:
                entries.pop(0)
                continue
            # The current message alone is still too long for the window: shorten harder.
            if cap == 1:
                raise ConfigError(
                    "chat.persona leaves no room for the conversation in "
                    f"generation.context_tokens = {self.budget.context_window}: shorten the "
                    "persona or raise generation.context_tokens."
                )
            cap = max(1, cap - (len(ids) - limit) - 8)
            entries = [self._entry(current, cap)]
        return PromptPlan(
            prompt_ids=ids,
            messages=messages,
            history_ids=[e.message_id for e in entries[:-1]],
            budget=self.budget,
            shortened=[
                Shortened(e.message_id, e.original_chars, len(e.text))
                for e in entries if e.shortened
            ],
            recall=recall,
        )

    def _example_messages(self, example: tuple[str, str] | None, room: int
                          ) -> list[dict[str, str]]:
        """The worked example as an exchange, cut to fit ``room`` tokens."""
        if example is None:
            return []
        request, reply = example
        bound = _CHARS_PER_TOKEN_BOUND
        request = self.model.truncate_tokens(request[: room * bound // 2], max(1, room // 2))
        left = max(1, room - self.model.count_tokens(request))
        reply = self.model.truncate_tokens(reply[: left * bound], left)
        return [{"role": "user", "content": request}, {"role": "assistant", "content": reply}]

    def _fit_memory(self, recall: Recall, room: int) -> Recall:
        """``recall`` cut to ``room`` tokens: memories go first, then summaries, then facts."""
        fitted = dataclasses.replace(recall, facts=list(recall.facts),
                                     memories=list(recall.memories),
                                     summaries=list(recall.summaries))
        while not fitted.empty:
            cost = sum(self.model.message_cost(m["content"]) for m in recap_messages(fitted))
            cost += self.model.count_tokens(summary_block(fitted))
            if cost <= room:
                break
            if fitted.memories:
                fitted.memories.pop()
            elif fitted.summaries:
                fitted.summaries.pop(0)
            else:
                unpinned = [f for f in fitted.facts if not f.pinned]
                fitted.facts.remove(unpinned[-1] if unpinned else fitted.facts[-1])
        return fitted

    def _older(self, current: Message, room: int, outdated: Outdated) -> list[_Entry]:
        """The messages before ``current`` that fit in ``room`` tokens, oldest first.

        A turn (question and reply) that states what the user has since corrected or
        forgotten is left out whole: half a turn would only confuse the model.
        """
        older: list[_Entry] = []
        left_out: set[int] = set()
        before = current.id
        while page := self.session.before(before, PAGE_SIZE):
            for message in reversed(page):
                if message.id in left_out or outdated.hides(message.id, message.content):
                    left_out.update(m for m in (message.id, message.reply_to) if m is not None)
                    continue
                # Archived turns are in the summaries; they are not replayed in full.
                if (message.role not in ("user", "assistant") or not message.content.strip()
                        or message.status not in _SHOWN_STATUSES or message.tier == "archived"):
                    continue
                entry = self._entry(message, self.message_tokens)
                room -= self.model.message_cost(entry.text)
                if room < 0:
                    return _without_replies_to(older, left_out)
                older.insert(0, entry)
            before = page[0].id
        return _without_replies_to(older, left_out)

    def _stable_start(self, older: list[_Entry], keep_from: int) -> list[_Entry]:
        """``older`` starting at ``keep_from`` if everything from there fits, else at a
        later message that leaves ``SLIDE_SHARE`` of the room free for the next turns."""
        if not older:
            return older
        if older[0].message_id <= keep_from:
            return [e for e in older if e.message_id >= keep_from]
        costs = [self.model.message_cost(e.text) for e in older]
        to_free, cut = SLIDE_SHARE * sum(costs), 0
        while cut < len(older) - 1 and to_free > 0:
            to_free -= costs[cut]
            cut += 1
        return older[cut:]

    def _entry(self, message: Message, max_tokens: int) -> _Entry:
        text = message.content
        fits = (len(text) <= max_tokens * _CHARS_PER_TOKEN_BOUND
                and self.model.count_tokens(text) <= max_tokens)
        shown = text if fits else self._shorten(text, max_tokens)
        return _Entry(message.id, message.role, shown, len(text), not fits, message.reply_to)

    def _shorten(self, text: str, max_tokens: int) -> str:
        """Head and tail of ``text`` within ``max_tokens``, with a marker between them."""
        head_tokens = max(1, (max_tokens * 2) // 3 - 16)
        tail_tokens = max(0, max_tokens - head_tokens - 32)
        bound = _CHARS_PER_TOKEN_BOUND
        head = self.model.truncate_tokens(text[: head_tokens * bound], head_tokens)
        tail = ""
        if tail_tokens:
            tail = self.model.truncate_tokens_from_end(text[-tail_tokens * bound:], tail_tokens)
        omitted = max(0, len(text) - len(head) - len(tail))
        return head + _MARKER.format(omitted=omitted) + tail


def _without_replies_to(entries: list[_Entry], left_out: set[int]) -> list[_Entry]:
    """``entries`` less the replies to questions that were left out."""
    return [e for e in entries if e.reply_to is None or e.reply_to not in left_out]


def _merge_roles(entries: list[_Entry]) -> list[dict[str, str]]:
    """Join neighbouring messages of the same role: some chat templates insist on alternation."""
    merged: list[dict[str, str]] = []
    for entry in entries:
        if merged and merged[-1]["role"] == entry.role:
            merged[-1]["content"] += "\n\n" + entry.text
        else:
            merged.append({"role": entry.role, "content": entry.text})
    return merged
