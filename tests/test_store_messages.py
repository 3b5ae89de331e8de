"""The messages table through MessageStore: appends, paging, reply updates, search, odd
content, and several threads writing at once. Real SQLite files in the test's temp dir."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import apsw
import pytest

from nexus_desktop.errors import StoreError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.connection import open_connection
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import Message, MessageStore, fts_query
from nexus_desktop.store.sessions import persistent_session_id


@pytest.fixture
def store(db: Database) -> MessageStore:
    return MessageStore(db)


@pytest.fixture
def sid(db: Database) -> int:
    return persistent_session_id(db)


def other_session(db: Database) -> int:
    return db.connection().execute(
        "INSERT INTO sessions(uid, created_at) VALUES ('other', 0) RETURNING id"
    ).get


def read_fresh(path: Path, message_id: int) -> tuple | None:
    """The row as a brand-new connection (not the writer's) sees it."""
    connection = open_connection(path, readonly=True)
    try:
        return connection.execute(
            "SELECT role, content, status FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
    finally:
        connection.close()


# --- the persistent session ------------------------------------------------------------


def test_the_persistent_session_is_created_once_and_kept(paths: AppPaths):
    first = Database(paths.database, paths.backups_dir)
    first.open()
    session = persistent_session_id(first)
    assert persistent_session_id(first) == session
    first.close()

    second = Database(paths.database, paths.backups_dir)
    second.open()
    try:
        assert persistent_session_id(second) == session
        assert second.connection().execute("SELECT count(*) FROM sessions").get == 1
    finally:
        second.close()


# --- append and get ----------------------------------------------------------------------


def test_append_returns_the_stored_row_and_it_is_committed(db, store, sid):
    before = time.time()
    user = store.append(sid, "user", "Hello there")
    reply = store.append(sid, "assistant", "Hi!", source="model", model="tiny", reply_to=user.id)

    assert user == store.get(user.id)
    assert reply == store.get(reply.id)
    assert reply.id > user.id
    assert (user.role, user.content, user.status, user.source, user.tier) == (
        "user", "Hello there", "complete", "user", "full"
    )
    assert (reply.model, reply.reply_to, reply.source) == ("tiny", user.id, "model")
    assert before <= user.created_at <= time.time()
    assert user.completed_at == user.created_at
    # Committed when append returns: another connection already sees it.
    assert read_fresh(db.path, reply.id) == ("assistant", "Hi!", "complete")
    assert not db.connection().in_transaction


def test_get_of_a_missing_message_is_none(store, sid):
    store.append(sid, "user", "only one")
    assert store.get(999) is None


def test_a_refused_row_leaves_no_trace_and_the_connection_usable(db, store, sid):
    with pytest.raises(apsw.ConstraintError):
        store.append(sid, "robot", "not a role")
    with pytest.raises(apsw.ConstraintError):
        store.append(sid + 100, "user", "no such session")
    assert store.count() == 0
    assert not db.connection().in_transaction
    assert store.append(sid, "user", "fine").content == "fine"
    assert store.count() == 1


# --- paging ------------------------------------------------------------------------------


def test_recent_pages_backwards_and_each_page_is_oldest_first(db, store, sid):
    ids = [store.append(sid, "user", f"message {n}").id for n in range(1, 26)]
    other = other_session(db)
    store.append(other, "user", "from another session")

    newest = store.recent(sid, 10)
    assert [m.id for m in newest] == ids[15:25]
    assert [m.content for m in newest] == [f"message {n}" for n in range(16, 26)]
    middle = store.recent(sid, 10, before_id=newest[0].id)
    assert [m.id for m in middle] == ids[5:15]
    oldest = store.recent(sid, 10, before_id=middle[0].id)
    assert [m.id for m in oldest] == ids[0:5]
    assert store.recent(sid, 10, before_id=oldest[0].id) == []
    assert [m.id for m in store.recent(sid, 100)] == ids
    assert store.recent(sid, 0) == []


def test_count_per_session_and_in_total(db, store, sid):
    for n in range(7):
        store.append(sid, "user", f"m{n}")
    other = other_session(db)
    for n in range(3):
        store.append(other, "user", f"o{n}")
    assert store.count(sid) == 7
    assert store.count(other) == 3
    assert store.count() == 10


# --- streaming replies -------------------------------------------------------------------


def test_a_streaming_reply_is_updated_then_finished(db, store, sid):
    question = store.append(sid, "user", "Tell me a story")
    reply = store.append(sid, "assistant", "", status="streaming", source="model",
                         reply_to=question.id)
    assert (reply.status, reply.completed_at) == ("streaming", None)

    store.update(reply.id, "Once upon a marmalade", "streaming", finished=False)
    partial = store.get(reply.id)
    assert (partial.content, partial.status, partial.completed_at) == (
        "Once upon a marmalade", "streaming", None
    )
    assert [h.message.id for h in store.search("marmalade")] == [reply.id]

    store.update(reply.id, "Once upon a time there was a kingfisher.", "complete")
    final = store.get(reply.id)
    assert final.content == "Once upon a time there was a kingfisher."
    assert final.status == "complete"
    assert final.error is None
    assert final.completed_at is not None and final.completed_at >= final.created_at
    assert read_fresh(db.path, reply.id)[1:] == (final.content, "complete")
    # The index follows the update: the old text is gone from search, the new is found.
    assert store.search("marmalade") == []
    assert [h.message.id for h in store.search("kingfisher")] == [reply.id]


def test_a_failed_reply_keeps_its_text_and_error(store, sid):
    reply = store.append(sid, "assistant", "", status="streaming", source="model")
    store.update(reply.id, "half an ans", "failed", error="the model ran out of memory")
    failed = store.get(reply.id)
    assert (failed.content, failed.status, failed.error) == (
        "half an ans", "failed", "the model ran out of memory"
    )
    assert failed.completed_at is not None


def test_mark_interrupted_closes_only_this_sessions_streaming_replies(db, store, sid):
    done = store.append(sid, "assistant", "finished", source="model")
    first = store.append(sid, "assistant", "cut o", status="streaming", source="model")
    second = store.append(sid, "assistant", "", status="streaming", source="model")
    other = other_session(db)
    elsewhere = store.append(other, "assistant", "x", status="streaming", source="model")

    assert store.mark_interrupted(sid) == 2
    for message_id, text in ((first.id, "cut o"), (second.id, "")):
        marked = store.get(message_id)
        assert (marked.status, marked.content) == ("interrupted", text)
        assert "stopped" in marked.error
        assert marked.completed_at is not None
    assert store.get(done.id) == done
    assert store.get(elsewhere.id).status == "streaming"
    assert store.mark_interrupted(sid) == 0


# --- search ------------------------------------------------------------------------------


def test_search_takes_punctuation_and_fts_operators_literally(store, sid):
    every_word = store.append(sid, "user", "So what's up? And not x, I hope.")
    store.append(sid, "user", "what's up")  # lacks "and", "not" and "x"
    store.append(sid, "user", "what's up and not xylophone")  # "x*" would match this one
    store.append(sid, "user", "up AND x")

    hits = store.search('what\'s "up" AND NOT x*')
    assert [h.message.id for h in hits] == [every_word.id]
    assert fts_query('what\'s "up" AND NOT x*') == '"what" "s" "up" "AND" "NOT" "x"'


@pytest.mark.parametrize("text", [
    '"', "*", "(", ")", "NEAR(", "content:", "^", "-", ":", "'", '""', "   ", "", "{a b}:x",
    'say "hi', "a OR", "NOT", "a* b:* ^c", "-x", "+y",
])
def test_search_never_fails_on_what_a_user_types(store, sid, text):
    store.append(sid, "user", "a b c x y hi say not or near content")
    hits = store.search(text)
    words = fts_query(text)
    if words is None:
        assert hits == []
    else:
        assert len(hits) == 1


def test_search_ignores_accents_both_ways(store, sid):
    cafe = store.append(sid, "user", "Meet me at the café near the station")
    naive = store.append(sid, "user", "a naive plan")
    for query in ("cafe", "café", "CAFÉ", "Cafe station"):
        assert [h.message.id for h in store.search(query)] == [cafe.id], query
    assert [h.message.id for h in store.search("naïve")] == [naive.id]
    assert "[café]" in store.search("cafe")[0].snippet


def test_search_ranks_by_relevance_and_respects_the_limit(store, sid):
    store.append(sid, "user", "otter " + "filler " * 50)
    dense = store.append(sid, "user", "otter otter otter")
    for n in range(30):
        store.append(sid, "user", f"otter number {n} " + "filler " * 20)
    hits = store.search("otter", limit=5)
    assert len(hits) == 5
    assert hits[0].message.id == dense.id
    assert len(store.search("otter", limit=100)) == 32
    assert store.search("badger") == []


# --- content kept faithfully -------------------------------------------------------------


@pytest.mark.parametrize("content", [
    "a\x00b",
    "\x00",
    "\x00\x00 leading and trailing NULs \x00",
    "emoji 😀👩‍👩‍👧 and RTL עברית and e\u0301 and \U0001d518\U0001d52b (astral letters)",
    "line\r\nbreaks\n\ttabs\u2028separator",
    "'; DROP TABLE messages; --",
])
def test_content_comes_back_exactly(db, store, sid, content):
    message = store.append(sid, "user", content)
    assert message.content == content
    assert store.get(message.id).content == content
    assert store.recent(sid, 1)[0].content == content
    assert read_fresh(db.path, message.id)[1] == content
    stored_length = db.connection().execute(
        "SELECT length(CAST(content AS BLOB)) FROM messages WHERE id = ?", (message.id,)
    ).get
    assert stored_length == len(content.encode("utf-8"))


def test_nul_bytes_do_not_hide_the_words_after_them_from_search(store, sid):
    message = store.append(sid, "user", "alpha\x00beta\x00\x00gamma")
    for word in ("alpha", "beta", "gamma"):
        assert [h.message.id for h in store.search(word)] == [message.id], word


def test_a_one_megabyte_message_is_stored_whole(db, store, sid):
    # Numbered lines, so a cut, a shuffle or a lost chunk would all show.
    lines = [f"{n:06d} ünïcödé line with a zebra{n} in it" for n in range(25_000)]
    content = "\n".join(lines)
    assert len(content.encode("utf-8")) > 1_000_000
    message = store.append(sid, "user", content)
    assert store.get(message.id).content == content
    assert read_fresh(db.path, message.id)[1] == content
    # The whole text is indexed, its last words included.
    assert [h.message.id for h in store.search("zebra24999")] == [message.id]

    longer = content + "\nthe end"
    store.update(message.id, longer, "complete")
    assert store.get(message.id).content == longer


# --- threads -----------------------------------------------------------------------------


def test_each_thread_gets_its_own_connection(db):
    mine = db.connection()
    assert db.connection() is mine
    seen: list[apsw.Connection] = []

    def work() -> None:
        seen.append(db.connection())
        seen.append(db.connection())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen[0] is seen[1]
    assert seen[0] is not mine


def test_close_closes_every_threads_connection_and_refuses_new_use(paths: AppPaths):
    database = Database(paths.database, paths.backups_dir)
    database.open()
    store = MessageStore(database)
    sid = persistent_session_id(database)
    store.append(sid, "user", "before close")
    opened: list[apsw.Connection] = []
    thread = threading.Thread(target=lambda: opened.append(database.connection()))
    thread.start()
    thread.join()

    database.close()
    with pytest.raises(StoreError, match="closed"):
        database.connection()
    with pytest.raises(StoreError, match="closed"):
        store.append(sid, "user", "after close")
    with pytest.raises(apsw.ConnectionClosedError):
        opened[0].execute("SELECT 1")


@pytest.mark.parametrize("round_", range(3))
def test_appends_from_several_threads_at_once_all_land(paths: AppPaths, round_: int):
    """Every thread starts with a new connection, at the same moment as the others: the
    first write of a new connection while others write is where locking goes wrong."""
    threads, per_thread = 4, 40
    database = Database(paths.database, paths.backups_dir)
    database.open()
    sid = persistent_session_id(database)
    store = MessageStore(database)
    start = threading.Barrier(threads)
    results: dict[int, list[Message]] = {n: [] for n in range(threads)}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                results[n].append(store.append(sid, "user", f"round {round_} thread {n} #{i}"))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        assert errors == []
        assert store.count() == threads * per_thread
        all_ids = [m.id for found in results.values() for m in found]
        assert len(set(all_ids)) == threads * per_thread
        for n, found in results.items():
            assert [m.content for m in found] == [
                f"round {round_} thread {n} #{i}" for i in range(per_thread)
            ]
            assert [m.id for m in found] == sorted(m.id for m in found)
            for message in found:
                assert store.get(message.id) == message
        assert database.quick_check() == []
    finally:
        database.close()
