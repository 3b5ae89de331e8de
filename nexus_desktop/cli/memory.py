"""`nexus-desktop memory ...`: the conversation's long-term memory from the command line.

Each action is a function in ``ACTIONS``, called with the parsed arguments and an opened
database. Import, compact and restore need only the database, never the language model,
so they start in a moment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from nexus_desktop.cli import memory_search
from nexus_desktop.cli.database import opened_database
from nexus_desktop.cli.main import EXIT_ERROR, EXIT_OK
from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.recovery import _ranges


@dataclass
class MemoryCommand:
    """What every memory action works with."""

    args: argparse.Namespace
    paths: AppPaths
    settings: Settings
    database: Database
    out: TextIO


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    memory = commands.add_parser(
        "memory", help="search, import, compact and restore remembered messages")
    actions = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    import_ = actions.add_parser(
        "import", help="bring messages from another chat app (a JSON-lines file)",
        description='One JSON object per line: "text" (required), "role" ("user" or '
                    '"assistant") or "speaker" (any name), "t" (ISO-8601 time) and "id" '
                    "(the other app's id; importing the same id again adds nothing).",
    )
    import_.add_argument("file", type=Path, help="the .jsonl file")
    actions.add_parser(
        "compact", help="compress and archive older turns now and reclaim disk space",
    )
    restore = actions.add_parser(
        "restore", help="put a compressed or archived message back in full, and keep it so",
    )
    restore.add_argument("id", type=int, help="the message's number")
    search = actions.add_parser(
        "search", help="find messages by keywords and meaning over the whole conversation",
    )
    memory_search.add_arguments(search)


def run(args: argparse.Namespace, paths: AppPaths, settings: Settings,
        out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Open the database, run the chosen action, close the database."""
    with opened_database(paths, settings, err) as database:
        return run_on(args, paths, settings, database, out)


def run_on(args: argparse.Namespace, paths: AppPaths, settings: Settings, database: Database,
           out: TextIO) -> int:
    """The chosen action on an open database (this command's, or the running app's)."""
    return ACTIONS[args.memory_command](MemoryCommand(args, paths, settings, database, out))


def _import(command: MemoryCommand) -> int:
    from nexus_desktop.memory.importer import import_jsonl
    from nexus_desktop.memory.session import PersistentSession

    report = import_jsonl(PersistentSession(command.database), command.args.file)
    out = command.out
    out.write(f"Imported {report.imported} messages; {report.skipped} lines skipped\n")
    for number, reason in report.bad_lines:
        out.write(f"line {number}: {reason}\n")
    if report.duplicate_lines:
        out.write(f"{len(report.duplicate_lines)} lines had an id imported before, so they "
                  f"were left out (lines {_ranges(report.duplicate_lines)})\n")
    every_line_bad = report.bad_lines and not report.imported and not report.duplicate_lines
    return EXIT_ERROR if every_line_bad else EXIT_OK


def _compact(command: MemoryCommand) -> int:
    from nexus_desktop.memory.lifecycle import Compactor

    report = Compactor(command.database, command.settings).run()
    command.out.write(report.describe() + "\n")
    return EXIT_OK


def _restore(command: MemoryCommand) -> int:
    from nexus_desktop.memory.lifecycle import restore_message

    message_id = command.args.id
    tier = restore_message(command.database, message_id)
    if tier == "full":
        command.out.write(f"Message {message_id} was already in full; it will stay so.\n")
    else:
        command.out.write(f"Message {message_id} is back in full (it was {tier}) and will "
                          "stay so.\n")
    return EXIT_OK


def _search(command: MemoryCommand) -> int:
    return memory_search.search(command.args, command.database, command.settings, command.out)


ACTIONS: dict[str, Callable[[MemoryCommand], int]] = {
    "import": _import,
    "compact": _compact,
    "restore": _restore,
    "search": _search,
}
