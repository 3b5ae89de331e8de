"""The persistent session: one conversation for the life of the install.

Every user message is committed before anything else happens to it; a reply row is
created when generation starts, updated while it streams and closed with its outcome,
so a cancelled or crashed reply is recorded as such and never silently lost.
"""

from __future__ import annotations

from nexus_desktop.errors import InputError
from nexus_desktop.memory.importance import score_importance
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import Message, MessageStore, SearchHit
from nexus_desktop.store.sessions import persistent_session_id

# Far beyond anything typed or pasted; the limit exists so that a runaway script cannot
# fill the disk through the chat.
MAX_MESSAGE_CHARS = 10_000_000


def check_user_text(text: str) -> None:
    """Refuse, with a reason the user can act on, a message that cannot be kept faithfully."""
    if not text.strip():
        raise InputError("The message is empty, so it was not sent. Type something first.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(
            f"The message has {len(text):,} characters, more than the {MAX_MESSAGE_CHARS:,} "
            "Nexus Desktop accepts in one message, so it was not saved. Send it in parts."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise InputError(
            f"The message was not saved: character {exc.start + 1} (U+{ord(bad):04X}) is half of "
            "a broken character pair, not valid Unicode text. Check the program or terminal "
            "that produced it and send the text again."
        ) from None


class PersistentSession:
    def __init__(self, database: Database) -> None:
        self.messages = MessageStore(database)
        self.id = persistent_session_id(database)
        # Replies still marked as streaming were cut off when the app last stopped.
        self.interrupted_at_start = self.messages.mark_interrupted(self.id)

    def add_user_message(self, text: str) -> Message:
        check_user_text(text)
        return self.messages.append(self.id, "user", text,
                                    importance=score_importance(text, "user"))

    def begin_reply(self, user_message: Message, model_name: str) -> Message:
        return self.messages.append(
            self.id, "assistant", "", status="streaming", source="model", model=model_name,
            reply_to=user_message.id,
        )

    def save_partial(self, reply: Message, text: str) -> None:
        self.messages.update(reply.id, text, "streaming", finished=False)

    def finish_reply(self, reply: Message, text: str, status: str,
                     error: str | None = None) -> None:
        self.messages.update(reply.id, text, status, error=error,
                             importance=score_importance(text, "assistant"))

    def record_reply(self, user_message: Message, text: str, source: str) -> Message:
        """A whole reply that did not come from the model (an answer from memory, say)."""
        return self.messages.append(
            self.id, "assistant", text, source=source, reply_to=user_message.id,
            importance=score_importance(text, "assistant"),
        )

    def record_failed_reply(self, user_message: Message, error: str) -> Message:
        """A reply that could not even start (the model failed to load, say)."""
        return self.messages.append(
            self.id, "assistant", "", status="failed", source="model", reply_to=user_message.id,
            error=error,
        )

    def history(self, count: int) -> list[Message]:
        return self.messages.recent(self.id, count)

    def before(self, message_id: int, count: int) -> list[Message]:
        return self.messages.recent(self.id, count, before_id=message_id)

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        return self.messages.search(text, limit)
