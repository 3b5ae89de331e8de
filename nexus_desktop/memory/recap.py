"""How recalled memory is shown to the model: a short exchange just before the recent turns.

Small models such as the bundled 135M one ignore facts placed in the system prompt, but
they reliably repeat what the conversation itself just said. So the memory is presented
as the user asking what the assistant remembers (after quoting recalled messages) and the
assistant telling the facts in the second person ("Your favorite color is blue."), the
form its answers take.
"""

from __future__ import annotations

from datetime import datetime

from nexus_desktop.memory.recall import Recall

# A recalled message is quoted up to this many characters: enough to remind, and a pasted
# page cannot crowd out the rest of the memory.
QUOTE_CHARS = 320


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " ..."


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%d %b %Y").lstrip("0")


def recap_messages(recall: Recall) -> list[dict[str, str]]:
    """The reminder exchange (the user asking what is remembered, the assistant telling
    the facts), or [] when there is nothing to remind of."""
    if not (recall.facts or recall.memories):
        return []
    lines: list[str] = []
    if recall.memories:
        lines.append("Things we said earlier:")
        for memory in recall.memories:
            if memory.kind == "summary":
                lines.append(f"- ({_day(memory.created_at)}) {_quote(memory.text)}")
                continue
            who = memory.speaker or ("I" if memory.role == "user" else "you")
            lines.append(f"- On {_day(memory.created_at)} {who} said: {_quote(memory.text)}")
        lines.append("")
    if recall.facts:
        lines.append("What do you remember about me?")
        answer = " ".join(fact.second_person for fact in recall.facts)
    else:
        lines.append("Do you remember that?")
        answer = "Yes, I remember."
    return [{"role": "user", "content": "\n".join(lines)},
            {"role": "assistant", "content": answer}]


def summary_block(recall: Recall) -> str:
    """The rolling summary of older conversation, for the system message."""
    if not recall.summaries:
        return ""
    return "\n\nSummary of our older conversation:\n" + "\n".join(recall.summaries)
