"""The Ollama teacher: a local Ollama model writes question and answer pairs on a topic,
which become training examples for the learner.

Everything here runs on the teacher's own thread (``TeacherWorker``), never on the chat
path: a missing, slow or misbehaving Ollama only opens the circuit breaker, and the
teacher tries again later, less and less often, while chat goes on as before.

Each request to Ollama runs on a short-lived daemon thread ("nexus-teacher-request") that
the teacher thread waits for in small steps, so that stopping the teacher never waits for
a slow model. A request given up (on stop, or past ``teacher.timeout_seconds``) is left to
end by itself: its HTTP timeout is ``teacher.timeout_seconds`` per read, it writes nothing,
and as a daemon thread it cannot hold up the app's exit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import ollama
import pydantic

from nexus_desktop.config import Settings
from nexus_desktop.errors import (
    ConfigError,
    TeacherError,
    TeacherHTTPError,
    TeacherModelMissingError,
    TeacherResponseError,
    TeacherTimeoutError,
    TeacherUnavailableError,
)
from nexus_desktop.governor.breaker import CLOSED, OPEN, BreakerState, CircuitBreaker
from nexus_desktop.learning.topics import SETTING as FOCUS_SETTING
from nexus_desktop.learning.topics import TopicRotation, check_topic, focus_topics
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 1200
# How often a waiting teacher thread looks whether it should stop.
_POLL_SECONDS = 0.1
# Past the HTTP timeout, so that the HTTP client's own (more precise) timeout error
# normally comes first.
_DEADLINE_GRACE_SECONDS = 0.25

SYSTEM_PROMPT = """You write study material for a small language model. Reply with JSON \
only, in exactly this form: {"pairs": [{"question": "...", "answer": "..."}]}. Each \
question is one clear question of at most 300 characters; each answer is correct, \
self-contained and at most 1200 characters. Do not repeat a question."""


def user_prompt(topic: str, count: int) -> str:
    """The request for ``count`` pairs on ``topic``. The first line names the topic."""
    return (
        f"Topic: {topic}\n"
        f"Write {count} different question and answer pairs about this topic, from basic "
        "to advanced, each teaching one fact or idea."
    )


@dataclass(frozen=True)
class TeacherPair:
    """One question and its answer, as written by the teacher model (stripped)."""

    question: str
    answer: str


@dataclass(frozen=True)
class TeacherStatus:
    """What the teacher is doing, for the status display."""

    enabled: bool
    breaker: BreakerState
    examples_written: int
    last_topic: str | None
    last_error: str | None


class _Interrupted(Exception):
    """The teacher is stopping; the request in progress was given up (not a failure)."""


def _plain_text(text: str) -> bool:
    return all(ch.isprintable() or ch in "\n\t" for ch in text)


def parse_pairs(content: str, count: int, model: str) -> list[TeacherPair]:
    """The pairs in the model's reply, checked strictly; TeacherResponseError otherwise.

    A reply with any bad pair is refused as a whole: a model that gets the form wrong is
    not trusted with the content. Pairs beyond ``count`` are ignored.
    """
    snippet = " ".join(content.split())[:120]
    try:
        data = json.loads(content)
    except ValueError:
        raise TeacherResponseError(
            f"The Ollama model {model} did not answer with JSON (it began: {snippet!r}). Nexus "
            "Desktop will ask again later; a larger teacher.model follows instructions better."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise TeacherResponseError(
            f"The Ollama model {model} answered with JSON but not with a list of question and "
            f"answer pairs (it began: {snippet!r}). Nexus Desktop will ask again later."
        )
    items = data["pairs"][:count]
    if not items:
        raise TeacherResponseError(f"The Ollama model {model} answered with no pairs at all.")
    pairs: list[TeacherPair] = []
    seen: set[str] = set()
    for number, item in enumerate(items, 1):
        def refuse(why: str, number: int = number) -> TeacherResponseError:
            return TeacherResponseError(
                f"Pair {number} from the Ollama model {model} was refused: {why}. Nexus "
                "Desktop will ask again later."
            )

        if not isinstance(item, dict):
            raise refuse("it is not an object with a question and an answer")
        fields = {}
        for name, limit in (("question", MAX_QUESTION_CHARS), ("answer", MAX_ANSWER_CHARS)):
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                raise refuse(f"its {name} is missing or empty")
            value = value.strip()
            if len(value) > limit:
                raise refuse(f"its {name} has {len(value)} characters, more than {limit}")
            if not _plain_text(value):
                raise refuse(f"its {name} holds control characters")
            fields[name] = value
        question, answer = fields["question"], fields["answer"]
        if answer.casefold() == question.casefold():
            raise refuse("the answer only repeats the question")
        if question.casefold() in seen:
            raise refuse("it repeats an earlier question")
        seen.add(question.casefold())
        pairs.append(TeacherPair(question, answer))
    return pairs


class _Request:
    """One chat call on its own daemon thread; the outcome is the reply text or the
    exception it raised."""

    def __init__(self, url: str, timeout: float, call: dict) -> None:
        self.done = threading.Event()
        self.content: str | None = None
        self.error: BaseException | None = None
        self._url = url
        self._timeout = timeout
        self._call = call
        self.thread = threading.Thread(target=self._run, name="nexus-teacher-request",
                                       daemon=True)

    def _run(self) -> None:
        try:
            # trust_env=False: Ollama is reached directly, never through a proxy configured
            # for the internet.
            with ollama.Client(host=self._url, timeout=self._timeout,
                               trust_env=False) as client:
                response = client.chat(**self._call)
            self.content = response.message.content or ""
        except BaseException as exc:  # handed to the waiting thread, which reports it
            self.error = exc
        finally:
            self.done.set()


def _translate(exc: BaseException, url: str, model: str, timeout: float) -> TeacherError:
    """A TeacherError whose message says what went wrong with Ollama and what to do."""
    if isinstance(exc, TeacherError):
        return exc
    if isinstance(exc, ConnectionError):  # the ollama client's "connection refused"
        return TeacherUnavailableError(
            f"Nexus Desktop cannot reach Ollama at {url}. Start Ollama (run `ollama serve`, or "
            "open the Ollama app) or correct teacher.url; the teacher tries again later."
        )
    if isinstance(exc, httpx.TimeoutException):
        return TeacherTimeoutError(
            f"Ollama at {url} did not answer within {timeout:g} seconds. The model may still be "
            "loading or the computer is busy; raise teacher.timeout_seconds or choose a "
            "smaller teacher.model."
        )
    if isinstance(exc, ollama.ResponseError):
        error = str(exc.error)
        if exc.status_code == 404 and "model" in error.lower():
            return TeacherModelMissingError(
                f"Ollama at {url} does not have the model {model!r}. Run `ollama pull {model}` "
                "in a terminal, or set teacher.model to a model you have pulled "
                "(`ollama list` shows them)."
            )
        return TeacherHTTPError(
            f"Ollama at {url} answered with HTTP error {exc.status_code}: {error[:200]}. "
            "Check that teacher.url points to Ollama and that Ollama works (`ollama run "
            f"{model}`); the teacher tries again later."
        )
    if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError):
        return TeacherResponseError(
            f"The server at {url} did not answer like Ollama does. Check that teacher.url "
            "points to Ollama."
        )
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | ValueError):
        why = str(exc).rstrip(".")
        return TeacherUnavailableError(
            f"teacher.url = {url!r} is not an address Nexus Desktop can use ({why}). Set it "
            "to Ollama's address, such as http://127.0.0.1:11434."
        )
    if isinstance(exc, httpx.HTTPError):
        return TeacherUnavailableError(
            f"The connection to Ollama at {url} broke off ({exc or type(exc).__name__}). "
            "The teacher tries again later."
        )
    log.error("unexpected error from the Ollama client", exc_info=exc)
    return TeacherError(f"Asking Ollama at {url} failed unexpectedly: {exc!r}.")


class OllamaTeacher:
    """Asks Ollama for question and answer pairs and keeps them as training examples.

    Uses the calling thread's database connection; meant for the teacher thread.
    """

    def __init__(self, database: Database, settings: Settings,
                 breaker: CircuitBreaker | None = None) -> None:
        self.database = database
        self.settings = settings
        self.breaker = breaker or CircuitBreaker("ollama")
        self.last_error: str | None = None
        self._interrupted = threading.Event()
        self._in_flight: _Request | None = None

    def interrupt(self) -> None:
        """Give up the request in progress and refuse later ones: the teacher is stopping."""
        self._interrupted.set()

    def request_pairs(self, topic: str) -> list[TeacherPair]:
        """Ask the teacher model for ``teacher.pairs_per_request`` pairs on ``topic``.

        Raises a TeacherError subclass on any failure, after at most about
        ``teacher.timeout_seconds``.
        """
        url = self.settings.get("teacher.url")
        model = self.settings.get("teacher.model")
        timeout = float(self.settings.get("teacher.timeout_seconds"))
        count = self.settings.get("teacher.pairs_per_request")
        content = self._chat(url, timeout, {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(topic, count)},
            ],
            "format": "json",
            "stream": False,
            # Some variety between requests on the same topic; a bounded reply length.
            "options": {"temperature": 0.8, "num_predict": 256 + count * 450},
        }, model)
        return parse_pairs(content, count, model)

    def models(self) -> list[str]:
        """The names of the models pulled into Ollama (for checks and settings screens)."""
        url = self.settings.get("teacher.url")
        timeout = float(self.settings.get("teacher.timeout_seconds"))
        try:
            with ollama.Client(host=url, timeout=timeout, trust_env=False) as client:
                listing = client.list()
        except Exception as exc:
            raise _translate(exc, url, "", timeout) from None
        return [entry.model for entry in listing.models if entry.model]

    def _chat(self, url: str, timeout: float, call: dict, model: str) -> str:
        if self._interrupted.is_set():
            raise _Interrupted
        previous = self._in_flight
        if previous is not None and not previous.done.is_set():
            raise TeacherTimeoutError(
                f"The previous request to Ollama at {url} is still running past "
                f"{timeout:g} seconds; the teacher tries again later."
            )
        request = _Request(url, timeout, call)
        self._in_flight = request
        request.thread.start()
        deadline = time.monotonic() + timeout + _DEADLINE_GRACE_SECONDS
        while not request.done.wait(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if self._interrupted.is_set():
                raise _Interrupted
            if time.monotonic() >= deadline:
                raise _translate(httpx.ReadTimeout("deadline"), url, model, timeout)
        if request.error is not None:
            raise _translate(request.error, url, model, timeout) from None
        return request.content or ""

    def store_pairs(self, pairs: list[TeacherPair], topic: str) -> int:
        """Keep the pairs as new training examples; returns how many were new (a pair
        already taught, same question and answer, is skipped)."""
        if not pairs:
            return 0
        now = time.time()
        stored = 0
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            for pair in pairs:
                connection.execute(
                    "INSERT INTO training_examples(kind, prompt, target, source_kind, source_id, "
                    "created_at, state, topic) "
                    "SELECT 'teacher', ?1, ?2, 'teacher', 0, ?3, 'new', ?4 "
                    "WHERE NOT EXISTS (SELECT 1 FROM training_examples "
                    "WHERE kind = 'teacher' AND prompt = ?1 AND target = ?2)",
                    (pair.question, pair.answer, now, topic),
                )
                stored += connection.changes()
        return stored

    def waiting_examples(self) -> int:
        """Teacher examples the learner has not looked at yet."""
        with translate_errors(self.database.path):
            return self.database.connection().execute(
                "SELECT count(*) FROM training_examples WHERE kind = 'teacher' AND state = 'new'"
            ).get

    def fill_once(self, topic: str) -> int:
        """One request through the breaker; returns how many new examples were stored.

        The breaker refusing, a failure (recorded, logged to learning_events) and a
        stop all give 0; nothing here raises a TeacherError.
        """
        if not self.breaker.allow():
            return 0
        try:
            pairs = self.request_pairs(topic)
        except _Interrupted:
            # Neither success nor failure; a half-open trial stays out until the next start.
            return 0
        except TeacherError as exc:
            self.breaker.record_failure(str(exc))
            self.last_error = str(exc)
            log.warning("the Ollama teacher failed: %s", exc)
            self._log_failure(exc, topic)
            return 0
        self.breaker.record_success()
        self.last_error = None
        return self.store_pairs(pairs, topic)

    def _log_failure(self, exc: TeacherError, topic: str) -> None:
        state = self.breaker.snapshot()
        detail = {"error": str(exc), "error_kind": type(exc).__name__, "topic": topic,
                  "breaker": state.state, "failures": state.failures}
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "INSERT INTO learning_events(at, kind, detail) VALUES (?, 'teacher_failed', ?)",
                (time.time(), json.dumps(detail)),
            )


class TeacherWorker(threading.Thread):
    """The teacher thread: keeps ``teacher.prefetch`` teacher examples waiting for the
    learner, asking Ollama for more (topic by topic) when fewer are left.

    Settings are read each round, so turning the teacher on or off, a new focus topic or
    a new address takes effect without a restart (a changed address or model also
    forgets the breaker's past failures). Nothing raised in the thread escapes it: errors
    are logged and shown in ``status().last_error``.

    ``stop()`` returns as soon as the thread has finished its current database write
    (well under a second): a request to Ollama in progress is given up, not waited for.
    Stop the thread before closing the database. A Thread runs once: make a new worker
    to start again.
    """

    def __init__(self, database: Database, settings: Settings, *,
                 breaker: CircuitBreaker | None = None, seed: int | None = None,
                 idle_seconds: float = 5.0, pause_seconds: float = 1.0,
                 on_thought: Callable[[str, str], object] | None = None) -> None:
        super().__init__(name="nexus-teacher", daemon=False)
        # Told what the teacher did, in words, for the thought stream.
        self.on_thought = on_thought
        self.settings = settings
        self.teacher = OllamaTeacher(database, settings, breaker)
        # How long to wait with nothing to do (enough examples, teacher off), and after a
        # failure or a reply of pairs already known, before looking again.
        self.idle_seconds = idle_seconds
        self.pause_seconds = pause_seconds
        self._rotation = TopicRotation(seed)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._topic: str | None = None
        self._server: tuple[str, str] | None = None
        self._examples_written = 0
        self._last_topic: str | None = None
        self._last_error: str | None = None

    @property
    def breaker(self) -> CircuitBreaker:
        return self.teacher.breaker

    def set_topic(self, topic: str | None) -> None:
        """Teach only ``topic`` from now on, or go back to the focus topics with None.
        ConfigError for an empty, overlong or non-text topic."""
        checked = None if topic is None else check_topic(topic)
        with self._lock:
            self._topic = checked
        self.notify()

    def notify(self) -> None:
        """Look again now (settings changed, the learner used up examples)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """End the thread, giving up a request to Ollama in progress; returns once it has
        ended (or after ``timeout`` seconds)."""
        self._stopping.set()
        self.teacher.interrupt()
        self._wake.set()
        if self.ident is not None:
            self.join(timeout)

    def status(self) -> TeacherStatus:
        with self._lock:
            return TeacherStatus(
                enabled=bool(self.settings.get("teacher.enabled")),
                breaker=self.teacher.breaker.snapshot(),
                examples_written=self._examples_written,
                last_topic=self._last_topic,
                last_error=self._last_error,
            )

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                delay = self._round()
            except Exception as exc:
                log.exception("the Ollama teacher hit an error; it carries on")
                with self._lock:
                    self._last_error = str(exc) or type(exc).__name__
                delay = max(self.pause_seconds, 0.05)
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()

    def _round(self) -> float:
        """One look at the work; returns how long to wait before the next."""
        settings = self.settings
        if not settings.get("teacher.enabled"):
            return self.idle_seconds
        server = (settings.get("teacher.url"), settings.get("teacher.model"))
        if server != self._server:
            if self._server is not None:
                self.breaker.reset()
            self._server = server
        if self.teacher.waiting_examples() >= settings.get("teacher.prefetch"):
            return self.idle_seconds
        snapshot = self.breaker.snapshot()
        if snapshot.state == OPEN and snapshot.retry_in_seconds > 0:
            return min(snapshot.retry_in_seconds, self.idle_seconds)
        topic, config_error = self._next_topic()
        with self._lock:
            self._last_topic = topic
        was_open = snapshot.state == OPEN
        stored = self.teacher.fill_once(topic)
        with self._lock:
            self._examples_written += stored
            self._last_error = self.teacher.last_error or config_error
        self._tell(topic, stored, was_open)
        if stored:
            return 0.0
        return self.pause_seconds

    def _tell(self, topic: str, stored: int, was_open: bool) -> None:
        if self.on_thought is None:
            return
        state = self.breaker.snapshot()
        if stored:
            self.on_thought("teacher", f"teacher: {stored} Q/A on {topic}")
        elif state.state == OPEN and not was_open:
            self.on_thought("breaker", f"teacher unavailable ({state.last_error}); "
                            f"trying again in {state.retry_in_seconds:.0f} s")
        if was_open and state.state == CLOSED:
            self.on_thought("breaker", "teacher reachable again")

    def _next_topic(self) -> tuple[str, str | None]:
        """The topic to ask about, and why the focus topics setting was not usable."""
        with self._lock:
            topic = self._topic
        if topic is not None:
            return topic, None
        try:
            topics = focus_topics(self.settings.get(FOCUS_SETTING))
        except ConfigError as exc:
            log.warning("%s; teaching the built-in subjects instead", exc)
            return self._rotation.next(()), f"{exc} The built-in subjects are taught meanwhile."
        return self._rotation.next(topics), None
