"""FactStore on a real SQLite file: superseding, refreshing, editing, pinning, forgetting
and erasing, with everything derived from a fact (training examples, vectors, links)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import apsw
import pytest

from nexus_desktop.errors import FactError, FactNotFoundError
from nexus_desktop.memory.facts import FactCandidate, extract_facts
from nexus_desktop.store.database import Database
from nexus_desktop.store.facts import Fact, FactStore
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id


@pytest.fixture
def facts(db: Database) -> FactStore:
    return FactStore(db)


Say = Callable[[str], tuple[FactCandidate, int]]


@pytest.fixture
def said(db: Database) -> Say:
    """Commit a user message; return the one fact it states and the message's id."""
    messages = MessageStore(db)
    session = persistent_session_id(db)

    def say(text: str) -> tuple[FactCandidate, int]:
        message = messages.append(session, "user", text)
        [candidate] = extract_facts(text)
        return candidate, message.id
    return say


def rows(db: Database, sql: str, *bindings: object) -> list[tuple]:
    return [tuple(row) for row in db.connection().execute(sql, bindings).fetchall()]


def examples(db: Database, fact_id: int) -> list[tuple[str, str]]:
    return rows(db, "SELECT prompt, target FROM training_examples WHERE kind = 'fact_qa' "
                    "AND source_kind = 'fact' AND source_id = ? ORDER BY id", fact_id)


def add_vector(db: Database, fact_id: int) -> None:
    """A vector row as the index thread writes one."""
    db.connection().execute(
        "INSERT INTO embeddings(kind, item_id, model, vector, created_at) "
        "VALUES ('fact', ?, 'all-MiniLM-L6-v2', zeroblob(768), ?)", (fact_id, time.time()))


def vectors(db: Database, fact_id: int) -> int:
    return db.connection().execute(
        "SELECT count(*) FROM embeddings WHERE kind = 'fact' AND item_id = ?", (fact_id,)).get


def test_remember_stores_the_fact_its_source_link_and_training_examples(
        facts: FactStore, db: Database, said: Say):
    candidate, message_id = said("My favourite colour is teal.")
    fact = facts.remember(candidate, message_id)
    assert (fact.subject, fact.key, fact.value, fact.status) == (
        "user", "favorite color", "teal", "active")
    assert fact.text == "The user's favorite color is teal."
    assert fact.source_message_id == message_id and fact.extractor == "pattern"
    assert fact.confidence == candidate.confidence and not fact.pinned
    assert facts.get(fact.id) == fact and facts.active() == [fact]
    assert rows(db, "SELECT src_kind, src_id, relation, dst_kind, dst_id FROM links") == [
        ("fact", fact.id, "fact_source", "message", message_id)]
    pairs = examples(db, fact.id)
    assert ("What is my favorite color?", "Your favorite color is teal.") in pairs
    assert ("Do you remember my favorite color?", "Yes, your favorite color is teal.") in pairs
    assert len(pairs) >= 3 and all("teal" in target for _, target in pairs)


def test_a_new_value_supersedes_the_old_one_which_is_kept(
        facts: FactStore, db: Database, said: Say):
    blue = facts.remember(*said("my favorite color is blue"))
    facts.pin(blue.id)
    add_vector(db, blue.id)
    green = facts.remember(*said("actually my favorite color is green"))
    old = facts.get(blue.id)
    assert old is not None
    assert (old.status, old.superseded_by, old.value, old.pinned) == (
        "superseded", green.id, "blue", False)
    assert green.status == "active" and green.pinned  # the pin moves to the new value
    assert [f.value for f in facts.active()] == ["green"]
    assert [(f.value, f.status) for f in facts.all()] == [
        ("green", "active"), ("blue", "superseded")]
    assert examples(db, blue.id) == [] and vectors(db, blue.id) == 0
    assert examples(db, green.id) and all("green" in t for _, t in examples(db, green.id))
    # The old fact still leads to the message it came from.
    assert rows(db, "SELECT count(*) FROM links WHERE src_id = ?", blue.id) == [(1,)]


def test_never_two_active_facts_for_one_subject_and_key(facts: FactStore, db: Database, said: Say):
    for color in ("blue", "green", "red", "teal", "green"):
        facts.remember(*said(f"my favorite color is {color}"))
    assert rows(db, "SELECT count(*) FROM facts WHERE status = 'active' "
                    "AND subject = 'user' AND key = 'favorite color'") == [(1,)]
    chain = {f.id: f for f in facts.all()}
    active = next(f for f in chain.values() if f.status == "active")
    assert active.value == "green"
    # Each superseded fact points at its successor; the chain ends at the active fact.
    for fact in chain.values():
        if fact.status == "superseded":
            assert fact.superseded_by in chain and fact.superseded_by > fact.id
    # The database itself refuses a second active row.
    with pytest.raises(apsw.ConstraintError):
        db.connection().execute(
            "INSERT INTO facts(subject, key, value, text, confidence, extractor, created_at, "
            "updated_at) VALUES ('user', 'favorite color', 'x', 'x', 1, 'test', 0, 0)")


def test_the_same_value_again_refreshes_the_fact(facts: FactStore, db: Database, said: Say):
    first = facts.remember(*said("I think my favorite color is teal"))
    time.sleep(0.01)
    candidate, message_id = said("My favorite color is Teal!")
    again = facts.remember(candidate, message_id)
    assert again.id == first.id and again.value == "teal" and again.status == "active"
    assert again.updated_at > first.updated_at
    assert again.confidence == max(first.confidence, candidate.confidence) > first.confidence
    assert len(facts.all()) == 1
    assert len(examples(db, first.id)) == len(set(examples(db, first.id)))
    assert {r[0] for r in rows(db, "SELECT dst_id FROM links WHERE src_id = ?", first.id)} == {
        first.source_message_id, message_id}


def test_edit_rewrites_the_sentence_and_examples_and_keeps_an_audit(
        facts: FactStore, db: Database, said: Say):
    fact = facts.remember(*said("I live in Lyon"))
    add_vector(db, fact.id)
    edited = facts.edit(fact.id, "  Paris ")
    assert (edited.id, edited.value, edited.text) == (fact.id, "Paris", "The user lives in Paris.")
    assert edited.extractor == "user" and edited.confidence == 1.0
    assert edited.updated_at >= fact.updated_at
    assert ("Where do I live?", "You live in Paris.") in examples(db, fact.id)
    assert not any("Lyon" in t for _, t in examples(db, fact.id))
    assert vectors(db, fact.id) == 0  # embedded again by the index thread
    [(action, detail)] = rows(db, "SELECT action, detail FROM fact_audit WHERE fact_id = ?",
                              fact.id)
    assert action == "edit" and json.loads(detail) == {"from": "Lyon", "to": "Paris"}
    assert facts.edit(fact.id, "Paris") == edited  # no change, no audit
    assert len(rows(db, "SELECT * FROM fact_audit")) == 1
    assert [f for f, _ in facts.search("Paris", 5)] == [edited]
    assert facts.search("Lyon", 5) == []


def test_edit_and_pin_refuse_unknown_replaced_forgotten_and_empty(facts: FactStore, said: Say):
    blue = facts.remember(*said("my favorite color is blue"))
    green = facts.remember(*said("my favorite color is green"))
    with pytest.raises(FactNotFoundError, match="no fact with ID 999"):
        facts.edit(999, "x")
    with pytest.raises(FactNotFoundError, match="999"):
        facts.pin(999)
    with pytest.raises(FactNotFoundError, match="999"):
        facts.forget(999)
    with pytest.raises(FactError, match=f"replaced by fact {green.id}"):
        facts.edit(blue.id, "red")
    with pytest.raises(FactError, match="cannot be empty"):
        facts.edit(green.id, "   ")
    facts.forget(green.id)
    with pytest.raises(FactError, match="forgotten"):
        facts.pin(green.id)
    assert [f.value for f in facts.all() if f.id == blue.id] == ["blue"]


def test_pinned_facts_come_first_then_the_newest(facts: FactStore, db: Database, said: Say):
    ids = [facts.remember(*said(text)).id for text in (
        "I live in Lyon", "my dog is called Rex", "I'm a nurse", "I like jazz")]
    assert [f.id for f in facts.active()] == ids[::-1]
    facts.pin(ids[1])
    assert [f.id for f in facts.active()] == [ids[1], ids[3], ids[2], ids[0]]
    assert facts.pin(ids[1]).pinned  # pinning twice changes nothing
    facts.pin(ids[1], pinned=False)
    assert [f.id for f in facts.active()] == ids[::-1]
    assert rows(db, "SELECT fact_id, action FROM fact_audit ORDER BY id") == [
        (ids[1], "pin"), (ids[1], "unpin")]


def test_forget_takes_the_fact_out_of_everything_but_keeps_an_audit(
        facts: FactStore, db: Database, said: Say):
    keep = facts.remember(*said("I live in Lyon"))
    fact = facts.remember(*said("my dog is called Rex"))
    facts.pin(fact.id)
    add_vector(db, fact.id)
    facts.forget(fact.id)
    forgotten = facts.get(fact.id)
    assert forgotten is not None and forgotten.status == "forgotten" and not forgotten.pinned
    assert facts.active() == [keep]
    assert facts.search("Rex dog name", 10) == []
    assert examples(db, fact.id) == [] and vectors(db, fact.id) == 0
    assert rows(db, "SELECT count(*) FROM links WHERE src_kind = 'fact' AND src_id = ?",
                fact.id) == [(0,)]
    assert examples(db, keep.id)
    audit = rows(db, "SELECT action, detail FROM fact_audit WHERE fact_id = ? ORDER BY id",
                 fact.id)
    assert [a for a, _ in audit] == ["pin", "forget"]
    assert json.loads(audit[1][1]) == {
        "subject": "user's dog", "key": "name", "value": "Rex",
        "text": "The user's dog's name is Rex.", "status": "active"}
    facts.forget(fact.id)  # forgetting twice changes nothing
    assert len(rows(db, "SELECT * FROM fact_audit WHERE fact_id = ?", fact.id)) == 2


def test_a_forgotten_fact_is_not_revived_by_rereading_its_message(facts: FactStore, said: Say):
    candidate, message_id = said("my dog is called Rex")
    fact = facts.remember(candidate, message_id)
    facts.forget(fact.id)
    again = facts.remember(candidate, message_id)
    assert again.id == fact.id and again.status == "forgotten"
    assert facts.active() == []
    # Told again in a new message, it is remembered again.
    told = facts.remember(*said("My dog is called Rex."))
    assert told.id != fact.id and told.status == "active" and facts.active() == [told]


def text_everywhere(db: Database, needle: str) -> dict[str, int]:
    """How many rows of each table (FTS shadow tables included) contain ``needle``."""
    connection = db.connection()
    found: dict[str, int] = {}
    tables = [r[0] for r in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        try:
            table_rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()
        except apsw.Error:  # a contentless full-text table reads back nothing
            continue
        for row in table_rows:
            for value in row:
                data = value if isinstance(value, bytes) else str(value).encode()
                if needle.lower().encode() in data.lower():
                    found[table] = found.get(table, 0) + 1
    return found


def test_erase_leaves_no_trace_of_the_fact(facts: FactStore, db: Database):
    blue = facts.remember(FactCandidate("user", "favorite color", "cerulean",
                                        "The user's favorite color is cerulean.", 0.8), None)
    facts.edit(blue.id, "zaffre")
    facts.pin(blue.id)
    add_vector(db, blue.id)
    green = facts.remember(FactCandidate("user", "favorite color", "viridian",
                                         "The user's favorite color is viridian.", 0.8), None)
    for i in range(40):  # other facts, so the full-text index has several segments
        facts.remember(FactCandidate("user", f"thing {i}", f"value {i}", f"Thing {i}.", 0.5),
                       None)
    assert text_everywhere(db, "zaffre") and text_everywhere(db, "viridian")

    facts.forget(blue.id, erase=True)
    assert facts.get(blue.id) is None
    assert text_everywhere(db, "zaffre") == {}
    assert text_everywhere(db, "cerulean") == {}
    assert rows(db, "SELECT count(*) FROM fact_audit WHERE fact_id = ?", blue.id) == [(0,)]

    # Erasing the fact that replaced another clears the older one's pointer to it.
    facts.forget(green.id, erase=True)
    assert text_everywhere(db, "viridian") == {}
    assert all(f.superseded_by is None for f in facts.all())
    assert len(facts.active()) == 40
    assert db.quick_check() == []


def test_erase_keeps_the_users_own_message(facts: FactStore, db: Database, said: Say):
    candidate, message_id = said("My dog is called Zorblax.")
    fact = facts.remember(candidate, message_id)
    facts.forget(fact.id)
    facts.forget(fact.id, erase=True)  # a forgotten fact can still be erased
    assert set(text_everywhere(db, "zorblax")) <= {"messages", "messages_fts", "messages_fts_data"}
    assert rows(db, "SELECT content FROM messages WHERE id = ?", message_id) == [
        ("My dog is called Zorblax.",)]


def test_search_ranks_active_facts_by_bm25(facts: FactStore, said: Say):
    color = facts.remember(*said("my favorite color is teal"))
    home = facts.remember(*said("I live in Lyon"))
    dog = facts.remember(*said("my dog is called Rex"))
    facts.remember(*said("I like jazz"))

    def found(text: str) -> list[Fact]:
        return [fact for fact, _ in facts.search(text, 10)]

    assert found("what's my favourite colour?")[:1] == [color]
    assert found("where do I live?")[:1] == [home]
    assert found("what is my dog's name")[:1] == [dog]
    hits = facts.search("favorite color dog", 10)
    assert {f.id for f, _ in hits[:2]} == {color.id, dog.id}
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert found("zebra") == [] and found("") == [] and found("what is my") == []
    assert found('AND OR NOT * ( " zq:') == []
    assert len(facts.search("the user", 2)) <= 2
    facts.remember(*said("my favorite color is green"))
    assert [f.value for f in found("favorite color")] == ["green"]


def test_touch_counts_retrievals(facts: FactStore, said: Say):
    a = facts.remember(*said("I live in Lyon"))
    b = facts.remember(*said("my dog is called Rex"))
    before = time.time()
    facts.touch([a.id, a.id, b.id])
    facts.touch([a.id])
    facts.touch([])
    got_a, got_b = facts.get(a.id), facts.get(b.id)
    assert got_a is not None and got_b is not None
    assert (got_a.retrieval_count, got_b.retrieval_count) == (2, 1)
    assert got_a.last_retrieved_at is not None and got_a.last_retrieved_at >= before
    assert got_a.updated_at == a.updated_at  # being used is not being changed
