"""The memory lifecycle on a real SQLite file: the recent turns stay in full, older ones are
compressed and archived by age or size, no original is ever lost, archived words stay
searchable, and a message can be restored. Also the file's incremental-vacuum set-up and
the salvage of the memory tables from a damaged file."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import zlib
from dataclasses import dataclass
from itertools import pairwise

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError
from nexus_desktop.memory.digest import SUMMARY_MARK
from nexus_desktop.memory.lifecycle import (
    STRETCH_GAP_SECONDS,
    STRETCH_TURNS,
    Compactor,
    restore_message,
)
from nexus_desktop.paths import AppPaths
from nexus_desktop.store import archive
from nexus_desktop.store.connection import open_connection, write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore, fts_query
from nexus_desktop.store.migrate import migrate
from nexus_desktop.store.sessions import persistent_session_id

DAY = 86_400
NOW = 1_750_000_000.0
WORDS = ("river", "stone", "cloud", "lamp", "garden", "violin", "copper", "meadow", "harbor",
         "lantern", "orbit", "maple", "pepper", "canyon", "saddle", "thimble", "walrus",
         "quartz", "nebula", "tundra")


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def reply_text(rng: random.Random, n: int) -> str:
    """A reply of several sentences whose last one holds a word found nowhere else."""
    body = " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(4, 9)))
    return f"Reply {n} about {rng.choice(WORDS)}. {body} The end word is tailword{n}x."


def user_text(rng: random.Random, n: int) -> str:
    if n % 29 == 0:
        return f"Long note {n}: " + " ".join(sentence(rng, 12) for _ in range(20))
    if n % 31 == 0:
        return f"Ünïcode {n} ☕ 中文 e\u0301 " + sentence(rng, 5)
    return f"Question {n}: " + sentence(rng, rng.randint(3, 12))


@dataclass
class Conversation:
    session: int
    user_ids: list[int]


def build(db: Database, days: int, seed: int = 7, per_day: tuple[int, int] = (0, 12),
          reply: int = 0) -> Conversation:
    """A conversation of ``days`` days up to NOW: one sitting a day of a few turns, two
    minutes apart; replies of every kind of status, some long messages from the user.
    ``reply`` (when > 0) makes every reply that many characters of plain text."""
    rng = random.Random(seed)
    session = persistent_session_id(db)
    connection = db.connection()
    user_ids = []
    n = 0
    with write_transaction(connection):
        for day in range(days, 0, -1):
            start = NOW - day * DAY + rng.randint(8, 20) * 3600
            for turn in range(rng.randint(*per_day)):
                n += 1
                at = start + turn * 120
                user_id = connection.execute(
                    "INSERT INTO messages(session_id, role, content, created_at, completed_at) "
                    "VALUES (?, 'user', ?, ?, ?) RETURNING id",
                    (session, user_text(rng, n), at, at),
                ).get
                user_ids.append(user_id)
                status = ("cancelled" if n % 37 == 0 else "interrupted" if n % 53 == 0
                          else "failed" if n % 71 == 0 else "streaming" if n == 100
                          else "complete")
                text = "" if status == "failed" else (
                    "x" * reply if reply else reply_text(rng, n)
                )
                if n % 13 == 0 and status == "complete" and not reply:
                    text = f"Short reply {n}."
                connection.execute(
                    "INSERT INTO messages(session_id, role, content, status, source, reply_to, "
                    "created_at, completed_at, error) VALUES (?, 'assistant', ?, ?, 'model', ?, "
                    "?, ?, ?)",
                    (session, text, status, user_id, at + 30, at + 40,
                     "boom" if status == "failed" else None),
                )
    return Conversation(session, user_ids)


def originals(db: Database) -> dict[int, str]:
    """SHA-256 of every message's original text: from the archive where it is there
    (checked against its stored checksum), else from the message itself."""
    connection = db.connection()
    found = {}
    for message_id, content in connection.execute("SELECT id, content FROM messages"):
        found[message_id] = hashlib.sha256(content.encode()).hexdigest()
    for message_id, blob, sha in connection.execute(
            "SELECT message_id, content, sha256 FROM message_archive"):
        text = zlib.decompress(blob).decode()
        assert hashlib.sha256(text.encode()).hexdigest() == sha
        found[message_id] = sha
    return found


def tiers(db: Database) -> dict[int, tuple[str, str, str, float]]:
    return {row[0]: tuple(row[1:]) for row in db.connection().execute(
        "SELECT id, role, tier, status, created_at FROM messages")}


def configure(settings: Settings, **values: int) -> Settings:
    for key, value in values.items():
        settings.set(f"memory.{key}", value)
    return settings


# --- never losing anything --------------------------------------------------------------


def test_compaction_never_loses_a_message(db: Database, settings: Settings):
    conversation = build(db, days=400)
    connection = db.connection()
    count = connection.execute("SELECT count(*) FROM messages").get
    assert count > 3000
    before = originals(db)

    report = Compactor(db, settings).run(now=NOW)

    assert connection.execute("SELECT count(*) FROM messages").get == count
    assert originals(db) == before
    assert report.replies_summarised > 1000 and report.archived > 1000
    assert report.summaries > 50 and report.long_prompts_archived > 10
    assert connection.execute("SELECT count(*) FROM message_archive").get == (
        report.replies_summarised + report.long_prompts_archived
    )
    # A second pass finds nothing more to do and still loses nothing.
    again = Compactor(db, settings).run(now=NOW)
    assert (again.compressed, again.archived, again.summaries) == (0, 0, 0)
    assert originals(db) == before
    assert db.quick_check() == []
    for index in ("messages_fts", "summaries_fts"):
        connection.execute(f"INSERT INTO {index}({index}) VALUES ('integrity-check')")
    assert len(conversation.user_ids) * 2 == count


def test_tiers_follow_the_recent_turns_and_the_ages(db: Database, settings: Settings):
    conversation = build(db, days=400)
    full_turns = settings.get("memory.full_turns")
    Compactor(db, settings).run(now=NOW)
    found = tiers(db)
    recent_start = conversation.user_ids[-full_turns]
    for message_id, (role, tier, status, created_at) in found.items():
        age = NOW - created_at
        if message_id >= recent_start or status in ("streaming", "failed"):
            assert tier == "full", (message_id, role, status)
        elif age < 7 * DAY:
            assert tier == "full"
        elif age < 30 * DAY:
            assert tier == "compressed"
        elif age > 31 * DAY:
            # The last sitting before the cut may wait for the next pass.
            assert tier == "archived", (message_id, age / DAY)
    assert any(status == "streaming" for _, _, status, _ in found.values())


def test_compressed_replies_keep_a_short_summary_and_prompts_keep_their_words(
        db: Database, settings: Settings):
    build(db, days=60)
    before = dict(db.connection().execute("SELECT id, content FROM messages").fetchall())
    Compactor(db, configure(settings, archive_after_days=3650)).run(now=NOW)
    rows = db.connection().execute(
        "SELECT id, role, content, tier FROM messages WHERE tier = 'compressed'").fetchall()
    assert rows
    summarised = 0
    for message_id, role, content, _ in rows:
        if role == "user":
            assert content == before[message_id]
        elif len(before[message_id]) > 240:
            assert content.startswith(SUMMARY_MARK) and len(content) < 260
            assert before[message_id].startswith(content.removeprefix(SUMMARY_MARK)[:40])
            assert archive.original(db.connection(), message_id) == before[message_id]
            summarised += 1
        else:
            assert content == before[message_id]  # short replies are kept as they are
            assert archive.original(db.connection(), message_id) is None
    assert summarised > 50


def test_archived_words_stay_searchable(db: Database, settings: Settings):
    build(db, days=120)
    connection = db.connection()
    Compactor(db, settings).run(now=NOW)
    reply_id, content = connection.execute(
        "SELECT id, content FROM messages WHERE role = 'assistant' AND tier = 'archived' "
        "AND content LIKE '[summary]%' LIMIT 1").fetchone()
    number = int(archive.original(connection, reply_id).split()[1])
    word = f"tailword{number}x"
    assert word not in content
    assert connection.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                              (word,)).get == 0
    assert [hit[0] for hit in archive.search(connection, fts_query(word), 5)] == [reply_id]


def test_stretches_become_linked_summaries_with_dates(db: Database, settings: Settings):
    build(db, days=200, per_day=(0, 45))
    Compactor(db, settings).run(now=NOW)
    connection = db.connection()
    archived = {row[0] for row in connection.execute(
        "SELECT id FROM messages WHERE tier = 'archived'")}
    linked = connection.execute(
        "SELECT dst_id, count(*) FROM links WHERE relation = 'summary_of' AND src_kind = "
        "'summary' AND dst_kind = 'message' GROUP BY dst_id").fetchall()
    assert {message_id for message_id, _ in linked} == archived
    assert all(times == 1 for _, times in linked)
    for summary_id, text, first_at, last_at in connection.execute(
            "SELECT id, text, first_at, last_at FROM summaries"):
        members = connection.execute(
            "SELECT m.role, m.content, m.created_at FROM links JOIN messages AS m "
            "ON m.id = links.dst_id WHERE links.src_id = ? ORDER BY m.created_at, m.id",
            (summary_id,)).fetchall()
        turns = sum(1 for role, _, _ in members if role == "user")
        assert 1 <= turns <= STRETCH_TURNS
        assert (members[0][2], members[-1][2]) == (first_at, last_at)
        gaps = [b[2] - a[2] for a, b in pairwise(members)]
        assert all(gap <= STRETCH_GAP_SECONDS for gap in gaps)
        assert time.strftime("%Y-%m-%d", time.localtime(first_at)) in text
        first_user = next(content for role, content, _ in members if role == "user")
        assert first_user.removeprefix(SUMMARY_MARK).split(":")[0] in text  # "Question 12"


# --- age limits, size pressure, the recent turns ----------------------------------------


def test_nothing_is_compressed_while_it_is_young(db: Database, settings: Settings):
    build(db, days=6)
    report = Compactor(db, settings).run(now=NOW)
    assert report.compressed == 0
    assert {tier for _, tier, _, _ in tiers(db).values()} == {"full"}


def test_pressure_ignores_the_ages_but_never_the_recent_turns(db: Database, settings: Settings):
    # Over 16 MB of replies, all from the last three days.
    conversation = build(db, days=3, per_day=(40, 40), reply=150_000)
    configure(settings, full_turns=10, pressure_db_mb=16)
    connection = db.connection()
    size = connection.pragma("page_count") * connection.pragma("page_size")
    assert size > 16 * 1_048_576
    before = originals(db)

    report = Compactor(db, settings).run(now=NOW)

    assert report.pressure and report.archived > 0 and report.summaries > 0
    assert report.reclaimed_bytes > 8 * 1_048_576
    assert report.size_after < report.size_before / 2
    assert connection.pragma("page_count") * connection.pragma("page_size") == report.size_after
    assert originals(db) == before
    recent_start = conversation.user_ids[-10]
    for message_id, (_, tier, status, _) in tiers(db).items():
        if message_id >= recent_start or status in ("streaming", "failed"):
            assert tier == "full"
        else:
            assert tier in ("compressed", "archived")


def test_without_pressure_the_same_young_file_is_left_alone(db: Database, settings: Settings):
    build(db, days=3, per_day=(40, 40), reply=150_000)
    report = Compactor(db, configure(settings, full_turns=10)).run(now=NOW)
    assert not report.pressure and report.compressed == 0


def test_the_recent_turns_are_counted_in_time_order(db: Database, settings: Settings):
    """Old history imported after newer turns is still old."""
    build(db, days=100, per_day=(2, 2))
    connection = db.connection()
    session = persistent_session_id(db)
    with write_transaction(connection):
        late = [connection.execute(
            "INSERT INTO messages(session_id, role, content, created_at) VALUES (?, 'user', ?, ?) "
            "RETURNING id", (session, f"imported {n}", NOW - 500 * DAY + n)).get
            for n in range(5)]
    Compactor(db, configure(settings, full_turns=4)).run(now=NOW)
    found = tiers(db)
    assert all(found[message_id][1] == "archived" for message_id in late)
    newest_users = sorted((at, i) for i, (role, _, _, at) in found.items() if role == "user")[-4:]
    assert all(found[i][1] == "full" for _, i in newest_users)


# --- restoring ----------------------------------------------------------------------------


def test_restore_brings_the_original_back_and_keeps_it(db: Database, settings: Settings):
    build(db, days=120)
    connection = db.connection()
    before = dict(connection.execute("SELECT id, content FROM messages").fetchall())
    Compactor(db, settings).run(now=NOW)
    reply_id = connection.execute(
        "SELECT message_id FROM message_archive ORDER BY message_id LIMIT 1").get
    word = f"tailword{before[reply_id].split()[1]}x"

    assert restore_message(db, reply_id) == "archived"

    content, tier = connection.execute(
        "SELECT content, tier FROM messages WHERE id = ?", (reply_id,)).fetchone()
    assert (content, tier) == (before[reply_id], "full")
    assert archive.original(connection, reply_id) is None
    assert archive.search(connection, fts_query(word), 5) == []
    assert connection.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?",
                              (word,)).fetchall() == [(reply_id,)]
    Compactor(db, configure(settings, pressure_db_mb=16, archive_after_days=0)).run(now=NOW)
    assert connection.execute("SELECT content, tier FROM messages WHERE id = ?",
                              (reply_id,)).fetchone() == (before[reply_id], "full")
    assert {k: hashlib.sha256(v.encode()).hexdigest() for k, v in before.items()} == originals(db)


def test_restoring_a_compressed_prompt_and_a_full_message(db: Database, settings: Settings):
    conversation = build(db, days=20)
    Compactor(db, settings).run(now=NOW)
    first = conversation.user_ids[0]
    assert restore_message(db, first) == "compressed"
    assert restore_message(db, first) == "full"
    assert tiers(db)[first][1] == "full"


def test_restoring_an_unknown_message_says_so(db: Database):
    with pytest.raises(InputError, match="no message 424242"):
        restore_message(db, 424242)


# --- how a pass runs ------------------------------------------------------------------------


def test_each_pass_is_recorded_as_an_event(db: Database, settings: Settings):
    build(db, days=60)
    report = Compactor(db, settings).run(now=NOW)
    message, detail = db.connection().execute(
        "SELECT message, detail FROM events WHERE kind = 'compaction'").fetchone()
    assert message == report.describe()
    assert json.loads(detail)["archived"] == report.archived > 0


def test_a_chat_can_write_while_compaction_runs(db: Database, settings: Settings):
    build(db, days=400, seed=3)
    store = MessageStore(db)
    session = persistent_session_id(db)
    errors: list[BaseException] = []
    written: list[int] = []
    started = threading.Event()

    def chat() -> None:
        started.set()
        try:
            for n in range(40):
                written.append(store.append(session, "user", f"live message {n}").id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=chat)
    writer.start()
    started.wait()
    Compactor(db, settings).run(now=NOW)
    writer.join()
    assert errors == [] and len(written) == 40
    assert all(tiers(db)[message_id][1] == "full" for message_id in written)


# --- the file: incremental vacuum ----------------------------------------------------------


def test_a_new_database_uses_incremental_vacuum(db: Database):
    assert db.connection().pragma("auto_vacuum") == 2


def test_an_older_database_is_converted_once_with_every_row_kept(paths: AppPaths):
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    connection = open_connection(paths.database)
    migrate(connection, None)
    assert connection.pragma("auto_vacuum") == 0
    with connection:
        connection.execute("INSERT INTO sessions(uid, created_at) VALUES ('s', 1)")
        for n in range(500):
            connection.execute(
                "INSERT INTO messages(session_id, role, content, created_at) VALUES "
                "(1, 'user', ?, ?)", (f"row {n} " + "words " * 50, n))
    rows = connection.execute("SELECT * FROM messages ORDER BY id").fetchall()
    connection.close()

    database = Database(paths.database, paths.backups_dir)
    try:
        database.open()
        connection = database.connection()
        assert connection.pragma("auto_vacuum") == 2
        assert connection.execute("SELECT * FROM messages ORDER BY id").fetchall() == rows
        assert database.quick_check() == []
    finally:
        database.close()


# --- recovery of the memory tables --------------------------------------------------------


def wreck_a_messages_page(database_path) -> None:
    connection = open_connection(database_path, readonly=True)
    try:
        page_size = connection.pragma("page_size")
        page = connection.execute(
            "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' "
            "ORDER BY pageno DESC LIMIT 1").get
    finally:
        connection.close()
    data = bytearray(database_path.read_bytes())
    data[(page - 1) * page_size:page * page_size] = bytes(page_size)
    database_path.write_bytes(bytes(data))


def test_recovery_salvages_the_memory_tables(paths: AppPaths, settings: Settings):
    database = Database(paths.database, paths.backups_dir)
    database.open()
    build(database, days=120)
    database.backup("daily")  # holds messages only; everything below is newer
    Compactor(database, settings).run(now=NOW)
    connection = database.connection()
    with write_transaction(connection):
        connection.execute(
            "INSERT INTO facts(subject, key, value, text, confidence, extractor, "
            "source_message_id, created_at, updated_at) VALUES ('user', 'favorite color', "
            "'teal', 'The user''s favorite color is teal.', 0.9, 'pattern', 1, 1, 1)")
        connection.execute("INSERT INTO fact_audit(fact_id, action, at) VALUES (1, 'pin', 2)")
        connection.execute(
            "INSERT INTO embeddings(kind, item_id, model, vector, created_at) VALUES "
            "('message', 1, 'all-MiniLM-L6-v2', x'00ff00ff', 3)")
        connection.execute(
            "INSERT INTO training_examples(kind, prompt, target, source_kind, source_id, "
            "created_at) VALUES ('fact', 'color?', 'teal', 'fact', 1, 4)")
    expected = {table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("facts", "fact_audit", "summaries", "message_archive",
                              "training_examples", "embeddings", "links")}
    archived_id = connection.execute("SELECT max(message_id) FROM message_archive").get
    word = f"tailword{archive.original(connection, archived_id).split()[1]}x"
    database.close()
    wreck_a_messages_page(paths.database)

    database = Database(paths.database, paths.backups_dir)
    try:
        report = database.open()
        assert report.recovery is not None
        connection = database.connection()
        for table, rows in expected.items():
            assert connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() == rows
            assert report.recovery.tables[table].changed == len(rows) > 0
        assert "facts 1" in report.recovery.describe()
        assert [hit[0] for hit in archive.search(connection, fts_query(word), 5)] == [archived_id]
        assert connection.execute("SELECT rowid FROM facts_fts WHERE facts_fts MATCH 'teal'"
                                  ).fetchall() == [(1,)]
        for index in ("messages_fts", "facts_fts", "summaries_fts"):
            connection.execute(f"INSERT INTO {index}({index}) VALUES ('integrity-check')")
        assert database.quick_check() == []
    finally:
        database.close()
