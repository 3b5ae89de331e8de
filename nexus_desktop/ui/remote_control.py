"""What the running app does for the command line and for scripts: the commands of its
local channel (`nexus-desktop status`, `ask`, `control`, `facts`, `skills`, `memory`,
`export`, `import`), and the HTTP API when the user turned it on (``api.enabled``).

Both go through one HostBackend, so a message from either is committed, answered and
shown in the chat window like one typed there.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nexus_desktop.api.http_server import ApiServer
from nexus_desktop.api.tokens import api_token
from nexus_desktop.cli.remote import describe_export, replace_memory, run_on_database
from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store import export
from nexus_desktop.ui.engine_host import EngineHost
from nexus_desktop.ui.host_backend import HostBackend
from nexus_desktop.ui.single_instance import SingleInstance

log = logging.getLogger(__name__)

API_HOST = "127.0.0.1"
# A database command (a search that embeds new messages first) may run this long.
DATABASE_COMMAND_SECONDS = 600.0

# Replaces the memory (an import, or the undo of one) and starts the app again; returns
# what happened, for the caller. Runs on the GUI thread.
ReplaceMemory = Callable[[Callable[[], str]], str]


class RemoteControl:
    """Registers the channel's commands on ``instance``; ``start_api`` serves HTTP."""

    def __init__(self, host: EngineHost, instance: SingleInstance, paths: AppPaths,
                 settings: Settings, replace_memory: ReplaceMemory) -> None:
        self.backend = HostBackend(host)
        self._paths = paths
        self._settings = settings
        self._host = host
        self._replace_memory = replace_memory
        self.server: ApiServer | None = None
        instance.add_stream_handler("status", self._status)
        instance.add_stream_handler("ask", self._ask)
        instance.add_stream_handler("control", self._control)
        instance.add_stream_handler("run", self._run)
        instance.add_stream_handler("export", self._export)
        instance.add_handler("import", self._import)

    def start_api(self) -> str | None:
        """Serve the HTTP API if it is turned on; why it could not start, or None."""
        if not self._settings.get("api.enabled") or self.server is not None:
            return None
        port = self._settings.get("api.port")
        server = ApiServer(self.backend, api_token(self._paths), API_HOST, port)
        try:
            server.start()
        except OSError as exc:
            return (f"The HTTP API cannot use port {port} ({exc.strerror}). Choose another "
                    "with `nexus-desktop config set api.port PORT` and start Nexus Desktop "
                    "again.")
        self.server = server
        log.info("serving the HTTP API at %s", server.url)
        return None

    def close(self) -> None:
        """End every request in progress (they are told the app is quitting), then the
        HTTP server and its threads."""
        self.backend.close()
        if self.server is not None:
            self.server.stop()
            self.server = None

    # -- the channel's commands (on command threads, except import) ------------------------

    def _status(self, _request: dict[str, Any], _stop: threading.Event
                ) -> Iterator[dict[str, Any]]:
        yield {"status": self.backend.status()}

    def _ask(self, request: dict[str, Any], stop: threading.Event) -> Iterator[dict[str, Any]]:
        text = request.get("text")
        if not isinstance(text, str):
            raise InputError('Send the message as "text".')
        yield from self.backend.interact_stream(text, str(request.get("context", "full")),
                                                use_skills=not request.get("fresh"),
                                                stop=stop)

    def _control(self, request: dict[str, Any], _stop: threading.Event
                 ) -> Iterator[dict[str, Any]]:
        topic = request.get("topic")
        yield {"control": self.backend.control(str(request.get("action")),
                                               topic if isinstance(topic, str) else None)}

    def _run(self, request: dict[str, Any], _stop: threading.Event
             ) -> Iterator[dict[str, Any]]:
        argv, cwd = request.get("argv"), request.get("cwd")
        if not (isinstance(argv, list) and all(isinstance(word, str) for word in argv)
                and isinstance(cwd, str)):
            raise InputError('Send the command\'s words as "argv" and the folder as "cwd".')

        def run() -> dict[str, Any]:
            out, err = io.StringIO(), io.StringIO()
            database = self.backend.engine().database
            code = run_on_database(argv, cwd, self._paths, self._settings, database, out, err)
            return {"exit": code, "out": out.getvalue(), "err": err.getvalue()}
        yield self.backend.on_store_thread(run, DATABASE_COMMAND_SECONDS)

    def _export(self, request: dict[str, Any], _stop: threading.Event
                ) -> Iterator[dict[str, Any]]:
        destination = _absolute_path(request, "path")
        report = self.backend.on_store_thread(
            lambda: export.export_memory(self._paths, destination), DATABASE_COMMAND_SECONDS)
        yield {"export": describe_export(report)}

    def _import(self, request: dict[str, Any]) -> dict[str, Any]:
        """On the GUI thread: closing the memory is the app's own work."""
        undo = request.get("undo")
        if undo is not None:
            folder = _absolute_path(request, "undo")
            report = self._replace_memory(lambda: replace_memory(self._paths, None, folder))
        else:
            archive = _absolute_path(request, "path")
            if not archive.is_file():
                raise InputError(f"There is no file {archive}; give the path of an export "
                                 "(a .zip file made by `nexus-desktop export`).")
            report = self._replace_memory(lambda: replace_memory(self._paths, archive, None))
        return {"report": f"{report} Nexus Desktop starts again on it now."}


def _absolute_path(request: dict[str, Any], key: str) -> Path:
    value = request.get(key)
    if not isinstance(value, str) or not Path(value).is_absolute():
        raise InputError(f'Send "{key}" as an absolute path.')
    return Path(value)
