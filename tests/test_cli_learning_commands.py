"""The terminal chat's /good and /correct: the user marks the last reply for learning."""

from __future__ import annotations

import io

import pytest

from nexus_desktop.cli.chat import HELP, TerminalChat
from nexus_desktop.engine import Engine

GOOD_NOTE = "Noted: Nexus Desktop will learn from that reply."
CORRECT_NOTE = "Noted: Nexus Desktop will learn your answer to that message."
NO_REPLY = "There is no reply to mark yet: send a message first."


class Chat:
    """A chat on the tiny model, driven the way piped input drives it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.out, self.err = io.StringIO(), io.StringIO()
        self.chat = TerminalChat(engine, self.out, self.err)

    def send(self, *lines: str) -> None:
        assert self.chat.run_piped(io.StringIO("".join(line + "\n" for line in lines))) == 0

    def examples(self) -> list[tuple[str, str, str, int]]:
        return [tuple(row) for row in self.engine.database.connection().execute(
            "SELECT kind, prompt, target, source_id FROM training_examples ORDER BY id")]

    def last_reply(self) -> tuple[int, str]:
        reply = self.engine.session.history(1)[-1]
        assert reply.role == "assistant" and reply.status == "complete"
        return reply.id, reply.content


@pytest.fixture
def chat(quiet_engine: Engine) -> Chat:
    return Chat(quiet_engine)


def test_the_help_lists_the_learning_commands():
    assert "/good" in HELP and "/correct TEXT" in HELP


def test_good_turns_the_last_exchange_into_a_good_example(chat: Chat):
    chat.send("What is a good name for a cat?")
    reply_id, reply = chat.last_reply()
    assert chat.examples() == [("exchange", "What is a good name for a cat?", reply, reply_id)]

    chat.send("/good")
    assert GOOD_NOTE in chat.out.getvalue()
    assert chat.err.getvalue() == ""
    assert chat.examples() == [("good", "What is a good name for a cat?", reply, reply_id)]


def test_correct_replaces_the_last_reply_with_the_users_answer(chat: Chat):
    chat.send("What is my sister called?")
    reply_id, _ = chat.last_reply()

    chat.send("/correct Your sister's name is Ola.")
    assert CORRECT_NOTE in chat.out.getvalue()
    assert chat.err.getvalue() == ""
    assert chat.examples() == [
        ("correction", "What is my sister called?", "Your sister's name is Ola.", reply_id)]
    # Only the reply's example changed: the conversation itself is as it was.
    assert [m.role for m in chat.engine.session.history(10)] == ["user", "assistant"]


def test_correct_without_text_shows_the_usage_and_the_chat_goes_on(chat: Chat):
    chat.send("Hello there.")
    before = chat.examples()

    chat.send("/correct", "/correct   ", "/good")
    err = chat.err.getvalue()
    assert err.count("A correction needs the reply you wanted, for example: "
                     "/correct Your sister's name is Ola.") == 2
    assert CORRECT_NOTE not in chat.out.getvalue() and GOOD_NOTE in chat.out.getvalue()
    assert [row[0] for row in chat.examples()] == ["good"]
    assert chat.examples()[0][1:] == before[0][1:]


def test_both_commands_before_any_reply_ask_for_a_message_first(chat: Chat):
    chat.send("/good", "/correct Your sister's name is Ola.", "Hello there.")
    assert chat.err.getvalue().count(NO_REPLY) == 2
    assert GOOD_NOTE not in chat.out.getvalue() and CORRECT_NOTE not in chat.out.getvalue()
    # The chat went on: the message after the refusals was sent and answered.
    assert [row[0] for row in chat.examples()] == ["exchange"]
