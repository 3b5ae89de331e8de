"""The facts table: what the user told about themselves, kept current and forgettable.

At most one fact per (subject, key) is active: a new value supersedes the old row, which
is kept (status ``superseded``, ``superseded_by`` the new id). Everything derived from a
fact (its question/answer training examples, its vector, its links) is written and
removed in the same transaction as the fact, so forgetting a fact takes it out of
context, retrieval and training at once. ``forget(erase=True)`` leaves no trace of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import apsw

from nexus_desktop.errors import FactError, FactNotFoundError
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.fact_phrasing import fact_questions, fact_sentence, normalise_key
from nexus_desktop.store.messages import fts_query
from nexus_desktop.store.snippets import WORD

_COLUMNS = (
    "id, subject, key, value, text, status, pinned, confidence, extractor, source_message_id, "
    "superseded_by, created_at, updated_at, retrieval_count, last_retrieved_at"
)
_ORDER = "ORDER BY status = 'active' DESC, pinned DESC, updated_at DESC, id DESC"
EXAMPLE_KIND = "fact_qa"
# Words every fact sentence or question has; searching for them finds nothing in particular.
_STOP_TEXT = """
a an the is are am was were be my me i you your what whats who where when which how do does
did of to in on at for and or s user users about tell remember know again please
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())


class Statement(Protocol):
    """What ``remember`` needs of a fact found in a message (memory.facts.FactCandidate)."""

    @property
    def subject(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float: ...


@dataclass(frozen=True)
class Fact:
    id: int
    subject: str
    key: str
    value: str
    text: str
    status: str
    pinned: bool
    confidence: float
    extractor: str
    source_message_id: int | None
    superseded_by: int | None
    created_at: float
    updated_at: float
    retrieval_count: int
    last_retrieved_at: float | None

    @classmethod
    def from_row(cls, row: Sequence) -> Fact:
        values = list(row)
        values[6] = bool(values[6])
        return cls(*values)


def _same_value(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class FactStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # --- reading ---------------------------------------------------------------------

    def get(self, fact_id: int) -> Fact | None:
        row = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM facts WHERE id = ?", (fact_id,)
        ).fetchone()
        return Fact.from_row(row) if row else None

    def active(self) -> list[Fact]:
        """The facts in force: pinned first, then the most recently stated."""
        return self.all(include_inactive=False)

    def count_active(self) -> int:
        return self.database.connection().execute(
            "SELECT count(*) FROM facts WHERE status = 'active'").get or 0

    def all(self, include_inactive: bool = True) -> list[Fact]:
        """Active facts first (as ``active``), then superseded and forgotten ones, newest first."""
        where = "" if include_inactive else "WHERE status = 'active'"
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM facts {where} {_ORDER}"
        ).fetchall()
        return [Fact.from_row(row) for row in rows]

    def search(self, text: str, limit: int) -> list[tuple[Fact, float]]:
        """Active facts matching any word of ``text``, best first, scored by BM25 (higher
        is better). Words are matched as prefixes ("live" finds "lives") and in the keys'
        one spelling ("favourite colour" finds "favorite color")."""
        words = dict.fromkeys(normalise_key(" ".join(WORD.findall(text))).split())
        terms = [fts_query(word) for word in words if word not in _STOP_WORDS]
        query = " OR ".join(f"{term} *" for term in terms if term)
        if not query:
            return []
        rows = self.database.connection().execute(
            f"SELECT {', '.join('f.' + c.strip() for c in _COLUMNS.split(','))}, "
            "bm25(facts_fts) FROM facts_fts JOIN facts AS f ON f.id = facts_fts.rowid "
            "WHERE facts_fts MATCH ? AND f.status = 'active' ORDER BY bm25(facts_fts) LIMIT ?",
            (query, limit),
        ).fetchall()
        return [(Fact.from_row(row[:-1]), -row[-1]) for row in rows]

    # --- writing ---------------------------------------------------------------------

    def remember(self, candidate: Statement, source_message_id: int | None,
                 extractor: str = "pattern") -> Fact:
        """Store a stated fact and return it as stored.

        The same value again refreshes the active fact (time, confidence, another source
        link); a different value supersedes it, and the new fact stays pinned if the old
        one was. A fact the user forgot is not brought back by reading the same message
        again: the forgotten row is returned unchanged.
        """
        now = time.time()
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            current = self._find(connection, "status = 'active' AND subject = ? AND key = ?",
                                 (candidate.subject, candidate.key))
            if current is not None and _same_value(current.value, candidate.value):
                connection.execute(
                    "UPDATE facts SET updated_at = ?, confidence = max(confidence, ?) "
                    "WHERE id = ?", (now, candidate.confidence, current.id))
                self._link(connection, current.id, source_message_id, now)
                return self._require(connection, current.id)
            if source_message_id is not None:
                forgotten = self._find(
                    connection, "status = 'forgotten' AND subject = ? AND key = ? "
                    "AND source_message_id = ? AND lower(value) = lower(?)",
                    (candidate.subject, candidate.key, source_message_id, candidate.value))
                if forgotten is not None:
                    return forgotten
            if current is not None:
                connection.execute(
                    "UPDATE facts SET status = 'superseded', pinned = 0, updated_at = ? "
                    "WHERE id = ?", (now, current.id))
                self._drop_derived(connection, current.id, links=False)
            fact = Fact.from_row(connection.execute(
                "INSERT INTO facts(subject, key, value, text, pinned, confidence, extractor, "
                "source_message_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_COLUMNS}",
                (candidate.subject, candidate.key, candidate.value, candidate.text,
                 current is not None and current.pinned, candidate.confidence, extractor,
                 source_message_id, now, now),
            ).fetchone())
            if current is not None:
                connection.execute("UPDATE facts SET superseded_by = ? WHERE id = ?",
                                   (fact.id, current.id))
            self._link(connection, fact.id, source_message_id, now)
            self._write_examples(connection, fact, now)
        return fact

    def edit(self, fact_id: int, value: str) -> Fact:
        """Give an active fact a new value (the user's word: confidence 1, extractor
        ``user``); its sentence and training examples are rewritten and it is embedded
        again. The old value is kept in the audit."""
        value = " ".join(value.split())
        if not value:
            raise FactError("A fact's new value cannot be empty. To drop the fact, forget it.")
        now = time.time()
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            fact = self._require_active(connection, fact_id, "edited")
            if value == fact.value:
                return fact
            connection.execute(
                "UPDATE facts SET value = ?, text = ?, confidence = 1.0, extractor = 'user', "
                "updated_at = ? WHERE id = ?",
                (value, fact_sentence(fact.subject, fact.key, value), now, fact_id))
            self._audit(connection, fact_id, "edit", {"from": fact.value, "to": value}, now)
            self._drop_derived(connection, fact_id, links=False)
            edited = self._require(connection, fact_id)
            self._write_examples(connection, edited, now)
        return edited

    def pin(self, fact_id: int, pinned: bool = True) -> Fact:
        """Pinned facts go into every turn's context, before any other fact."""
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            fact = (self._require_active(connection, fact_id, "pinned") if pinned
                    else self._require(connection, fact_id))
            if fact.pinned == pinned:
                return fact
            connection.execute("UPDATE facts SET pinned = ? WHERE id = ?", (pinned, fact_id))
            self._audit(connection, fact_id, "pin" if pinned else "unpin", None, time.time())
            return self._require(connection, fact_id)

    def forget(self, fact_id: int, erase: bool = False) -> None:
        """Take a fact out of context, retrieval and training.

        Forgetting keeps the row (status ``forgotten``) and an audit record of what it
        said. Erasing deletes the row, its audit records and everything made from it, and
        rebuilds the full-text index, so no table holds the value any more (the message it
        came from is the user's history and stays).
        """
        connection = self.database.connection()
        if erase:
            self._erase(connection, fact_id)
            return
        now = time.time()
        with translate_errors(self.database.path), write_transaction(connection):
            fact = self._require(connection, fact_id)
            if fact.status == "forgotten":
                return
            connection.execute(
                "UPDATE facts SET status = 'forgotten', pinned = 0, updated_at = ? WHERE id = ?",
                (now, fact_id))
            self._drop_derived(connection, fact_id, links=True)
            self._audit(connection, fact_id, "forget", {
                "subject": fact.subject, "key": fact.key, "value": fact.value,
                "text": fact.text, "status": fact.status}, now)

    def _erase(self, connection: apsw.Connection, fact_id: int) -> None:
        with translate_errors(self.database.path), write_transaction(connection):
            self._require(connection, fact_id)
            self._drop_derived(connection, fact_id, links=True)
            connection.execute("UPDATE facts SET superseded_by = NULL WHERE superseded_by = ?",
                               (fact_id,))
            connection.execute("DELETE FROM fact_audit WHERE fact_id = ?", (fact_id,))
            connection.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
            # A delete only adds a "gone" marker, holding the words, to the full-text
            # index; merging its segments drops both the words and the marker.
            connection.execute("INSERT INTO facts_fts(facts_fts) VALUES ('optimize')")

    def touch(self, fact_ids: Iterable[int]) -> None:
        """Count that these facts were used in a prompt, and when."""
        ids = list(dict.fromkeys(fact_ids))
        if not ids:
            return
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "UPDATE facts SET retrieval_count = retrieval_count + 1, last_retrieved_at = ? "
                f"WHERE id IN ({','.join('?' * len(ids))})", (time.time(), *ids))

    # --- helpers (inside a transaction) ------------------------------------------------

    @staticmethod
    def _find(connection: apsw.Connection, where: str, bindings: tuple) -> Fact | None:
        row = connection.execute(
            f"SELECT {_COLUMNS} FROM facts WHERE {where} ORDER BY id DESC LIMIT 1", bindings
        ).fetchone()
        return Fact.from_row(row) if row else None

    def _require(self, connection: apsw.Connection, fact_id: int) -> Fact:
        fact = self._find(connection, "id = ?", (fact_id,))
        if fact is None:
            raise FactNotFoundError(f"There is no fact with ID {fact_id}.")
        return fact

    def _require_active(self, connection: apsw.Connection, fact_id: int, doing: str) -> Fact:
        fact = self._require(connection, fact_id)
        if fact.status == "superseded":
            raise FactError(f"Fact {fact_id} was replaced by fact {fact.superseded_by}, so it "
                            f"cannot be {doing}; change fact {fact.superseded_by} instead.")
        if fact.status != "active":
            raise FactError(f"Fact {fact_id} was forgotten, so it cannot be {doing}. Tell "
                            "Nexus Desktop the fact again if it should be remembered.")
        return fact

    @staticmethod
    def _link(connection: apsw.Connection, fact_id: int, message_id: int | None,
              now: float) -> None:
        if message_id is None:
            return
        connection.execute(
            "INSERT OR IGNORE INTO links(src_kind, src_id, relation, dst_kind, dst_id, "
            "created_at) VALUES ('fact', ?, 'fact_source', 'message', ?, ?)",
            (fact_id, message_id, now))

    @staticmethod
    def _write_examples(connection: apsw.Connection, fact: Fact, now: float) -> None:
        connection.executemany(
            "INSERT INTO training_examples(kind, prompt, target, source_kind, source_id, "
            "created_at) VALUES (?, ?, ?, 'fact', ?, ?)",
            [(EXAMPLE_KIND, question, answer, fact.id, now)
             for question, answer in fact_questions(fact.subject, fact.key, fact.value)])

    @staticmethod
    def _drop_derived(connection: apsw.Connection, fact_id: int, *, links: bool) -> None:
        """Remove the fact's training examples and vector (and its links, when asked)."""
        connection.execute(
            "DELETE FROM training_examples WHERE source_kind = 'fact' AND source_id = ?",
            (fact_id,))
        connection.execute("DELETE FROM embeddings WHERE kind = 'fact' AND item_id = ?",
                           (fact_id,))
        if links:
            connection.execute(
                "DELETE FROM links WHERE (src_kind = 'fact' AND src_id = ?) "
                "OR (dst_kind = 'fact' AND dst_id = ?)", (fact_id, fact_id))

    @staticmethod
    def _audit(connection: apsw.Connection, fact_id: int, action: str,
               detail: dict[str, object] | None, now: float) -> None:
        connection.execute(
            "INSERT INTO fact_audit(fact_id, action, at, detail) VALUES (?, ?, ?, ?)",
            (fact_id, action, now, json.dumps(detail, ensure_ascii=False) if detail else None))
