"""`nexus-desktop api url|token|serve` and the token file: in this process, and `api serve`
as a real process answering real requests until it is told to stop."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nexus_desktop.api.tokens import api_token, token_path
from nexus_desktop.cli.main import main
from nexus_desktop.config import Settings
from nexus_desktop.errors import ConfigError
from nexus_desktop.paths import AppPaths

posix_only = pytest.mark.skipif(sys.platform == "win32",
                                reason="Windows keeps the file private by the profile's ACL")


def test_api_url_is_localhost_at_the_configured_port(settings: Settings,
                                                     capsys: pytest.CaptureFixture[str]):
    assert main(["api", "url"]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:8765\n"
    settings.set("api.port", 9123)
    assert main(["api", "url"]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:9123\n"


def test_api_port_stays_within_the_unprivileged_ports(settings: Settings):
    for wrong in ("80", "70000", "http"):
        with pytest.raises(ConfigError, match=r"api\.port"):
            settings.set("api.port", wrong)


def test_api_token_is_made_once_and_stays_the_same(paths: AppPaths,
                                                   capsys: pytest.CaptureFixture[str]):
    assert not token_path(paths).exists()
    assert main(["api", "token"]) == 0
    first = capsys.readouterr()
    token = first.out.strip()
    assert len(token) >= 43 and "api.enabled true" in first.err  # the API is still off
    assert main(["api", "token"]) == 0
    assert capsys.readouterr().out.strip() == token
    assert api_token(paths) == token
    assert token_path(paths).parent == paths.user_config.parent
    assert [p.name for p in token_path(paths).parent.iterdir()
            if p.name.startswith(".api-token")] == []  # no draft left behind


def test_tokens_of_different_homes_differ(paths: AppPaths, tmp_path: Path):
    other = AppPaths(*(tmp_path / "other" / name for name in ("d", "c", "k", "l")))
    assert api_token(paths) != api_token(other)


@posix_only
def test_the_token_file_is_readable_by_the_user_only(paths: AppPaths):
    api_token(paths)
    assert stat.S_IMODE(token_path(paths).stat().st_mode) == 0o600
    token_path(paths).chmod(0o644)  # restored from a backup with looser rights
    api_token(paths)
    assert stat.S_IMODE(token_path(paths).stat().st_mode) == 0o600


def test_a_token_file_it_did_not_make_is_refused_with_what_to_do(
        paths: AppPaths, capsys: pytest.CaptureFixture[str]):
    token_path(paths).write_text("secret\n")
    assert main(["api", "token"]) == 2
    assert "delete the file" in capsys.readouterr().err


def test_api_serve_refuses_while_the_api_is_off(paths: AppPaths,
                                                capsys: pytest.CaptureFixture[str]):
    assert main(["api", "serve"]) == 1
    err = capsys.readouterr().err
    assert "`nexus-desktop config set api.enabled true`" in err
    assert not paths.database.exists()  # nothing was opened


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, token: str, body: dict[str, str] | None = None
        ) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST" if body else "GET", path,
                           body=json.dumps(body) if body else None,
                           headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def start_serving(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "nexus_desktop", "api", "serve"],
                                   stdout=stdout, stderr=stderr)
    return process, out, err


def wait_for_listening(process: subprocess.Popen[bytes], port: int, err: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, err.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("api serve did not start listening within 120 s")


@posix_only
@pytest.mark.slow
def test_api_serve_answers_requests_until_sigterm_then_stops_cleanly(
        paths: AppPaths, tiny_settings: Settings, tmp_path: Path):
    port = free_port()
    tiny_settings.set("api.enabled", "true")
    tiny_settings.set("api.port", str(port))
    token = api_token(paths)
    process, out, err = start_serving(tmp_path)
    try:
        wait_for_listening(process, port, err)
        status, body = get(port, "/api/status", token)
        assert status == 200 and body["daemon"]["running"] is True  # type: ignore[index]
        status, body = get(port, "/api/interact", token, {"prompt": "Hello from a script."})
        assert status == 200 and body["status"] == "complete", body
        assert get(port, "/api/status", "wrong-token")[0] == 401
        process.send_signal(signal.SIGTERM)  # what a service manager sends
        assert process.wait(timeout=60) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"http://127.0.0.1:{port}" in out.read_text()
    assert "Stopping" in err.read_text()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    # The turn joined the one conversation, kept after the process ended.
    from nexus_desktop.store.database import Database
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        texts = [row[0] for row in database.connection().execute(
            "SELECT content FROM messages WHERE role = 'user'")]
    finally:
        database.close()
    assert texts == ["Hello from a script."]


@pytest.mark.slow
def test_api_serve_says_so_when_the_port_is_taken(paths: AppPaths, settings: Settings,
                                                  tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.set("api.enabled", "true")
        settings.set("api.port", str(taken.getsockname()[1]))
        process, _, err = start_serving(tmp_path)
        assert process.wait(timeout=120) == 1
    assert "config set api.port" in err.read_text()
    assert not paths.database.exists()  # refused before anything was opened

