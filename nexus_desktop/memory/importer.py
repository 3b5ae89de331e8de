"""Bringing conversation history from other chat apps: one JSON object per line.

Each line has ``text`` (required), ``role`` ("user"/"assistant") or ``speaker`` (any
name), ``t`` (an ISO-8601 time, kept as the message's time; without a zone it is local
time) and ``id`` (the other app's id, kept as external_id so a second import of the same
file adds nothing). Every line is checked on its own: a bad line is reported by number
with the reason and the rest are imported, in time order, ~500 lines per transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nexus_desktop.errors import InputError
from nexus_desktop.memory.importance import score_importance
from nexus_desktop.memory.session import MAX_MESSAGE_CHARS, PersistentSession
from nexus_desktop.store.messages import ImportedMessage

IMPORT_CACHE_KIB = -65536  # negative: KiB rather than pages
BATCH_LINES = 500
# Speaker names that mean the app itself; any other speaker is someone on the user's side
# of the conversation, imported as role "user" with the name kept.
ASSISTANT_NAMES = frozenset({"assistant", "nexus", "nexus desktop"})
# Times this far ahead of the clock are a mistake in the file (a zone off by hours is not).
FUTURE_SLACK_SECONDS = 86_400


class BadLine(ValueError):
    """One line of an import file that cannot be imported, and why."""


@dataclass
class ImportReport:
    imported: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    # Lines whose id was imported before (or earlier in the same file): left out.
    duplicate_lines: list[int] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.bad_lines) + len(self.duplicate_lines)


def import_jsonl(session: PersistentSession, path: Path) -> ImportReport:
    """Import the messages of a JSON-lines file into the persistent conversation."""
    report = ImportReport()
    parsed: list[tuple[int, ImportedMessage]] = []
    now = time.time()
    for number, line in _lines(path):
        try:
            parsed.append((number, parse_line(line, now)))
        except BadLine as exc:
            report.bad_lines.append((number, str(exc)))
    # Stable: lines with the same time keep their order in the file.
    parsed.sort(key=lambda pair: pair[1].created_at)
    answering: int | None = None
    # Inserting into a large history touches index pages all over the file; SQLite's
    # default 2 MB page cache made a 60k-message import about 3 times slower than 64 MB.
    # Only this thread's connection grows, for as long as it lives.
    session.messages.database.connection().pragma("cache_size", IMPORT_CACHE_KIB)
    for start in range(0, len(parsed), BATCH_LINES):
        batch = parsed[start:start + BATCH_LINES]
        results = session.messages.append_imported(
            session.id, [item for _, item in batch], answering
        )
        for (number, item), (message_id, inserted) in zip(batch, results, strict=True):
            if inserted:
                report.imported += 1
            else:
                report.duplicate_lines.append(number)
            if item.role == "user":
                answering = message_id
    report.duplicate_lines.sort()
    return report


def _lines(path: Path) -> Iterator[tuple[int, str | bytes]]:
    """(line number, text) of each non-blank line; bytes when not valid UTF-8."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(
            f"Cannot read the import file {path} ({exc.strerror}). Check the path and try again."
        ) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            data = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
            if not data.strip():
                continue
            try:
                yield number, data.decode("utf-8")
            except UnicodeDecodeError:
                yield number, data


def parse_line(line: str | bytes, now: float) -> ImportedMessage:
    """One message from one line, or BadLine saying what is wrong with it."""
    if isinstance(line, bytes):
        raise BadLine("not valid UTF-8 text")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise BadLine(f"expected a JSON object, got {_kind(record)}")
    text = _text(record)
    role, speaker = _role_and_speaker(record)
    return ImportedMessage(
        role=role, content=text, created_at=_time(record, now), speaker=speaker,
        external_id=_external_id(record), importance=score_importance(text, role),
    )


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true or false", int: "a number",
             float: "a number", type(None): "null", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _text(record: dict[str, object]) -> str:
    if "text" not in record:
        raise BadLine('no "text"')
    text = record["text"]
    if not isinstance(text, str):
        raise BadLine(f'"text" must be a string, not {_kind(text)}')
    if not text.strip():
        raise BadLine('"text" is empty')
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadLine(f'"text" has {len(text):,} characters, more than the '
                      f"{MAX_MESSAGE_CHARS:,} allowed in one message")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadLine(f'"text" holds half of a character pair at character {exc.start + 1} '
                      "(an unpaired \\ud800-\\udfff escape)") from None
    return text


def _role_and_speaker(record: dict[str, object]) -> tuple[str, str | None]:
    speaker = record.get("speaker")
    if speaker is not None and (not isinstance(speaker, str) or not speaker.strip()):
        raise BadLine('"speaker" must be a non-empty string')
    speaker = speaker.strip() if isinstance(speaker, str) else None
    role = record.get("role")
    if role is not None:
        if role not in ("user", "assistant"):
            raise BadLine(f'"role" must be "user" or "assistant", not {json.dumps(role)}')
        return str(role), speaker
    if speaker is not None and speaker.casefold() in ASSISTANT_NAMES:
        return "assistant", speaker
    return "user", speaker


def _time(record: dict[str, object], now: float) -> float:
    if "t" not in record:
        return now
    value = record["t"]
    example = 'an ISO-8601 time such as "2024-05-01T14:30:00+02:00"'
    if not isinstance(value, str):
        raise BadLine(f'"t" must be {example}, not {_kind(value)}')
    try:
        moment = datetime.fromisoformat(value.strip())
        stamp = moment.timestamp()  # a time without a zone is taken as local time
    except (ValueError, OverflowError, OSError):
        raise BadLine(f'"t" is not {example}: {json.dumps(value)}') from None
    if stamp > now + FUTURE_SLACK_SECONDS:
        raise BadLine(f'"t" is in the future: {json.dumps(value)}')
    return stamp


def _external_id(record: dict[str, object]) -> str | None:
    value = record.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadLine(f'"id" must be a string or a whole number, not {_kind(value)}')
    text = str(value).strip()
    if not text:
        raise BadLine('"id" is empty')
    return text
