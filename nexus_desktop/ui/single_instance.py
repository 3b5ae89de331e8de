"""One Nexus Desktop per user and data folder, and a local command channel to it.

The first launch listens on a local server (a named pipe on Windows, a Unix domain
socket elsewhere); a second launch finds it, sends ``{"command": "show"}`` and exits, so
the user gets the window they asked for instead of a second app fighting over the same
database. The same channel carries the command-line tools' commands to the running app
(the line format is in ``nexus_desktop.api.local_channel``): quick ones are answered on
the GUI thread, streamed ones (a chat reply) on worker threads of their own.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from nexus_desktop.api.local_channel import MAX_LINE_BYTES, encode_message
from nexus_desktop.errors import NexusError

log = logging.getLogger(__name__)

SHOW_COMMAND = "show"
# Streamed commands running at once; more wait their turn.
COMMAND_THREADS = 4

Handler = Callable[[dict[str, Any]], dict[str, Any]]
# Runs on a worker thread; yields events; should end soon once the event is set (the
# caller hung up or the app is closing).
StreamHandler = Callable[[dict[str, Any], threading.Event], Iterator[dict[str, Any]]]


class SingleInstance(QObject):
    """Claims the instance name and answers commands from other launches and processes."""

    show_requested = Signal()
    # From a worker thread: a line for a connection (written on the GUI thread).
    _line_ready = Signal(object, object, bool)  # socket, the line's bytes, is it the last

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}
        # Connections told their message was too long: whatever else they send is dropped.
        self._hanging_up: set[QLocalSocket] = set()
        self._handlers: dict[str, Handler] = {}
        self._stream_handlers: dict[str, StreamHandler] = {}
        # A streamed command in progress, by connection: set when it should stop.
        self._streaming: dict[QLocalSocket, threading.Event] = {}
        self._workers: ThreadPoolExecutor | None = None
        self._line_ready.connect(self._write_line)
        self.add_handler(SHOW_COMMAND, self._on_show)

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def add_handler(self, command: str, handler: Handler) -> None:
        """Answer ``command`` with ``handler(request)``; its dict is merged into the reply.
        It runs on the GUI thread, so it must be quick."""
        self._handlers[command] = handler

    def add_stream_handler(self, command: str, handler: StreamHandler) -> None:
        """Answer ``command`` on a worker thread: each dict ``handler(request, stop)``
        yields goes out as an ``{"event": ...}`` line, then ``{"ok": true}``; a NexusError
        ends it with ``{"ok": false, "error": ...}``. ``stop`` is set when the caller hangs
        up or the instance closes, and the iterator is closed."""
        self._stream_handlers[command] = handler

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
        """Stop listening, drop every open connection and end the streamed commands."""
        for socket in list(self._buffers):
            self._drop(socket)
        if self._workers is not None:
            self._workers.shutdown(wait=True)
            self._workers = None
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
            if socket in self._streaming:
                socket.write(encode_message(
                    {"ok": False, "error": "one request at a time: wait for the answer"}))
                continue
            answer = self._answer(socket, line)
            if answer is None:
                continue  # streamed from a worker thread
            if socket not in self._buffers:
                return  # the handler closed the instance (a "quit" command, say)
            socket.write(encode_message(answer))
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

    def _answer(self, socket: QLocalSocket, line: bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"not a JSON line ({exc}); send one JSON object per line"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'send a JSON object with a "command" string'}
        command = request["command"]
        stream_handler = self._stream_handlers.get(command)
        if stream_handler is not None:
            self._start_stream(socket, command, stream_handler, request)
            return None
        handler = self._handlers.get(command)
        if handler is None:
            known = ", ".join(sorted([*self._handlers, *self._stream_handlers]))
            return {"ok": False, "error": f"unknown command {command!r}; known: {known}"}
        try:
            result = handler(request)
            reply = {"ok": True, **result}
            json.dumps(reply)
        except NexusError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            # A faulty handler must not take the app down with it; the caller learns why.
            log.exception("command %r failed", command)
            return {"ok": False, "error": f"command {command!r} failed: {exc}"}
        return reply

    def _start_stream(self, socket: QLocalSocket, command: str, handler: StreamHandler,
                      request: dict[str, Any]) -> None:
        if self._workers is None:
            self._workers = ThreadPoolExecutor(COMMAND_THREADS,
                                               thread_name_prefix="nexus-command")
        stop = threading.Event()
        self._streaming[socket] = stop
        self._workers.submit(self._stream, socket, command, handler, request, stop)

    def _stream(self, socket: QLocalSocket, command: str, handler: StreamHandler,
                request: dict[str, Any], stop: threading.Event) -> None:
        """On a worker thread: run the handler, every line out through ``_line_ready``.
        The socket is only a key here; it is used on the GUI thread alone."""
        final: dict[str, Any] = {"ok": True}
        try:
            events = handler(request, stop)
            try:
                for event in events:
                    if stop.is_set():
                        break
                    self._line_ready.emit(socket, encode_message({"event": event}), False)
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()  # a generator's cleanup (stopping a reply) runs now
        except NexusError as exc:
            final = {"ok": False, "error": str(exc)}
        except Exception as exc:
            # A faulty handler must not take the app down with it; the caller learns why.
            log.exception("command %r failed", command)
            final = {"ok": False, "error": f"command {command!r} failed: {exc}"}
        self._line_ready.emit(socket, encode_message(final), True)

    @Slot(object, object, bool)
    def _write_line(self, socket: QLocalSocket, data: bytes, last: bool) -> None:
        if last:
            self._streaming.pop(socket, None)
        if socket in self._buffers and socket not in self._hanging_up:
            socket.write(data)

    def _drop(self, socket: QLocalSocket) -> None:
        stop = self._streaming.pop(socket, None)
        if stop is not None:
            stop.set()
        if self._buffers.pop(socket, None) is None:
            return
        self._hanging_up.discard(socket)
        # What was written is sent before the socket goes (a last reply before quitting).
        socket.flush()
        socket.abort()
        socket.deleteLater()

    def _on_show(self, _request: dict[str, Any]) -> dict[str, Any]:
        self.show_requested.emit()
        return {}
