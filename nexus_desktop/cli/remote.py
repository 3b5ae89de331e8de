"""Commands that work on the running app when there is one, and on the memory directly
when there is none: `status`, `ask`, `control`, `facts`, `skills`, `memory`, `export`
and `import`.

With the app running, the command goes over its local channel (see
``nexus_desktop.api.local_channel``) and the app does the work: a message asked this way
joins the conversation in the chat window, and nothing opens the memory a second time.
Without it, the caller opens the memory itself under the data lock (``data_lock``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError, NexusError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
# The commands the running app answers.
FORWARDED = ("status", "ask", "control", "facts", "skills", "memory", "export", "import")
# Run by the app on its store thread, with its open database, from the command's words.
DATABASE_COMMANDS = ("facts", "skills", "memory")
CONTROL_ACTIONS = {"pause": "pause", "resume": "resume", "train-start": "train_start",
                   "train-stop": "train_stop"}
# How long a database command (a search that first embeds new messages, say) may take.
DATABASE_COMMAND_SECONDS = 600.0
# How long the app may take to answer anything but a reply.
ANSWER_SECONDS = 60.0
# How long connecting may take: an app that is running answers at once.
CONNECT_MS = 1000


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    control = commands.add_parser(
        "control", help="pause, resume, start or stop learning in the running app",
        description="Steer the running app's learning. Without a running app there is "
                    "nothing to steer: `nexus-desktop learn` learns in the foreground.")
    control.add_argument("action", choices=tuple(CONTROL_ACTIONS))
    control.add_argument("--topic", help="with train-start: a topic to learn about "
                                         "(questions and answers from Ollama)")
    control.add_argument("--json", action="store_true", help="print the answer as JSON")
    export = commands.add_parser(
        "export", help="save the whole memory (conversation, facts, skills, adapters, "
                       "settings) to one zip file")
    export.add_argument("path", type=Path, help="the .zip file to write")
    import_ = commands.add_parser(
        "import", help="replace the whole memory with an export (the memory in use is kept "
                       "aside, and --undo puts it back)")
    import_.add_argument("path", type=Path, nargs="?", help="the export's .zip file")
    import_.add_argument("--undo", type=Path, metavar="FOLDER",
                         help="put back the memory an import or reset set aside in FOLDER "
                              "(the path the import printed)")


def forward(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int | None:
    """Run the command in the running app; None when no app answers (then run it here)."""
    from nexus_desktop.api.local_channel import AppConnection, instance_name

    connection = AppConnection.connect(instance_name(paths), CONNECT_MS)
    if connection is None:
        return None
    with connection:
        try:
            return _FORWARDERS[args.command](connection, args, out, err)
        except NexusError as exc:
            err.write(f"Error: {exc}\n")
            return EXIT_ERROR


def app_is_running(paths: AppPaths) -> bool:
    from nexus_desktop.api.local_channel import AppConnection, instance_name

    connection = AppConnection.connect(instance_name(paths), CONNECT_MS)
    if connection is None:
        return False
    connection.close()
    return True


def _answer(final: dict[str, Any], err: TextIO) -> bool:
    """True if the app did it; otherwise say why."""
    if final.get("ok"):
        return True
    err.write(f"Error: {final.get('error', 'the app gave no reason')}\n")
    return False


def _last_event(connection: Any, message: dict[str, Any], err: TextIO,
                timeout_s: float = ANSWER_SECONDS) -> dict[str, Any] | None:
    events: list[dict[str, Any]] = []
    final = connection.request(message, events.append, timeout_s)
    return events[-1] if _answer(final, err) and events else None


def _status(connection: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from nexus_desktop.cli.status import render

    event = _last_event(connection, {"command": "status"}, err)
    if event is None:
        return EXIT_ERROR
    status = event["status"]
    out.write(json.dumps(status, ensure_ascii=False) + "\n" if args.json else render(status))
    return EXIT_OK


def _ask(connection: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result: dict[str, Any] | None = None

    def shown(event: dict[str, Any]) -> None:
        nonlocal result
        if "piece" in event and not args.json:
            out.write(event["piece"])
            out.flush()
        elif "notice" in event:
            err.write(f"Note: {event['notice']}\n")
        elif "result" in event:
            result = event["result"]

    message = {"command": "ask", "text": args.text, "context": args.context,
               "fresh": args.fresh}
    try:
        # No time limit: the reply may wait for a learning slice to end.
        final = connection.request(message, shown, timeout_s=None)
    except KeyboardInterrupt:
        # Hanging up stops the reply; what was said so far is kept in the conversation.
        connection.close()
        out.write(" [stopped]\n")
        return EXIT_OK
    if not _answer(final, err) or result is None:
        return EXIT_ERROR
    if args.json:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        out.write(" [stopped]\n" if result["status"] == "cancelled" else "\n")
        if result.get("error"):
            err.write(f"The reply failed: {result['error']}\n")
    return EXIT_OK if result["status"] in ("complete", "cancelled") else EXIT_ERROR


def _control(connection: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.topic and args.action != "train-start":
        err.write("--topic goes with train-start only.\n")
        return EXIT_USAGE
    event = _last_event(connection, {"command": "control", "action": CONTROL_ACTIONS[args.action],
                                     "topic": args.topic}, err)
    if event is None:
        return EXIT_ERROR
    answer = event["control"]
    if args.json:
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
    else:
        topic = f" (topic: {answer['topic']})" if answer.get("topic") else ""
        out.write(f"Done: {args.action}. Learning is now {answer['learning']}{topic}.\n")
    return EXIT_OK


def _database_command(connection: Any, args: argparse.Namespace, out: TextIO,
                      err: TextIO) -> int:
    event = _last_event(connection, {"command": "run", "argv": args.argv,
                                     "cwd": os.getcwd()}, err, DATABASE_COMMAND_SECONDS)
    if event is None:
        return EXIT_ERROR
    out.write(event["out"])
    err.write(event["err"])
    return int(event["exit"])


def _export(connection: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    destination = args.path.expanduser().resolve()
    event = _last_event(connection, {"command": "export", "path": str(destination)}, err,
                        DATABASE_COMMAND_SECONDS)
    if event is None:
        return EXIT_ERROR
    out.write(event["export"] + "\n")
    return EXIT_OK


def _import(connection: Any, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    problem = _import_problem(args)
    if problem:
        err.write(problem)
        return EXIT_USAGE
    message = ({"command": "import", "undo": str(args.undo.expanduser().resolve())}
               if args.undo else
               {"command": "import", "path": str(args.path.expanduser().resolve())})
    # Closing the memory lets the open learning round finish its check first.
    final = connection.request(message, None, DATABASE_COMMAND_SECONDS)
    if not _answer(final, err):
        return EXIT_ERROR
    out.write(final["report"] + "\n")
    return EXIT_OK


_FORWARDERS = {"status": _status, "ask": _ask, "control": _control, "facts": _database_command,
               "skills": _database_command, "memory": _database_command, "export": _export,
               "import": _import}


# -- the same work without the app ----------------------------------------------------------

def control_without_app(err: TextIO) -> int:
    err.write("Nexus Desktop is not running, so there is no learning to pause, resume, start "
              "or stop. Start it with `nexus-desktop`, or learn now in this terminal with "
              "`nexus-desktop learn`.\n")
    return EXIT_ERROR


def export_here(args: argparse.Namespace, paths: AppPaths, out: TextIO) -> int:
    from nexus_desktop.store.export import export_memory

    out.write(describe_export(export_memory(paths, args.path.expanduser().resolve())) + "\n")
    return EXIT_OK


def import_here(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    problem = _import_problem(args)
    if problem:
        err.write(problem)
        return EXIT_USAGE
    out.write(replace_memory(paths, args.path, args.undo) + "\n")
    return EXIT_OK


def _import_problem(args: argparse.Namespace) -> str | None:
    if (args.path is None) == (args.undo is None):
        return "Give either the export to import or --undo FOLDER (one of the two).\n"
    return None


def describe_export(report: Any) -> str:
    return (f"Exported {report.messages} messages, {report.facts} facts and {report.skills} "
            f"skills ({report.files} files, {report.size_bytes / 1e6:.1f} MB) to "
            f"{report.path}.")


def replace_memory(paths: AppPaths, archive: Path | None, undo: Path | None) -> str:
    """Import ``archive``, or put back the memory set aside in ``undo``; what happened.
    Nothing may have the memory open."""
    from nexus_desktop.store.export import import_memory, restore_replaced

    if undo is not None:
        kept = restore_replaced(paths, undo.expanduser().resolve())
        return (f"The memory from {undo} is back in use. The memory it replaced is kept "
                f"in {kept}.")
    assert archive is not None
    report = import_memory(paths, archive.expanduser().resolve())
    return (f"Imported {report.messages} messages, {report.facts} facts and {report.skills} "
            f"skills from {report.archive.name} (exported {report.created_at}). The memory "
            f"in use before is kept in {report.replaced}; `nexus-desktop import --undo "
            f"{report.replaced}` puts it back.")


def run_on_database(argv: list[str], cwd: str, paths: AppPaths, settings: Settings,
                    database: Database, out: TextIO, err: TextIO) -> int:
    """A `facts`, `skills` or `memory` command, from its words, on an open database (the
    running app's). Relative file names are taken from the caller's folder ``cwd``."""
    from nexus_desktop.cli import facts, memory, skills
    from nexus_desktop.cli.main import build_parser

    if not argv or argv[0] not in DATABASE_COMMANDS:
        raise InputError(f"Only {', '.join(DATABASE_COMMANDS)} commands run this way.")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        # The caller parsed the same words before sending them: only a version mismatch
        # between the command and the app gets here.
        raise InputError("The running app does not understand this command; is it an "
                         "older version? Quit it and try again.") from None
    for key, value in vars(args).items():
        if isinstance(value, Path) and not value.is_absolute():
            setattr(args, key, Path(cwd) / value)
    try:
        if args.command == "facts":
            return facts.run(args, database, out, err)
        if args.command == "skills":
            return skills.run(args, database, out, err)
        return memory.run_on(args, paths, settings, database, out)
    except NexusError as exc:
        err.write(f"Error: {exc}\n")
        return EXIT_ERROR

