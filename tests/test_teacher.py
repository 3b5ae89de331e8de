"""The Ollama teacher end to end: the real `ollama` client against a loopback stand-in for
Ollama (tests/ollama_server.py), a real database, the circuit breaker, and the teacher
thread. Also the focus topics setting and the topic rotation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from ollama_server import OllamaServer, closed_port_url

from nexus_desktop.config import Settings
from nexus_desktop.errors import (
    ConfigError,
    TeacherError,
    TeacherHTTPError,
    TeacherModelMissingError,
    TeacherResponseError,
    TeacherUnavailableError,
)
from nexus_desktop.governor.breaker import CircuitBreaker
from nexus_desktop.learning.teacher import (
    OllamaTeacher,
    TeacherPair,
    TeacherWorker,
    parse_pairs,
)
from nexus_desktop.learning.topics import ACADEMIC_SUBJECTS, TopicRotation, focus_topics
from nexus_desktop.store.database import Database


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[OllamaServer]:
    with OllamaServer() as running:
        yield running


@pytest.fixture
def teacher_settings(settings: Settings, server: OllamaServer) -> Settings:
    settings.set("teacher.url", server.url)
    settings.set("teacher.enabled", True)
    settings.set("teacher.pairs_per_request", 3)
    settings.set("teacher.timeout_seconds", 5.0)
    return settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def teacher(db: Database, teacher_settings: Settings, clock: FakeClock) -> OllamaTeacher:
    return OllamaTeacher(db, teacher_settings, CircuitBreaker("ollama", clock=clock))


def teacher_rows(db: Database) -> list[tuple]:
    return db.connection().execute(
        "SELECT prompt, target, topic, state, source_kind, source_id FROM training_examples "
        "WHERE kind = 'teacher' ORDER BY id").fetchall()


def failure_events(db: Database) -> list[dict]:
    return [json.loads(detail) for (detail,) in db.connection().execute(
        "SELECT detail FROM learning_events WHERE kind = 'teacher_failed' ORDER BY id")]


def user_prompt_of(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# --- focus topics and rotation ---


def test_focus_topics_parsing() -> None:
    assert focus_topics("-") == []
    assert focus_topics("  ") == []
    assert focus_topics(" organic chemistry, Rust ,, rust, Organic Chemistry ,baking") == [
        "organic chemistry", "Rust", "baking"]
    with pytest.raises(ConfigError, match="at most 100"):
        focus_topics("chemistry, " + "x" * 101)
    with pytest.raises(ConfigError, match="control characters"):
        focus_topics("chem\x07istry")


def test_rotation_cycles_focus_topics_in_order_and_follows_changes() -> None:
    rotation = TopicRotation(seed=1)
    assert [rotation.next(["a", "b"]) for _ in range(5)] == ["a", "b", "a", "b", "a"]
    assert [rotation.next(["c"]) for _ in range(2)] == ["c", "c"]


def test_rotation_spreads_built_in_subjects_in_a_seeded_order() -> None:
    assert len(ACADEMIC_SUBJECTS) >= 25
    assert len(set(ACADEMIC_SUBJECTS)) == len(ACADEMIC_SUBJECTS)
    first = TopicRotation(seed=7)
    order = [first.next() for _ in range(len(ACADEMIC_SUBJECTS))]
    assert sorted(order) == sorted(ACADEMIC_SUBJECTS), "each subject once per pass"
    assert order != list(ACADEMIC_SUBJECTS)
    second = TopicRotation(seed=7)
    assert [second.next() for _ in range(len(ACADEMIC_SUBJECTS))] == order


# --- validation of the model's reply ---


def test_parse_pairs_is_strict() -> None:
    good = {"pairs": [{"question": " What is DNA? ", "answer": "A molecule carrying genes."}]}
    assert parse_pairs(json.dumps(good), 5, "m") == [
        TeacherPair("What is DNA?", "A molecule carrying genes.")]
    two = {"pairs": [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(4)]}
    assert len(parse_pairs(json.dumps(two), 2, "m")) == 2, "extra pairs are ignored"
    bad_replies = {
        "not JSON": "Here you go!",
        "no pairs": json.dumps({"pairs": []}),
        "list, not object": json.dumps([{"question": "Q?", "answer": "A."}]),
        "pair not object": json.dumps({"pairs": ["Q? A."]}),
        "empty answer": json.dumps({"pairs": [{"question": "Q?", "answer": "  "}]}),
        "number answer": json.dumps({"pairs": [{"question": "Q?", "answer": 4}]}),
        "long question": json.dumps({"pairs": [{"question": "Q" * 301, "answer": "A."}]}),
        "long answer": json.dumps({"pairs": [{"question": "Q?", "answer": "A" * 1201}]}),
        "echo": json.dumps({"pairs": [{"question": "Why?", "answer": "why?"}]}),
        "control": json.dumps({"pairs": [{"question": "Q?\x1b[2J", "answer": "A."}]}),
        "duplicate": json.dumps({"pairs": [{"question": "Q?", "answer": "A."},
                                           {"question": "q?", "answer": "B."}]}),
    }
    for name, reply in bad_replies.items():
        with pytest.raises(TeacherResponseError):
            parse_pairs(reply, 5, "m")
            pytest.fail(name)
    multiline = {"pairs": [{"question": "Q?", "answer": "Line one.\n\tLine two."}]}
    assert parse_pairs(json.dumps(multiline), 5, "m")[0].answer == "Line one.\n\tLine two."


# --- requests to the stand-in Ollama with the real client ---


def test_good_pairs_are_stored_as_new_examples_with_their_topic(
        db: Database, teacher: OllamaTeacher, server: OllamaServer,
        teacher_settings: Settings) -> None:
    assert teacher.fill_once("marine biology") == 3
    rows = teacher_rows(db)
    assert len(rows) == 3
    for prompt, target, topic, state, source_kind, source_id in rows:
        assert "marine biology" in prompt and "marine biology" in target
        assert (topic, state, source_kind, source_id) == ("marine biology", "new", "teacher", 0)
    assert teacher.waiting_examples() == 3
    [request] = server.chat_requests()
    assert request["model"] == teacher_settings.get("teacher.model")
    assert request["format"] == "json"
    assert request["stream"] is False
    assert "Topic: marine biology" in user_prompt_of(request)
    assert "Write 3 " in user_prompt_of(request)
    assert teacher.breaker.snapshot().state == "closed"
    assert failure_events(db) == []


def test_duplicates_are_skipped(db: Database, teacher: OllamaTeacher) -> None:
    assert teacher.fill_once("algebra") == 3
    assert teacher.fill_once("algebra") == 0, "same pairs again: nothing new"
    pairs = [TeacherPair("What is key idea number 1 of algebra?",
                         "Key idea number 1 of algebra is the one a test server taught."),
             TeacherPair("New question?", "New answer."),
             TeacherPair("New question?", "New answer.")]
    assert teacher.store_pairs(pairs, "algebra") == 1
    assert len(teacher_rows(db)) == 4
    # Examples the learner has looked at no longer count as waiting.
    db.connection().execute("UPDATE training_examples SET state = 'known' WHERE id <= 2")
    assert teacher.waiting_examples() == 2


def test_models_lists_what_ollama_has(teacher: OllamaTeacher, server: OllamaServer) -> None:
    assert teacher.models() == ["llama3.2:latest"]
    assert ("GET", "/api/tags") in [(r.method, r.path) for r in server.requests]


def test_model_not_pulled_says_how_to_pull_it(
        db: Database, teacher: OllamaTeacher, teacher_settings: Settings) -> None:
    teacher_settings.set("teacher.model", "qwen2.5:7b")
    with pytest.raises(TeacherModelMissingError, match=r"`ollama pull qwen2\.5:7b`"):
        teacher.request_pairs("biology")
    assert teacher.fill_once("biology") == 0
    [event] = failure_events(db)
    assert event["error_kind"] == "TeacherModelMissingError"
    assert event["topic"] == "biology"


@pytest.mark.parametrize(("mode", "error"), [
    ("garbage", TeacherResponseError),
    ("wrong_shape", TeacherResponseError),
    ("broken", TeacherResponseError),
    ("error", TeacherHTTPError),
])
def test_bad_replies_raise_and_count_as_failures(
        db: Database, teacher: OllamaTeacher, server: OllamaServer, mode: str,
        error: type[TeacherError]) -> None:
    server.mode = mode
    with pytest.raises(error) as caught:
        teacher.request_pairs("geology")
    assert "Ollama" in str(caught.value)
    assert teacher.fill_once("geology") == 0
    assert teacher_rows(db) == []
    snapshot = teacher.breaker.snapshot()
    assert (snapshot.state, snapshot.failures) == ("closed", 1)
    assert snapshot.last_error == teacher.last_error == str(caught.value)
    [event] = failure_events(db)
    assert event["error_kind"] == error.__name__
    assert event["topic"] == "geology"
    assert event["error"] == str(caught.value)


def test_slow_ollama_times_out_quickly(
        db: Database, teacher: OllamaTeacher, server: OllamaServer,
        teacher_settings: Settings) -> None:
    teacher_settings.set("teacher.timeout_seconds", 1.0)
    server.mode = "slow"
    started = time.monotonic()
    assert teacher.fill_once("physics") == 0
    assert time.monotonic() - started < 2.0
    assert teacher.breaker.snapshot().failures == 1
    assert "did not answer within 1 seconds" in teacher.breaker.snapshot().last_error
    assert failure_events(db)[0]["error_kind"] == "TeacherTimeoutError"
    assert teacher_rows(db) == []


def test_down_opens_the_breaker_then_recovers(
        db: Database, teacher: OllamaTeacher, server: OllamaServer, clock: FakeClock) -> None:
    server.stop()
    with pytest.raises(TeacherUnavailableError, match="cannot reach Ollama"):
        teacher.request_pairs("chemistry")
    for _ in range(3):
        assert teacher.fill_once("chemistry") == 0
    snapshot = teacher.breaker.snapshot()
    assert (snapshot.state, snapshot.failures) == ("open", 3)
    assert "cannot reach Ollama" in snapshot.last_error
    assert not teacher.breaker.allow()
    events = failure_events(db)
    assert [e["breaker"] for e in events] == ["closed", "closed", "open"]
    assert all(e["error_kind"] == "TeacherUnavailableError" for e in events)

    # While open, nothing is sent (and nothing logged).
    server.start()
    assert teacher.fill_once("chemistry") == 0
    assert server.chat_requests() == []
    assert len(failure_events(db)) == 3

    # After the backoff, one trial goes out; it succeeds and the breaker closes.
    clock.now += snapshot.retry_in_seconds
    assert teacher.fill_once("chemistry") == 3
    assert teacher.breaker.snapshot().state == "closed"
    assert teacher.breaker.snapshot().failures == 0
    assert len(server.chat_requests()) == 1


def test_failed_trial_reopens_for_longer(teacher: OllamaTeacher, teacher_settings: Settings,
                                         clock: FakeClock) -> None:
    teacher_settings.set("teacher.url", closed_port_url())
    for _ in range(3):
        teacher.fill_once("logic")
    first = teacher.breaker.snapshot().retry_in_seconds
    clock.now += first
    assert teacher.fill_once("logic") == 0
    snapshot = teacher.breaker.snapshot()
    assert snapshot.state == "open"
    assert snapshot.retry_in_seconds == pytest.approx(2 * first)


# --- the teacher thread ---


def make_worker(db: Database, settings: Settings, **kwargs) -> TeacherWorker:
    kwargs.setdefault("idle_seconds", 0.05)
    kwargs.setdefault("pause_seconds", 0.05)
    return TeacherWorker(db, settings, seed=3, **kwargs)


def test_worker_fills_up_to_prefetch_then_waits_and_stops_promptly(
        db: Database, teacher_settings: Settings, server: OllamaServer) -> None:
    teacher_settings.set("teacher.prefetch", 6)
    worker = make_worker(db, teacher_settings)
    worker.start()
    try:
        wait_for(lambda: worker.status().examples_written >= 6)
        time.sleep(0.3)  # several idle rounds: no more requests while enough are waiting
        assert len(server.chat_requests()) == 2
        assert worker.teacher.waiting_examples() == 6
        topics = {user_prompt_of(r).splitlines()[0] for r in server.chat_requests()}
        assert len(topics) == 2, "built-in subjects, one after another"
        assert all(t.removeprefix("Topic: ") in ACADEMIC_SUBJECTS for t in topics)

        # The learner looks at some; the teacher tops the queue up again.
        db.connection().execute(
            "UPDATE training_examples SET state = 'known' WHERE id IN "
            "(SELECT id FROM training_examples ORDER BY id LIMIT 3)")
        worker.notify()
        wait_for(lambda: len(server.chat_requests()) == 3)
        wait_for(lambda: worker.teacher.waiting_examples() == 6)
        status = worker.status()
        assert status.enabled
        assert status.examples_written == 9
        assert status.breaker.state == "closed"
        assert status.last_error is None
        assert status.last_topic in ACADEMIC_SUBJECTS
    finally:
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 1.0
    assert not worker.is_alive()


def test_worker_uses_focus_topics_and_a_set_topic(
        db: Database, teacher_settings: Settings, server: OllamaServer) -> None:
    server.fresh = True
    teacher_settings.set("learning.focus_topics", "Rust, organic chemistry")
    teacher_settings.set("teacher.prefetch", 12)
    worker = make_worker(db, teacher_settings)
    worker.start()
    try:
        wait_for(lambda: worker.teacher.waiting_examples() >= 12)
        firsts = [user_prompt_of(r).splitlines()[0] for r in server.chat_requests()]
        assert firsts == ["Topic: Rust", "Topic: organic chemistry"] * 2
        assert worker.status().last_topic == "organic chemistry"

        # "Train on a topic": only that topic until cleared; new settings are re-read.
        worker.set_topic("  tide pools ")
        teacher_settings.set("teacher.prefetch", 15)
        wait_for(lambda: worker.teacher.waiting_examples() >= 15)
        assert user_prompt_of(server.chat_requests()[-1]).startswith("Topic: tide pools\n")
        with pytest.raises(ConfigError):
            worker.set_topic("x" * 101)
        worker.set_topic(None)
        teacher_settings.set("learning.focus_topics", "baking")
        teacher_settings.set("teacher.prefetch", 18)
        wait_for(lambda: worker.teacher.waiting_examples() >= 18)
        assert user_prompt_of(server.chat_requests()[-1]).startswith("Topic: baking\n")
        rows = {topic for (_, _, topic, *_rest) in teacher_rows(db)}
        assert rows == {"Rust", "organic chemistry", "tide pools", "baking"}
    finally:
        worker.stop()


def test_worker_with_ollama_down_keeps_running_and_shows_the_open_breaker(
        db: Database, teacher_settings: Settings, server: OllamaServer) -> None:
    server.stop()
    worker = make_worker(db, teacher_settings)
    worker.start()
    try:
        wait_for(lambda: worker.status().breaker.state == "open")
        time.sleep(0.2)
        assert worker.is_alive()
        status = worker.status()
        assert status.breaker.failures == 3
        assert status.breaker.retry_in_seconds > 0
        assert "cannot reach Ollama" in status.last_error
        assert status.examples_written == 0
        assert len(failure_events(db)) == 3, "no requests while the breaker is open"

        # A corrected address is tried at once: the breaker starts afresh.
        server.start()
        teacher_settings.set("teacher.url", f"http://localhost:{server.port}")
        teacher_settings.set("teacher.prefetch", 3)
        wait_for(lambda: worker.status().examples_written == 3)
        assert worker.status().breaker.state == "closed"
        assert worker.status().last_error is None
    finally:
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 1.0


def test_worker_stops_promptly_while_ollama_is_slow(
        db: Database, teacher_settings: Settings, server: OllamaServer) -> None:
    teacher_settings.set("teacher.timeout_seconds", 30.0)
    server.mode = "slow"
    worker = make_worker(db, teacher_settings)
    worker.start()
    try:
        wait_for(lambda: len(server.chat_requests()) == 1)
        time.sleep(0.1)
    finally:
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 1.0
    assert not worker.is_alive()
    # Giving up on stop is not a failure of Ollama.
    assert worker.status().breaker.failures == 0
    assert failure_events(db) == []


def test_worker_idles_when_disabled_and_survives_bad_settings(
        db: Database, teacher_settings: Settings, server: OllamaServer) -> None:
    teacher_settings.set("teacher.enabled", False)
    worker = make_worker(db, teacher_settings)
    worker.start()
    try:
        time.sleep(0.2)
        assert server.chat_requests() == []
        assert not worker.status().enabled
        # A focus topic too long to use: the built-in subjects are taught meanwhile.
        teacher_settings.set("learning.focus_topics", "y" * 150)
        teacher_settings.set("teacher.prefetch", 3)
        teacher_settings.set("teacher.enabled", True)
        worker.notify()
        wait_for(lambda: worker.status().examples_written == 3)
        status = worker.status()
        assert status.last_topic in ACADEMIC_SUBJECTS
        assert "learning.focus_topics" in status.last_error
    finally:
        worker.stop()


def test_worker_thread_survives_unexpected_errors(
        db: Database, teacher_settings: Settings, server: OllamaServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    worker = make_worker(db, teacher_settings)

    def broken() -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(worker.teacher, "waiting_examples", broken)
    worker.start()
    try:
        wait_for(lambda: worker.status().last_error == "disk on fire")
        assert worker.is_alive()
    finally:
        worker.stop()
    assert worker.name == "nexus-teacher"
    assert not worker.daemon
