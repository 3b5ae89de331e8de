"""Keeping the vector index complete: which messages, facts and summaries still need a
vector, and the background thread that embeds them in batches so the user never waits.

A message compressed before it got its vector is embedded from its archived original,
not from the summary that replaced it in ``messages``: search should find it by what was
said, as the archive's full-text index does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import apsw
import numpy as np

from nexus_desktop.embed.model import EmbeddingModel
from nexus_desktop.embed.vectors import KINDS, VectorIndex
from nexus_desktop.errors import StoreError
from nexus_desktop.store.archive import original
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

# Two messages at least this similar (all-MiniLM-L6-v2 cosine) are about the same topic.
SAME_TOPIC = 0.7
# How many same-topic neighbours a new message is linked to, at most.
TOPIC_NEIGHBOURS = 2

# A fact changed after it was embedded (an edit) is embedded again; a change stamped in
# the future (the clock was set back) waits for its time rather than repeating forever.
_PENDING = {
    "fact": """
        SELECT f.id, f.text FROM facts f
        LEFT JOIN embeddings e ON e.kind = 'fact' AND e.item_id = f.id AND e.model = :model
        WHERE f.status = 'active'
          AND (e.item_id IS NULL OR e.created_at < f.updated_at AND f.updated_at <= :now)
        ORDER BY f.id LIMIT :limit""",
    "summary": """
        SELECT s.id, s.text FROM summaries s
        WHERE NOT EXISTS (SELECT 1 FROM embeddings e
                          WHERE e.kind = 'summary' AND e.item_id = s.id AND e.model = :model)
        ORDER BY s.id LIMIT :limit""",
    # Newest first: the current conversation becomes searchable before an old backlog.
    # The third column says whether the archive holds the message's original text.
    "message": """
        SELECT m.id, m.content,
               EXISTS (SELECT 1 FROM message_archive a WHERE a.message_id = m.id)
        FROM messages m
        WHERE m.id > :after AND m.status IN ('complete', 'cancelled', 'interrupted')
          AND trim(m.content, char(32, 9, 10, 13)) != ''
          AND NOT EXISTS (SELECT 1 FROM embeddings e
                          WHERE e.kind = 'message' AND e.item_id = m.id AND e.model = :model)
        ORDER BY m.id DESC LIMIT :limit""",
}
_STALE_FACTS = """
    SELECT e.item_id FROM embeddings e LEFT JOIN facts f ON f.id = e.item_id
    WHERE e.kind = 'fact' AND (f.id IS NULL OR f.status != 'active')"""

# The highest message id below which every message has had its final text and status
# (no reply still being written), starting from a known one.
_SETTLED = """
    SELECT coalesce((SELECT min(id) - 1 FROM messages WHERE id > ?1 AND status = 'streaming'),
                    (SELECT max(id) FROM messages), ?1)"""


def pending_items(database: Database, model_name: str, limit: int,
                  after_id: int = 0) -> list[tuple[str, int, str]]:
    """Up to ``limit`` (kind, id, text) without a vector of this model: facts, then
    summaries, then messages (only those after message ``after_id``)."""
    items: list[tuple[str, int, str]] = []
    connection = database.connection()
    with translate_errors(database.path):
        for kind in ("fact", "summary", "message"):
            if len(items) >= limit:
                break
            rows = connection.execute(_PENDING[kind], {
                "model": model_name, "limit": limit - len(items), "after": after_id,
                "now": time.time()}).fetchall()
            if kind == "message":
                rows = [(item_id, _original_text(connection, item_id, text) if archived
                         else text) for item_id, text, archived in rows]
            items.extend((kind, item_id, text) for item_id, text in rows)
    return items


def _original_text(connection: apsw.Connection, message_id: int, content: str) -> str:
    """The archived original of a compressed message, or ``content`` (its summary) when
    the archive row is damaged: a vector of the summary beats none, and the damage is
    for `doctor` to report."""
    try:
        return original(connection, message_id) or content
    except StoreError:
        log.warning("the archived original of message %d is damaged; embedding its summary",
                    message_id)
        return content


def settled_message_id(database: Database, after_id: int) -> int:
    """Messages up to this id will not change status any more (see ``IndexWorker``)."""
    with translate_errors(database.path):
        return database.connection().execute(_SETTLED, (after_id,)).get


def stale_fact_ids(database: Database) -> list[int]:
    """Facts that have a vector but were superseded, forgotten or erased since."""
    with translate_errors(database.path):
        return [row[0] for row in database.connection().execute(_STALE_FACTS)]


def index_batch(database: Database, model: EmbeddingModel, index: VectorIndex,
                batch_size: int, after_id: int = 0) -> int:
    """Drop stale fact vectors, then embed and store one batch; returns how many."""
    if model.name != index.model_name:
        raise ValueError(f"the index holds {index.model_name} vectors, not {model.name}")
    stale = stale_fact_ids(database)
    if stale:
        index.remove("fact", stale)
    # Stamped with the time they were read, so an edit made while they are embedded
    # makes them pending again.
    read_at = time.time()
    items = pending_items(database, model.name, batch_size, after_id)
    if not items:
        return 0
    vectors = model.encode([text for _, _, text in items], batch_size)
    for kind in KINDS:
        rows = [row for row, item in enumerate(items) if item[0] == kind]
        if rows:
            index.add(kind, [items[row][1] for row in rows], vectors[rows], created_at=read_at)
    messages = [row for row, item in enumerate(items) if item[0] == "message"]
    if messages:
        link_same_topic(database, index, [items[row][1] for row in messages], vectors[messages])
    return len(items)


def link_same_topic(database: Database, index: VectorIndex, ids: list[int],
                    vectors: np.ndarray) -> int:
    """Link each message to its nearest others when they are about the same topic, so
    that retrieval, finding one, can follow the link to the other; returns the links made.

    A link joins the newer message (source) to the older (destination), once.
    """
    now = time.time()
    rows = set()
    for item_id, vector in zip(ids, vectors, strict=True):
        for _kind, other, cosine in index.search(vector, TOPIC_NEIGHBOURS + 1, ("message",)):
            if other != item_id and cosine >= SAME_TOPIC:
                rows.add((max(item_id, other), min(item_id, other), round(float(cosine), 4)))
    if not rows:
        return 0
    connection = database.connection()
    with translate_errors(database.path), write_transaction(connection):
        connection.executemany(
            "INSERT OR IGNORE INTO links(src_kind, src_id, relation, dst_kind, dst_id, weight, "
            "created_at) VALUES ('message', ?, 'same_topic', 'message', ?, ?, ?)",
            [(*row, now) for row in rows])
    return len(rows)


def index_pending(database: Database, model: EmbeddingModel, index: VectorIndex,
                  batch_size: int) -> int:
    """Embed everything still pending, one batch at a time; returns how many."""
    total = 0
    while done := index_batch(database, model, index, batch_size):
        total += done
    return total


class IndexWorker:
    """Owns the index thread: it loads the embedding model on first use and indexes
    whatever is pending each time it is notified (after each new message, fact or
    summary). Errors are logged and kept in ``last_error``; the thread carries on.

    The first pass looks at every message; later passes only at messages after the last
    settled one, so a notice costs little however long the conversation has grown.
    """

    def __init__(self, database: Database, index: VectorIndex,
                 load_model: Callable[[], EmbeddingModel], batch_size: int = 32) -> None:
        self.database = database
        self.index = index
        self.batch_size = batch_size
        self.indexed = 0
        self.last_error: Exception | None = None
        self._load_model = load_model
        self._model: EmbeddingModel | None = None
        self._model_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._after_id = 0
        self._wake = threading.Event()
        self._idle = threading.Event()
        # Makes "nothing pending and no new notice" one step, so wait_idle cannot return
        # True for a notice that arrived while the last pass was finishing.
        self._state_lock = threading.Lock()

    @property
    def model(self) -> EmbeddingModel | None:
        return self._model

    def unload_model(self) -> bool:
        """Let the embedding model go (memory pressure); it is loaded again when next
        needed. Returns whether one was loaded."""
        with self._model_lock:
            loaded, self._model = self._model is not None, None
        return loaded

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the index thread has already been started")
        self._thread = threading.Thread(target=self._run, name="nexus-index", daemon=True)
        self.notify()
        self._thread.start()

    def notify(self) -> None:
        """Something new may need a vector."""
        with self._state_lock:
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is pending; False if that did not happen within ``timeout``."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Finish the current batch, then end the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of ``text``; safe from any thread, also while a batch runs."""
        return self._ensure_model().encode([text])[0]

    def _ensure_model(self) -> EmbeddingModel:
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            try:
                self._index_all()
            except Exception as exc:
                log.exception("indexing messages for memory search failed")
                self.last_error = exc
                continue
            with self._state_lock:
                if not self._wake.is_set():
                    self._idle.set()

    def _index_all(self) -> None:
        model = self._ensure_model()
        # Taken before the pass: a message written during it has a higher id.
        settled = settled_message_id(self.database, self._after_id)
        while not self._stopping:
            done = index_batch(self.database, model, self.index, self.batch_size,
                               self._after_id)
            if not done:
                self._after_id = settled
                return
            self.indexed += done
