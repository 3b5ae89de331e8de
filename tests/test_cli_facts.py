"""`nexus-desktop facts list | forget | edit | pin | unpin` run as real processes. None of
them loads a model: the settings point the chat model at a folder that does not exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.facts import FactStore
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id


def nexus(*args: str, stdin: str | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nexus_desktop", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def home(paths: AppPaths, settings: Settings, tmp_path: Path) -> AppPaths:
    settings.set("model.source", str(tmp_path / "no-model-here"))
    return paths


def tell(paths: AppPaths, *texts: str) -> list[int]:
    """Store the facts of each text as the chat does (message first); their ids."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        messages, facts = MessageStore(database), FactStore(database)
        session = persistent_session_id(database)
        ids = []
        for text in texts:
            message = messages.append(session, "user", text)
            ids += [facts.remember(c, message.id).id for c in extract_facts(text)]
        return ids
    finally:
        database.close()


def query(paths: AppPaths, sql: str) -> list[tuple]:
    database = Database(paths.database, paths.backups_dir)
    try:
        return [tuple(row) for row in database.connection().execute(sql).fetchall()]
    finally:
        database.close()


def listed(*flags: str) -> list[dict]:
    result = nexus("facts", "list", "--json", *flags)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_with_no_facts_says_how_to_add_one(home: AppPaths):
    result = nexus("facts", "list")
    assert result.returncode == 0, result.stderr
    assert "No facts remembered yet" in result.stdout and "Traceback" not in result.stderr
    assert listed() == []


def test_list_shows_facts_in_use_pinned_first_and_all_with_history(home: AppPaths):
    blue, home_city, green = tell(home, "My favorite color is blue.", "I live in Lyon.",
                                  "Actually, my favorite color is green.")
    assert nexus("facts", "pin", str(home_city)).returncode == 0
    text = nexus("facts", "list").stdout
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].split() == [str(home_city), "pinned", "The", "user", "lives", "in", "Lyon."]
    assert lines[1].split()[0] == str(green) and lines[1].endswith(
        "The user's favorite color is green.")
    assert "blue" not in text and "--all" in text

    everything = nexus("facts", "list", "--all").stdout
    assert f"superseded  The user's favorite color is blue.  (replaced by {green})" in everything

    facts = listed()
    assert [f["id"] for f in facts] == [home_city, green]
    assert set(facts[0]) == {"id", "subject", "key", "value", "text", "status", "pinned",
                             "confidence", "source_message_id", "superseded_by",
                             "created_at", "updated_at"}
    assert facts[0] | {"created_at": None, "updated_at": None, "confidence": None} == {
        "id": home_city, "subject": "user", "key": "home city", "value": "Lyon",
        "text": "The user lives in Lyon.", "status": "active", "pinned": True,
        "confidence": None, "source_message_id": 2, "superseded_by": None,
        "created_at": None, "updated_at": None}
    assert 0 < facts[0]["confidence"] <= 1 and facts[0]["created_at"][:2] == "20"
    assert [(f["id"], f["status"], f["superseded_by"]) for f in listed("--all")] == [
        (home_city, "active", None), (green, "active", None), (blue, "superseded", green)]


def test_edit_changes_the_value_and_everything_made_from_it(home: AppPaths):
    [fact] = tell(home, "I live in Lyon.")
    result = nexus("facts", "edit", str(fact), "Paris")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Fact {fact} now says: The user lives in Paris.\n"
    assert [(f["value"], f["text"]) for f in listed()] == [("Paris", "The user lives in Paris.")]
    assert query(home, "SELECT action FROM fact_audit") == [("edit",)]
    targets = {t for (t,) in query(home, "SELECT target FROM training_examples")}
    assert targets and all("Paris" in t for t in targets)
    again = nexus("facts", "edit", str(fact), "Paris")
    assert again.returncode == 0 and "already says" in again.stdout


def test_pin_and_unpin(home: AppPaths):
    [fact] = tell(home, "My dog is called Rex.")
    assert "is pinned" in nexus("facts", "pin", str(fact)).stdout
    assert listed()[0]["pinned"] is True
    assert "no longer pinned" in nexus("facts", "unpin", str(fact)).stdout
    assert listed()[0]["pinned"] is False


def test_forget_keeps_an_audit_and_erase_keeps_nothing(home: AppPaths):
    rex, lyon = tell(home, "My dog is called Rex.", "I live in Lyon.")
    result = nexus("facts", "forget", str(rex))
    assert result.returncode == 0, result.stderr
    assert f"Forgot fact {rex}: The user's dog's name is Rex." in result.stdout
    assert [f["id"] for f in listed()] == [lyon]
    assert [(f["id"], f["status"]) for f in listed("--all")] == [
        (lyon, "active"), (rex, "forgotten")]
    assert query(home, f"SELECT count(*) FROM training_examples WHERE source_id = {rex}") == [(0,)]
    assert query(home, f"SELECT action FROM fact_audit WHERE fact_id = {rex}") == [("forget",)]
    assert "already forgotten" in nexus("facts", "forget", str(rex)).stdout

    erased = nexus("facts", "forget", str(rex), "--erase")
    assert erased.returncode == 0, erased.stderr
    assert "Erased fact" in erased.stdout
    assert [f["id"] for f in listed("--all")] == [lyon]
    assert query(home, f"SELECT count(*) FROM fact_audit WHERE fact_id = {rex}") == [(0,)]
    assert query(home, "SELECT count(*) FROM facts WHERE value = 'Rex'") == [(0,)]


@pytest.mark.parametrize("action", [("forget",), ("forget", "--erase"), ("edit", "42", "x"),
                                    ("pin",), ("unpin",)])
def test_an_unknown_id_is_named_with_a_pointer_to_the_list(home: AppPaths, action: tuple):
    tell(home, "I live in Lyon.")
    args = ["facts", action[0], *(["42"] if action[0] != "edit" else []), *action[1:]]
    result = nexus(*args)
    assert result.returncode == 1
    assert "There is no fact with ID 42." in result.stderr
    assert "nexus-desktop facts list" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_changing_a_replaced_fact_is_refused_clearly(home: AppPaths):
    blue, green = tell(home, "My favorite color is blue.", "My favorite color is green.")
    result = nexus("facts", "edit", str(blue), "red")
    assert result.returncode == 1
    assert f"Fact {blue} was replaced by fact {green}" in result.stderr
    assert "Traceback" not in result.stderr
    assert [f["value"] for f in listed()] == ["green"]


def test_a_bad_id_is_a_usage_error(home: AppPaths):
    result = nexus("facts", "forget", "teal")
    assert result.returncode == 2 and "invalid int value" in result.stderr


@pytest.mark.slow
def test_a_fact_said_in_the_chat_is_listed_and_forgotten(paths: AppPaths,
                                                         tiny_settings: Settings):
    said = nexus("chat", stdin="My favourite colour is teal.\n", timeout=300)
    assert said.returncode == 0, said.stderr
    [fact] = listed()
    assert (fact["key"], fact["value"], fact["text"]) == (
        "favorite color", "teal", "The user's favorite color is teal.")
    [(content,)] = query(paths, f"SELECT content FROM messages WHERE id = "
                                f"{fact['source_message_id']}")
    assert content == "My favourite colour is teal."
    assert nexus("facts", "forget", str(fact["id"])).returncode == 0
    assert listed() == []
