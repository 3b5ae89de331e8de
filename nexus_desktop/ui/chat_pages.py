"""What the chat window reads of the conversation, one page at a time, on the store thread.

A page carries what its messages need to be drawn: the original text of messages whose
reply was compressed or archived (the conversation shows what was said, not a summary of
it), the ratings given to its replies and the skills that made or helped make them. No Qt
here: these run inside ``host.query``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nexus_desktop.errors import NexusError
from nexus_desktop.store.archive import originals
from nexus_desktop.store.messages import Message
from nexus_desktop.store.skills import SkillUse

if TYPE_CHECKING:
    from nexus_desktop.engine import Engine

# Messages per page: enough to fill a tall window, few enough to read in milliseconds.
PAGE_SIZE = 50
# Around a search result: this many messages before it and after it.
CONTEXT_BEFORE = 20
CONTEXT_AFTER = 20


@dataclass(frozen=True)
class Page:
    """Messages oldest first, and whether older ones exist before the first."""

    messages: list[Message]
    has_older: bool
    full_texts: dict[int, str] = field(default_factory=dict)
    ratings: dict[int, int] = field(default_factory=dict)
    skill_uses: dict[int, SkillUse] = field(default_factory=dict)

    def text_of(self, message: Message) -> str:
        return self.full_texts.get(message.id, message.content)


def require_engine(engine: Engine | None) -> Engine:
    """The host's engine, once it is open."""
    if engine is None:
        raise NexusError("Nexus Desktop is still starting; try again in a moment.")
    return engine


def latest_page(engine: Engine, count: int = PAGE_SIZE) -> Page:
    """The newest ``count`` messages of the conversation."""
    return _page(engine, engine.session.history(count))


def page_before(engine: Engine, first_id: int, count: int = PAGE_SIZE) -> Page:
    """The ``count`` messages just before message ``first_id``."""
    return _page(engine, engine.session.before(first_id, count))


def page_around(engine: Engine, message_id: int, before: int = CONTEXT_BEFORE,
                after: int = CONTEXT_AFTER) -> Page:
    """The messages around ``message_id``, itself included.

    Message ids grow with time within the conversation, so the messages up to
    ``message_id + after`` are the ones just after it (fewer where ids were skipped).
    """
    messages = engine.session.before(message_id + after + 1, before + after + 1)
    if not any(message.id == message_id for message in messages):
        # Not part of the conversation's pages (another session's message): shown alone.
        found = engine.session.messages.get(message_id)
        messages = [found] if found is not None else []
    return _page(engine, messages)


def _page(engine: Engine, messages: list[Message]) -> Page:
    connection = engine.database.connection()
    shortened = [m.id for m in messages if m.tier != "full"]
    replies = [m.id for m in messages if m.role == "assistant"]
    has_older = bool(messages) and bool(engine.session.before(messages[0].id, 1))
    return Page(messages, has_older, originals(connection, shortened),
                engine.ratings.of(replies), engine.skills.store.uses_of(replies))
