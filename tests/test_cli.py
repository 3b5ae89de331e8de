"""The `nexus-desktop` command run as a real process, the way a user or a script runs it."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database


def nexus(*args: str, stdin: bytes | None = None, timeout: float = 300,
          prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "nexus_desktop", *args],
        input=stdin, capture_output=True, timeout=timeout, check=False,
    )


def stored(paths: AppPaths) -> list[tuple[str, str, str]]:
    database = Database(paths.database, paths.backups_dir)
    try:
        rows = database.connection().execute(
            "SELECT role, content, status FROM messages ORDER BY id"
        ).fetchall()
    finally:
        database.close()
    return [tuple(row) for row in rows]


@pytest.fixture
def tiny_cli(paths: AppPaths, tiny_settings: Settings) -> AppPaths:
    """The user's config.toml selects the tiny model, so child processes use it too."""
    return paths


def test_chat_quit_and_come_back_continues_the_same_conversation(tiny_cli: AppPaths):
    first = nexus("chat", stdin=b"My favourite colour is teal.\nMy cat is called Miso.\n")
    assert first.returncode == 0, first.stderr.decode()
    rows = stored(tiny_cli)
    assert [r[:1] + r[2:] for r in rows] == [("user", "complete"), ("assistant", "complete")] * 2
    assert rows[0][1] == "My favourite colour is teal." and rows[2][1] == "My cat is called Miso."
    # Piped mode: each reply followed by an empty line, nothing else on stdout.
    assert first.stdout.decode() == "".join(r[1] + "\n\n" for r in rows if r[0] == "assistant")

    second = nexus("chat", stdin=b"/history 10\n")
    assert second.returncode == 0, second.stderr.decode()
    history = second.stdout.decode()
    assert "user: My favourite colour is teal." in history
    assert "user: My cat is called Miso." in history
    assert history.index("teal") < history.index("Miso")

    engine = Engine(tiny_cli, Settings(tiny_cli.user_config))
    engine.open()
    try:
        list(engine.turn("What is my cat called?"))
        plan = engine.last_plan
        user_ids = [m.id for m in engine.session.history(10) if m.role == "user"]
    finally:
        engine.close()
    assert set(user_ids[:2]) <= set(plan.history_ids)
    prompt_text = "\n".join(m["content"] for m in plan.messages)
    assert "My favourite colour is teal." in prompt_text and "My cat is called Miso." in prompt_text
    assert plan.messages[-1]["content"].endswith("What is my cat called?")


def test_search_finds_earlier_messages(tiny_cli: AppPaths):
    nexus("chat", stdin=b"The dentist appointment is on Friday.\n")
    found = nexus("chat", stdin=b"/search dentist friday\n/search zebra\n")
    out = found.stdout.decode()
    assert "[dentist] appointment is on [Friday]" in out
    assert "Nothing found for 'zebra'." in out


def test_bad_lines_on_stdin_are_refused_clearly_and_the_rest_kept(tiny_cli: AppPaths):
    result = nexus("chat", stdin=b"hello\n\xff\xfe broken\n   \nnul\x00inside\n/bogus\nbye\n")
    err = result.stderr.decode()
    assert result.returncode == 0
    assert "Traceback" not in err
    assert "Line 2 was not saved: it is not valid UTF-8 text (byte 0xff at position 1)" in err
    assert "The message is empty, so it was not sent." in err
    assert "Unknown command /bogus" in err
    users = [r[1] for r in stored(tiny_cli) if r[0] == "user"]
    assert users == ["hello", "nul\x00inside", "bye"]


def test_ask_json_reports_reply_source_and_times(tiny_cli: AppPaths):
    result = nexus("ask", "Hello?", "--json")
    assert result.returncode == 0, result.stderr.decode()
    payload = json.loads(result.stdout.decode())
    assert payload["source"] == "model" and payload["status"] == "complete"
    assert payload["latency_ms"] > 0 and 0 < payload["ttft_ms"] <= payload["latency_ms"]
    assert [r[1] for r in stored(tiny_cli)] == ["Hello?", payload["reply"]]


def test_ask_refuses_a_blank_message_without_touching_the_database(tiny_cli: AppPaths):
    result = nexus("ask", "   ")
    assert result.returncode == 2
    assert "empty" in result.stderr.decode()
    assert not tiny_cli.database.exists()


def test_config_commands_validate_like_everywhere_else(paths: AppPaths):
    bad = nexus("config", "set", "generation.top_p", "7")
    assert bad.returncode == 2
    assert "generation.top_p = '7' is not allowed: it must be a number from 0.05 to 1.0" in \
        bad.stderr.decode()
    good = nexus("config", "set", "generation.top_p", "0.5")
    assert good.returncode == 0
    assert nexus("config", "get", "generation.top_p").stdout.decode().strip() == "0.5"
    listing = nexus("config", "list").stdout.decode()
    assert "generation.top_p = 0.5  (changed)" in listing
    assert "Nucleus sampling" in listing
    unknown = nexus("config", "get", "no.such")
    assert unknown.returncode == 2 and "no setting called 'no.such'" in unknown.stderr.decode()


def test_a_broken_user_config_is_reported_without_a_traceback(paths: AppPaths):
    paths.user_config.write_text("[model]\ndevice = 'tpu'\n")
    result = nexus("doctor")
    err = result.stderr.decode()
    assert result.returncode == 2 and "Traceback" not in err
    assert "model.device = 'tpu' is not allowed: it must be one of 'auto', 'cpu', 'cuda'" in err


def test_doctor_reports_paths_model_and_database(tiny_cli: AppPaths):
    nexus("ask", "My favourite colour is teal.")
    result = nexus("doctor", "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout.decode())
    assert report["paths"]["database"] == str(tiny_cli.database)
    assert report["model"]["kind"] == "folder" and report["model"]["ready"] is True
    assert report["model"]["device"] == "cpu" and report["model"]["dtype"] == "float32"
    assert report["model"]["context_window"] == 512
    database = report["database"]
    assert database["integrity"] == "ok" and database["schema_version"] >= 2
    assert database["rows"]["messages"] == 2 and database["rows"]["sessions"] == 1
    assert database["size_bytes"] > 0
    memory = database["memory"]
    assert memory["facts_by_status"] == {"active": 1}
    assert memory["messages_by_tier"] == {"full": 2}
    assert memory["training_examples"] >= 2 and memory["last_compaction"] is not None
    text = nexus("doctor").stdout.decode()
    assert "integrity: ok" in text and f"database: {tiny_cli.database}" in text


def test_version_and_module_entry_point():
    result = nexus("--version")
    assert result.returncode == 0 and result.stdout.decode().startswith("nexus-desktop 0.")


def _without_write_permission() -> tuple[str, ...]:
    """A command prefix under which file permissions apply, even for root."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv, so permissions cannot be enforced")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps=-all")


def test_a_read_only_data_folder_gives_a_clear_error_and_loses_nothing(tiny_cli: AppPaths):
    assert nexus("ask", "kept safe").returncode == 0
    before = stored(tiny_cli)
    for folder in (tiny_cli.data_dir, tiny_cli.log_dir):
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        result = nexus("ask", "this cannot be saved", prefix=_without_write_permission())
    finally:
        for folder in (tiny_cli.data_dir, tiny_cli.log_dir):
            for path in [folder, *folder.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err
    assert "cannot write to its data folder" in err and "nothing saved before" in err
    assert stored(tiny_cli) == before


@pytest.mark.slow
@pytest.mark.bundled_model
def test_a_reply_cut_off_by_kill_9_is_kept_and_marked_interrupted(bundled_home: AppPaths):
    settings = Settings(bundled_home.user_config)
    settings.set("generation.max_new_tokens", 2000)
    settings.set("generation.temperature", 0.8)
    process = subprocess.Popen(
        [sys.executable, "-m", "nexus_desktop", "chat"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"Write a very long story about a lighthouse keeper.\n")
    process.stdin.flush()
    first = process.stdout.read(1)
    assert first, "no reply started"
    # Long enough for the engine to write the partial reply down at least once.
    time.sleep(4)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdin.close()
    process.stdout.close()

    result = nexus("chat", stdin=b"/history 2\n")
    assert "1 reply was cut off when Nexus Desktop last stopped" in result.stderr.decode()
    rows = stored(bundled_home)
    assert rows[0] == ("user", "Write a very long story about a lighthouse keeper.", "complete")
    role, content, status = rows[1]
    assert (role, status) == ("assistant", "interrupted")
    assert len(content) > 10
    assert "assistant [interrupted]:" in result.stdout.decode()


def test_the_python_module_and_the_console_script_are_the_same_command():
    script = Path(sys.executable).with_name("nexus-desktop")
    if not script.exists():
        pytest.skip("the console script is installed only by the package install")
    out = subprocess.run([str(script), "--version"], capture_output=True, check=True)
    assert out.stdout == nexus("--version").stdout


def read_until(fd: int, marker: bytes, seen: bytearray, start: int = 0,
               timeout: float = 120) -> int:
    """Read the terminal's output into ``seen`` until ``marker`` appears after ``start``;
    returns where the marker ends."""
    deadline = time.monotonic() + timeout
    while (found := seen.find(marker, start)) < 0:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} never appeared; output was {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            seen.extend(os.read(fd, 4096))
    return found + len(marker)


@pytest.mark.slow
@pytest.mark.bundled_model
def test_ctrl_c_on_a_terminal_stops_the_answer_but_not_the_chat(bundled_home: AppPaths):
    settings = Settings(bundled_home.user_config)
    settings.set("generation.max_new_tokens", 2000)
    settings.set("generation.temperature", 0.8)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "nexus_desktop", "chat"], stdin=terminal, stdout=terminal,
        stderr=terminal, close_fds=True,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        at = read_until(controller, b"you> ", seen)
        os.write(controller, b"Write a very long story about a lighthouse keeper.\r")
        at = read_until(controller, b"nexus> ", seen, at)
        read_until(controller, b" ", seen, at)  # the answer has begun
        # What a terminal does on Ctrl-C: SIGINT to the program in the foreground.
        process.send_signal(signal.SIGINT)
        at = read_until(controller, b"[stopped]", seen, at)
        at = read_until(controller, b"you> ", seen, at)
        os.write(controller, b"/history 2\r")
        read_until(controller, b"assistant [cancelled]:", seen, at)
        os.write(controller, b"/quit\r")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    rows = stored(bundled_home)
    assert rows[-1][0] == "assistant" and rows[-1][2] == "cancelled" and rows[-1][1]


def test_without_a_desktop_the_app_says_so_and_points_to_the_terminal_chat(
        monkeypatch: pytest.MonkeyPatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    done = nexus()
    assert done.returncode == 2
    assert b"No desktop session was found" in done.stderr
    assert b"nexus-desktop chat" in done.stderr
