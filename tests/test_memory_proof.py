"""The promise of memory, proved with the real bundled models in real processes: tell it
once, and it knows after a restart, after hundreds of turns and a compaction, and after
the user corrects it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.connection import write_transaction
from nexus_desktop.store.database import Database

pytestmark = [pytest.mark.bundled_model, pytest.mark.slow]

DAY = 86400.0
QUESTION = "what's my favorite color?"
UNRELATED = [
    ("Can you suggest a quick breakfast with oats?", "Overnight oats with milk and berries."),
    ("How long should I boil an egg?", "About nine minutes for a hard-boiled egg."),
    ("What is a good stretch for the lower back?", "Try the child's pose for a minute."),
    ("Recommend a board game for four people.", "Ticket to Ride is easy to learn."),
    ("How do I keep basil alive indoors?", "Give it sun and water when the soil is dry."),
]


def nexus(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "nexus_desktop", *args],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done


def ask(text: str) -> str:
    """The reply to a question about the fact, which memory answers (not the model)."""
    result = json.loads(nexus("ask", "--json", text).stdout)
    assert result["source"] == "memory", result
    return result["reply"]


def add_unrelated_turns(paths: AppPaths, turns: int) -> None:
    """``turns`` exchanges over the last 60 days, after the fact was told 90 days ago."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        now = time.time()
        with write_transaction(database.connection()) as connection:
            connection.execute("UPDATE messages SET created_at = ?, completed_at = ?",
                               (now - 90 * DAY, now - 90 * DAY))
            session = connection.execute("SELECT id FROM sessions").get
            for i in range(turns):
                at = now - 60 * DAY + i * (59 * DAY / turns)
                question, answer = UNRELATED[i % len(UNRELATED)]
                asked = connection.execute(
                    "INSERT INTO messages(session_id, role, content, created_at, completed_at) "
                    "VALUES (?, 'user', ?, ?, ?) RETURNING id", (session, question, at, at)).get
                connection.execute(
                    "INSERT INTO messages(session_id, role, content, source, reply_to, "
                    "created_at, completed_at) VALUES (?, 'assistant', ?, 'model', ?, ?, ?)",
                    (session, answer, asked, at + 1, at + 1))
    finally:
        database.close()


def test_a_fact_survives_restarts_long_history_compaction_and_correction(
        bundled_home: AppPaths, settings: Settings) -> None:
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", 48)

    told = nexus("ask", "my favorite color is blue")
    assert "I'll remember: The user's favorite color is blue." in told.stderr
    assert ask(QUESTION) == "Your favorite color is blue."

    add_unrelated_turns(bundled_home, 200)
    compacted = nexus("memory", "compact").stdout
    database = Database(bundled_home.database, bundled_home.backups_dir)
    try:
        tiers = dict(database.connection().execute(
            "SELECT tier, count(*) FROM messages GROUP BY tier").fetchall())
    finally:
        database.close()
    # The turn that told the colour is no longer among the recent ones kept in full.
    assert tiers.get("archived", 0) + tiers.get("compressed", 0) > 100, compacted
    assert ask(QUESTION) == "Your favorite color is blue."

    nexus("ask", "actually my favorite color is green")
    assert ask("What is my favourite colour?") == "Your favorite color is green."
    facts = json.loads(nexus("facts", "list", "--all", "--json").stdout)
    colours = {f["value"]: f["status"] for f in facts if f["key"] == "favorite color"}
    assert colours == {"blue": "superseded", "green": "active"}
