"""Hybrid retrieval on a real database with the real embedding model."""

from __future__ import annotations

from datetime import datetime

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.embed.indexer import index_pending
from nexus_desktop.embed.model import BUNDLED_NAME
from nexus_desktop.embed.shared import shared_embedding_model
from nexus_desktop.embed.vectors import VectorIndex
from nexus_desktop.memory import retrieval
from nexus_desktop.memory.retrieval import Retriever, keyword_query
from nexus_desktop.store.archive import archive_original
from nexus_desktop.store.connection import write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id

NOW = datetime(2026, 6, 17, 12, 0).timestamp()
DAY = 86400.0

CONVERSATION = [
    # (days before NOW, role, text)
    (120, "user", "My sister Clara is getting married in Porto next spring."),
    (119, "assistant", "How lovely! Porto is beautiful in spring."),
    (60, "user", "I made a mushroom risotto for dinner, it took forever to stir."),
    (60, "assistant", "Risotto rewards patience. Did you use arborio rice?"),
    (40, "user", "The dentist said I need a filling, appointment on the 3rd."),
    (30, "user", "I adopted a grey cat from the shelter and named her Pixel."),
    (30, "assistant", "Pixel is a great name for a cat!"),
    (9, "user", "Tonight I cooked a spicy lentil curry with coconut milk."),
    (8, "assistant", "Lentil curry is a great weeknight meal."),
    (2, "user", "Work was hectic, the quarterly report is due on Friday."),
    (1, "user", "I went running by the river before breakfast."),
]


@pytest.fixture
def database(db: Database) -> Database:
    return db


@pytest.fixture
def conversation(database: Database) -> dict[str, int]:
    """The conversation above, stored with its dates; text -> message id."""
    store = MessageStore(database)
    session = persistent_session_id(database)
    ids: dict[str, int] = {}
    previous_user: int | None = None
    for days, role, text in CONVERSATION:
        message = store.append(session, role, text,
                               reply_to=previous_user if role == "assistant" else None)
        ids[text] = message.id
        previous_user = message.id if role == "user" else previous_user
        with write_transaction(database.connection()) as connection:
            connection.execute("UPDATE messages SET created_at = ? WHERE id = ?",
                               (NOW - days * DAY, message.id))
    return ids


@pytest.fixture
def index(database: Database, conversation: dict[str, int]) -> VectorIndex:
    index = VectorIndex(database, BUNDLED_NAME)
    index.load()
    index_pending(database, shared_embedding_model(), index, 16)
    return index


@pytest.fixture
def retriever(database: Database, index: VectorIndex, settings: Settings) -> Retriever:
    model = shared_embedding_model()
    return Retriever(database, index, lambda text: model.encode([text])[0], settings)


def _texts(memories) -> list[str]:
    return [m.text for m in memories]


def test_keyword_query_matches_any_content_word_by_stem() -> None:
    assert keyword_query("What did I cook last week?") == '"cook"* OR "last"* OR "week"*'
    assert keyword_query('the "risotto" recipes') == '"risotto"* OR "recip"*'
    assert keyword_query("what is it?") is None


@pytest.mark.slow
def test_hybrid_finds_a_paraphrase_and_a_keyword(retriever: Retriever) -> None:
    paraphrase = retriever.search("Do I have any pets?", k=3, now=NOW)
    assert "I adopted a grey cat from the shelter and named her Pixel." in _texts(paraphrase)
    keyword = retriever.search("Where is Clara's wedding?", k=3, now=NOW)
    assert _texts(keyword)[0] == "My sister Clara is getting married in Porto next spring."


@pytest.mark.slow
def test_a_paraphrase_only_vectors_find_can_come_first(retriever: Retriever) -> None:
    # No word in common with any message: the meaning alone decides, and it is not
    # outweighed by how recent the other messages are.
    for question in ("Do I have any pets?", "Which animal lives with me?"):
        found = retriever.search(question, k=3, now=NOW, touch=False)
        assert found[0].text == "I adopted a grey cat from the shelter and named her Pixel."
        assert found[0].why.startswith("matched by vector;")


@pytest.mark.slow
def test_bm25_alone_misses_what_only_the_meaning_finds(retriever: Retriever) -> None:
    cat = "I adopted a grey cat from the shelter and named her Pixel."
    assert cat not in _texts(retriever.search("Do I have any pets?", k=3, mode="bm25", now=NOW))
    assert cat in _texts(retriever.search("Do I have any pets?", k=3, mode="vector", now=NOW))


@pytest.mark.slow
def test_a_date_in_the_question_favours_memories_from_then(retriever: Retriever) -> None:
    found = retriever.search("What did I cook last week?", k=2, now=NOW)
    assert found[0].text == "Tonight I cooked a spicy lentil curry with coconut milk."
    assert "from 'last week'" in found[0].why
    # Two months ago, the risotto is the answer instead.
    found = retriever.search("What did I cook two months ago?", k=2, now=NOW)
    assert found[0].text.startswith("I made a mushroom risotto")


@pytest.mark.slow
def test_a_date_for_one_part_of_a_question_does_not_bury_the_other(
        retriever: Retriever) -> None:
    # "last week" is about the cooking only; the wedding was mentioned months ago and is
    # still the best match for the other half.
    found = retriever.search("Where is Clara's wedding, and what did I cook last week?",
                             k=2, now=NOW, touch=False)
    assert set(_texts(found)) == {
        "Tonight I cooked a spicy lentil curry with coconut milk.",
        "My sister Clara is getting married in Porto next spring."}


@pytest.mark.slow
def test_the_question_is_embedded_once_per_search(database: Database, index: VectorIndex,
                                                  settings: Settings) -> None:
    model = shared_embedding_model()
    asked: list[str] = []

    def embed(text: str):
        asked.append(text)
        return model.encode([text])[0]

    retriever = Retriever(database, index, embed, settings)
    found = retriever.search("What did I cook last week?", k=2, now=NOW, touch=False)
    assert found[0].text == "Tonight I cooked a spicy lentil curry with coconut milk."
    assert len(asked) == 1
    assert "last week" not in asked[0]


def test_a_date_finds_keywords_from_then_when_ids_do_not_follow_times(
        database: Database, conversation: dict[str, int], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported history gets ids after today's messages; the search within the range
    # still finds it where the search over everything keeps only better matches.
    store = MessageStore(database)
    old = store.append(persistent_session_id(database), "user",
                       "After a long day in the garden with the whole family I cooked a "
                       "big pot of chilli for the neighbours and we ate outside.")
    with write_transaction(database.connection()) as connection:
        connection.execute("UPDATE messages SET created_at = ? WHERE id = ?",
                           (NOW - 400 * DAY, old.id))
    monkeypatch.setattr(retrieval, "CANDIDATES", 1)
    keywords_only = Retriever(database, None, None, settings)
    assert keywords_only.search("What did I cook?", k=1, mode="bm25", now=NOW,
                                touch=False)[0].id != old.id
    found = keywords_only.search("What did I cook in 2025?", k=1, now=NOW, touch=False)
    assert found[0].id == old.id
    assert "from 'in 2025'" in found[0].why


@pytest.mark.slow
def test_one_hop_brings_the_reply_to_a_found_message(retriever: Retriever,
                                                     conversation: dict[str, int]) -> None:
    found = retriever.search("Clara wedding Porto", k=4, mode="hybrid", now=NOW)
    reply = conversation["How lovely! Porto is beautiful in spring."]
    by_id = {m.id: m for m in found}
    assert reply in by_id
    question = conversation["My sister Clara is getting married in Porto next spring."]
    assert question in by_id


@pytest.mark.slow
def test_retrieval_counts_uses_unless_told_not_to(retriever: Retriever,
                                                  database: Database) -> None:
    connection = database.connection()
    found = retriever.search("risotto", k=1, now=NOW, touch=False)
    assert connection.execute("SELECT retrieval_count FROM messages WHERE id = ?",
                              (found[0].id,)).get == 0
    found = retriever.search("risotto", k=1, now=NOW)
    count, last = connection.execute(
        "SELECT retrieval_count, last_retrieved_at FROM messages WHERE id = ?",
        (found[0].id,)).fetchone()
    assert (count, last) == (1, NOW)


@pytest.mark.slow
def test_excluded_messages_are_not_returned(retriever: Retriever,
                                            conversation: dict[str, int]) -> None:
    risotto = conversation["I made a mushroom risotto for dinner, it took forever to stir."]
    found = retriever.search("risotto", k=5, now=NOW, exclude=[("message", risotto)])
    assert risotto not in [m.id for m in found]


def test_archived_originals_stay_findable_by_keyword(database: Database,
                                                     conversation: dict[str, int],
                                                     settings: Settings) -> None:
    message_id = conversation["Pixel is a great name for a cat!"]
    with write_transaction(database.connection()) as connection:
        archive_original(connection, message_id, "Pixel is a great name for a cat!", NOW)
        connection.execute("UPDATE messages SET content = '[summary] a name', "
                           "tier = 'compressed' WHERE id = ?", (message_id,))
    keywords_only = Retriever(database, None, None, settings)
    found = keywords_only.search("great name", k=3, mode="bm25", now=NOW)
    assert message_id in [m.id for m in found]


def test_without_vectors_hybrid_still_works_by_keyword(database: Database,
                                                       conversation: dict[str, int],
                                                       settings: Settings) -> None:
    keywords_only = Retriever(database, None, None, settings)
    found = keywords_only.search("dentist filling", k=2, now=NOW)
    assert found[0].text.startswith("The dentist said")


def test_an_unknown_mode_is_refused(database: Database, settings: Settings) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        Retriever(database, None, None, settings).search("x", mode="magic")
