"""The learner's examples in the database: new ones waiting for their surprise, the known
ones skipped, and the replay history with priorities.

Examples come from facts (question/answer pairs, written by the fact store), completed
exchanges, replies the user marked good, the user's corrections, and the Ollama teacher.
Forgetting a fact deletes its rows, so ``existing`` is how the replay buffer learns that
an example has gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from nexus_desktop.errors import InputError
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import Message

# Which new examples the learner measures first: what the user asked for, then facts,
# then the conversation, then the teacher's general knowledge.
KIND_ORDER = {"correction": 0, "good": 1, "skill": 1, "fact_qa": 2, "exchange": 3,
              "teacher": 4}
# A correction, a reply marked good or one kept as a skill enters replay this much more
# likely to be drawn.
USER_MARKED_BOOST = 2.0
BOOSTED_KINDS = frozenset({"correction", "good", "skill"})


@dataclass(frozen=True)
class Example:
    id: int
    kind: str
    prompt: str
    target: str
    topic: str | None = None


class ExampleStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def new_examples(self, limit: int, topic: str | None = None) -> list[Example]:
        """Examples whose surprise was never measured, most important first."""
        order = " ".join(f"WHEN '{kind}' THEN {rank}" for kind, rank in KIND_ORDER.items())
        where = "state = 'new'"
        params: list[object] = []
        if topic is not None:
            # Training on a topic: the teacher's examples on it come before everything.
            order = f"WHEN 'teacher' THEN (CASE WHEN topic = ? THEN -1 ELSE 9 END) {order}"
            params.append(topic)
        rows = self.database.connection().execute(
            f"SELECT id, kind, prompt, target, topic FROM training_examples WHERE {where} "
            f"ORDER BY CASE kind {order} ELSE 8 END, id LIMIT ?", (*params, limit))
        return [Example(*row) for row in rows]

    def get(self, ids: Iterable[int]) -> dict[int, Example]:
        wanted = list(ids)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self.database.connection().execute(
            f"SELECT id, kind, prompt, target, topic FROM training_examples WHERE id IN ({marks})",
            wanted)
        return {row[0]: Example(*row) for row in rows}

    def replay_rows(self) -> list[tuple[int, float]]:
        """(id, priority) of every example in the replay history, oldest first."""
        return list(self.database.connection().execute(
            "SELECT id, priority FROM training_examples WHERE state = 'replay' ORDER BY id"))

    def replay_ids(self) -> set[int]:
        return {row[0] for row in self.database.connection().execute(
            "SELECT id FROM training_examples WHERE state = 'replay'")}

    def record_surprise(self, measured: list[tuple[Example, float]], threshold: float) -> None:
        """Two-tick gate: below the threshold an example is known; above, it is replayed."""
        rows = []
        for example, loss in measured:
            known = loss < threshold
            boost = USER_MARKED_BOOST if example.kind in BOOSTED_KINDS else 1.0
            rows.append(("known" if known else "replay", loss, None if known else loss * boost,
                         loss, example.id))
        self._write(
            "UPDATE training_examples SET state = ?, surprise = ?, priority = ?, last_loss = ? "
            "WHERE id = ?", rows)

    def measure_again(self, ids: Iterable[int]) -> None:
        """Back to 'new': their surprise and priority were measured with weights that
        were rolled back, so they are measured again with the weights in use."""
        self._write("UPDATE training_examples SET state = 'new', priority = NULL "
                    "WHERE id = ? AND state != 'new'", [(i,) for i in ids])

    def record_training(self, losses: list[tuple[int, float]], boosts: dict[int, float]) -> None:
        """New priorities (the loss just measured) of examples a step trained on."""
        self._write(
            "UPDATE training_examples SET priority = ?, last_loss = ?, "
            "times_trained = times_trained + 1 WHERE id = ?",
            [(loss * boosts.get(i, 1.0), loss, i) for i, loss in losses])

    def existing(self, ids: Iterable[int]) -> set[int]:
        return set(self.get(ids))

    def counts(self) -> dict[str, int]:
        """Examples by state, and the teacher's examples."""
        connection = self.database.connection()
        counts = {state: 0 for state in ("new", "known", "replay")}
        counts.update(dict(connection.execute(
            "SELECT state, count(*) FROM training_examples GROUP BY state")))
        counts["teacher"] = connection.execute(
            "SELECT count(*) FROM training_examples WHERE kind = 'teacher'").get or 0
        return counts

    def add_exchange(self, user_message: Message, reply: Message) -> None:
        """A completed exchange: the user's message and the reply that was accepted."""
        self._insert("exchange", user_message.content, reply.content, reply.id)

    def mark_good(self, user_message: Message, reply: Message) -> None:
        """The user liked this reply: learn it with a higher priority."""
        self._replace_exchange(reply.id, "good", user_message.content, reply.content)

    def mark_skill(self, user_message: Message, reply: Message) -> None:
        """The reply was kept as a skill: learn it with a higher priority, unless the user
        already marked or corrected it (which says more)."""
        kinds = {row[0] for row in self.database.connection().execute(
            "SELECT kind FROM training_examples WHERE source_kind = 'message' "
            "AND source_id = ?", (reply.id,))}
        if not kinds & {"good", "correction"}:
            self._replace_exchange(reply.id, "skill", user_message.content, reply.content)

    def reject(self, reply: Message) -> None:
        """The user marked this reply bad: it is never learned (it leaves the replay buffer
        at the learner's next slice)."""
        self._write("DELETE FROM training_examples WHERE source_kind = 'message' "
                    "AND source_id = ?", [(reply.id,)])

    def correct(self, user_message: Message, reply: Message, better: str) -> None:
        """The user wrote the reply they wanted; it replaces the one given as an example."""
        if not better.strip():
            raise InputError("A correction needs the reply you wanted, for example: "
                             "/correct Your sister's name is Ola.")
        self._replace_exchange(reply.id, "correction", user_message.content, better.strip())

    def log_event(self, kind: str, detail: dict[str, object]) -> None:
        self._write("INSERT INTO learning_events(at, kind, detail) VALUES (?, ?, ?)",
                    [(time.time(), kind, json.dumps(detail, ensure_ascii=False))])

    def events(self, limit: int = 20) -> list[tuple[float, str, dict[str, object]]]:
        rows = self.database.connection().execute(
            "SELECT at, kind, detail FROM learning_events ORDER BY id DESC LIMIT ?", (limit,))
        return [(at, kind, json.loads(detail) if detail else {}) for at, kind, detail in rows]

    def _replace_exchange(self, reply_id: int, kind: str, prompt: str, target: str) -> None:
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.execute(
                "DELETE FROM training_examples WHERE source_kind = 'message' AND source_id = ?",
                (reply_id,))
            connection.execute(
                "INSERT INTO training_examples(kind, prompt, target, source_kind, source_id, "
                "created_at) VALUES (?, ?, ?, 'message', ?, ?)",
                (kind, prompt, target, reply_id, time.time()))

    def _insert(self, kind: str, prompt: str, target: str, reply_id: int) -> None:
        self._write(
            "INSERT INTO training_examples(kind, prompt, target, source_kind, source_id, "
            "created_at) VALUES (?, ?, ?, 'message', ?, ?)",
            [(kind, prompt, target, reply_id, time.time())])

    def _write(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        connection = self.database.connection()
        with translate_errors(self.database.path), write_transaction(connection):
            connection.executemany(sql, rows)
