"""The local channel to the running desktop app: its name, its line format, and a client.

The app listens on a local server (a named pipe on Windows, a Unix domain socket
elsewhere) that only its user can open. Each request is one JSON object on one line with a
``"command"``. The app answers with any number of ``{"event": ...}`` lines (the pieces of a
streamed reply, say) and then one final line with ``"ok"``: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.

The client uses Qt's local socket, so the name maps to the same pipe or socket file the
app's ``QLocalServer`` listens on, on every platform. Its waits are blocking and need no
event loop, so command-line tools use it without a Qt application.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtNetwork import QLocalSocket

from nexus_desktop.errors import NexusError
from nexus_desktop.paths import AppPaths

# A request or a reply longer than this is refused: nothing legitimate comes close, and an
# unbounded buffer would let any local program make the app grow without limit.
MAX_LINE_BYTES = 1_000_000
# How long one blocking wait lasts: short, so Ctrl-C in a terminal is seen between waits.
WAIT_SLICE_MS = 200


class ChannelError(NexusError):
    """The running app stopped answering in the middle of a request."""


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


class AppConnection:
    """One connection to the running app. Use as a context manager; ``None`` from
    ``connect`` means no app answers on ``name``."""

    def __init__(self, socket: QLocalSocket, name: str) -> None:
        self._socket = socket
        self._name = name
        self._buffer = bytearray()

    @classmethod
    def connect(cls, name: str, timeout_ms: int = 1000) -> AppConnection | None:
        socket = QLocalSocket()
        socket.connectToServer(name)
        if not socket.waitForConnected(timeout_ms):
            socket.abort()
            return None
        return cls(socket, name)

    def __enter__(self) -> AppConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Hang up; the app stops whatever this connection's request still runs."""
        self._socket.abort()

    def request(self, message: dict[str, Any],
                on_event: Callable[[dict[str, Any]], None] | None = None,
                timeout_s: float | None = 10.0) -> dict[str, Any]:
        """Send one command; ``on_event`` gets each event; returns the final line.

        ``timeout_s`` bounds the wait for each line (None: wait as long as it takes, for a
        reply that may queue behind a learning slice). ChannelError when the app hangs up or
        sends something that is not the protocol.
        """
        self._socket.write(encode_message(message))
        if not self._socket.waitForBytesWritten(5000):
            raise ChannelError("Nexus Desktop did not take the request; try again.")
        while True:
            line = self._read_line(timeout_s)
            if "ok" in line:
                return line
            if "event" in line and on_event is not None:
                on_event(line["event"])

    def _read_line(self, timeout_s: float | None) -> dict[str, Any]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ChannelError("Nexus Desktop sent a line that is too long.")
            if self._socket.bytesAvailable() == 0:
                if deadline is not None and time.monotonic() > deadline:
                    raise ChannelError("Nexus Desktop is running but did not answer in "
                                       f"{timeout_s:.0f} s; try again in a moment.")
                if not self._socket.waitForReadyRead(WAIT_SLICE_MS) and \
                        self._socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
                    raise ChannelError("Nexus Desktop closed the connection before it "
                                       "answered (it may be quitting); try again.")
            self._buffer.extend(self._socket.readAll().data())
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        try:
            answer = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ChannelError("Nexus Desktop answered with something that is not JSON.") \
                from None
        if not isinstance(answer, dict):
            raise ChannelError("Nexus Desktop answered with something that is not an object.")
        return answer


def send(name: str, message: dict[str, Any], timeout_ms: int = 2000) -> dict[str, Any] | None:
    """Send one command and return its final line; None when no app answers in time.

    Never call it inside the process that serves the name: while a thread waits here,
    PySide6 stalls that process's event loop (seen with 6.12), so no reply can come.
    """
    started = time.monotonic()
    connection = AppConnection.connect(name, timeout_ms)
    if connection is None:
        return None
    left = max(0.0, timeout_ms / 1000 - (time.monotonic() - started))
    with connection:
        try:
            return connection.request(message, timeout_s=left)
        except ChannelError:
            return None
