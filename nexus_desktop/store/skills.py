"""The skill library's tables: skills (a request, what made its reply, the reply, and how
far it is trusted) and skill_uses (each reply a skill made or helped make).

Rules (when to record, how confidence moves) live in memory/skills.py; this module only
reads and writes rows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nexus_desktop.errors import InputError
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

_COLUMNS = ("id, name, intent, request_key, steps, result, confidence, uses, successes, "
            "failures, pinned, state, source_reply_id, created_at, last_used_at, archived_at")
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class Skill:
    id: int
    name: str
    intent: str
    request_key: str
    steps: dict[str, Any]
    result: str
    confidence: float
    uses: int
    successes: int
    failures: int
    pinned: bool
    state: str  # active or archived
    source_reply_id: int | None
    created_at: float
    last_used_at: float | None
    archived_at: float | None

    @classmethod
    def from_row(cls, row: tuple) -> Skill:
        values = list(row)
        values[4] = json.loads(values[4]) if values[4] else {}
        values[10] = bool(values[10])
        return cls(*values)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "intent": self.intent,
                "result": self.result, "steps": self.steps,
                "confidence": round(self.confidence, 3), "uses": self.uses,
                "successes": self.successes, "failures": self.failures,
                "pinned": self.pinned, "state": self.state,
                "created_at": self.created_at, "last_used_at": self.last_used_at}


@dataclass(frozen=True)
class SkillUse:
    reply_id: int
    skill_id: int
    kind: str  # replay or example
    similarity: float | None
    outcome: str | None  # success, failure, or None while not judged


@dataclass(frozen=True)
class SkillVectors:
    """The active skills' embeddings as one matrix, rows in ``ids`` order."""

    ids: list[int]
    matrix: np.ndarray


class SkillStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, *, name: str, intent: str, request_key: str, embedding: np.ndarray | None,
            embedding_model: str | None, steps: dict[str, Any], result: str,
            confidence: float, source_reply_id: int | None) -> Skill:
        connection = self.database.connection()
        blob = None if embedding is None else np.asarray(embedding, np.float32).tobytes()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "INSERT INTO skills(name, intent, request_key, embedding, embedding_model, "
                "steps, result, confidence, source_reply_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, intent, request_key, blob, embedding_model,
                 json.dumps(steps, ensure_ascii=False), result, confidence,
                 source_reply_id, time.time()))
            skill_id = connection.last_insert_rowid()
        found = self.get(skill_id)
        assert found is not None
        return found

    def get(self, skill_id: int) -> Skill | None:
        row = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM skills WHERE id = ?", (skill_id,)).fetchone()
        return Skill.from_row(row) if row else None

    def require(self, skill_id: int) -> Skill:
        skill = self.get(skill_id)
        if skill is None:
            raise InputError(f"There is no skill {skill_id}. `nexus-desktop skills list` "
                             "shows the skills and their numbers.")
        return skill

    def by_source(self, reply_id: int) -> Skill | None:
        row = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM skills WHERE source_reply_id = ? ORDER BY id DESC "
            "LIMIT 1", (reply_id,)).fetchone()
        return Skill.from_row(row) if row else None

    def active_with_key(self, request_key: str) -> list[Skill]:
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM skills WHERE request_key = ? AND state = 'active' "
            "ORDER BY confidence DESC, id DESC", (request_key,))
        return [Skill.from_row(row) for row in rows]

    def vectors(self, embedding_model: str, min_confidence: float) -> SkillVectors:
        """Embeddings of the active skills trusted at least ``min_confidence``."""
        rows = list(self.database.connection().execute(
            "SELECT id, embedding FROM skills WHERE state = 'active' AND confidence >= ? "
            "AND embedding_model = ? AND embedding IS NOT NULL ORDER BY id",
            (min_confidence, embedding_model)))
        if not rows:
            return SkillVectors([], np.zeros((0, 0), np.float32))
        matrix = np.stack([np.frombuffer(blob, np.float32) for _, blob in rows])
        return SkillVectors([row[0] for row in rows], matrix)

    def all(self, include_archived: bool = False) -> list[Skill]:
        where = "" if include_archived else "WHERE state = 'active'"
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM skills {where} "
            "ORDER BY pinned DESC, state, confidence DESC, id")
        return [Skill.from_row(row) for row in rows]

    def count(self) -> dict[str, int]:
        counts = {"active": 0, "archived": 0}
        counts.update(dict(self.database.connection().execute(
            "SELECT state, count(*) FROM skills GROUP BY state")))
        counts["replays"] = self.database.connection().execute(
            "SELECT count(*) FROM skill_uses WHERE kind = 'replay'").get or 0
        return counts

    def rename(self, skill_id: int, name: str) -> Skill:
        name = " ".join(name.split())
        if not name:
            raise InputError("A skill's name cannot be empty: type a few words that say "
                             "what the skill does.")
        if len(name) > MAX_NAME_CHARS:
            raise InputError(f"A skill's name can have at most {MAX_NAME_CHARS} characters; "
                             f"this one has {len(name)}.")
        self.require(skill_id)
        self._execute("UPDATE skills SET name = ? WHERE id = ?", (name, skill_id))
        return self.require(skill_id)

    def pin(self, skill_id: int, pinned: bool) -> Skill:
        """A pinned skill is never pruned; pinning an archived skill makes it active again."""
        self.require(skill_id)
        self._execute(
            "UPDATE skills SET pinned = ?, state = CASE WHEN ? THEN 'active' ELSE state END, "
            "archived_at = CASE WHEN ? THEN NULL ELSE archived_at END WHERE id = ?",
            (int(pinned), int(pinned), int(pinned), skill_id))
        return self.require(skill_id)

    def delete(self, skill_id: int) -> tuple[tuple, list[tuple]]:
        """Delete a skill and its uses; returns their rows, which ``restore`` puts back."""
        self.require(skill_id)
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            skill_row = connection.execute("SELECT * FROM skills WHERE id = ?",
                                           (skill_id,)).fetchone()
            use_rows = list(connection.execute("SELECT * FROM skill_uses WHERE skill_id = ?",
                                               (skill_id,)))
            connection.execute("DELETE FROM skill_uses WHERE skill_id = ?", (skill_id,))
            connection.execute("DELETE FROM skills WHERE id = ?", (skill_id,))
        return skill_row, use_rows

    def restore(self, deleted: tuple[tuple, list[tuple]]) -> Skill:
        """Undo ``delete``: the skill comes back with its id, counts and uses."""
        skill_row, use_rows = deleted
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(f"INSERT INTO skills VALUES ({','.join('?' * len(skill_row))})",
                               skill_row)
            for row in use_rows:
                connection.execute(
                    f"INSERT OR IGNORE INTO skill_uses VALUES ({','.join('?' * len(row))})", row)
        return self.require(skill_row[0])

    def record_use(self, reply_id: int, skill_id: int, kind: str,
                   similarity: float | None) -> None:
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "INSERT OR REPLACE INTO skill_uses(reply_id, skill_id, kind, similarity, at) "
                "VALUES (?, ?, ?, ?, ?)", (reply_id, skill_id, kind, similarity, time.time()))
            connection.execute("UPDATE skills SET uses = uses + 1, last_used_at = ? "
                               "WHERE id = ?", (time.time(), skill_id))

    def use_of(self, reply_id: int) -> SkillUse | None:
        row = self.database.connection().execute(
            "SELECT reply_id, skill_id, kind, similarity, outcome FROM skill_uses "
            "WHERE reply_id = ?", (reply_id,)).fetchone()
        return SkillUse(*row) if row else None

    def uses_of(self, reply_ids: list[int]) -> dict[int, SkillUse]:
        if not reply_ids:
            return {}
        marks = ",".join("?" * len(reply_ids))
        rows = self.database.connection().execute(
            "SELECT reply_id, skill_id, kind, similarity, outcome FROM skill_uses "
            f"WHERE reply_id IN ({marks})", reply_ids)
        return {row[0]: SkillUse(*row) for row in rows}

    def set_outcome(self, reply_id: int, skill_id: int, outcome: str, previous: str | None,
                    confidence: float) -> None:
        """The user's verdict on a use: its outcome, the skill's counts and confidence (a
        verdict that replaces an earlier one moves its count across)."""
        success, failure = int(outcome == "success"), int(outcome == "failure")
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute("UPDATE skill_uses SET outcome = ? WHERE reply_id = ?",
                               (outcome, reply_id))
            connection.execute(
                "UPDATE skills SET confidence = ?, successes = successes + ? - ?, "
                "failures = failures + ? - ? WHERE id = ?",
                (confidence, success, int(previous == "success"), failure,
                 int(previous == "failure"), skill_id))

    def set_confidence(self, skill_id: int, confidence: float, *, success: bool) -> None:
        column = "successes" if success else "failures"
        self._execute(f"UPDATE skills SET confidence = ?, {column} = {column} + 1 "
                      "WHERE id = ?", (confidence, skill_id))

    def replace_result(self, skill_id: int, result: str, steps: dict[str, Any],
                       confidence: float, source_reply_id: int | None) -> Skill:
        """A newer accepted reply to the same request takes the old one's place."""
        self._execute(
            "UPDATE skills SET result = ?, steps = ?, confidence = ?, source_reply_id = ?, "
            "state = 'active', archived_at = NULL WHERE id = ?",
            (result, json.dumps(steps, ensure_ascii=False), confidence, source_reply_id,
             skill_id))
        return self.require(skill_id)

    def archive_weak(self, below: float, unused_since: float) -> int:
        """Archive unpinned skills trusted less than ``below`` and not used since
        ``unused_since`` (epoch seconds); how many were archived."""
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "UPDATE skills SET state = 'archived', archived_at = ? WHERE state = 'active' "
                "AND pinned = 0 AND confidence < ? AND coalesce(last_used_at, created_at) <= ?",
                (time.time(), below, unused_since))
            return connection.changes()

    def _execute(self, sql: str, params: tuple) -> None:
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(sql, params)
