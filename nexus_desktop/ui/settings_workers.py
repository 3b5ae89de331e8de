"""The settings dialog's background work: checking the Ollama server and downloading a
model from Hugging Face. Each runs on its own worker thread (``start_worker``), so the
dialog stays responsive while the network answers slowly or not at all."""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

import httpx
import ollama
from PySide6.QtCore import QObject, QThread, Signal, Slot
from tqdm.auto import tqdm

from nexus_desktop.errors import NexusError

log = logging.getLogger(__name__)

# The check only lists models: a server that does not answer this quickly is not usable.
CHECK_TIMEOUT_SECONDS = 5.0


# Worker threads of closed dialogs, referenced until they end: a QThread destroyed while
# it runs would take the app down.
_FINISHING: set[QThread] = set()


def let_finish(thread: QThread) -> None:
    """Let a worker thread end by itself once its work returns, without waiting for it
    (the GUI thread never blocks on the network)."""
    _FINISHING.add(thread)
    thread.finished.connect(lambda: _FINISHING.discard(thread))
    thread.quit()


class OllamaCheck(QObject):
    """Asks an Ollama server for its pulled models."""

    finished = Signal(bool, str)  # connected, what to tell the user

    @Slot(str, str)
    def run(self, url: str, model: str) -> None:
        try:
            # trust_env=False: a local server is reached directly, never through a proxy.
            with ollama.Client(host=url, timeout=CHECK_TIMEOUT_SECONDS,
                               trust_env=False) as client:
                names = [entry.model for entry in client.list().models if entry.model]
        except Exception as exc:  # every failure is shown to the user, with what to do
            self.finished.emit(False, connection_problem(exc, url))
            return
        self.finished.emit(True, connection_summary(names, model))


def connection_summary(names: list[str], model: str) -> str:
    pulled = model in names or f"{model}:latest" in names
    count = f"{len(names)} model{'' if len(names) == 1 else 's'}"
    if pulled:
        return f"Connected: {count}, {model} pulled."
    return (f"Connected: {count}, but {model} is not pulled. Run "
            f"`ollama pull {model}` in a terminal, or choose a model you have pulled.")


def connection_problem(exc: BaseException, url: str) -> str:
    """The failure in words, with what to do about it."""
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return (f"Cannot reach Ollama at {url}. Start Ollama (run `ollama serve`, or open the "
                "Ollama app) or correct the address.")
    if isinstance(exc, httpx.TimeoutException):
        return (f"Ollama at {url} did not answer within {CHECK_TIMEOUT_SECONDS:g} seconds. "
                "Check that it is running and not busy, then try again.")
    if isinstance(exc, ollama.ResponseError):
        return (f"The server at {url} answered with HTTP error {exc.status_code}: "
                f"{str(exc.error)[:200]}. Check that the address points to Ollama.")
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | ValueError):
        return (f"{url!r} is not an address Nexus Desktop can use. Enter Ollama's address, "
                "such as http://127.0.0.1:11434.")
    log.info("Ollama check failed", exc_info=exc)
    return (f"The server at {url} did not answer like Ollama does ({type(exc).__name__}). "
            "Check that the address points to Ollama.")


class DownloadCancelled(Exception):
    """The user cancelled the download; raised inside the Hub client to stop it."""


class ModelDownload(QObject):
    """Downloads a Hugging Face model into the local cache, with progress."""

    progress = Signal(float, float)  # bytes done, bytes in all (0 while unknown)
    done = Signal(str)  # the local folder
    failed = Signal(str)  # what went wrong and what to do
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop the download at its next progress step (safe from any thread)."""
        self._cancel.set()

    @Slot(str)
    def run(self, repo_id: str) -> None:
        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def download() -> None:
            from nexus_desktop.llm import hub  # imports huggingface_hub: only when needed

            try:
                outcome["folder"] = hub.download(repo_id, tqdm_class=self._progress_class())
            except BaseException as exc:  # reported below, on the worker thread
                outcome["error"] = exc
            finally:
                finished.set()

        # The Hub client starts a pool of Python threads. Started straight from this Qt
        # thread, each start would register the Qt thread with Python's threading module
        # for good (Python 3.11), so the download runs on a Python thread of its own.
        # daemon is given and the end is awaited with an Event, not join(): either of
        # those would register this Qt thread too.
        threading.Thread(target=download, name="nexus-model-download", daemon=True).start()
        finished.wait()
        error = outcome.get("error")
        if error is None:
            self.done.emit(str(outcome["folder"]))
        elif isinstance(error, DownloadCancelled):
            self.cancelled.emit()
        elif isinstance(error, NexusError):
            self.failed.emit(str(error))
        else:
            log.error("model download failed", exc_info=error)
            self.failed.emit(f"The download of {repo_id} failed ({error}). Try again, or use "
                             "the bundled model or a local model folder.")

    def _progress_class(self) -> type[tqdm]:
        """A tqdm class that reports the download's byte progress through ``progress`` and
        stops the download once it is cancelled."""
        owner = self

        class Progress(tqdm):
            monitor_interval = 0  # no tqdm monitor thread

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                if owner._cancel.is_set():
                    raise DownloadCancelled
                kwargs["file"] = io.StringIO()
                kwargs["disable"] = False
                super().__init__(*args, **kwargs)

            def update(self, n: float | None = 1) -> bool | None:
                if owner._cancel.is_set():
                    raise DownloadCancelled
                shown = super().update(n)
                if self.unit == "B":
                    owner.progress.emit(float(self.n), float(self.total or 0))
                return shown

        return Progress
