"""A stand-in for a local Ollama server, on a loopback port, for tests.

It speaks the parts of Ollama's HTTP API that the `ollama` Python client uses for the
teacher: GET /api/tags, GET /api/version and POST /api/chat (one JSON object, or NDJSON
lines when streaming), with Ollama's 404 for a model that has not been pulled. How it
answers chat requests is switchable while it runs (``mode``):

- "good": valid {"pairs": [...]} replies about the topic named in the request's prompt
  (the line "Topic: ..."), as many pairs as the prompt asks for ("Write N ..."); the same
  pairs for the same prompt, or new ones each time when ``fresh`` is true;
- "garbage": reply text that is not JSON;
- "wrong_shape": JSON reply text that is not a list of pairs;
- "broken": an HTTP 200 whose body is not JSON at all (not an Ollama server);
- "slow": waits ``slow_seconds`` before answering well (or until the server stops);
- "error": HTTP 500 with an Ollama-style error.

Every request is recorded in ``requests``. ``stop()`` and ``start()`` take the server down
and bring it back on the same port; ``closed_port_url()`` gives an address where nothing
listens.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("good", "garbage", "wrong_shape", "broken", "slow", "error")

_TOPIC = re.compile(r"^Topic:\s*(.+?)\s*$", re.MULTILINE)
_COUNT = re.compile(r"\bWrite (\d+)\b")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None


def closed_port_url() -> str:
    """The address of a loopback port where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def good_pairs(prompt: str, first: int = 1) -> list[dict[str, str]]:
    """The pairs the "good" mode writes for a prompt: about its topic, as many as asked,
    numbered from ``first``."""
    topic_match = _TOPIC.search(prompt)
    count_match = _COUNT.search(prompt)
    topic = topic_match.group(1) if topic_match else "general knowledge"
    count = int(count_match.group(1)) if count_match else 3
    return [
        {"question": f"What is key idea number {i} of {topic}?",
         "answer": f"Key idea number {i} of {topic} is the one a test server taught."}
        for i in range(first, first + count)
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are joined on close, so none outlives the test.
    daemon_threads = False
    block_on_close = True
    owner: OllamaServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    # HTTP/1.0: one request per connection, so no handler waits on an idle keep-alive.
    protocol_version = "HTTP/1.0"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(Recorded("GET", self.path, None))
        if self.path == "/api/tags":
            self._json(200, {"models": [owner._model_entry(name) for name in owner.models]})
        elif self.path == "/api/version":
            self._json(200, {"version": "0.6.5"})
        else:
            self._text(404, "404 page not found", "text/plain")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            owner._record(Recorded("POST", self.path, None))
            self._json(400, {"error": "invalid character in request body"})
            return
        owner._record(Recorded("POST", self.path, body))
        if self.path != "/api/chat":
            self._text(404, "404 page not found", "text/plain")
            return
        owner._chat(self, body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._text(status, json.dumps(payload), "application/json; charset=utf-8")

    def _text(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OllamaServer:
    """The stand-in server; a context manager that starts and stops it."""

    def __init__(self, models: tuple[str, ...] = ("llama3.2:latest",), mode: str = "good",
                 slow_seconds: float = 10.0) -> None:
        self.models = models
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.fresh = False
        self.port = 0
        self._served = 0
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self._mode = mode

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests
                    if r.method == "POST" and r.path == "/api/chat" and r.body is not None]

    def start(self) -> OllamaServer:
        """Listen (again, on the same port after a stop)."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._released.clear()
        server = _HTTPServer(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                         name="ollama-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: slow replies give up, handler threads are joined."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._released.set()
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "model": name, "modified_at": "2025-01-01T00:00:00.000000000Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                        "families": ["llama"], "parameter_size": "3.2B",
                        "quantization_level": "Q4_K_M"},
        }

    def _known(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models

    def _chat(self, handler: _Handler, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        mode = self.mode
        if mode == "error":
            handler._json(500, {"error": "llama runner process has terminated: exit status 2"})
            return
        if not self._known(model):
            handler._json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if mode == "broken":
            handler._text(200, "<html><body>Not Ollama</body></html>", "text/html")
            return
        if mode == "slow" and self._released.wait(self.slow_seconds):
            return  # stopping: close the connection without an answer
        messages = body.get("messages") or []
        prompt = next((m.get("content", "") for m in reversed(messages)
                       if m.get("role") == "user"), "")
        if mode == "garbage":
            content = "Sure! Here are some great questions you could ask about that."
        elif mode == "wrong_shape":
            content = json.dumps({"questions": ["What is it?"], "note": "no answers"})
        else:
            with self._lock:
                first = self._served * 100 + 1 if self.fresh else 1
                self._served += 1
            content = json.dumps({"pairs": good_pairs(prompt, first)})
        if body.get("stream", True):
            self._stream(handler, model, content)
        else:
            handler._json(200, {"model": model, "created_at": _now(),
                                "message": {"role": "assistant", "content": content},
                                **self._final_fields()})

    def _final_fields(self) -> dict[str, Any]:
        return {"done_reason": "stop", "done": True, "total_duration": 1_200_000_000,
                "load_duration": 50_000_000, "prompt_eval_count": 60,
                "prompt_eval_duration": 100_000_000, "eval_count": 120,
                "eval_duration": 1_000_000_000}

    def _stream(self, handler: _Handler, model: str, content: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-ndjson")
        handler.end_headers()
        for start in range(0, len(content), 16):
            piece = {"model": model, "created_at": _now(),
                     "message": {"role": "assistant", "content": content[start:start + 16]},
                     "done": False}
            handler.wfile.write(json.dumps(piece).encode() + b"\n")
        final = {"model": model, "created_at": _now(),
                 "message": {"role": "assistant", "content": ""}, **self._final_fields()}
        handler.wfile.write(json.dumps(final).encode() + b"\n")
        handler.wfile.flush()
