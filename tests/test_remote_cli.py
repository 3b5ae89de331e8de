"""The command line against the running desktop app, over its local channel, in real
processes: `status`, `ask` (which joins the chat window's conversation), `control`,
`facts`/`skills`/`memory`, `export` and `import`; and the app's own HTTP API.

The app runs in this process (offscreen, tiny model); each command is a real
`python -m nexus_desktop` process while the test keeps the app's event loop turning.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nexus_desktop.api.local_channel import instance_name
from nexus_desktop.api.tokens import api_token
from nexus_desktop.config import Settings
from nexus_desktop.data_lock import LOCK_FILE
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.facts import Fact
from nexus_desktop.supervisor import EXIT_RESTART
from nexus_desktop.ui.app import DesktopApp
from nexus_desktop.ui.single_instance import SingleInstance

pytestmark = pytest.mark.slow

STARTED_MS = 60_000
COMMAND_MS = 120_000


def start_app(qtbot, paths: AppPaths, settings: Settings) -> DesktopApp:
    instance = SingleInstance(instance_name(paths))
    assert instance.claim()
    app = DesktopApp(paths, settings, instance, supervised=True, tray_available=True)
    qtbot.addWidget(app.chat)
    with qtbot.waitSignal(app.host.model_ready, timeout=STARTED_MS):
        app.start()
    return app


@pytest.fixture
def app(qtbot, paths: AppPaths, tiny_settings: Settings) -> Iterator[DesktopApp]:
    # At temperature 0 the tiny model writes only blank lines.
    tiny_settings.set("generation.temperature", 1.0)
    tiny_settings.set("generation.top_p", 1.0)
    desktop = start_app(qtbot, paths, tiny_settings)
    yield desktop
    desktop.quit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_nexus(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "nexus_desktop", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8")


def nexus(qtbot, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command while this process's event loop (the app) keeps answering."""
    child = start_nexus(*args)
    qtbot.waitUntil(lambda: child.poll() is not None, timeout=COMMAND_MS)
    out, err = child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def stored_messages(app: DesktopApp) -> list[tuple[str, str]]:
    assert app.host.engine is not None
    return [(m.role, m.content) for m in app.host.engine.session.history(50)]


def shown_texts(app: DesktopApp) -> list[str]:
    return [bubble.text().strip() for bubble in app.chat.view.bubbles()]


def remember(app: DesktopApp, statement: str) -> Fact:
    assert app.host.engine is not None
    return app.host.engine.facts.remember(extract_facts(statement)[0], None)


def test_status_and_ask_go_to_the_running_app_and_show_in_its_chat(qtbot, app: DesktopApp):
    status = nexus(qtbot, "status", "--json")
    assert status.returncode == 0, status.stderr
    parsed = json.loads(status.stdout)
    # The app's daemon is running; a headless engine would say it is not.
    assert parsed["daemon"]["running"] is True and parsed["model"]["loaded"] is True

    app.show_chat()
    asked = nexus(qtbot, "ask", "--json", "Hello from the terminal")
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["status"] == "complete" and result["source"] == "model"
    assert ("user", "Hello from the terminal") in stored_messages(app)
    assert ("assistant", result["reply"]) in stored_messages(app)
    # The chat window showed the turn live, as if it had been typed there.
    texts = shown_texts(app)
    assert "Hello from the terminal" in texts and result["reply"].strip() in texts

    streamed = nexus(qtbot, "ask", "Tell me something")
    assert streamed.returncode == 0, streamed.stderr
    last = stored_messages(app)[-1]
    assert last[0] == "assistant" and streamed.stdout.strip() == last[1].strip()


def test_a_bad_message_is_refused_before_anything_runs(qtbot, app: DesktopApp):
    before = stored_messages(app)
    refused = nexus(qtbot, "ask", "   ")
    assert refused.returncode == 2 and "empty" in refused.stderr.lower()
    assert stored_messages(app) == before


def test_hanging_up_stops_the_reply_and_keeps_the_message(qtbot, app: DesktopApp,
                                                           tiny_settings: Settings):
    tiny_settings.set("generation.max_new_tokens", 2000)
    child = start_nexus("ask", "Write a very long story about the sea")
    qtbot.waitUntil(lambda: ("user", "Write a very long story about the sea")
                    in stored_messages(app), timeout=COMMAND_MS)
    qtbot.waitUntil(lambda: app.chat.reply_running, timeout=COMMAND_MS)
    child.send_signal(signal.SIGINT)
    qtbot.waitUntil(lambda: child.poll() is not None, timeout=COMMAND_MS)
    out, _err = child.communicate()
    assert child.returncode == 0 and out.rstrip().endswith("[stopped]")
    # The app stopped the reply: no reply runs on, and what was said is kept.
    qtbot.waitUntil(lambda: not app.chat.reply_running, timeout=COMMAND_MS)
    assert stored_messages(app)[-1][0] == "assistant"


def test_control_steers_the_apps_learning(qtbot, app: DesktopApp):
    engine = app.host.engine
    assert engine is not None
    paused = nexus(qtbot, "control", "pause")
    assert paused.returncode == 0 and "paused" in paused.stdout
    assert engine.learning.state == "paused"
    qtbot.waitUntil(lambda: app.tray.learning_paused, timeout=10_000)
    resumed = json.loads(nexus(qtbot, "control", "resume", "--json").stdout)
    assert resumed == {"action": "resume", "learning": "allowed", "topic": None}
    nexus(qtbot, "control", "train-stop")
    assert engine.learning.state == "stopped"
    started = json.loads(nexus(qtbot, "control", "train-start", "--topic", "astronomy",
                               "--json").stdout)
    assert started["learning"] == "allowed" and started["topic"] == "astronomy"
    wrong = nexus(qtbot, "control", "pause", "--topic", "x")
    assert wrong.returncode == 2 and "train-start" in wrong.stderr
    # A second engine for the HTTP API is not started beside the app: it serves it itself.
    serve = nexus(qtbot, "api", "serve")
    assert serve.returncode == 1 and "serves the HTTP API itself" in serve.stderr


def test_facts_skills_and_memory_commands_run_in_the_app(qtbot, app: DesktopApp,
                                                         tmp_path: Path):
    engine = app.host.engine
    assert engine is not None
    fact = remember(app, "My favorite color is teal.")
    listed = json.loads(nexus(qtbot, "facts", "list", "--json").stdout)
    assert [(f["id"], f["value"]) for f in listed] == [(fact.id, "teal")]
    edited = nexus(qtbot, "facts", "edit", str(fact.id), "green")
    assert edited.returncode == 0, edited.stderr
    assert engine.facts.get(fact.id).value == "green"
    missing = nexus(qtbot, "facts", "forget", "9999")
    assert missing.returncode == 1 and "9999" in missing.stderr
    skills = nexus(qtbot, "skills", "list")
    assert skills.returncode == 0 and "No skills kept yet" in skills.stdout

    # A relative file name is the caller's, not the app's.
    history = tmp_path / "history.jsonl"
    history.write_text('{"text": "We talked about lighthouses", "role": "user"}\n',
                       encoding="utf-8")
    imported = subprocess.Popen([sys.executable, "-m", "nexus_desktop", "memory", "import",
                                 "history.jsonl"], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: imported.poll() is not None, timeout=COMMAND_MS)
    out, err = imported.communicate()
    assert imported.returncode == 0 and "Imported 1 messages" in out, err
    assert ("user", "We talked about lighthouses") in stored_messages(app)


def test_export_and_import_through_the_app(qtbot, app: DesktopApp, paths: AppPaths,
                                           tmp_path: Path):
    engine = app.host.engine
    assert engine is not None
    remember(app, "My favorite color is teal.")
    archive = tmp_path / "memory.zip"
    exported = nexus(qtbot, "export", str(archive))
    assert exported.returncode == 0 and "1 facts" in exported.stdout, exported.stderr
    with zipfile.ZipFile(archive) as opened:
        assert "nexus.db" in opened.namelist()

    remember(app, "I live in Lyon.")
    with qtbot.waitSignal(app.finished, timeout=COMMAND_MS) as quit_:
        imported = nexus(qtbot, "import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert "Imported" in imported.stdout and "starts again" in imported.stdout
    # The app closed the memory for the import and asks the supervisor to start it again.
    assert quit_.args == [EXIT_RESTART]
    kept = imported.stdout.split("--undo ")[1].split("`")[0]
    assert Path(kept).is_dir()


def test_the_app_serves_the_http_api_when_it_is_on(qtbot, paths: AppPaths,
                                                   tiny_settings: Settings):
    tiny_settings.set("api.enabled", True)
    tiny_settings.set("api.port", free_port())
    app = start_app(qtbot, paths, tiny_settings)
    try:
        qtbot.waitUntil(lambda: app.remote.server is not None, timeout=10_000)
        assert app.remote.server is not None
        url, token = app.remote.server.url, api_token(paths)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def call(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(url + path, data, headers)
            child_result: dict[str, Any] = {}

            # urllib blocks: run it beside the event loop, which serves the app.
            def fetch() -> None:
                with urllib.request.urlopen(request, timeout=120) as answer:
                    child_result["body"] = json.loads(answer.read())
            worker = threading.Thread(target=fetch)
            worker.start()
            qtbot.waitUntil(lambda: not worker.is_alive(), timeout=COMMAND_MS)
            worker.join()
            return child_result["body"]

        assert call("/api/status")["daemon"]["running"] is True
        reply = call("/api/interact", {"prompt": "Hello from a script"})
        assert reply["status"] == "complete"
        assert ("user", "Hello from a script") in stored_messages(app)
        assert "Hello from a script" in shown_texts(app)
        assert call("/api/control", {"action": "pause"})["learning"] == "paused"
    finally:
        app.quit()
    assert app.remote.server is None


def test_without_the_app_commands_open_the_memory_themselves(paths: AppPaths,
                                                              tiny_settings: Settings,
                                                              tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nexus_desktop", *args],
                              capture_output=True, text=True, timeout=300, check=False)

    control = run("control", "pause")
    assert control.returncode == 1 and "not running" in control.stderr
    status = json.loads(run("status", "--json").stdout)
    assert status["daemon"]["running"] is False
    archive = tmp_path / "memory.zip"
    assert run("export", str(archive)).returncode == 0 and archive.is_file()
    imported = run("import", str(archive))
    assert imported.returncode == 0, imported.stderr
    kept = imported.stdout.split("--undo ")[1].split("`")[0]
    undone = run("import", "--undo", kept)
    assert undone.returncode == 0 and "is back in use" in undone.stdout
    neither = run("import")
    assert neither.returncode == 2 and "--undo" in neither.stderr
    # No command left the lock's description behind.
    assert (paths.data_dir / LOCK_FILE).read_text(encoding="utf-8") == ""
