"""The learner's mechanics on the tiny model: the two-tick gate, replay, forgetting, the
EMA teacher, slicing, checkpoints and the canary guard's rollback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import torch

from nexus_desktop.config import Settings
from nexus_desktop.learning.canary import CanaryItem
from nexus_desktop.learning.checkpoints import ADAPTER_FILE
from nexus_desktop.learning.learner import Learner, adapter_root
from nexus_desktop.learning.metrics import LearningMetrics
from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.llm.loader import load_chat_model
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.facts import FactStore

# A small canary and anchor set keep each round's check fast on the tiny model.
CANARY = (CanaryItem("knowledge", "What is the capital of France?",
                     "The capital of France is Paris."),
          CanaryItem("instruction", "Reply with only the word yes.", "yes"))
ANCHORS = (CanaryItem("knowledge", "How many continents are there?",
                      "There are seven continents."),)
STATEMENTS = ("My favorite color is teal.", "My sister's name is Ola.")


@pytest.fixture
def learn_settings(tiny_settings: Settings) -> Settings:
    tiny_settings.set("learning.learning_rate", 0.01)
    tiny_settings.set("learning.batch_size", 2)
    tiny_settings.set("learning.surprise_threshold", 0.0)
    # Rounds end where a test ends them, never on the clock of a busy machine.
    tiny_settings.set("learning.checkpoint_minutes", 1440.0)
    return tiny_settings


@pytest.fixture
def model(learn_settings: Settings, paths: AppPaths) -> ChatModel:
    chat_model, _ = load_chat_model(learn_settings, paths)
    return chat_model


def make_learner(db: Database, settings: Settings, model: ChatModel,
                 paths: AppPaths) -> Learner:
    learner = Learner(db, settings, model, paths.adapters_dir, canary=CANARY, anchors=ANCHORS)
    learner.open()
    return learner


@pytest.fixture
def learner(db: Database, learn_settings: Settings, model: ChatModel,
            paths: AppPaths) -> Iterator[Learner]:
    yield make_learner(db, learn_settings, model, paths)


def tell(db: Database, *statements: str) -> list[int]:
    facts = FactStore(db)
    return [facts.remember(candidate, None, "pattern").id
            for statement in statements for candidate in extract_facts(statement)]


def states(db: Database) -> dict[str, int]:
    return dict(db.connection().execute(
        "SELECT state, count(*) FROM training_examples GROUP BY state"))


def mean_loss(learner: Learner) -> float:
    from nexus_desktop.learning.losses import answer_logits, per_example_loss

    rows = db_examples(learner)
    encoded = [learner.encoder.encode(i, prompt, target) for i, prompt, target in rows]
    batch = learner.encoder.collate(encoded, learner.adapter.device)
    with torch.no_grad():
        return float(per_example_loss(answer_logits(learner.chat_model.model, batch)).mean())


def db_examples(learner: Learner) -> list[tuple[int, str, str]]:
    return list(learner.examples.database.connection().execute(
        "SELECT id, prompt, target FROM training_examples ORDER BY id"))


def drain(learner: Learner, slices: int = 200) -> list:
    """Learn for at most ``slices`` slices (counted, not timed: the machine may be busy)."""
    left = iter(range(slices))
    return list(learner.run(1e9, may_continue=lambda: next(left, None) is not None))


def test_known_examples_are_skipped_and_surprising_ones_replayed(
        db: Database, learn_settings: Settings, model: ChatModel, paths: AppPaths) -> None:
    tell(db, *STATEMENTS)
    learn_settings.set("learning.surprise_threshold", 20.0)
    learner = make_learner(db, learn_settings, model, paths)
    drain(learner)
    # The tiny model's loss is about ln(vocabulary) = 10.8, under 20: all known.
    assert states(db) == {"known": 6}
    assert learner.metrics.examples_known == 6 and learner.metrics.steps == 0
    assert len(learner.replay) == 0 and learner.metrics.state == "up to date"

    tell(db, "My dog's name is Biscuit.")
    learn_settings.set("learning.surprise_threshold", 1.0)
    drain(learner, 1)  # one slice: the new examples' surprise is measured
    assert states(db) == {"known": 6, "replay": 3}
    surprise = [row[0] for row in db.connection().execute(
        "SELECT surprise FROM training_examples WHERE state = 'replay'")]
    assert all(value > 1.0 for value in surprise)
    assert len(learner.replay) == 3


def test_learning_lowers_the_loss_and_saves_a_version_that_loads_again(
        db: Database, learner: Learner, learn_settings: Settings, paths: AppPaths) -> None:
    tell(db, *STATEMENTS)
    before = mean_loss(learner)
    drain(learner, 40)
    assert learner.metrics.steps >= 3 and learner.metrics.tokens_learned > 0
    assert mean_loss(learner) < before - 0.5
    list(learner.end_round())
    assert learner.metrics.adapter_version == 1
    trained = db.connection().execute(
        "SELECT min(times_trained), max(priority) FROM training_examples").get
    assert trained[0] >= 1 and trained[1] < 20
    saved = learner.adapter.state()

    fresh_model, _ = load_chat_model(learn_settings, paths)
    again = make_learner(db, learn_settings, fresh_model, paths)
    assert again.metrics.adapter_version == 1
    assert again.metrics.steps == learner.metrics.steps  # lifetime totals carry over
    assert all(torch.equal(saved[name], tensor) for name, tensor in again.adapter.state().items())
    assert len(again.replay) == 6


def test_ema_teacher_follows_the_adapter_slowly(learner: Learner, db: Database,
                                                learn_settings: Settings) -> None:
    tell(db, *STATEMENTS)
    learn_settings.set("learning.ema_decay", 0.9)
    drain(learner, 6)
    assert learner.metrics.steps >= 1
    moved = [name for name in learner.adapter.parameters if "lora_B" in name]
    learned = learner.adapter.state()
    for name in moved:
        ema, now = learner.adapter.ema[name], learned[name]
        # Starts at zero (B is zero at first): the EMA is a fraction of the way there.
        assert ema.abs().sum() < now.abs().sum()
    assert any(learner.adapter.ema[name].abs().sum() > 0 for name in moved)


def test_forgotten_fact_leaves_the_replay_buffer(learner: Learner, db: Database) -> None:
    color, _ = tell(db, *STATEMENTS)
    drain(learner, 1)
    drain(learner, 1)
    assert len(learner.replay) == 6
    FactStore(db).forget(color)
    drain(learner, 6)
    remaining = learner.examples.get(learner.replay.ids())
    assert len(learner.replay) == 3 and {e.target for e in remaining.values()} == {
        "Your sister's name is Ola.", "Yes, your sister's name is Ola."}


def test_learning_stops_at_the_next_slice_when_asked(learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    answers = iter([True, True, False])
    slices = list(learner.run(600.0, may_continue=lambda: next(answers)))
    assert len(slices) == 2
    assert learner.metrics.state == "idle"


def test_round_within_the_margin_is_committed_and_logged(learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    progress = list(learner.end_round())
    # Every step of the check is a place to stop, and reports the metrics.
    assert len(progress) >= 3 and all(isinstance(m, LearningMetrics) for m in progress)
    events = learner.examples.events()
    assert events[0][1] == "checkpoint" and events[0][2]["version"] == 1
    assert learner.metrics.canary_loss is not None
    assert learner.metrics.canary_loss <= learner.metrics.canary_reference * 1.05


def test_diverged_weights_end_the_round_and_are_rolled_back(
        learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    list(learner.end_round())
    good = learner.adapter.state()
    committed = learner.metrics.canary_loss
    assert learner.metrics.adapter_version == 1

    # What a far too large step leaves behind: weights that are no longer numbers.
    name = next(n for n in learner.adapter.parameters if "lora_B" in n)
    with torch.no_grad():
        learner.adapter.parameters[name].fill_(float("nan"))
    tell(db, "My dog's name is Biscuit.")
    drain(learner, 3)  # surprise is measured first: it finds the divergence

    assert learner.metrics.rollbacks == 1 and learner.metrics.adapter_version == 1
    assert all(torch.equal(good[n], t) for n, t in learner.adapter.state().items())
    kind, detail = learner.examples.events()[0][1:]
    assert kind == "rolled_back" and detail["back_to_version"] == 1
    assert detail["canary_loss"] == "nan"
    assert detail["next_learning_rate"] == pytest.approx(0.005)
    assert [v.version for v in learner.checkpoints.versions()] == [1]
    # The canary loss shown is the version's in use, not the diverged one.
    assert learner.metrics.canary_loss == committed


def test_a_rolled_back_round_is_measured_again_and_learned_anew(
        learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    assert states(db) == {"replay": 6}
    # A reference no round can meet: the guard rolls this one back.
    learner.metrics.canary_reference = 1e-6
    list(learner.end_round())
    assert learner.metrics.rollbacks == 1 and learner.metrics.adapter_version is None
    assert learner.metrics.canary_loss is None  # no adapter in use: nothing was checked
    assert learner.examples.events()[0][2]["measured_again"] == 6
    # The losses were measured with the weights thrown away: measured again.
    assert states(db) == {"new": 6} and len(learner.replay) == 0
    drain(learner, 3)
    assert states(db) == {"replay": 6} and len(learner.replay) == 6
    assert learner.round_open


def test_a_check_that_cannot_end_by_the_quit_deadline_keeps_nothing_unchecked(
        learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    assert learner.round_open and states(db) == {"replay": 6}
    assert learner.finish(deadline=time.monotonic() - 1) is False
    # No version was saved without its check, and the round's examples are learned again.
    assert learner.metrics.adapter_version is None and learner.checkpoints.versions() == []
    assert states(db) == {"new": 6}
    assert learner.finish() is True and learner.metrics.adapter_version == 1


def test_at_quit_the_check_starts_no_item_that_cannot_end_by_the_deadline(
        learner: Learner, db: Database) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    list(learner.end_round())  # the reference and a first version: items were timed
    assert learner.canary.item_seconds > 0
    tell(db, "My brother's name is Piotr.")
    drain(learner, 4)
    assert learner.round_open
    scored: list[int] = []
    original = learner.canary.score

    def counted(model, may_continue, chunk=None):  # type: ignore[no-untyped-def]
        scored.append(chunk or learner.canary.chunk)
        return original(model, may_continue, chunk)
    learner.canary.score = counted  # type: ignore[method-assign]
    # Less time left than one item takes: nothing is begun, and Quit is not held up.
    learner.canary.item_seconds = 60.0
    started = time.monotonic()
    assert learner.finish(deadline=time.monotonic() + 30.0) is False
    assert time.monotonic() - started < 10.0 and scored == [1]
    # With time enough, one item at a time, the round is checked and saved.
    learner.canary.item_seconds = 0.0
    assert learner.finish(deadline=time.monotonic() + 600.0) is True
    assert learner.metrics.adapter_version == 2 and scored == [1, 1]


def test_damaged_newest_version_falls_back_to_the_one_before(
        db: Database, learner: Learner, learn_settings: Settings, paths: AppPaths) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 4)
    list(learner.end_round())
    first = learner.adapter.state()
    drain(learner, 4)
    list(learner.end_round())
    assert learner.metrics.adapter_version == 2
    newest = adapter_root(paths.adapters_dir, learner.chat_model.info.name) / "v000002"
    weights = newest / ADAPTER_FILE
    weights.write_bytes(weights.read_bytes()[:100])

    fresh_model, _ = load_chat_model(learn_settings, paths)
    again = make_learner(db, learn_settings, fresh_model, paths)
    assert again.metrics.adapter_version == 1
    assert again.metrics.skipped_versions and "v2" in again.metrics.skipped_versions[0]
    assert all(torch.equal(first[n], t) for n, t in again.adapter.state().items())
    assert json.loads((newest.parent / "v000002.damaged" / "manifest.json").read_text())


def test_canary_reference_is_measured_once_per_model(learner: Learner, db: Database,
                                                     paths: AppPaths) -> None:
    tell(db, *STATEMENTS)
    drain(learner, 5)
    list(learner.end_round())
    reference = learner.metrics.canary_reference
    saved = json.loads((learner.root / "canary-reference.json").read_text())
    assert saved["loss"] == reference and saved["model"] == learner.chat_model.info.name
