"""The real bundled model (SmolLM2-135M-Instruct) answering through the engine."""

from __future__ import annotations

import pytest

from nexus_desktop.engine import Engine, Piece, TurnResult

pytestmark = [pytest.mark.bundled_model, pytest.mark.slow]


def test_the_bundled_model_knows_the_capital_of_france(bundled_home, settings):
    settings.set("generation.temperature", 0.0)
    engine = Engine(bundled_home, settings)
    engine.open()
    try:
        events = list(engine.turn("What is the capital of France?"))
    finally:
        engine.close()
    result = events[-1]
    assert isinstance(result, TurnResult) and result.status == "complete"
    assert "Paris" in result.reply
    assert "".join(e.text for e in events if isinstance(e, Piece)) == result.reply
    assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms


def test_the_bundled_model_sees_earlier_turns_after_a_restart(bundled_home, settings):
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", 48)
    first = Engine(bundled_home, settings)
    first.open()
    list(first.turn("My name is Ada. Please reply with one short sentence."))
    first.close()

    second = Engine(bundled_home, settings)
    second.open()
    try:
        result = [e for e in second.turn("Repeat my name, please.") if isinstance(e, TurnResult)]
        plan = second.last_plan
    finally:
        second.close()
    assert result[0].status == "complete"
    assert [m["content"] for m in plan.messages if m["content"].startswith("My name is Ada.")]
    assert len(plan.history_ids) == 2
