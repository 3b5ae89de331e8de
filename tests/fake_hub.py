"""A loopback stand-in for the Hugging Face Hub, for testing downloads without the internet.

It speaks the part of the Hub's HTTP protocol that ``huggingface_hub.snapshot_download``
(2.4) uses, so the real, unmodified client downloads from it:

* ``GET /api/models/{repo_id}/revision/{revision}`` (and ``/api/models/{repo_id}``): the
  model info, whose ``sha`` is the commit the revision points to.
* ``GET /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=...``: the file listing,
  with the ``lfs`` block for large files and no ``xetHash``, so the client downloads over
  plain HTTP even when ``hf_xet`` is installed.
* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}``: small (git) files are answered
  directly with ``ETag`` (the git blob id), ``X-Repo-Commit`` and ``Content-Length``; large
  (LFS) files with a 302 to a second server on another port that plays the CDN, carrying
  ``X-Linked-Etag`` (the sha256), ``X-Linked-Size`` and ``X-Repo-Commit``, as the Hub does.
  Being another origin, the client does not follow that redirect for ``HEAD`` and fetches
  the blob from it with ``GET``. No ``X-Xet-*`` header is ever sent.
* Errors carry the ``X-Error-Code`` header the client maps to its exceptions:
  ``RepoNotFound`` (401 without a token, 404 with one, like the Hub),
  ``GatedRepo`` (401/403 on a gated repo's files), ``RevisionNotFound``, ``EntryNotFound``.

Every request is recorded in :attr:`FakeHub.requests`, before it is answered, so tests can
assert what was fetched.
Responses are HTTP/1.0 (one request per connection), so no connection outlives a request.
A ``Range`` header is ignored (a full 200 answer), which the client accepts when resuming.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

# Files the Hub stores with git LFS (and so serves through a redirect to its CDN).
LFS_SUFFIXES = (".safetensors", ".bin", ".onnx", ".gguf", ".pt", ".pth", ".h5", ".msgpack")
LAST_MODIFIED = "2024-06-01T12:00:00.000Z"
# Calls huggingface_hub makes on its own, not for a download: once a process, it fetches the
# list of AI agents it names in its user agent. Answered 404 (the client then lists none).
CLIENT_CALLS = ("/api/agent-harnesses",)


def _git_blob_id(data: bytes) -> str:
    """The id git gives a file's content (what the Hub's tree listing calls ``oid``)."""
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass(frozen=True)
class RepoFile:
    path: str
    source: Path | bytes
    size: int
    blob_id: str  # git blob sha1 (of the LFS pointer for LFS files), as in the tree listing
    sha256: str
    lfs: bool
    pointer_size: int = 0  # size of the git LFS pointer, for LFS files

    def open_chunks(self, chunk_size: int = 1 << 20):
        if isinstance(self.source, bytes):
            yield self.source
            return
        with self.source.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    @classmethod
    def make(cls, path: str, source: Path | bytes) -> RepoFile:
        data = source if isinstance(source, bytes) else source.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        lfs = path.endswith(LFS_SUFFIXES)
        if lfs:
            pointer = (f"version https://git-lfs.github.com/spec/v1\n"
                       f"oid sha256:{sha256}\nsize {len(data)}\n").encode()
            return cls(path, source, len(data), _git_blob_id(pointer), sha256, True, len(pointer))
        return cls(path, source, len(data), _git_blob_id(data), sha256, False)


@dataclass
class Repo:
    repo_id: str
    files: dict[str, RepoFile]
    gated: bool = False
    commit: str = ""

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.repo_id.encode())
        for path in sorted(self.files):
            digest.update(f"{path}\0{self.files[path].blob_id}\n".encode())
        self.commit = digest.hexdigest()

    def revision_ok(self, revision: str) -> bool:
        return revision in ("main", self.commit)

    def folders(self) -> list[str]:
        result = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                result.add("/".join(parts[:depth]))
        return sorted(result)


@dataclass(frozen=True)
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    status: int


@dataclass
class FakeHub:
    """Two loopback servers, the Hub and its CDN, serving repos registered with add_repo."""

    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    # --- set-up -----------------------------------------------------------------------

    def add_repo(self, repo_id: str, folder: Path | None = None, *,
                 extra_files: Mapping[str, bytes] | None = None, gated: bool = False) -> Repo:
        """Serve ``folder``'s files (and ``extra_files``) as the model repo ``repo_id``."""
        files: dict[str, RepoFile] = {}
        if folder is not None:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    name = path.relative_to(folder).as_posix()
                    files[name] = RepoFile.make(name, path)
        for name, data in (extra_files or {}).items():
            files[name] = RepoFile.make(name, data)
        repo = Repo(repo_id, files, gated=gated)
        with self._lock:
            self.repos[repo_id] = repo
        return repo

    def start(self) -> FakeHub:
        for name in ("hub", "cdn"):
            server = _Server(("127.0.0.1", 0), _Handler)
            server.hub = self
            server.name = name
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"fake-hub-{name}", daemon=True,
            )
            self._servers[name] = server
            self._threads.append(thread)
            thread.start()
        return self

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()  # also joins the handler threads (block_on_close)
        for thread in self._threads:
            thread.join(timeout=10)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what tests look at -------------------------------------------------------------

    def url(self, name: str = "hub") -> str:
        host, port = self._servers[name].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        return self.url("hub")

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def recorded(self) -> list[Request]:
        """The requests so far, without the client's own background calls (CLIENT_CALLS)."""
        with self._lock:
            return [r for r in self.requests if r.path not in CLIENT_CALLS]

    def file_gets(self) -> list[Request]:
        """Successful GETs that sent file content (resolve answered directly, or the CDN)."""
        return [r for r in self.recorded()
                if r.method == "GET" and r.status == 200
                and (r.server == "cdn" or "/resolve/" in r.path)]

    def downloaded_names(self) -> set[str]:
        """Repo file names whose content was sent by a GET."""
        names = set()
        by_sha = {f.sha256: f.path for repo in self.repos.values() for f in repo.files.values()}
        for request in self.file_gets():
            if request.server == "cdn":
                names.add(by_sha[request.path.rsplit("/", 1)[-1]])
            else:
                names.add(request.path.split("/resolve/", 1)[1].split("/", 1)[1])
        return names

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class _Server(ThreadingHTTPServer):
    # Track and join handler threads on server_close, so none outlives the fake hub.
    daemon_threads = False
    block_on_close = True
    hub: FakeHub
    name: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.hub.errors.append(sys.exc_info()[1] or RuntimeError("unknown server error"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 30  # a stuck client cannot keep a handler thread alive for ever

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: requests are recorded in FakeHub.requests instead

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    # --- routing ------------------------------------------------------------------------

    def _dispatch(self, *, head: bool) -> None:
        self._head = head
        self._recorded = False
        url = urlsplit(self.path)
        self._path = url.path
        self._query = parse_qs(url.query)
        path = unquote(url.path)
        try:
            if self.server.name == "cdn":
                self._cdn(path)
            elif path.startswith("/api/models/"):
                self._api(path.removeprefix("/api/models/"))
            elif "/resolve/" in path:
                self._resolve(path.lstrip("/"))
            else:
                self._error(404, None, "Not Found")
        finally:
            if not self._recorded:  # failed before answering
                self._record_status(0)

    def _record_status(self, status: int) -> None:
        self._recorded = True
        self.server.hub._record(Request(self.server.name, self.command, self._path, status))

    def _repo(self, repo_id: str) -> Repo | None:
        repo = self.server.hub.repos.get(repo_id)
        if repo is None:
            # The Hub answers 401 to anonymous callers and 404 to logged-in ones.
            status = 404 if self.headers.get("authorization") else 401
            self._error(status, "RepoNotFound", "Repository not found")
        return repo

    def _api(self, rest: str) -> None:
        parts = rest.split("/")
        repo_id, action, tail = "/".join(parts[:2]), parts[2:3], parts[3:]
        repo = self._repo(repo_id)
        if repo is None:
            return
        if not action:
            self._model_info(repo)
        elif action == ["revision"] and len(tail) == 1:
            if not repo.revision_ok(tail[0]):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {tail[0]}")
                return
            self._model_info(repo)
        elif action == ["tree"] and tail:
            if not repo.revision_ok(tail[0]):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {tail[0]}")
                return
            self._tree(repo, "/".join(tail[1:]))
        else:
            self._error(404, None, "Not Found")

    def _model_info(self, repo: Repo) -> None:
        self._json(200, {
            "_id": repo.commit[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.commit,
            "lastModified": LAST_MODIFIED,
            "createdAt": LAST_MODIFIED,
            "private": False,
            "disabled": False,
            "gated": "manual" if repo.gated else False,
            "tags": ["safetensors"] if any(p.endswith(".safetensors") for p in repo.files) else [],
            "siblings": [{"rfilename": path} for path in sorted(repo.files)],
        }, repo)

    def _tree(self, repo: Repo, folder: str) -> None:
        recursive = self._query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = f"{folder}/" if folder else ""
        if folder and folder not in repo.folders():
            self._error(404, "EntryNotFound", f"{folder} does not exist on \"main\"", repo)
            return

        def wanted(path: str) -> bool:
            return path.startswith(prefix) and (recursive or "/" not in path[len(prefix):])

        entries: list[dict[str, Any]] = [
            {"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0,
             "path": p}
            for p in repo.folders() if wanted(p)
        ]
        for path, item in sorted(repo.files.items()):
            if not wanted(path):
                continue
            entry: dict[str, Any] = {"type": "file", "oid": item.blob_id, "size": item.size,
                                     "path": path}
            if item.lfs:
                entry["lfs"] = {"oid": item.sha256, "size": item.size,
                                "pointerSize": item.pointer_size}
            entries.append(entry)
        self._json(200, entries, repo)

    def _resolve(self, rest: str) -> None:
        repo_part, _, file_part = rest.partition("/resolve/")
        repo = self._repo(repo_part)
        if repo is None:
            return
        revision, _, filename = file_part.partition("/")
        if not repo.revision_ok(revision):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        if repo.gated:
            # Anonymous: 401; logged in but the licence not accepted: 403. Both GatedRepo.
            authorized = self.headers.get("authorization")
            self._error(403 if authorized else 401, "GatedRepo",
                        f"Access to model {repo.repo_id} is restricted. You must have access to it "
                        "and be authenticated to access it. Please log in.", repo)
            return
        item = repo.files.get(filename)
        if item is None:
            self._error(404, "EntryNotFound", "Entry not found", repo)
            return
        if item.lfs:
            location = f"{self.server.hub.url('cdn')}/lfs/{quote(repo.repo_id)}/{item.sha256}"
            body = f"Found. Redirecting to {location}".encode()
            self._start(302, repo, [
                ("Location", location),
                ("ETag", f'"{item.blob_id}"'),
                ("X-Linked-Etag", f'"{item.sha256}"'),
                ("X-Linked-Size", str(item.size)),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ])
            if not self._head:
                self.wfile.write(body)
            return
        self._send_file(item, repo, etag=item.blob_id)

    def _cdn(self, path: str) -> None:
        # /lfs/{repo_id}/{sha256}
        parts = path.strip("/").split("/")
        repo = self.server.hub.repos.get("/".join(parts[1:-1]))
        item = None
        if repo is not None and parts[0] == "lfs":
            item = next((f for f in repo.files.values() if f.sha256 == parts[-1] and f.lfs), None)
        if item is None:
            self._error(404, None, "Not Found")
            return
        self._send_file(item, None, etag=item.sha256)

    # --- responses ----------------------------------------------------------------------

    def _start(self, status: int, repo: Repo | None, headers: list[tuple[str, str]]) -> None:
        # Recorded before answering: once the client has its answer, a test may look.
        self._record_status(status)
        self.send_response(status)
        if repo is not None:
            self.send_header("X-Repo-Commit", repo.commit)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _send_file(self, item: RepoFile, repo: Repo | None, *, etag: str) -> None:
        self._start(200, repo, [
            ("ETag", f'"{etag}"'),
            ("Content-Length", str(item.size)),
            ("Content-Type", "application/octet-stream"),
        ])
        if self._head:
            return
        for chunk in item.open_chunks():
            self.wfile.write(chunk)

    def _json(self, status: int, data: Any, repo: Repo | None = None,
              extra: list[tuple[str, str]] | None = None) -> None:
        body = json.dumps(data).encode()
        self._start(status, repo, [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ])
        if not self._head:
            self.wfile.write(body)

    def _error(self, status: int, code: str | None, message: str, repo: Repo | None = None) -> None:
        extra = [("X-Error-Message", message)]
        if code is not None:
            extra.append(("X-Error-Code", code))
        self._json(status, {"error": message}, repo, extra)


__all__ = ["FakeHub", "Repo", "RepoFile", "Request"]
