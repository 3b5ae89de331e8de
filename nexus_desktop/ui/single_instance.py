"""One Nexus Desktop per user and data folder, and a local command channel to it.

The first launch listens on a local server (a named pipe on Windows, a Unix domain
socket elsewhere); a second launch finds it, sends ``{"command": "show"}`` and exits, so
the user gets the window they asked for instead of a second app fighting over the same
database. The same channel carries other commands (one JSON object per line each way),
so command-line tools can talk to the running app later.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from nexus_desktop.paths import AppPaths

log = logging.getLogger(__name__)

# A request or a reply longer than this is refused: nothing legitimate comes close, and an
# unbounded buffer would let any local program make the app grow without limit.
MAX_LINE_BYTES = 1_000_000

SHOW_COMMAND = "show"

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def instance_name(paths: AppPaths) -> str:
    """The local server name for this user and data folder.

    Two users on one machine, or one user with two data folders (``NEXUS_HOME``), each get
    their own instance. Only ASCII letters, digits, ``-`` and ``_`` are used and the name is
    short, so it is a valid Windows pipe name and fits the ~100-byte Unix socket path limit.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # No user name in the environment or the password database (some containers).
        user = "user"
    safe_user = re.sub(r"[^A-Za-z0-9_-]", "_", user)[:32] or "user"
    folder = str(paths.data_dir.expanduser().resolve())
    if sys.platform == "win32":
        # Windows paths are case-insensitive: C:\Users and c:\users are one folder.
        folder = folder.lower()
    digest = hashlib.sha256(folder.encode("utf-8")).hexdigest()[:12]
    return f"nexus-desktop-{safe_user}-{digest}"


def encode_message(message: dict[str, Any]) -> bytes:
    """One JSON object as one line; JSON escapes newlines inside strings."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class SingleInstance(QObject):
    """Claims the instance name and answers commands from other launches and processes."""

    show_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}
        # Connections told their message was too long: whatever else they send is dropped.
        self._hanging_up: set[QLocalSocket] = set()
        self._handlers: dict[str, Handler] = {}
        self.add_handler(SHOW_COMMAND, self._on_show)

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def add_handler(self, command: str, handler: Handler) -> None:
        """Answer ``command`` with ``handler(request)``; its dict is merged into the reply."""
        self._handlers[command] = handler

    def claim(self, timeout_ms: int = 1000) -> bool:
        """True if this process is now the instance; False if another one answered.

        Connecting comes first: on Windows a second QLocalServer can listen on a pipe name
        that is already taken, so "listen succeeded" proves nothing there.
        """
        if self.is_listening:
            return True
        probe = QLocalSocket()
        probe.connectToServer(self._name)
        if probe.waitForConnected(timeout_ms):
            probe.disconnectFromServer()
            return False
        probe.abort()
        server = QLocalServer(self)
        # Only this user may connect: the channel will carry commands to the companion.
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if sys.platform != "win32":
            # A crash leaves the socket file behind; nobody answered on it, so it is stale.
            QLocalServer.removeServer(self._name)
        if not server.listen(self._name):
            log.error("cannot listen on %s: %s", self._name, server.errorString())
            server.deleteLater()
            return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def close(self) -> None:
        """Stop listening and drop every open connection."""
        for socket in list(self._buffers):
            self._drop(socket)
        if self._server is not None:
            # On Unix close() also removes the socket file, so the next launch starts clean.
            self._server.close()
            self._server.deleteLater()
            self._server = None

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._drop(s))

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None or socket in self._hanging_up:
            socket.readAll()
            return
        buffer.extend(socket.readAll().data())
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if len(line) > MAX_LINE_BYTES:
                self._refuse_too_long(socket)
                return
            reply = encode_message(self._answer(line))
            if socket not in self._buffers:
                return  # the handler closed the instance (a "quit" command, say)
            socket.write(reply)
        if len(buffer) > MAX_LINE_BYTES:
            self._refuse_too_long(socket)

    def _refuse_too_long(self, socket: QLocalSocket) -> None:
        """Reply once and hang up: the rest of an over-long line cannot be trusted."""
        socket.write(encode_message(
            {"ok": False, "error": f"message longer than {MAX_LINE_BYTES} bytes; not read"}
        ))
        self._hanging_up.add(socket)
        self._buffers[socket].clear()
        # Closes once the reply is written; the disconnected signal then drops the socket.
        socket.disconnectFromServer()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"not a JSON line ({exc}); send one JSON object per line"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'send a JSON object with a "command" string'}
        command = request["command"]
        handler = self._handlers.get(command)
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"ok": False, "error": f"unknown command {command!r}; known: {known}"}
        try:
            result = handler(request)
            reply = {"ok": True, **result}
            json.dumps(reply)
        except Exception as exc:
            # A faulty handler must not take the app down with it; the caller learns why.
            log.exception("command %r failed", command)
            return {"ok": False, "error": f"command {command!r} failed: {exc}"}
        return reply

    def _drop(self, socket: QLocalSocket) -> None:
        if self._buffers.pop(socket, None) is None:
            return
        self._hanging_up.discard(socket)
        socket.abort()
        socket.deleteLater()

    def _on_show(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.show_requested.emit()
        return {}


def send(name: str, message: dict[str, Any], timeout_ms: int = 2000) -> dict[str, Any] | None:
    """Send one command to the running instance and return its reply.

    Blocking, for a second launch before it opens any window and for other processes.
    None when no instance answers within ``timeout_ms`` (or it answers with nonsense).

    Never call it inside the process that serves the name: while a thread waits here,
    PySide6 stalls that process's event loop (seen with 6.12), so no reply can come.
    """
    deadline = time.monotonic() + timeout_ms / 1000

    def remaining_ms() -> int:
        return max(0, int((deadline - time.monotonic()) * 1000))

    socket = QLocalSocket()
    try:
        socket.connectToServer(name)
        if not socket.waitForConnected(remaining_ms()):
            return None
        socket.write(encode_message(message))
        if not socket.waitForBytesWritten(remaining_ms()):
            return None
        reply = bytearray()
        while b"\n" not in reply:
            if len(reply) > MAX_LINE_BYTES:
                log.warning("reply from %s is too long; ignored", name)
                return None
            if socket.bytesAvailable() == 0 and not socket.waitForReadyRead(remaining_ms()):
                return None
            reply.extend(socket.readAll().data())
        line = bytes(reply[: reply.find(b"\n")])
        try:
            answer = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("reply from %s is not JSON; ignored", name)
            return None
        return answer if isinstance(answer, dict) else None
    finally:
        socket.abort()
