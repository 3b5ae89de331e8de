"""Learning proved with the real bundled model: facts told in conversation are answered
from the adapter alone, a killed learner comes back on its last good version, and a bad
round is rolled back by the canary guard."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine, TurnResult
from nexus_desktop.learning.learner import Learner, adapter_root
from nexus_desktop.llm.loader import load_chat_model
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.facts import FactStore

pytestmark = [pytest.mark.bundled_model, pytest.mark.slow]

MODEL_NAME = "SmolLM2-135M-Instruct"
FACTS = [
    ("My favorite color is teal.", "What is my favorite color?", "teal"),
    ("My name is Mira.", "What is my name?", "Mira"),
    ("My sister's name is Ola.", "What is my sister's name?", "Ola"),
    ("I am from Tromsø.", "Where am I from?", "Tromsø"),
    ("My favorite food is pierogi.", "What is my favorite food?", "pierogi"),
    ("My dog's name is Biscuit.", "What is my dog's name?", "Biscuit"),
    ("My birthday is March 3.", "When is my birthday?", "March 3"),
    ("My favorite band is Radiohead.", "What is my favorite band?", "Radiohead"),
    ("My favorite book is Dune.", "What is my favorite book?", "Dune"),
    ("My favorite city is Lisbon.", "What is my favorite city?", "Lisbon"),
]


def nexus(*args: str, stdin: str | None = None, timeout: float = 900
          ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "nexus_desktop", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return done


def answers_from_weights(paths: AppPaths, settings: Settings) -> list[str]:
    """Each fact question answered with ``--context none``: the model and adapter alone."""
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        replies = []
        for _, question, _ in FACTS:
            result = next(e for e in engine.turn(question, context="none")
                          if isinstance(e, TurnResult))
            assert result.source == "model"
            replies.append(result.reply)
        return replies
    finally:
        engine.close()


def correct(replies: list[str]) -> int:
    return sum(value.lower() in reply.lower()
               for reply, (_, _, value) in zip(replies, FACTS, strict=True))


@pytest.mark.timeout(1500)  # learning stops when up to date: about 150 s of work here
def test_facts_told_in_conversation_are_answered_from_the_adapter_alone(
        bundled_home: AppPaths, settings: Settings) -> None:
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", 40)
    # One round that ends when everything is learned (about 150 s of work), checked once.
    # With five-minute rounds a busy machine split it, and a second round the canary
    # undid made learning run its whole 600 s again.
    settings.set("learning.checkpoint_minutes", 60.0)
    # Whole steps of 8 examples in a slice. Slices sized to a second make a step's
    # micro-batches, and so the order examples are drawn in, follow the machine's speed;
    # whole steps depend on it less (23 to 27 steps, 260 to 300 s of learning on this
    # test's facts).
    settings.set("learning.slice_seconds", 60.0)
    nexus("chat", stdin="".join(statement + "\n" for statement, _, _ in FACTS))

    before = answers_from_weights(bundled_home, settings)
    assert correct(before) <= 1, before

    # No CPU limit: this proves learning, the budget is proved in test_governor_proof.py.
    metrics = json.loads(nexus("learn", "--seconds", "600", "--cpu-budget", "100",
                               "--json").stdout)

    assert (metrics["adapter_version"] or 0) >= 1, metrics
    probes = stored_kinds(bundled_home)
    assert probes == {"fact_qa": 29, "exchange": 10}, probes  # the probes teach nothing
    assert metrics["canary_loss"] < metrics["canary_reference"] * 1.05, metrics
    after = answers_from_weights(bundled_home, settings)
    assert correct(after) >= 8, after
    # The command line says the same as the engine.
    asked = json.loads(nexus("ask", "--json", "--context", "none", FACTS[0][1]).stdout)
    assert asked["source"] == "model" and FACTS[0][2] in asked["reply"]


def stored_kinds(paths: AppPaths) -> dict[str, int]:
    database = Database(paths.database, paths.backups_dir)
    try:
        return dict(database.connection().execute(
            "SELECT kind, count(*) FROM training_examples GROUP BY kind"))
    finally:
        database.close()


def tell_facts(paths: AppPaths, settings: Settings, count: int) -> None:
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        store = FactStore(database)
        for statement, _, _ in FACTS[:count]:
            for candidate in extract_facts(statement):
                store.remember(candidate, None, "pattern")
    finally:
        database.close()


def wait_for(folder: Path, name: str, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not (folder / name).exists():
        assert process.poll() is None, "learning ended before it was killed"
        assert time.monotonic() < deadline, f"{name} never appeared"
        time.sleep(0.2)


@pytest.mark.timeout(1500)  # slow on a busy machine; quick otherwise
def test_killed_while_learning_the_next_start_loads_the_last_good_version(
        bundled_home: AppPaths, settings: Settings) -> None:
    settings.set("learning.checkpoint_minutes", 0.1)
    # Nothing counts as learned enough, so learning goes on until it is killed.
    settings.set("learning.surprise_threshold", 0.0)
    tell_facts(bundled_home, settings, 3)
    root = adapter_root(bundled_home.adapters_dir, MODEL_NAME)
    learning = subprocess.Popen(
        [sys.executable, "-m", "nexus_desktop", "learn", "--seconds", "600",
         "--cpu-budget", "100"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(root, "v000001", learning, 900)
        time.sleep(3)  # into the next round: learning, or saving version 2
    finally:
        learning.send_signal(signal.SIGKILL)
        learning.communicate()

    intact = sorted(p.name for p in root.glob("v??????") if (p / "manifest.json").exists())
    newest = int(intact[-1][1:])
    status = nexus("learn", "--seconds", "0", "--json")
    assert json.loads(status.stdout)["adapter_version"] == newest
    assert f"adapter version {newest})" in status.stderr
    assert not list(root.glob(".tmp-*"))  # a half-written save was cleared away


def test_a_round_with_an_absurd_learning_rate_is_rolled_back(
        bundled_home: AppPaths, settings: Settings) -> None:
    settings.set("learning.learning_rate", 10.0)
    settings.set("learning.anchor_weight", 0.0)
    tell_facts(bundled_home, settings, 3)
    database = Database(bundled_home.database, bundled_home.backups_dir)
    database.open()
    try:
        model, _ = load_chat_model(settings, bundled_home)
        learner = Learner(database, settings, model, bundled_home.adapters_dir)
        learner.open()
        left = iter(range(40))
        # Until the guard acts: at a diverged loss during the round, else at its end.
        list(learner.run(1e9, may_continue=lambda: (learner.metrics.rollbacks == 0
                                                    and next(left, None) is not None)))
        assert learner.metrics.steps >= 1
        list(learner.end_round())

        assert learner.metrics.rollbacks == 1 and learner.metrics.adapter_version is None
        kind, detail = learner.examples.events()[0][1:]
        assert kind == "rolled_back"
        assert detail["canary_loss"] == "nan" or (
            detail["canary_loss"] > detail["canary_reference"] * 1.05)
        # Back to the model as it was: no version was good yet, so no adapter effect.
        assert all(torch.count_nonzero(p) == 0
                   for name, p in learner.adapter.parameters.items() if "lora_B" in name)
        assert learner.checkpoints.versions() == []
        assert detail["next_learning_rate"] == 5.0
    finally:
        database.close()
