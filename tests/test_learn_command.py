"""`nexus-desktop learn` as a real process on the tiny model: metrics, versions, learning
off, and the Ollama teacher end to end against a loopback Ollama server (up and down)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from ollama_server import OllamaServer, closed_port_url

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database


def nexus(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nexus_desktop", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def learn_json(*args: str) -> dict:
    done = nexus("learn", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rows(paths: AppPaths, sql: str) -> list[tuple]:
    database = Database(paths.database, paths.backups_dir)
    try:
        return [tuple(row) for row in database.connection().execute(sql)]
    finally:
        database.close()


@pytest.fixture
def learning_cli(paths: AppPaths, tiny_settings: Settings) -> AppPaths:
    """The tiny model with a small adapter and quick rounds, in the user's config.toml so
    child processes use it."""
    tiny_settings.set("learning.batch_size", 2)
    tiny_settings.set("learning.lora_rank", 4)
    return paths


@pytest.fixture
def server() -> Iterator[OllamaServer]:
    with OllamaServer() as running:
        yield running


def test_learn_reports_metrics_and_the_next_start_loads_the_version(learning_cli: AppPaths):
    told = nexus("chat", stdin="My favorite color is teal.\nMy sister's name is Ola.\n")
    assert told.returncode == 0, told.stderr

    metrics = learn_json("--seconds", "10")
    assert metrics["adapter_version"] == 1 and metrics["last_event"] == "checkpoint"
    # Two facts (3 questions each) and the two exchanges.
    assert metrics["examples_learned"] + metrics["examples_known"] == 8
    assert metrics["steps"] > 0 and metrics["tokens_learned"] > 0
    assert metrics["canary_loss"] is not None and metrics["canary_reference"] is not None
    assert metrics["replay_size"] == metrics["examples_learned"]

    status = nexus("learn", "--seconds", "0")
    assert status.returncode == 0, status.stderr
    assert "adapter version      1" in status.stdout
    assert "Using what Nexus Desktop has learned (adapter version 1)" in status.stderr
    events = rows(learning_cli, "SELECT kind FROM learning_events")
    assert events == [("checkpoint",)]


def test_learn_when_learning_is_off_says_how_to_turn_it_on(learning_cli: AppPaths):
    assert nexus("config", "set", "learning.enabled", "false").returncode == 0
    done = nexus("learn", "--seconds", "5")
    assert done.returncode == 1
    assert "Learning is off" in done.stderr and "learning.enabled true" in done.stderr
    bad = nexus("learn", "--seconds", "-3")
    assert bad.returncode == 2 and "--seconds must be from 0" in bad.stderr


def test_learn_with_the_ollama_teacher_on_a_topic(learning_cli: AppPaths, server: OllamaServer,
                                                  tiny_settings: Settings):
    tiny_settings.set("teacher.enabled", True)
    tiny_settings.set("teacher.url", server.url)
    tiny_settings.set("teacher.pairs_per_request", 3)
    tiny_settings.set("teacher.prefetch", 6)
    server.fresh = True

    metrics = learn_json("--seconds", "8", "--topic", "marine biology")

    topics = {topic for (topic,) in rows(
        learning_cli, "SELECT DISTINCT topic FROM training_examples WHERE kind = 'teacher'")}
    assert topics == {"marine biology"}
    asked = [r for r in server.chat_requests() if "marine biology" in json.dumps(r)]
    assert asked, "the teacher never asked Ollama about the topic"
    assert metrics["teacher_examples"] >= 3
    learned = rows(learning_cli, "SELECT count(*) FROM training_examples "
                                 "WHERE kind = 'teacher' AND state != 'new'")[0][0]
    assert learned >= 3 and metrics["teacher"]["state"] == "closed"


def test_learn_with_ollama_down_still_learns_and_shows_the_outage(learning_cli: AppPaths,
                                                                  tiny_settings: Settings):
    tiny_settings.set("teacher.enabled", True)
    tiny_settings.set("teacher.url", closed_port_url())
    assert nexus("chat", stdin="My favorite color is teal.\n").returncode == 0

    metrics = learn_json("--seconds", "5")

    assert metrics["steps"] > 0 and metrics["teacher_examples"] == 0
    assert metrics["teacher"]["last_error"]
    failures = rows(learning_cli, "SELECT count(*) FROM learning_events "
                                  "WHERE kind = 'teacher_failed'")[0][0]
    assert failures >= 1


def test_a_completed_exchange_becomes_an_example(quiet_engine: Engine):
    events = list(quiet_engine.turn("Tell me about the sea."))
    reply = events[-1]
    stored = quiet_engine.database.connection().execute(
        "SELECT kind, prompt, target, source_id FROM training_examples").fetchall()
    assert [tuple(r) for r in stored] == [("exchange", "Tell me about the sea.", reply.reply,
                                           reply.reply_id)]
    # A reply made without memory is a probe of the model, not a lesson.
    list(quiet_engine.turn("What is my favorite color?", context="none"))
    assert quiet_engine.database.connection().execute(
        "SELECT count(*) FROM training_examples").get == 1


def test_a_round_the_guard_undoes_is_learned_again_within_the_seconds(
        learning_cli: AppPaths, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    import argparse
    import io

    from nexus_desktop.cli import learn

    engine = Engine(learning_cli, tiny_settings)
    engine.open(background_indexing=False)
    try:
        for _ in engine.turn("My favorite color is teal."):
            pass
        learner = engine.learner()
        # The first check meets a reference no round can meet, the second an easy one.
        references = iter([1e-6, 1e9])

        def reference(may_continue, chunk):  # type: ignore[no-untyped-def]
            learner.metrics.canary_reference = next(references)
            return learner.metrics.canary_reference
            yield  # a generator, as the real one

        monkeypatch.setattr(learner, "_canary_reference", reference)
        # The tiny model never gets below the threshold: "up to date" every fifth look.
        looks: list[int] = []
        monkeypatch.setattr(learner, "_has_work",
                            lambda: looks.append(1) or len(looks) % 5 != 0)
        out, err = io.StringIO(), io.StringIO()
        args = argparse.Namespace(seconds=30.0, topic=None, cpu_budget=100.0, json=True)
        assert learn.run(args, engine, out, err) == 0
        metrics = json.loads(out.getvalue())
        assert metrics["rollbacks"] == 1 and metrics["adapter_version"] == 1, metrics
        assert metrics["last_event"] == "checkpoint"
        assert "that round was undone; learning again at half the rate" in err.getvalue()
        assert metrics["cpu"]["budget_percent"] == 100.0
    finally:
        engine.close()
