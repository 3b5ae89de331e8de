"""The skill library's promise with the real bundled models, across a restart: a task's
accepted reply is replayed for the same request without the model, a similar request
gets it in its prompt as a worked example, and a thumbs-down stops the replay."""

from __future__ import annotations

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine, TurnResult
from nexus_desktop.paths import AppPaths

pytestmark = [pytest.mark.bundled_model, pytest.mark.slow]

TASK = "Rewrite this more politely: send me the report now"


def turn(engine: Engine, text: str) -> TurnResult:
    return next(e for e in engine.turn(text) if isinstance(e, TurnResult))


def opened(paths: AppPaths, settings: Settings) -> Engine:
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    return engine


def test_a_kept_skill_is_replayed_after_a_restart_and_stops_after_a_thumbs_down(
        bundled_home: AppPaths, settings: Settings, monkeypatch: pytest.MonkeyPatch):
    settings.set("generation.max_new_tokens", 24)
    engine = opened(bundled_home, settings)
    try:
        first = turn(engine, TASK)
        assert first.source == "model" and first.reply.strip()
        turn(engine, "Thank you, that works.")
    finally:
        engine.close()

    # After a restart the skill is there, and the model is not asked for the same request.
    engine = opened(bundled_home, settings)
    try:
        model = engine.load_model()
        real_stream = model.stream
        generated: list[str] = []

        def counted(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            generated.append("called")
            yield from real_stream(*args, **kwargs)

        monkeypatch.setattr(model, "stream", counted)
        replay = turn(engine, "Please Rewrite this more politely: send me the report now.")
        assert replay.source == "skill" and replay.reply == first.reply
        assert generated == [] and replay.latency_ms < first.latency_ms

        similar = turn(engine, "Rewrite this more politely: send me the report today")
        assert similar.source == "model" and similar.skill_example == replay.skill_id
        assert {"role": "assistant", "content": first.reply} in engine.last_plan.messages
        assert generated == ["called"]

        again = turn(engine, TASK)
        assert again.source == "skill"
        engine.rate_reply(again.reply_id, False)
        after = turn(engine, TASK)
        assert after.source == "model" and generated == ["called", "called"]
    finally:
        engine.close()
