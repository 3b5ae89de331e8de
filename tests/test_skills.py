"""The skill library in the engine: a task's accepted reply is kept; the same request is
replayed without the model, a similar one gets it as a worked example; confidence grows
and drops with the user's verdicts; weak skills are archived; skills survive restarts.

The tiny model answers (its text is noise, which is all these tests need); the matching
uses the real bundled embedding model, since that is what tells similar requests apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine, TurnResult
from nexus_desktop.errors import InputError
from nexus_desktop.memory.skills import DROP, START_CONFIDENCE, grown
from nexus_desktop.paths import AppPaths
from nexus_desktop.status import build_status
from nexus_desktop.store.skills import Skill

TASK = "Convert 5 miles to km"


@pytest.fixture
def engine(paths: AppPaths, tiny_settings: Settings) -> Iterator[Engine]:
    opened = Engine(paths, speaking(tiny_settings))
    opened.open(background_indexing=False)
    yield opened
    opened.close()


def speaking(settings: Settings) -> Settings:
    """At temperature 0 the tiny model only writes blank lines, and a blank reply is
    never kept; sampling makes it write (random) words."""
    settings.set("generation.temperature", 1.0)
    settings.set("generation.top_p", 1.0)
    return settings


def turn(engine: Engine, text: str, **options: object) -> TurnResult:
    results = [e for e in engine.turn(text, **options) if isinstance(e, TurnResult)]
    assert len(results) == 1
    return results[0]


def only_skill(engine: Engine) -> Skill:
    skills = engine.skills.store.all(include_archived=True)
    assert len(skills) == 1, skills
    return skills[0]


def keep_skill(engine: Engine, text: str = TASK) -> tuple[TurnResult, Skill]:
    """Ask for a task, then accept the reply by carrying on."""
    first = turn(engine, text)
    assert first.source == "model" and first.status == "complete" and first.reply
    turn(engine, "Thanks!")
    return first, only_skill(engine)


def no_generation(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    def refuse(*_args: object, **_kwargs: object) -> Iterator[str]:
        raise AssertionError("the model was asked to generate")

    monkeypatch.setattr(engine.load_model(), "stream", refuse)


def test_an_accepted_task_reply_is_kept_with_its_record(engine: Engine):
    first, skill = keep_skill(engine)
    assert skill.intent == TASK and skill.result == first.reply
    assert skill.confidence == START_CONFIDENCE["accepted"]
    assert skill.source_reply_id == first.reply_id and skill.state == "active"
    assert skill.steps["how"] == "accepted" and skill.steps["model"]
    assert (skill.uses, skill.successes, skill.failures) == (0, 0, 0)
    assert skill.created_at <= time.time() and skill.last_used_at is None


def test_a_repeat_is_replayed_without_generation_and_marked(
        engine: Engine, monkeypatch: pytest.MonkeyPatch):
    first, skill = keep_skill(engine)
    no_generation(monkeypatch, engine)
    replay = turn(engine, "please convert 5 miles to km.")
    assert replay.source == "skill" and replay.skill_id == skill.id
    assert replay.reply == first.reply and replay.status == "complete"
    message = engine.session.messages.get(replay.reply_id)
    assert message is not None and message.source == "skill" and message.content == first.reply
    use = engine.skills.store.use_of(replay.reply_id)
    assert use is not None and use.kind == "replay" and use.outcome is None
    assert use.similarity is not None and use.similarity >= 0.9
    assert engine.skills.store.require(skill.id).uses == 1


def test_an_accepted_replay_grows_confidence(engine: Engine):
    _, skill = keep_skill(engine)
    replay = turn(engine, TASK)
    turn(engine, "Great, thank you")
    after = engine.skills.store.require(skill.id)
    assert after.confidence == pytest.approx(grown(skill.confidence))
    assert (after.successes, after.failures) == (1, 0)
    assert engine.skills.store.use_of(replay.reply_id).outcome == "success"


def test_a_similar_request_carries_the_skill_as_a_worked_example(engine: Engine):
    _, skill = keep_skill(engine)
    result = turn(engine, "Convert 7 miles to km")
    assert result.source == "model" and result.skill_example == skill.id
    messages = engine.last_plan.messages
    assert messages[-1] == {"role": "user", "content": "Convert 7 miles to km"}
    example = [{"role": "user", "content": skill.intent},
               {"role": "assistant", "content": skill.result}]
    assert any(messages[i:i + 2] == example for i in range(len(messages) - 2))
    use = engine.skills.store.use_of(result.reply_id)
    assert use is not None and use.kind == "example"


def test_an_unrelated_request_gets_no_skill(engine: Engine):
    keep_skill(engine)
    result = turn(engine, "Write a haiku about autumn leaves")
    assert result.source == "model" and result.skill_example is None
    assert engine.skills.store.use_of(result.reply_id) is None


def test_a_correction_in_the_next_turn_keeps_nothing(engine: Engine):
    turn(engine, TASK)
    turn(engine, "No, that's wrong")
    assert engine.skills.store.all(include_archived=True) == []


def test_conversation_and_requests_pointing_back_are_never_kept(engine: Engine):
    turn(engine, "I had a long day at work.")
    turn(engine, "Summarise the above")
    turn(engine, "Thanks")
    assert engine.skills.store.all(include_archived=True) == []


def test_a_thumbs_down_on_a_replay_stops_replay(engine: Engine):
    _, skill = keep_skill(engine)
    replay = turn(engine, TASK)
    assert replay.source == "skill"
    engine.rate_reply(replay.reply_id, False)
    after = engine.skills.store.require(skill.id)
    assert after.confidence == pytest.approx(skill.confidence * DROP)
    assert after.confidence < engine.settings.get("skills.min_confidence")
    assert after.failures == 1
    again = turn(engine, TASK)
    assert again.source == "model" and again.skill_id is None


def test_a_thumbs_down_on_the_reply_a_skill_came_from_stops_it(engine: Engine):
    first, skill = keep_skill(engine)
    engine.rate_reply(first.reply_id, False)
    assert engine.skills.store.require(skill.id).confidence < skill.confidence
    assert turn(engine, TASK).source == "model"


def test_a_thumbs_up_keeps_a_skill_at_once_with_more_trust(engine: Engine):
    first = turn(engine, "Translate 'good night' into French")
    engine.rate_reply(first.reply_id, True)
    skill = only_skill(engine)
    assert skill.confidence == START_CONFIDENCE["rated good"]
    assert skill.steps["how"] == "rated good"
    # The next message does not keep it a second time.
    turn(engine, "ok")
    assert only_skill(engine).confidence == START_CONFIDENCE["rated good"]


def test_the_users_correction_becomes_the_skills_result(engine: Engine):
    turn(engine, TASK)
    engine.correct("5 miles is about 8.05 km.")
    skill = only_skill(engine)
    assert skill.result == "5 miles is about 8.05 km."
    assert skill.confidence == START_CONFIDENCE["corrected"]
    assert turn(engine, TASK).reply == "5 miles is about 8.05 km."


def test_correcting_a_replay_replaces_what_it_replays(engine: Engine):
    keep_skill(engine)
    assert turn(engine, TASK).source == "skill"
    engine.correct("About 8 km.")
    skill = only_skill(engine)
    assert skill.result == "About 8 km." and skill.failures == 1
    replay = turn(engine, TASK)
    assert replay.source == "skill" and replay.reply == "About 8 km."


def test_regenerate_asks_the_model_and_counts_against_the_skill(engine: Engine):
    _, skill = keep_skill(engine)
    replay = turn(engine, TASK)
    events = list(engine.regenerate(replay.reply_id))
    fresh = next(e for e in events if isinstance(e, TurnResult))
    assert fresh.source == "model" and fresh.reply_id > replay.reply_id
    assert fresh.user_message_id == replay.user_message_id
    assert engine.session.history(1)[0].id == fresh.reply_id
    assert engine.skills.store.use_of(replay.reply_id).outcome == "failure"
    assert engine.skills.store.require(skill.id).confidence < skill.confidence
    with pytest.raises(InputError, match="not a reply"):
        list(engine.regenerate(replay.user_message_id))


def test_an_accepted_fresh_reply_replaces_a_skill_that_stopped_working(engine: Engine):
    _, skill = keep_skill(engine)
    replay = turn(engine, TASK)
    engine.rate_reply(replay.reply_id, False)
    fresh = turn(engine, TASK)
    assert fresh.source == "model"
    turn(engine, "Thanks")
    after = only_skill(engine)
    assert after.id == skill.id and after.source_reply_id == fresh.reply_id
    assert after.confidence == START_CONFIDENCE["accepted"]


def test_a_kept_skill_feeds_the_learner(engine: Engine):
    first, _ = keep_skill(engine)
    kinds = [row[0] for row in engine.database.connection().execute(
        "SELECT kind FROM training_examples WHERE source_kind = 'message' AND source_id = ?",
        (first.reply_id,))]
    assert kinds == ["skill"]


def test_skills_survive_a_restart(paths: AppPaths, tiny_settings: Settings,
                                  monkeypatch: pytest.MonkeyPatch):
    first = Engine(paths, speaking(tiny_settings))
    first.open(background_indexing=False)
    try:
        kept, skill = keep_skill(first)
    finally:
        first.close()
    second = Engine(paths, tiny_settings)
    second.open(background_indexing=False)
    try:
        no_generation(monkeypatch, second)
        replay = turn(second, TASK)
        assert replay.source == "skill" and replay.skill_id == skill.id
        assert replay.reply == kept.reply
    finally:
        second.close()


def test_fresh_and_probe_turns_do_not_use_skills(engine: Engine):
    keep_skill(engine)
    assert turn(engine, TASK, use_skills=False).source == "model"
    assert turn(engine, TASK, context="none").source == "model"


def test_with_the_library_off_nothing_is_kept_or_replayed(engine: Engine):
    keep_skill(engine)
    engine.settings.set("skills.enabled", False)
    assert turn(engine, TASK).source == "model"
    turn(engine, "Translate 'cat' into French")
    turn(engine, "thanks")
    assert len(engine.skills.store.all()) == 1


def test_weak_unused_skills_are_archived_but_pinned_ones_stay(engine: Engine):
    _, weak = keep_skill(engine)
    _, pinned = keep_skill_again(engine, "Translate 'good morning' into Spanish")
    engine.skills.store.pin(pinned.id, True)
    long_ago = time.time() - 40 * 86400
    engine.database.connection().execute(
        "UPDATE skills SET confidence = 0.2, created_at = ?", (long_ago,))
    assert engine.skills.prune(force=True) == 1
    assert engine.skills.store.require(weak.id).state == "archived"
    assert engine.skills.store.require(pinned.id).state == "active"
    assert [s.id for s in engine.skills.store.all()] == [pinned.id]
    # Archived, not deleted: listed with the archive, and never matched.
    assert {s.id for s in engine.skills.store.all(include_archived=True)} == {weak.id, pinned.id}
    engine.database.connection().execute("UPDATE skills SET confidence = 0.9")
    assert turn(engine, TASK).source == "model"


def keep_skill_again(engine: Engine, text: str) -> tuple[TurnResult, Skill]:
    first = turn(engine, text)
    turn(engine, "Thanks!")
    skill = engine.skills.store.by_source(first.reply_id)
    assert skill is not None
    return first, skill


def test_rename_pin_delete_and_undo(engine: Engine):
    _, skill = keep_skill(engine)
    store = engine.skills.store
    assert store.rename(skill.id, "  miles   to km ").name == "miles to km"
    with pytest.raises(InputError, match="cannot be empty"):
        store.rename(skill.id, "   ")
    assert store.pin(skill.id, True).pinned
    replay = turn(engine, TASK)
    deleted = store.delete(skill.id)
    assert store.get(skill.id) is None and store.use_of(replay.reply_id) is None
    assert turn(engine, TASK).source == "model"
    restored = store.restore(deleted)
    assert restored.id == skill.id and restored.name == "miles to km" and restored.pinned
    assert store.use_of(replay.reply_id) is not None
    with pytest.raises(InputError, match="no skill 999"):
        store.require(999)


def test_the_status_counts_skills_and_replays(engine: Engine):
    keep_skill(engine)
    turn(engine, TASK)
    status = build_status(engine)
    assert status["skills"] == {"count": 1, "archived": 0, "replays": 1}
    assert status["metrics"]["replayed_from_skills"] == 1


def test_the_terminal_chat_says_where_a_reply_came_from_and_asks_again(engine: Engine):
    import io

    from nexus_desktop.cli.chat import TerminalChat

    out, err = io.StringIO(), io.StringIO()
    chat = TerminalChat(engine, out, err)
    _, skill = keep_skill(engine)
    chat.handle(TASK, prefix="")
    assert f"skill {skill.id}" in err.getvalue() and "/again" in err.getvalue()
    chat.handle("/why", prefix="")
    assert "came from the skill library" in out.getvalue()
    chat.handle("Convert 9 miles to km", prefix="")
    chat.handle("/why", prefix="")
    assert f"Worked example: skill {skill.id}" in out.getvalue()
    chat.handle("/again", prefix="")
    last, asked = engine.session.history(1)[0], engine.session.history(3)[0]
    assert last.source == "model" and last.reply_to == asked.id
    assert asked.content == "Convert 9 miles to km"
    assert engine.skills.store.require(skill.id).failures == 1
