"""The indexer on a real SQLite file with the real embedding model: what is pending, what
index_pending stores and finds, stale fact vectors, and the background worker."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from nexus_desktop.embed.indexer import IndexWorker, index_pending, pending_items
from nexus_desktop.embed.model import EmbeddingModel
from nexus_desktop.embed.vectors import VectorIndex
from nexus_desktop.errors import ModelLoadError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.archive import archive_original
from nexus_desktop.store.connection import write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return EmbeddingModel.load()


@pytest.fixture
def messages(db: Database) -> MessageStore:
    return MessageStore(db)


@pytest.fixture
def sid(db: Database) -> int:
    return persistent_session_id(db)


@pytest.fixture
def index(db: Database, model: EmbeddingModel) -> VectorIndex:
    return VectorIndex(db, model.name)


def add_fact(db: Database, key: str, text: str, status: str = "active") -> int:
    now = time.time()
    return db.connection().execute(
        "INSERT INTO facts(subject, key, value, text, status, confidence, extractor, "
        "created_at, updated_at) VALUES ('user', ?, ?, ?, ?, 0.9, 'pattern', ?, ?) RETURNING id",
        (key, text, text, status, now, now),
    ).get


def add_summary(db: Database, sid: int, text: str) -> int:
    return db.connection().execute(
        "INSERT INTO summaries(session_id, first_message_id, last_message_id, first_at, "
        "last_at, text, created_at) VALUES (?, 1, 2, 0, 1, ?, 0) RETURNING id",
        (sid, text),
    ).get


def test_pending_items_chooses_what_needs_a_vector(db: Database, messages: MessageStore,
                                                   sid: int, model: EmbeddingModel,
                                                   index: VectorIndex):
    kept = [messages.append(sid, "user", "I moved to Lyon").id,
            messages.append(sid, "assistant", "half a reply", status="cancelled").id,
            messages.append(sid, "assistant", "cut by a crash", status="interrupted").id]
    messages.append(sid, "assistant", "still writing", status="streaming")
    messages.append(sid, "assistant", "", status="failed", error="out of memory")
    messages.append(sid, "assistant", "partial text", status="failed")
    messages.append(sid, "user", "   \n\t")
    fact = add_fact(db, "city", "The user lives in Lyon")
    add_fact(db, "pet", "The user has a cat", status="superseded")
    summary = add_summary(db, sid, "The user talked about moving to Lyon.")

    items = pending_items(db, model.name, 100)
    assert [(kind, item_id) for kind, item_id, _ in items] == [
        ("fact", fact), ("summary", summary), *[("message", i) for i in reversed(kept)]]
    assert items[0][2] == "The user lives in Lyon"
    assert len(pending_items(db, model.name, 2)) == 2
    assert pending_items(db, "another-model", 100) == items

    assert index_pending(db, model, index, batch_size=2) == 5
    assert len(index) == 5
    assert pending_items(db, model.name, 100) == []
    assert len(pending_items(db, "another-model", 100)) == 5


def test_index_pending_makes_messages_findable_by_meaning(db: Database, messages: MessageStore,
                                                          sid: int, model: EmbeddingModel,
                                                          index: VectorIndex):
    texts = ["my favourite colour is blue", "the train leaves at noon",
             "I bought a new bicycle yesterday", "my sister lives in Toronto"]
    ids = [messages.append(sid, "user", text).id for text in texts]
    assert index_pending(db, model, index, batch_size=3) == 4
    best = index.search(model.encode(["what colour do I like"])[0], 2, kinds=("message",))
    assert best[0][:2] == ("message", ids[0])
    assert best[0][2] > best[1][2] + 0.2
    stored = np.frombuffer(db.connection().execute(
        "SELECT vector FROM embeddings WHERE kind = 'message' AND item_id = ?", (ids[3],)
    ).get, dtype=np.float16)
    np.testing.assert_allclose(stored, model.encode([texts[3]])[0], atol=1e-3)


def test_vectors_of_facts_that_stop_being_active_are_removed(
        db: Database, model: EmbeddingModel, index: VectorIndex):
    kept = add_fact(db, "colour", "The user's favourite colour is green")
    superseded = add_fact(db, "city", "The user lives in Paris")
    forgotten = add_fact(db, "pet", "The user has a dog")
    erased = add_fact(db, "job", "The user works as a nurse")
    assert index_pending(db, model, index, 8) == 4
    connection = db.connection()
    connection.execute("UPDATE facts SET status = 'superseded' WHERE id = ?", (superseded,))
    connection.execute("UPDATE facts SET status = 'forgotten' WHERE id = ?", (forgotten,))
    connection.execute("DELETE FROM facts WHERE id = ?", (erased,))
    assert index_pending(db, model, index, 8) == 0
    assert [item for _, item, _ in index.search(model.encode(["job"])[0], 10)] == [kept]
    assert connection.execute("SELECT item_id FROM embeddings").fetchall() == [(kept,)]


def test_an_edited_fact_is_embedded_again(db: Database, model: EmbeddingModel,
                                          index: VectorIndex):
    fact = add_fact(db, "colour", "The user's favourite colour is blue")
    index_pending(db, model, index, 8)
    edit = "UPDATE facts SET value = ?, text = ?, updated_at = ? WHERE id = ?"
    connection = db.connection()
    connection.execute(edit, ("red", "The user's favourite colour is red", time.time(), fact))
    assert pending_items(db, model.name, 8) == [
        ("fact", fact, "The user's favourite colour is red")]
    assert index_pending(db, model, index, 8) == 1
    assert len(index) == 1
    red = model.encode(["The user's favourite colour is red"])[0]
    assert index.search(red, 1)[0][2] == pytest.approx(1.0, abs=2e-3)
    # Stamped an hour ahead (a clock set back): not embedded over and over meanwhile.
    connection.execute(edit, ("teal", "The user's favourite colour is teal",
                              time.time() + 3600, fact))
    assert index_pending(db, model, index, 8) == 0


def test_a_model_and_an_index_of_different_models_are_refused(db: Database,
                                                              model: EmbeddingModel):
    with pytest.raises(ValueError, match="not all-MiniLM-L6-v2"):
        index_pending(db, model, VectorIndex(db, "other-model"), 8)


def test_vectors_from_index_pending_survive_a_restart(paths: AppPaths, model: EmbeddingModel):
    first = Database(paths.database, paths.backups_dir)
    first.open()
    store = MessageStore(first)
    sid = persistent_session_id(first)
    blue = store.append(sid, "user", "my favourite colour is blue").id
    store.append(sid, "user", "the train leaves at noon")
    index_pending(first, model, VectorIndex(first, model.name), 32)
    first.close()

    second = Database(paths.database, paths.backups_dir)
    second.open()
    try:
        index = VectorIndex(second, model.name)
        assert index.load() == 2
        assert pending_items(second, model.name, 32) == []
        hit = index.search(model.encode(["which colour do I like best"])[0], 1)
        assert hit[0][:2] == ("message", blue)
    finally:
        second.close()


def test_the_worker_indexes_in_the_background_and_answers_queries(
        db: Database, messages: MessageStore, sid: int, model: EmbeddingModel,
        index: VectorIndex):
    first = messages.append(sid, "user", "my favourite colour is blue").id
    worker = IndexWorker(db, index, lambda: model, batch_size=4)
    assert worker.model is None
    worker.start()
    try:
        assert worker.wait_idle(60)
        assert worker.model is model
        assert len(index) == 1

        reply = messages.append(sid, "assistant", "", status="streaming").id
        worker.notify()
        assert worker.wait_idle(60)
        later = [messages.append(sid, "user", f"note number {i} about gardening").id
                 for i in range(6)]
        worker.notify()
        assert worker.wait_idle(60)
        assert len(index) == 7  # the reply is still being written

        messages.update(reply, "Blue is a lovely colour.", "complete")
        worker.notify()
        assert worker.wait_idle(60)
        assert len(index) == 8
        assert worker.indexed == 8
        assert worker.last_error is None

        query = worker.embed_query("what colour do I like")
        assert query.shape == (384,)
        found = [item for _, item, _ in index.search(query, 2)]
        assert set(found) == {first, reply}
        assert later[0] not in found
    finally:
        worker.stop()
    assert not worker._thread.is_alive()


def test_worker_errors_are_kept_and_the_thread_carries_on(
        db: Database, messages: MessageStore, sid: int, model: EmbeddingModel,
        index: VectorIndex, caplog: pytest.LogCaptureFixture):
    messages.append(sid, "user", "I moved to Lyon")
    attempts = []

    def flaky_load() -> EmbeddingModel:
        attempts.append(1)
        if len(attempts) == 1:
            raise ModelLoadError("The embedding model is missing.")
        return model

    worker = IndexWorker(db, index, flaky_load, batch_size=8)
    with caplog.at_level(logging.ERROR, logger="nexus_desktop.embed.indexer"):
        worker.start()
        try:
            assert not worker.wait_idle(1.0)
            assert isinstance(worker.last_error, ModelLoadError)
            assert "indexing messages for memory search failed" in caplog.text
            assert worker._thread.is_alive()
            assert len(index) == 0

            worker.notify()
            assert worker.wait_idle(60)
            assert len(index) == 1
        finally:
            worker.stop()


def test_embed_query_loads_the_model_when_the_worker_has_not(db: Database,
                                                             model: EmbeddingModel,
                                                             index: VectorIndex):
    worker = IndexWorker(db, index, lambda: model)
    np.testing.assert_allclose(worker.embed_query("hello"), model.encode(["hello"])[0])
    assert worker.model is model
    worker.stop()


def test_a_message_compressed_before_its_vector_is_embedded_from_its_original(
        db: Database, messages: MessageStore, sid: int, model: EmbeddingModel,
        index: VectorIndex, caplog: pytest.LogCaptureFixture):
    said = ["I finally fixed the leaking kitchen tap with a new washer",
            "We booked a week on a Greek island for the autumn"]
    ids = [messages.append(sid, "user", text).id for text in said]
    with write_transaction(db.connection()) as connection:
        for message_id, text in zip(ids, said, strict=True):
            archive_original(connection, message_id, text, time.time())
            connection.execute("UPDATE messages SET content = '[summary] the user chatted', "
                               "tier = 'compressed' WHERE id = ?", (message_id,))
        # The second archive row is damaged: its summary is embedded rather than nothing.
        connection.execute("UPDATE message_archive SET sha256 = 'bad' WHERE message_id = ?",
                           (ids[1],))

    with caplog.at_level(logging.WARNING, logger="nexus_desktop.embed.indexer"):
        items = pending_items(db, model.name, 10)
    assert dict((item_id, text) for _, item_id, text in items) == {
        ids[0]: said[0], ids[1]: "[summary] the user chatted"}
    assert f"message {ids[1]} is damaged" in caplog.text

    assert index_pending(db, model, index, batch_size=8) == 2
    best = index.search(model.encode(["who repaired the dripping faucet"])[0], 1,
                        kinds=("message",))
    assert best[0][:2] == ("message", ids[0])
    stored = np.frombuffer(db.connection().execute(
        "SELECT vector FROM embeddings WHERE kind = 'message' AND item_id = ?", (ids[0],)
    ).get, dtype=np.float16)
    np.testing.assert_allclose(stored, model.encode([said[0]])[0], atol=1e-3)


def test_messages_about_the_same_topic_are_linked(paths) -> None:
    from nexus_desktop.embed.indexer import SAME_TOPIC, index_pending
    from nexus_desktop.embed.model import BUNDLED_NAME
    from nexus_desktop.embed.shared import shared_embedding_model
    from nexus_desktop.embed.vectors import VectorIndex
    from nexus_desktop.store.database import Database
    from nexus_desktop.store.messages import MessageStore
    from nexus_desktop.store.sessions import persistent_session_id

    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        store = MessageStore(database)
        session = persistent_session_id(database)
        ids = [store.append(session, "user", text).id for text in (
            "My beagle Biscuit chewed the sofa again today.",
            "The train to Lyon was delayed by an hour.",
            "Biscuit the beagle keeps chewing on the sofa cushions.",
        )]
        index = VectorIndex(database, BUNDLED_NAME)
        index.load()
        index_pending(database, shared_embedding_model(), index, 8)
        links = database.connection().execute(
            "SELECT src_id, dst_id, weight FROM links WHERE relation = 'same_topic'").fetchall()
    finally:
        database.close()
    assert [(src, dst) for src, dst, _ in links] == [(ids[2], ids[0])]
    assert links[0][2] >= SAME_TOPIC
