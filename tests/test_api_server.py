"""The HTTP API over real HTTP: a real server on a free port, a real engine and daemon on
the tiny model, a stdlib client and curl. Every route and every refusal."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from xdisplay import require

from nexus_desktop.api.backend import EngineBackend
from nexus_desktop.api.http_server import MAX_BODY_BYTES, ApiServer
from nexus_desktop.api.tokens import api_token
from nexus_desktop.config import Settings
from nexus_desktop.daemon import Daemon
from nexus_desktop.engine import Engine
from nexus_desktop.errors import NexusError
from nexus_desktop.governor.activity import ActivityReading
from nexus_desktop.governor.cpu_budget import CpuBudget
from nexus_desktop.governor.memory import MemoryManager
from nexus_desktop.governor.modes import Governor, Limits
from nexus_desktop.governor.monitor import ResourceMonitor
from nexus_desktop.paths import AppPaths


@dataclass
class Api:
    server: ApiServer
    engine: Engine
    token: str

    @property
    def port(self) -> int:
        return self.server.port

    def request(self, method: str, path: str, body: bytes | str | dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, token: str | None = "",
                host: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection: ``token`` "" sends the right one, None none;
        ``host`` replaces the Host header."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token or self.token}"
        if host is not None:
            sent["Host"] = host
        if isinstance(body, dict):
            body = json.dumps(body)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any
             ) -> tuple[int, dict[str, Any]]:
        status, headers, data = self.request(method, path, body, **kwargs)
        assert headers["Content-Type"].startswith("application/json"), headers
        return status, json.loads(data)


@contextmanager
def serving(paths: AppPaths, settings: Settings) -> Iterator[Api]:
    """The API on a free port over a running daemon; everything stopped and joined after.

    The desktop reads as in use, with no learning at the desktop: nothing learns in the
    background while the tests look at the counts."""
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    at_the_desktop = ActivityReading(0.0, "test", False)
    governor = Governor(lambda: at_the_desktop, Limits(active_cpu_percent=0.0),
                        read_battery=lambda: None)
    daemon = Daemon(engine, governor, ResourceMonitor(interval_seconds=0.2), MemoryManager(),
                    CpuBudget(100.0), follow_settings=False)
    daemon.start()
    # The loop's first look at the desktop sets the mode the status reports.
    deadline = time.monotonic() + 30
    while governor.last is None and time.monotonic() < deadline:
        time.sleep(0.01)
    backend = EngineBackend(engine, daemon)
    server = ApiServer(backend, api_token(paths))
    server.start()
    try:
        yield Api(server, engine, server.token)
    finally:
        server.stop()
        backend.close()
        daemon.stop()
        engine.close()


@pytest.fixture
def api(paths: AppPaths, tiny_settings: Settings) -> Iterator[Api]:
    with serving(paths, tiny_settings) as running:
        yield running


# -- the routes ----------------------------------------------------------------------------

def test_status_is_seed_000s_structure_of_the_running_daemon(api: Api):
    status, body = api.json("GET", "/api/status")
    assert status == 200
    assert {"daemon", "health", "model", "metrics", "memory", "resources",
            "circuit_breakers", "checkpoints", "facts", "skills", "thoughts"} <= set(body)
    assert body["daemon"]["running"] is True
    assert body["resources"]["mode"] == "active"
    assert body["circuit_breakers"]["inference"]["state"] == "closed"


def test_interact_answers_a_turn_of_the_one_conversation(api: Api):
    status, body = api.json("POST", "/api/interact", {"prompt": "My favorite color is teal."})
    assert status == 200, body
    assert body["status"] == "complete" and body["source"] == "model"
    assert isinstance(body["reply"], str) and body["latency_ms"] > 0
    assert any("favorite color" in notice for notice in body["notices"]), body
    # The same conversation: the fact is remembered and answers the question itself.
    status, body = api.json("POST", "/api/interact", {"prompt": "What is my favorite color?"})
    assert status == 200 and body["source"] == "memory", body
    assert "teal" in body["reply"]
    history = api.engine.session.history(4)
    assert [m.content for m in history if m.role == "user"] == [
        "My favorite color is teal.", "What is my favorite color?"]


def test_interact_streams_newline_delimited_json_ending_with_the_result(api: Api):
    status, headers, data = api.request("POST", "/api/interact",
                                        {"prompt": "Tell me about the sea.", "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    pieces = [line["piece"] for line in lines if "piece" in line]
    assert pieces, lines
    assert set(lines[-1]) == {"result"}
    assert lines[-1]["result"]["reply"] == "".join(pieces)
    assert lines[-1]["result"]["status"] == "complete"


def test_control_pauses_resumes_starts_and_stops_learning(api: Api):
    status, body = api.json("POST", "/api/control", {"action": "pause"})
    assert (status, body["learning"]) == (200, "paused")
    assert api.json("GET", "/api/status")[1]["daemon"]["paused"] is True
    assert api.json("POST", "/api/control", {"action": "resume"})[1]["learning"] == "allowed"
    status, body = api.json("POST", "/api/control",
                            {"action": "train_start", "topic": "astronomy"})
    assert (status, body["topic"]) == (200, "astronomy")
    assert api.engine.learning.topic == "astronomy"
    assert api.json("POST", "/api/control", {"action": "train_stop"})[1]["learning"] == "stopped"
    thoughts = [t.text for t in api.engine.thoughts.recent()]
    assert "learning paused by you" in thoughts and "training started on astronomy" in thoughts


def test_metrics_are_prometheus_text_that_its_own_parser_reads(api: Api):
    api.json("POST", "/api/interact", {"prompt": "Hello there."})
    status, headers, data = api.request("GET", "/api/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in
                text_string_to_metric_families(data.decode("utf-8"))}
    expected = {"nexus_process_resident_memory_bytes", "nexus_process_cpu_percent",
                "nexus_requests", "nexus_requests_failed", "nexus_answered_from_memory",
                "nexus_replayed_from_skills", "nexus_facts", "nexus_skills",
                "nexus_learning_examples_learned", "nexus_adapter_version",
                "nexus_circuit_breaker_state", "nexus_health", "nexus_daemon_running",
                "nexus_model_info"}
    assert expected <= set(families), sorted(families)
    value = {family.name: family.samples[0].value for family in families.values()
             if family.samples}
    assert value["nexus_requests"] == 1.0 and value["nexus_requests_failed"] == 0.0
    assert value["nexus_daemon_running"] == 1.0
    assert value["nexus_process_resident_memory_bytes"] > 10 * 1024 * 1024
    breakers = {(s.labels["breaker"], s.labels["state"]): s.value
                for s in families["nexus_circuit_breaker_state"].samples}
    assert breakers[("inference", "closed")] == 1.0 and breakers[("inference", "open")] == 0.0


# -- the refusals --------------------------------------------------------------------------

def test_a_missing_or_wrong_token_is_refused_with_401_and_a_bearer_challenge(api: Api):
    for kwargs in ({"token": None}, {"token": "x" * 43}, {"token": api.token[:-1]},
                   {"token": None, "headers": {"Authorization": f"Basic {api.token}"}}):
        status, headers, data = api.request("GET", "/api/status", **kwargs)
        assert status == 401, kwargs
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert "nexus-desktop api token" in json.loads(data)["error"]
    # Nothing runs without the token.
    status, _, _ = api.request("POST", "/api/interact", {"prompt": "hi"}, token=None)
    assert status == 401 and api.engine.requests["total"] == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8765", "127.0.0.1:1"])
def test_localhost_names_are_accepted_with_or_without_a_port(api: Api, host: str):
    assert api.request("GET", "/api/status", host=host)[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "[::1]", "localhost:http"])
def test_another_host_name_is_refused_against_dns_rebinding(api: Api, host: str):
    status, _, data = api.request("GET", "/api/status", host=host)
    assert status == 403
    assert "localhost or 127.0.0.1" in json.loads(data)["error"]


def test_malformed_json_says_what_is_wrong_and_what_to_send(api: Api):
    status, body = api.json("POST", "/api/interact", '{"prompt": "unfinished')
    assert status == 400
    assert "not valid JSON" in body["error"] and '{"prompt": "Hello"}' in body["error"]
    for wrong in ("[1, 2]", '"text"', '{"prompt": NaN}', b"\xff\xfe"):
        assert api.json("POST", "/api/interact", wrong)[0] == 400, wrong


@pytest.mark.parametrize("body", [{}, {"prompt": ""}, {"prompt": "   "}, {"prompt": 5},
                                  {"prompt": "hi", "stream": "yes"},
                                  {"prompt": "hi", "context": "everything"},
                                  {"prompt": "hi", "temperature": 2}])
def test_a_missing_empty_or_wrong_prompt_is_refused(api: Api, body: dict[str, Any]):
    status, answer = api.json("POST", "/api/interact", body)
    assert status == 400 and answer["error"]
    assert api.engine.requests["total"] == 0


@pytest.mark.parametrize("body", [{"action": "explode"}, {}, {"action": None},
                                  {"action": "pause", "topic": "astronomy"},
                                  {"action": "train_start", "topic": ""}])
def test_an_unknown_action_or_misplaced_topic_is_refused(api: Api, body: dict[str, Any]):
    status, answer = api.json("POST", "/api/control", body)
    assert status == 400
    assert "train_start" in answer["error"] or "topic" in answer["error"]
    assert api.engine.learning.state == "allowed"


def test_a_body_over_the_limit_is_refused_with_413(api: Api):
    status, body = api.json("POST", "/api/interact", b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and "at most" in body["error"]
    # Exactly the limit is read (and then judged as JSON).
    assert api.json("POST", "/api/interact", b" " * MAX_BODY_BYTES)[0] == 400


def test_a_body_claimed_too_large_is_refused_before_it_is_sent(api: Api):
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as client:
        client.sendall(f"POST /api/interact HTTP/1.1\r\nHost: localhost\r\n"
                       f"Authorization: Bearer {api.token}\r\n"
                       f"Content-Length: {10**12}\r\n\r\n".encode())
        started = time.monotonic()
        head = client.recv(4096)
    assert head.startswith(b"HTTP/1.0 413 "), head
    assert time.monotonic() - started < 5


def test_unknown_paths_are_404_and_wrong_methods_405_with_allow(api: Api):
    status, body = api.json("GET", "/api/nothing")
    assert status == 404 and "/api/status" in body["error"]
    assert api.json("GET", "/")[0] == 404
    status, headers, data = api.request("GET", "/api/interact")
    assert (status, headers["Allow"]) == (405, "POST")
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        assert api.request(method, "/api/status", b"{}")[0] == 405, method
    status, headers, data = api.request("HEAD", "/api/status")
    assert (status, data) == (405, b"")


def test_no_cors_header_is_ever_sent(api: Api):
    origin = {"Origin": "http://evil.example"}
    preflight = {**origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    answers = [
        api.request("OPTIONS", "/api/interact", headers=preflight, token=None),
        api.request("OPTIONS", "/api/interact", headers=preflight),
        api.request("GET", "/api/status", headers=origin),
        api.request("GET", "/api/metrics", headers=origin),
        api.request("POST", "/api/control", {"action": "pause"}, headers=origin),
        api.request("GET", "/api/status", headers=origin, token=None),
        api.request("GET", "/api/status", headers=origin, host="evil.example"),
    ]
    assert [status for status, _, _ in answers] == [401, 405, 200, 200, 200, 401, 403]
    for _, headers, _ in answers:
        assert not [name for name in headers if name.lower().startswith("access-control")]


def test_a_chunked_body_is_refused_with_411(api: Api):
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.request("POST", "/api/interact", body=iter([b'{"prompt": "hi"}']),
                           headers={"Authorization": f"Bearer {api.token}"},
                           encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 411
        assert "Content-Length" in json.loads(response.read())["error"]
    finally:
        connection.close()


class FailingBackend:
    """A backend whose every call raises ``error``: the server's answer to a failure."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def status(self) -> dict[str, Any]:
        raise self.error

    def interact(self, prompt: str, context: str = "full") -> dict[str, Any]:
        raise self.error

    def interact_stream(self, prompt: str, context: str = "full") -> Iterator[dict[str, Any]]:
        raise self.error

    def control(self, action: str, topic: str | None = None) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(("error", "expected"), [
    (NexusError("The model is busy; try again."), 503),
    (RuntimeError("a bug"), 500),
])
def test_a_backend_failure_is_a_json_error_never_a_traceback(
        paths: AppPaths, error: Exception, expected: int):
    server = ApiServer(FailingBackend(error), api_token(paths))
    server.start()
    try:
        api = Api(server, None, server.token)  # type: ignore[arg-type]
        for method, path, body in (("GET", "/api/status", None), ("GET", "/api/metrics", None),
                                   ("POST", "/api/interact", {"prompt": "hi"}),
                                   ("POST", "/api/interact", {"prompt": "hi", "stream": True}),
                                   ("POST", "/api/control", {"action": "pause"})):
            status, answer = api.json(method, path, body)
            assert status == expected, (method, path)
            assert "Traceback" not in answer["error"] and "a bug" not in answer["error"]
    finally:
        server.stop()


def test_the_server_refuses_to_listen_beyond_this_computer(paths: AppPaths):
    with pytest.raises(ValueError, match="loopback"):
        ApiServer(FailingBackend(RuntimeError()), "t" * 43, host="0.0.0.0")


def test_stop_ends_every_thread_even_with_a_client_connected(paths: AppPaths):
    before = set(threading.enumerate())
    server = ApiServer(FailingBackend(RuntimeError()), api_token(paths))
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/api/status")  # no token: refused at once
    assert connection.getresponse().status == 401
    server.stop()
    connection.close()
    assert [t for t in threading.enumerate() if t not in before] == []


# -- curl ----------------------------------------------------------------------------------

def curl(api: Api, *args: str) -> tuple[int, str]:
    """curl's status code and body (`-w` appends the code after the body)."""
    done = subprocess.run([require("curl", "curl"), "-sS", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_curl_uses_every_route_and_meets_the_refusals(api: Api):
    url = f"http://127.0.0.1:{api.port}"
    auth = ["-H", f"Authorization: Bearer {api.token}"]
    code, body = curl(api, *auth, f"{url}/api/status")
    assert code == 200 and json.loads(body)["daemon"]["running"] is True
    code, body = curl(api, *auth, "-d", '{"prompt": "Good morning."}', f"{url}/api/interact")
    assert code == 200 and json.loads(body)["status"] == "complete"
    code, body = curl(api, *auth, "-d", '{"action": "pause"}', f"{url}/api/control")
    assert code == 200 and json.loads(body)["learning"] == "paused"
    code, body = curl(api, *auth, f"http://localhost:{api.port}/api/metrics")
    assert code == 200 and "nexus_requests_total 1.0" in body
    assert curl(api, f"{url}/api/status")[0] == 401
    assert curl(api, *auth, "-H", "Host: attacker.example", f"{url}/api/status")[0] == 403
    assert curl(api, *auth, "-d", "{oops", f"{url}/api/control")[0] == 400
    assert curl(api, *auth, "-d", '{"action": "fly"}', f"{url}/api/control")[0] == 400
    big = "x" * (MAX_BODY_BYTES + 10)
    done = subprocess.run([require("curl", "curl"), "-sS", "-o", "/dev/null", "-w",
                           "%{http_code}", *auth, "--data-binary", "@-",
                           f"{url}/api/interact"], input=big, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout == "413"
    assert curl(api, *auth, f"{url}/api/missing")[0] == 404
    assert curl(api, *auth, "-X", "DELETE", f"{url}/api/status")[0] == 405
