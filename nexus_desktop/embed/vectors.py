"""The vector index: every embedding of one model as a float16 matrix in RAM, searched by
brute force, and persisted row by row in the ``embeddings`` table.

benchmarks/bench_vector_index.py chose this over int8 rows, float32 and the sqlite-vec
extension (figures in BENCHMARKS.md): torch's float16 matrix-vector product accumulates in
float32 and scans 100k vectors in a few milliseconds, at half the RAM of float32.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence

import numpy as np
import torch

from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

KINDS = ("message", "fact", "summary")
_CODE = {kind: code for code, kind in enumerate(KINDS)}
# Room for this many rows at first; then the matrix grows by half, so adding n vectors one
# batch at a time copies O(n) in all.
_MIN_CAPACITY = 1024


class VectorIndex:
    """Thread-safe: the index thread adds while other threads search."""

    def __init__(self, database: Database, model_name: str) -> None:
        self.database = database
        self.model_name = model_name
        self.dim: int | None = None
        self._vectors = np.zeros((0, 0), dtype=np.float16)
        self._kinds = np.zeros(0, dtype=np.int8)
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows: dict[tuple[str, int], int] = {}
        self._count = 0
        # _lock guards the arrays (held briefly); _write_lock keeps the database and the
        # arrays in the same order of changes without making searches wait for a commit.
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def load(self) -> int:
        """Read every stored vector of this model into RAM, replacing what was there."""
        connection = self.database.connection()
        with self._write_lock, translate_errors(self.database.path):
            total = connection.execute(
                "SELECT count(*) FROM embeddings WHERE model = ?", (self.model_name,)
            ).get
            with self._lock:
                self._clear()
                for kind, item_id, blob in connection.execute(
                    "SELECT kind, item_id, vector FROM embeddings WHERE model = ?",
                    (self.model_name,),
                ):
                    if self.dim is None:
                        self.dim = len(blob) // 2
                        self._reserve(total)
                    if len(blob) != 2 * self.dim:
                        log.warning("skipping a %s vector of %d bytes, expected %d",
                                    kind, len(blob), 2 * self.dim)
                        continue
                    self._put(kind, item_id, np.frombuffer(blob, dtype=np.float16))
        return self._count

    def add(self, kind: str, ids: Sequence[int], vectors: np.ndarray,
            created_at: float | None = None) -> None:
        """Store (or replace) the vectors of these items, on disk and in RAM;
        ``created_at`` (default now) is when their texts were read."""
        _check_kind(kind)
        rows = np.asarray(vectors, dtype=np.float16)
        if rows.ndim != 2 or rows.shape[0] != len(ids):
            raise ValueError(f"expected {len(ids)} vectors, got an array of shape {rows.shape}")
        if self.dim is not None and rows.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got {rows.shape[1]}")
        stamp = time.time() if created_at is None else created_at
        connection = self.database.connection()
        with self._write_lock:
            with translate_errors(self.database.path), write_transaction(connection):
                connection.executemany(
                    "INSERT OR REPLACE INTO embeddings(kind, item_id, model, vector, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(kind, int(i), self.model_name, row.tobytes(), stamp)
                     for i, row in zip(ids, rows, strict=True)],
                )
            with self._lock:
                self.dim = rows.shape[1]
                self._reserve(self._count + len(ids))
                for item_id, row in zip(ids, rows, strict=True):
                    self._put(kind, int(item_id), row)

    def remove(self, kind: str, ids: Sequence[int]) -> None:
        """Drop the vectors of these items, on disk and in RAM (unknown ids are ignored)."""
        _check_kind(kind)
        connection = self.database.connection()
        with self._write_lock:
            with translate_errors(self.database.path), write_transaction(connection):
                connection.executemany(
                    "DELETE FROM embeddings WHERE kind = ? AND item_id = ?",
                    [(kind, int(i)) for i in ids],
                )
            with self._lock:
                for item_id in ids:
                    self._drop(kind, int(item_id))

    def search(self, query: np.ndarray, k: int,
               kinds: Collection[str] = KINDS) -> list[tuple[str, int, float]]:
        """The ``k`` stored items most similar to the unit vector ``query``, as
        (kind, item id, cosine similarity), best first."""
        codes = [_CODE[_check_kind(kind)] for kind in kinds]
        with self._lock:
            count = self._count
            if count == 0 or k <= 0 or not codes:
                return []
            if query.shape != (self.dim,):
                raise ValueError(f"expected a query of shape ({self.dim},), got {query.shape}")
            # One torch call for the product (float32 accumulation); the rest in numpy,
            # which adds no more rounds of thread synchronisation on a busy CPU.
            matrix = torch.from_numpy(self._vectors[:count])
            half = torch.from_numpy(query.astype(np.float16))
            scores = torch.mv(matrix, half).numpy().astype(np.float32)
            if len(set(codes)) < len(KINDS):
                np.putmask(scores, ~np.isin(self._kinds[:count], codes), -np.inf)
            # The product is rounded to float16, which can swap near-equal neighbours: a
            # few more candidates than asked for are scored again in float32.
            wide = min(count, 2 * k + 8)
            positions = np.argpartition(scores, count - wide)[count - wide:]
            positions = positions[scores[positions] > -np.inf]
            exact = self._vectors[positions].astype(np.float32) @ query.astype(np.float32)
            best = np.argsort(-exact, kind="stable")[:k]
            found = zip(self._kinds[positions[best]], self._ids[positions[best]], exact[best],
                        strict=True)
        return [(KINDS[code], int(item_id), float(score)) for code, item_id, score in found]

    def _clear(self) -> None:
        self.dim = None
        self._vectors = np.zeros((0, 0), dtype=np.float16)
        self._kinds = np.zeros(0, dtype=np.int8)
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows.clear()
        self._count = 0

    def _reserve(self, rows: int) -> None:
        capacity = len(self._ids)
        if rows <= capacity and self._vectors.shape[1] == self.dim:
            return
        capacity = max(rows, capacity + capacity // 2, _MIN_CAPACITY)
        vectors = np.zeros((capacity, self.dim), dtype=np.float16)
        kinds = np.zeros(capacity, dtype=np.int8)
        ids = np.zeros(capacity, dtype=np.int64)
        if self._count:
            vectors[:self._count] = self._vectors[:self._count]
            kinds[:self._count] = self._kinds[:self._count]
            ids[:self._count] = self._ids[:self._count]
        self._vectors, self._kinds, self._ids = vectors, kinds, ids

    def _put(self, kind: str, item_id: int, row: np.ndarray) -> None:
        position = self._rows.get((kind, item_id))
        if position is None:
            position = self._count
            self._rows[(kind, item_id)] = position
            self._kinds[position] = _CODE[kind]
            self._ids[position] = item_id
            self._count += 1
        self._vectors[position] = row

    def _drop(self, kind: str, item_id: int) -> None:
        """Move the last row into the dropped one's place: O(1), order does not matter."""
        position = self._rows.pop((kind, item_id), None)
        if position is None:
            return
        last = self._count - 1
        if position != last:
            self._vectors[position] = self._vectors[last]
            self._kinds[position] = self._kinds[last]
            self._ids[position] = self._ids[last]
            self._rows[(KINDS[self._kinds[last]], int(self._ids[last]))] = position
        self._count = last


def _check_kind(kind: str) -> str:
    if kind not in _CODE:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return kind
