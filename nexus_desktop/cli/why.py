"""`/why`: what the model read for the last reply, and why each remembered item was there."""

from __future__ import annotations

from datetime import datetime

from nexus_desktop.engine import Engine
from nexus_desktop.memory.context import PromptPlan

_PREVIEW = 100


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW else text[:_PREVIEW - 3] + "..."


def explain_last_reply(engine: Engine) -> str:
    skill = engine.last_skill
    if skill is not None and skill.kind == "replay":
        return (f"The last reply came from the skill library, not from the model: skill "
                f"{skill.skill.id} ({skill.skill.name!r}) is the same request (similarity "
                f"{skill.similarity:.2f}), trusted {skill.skill.confidence:.0%}. /again asks "
                "the model instead; `nexus-desktop skills list` shows the skills.")
    if engine.last_answer is not None:
        return ("The last reply came from memory, not from the model: "
                f"{engine.last_answer.why}. (Turn this off with `nexus-desktop config set "
                "memory.answer_fact_questions false`.)")
    explained = explain_plan(engine.last_plan)
    if skill is not None and engine.last_plan is not None:
        explained += (f"\nWorked example: skill {skill.skill.id} ({skill.skill.name!r}), a "
                      f"similar request (similarity {skill.similarity:.2f}), shown as an "
                      "exchange right before your message.")
    return explained


def explain_plan(plan: PromptPlan | None) -> str:
    if plan is None:
        return "No reply yet in this session: /why explains the prompt of the last reply."
    recall, budget = plan.recall, plan.budget
    lines = [
        f"The last prompt: {len(plan.prompt_ids):,} tokens of the {budget.prompt_tokens:,} "
        f"allowed ({budget.context_window:,}-token window, {budget.reply_tokens:,} kept for "
        f"the reply). Context mode: {recall.mode}.",
        f"Facts ({len(recall.facts)}):",
    ]
    lines += [f"  #{f.id} {_one_line(f.text)}  [{f.why}]" for f in recall.facts] or ["  none"]
    lines.append(f"Recalled memories ({len(recall.memories)}):")
    for memory in recall.memories:
        when = datetime.fromtimestamp(memory.created_at).strftime("%Y-%m-%d")
        who = memory.speaker or memory.role or memory.kind
        lines.append(f"  {memory.kind} #{memory.id} {when} {who}: {_one_line(memory.text)}")
        lines.append(f"      score {memory.score:.3f}: {memory.why}")
    if not recall.memories:
        lines.append("  none")
    lines.append(f"Summaries of older conversation: {len(recall.summaries)}")
    lines.append(f"Recent turns in full: {len(plan.history_ids)} messages"
                 + (f" (#{plan.history_ids[0]} to #{plan.history_ids[-1]})"
                    if plan.history_ids else ""))
    for shortened in plan.shortened:
        lines.append(f"Shortened in the prompt: message #{shortened.message_id} "
                     f"({shortened.original_chars:,} characters, {shortened.shown_chars:,} shown)")
    return "\n".join(lines)
