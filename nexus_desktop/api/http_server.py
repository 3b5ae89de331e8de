"""The HTTP API server: stdlib ``ThreadingHTTPServer`` on 127.0.0.1, in a thread of its own.

Made safe for a desktop machine, where any web page the user opens can send requests to
localhost: every request needs the bearer token (compared in constant time); the Host
header must name localhost, so a page on a rebound DNS name is refused; no CORS header is
ever sent, so browsers keep pages from reading the answers; request bodies are limited.
Every answer, errors included, is JSON that says what to do.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from nexus_desktop.api import metrics
from nexus_desktop.api.backend import CONTEXTS, CONTROL_ACTIONS, ApiBackend
from nexus_desktop.errors import InputError, NexusError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# A body over the limit is read and dropped, up to this size, after the refusal is sent:
# closing a socket with unread data resets the connection, and the client could lose the
# answer. Beyond it the connection is simply closed.
DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES
# A client that sends nothing for this long is disconnected (it would hold a thread).
SOCKET_TIMEOUT_SECONDS = 30
ALLOWED_HOSTS = ("localhost", "127.0.0.1")
ROUTES = {"/api/status": "GET", "/api/metrics": "GET",
          "/api/interact": "POST", "/api/control": "POST"}
JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"
INTERACT_FIELDS = ("prompt", "stream", "context")
CONTROL_FIELDS = ("action", "topic")
INTERACT_EXAMPLE = '{"prompt": "Hello"}'
CONTROL_EXAMPLE = '{"action": "train_start", "topic": "astronomy"}'


class ApiError(Exception):
    """A request refused with ``status``; ``message`` tells the client what to do."""

    def __init__(self, status: HTTPStatus, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class ApiServer:
    """The API on ``host`` (a loopback address) and ``port`` (0: any free port)."""

    def __init__(self, backend: ApiBackend, token: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"The API serves this computer only; {host} is not a loopback "
                             "address.")
        self.backend = backend
        self.token = token
        self._address = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve on a thread of its own; OSError when the port is taken."""
        httpd = _Server(self._address, _Handler)
        httpd.api = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="nexus-api", daemon=False)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening, let requests in progress finish, and join every thread."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the request threads
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"


class _Server(ThreadingHTTPServer):
    # Request threads are joined when the server closes: none outlives stop().
    daemon_threads = False
    block_on_close = True
    # On Windows SO_REUSEADDR would let another program bind the same port and take
    # requests (and tokens) meant for this one; SO_EXCLUSIVEADDRUSE forbids exactly that.
    allow_reuse_address = sys.platform != "win32"
    api: ApiServer

    def server_bind(self) -> None:
        if sys.platform == "win32":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "NexusDesktop"
    timeout = SOCKET_TIMEOUT_SECONDS
    # Bytes of a refused body still to read once the refusal is sent.
    _unread = 0

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_GET

    def version_string(self) -> str:
        return self.server_version  # not Python's version

    def log_message(self, format: str, *args: Any) -> None:
        log.info("api %s: " + format, self.client_address[0], *args)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The base class's errors (malformed request line, headers too long, unknown
        method) as JSON too."""
        self._send_json(HTTPStatus(code), {"error": message or HTTPStatus(code).phrase})

    # -- a request -------------------------------------------------------------------------

    def _handle(self) -> None:
        self._unread = 0
        try:
            self._check_host()
            self._check_token()
            path = urlsplit(self.path).path
            method = ROUTES.get(path)
            if method is None:
                raise ApiError(HTTPStatus.NOT_FOUND, f"There is no {path}; the API has "
                               f"{', '.join(ROUTES)}.")
            if self.command != method:
                raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED,
                               f"{path} takes {method}, not {self.command}.",
                               {"Allow": method})
            self._route(path)
        except ApiError as exc:
            self._send_json(exc.status, {"error": exc.message}, exc.headers)
        except InputError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except NexusError as exc:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})
        except (ConnectionError, TimeoutError):
            log.info("api: the client went away")
        except Exception:
            log.exception("api: %s %s failed", self.command, self.path)
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": "Nexus Desktop failed to answer this request; the "
                                      "log says why. Try again, and report it if it "
                                      "keeps happening."})
        if self._unread:
            self._drain(self._unread)

    def _route(self, path: str) -> None:
        backend = self.server.api.backend
        if path == "/api/status":
            self._send_json(HTTPStatus.OK, backend.status())
        elif path == "/api/metrics":
            body, content_type = metrics.render(backend.status())
            self._send(HTTPStatus.OK, body, content_type)
        elif path == "/api/interact":
            self._interact(backend)
        else:
            action, topic = _control_request(self._read_json(CONTROL_EXAMPLE))
            self._send_json(HTTPStatus.OK, backend.control(action, topic))

    def _interact(self, backend: ApiBackend) -> None:
        prompt, stream, context = _interact_request(self._read_json(INTERACT_EXAMPLE))
        if stream:
            self._send_lines(backend.interact_stream(prompt, context))
            return
        result = backend.interact(prompt, context)
        # A reply that failed (the model cannot load, say) is still saved as failed.
        status = HTTPStatus.OK if result["status"] != "failed" else HTTPStatus.SERVICE_UNAVAILABLE
        self._send_json(status, result)

    # -- checks ----------------------------------------------------------------------------

    def _check_host(self) -> None:
        """Refuse a Host other than localhost: a web page on a DNS name rebound to
        127.0.0.1 sends its own name here."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            raise ApiError(HTTPStatus.BAD_REQUEST, "Send exactly one Host header, "
                           "localhost or 127.0.0.1 (with the port if you like).")
        name, _, port = hosts[0].strip().lower().partition(":")
        if name not in ALLOWED_HOSTS or (port and not port.isdigit()):
            raise ApiError(HTTPStatus.FORBIDDEN, "The Nexus Desktop API answers only requests "
                           "addressed to localhost or 127.0.0.1; use "
                           f"{self.server.api.url}.")

    def _check_token(self) -> None:
        scheme, _, given = (self.headers.get("Authorization") or "").strip().partition(" ")
        expected = self.server.api.token.encode("utf-8")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("utf-8", "replace"), expected):
            return
        challenge = 'Bearer realm="Nexus Desktop"'
        if scheme:
            challenge += ', error="invalid_token"'
        raise ApiError(HTTPStatus.UNAUTHORIZED, "Send the API token as `Authorization: Bearer "
                       "TOKEN`; `nexus-desktop api token` prints it.",
                       {"WWW-Authenticate": challenge})

    def _read_json(self, example: str) -> dict[str, Any]:
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length "
                           "header; chunked bodies are not accepted.")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ApiError(HTTPStatus.LENGTH_REQUIRED, "Send a JSON body with a Content-Length "
                           f"header, such as {example}.")
        if not length_text.strip().isdigit():
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number of bytes.")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._unread = length
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"The body has {length:,} bytes; the API takes at most "
                           f"{MAX_BODY_BYTES:,}. Send less text in one request.")
        # Any Content-Type is read as JSON (`curl -d` sends a form type): the token header
        # already keeps browsers from sending requests without asking first.
        body = self.rfile.read(length)
        try:
            value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError:
            raise ApiError(HTTPStatus.BAD_REQUEST, "The body is not UTF-8 text; send JSON "
                           f"encoded as UTF-8, such as {example}.") from None
        except (json.JSONDecodeError, ValueError) as exc:
            where = (f": line {exc.lineno}, column {exc.colno}"
                     if isinstance(exc, json.JSONDecodeError) else "")
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ApiError(HTTPStatus.BAD_REQUEST, f"The body is not valid JSON ({reason}"
                           f"{where}); send an object such as {example}.") from None
        if not isinstance(value, dict):
            raise ApiError(HTTPStatus.BAD_REQUEST, "The body must be a JSON object, such as "
                           f"{example}.")
        return value

    def _drain(self, length: int) -> None:
        left = min(length, DRAIN_LIMIT_BYTES)
        self.close_connection = True
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass  # the client stopped sending or went away: nothing more to do

    # -- answers ---------------------------------------------------------------------------

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, f"{JSON_TYPE}; charset=utf-8", headers)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self._common_headers(content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_lines(self, lines: Iterator[dict[str, Any]]) -> None:
        """Newline-delimited JSON, each line sent as it comes; the end of the body is the
        end of the connection."""
        first = next(lines)  # raises before anything is sent when the turn cannot start
        self.send_response(HTTPStatus.OK)
        self._common_headers(f"{NDJSON_TYPE}; charset=utf-8")
        self.end_headers()
        self.close_connection = True
        try:
            for line in _chain_first(first, lines):
                self._write_line(line)
        except (ConnectionError, TimeoutError):
            raise
        except NexusError as exc:
            self._write_line({"error": str(exc)})
        except Exception:
            log.exception("api: a streamed reply failed")
            self._write_line({"error": "The reply failed; the log says why. Try again."})
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()  # a client that went away stops its reply

    def _write_line(self, line: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
        self.wfile.flush()

    def _common_headers(self, content_type: str) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")


def _interact_request(body: dict[str, Any]) -> tuple[str, bool, str]:
    _only(body, INTERACT_FIELDS, INTERACT_EXAMPLE)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(HTTPStatus.BAD_REQUEST, "Send your message as a non-empty string in "
                       f'"prompt", such as {INTERACT_EXAMPLE}.')
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(HTTPStatus.BAD_REQUEST, '"stream" must be true or false.')
    context = body.get("context", "full")
    if context not in CONTEXTS:
        raise ApiError(HTTPStatus.BAD_REQUEST, f'"context" must be one of {", ".join(CONTEXTS)}.')
    return prompt, stream, context


def _control_request(body: dict[str, Any]) -> tuple[str, str | None]:
    _only(body, CONTROL_FIELDS, CONTROL_EXAMPLE)
    action = body.get("action")
    if action not in CONTROL_ACTIONS:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"Unknown action {action!r}; send \"action\" "
                       f"as one of {', '.join(CONTROL_ACTIONS)}, such as {CONTROL_EXAMPLE}.")
    topic = body.get("topic")
    if topic is not None and (not isinstance(topic, str) or not topic.strip()):
        raise ApiError(HTTPStatus.BAD_REQUEST, '"topic" must be a non-empty string, or left '
                       "out to learn from everything.")
    if topic is not None and action != "train_start":
        raise ApiError(HTTPStatus.BAD_REQUEST, '"topic" goes only with "train_start".')
    return action, topic.strip() if topic is not None else None


def _only(body: dict[str, Any], fields: tuple[str, ...], example: str) -> None:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"Unknown field {', '.join(map(repr, unknown))}; "
                       f"the fields are {', '.join(fields)}, such as {example}.")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _chain_first(first: dict[str, Any], rest: Iterator[dict[str, Any]]
                 ) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest
