"""What the skill library had to do with a reply, as the chat shows it: replayed from
memory (with Regenerate) or answered with a skill as a worked example. No Qt here."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_desktop.engine import TurnResult
from nexus_desktop.store.messages import Message
from nexus_desktop.store.skills import SkillUse

REGENERATE_TIP = ("Ask the model for a fresh reply to the same message; this one counts as "
                  "not what you wanted, so the skill is trusted less")


@dataclass(frozen=True)
class SkillMark:
    """What the skill library had to do with a reply."""

    reply_id: int
    kind: str  # replay (answered from memory, without the model) or example
    skill_id: int | None  # None: the skill was deleted since

    @property
    def text(self) -> str:
        if self.skill_id is None:
            return ("From memory (its skill was deleted since)" if self.kind == "replay"
                    else "Used a skill, deleted since, as an example")
        if self.kind == "replay":
            return f"From memory: skill {self.skill_id}"
        return f"Used skill {self.skill_id} as an example"

    @property
    def tip(self) -> str:
        if self.kind == "replay":
            return ("Answered at once from the skill library: the reply you accepted before "
                    "to the same request. Regenerate asks the model instead.")
        return "The model saw a reply you accepted to a similar request as an example."


def stored_skill_mark(message: Message, use: SkillUse | None) -> SkillMark | None:
    """The mark of a stored reply: its source says it was replayed, its use which skill."""
    if message.source == "skill":
        return SkillMark(message.id, "replay", use.skill_id if use is not None else None)
    if use is not None and use.kind == "example":
        return SkillMark(message.id, "example", use.skill_id)
    return None


def turn_skill_mark(result: TurnResult) -> SkillMark | None:
    """The mark of a reply that just finished, before its stored message is read."""
    if not result.reply_id:
        return None
    if result.source == "skill":
        return SkillMark(result.reply_id, "replay", result.skill_id)
    if result.skill_example is not None:
        return SkillMark(result.reply_id, "example", result.skill_example)
    return None
