"""Single instance: the first launch owns the name, later launches and tools talk to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDir
from PySide6.QtNetwork import QLocalSocket

from nexus_desktop.api.local_channel import MAX_LINE_BYTES, instance_name, send
from nexus_desktop.errors import InputError
from nexus_desktop.paths import AppPaths
from nexus_desktop.ui.single_instance import SingleInstance

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket files")


@pytest.fixture
def name(paths: AppPaths) -> str:
    return instance_name(paths)


@pytest.fixture
def first(qtbot, name: str) -> Iterator[SingleInstance]:
    instance = SingleInstance(name)
    assert instance.claim()
    yield instance
    instance.close()


def send_from_another_process(qtbot, name: str, message: dict[str, Any]) -> Any:
    """Run the blocking client in a real second process while this one serves the reply."""
    script = (
        "import json, sys\n"
        "from nexus_desktop.api.local_channel import send\n"
        "print(json.dumps(send(sys.argv[1], json.loads(sys.argv[2]), 10000)))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, name, json.dumps(message)],
                             stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        qtbot.waitUntil(lambda: child.poll() is not None, timeout=30_000)
    finally:
        child.kill()
        out, _ = child.communicate()
    assert child.returncode == 0
    return json.loads(out)


def exchange(qtbot, name: str, raw: bytes, replies: int) -> list[dict[str, Any]]:
    """Write raw bytes to the server and read ``replies`` JSON lines back."""
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    client.write(raw)
    received = bytearray()
    def have_all() -> bool:
        received.extend(client.readAll().data())
        return received.count(b"\n") >= replies
    qtbot.waitUntil(have_all, timeout=10_000)
    client.abort()
    return [json.loads(line) for line in bytes(received).splitlines()]


def test_name_is_per_user_and_data_folder_and_safe(paths: AppPaths, tmp_path: Path):
    name = instance_name(paths)
    other = instance_name(AppPaths(tmp_path / "d2", paths.config_dir, paths.cache_dir,
                                   paths.log_dir))
    assert name != other
    assert name == instance_name(paths)
    assert name.startswith("nexus-desktop-")
    assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in name)
    assert len(name) < 60


def test_second_instance_does_not_claim_and_first_is_shown(qtbot, first, name):
    second = SingleInstance(name)
    try:
        assert not second.claim()
        assert not second.is_listening
    finally:
        second.close()
    with qtbot.waitSignal(first.show_requested, timeout=10_000):
        reply = send_from_another_process(qtbot, name, {"command": "show"})
    assert reply == {"ok": True}


def test_a_second_process_gets_a_reply(qtbot, first, name):
    first.add_handler("echo", lambda request: {"echo": request["text"], "pid": os.getpid()})
    reply = send_from_another_process(qtbot, name, {"command": "echo", "text": "hé"})
    assert reply == {"ok": True, "echo": "hé", "pid": os.getpid()}


def test_send_returns_none_when_no_instance_runs(name):
    assert send(name, {"command": "show"}, 500) is None


def test_close_frees_the_name(qtbot, name):
    first = SingleInstance(name)
    assert first.claim()
    first.close()
    assert send(name, {"command": "show"}, 500) is None
    again = SingleInstance(name)
    try:
        assert again.claim()
    finally:
        again.close()


@unix_only
def test_a_stale_socket_file_does_not_block_a_new_claim(qtbot, name):
    path = Path(QDir.tempPath()) / name
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(path))
    crashed.close()  # what a crash leaves: the file, with nobody listening
    assert path.exists()
    instance = SingleInstance(name)
    try:
        assert instance.claim()
        assert instance.is_listening
        assert exchange(qtbot, name, b'{"command":"show"}\n', 1) == [{"ok": True}]
    finally:
        instance.close()
    assert not path.exists()


def test_malformed_input_gets_error_lines_and_the_server_keeps_working(qtbot, first, name):
    raw = b'not json\n[1,2]\n{"no":"command"}\n\xff\xfe\n{"command":"nope"}\n{"command":"show"}\n'
    replies = exchange(qtbot, name, raw, 6)
    assert [r["ok"] for r in replies] == [False, False, False, False, False, True]
    assert "JSON" in replies[0]["error"]
    assert '"command"' in replies[1]["error"]
    assert '"command"' in replies[2]["error"]
    assert "JSON" in replies[3]["error"]
    assert "unknown command 'nope'" in replies[4]["error"]
    assert "show" in replies[4]["error"]  # the known commands are listed


def test_handlers_answer_and_failures_become_error_replies(qtbot, first, name):
    first.add_handler("add", lambda request: {"sum": request["a"] + request["b"]})
    first.add_handler("boom", lambda request: 1 / 0)
    first.add_handler("junk", lambda request: {"value": object()})
    replies = exchange(
        qtbot, name,
        b'{"command":"add","a":2,"b":3}\n{"command":"boom"}\n{"command":"junk"}\n', 3,
    )
    assert replies[0] == {"ok": True, "sum": 5}
    assert replies[1]["ok"] is False and "command 'boom' failed" in replies[1]["error"]
    assert replies[2]["ok"] is False and "command 'junk' failed" in replies[2]["error"]
    assert exchange(qtbot, name, b'{"command":"add","a":1,"b":1}\n', 1) == [{"ok": True,
                                                                              "sum": 2}]


def test_a_line_split_across_writes_is_read_whole(qtbot, first, name):
    first.add_handler("len", lambda request: {"n": len(request["text"])})
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    message = json.dumps({"command": "len", "text": "x" * 200_000}).encode() + b"\n"
    for start in range(0, len(message), 70_000):
        client.write(message[start:start + 70_000])
        client.flush()
        qtbot.wait(10)
    qtbot.waitUntil(client.canReadLine, timeout=10_000)
    assert json.loads(client.readLine().data()) == {"ok": True, "n": 200_000}
    client.abort()


def test_an_over_long_line_is_refused_and_the_connection_closed(qtbot, first, name):
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    client.write(b'{"command":"show","pad":"' + b"x" * (MAX_LINE_BYTES + 10))
    received = bytearray()
    def refused() -> bool:
        received.extend(client.readAll().data())
        return client.state() == QLocalSocket.LocalSocketState.UnconnectedState
    qtbot.waitUntil(refused, timeout=10_000)
    received.extend(client.readAll().data())
    reply = json.loads(bytes(received).splitlines()[0])
    assert reply["ok"] is False and "longer than" in reply["error"]
    client.abort()
    # The server still answers others.
    assert exchange(qtbot, name, b'{"command":"show"}\n', 1) == [{"ok": True}]


def test_a_handler_may_close_the_instance(qtbot, first, name):
    first.add_handler("quit", lambda request: (first.close(), {})[1])
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    client.write(b'{"command":"quit"}\n{"command":"show"}\n')
    qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.UnconnectedState,
                    timeout=10_000)
    assert not first.is_listening
    assert send(name, {"command": "show"}, 500) is None


def test_a_streamed_command_sends_its_events_then_ok(qtbot, first, name):
    def count(request: dict[str, Any], _stop: threading.Event) -> Iterator[dict[str, Any]]:
        for number in range(request["to"]):
            yield {"n": number}
    first.add_stream_handler("count", count)
    replies = exchange(qtbot, name, b'{"command":"count","to":3}\n', 4)
    assert replies == [{"event": {"n": 0}}, {"event": {"n": 1}}, {"event": {"n": 2}},
                       {"ok": True}]
    # And a real client in another process sees the same final line.
    assert send_from_another_process(qtbot, name, {"command": "count", "to": 2}) == {"ok": True}


def test_a_streamed_failure_ends_with_its_reason(qtbot, first, name):
    def refuse(_request: dict[str, Any], _stop: threading.Event) -> Iterator[dict[str, Any]]:
        yield {"started": True}
        raise InputError("Give a topic.")

    def crash(_request: dict[str, Any], _stop: threading.Event) -> Iterator[dict[str, Any]]:
        raise RuntimeError("bug")
        yield {}
    first.add_stream_handler("refuse", refuse)
    first.add_stream_handler("crash", crash)
    assert exchange(qtbot, name, b'{"command":"refuse"}\n', 2) == [
        {"event": {"started": True}}, {"ok": False, "error": "Give a topic."}]
    crashed = exchange(qtbot, name, b'{"command":"crash"}\n', 1)
    assert crashed[0]["ok"] is False and "command 'crash' failed" in crashed[0]["error"]


def test_hanging_up_stops_a_streamed_command(qtbot, first, name):
    stopped = threading.Event()
    running = threading.Event()

    def endless(_request: dict[str, Any], stop: threading.Event) -> Iterator[dict[str, Any]]:
        try:
            while not stop.wait(0.05):
                running.set()
                yield {"tick": True}
        finally:
            stopped.set()
    first.add_stream_handler("endless", endless)
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    client.write(b'{"command":"endless"}\n')
    client.flush()
    qtbot.waitUntil(running.is_set, timeout=10_000)
    # A second request on the same connection waits for the first.
    client.write(b'{"command":"show"}\n')
    qtbot.waitUntil(lambda: b'one request at a time' in bytes(client.peek(1_000_000).data()),
                    timeout=10_000)
    client.abort()
    qtbot.waitUntil(stopped.is_set, timeout=10_000)


def test_closing_the_instance_ends_streamed_commands(qtbot, name):
    instance = SingleInstance(name)
    assert instance.claim()
    running = threading.Event()

    def endless(_request: dict[str, Any], stop: threading.Event) -> Iterator[dict[str, Any]]:
        while not stop.wait(0.05):
            running.set()
            yield {"tick": True}
    instance.add_stream_handler("endless", endless)
    client = QLocalSocket()
    client.connectToServer(name)
    assert client.waitForConnected(2000)
    client.write(b'{"command":"endless"}\n')
    client.flush()
    qtbot.waitUntil(running.is_set, timeout=10_000)
    instance.close()  # joins the command threads: the fixture checks none is left
    client.abort()
