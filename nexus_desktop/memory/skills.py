"""The skill library: what worked once is instant and reliable the next time.

A skill is a task-like request (rewrite, summarise, convert, translate, draft, explain...)
whose reply the user accepted: a thumbs up, a correction they wrote themselves, or a next
message that does not correct it. The same request again replays the kept reply without
the model; a similar one gets it in the prompt as a worked example. Every reuse is judged
the same way as the reply that made the skill, and moves its confidence: up a little with
each accepted reuse, halved by a thumbs-down, a correction or a Regenerate. Below the
floor a skill is no longer used, and after a while unused it is archived (never deleted
by the app).

"Same request" is decided by words, not only meaning: the embedding of "convert 5 miles to
km" is almost that of "convert 5 km to miles", so a replay needs both the similarity
threshold and the same words in the same order (see skill_requests.request_key).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nexus_desktop.config import Settings
from nexus_desktop.learning.examples import ExampleStore
from nexus_desktop.memory.skill_requests import (
    is_correction,
    is_task_request,
    matching_text,
    refers_back,
    request_key,
    short_name,
)
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import Message
from nexus_desktop.store.skills import Skill, SkillStore

log = logging.getLogger(__name__)

# Where a new skill's confidence starts, by how the user accepted its reply.
START_CONFIDENCE = {"accepted": 0.6, "rated good": 0.8, "corrected": 0.9}
# An accepted reuse closes this share of the gap to full confidence.
GROWTH = 0.25
# A rejected reuse (thumbs-down, correction, Regenerate) multiplies confidence by this:
# one rejection takes any skill started by an accepted reply below the default floor.
DROP = 0.5
# Pruning runs at most this often while the app runs.
PRUNE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class SkillMatch:
    kind: str  # replay (the same request) or example (a similar one)
    skill: Skill
    similarity: float


def grown(confidence: float) -> float:
    return confidence + (1.0 - confidence) * GROWTH


def dropped(confidence: float) -> float:
    return confidence * DROP


class SkillLibrary:
    def __init__(self, database: Database, settings: Settings,
                 embed: Callable[[str], np.ndarray], embedding_model: str,
                 examples: ExampleStore, clock: Callable[[], float] = time.time) -> None:
        self.store = SkillStore(database)
        self.settings = settings
        self._embed = embed
        self.embedding_model = embedding_model
        self.examples = examples
        self._clock = clock
        self._last_prune = float("-inf")

    @property
    def enabled(self) -> bool:
        return bool(self.settings.get("skills.enabled"))

    @property
    def floor(self) -> float:
        return float(self.settings.get("skills.min_confidence"))

    def match(self, text: str) -> SkillMatch | None:
        """The skill to replay for ``text``, or to show as a worked example, or None."""
        if not self.enabled or not is_task_request(text):
            return None
        vectors = self.store.vectors(self.embedding_model, self.floor)
        if not vectors.ids:
            return None
        similarities = vectors.matrix @ np.asarray(self._embed(matching_text(text)),
                                                   np.float32)
        by_id = dict(zip(vectors.ids, similarities.tolist(), strict=True))
        if not refers_back(text):
            replay_at = self.settings.get("skills.replay_similarity")
            for skill in self.store.active_with_key(request_key(text)):
                similarity = by_id.get(skill.id)
                if similarity is not None and similarity >= replay_at:
                    return SkillMatch("replay", skill, similarity)
        best = int(np.argmax(similarities))
        if similarities[best] >= self.settings.get("skills.example_similarity"):
            skill = self.store.get(vectors.ids[best])
            if skill is not None:
                return SkillMatch("example", skill, float(similarities[best]))
        return None

    def record_use(self, reply_id: int, match: SkillMatch) -> None:
        self.store.record_use(reply_id, match.skill.id, match.kind, match.similarity)

    def next_message(self, message: Message, previous: list[Message]) -> Skill | None:
        """The user wrote ``message`` after ``previous`` (the exchange before it, oldest
        first): it accepts or corrects the reply there. Returns a skill it recorded."""
        if len(previous) < 2:
            return None
        asked, reply = previous[-2], previous[-1]
        if asked.role != "user" or reply.role != "assistant" or reply.reply_to != asked.id:
            return None
        corrected = is_correction(message.content)
        self._judge(reply.id, success=not corrected, replace=False)
        if corrected:
            self._reject_kept(reply)
            return None
        return self.record(asked, reply, "accepted")

    def rated(self, asked: Message, reply: Message, good: bool) -> Skill | None:
        """A thumbs up or down on ``reply``; a thumbs up on a task's reply records it."""
        self._judge(reply.id, success=good, replace=True)
        if good:
            return self.record(asked, reply, "rated good")
        self._reject_kept(reply)
        return None

    def corrected(self, asked: Message, reply: Message, better: str) -> Skill | None:
        """The user wrote the reply they wanted: the use (if any) failed, and what they
        wrote is the result to keep."""
        self._judge(reply.id, success=False, replace=True)
        return self.record(asked, reply, "corrected", result=better.strip())

    def regenerated(self, reply: Message) -> None:
        """The user asked for a fresh reply instead of ``reply``."""
        self._judge(reply.id, success=False, replace=True)
        self._reject_kept(reply)

    def record(self, asked: Message, reply: Message, how: str,
               result: str | None = None) -> Skill | None:
        """Keep ``reply`` (or ``result``) as the skill for ``asked`` if it is a task's reply
        that can be reused; the skill for the same request is updated instead of doubled."""
        result = reply.content if result is None else result
        if (not self.enabled or reply.status != "complete" or not result.strip()
                or not is_task_request(asked.content) or refers_back(asked.content)):
            return None
        if reply.source != "model" and how != "corrected":
            return None  # a replay is judged as a use of its skill, not kept again
        use = self.store.use_of(reply.id)
        steps: dict[str, Any] = {
            "how": how, "model": reply.model, "request_id": asked.id, "reply_id": reply.id,
            "worked_example": use.skill_id if use and use.kind == "example" else None}
        confidence = START_CONFIDENCE[how]
        key = request_key(asked.content)
        already = self.store.by_source(reply.id)
        if already is not None:
            if how == "accepted":
                return already
            # A stronger verdict on a reply kept before: a thumbs up, or the user's own text.
            skill = self.store.replace_result(already.id, result, steps,
                                              max(confidence, already.confidence), reply.id)
        elif same := next(iter(self.store.active_with_key(key)), None):
            # A newer accepted reply to the same request takes the place of the old one.
            skill = self.store.replace_result(same.id, result, steps, confidence, reply.id)
        else:
            skill = self.store.add(
                name=short_name(asked.content), intent=asked.content, request_key=key,
                embedding=self._embed(matching_text(asked.content)),
                embedding_model=self.embedding_model,
                steps=steps, result=result, confidence=confidence, source_reply_id=reply.id)
        if how == "accepted":
            self.examples.mark_skill(asked, reply)
        return skill

    def prune(self, force: bool = False) -> int:
        """Archive skills below the floor that were not used for ``prune_after_days``."""
        now = self._clock()
        if not force and now - self._last_prune < PRUNE_EVERY_SECONDS:
            return 0
        self._last_prune = now
        days = self.settings.get("skills.prune_after_days")
        archived = self.store.archive_weak(self.floor, now - days * 86400)
        if archived:
            log.info("archived %d skills below confidence %.2f", archived, self.floor)
        return archived

    def _reject_kept(self, reply: Message) -> None:
        """The reply a skill was kept from turned out unwanted: trust the skill less."""
        made = self.store.by_source(reply.id)
        if made is not None and made.state == "active":
            self.store.set_confidence(made.id, dropped(made.confidence), success=False)

    def _judge(self, reply_id: int, *, success: bool, replace: bool) -> None:
        """Record the user's verdict on a reply a skill made or helped make. The next
        message judges once; a rating or correction may replace that verdict."""
        use = self.store.use_of(reply_id)
        if use is None or (use.outcome is not None and not replace):
            return
        outcome = "success" if success else "failure"
        if use.outcome == outcome:
            return
        skill = self.store.get(use.skill_id)
        if skill is None:
            return
        confidence = grown(skill.confidence) if success else dropped(skill.confidence)
        self.store.set_outcome(reply_id, skill.id, outcome, use.outcome, confidence)
