"""The terminal chat: a prompt on a terminal, one message per line from a pipe."""

from __future__ import annotations

import contextlib
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

from nexus_desktop.cli.why import explain_last_reply
from nexus_desktop.engine import Engine, Notice, Piece, TurnEvent, TurnResult
from nexus_desktop.errors import InputError, NexusError
from nexus_desktop.llm.generation import CancelToken
from nexus_desktop.store.messages import Message

# Only "/word" is a command, so a message like "/etc/hosts is missing" is still sent.
_COMMAND = re.compile(r"/[a-z]+")
HELP = """Commands:
  /history N    show the last N messages (default 10)
  /search TEXT  find messages containing every word of TEXT
  /why          what went into the last reply's prompt, and why
  /good         the last reply was good: learn from it
  /correct TEXT the reply you wanted to your last message: learn that instead
  /again        a fresh reply from the model to your last message (for example instead of
                one replayed from a kept skill)
  /help         this list
  /quit         leave (the conversation continues next time)
Ctrl-C stops the current answer; Ctrl-D or /quit leaves."""

# Where the terminal user sees what was remembered.
FACTS_COMMAND = "`nexus-desktop facts list`"


@contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """While a reply streams, Ctrl-C stops the reply instead of the program."""
    def handler(_signum: int, _frame: object) -> None:
        cancel.cancel()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: no signal handling there
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class TerminalChat:
    def __init__(self, engine: Engine, out: TextIO, err: TextIO) -> None:
        self.engine = engine
        self.out = out
        self.err = err

    def run_interactive(self) -> int:
        # Line editing and history for input() where the platform has it.
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401
        self._greet()
        while True:
            try:
                line = input("you> ")
            except EOFError:
                self.out.write("\n")
                return 0
            except KeyboardInterrupt:
                self.out.write("\n(Ctrl-C stops an answer; type /quit to leave.)\n")
                continue
            except UnicodeDecodeError as exc:
                self._refuse_bytes(exc)
                continue
            if self.handle(line, prefix="nexus> ") == "quit":
                return 0

    def run_piped(self, stream: TextIO) -> int:
        """Each input line is one user message; each reply is followed by an empty line."""
        raw = stream.buffer if hasattr(stream, "buffer") else None
        lines: Iterator[bytes | str] = iter(raw) if raw is not None else iter(stream)
        for number, data in enumerate(lines, start=1):
            if isinstance(data, bytes):
                try:
                    line = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._refuse_bytes(exc, number)
                    continue
            else:
                line = data
            if self.handle(line.removesuffix("\n").removesuffix("\r"), prefix="") == "quit":
                break
        return 0

    def handle(self, line: str, prefix: str) -> str | None:
        command, _, argument = line.strip().partition(" ")
        if command == "/quit":
            return "quit"
        if command == "/help":
            self.out.write(HELP + "\n\n")
        elif command == "/history":
            self._history(argument)
        elif command == "/search":
            self._search(argument)
        elif command == "/why":
            self.out.write(explain_last_reply(self.engine) + "\n\n")
        elif command == "/good":
            self._learn_from(self.engine.mark_good,
                             "Noted: Nexus Desktop will learn from that reply.")
        elif command == "/again":
            self._again(prefix)
        elif command == "/correct":
            self._learn_from(lambda: self.engine.correct(argument),
                             "Noted: Nexus Desktop will learn your answer to that message.")
        elif _COMMAND.fullmatch(command):
            self.err.write(f"Unknown command {command}. /help lists the commands.\n")
        else:
            self._turn(line, prefix)
        self.out.flush()
        return None

    def _turn(self, text: str, prefix: str) -> None:
        self._stream(lambda cancel: self.engine.turn(text, cancel), prefix)

    def _again(self, prefix: str) -> None:
        last = self.engine.session.history(1)
        if not last or last[0].role != "assistant":
            self.err.write("There is no reply to make again yet: send a message first.\n")
            return
        self._stream(lambda cancel: self.engine.regenerate(last[0].id, cancel), prefix)

    def _stream(self, events: Callable[[CancelToken], Iterator[TurnEvent]],
                prefix: str) -> None:
        cancel = CancelToken()
        try:
            with ctrl_c_cancels(cancel):
                started = False
                for event in events(cancel):
                    if isinstance(event, Notice):
                        self.err.write(f"Note: {event.shown_in(FACTS_COMMAND)}\n")
                        self.err.flush()
                    elif isinstance(event, Piece):
                        if not started:
                            self.out.write(prefix)
                            started = True
                        self.out.write(event.text)
                        self.out.flush()
                    elif isinstance(event, TurnResult):
                        self._finish(event, started, prefix)
        except InputError as exc:
            self.err.write(f"{exc}\n")
        except NexusError as exc:
            self.err.write(f"Error: {exc}\n")

    def _finish(self, result: TurnResult, started: bool, prefix: str) -> None:
        if not started:
            self.out.write(prefix)
        if result.status == "cancelled":
            self.out.write(" [stopped]")
        self.out.write("\n\n")
        if result.status == "failed":
            self.err.write(f"The reply failed: {result.error}\n")
        if result.skill_id is not None:
            self.err.write(f"(From memory: the reply kept as skill {result.skill_id}. /again "
                           "asks the model instead.)\n\n")

    def _learn_from(self, mark: Callable[[], None], confirmation: str) -> None:
        """Mark the last exchange for learning; a refusal is shown and the chat goes on."""
        try:
            mark()
        except InputError as exc:
            self.err.write(f"{exc}\n")
            return
        except NexusError as exc:
            self.err.write(f"Error: {exc}\n")
            return
        self.out.write(confirmation + "\n\n")

    def _history(self, argument: str) -> None:
        try:
            count = int(argument) if argument.strip() else 10
        except ValueError:
            self.err.write("Usage: /history N, where N is a number of messages.\n")
            return
        for message in self.engine.session.history(max(1, count)):
            self.out.write(format_message(message) + "\n")
        self.out.write("\n")

    def _search(self, text: str) -> None:
        if not text.strip():
            self.err.write("Usage: /search TEXT\n")
            return
        hits = self.engine.session.search(text)
        if not hits:
            self.out.write(f"Nothing found for {text.strip()!r}.\n\n")
            return
        for hit in hits:
            when = datetime.fromtimestamp(hit.message.created_at).strftime("%Y-%m-%d %H:%M")
            self.out.write(f"#{hit.message.id} {when} {hit.message.role}: {hit.snippet}\n")
        self.out.write("\n")

    def _refuse_bytes(self, exc: UnicodeDecodeError, line: int | None = None) -> None:
        where = f"Line {line}" if line is not None else "That message"
        self.err.write(
            f"{where} was not saved: it is not valid UTF-8 text (byte "
            f"0x{exc.object[exc.start]:02x} at position {exc.start + 1}). Send the text as UTF-8.\n"
        )

    def _greet(self) -> None:
        count = self.engine.session.messages.count(self.engine.session.id)
        if count:
            self.out.write(f"Welcome back. Our conversation so far has {count} messages.\n")
        else:
            self.out.write("Hello! This is the start of our conversation; it will continue "
                           "every time you come back.\n")
        self.out.write("Type /help for commands.\n\n")


def format_message(message: Message) -> str:
    when = datetime.fromtimestamp(message.created_at).strftime("%Y-%m-%d %H:%M")
    note = "" if message.status == "complete" else f" [{message.status}]"
    return f"[{when}] {message.role}{note}: {message.content}"


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
