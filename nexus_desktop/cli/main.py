"""The `nexus-desktop` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from nexus_desktop import __version__
from nexus_desktop.config import Settings
from nexus_desktop.errors import ConfigError, InputError, NexusError
from nexus_desktop.paths import AppPaths, app_paths, point_huggingface_at

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexus-desktop",
        description="Nexus Desktop: a private AI companion with one lifelong conversation.",
        epilog="Without a command, the desktop app starts in the system tray.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check that this installation works (in a temporary data folder, "
                             "leaving your own data alone), print a report and exit 0 or 1")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("chat", help="chat in the terminal")
    commands.add_parser("app", help="the desktop app in this process, without the supervisor "
                                   "that starts it again after a crash (plain `nexus-desktop` "
                                   "runs it supervised)")
    ask = commands.add_parser("ask", help="one turn of the conversation, then exit")
    ask.add_argument("text", help="your message")
    ask.add_argument("--json", action="store_true",
                     help='print {"reply", "source", "latency_ms", "ttft_ms"} as JSON, with '
                          '"skill_id" for a reply replayed from a skill (source "skill") and '
                          '"skill_example" for one the model made with a skill as example')
    ask.add_argument("--fresh", action="store_true",
                     help="always ask the model, even when a kept skill answers this request")
    ask.add_argument("--context", choices=("full", "facts", "none"), default="full",
                     help="what the model is given besides your message: full (facts, "
                          "recalled memories, summaries, recent turns; the default), facts "
                          "(facts only) or none (the model and its adapter alone)")
    config = commands.add_parser("config", help="read and change settings")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_commands.add_parser("list", help="every setting with its value and description")
    get = config_commands.add_parser("get", help="one setting's value")
    get.add_argument("key")
    set_ = config_commands.add_parser("set", help="change a setting")
    set_.add_argument("key")
    set_.add_argument("value")
    reset = config_commands.add_parser("reset", help="return a setting to its default")
    reset.add_argument("key")
    doctor = commands.add_parser("doctor", help="paths, model, database health")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    from nexus_desktop.cli import memory

    memory.add_parser(commands)
    from nexus_desktop.cli import facts

    facts.add_parser(commands)
    from nexus_desktop.cli import skills

    skills.add_parser(commands)
    from nexus_desktop.cli import learn

    learn.add_parser(commands)
    from nexus_desktop.cli import status

    status.add_parser(commands)
    from nexus_desktop.cli import api

    api.add_parser(commands)
    from nexus_desktop.cli import remote

    remote.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if args.self_test:
        from nexus_desktop.self_test import run_self_test

        return run_self_test(sys.stdout)
    # The command's words, for the running app to run the same command (facts, skills...).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    paths = app_paths()
    point_huggingface_at(paths)
    try:
        settings = Settings(paths.user_config)
    except ConfigError as exc:
        print(f"Settings problem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "config":
            return _config(args, settings, sys.stdout)
        _start_logging(paths)
        if args.command is None or args.command == "app" or (
                args.command == "api" and args.api_command != "serve"):
            return _without_data_lock(args, paths, settings)
        from nexus_desktop.cli import remote

        if args.command == "ask" and _refused_text(args.text):
            return EXIT_USAGE
        if args.command in remote.FORWARDED:
            answered = remote.forward(args, paths, sys.stdout, sys.stderr)
            if answered is not None:
                return answered
            if args.command == "control":
                return remote.control_without_app(sys.stderr)
        elif args.command == "api" and remote.app_is_running(paths):
            print("The desktop app is running, and it serves the HTTP API itself when "
                  "api.enabled is on (from its next start); `nexus-desktop api url` prints "
                  "the address.", file=sys.stderr)
            return EXIT_ERROR
        from nexus_desktop.data_lock import DataLock

        with DataLock.acquire(paths, f"`nexus-desktop {' '.join(args.argv[:2])}`"):
            return _with_data_lock(args, paths, settings)
    except ConfigError as exc:
        print(f"Settings problem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NexusError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _refused_text(text: str) -> bool:
    """Say so if a message cannot be sent: checked before anything starts, so a bad
    message is refused at once."""
    from nexus_desktop.memory.session import check_user_text

    try:
        check_user_text(text)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return True
    return False


def _without_data_lock(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    """The desktop app (which takes the lock itself, after making sure it is the only
    app) and the API's url and token, which need no memory."""
    if args.command == "api":
        from nexus_desktop.cli import api

        return api.run_command(args, paths, settings)
    return _desktop(args, paths, settings)


def _with_data_lock(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    """Commands that open the memory in this process."""
    if args.command == "ask":
        return _ask(args, paths, settings)
    if args.command == "doctor":
        return _doctor(args, paths, settings)
    if args.command == "memory":
        from nexus_desktop.cli import memory

        return memory.run(args, paths, settings)
    if args.command == "facts":
        from nexus_desktop.cli import facts

        return facts.run_command(args, paths, settings)
    if args.command == "skills":
        from nexus_desktop.cli import skills

        return skills.run_command(args, paths, settings)
    if args.command == "api":
        from nexus_desktop.cli import api

        return api.run_command(args, paths, settings)
    if args.command == "learn":
        return _learn(args, paths, settings)
    if args.command == "status":
        return _status(args, paths, settings)
    if args.command == "chat":
        return _chat(paths, settings)
    from nexus_desktop.cli import remote

    if args.command == "export":
        return remote.export_here(args, paths, sys.stdout)
    return remote.import_here(args, paths, sys.stdout, sys.stderr)


def _start_logging(paths: AppPaths) -> None:
    from nexus_desktop.logs import setup_logging

    try:
        setup_logging(paths.log_dir)
    except OSError as exc:
        print(f"Note: cannot write the log in {paths.log_dir} ({exc.strerror}); continuing "
              "without a log file.", file=sys.stderr)


def _open_engine(paths: AppPaths, settings: Settings,  # type: ignore[no-untyped-def]
                 background: bool = True):
    from nexus_desktop.engine import Engine

    engine = Engine(paths, settings, status=lambda text: print(text, file=sys.stderr, flush=True))
    opened = engine.open(background_indexing=background)
    if opened.recovery is not None:
        print(opened.recovery.describe(), file=sys.stderr)
    if engine.session.interrupted_at_start:
        print(f"Note: {engine.session.interrupted_at_start} reply was cut off when Nexus Desktop "
              "last stopped; it is kept in the history, marked as interrupted.", file=sys.stderr)
    return engine, opened


def _desktop(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    """The tray app: under the supervisor (plain `nexus-desktop`), or in this process
    (`nexus-desktop app`, which is also what the supervisor runs)."""
    from nexus_desktop.supervisor import SUPERVISED_ENV, Supervisor, child_command

    problem = _no_desktop_reason()
    if problem:
        print(f"{problem} Use `nexus-desktop chat` to chat in the terminal.", file=sys.stderr)
        return EXIT_USAGE
    supervised = os.environ.get(SUPERVISED_ENV) == "1"
    if args.command is None and not supervised:
        return Supervisor(child_command(["app"]), paths.log_dir).run()
    # torch before Qt: on Windows, loading Qt's DLLs first makes torch's fail to load.
    import torch  # noqa: F401

    from nexus_desktop.ui.app import run_app

    return run_app(paths, settings, supervised=supervised)


def _no_desktop_reason() -> str | None:
    """Why no window can be shown here, or None."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "No desktop session was found (neither DISPLAY nor WAYLAND_DISPLAY is set)."
    return None


def _chat(paths: AppPaths, settings: Settings) -> int:
    from nexus_desktop.cli.chat import TerminalChat, stdin_is_terminal

    engine, _ = _open_engine(paths, settings)
    try:
        chat = TerminalChat(engine, sys.stdout, sys.stderr)
        if stdin_is_terminal():
            return chat.run_interactive()
        return chat.run_piped(sys.stdin)
    finally:
        engine.close()


def _ask(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    # The message was checked in ``main``, before the model stack is imported.
    from nexus_desktop.cli.chat import FACTS_COMMAND, ctrl_c_cancels
    from nexus_desktop.engine import Notice, Piece, TurnResult
    from nexus_desktop.llm.generation import CancelToken
    engine, _ = _open_engine(paths, settings)
    try:
        engine.warm_up()  # before the clock starts: the times exclude start-up
        cancel = CancelToken()
        result: TurnResult | None = None
        with ctrl_c_cancels(cancel):
            for event in engine.turn(args.text, cancel, context=args.context,
                                     use_skills=not args.fresh):
                if isinstance(event, Notice):
                    print(f"Note: {event.shown_in(FACTS_COMMAND)}", file=sys.stderr)
                elif isinstance(event, Piece) and not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif isinstance(event, TurnResult):
                    result = event
        assert result is not None
        if args.json:
            print(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            print(" [stopped]" if result.status == "cancelled" else "")
            if result.error:
                print(f"The reply failed: {result.error}", file=sys.stderr)
        return EXIT_OK if result.status in ("complete", "cancelled") else EXIT_ERROR
    finally:
        engine.close()


def _learn(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    from nexus_desktop.cli import learn

    engine, _ = _open_engine(paths, settings, background=False)
    try:
        return learn.run(args, engine)
    finally:
        engine.close()


def _status(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    from nexus_desktop.cli import status

    engine, _ = _open_engine(paths, settings, background=False)
    try:
        return status.run(args, engine)
    finally:
        engine.close()


def _doctor(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    from nexus_desktop.cli.doctor import collect, render

    engine, opened = _open_engine(paths, settings)
    try:
        report = collect(engine, opened)
    finally:
        engine.close()
    print(json.dumps(report, indent=2) if args.json else render(report))
    healthy = report["database"]["integrity"] == "ok" and "problem" not in report["model"]
    return EXIT_OK if healthy else EXIT_ERROR


def _config(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.config_command == "list":
        for spec, value in settings.items():
            marker = "" if settings.is_default(spec.key) else "  (changed)"
            out.write(f"{spec.key} = {value!r}{marker}\n    {spec.description}\n"
                      f"    allowed: {spec.allowed()}; default: {spec.default!r}\n")
    elif args.config_command == "get":
        value = settings.get(args.key)
        out.write(f"{json.dumps(value) if not isinstance(value, str) else value}\n")
    elif args.config_command == "set":
        value = settings.set(args.key, args.value)
        out.write(f"{args.key} = {value!r} (saved in {settings.user_file})\n")
    elif args.config_command == "reset":
        settings.reset(args.key)
        out.write(f"{args.key} is back to its default, {settings.get(args.key)!r}\n")
    return EXIT_OK
