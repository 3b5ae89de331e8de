"""`nexus-desktop api url|token|serve`: the opt-in localhost HTTP API.

`serve` runs a headless engine and daemon and serves the API in the foreground, so scripts
have the API without the desktop app.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from nexus_desktop.api.tokens import api_token, token_path
from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths

EXIT_OK, EXIT_ERROR = 0, 1
HOST = "127.0.0.1"
TURN_ON = "turn it on with `nexus-desktop config set api.enabled true`"


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    api = commands.add_parser(
        "api", help="the HTTP API on this computer: its address, its token, serve it",
        description="An HTTP API on 127.0.0.1 for scripts and monitoring (off until "
                    "api.enabled is true): GET /api/status, GET /api/metrics, POST "
                    "/api/interact, POST /api/control. Every request needs "
                    "`Authorization: Bearer TOKEN`.")
    actions = api.add_subparsers(dest="api_command", metavar="ACTION", required=True)
    actions.add_parser("url", help="the API's base address")
    actions.add_parser("token", help="the token every request needs (made the first time)")
    actions.add_parser("serve", help="serve the API without the desktop app, until Ctrl-C")


def base_url(settings: Settings) -> str:
    return f"http://{HOST}:{settings.get('api.port')}"


def run_command(args: argparse.Namespace, paths: AppPaths, settings: Settings,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if args.api_command == "url":
        out.write(base_url(settings) + "\n")
        return EXIT_OK
    if args.api_command == "token":
        out.write(api_token(paths) + "\n")
        if not settings.get("api.enabled"):
            err.write(f"Note: the API is off; {TURN_ON}.\n")
        return EXIT_OK
    return _serve(paths, settings, out, err)


def _serve(paths: AppPaths, settings: Settings, out: TextIO, err: TextIO) -> int:
    if not settings.get("api.enabled"):
        err.write(f"The HTTP API is off; {TURN_ON}, then run `nexus-desktop api serve` "
                  "again.\n")
        return EXIT_ERROR
    token = api_token(paths)
    taken = _port_taken(settings.get("api.port"))
    if taken is not None:  # said before the model stack is even imported
        err.write(_port_problem(settings, taken))
        return EXIT_ERROR
    from nexus_desktop.api.backend import EngineBackend
    from nexus_desktop.api.http_server import ApiServer
    from nexus_desktop.cli.main import _open_engine
    from nexus_desktop.daemon import Daemon

    engine, _ = _open_engine(paths, settings)
    daemon: Daemon | None = None
    backend: EngineBackend | None = None
    server: ApiServer | None = None
    try:
        engine.warm_up()  # the first request should not wait for the model
        daemon = Daemon.for_engine(engine)
        daemon.start()
        backend = EngineBackend(engine, daemon)
        server = ApiServer(backend, token, HOST, settings.get("api.port"))
        try:
            server.start()
        except OSError as exc:
            server = None
            err.write(_port_problem(settings, exc))
            return EXIT_ERROR
        out.write(f"Serving the Nexus Desktop API at {server.url} (token in "
                  f"{token_path(paths)}). Ctrl-C stops it.\n")
        out.flush()
        with _stop_signals() as stop:
            while not stop.wait(0.5):
                pass
        err.write("Stopping: finishing the open learning round.\n")
        return EXIT_OK
    finally:
        if server is not None:
            server.stop()
        if backend is not None:
            backend.close()
        if daemon is not None:
            daemon.stop(timeout=None)
        engine.close()


def _port_taken(port: int) -> OSError | None:
    """Why ``port`` cannot be listened on now, or None."""
    with socket.socket() as probe:
        if sys.platform != "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return exc
    return None


def _port_problem(settings: Settings, exc: OSError) -> str:
    return (f"Cannot serve the API on {base_url(settings)}: {exc.strerror}. Another program "
            "may use the port; choose another with `nexus-desktop config set api.port "
            "PORT`.\n")


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM (a service manager stopping the server)."""
    stop = threading.Event()
    names = ["SIGINT", "SIGTERM", "SIGBREAK"]  # SIGBREAK: Ctrl-Break on Windows
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in numbers}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
