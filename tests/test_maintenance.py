"""Compaction runs by itself: at start and then daily, in the background."""

from __future__ import annotations

import time

from nexus_desktop.engine import Engine
from nexus_desktop.memory.maintenance import INTERVAL_S, CompactionScheduler
from nexus_desktop.store.connection import write_transaction
from nexus_desktop.store.database import Database


def test_a_pass_runs_when_due_and_not_again_the_same_day(paths, settings) -> None:
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        old = time.time() - 400 * 86400
        rows = []
        for i in range(120):
            rows.append((1, "user", f"question {i} about the garden", old + i * 60))
            rows.append((1, "assistant", "An answer. " * 40 + str(i), old + i * 60 + 1))
        with write_transaction(database.connection()) as connection:
            connection.execute("INSERT INTO sessions(id, uid, created_at) VALUES (1, 'x', ?)",
                               (old,))
            connection.executemany("INSERT INTO messages(session_id, role, content, created_at, "
                                   "completed_at) VALUES (?, ?, ?, ?, ?)",
                                   [(*row, row[3]) for row in rows])
        scheduler = CompactionScheduler(database, settings)
        assert scheduler.run_if_due()
        scheduler.wait()
        assert scheduler.last_error is None and scheduler.last_report is not None
        tiers = dict(database.connection().execute(
            "SELECT tier, count(*) FROM messages GROUP BY tier").fetchall())
        assert tiers["full"] == 2 * settings.get("memory.full_turns")
        assert not scheduler.run_if_due()
        assert scheduler.run_if_due(now=time.time() + INTERVAL_S + 1)
        scheduler.wait()
    finally:
        database.close()


def test_the_engine_compacts_at_start_and_only_with_its_background_threads(paths,
                                                                           settings) -> None:
    quiet = Engine(paths, settings)
    quiet.open(background_indexing=False)
    try:
        assert quiet.compaction.last_pass_at() is None
    finally:
        quiet.close()
    engine = Engine(paths, settings)
    engine.open()
    try:
        engine.compaction.wait()
        assert engine.compaction.last_pass_at() is not None
    finally:
        engine.close()
