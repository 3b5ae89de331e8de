"""The thought stream, the RAM budget at model load, the inference breaker and
`nexus-desktop status`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine, TurnResult
from nexus_desktop.errors import ModelLoadError
from nexus_desktop.governor import ram
from nexus_desktop.governor.ram import check_model_fits
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.thoughts import ThoughtStream


def turn_result(engine: Engine, text: str) -> TurnResult:
    events = list(engine.turn(text))  # to the end: the reply is saved at the end
    return next(e for e in events if isinstance(e, TurnResult))


def test_the_thought_stream_keeps_the_newest_and_tells_listeners(db: Database):
    now = [1000.0]
    stream = ThoughtStream(db, keep=5, clock=lambda: now[0])
    heard: list[str] = []
    stream.add_listener(lambda thought: heard.append(thought.text))
    stream.add_listener(lambda thought: 1 / 0)  # a broken listener harms no one
    for n in range(12):
        now[0] += 1
        stream.add("learning", f"thought {n}")
    assert [t.text for t in stream.recent(50)] == [f"thought {n}" for n in range(7, 12)]
    assert stream.recent(2)[-1].at == 1012.0
    assert heard == [f"thought {n}" for n in range(12)]
    # Persisted: a new stream on the same file reads them.
    assert ThoughtStream(db).recent(1)[0].text == "thought 11"


def test_a_model_that_cannot_fit_the_ram_budget_is_refused(tmp_path: Path):
    (tmp_path / "model.safetensors").write_bytes(b"\0" * (3 * 1024 * 1024))
    check_model_fits(tmp_path, 100, rss_mb=lambda: 50.0, free_mb=lambda: 1000.0)
    with pytest.raises(ModelLoadError, match=r"needs about 3 MB.*uses 98 MB.*at most 100 MB"
                                             r".*resources\.ram_mb"):
        check_model_fits(tmp_path, 100, rss_mb=lambda: 98.0, free_mb=lambda: 1000.0)
    with pytest.raises(ModelLoadError, match=r"only 2 MB are free on this machine"):
        check_model_fits(tmp_path, 100, rss_mb=lambda: 10.0, free_mb=lambda: 2.0)


def test_the_engine_refuses_to_load_a_model_over_the_ram_budget(
        paths: AppPaths, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    tiny_settings.set("resources.ram_mb", 512)
    monkeypatch.setattr(ram, "process_rss_mb", lambda: 511.9)
    engine = Engine(paths, tiny_settings)
    engine.open(background_indexing=False)
    try:
        # The process holds almost all of its budget: the tiny model does not fit, the
        # message says why, and the user's message is kept.
        result = turn_result(engine, "Hello?")
        assert result.status == "failed" and "resources.ram_mb" in (result.error or "")
        assert engine.session.history(2)[0].content == "Hello?"
    finally:
        engine.close()


def test_the_inference_breaker_opens_after_failures_and_spares_the_model(
        quiet_engine: Engine, monkeypatch: pytest.MonkeyPatch):
    model = quiet_engine.load_model()
    calls = []

    def failing_stream(*args: object, **kwargs: object):
        calls.append(1)
        raise RuntimeError("the device was lost")
        yield ""  # a generator, as the real one

    monkeypatch.setattr(model, "stream", failing_stream)
    for _ in range(3):
        result = turn_result(quiet_engine, "Hi?")
        assert result.status == "failed" and "device was lost" in (result.error or "")
    assert quiet_engine.breakers["inference"].state == "open"
    result = turn_result(quiet_engine, "Hi again?")
    assert len(calls) == 3  # the open breaker answered without the model
    assert result.status == "failed" and "tries it again in" in (result.error or "")
    assert quiet_engine.requests == {"total": 4, "failed": 4, "from_memory": 0, "from_skills": 0}
    assert quiet_engine.session.history(2)[0].content == "Hi again?"


def nexus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nexus_desktop", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_status_command_prints_the_status_of_a_headless_engine(paths: AppPaths):
    done = nexus("status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["daemon"]["running"] is False
    assert status["resources"]["mode"] in ("active", "idle", "paused")
    assert status["resources"]["budgets"]["idle_cpu_percent"] == 25.0
    assert status["circuit_breakers"]["inference"]["state"] == "closed"
    assert status["memory"]["process"]["current_mb"] > 0
    assert status["health"]["status"] in ("healthy", "degraded")
    text = nexus("status")
    assert text.returncode == 0 and text.stdout.startswith("Health: ")
    assert "CPU budgets: 10% at the desktop, 25% when away" in text.stdout


def test_learn_refuses_a_cpu_budget_out_of_range(paths: AppPaths):
    done = nexus("learn", "--seconds", "1", "--cpu-budget", "0")
    assert done.returncode == 2 and "--cpu-budget must be from 1 to 100" in done.stderr
