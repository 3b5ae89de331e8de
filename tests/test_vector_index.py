"""VectorIndex on a real SQLite file: exact top-k against brute force, kinds, replace and
remove, persistence across reopening, growth, bad input, and searching while adding."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nexus_desktop.embed.vectors import VectorIndex
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database

DIM = 384


def unit(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """Row numbers of the k best, scored in float64 on the float16-rounded vectors."""
    scores = vectors.astype(np.float16).astype(np.float64) @ query.astype(np.float64)
    return np.argsort(-scores, kind="stable")[:k].tolist()


def test_search_returns_the_exact_top_k_best_first(db: Database):
    vectors = unit(3000)
    index = VectorIndex(db, "test-model")
    index.add("message", range(1, 3001), vectors)
    assert len(index) == 3000
    rng = np.random.default_rng(5)
    for row in rng.integers(0, 3000, 20):
        query = vectors[row] + rng.standard_normal(DIM).astype(np.float32) * 0.05
        query /= np.linalg.norm(query)
        found = index.search(query, 10)
        assert [item_id - 1 for _, item_id, _ in found] == brute_force(vectors, query, 10)
        scores = [score for _, _, score in found]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores[0], vectors[found[0][1] - 1] @ query, atol=2e-3)


def test_kinds_are_kept_apart(db: Database):
    messages, facts = unit(50, seed=1), unit(50, seed=2)
    index = VectorIndex(db, "test-model")
    index.add("message", range(1, 51), messages)
    index.add("fact", range(1, 51), facts)
    assert len(index) == 100
    hits = index.search(facts[7], 5, kinds=("fact",))
    assert all(kind == "fact" for kind, _, _ in hits)
    assert hits[0][:2] == ("fact", 8)
    assert index.search(facts[7], 3, kinds=("message",))[0][0] == "message"
    assert index.search(facts[7], 1)[0][:2] == ("fact", 8)
    assert index.search(facts[7], 5, kinds=("summary",)) == []
    assert index.search(facts[7], 5, kinds=()) == []


def test_replace_and_remove(db: Database):
    vectors = unit(20)
    index = VectorIndex(db, "test-model")
    index.add("message", range(1, 21), vectors)
    replacement = unit(1, seed=9)
    index.add("message", [5], replacement)
    assert len(index) == 20
    assert index.search(replacement[0], 1)[0][1] == 5
    assert index.search(vectors[4], 1)[0][1] != 5

    index.remove("message", [1, 7, 20, 999])
    assert len(index) == 17
    remaining = [i for i in range(1, 21) if i not in (1, 5, 7, 20)]
    for item_id in remaining:
        assert index.search(vectors[item_id - 1], 1)[0][1] == item_id
    assert {item_id for _, item_id, _ in index.search(vectors[0], 50)} == {*remaining, 5}
    stored = db.connection().execute("SELECT count(*) FROM embeddings").get
    assert stored == 17


def test_vectors_survive_reopening_the_database(paths: AppPaths):
    vectors = unit(500)
    first = Database(paths.database, paths.backups_dir)
    first.open()
    index = VectorIndex(first, "test-model")
    index.add("message", range(1, 401), vectors[:400])
    index.add("summary", range(1, 101), vectors[400:])
    index.remove("message", [3])
    query = vectors[123]
    before = index.search(query, 10)
    first.close()

    second = Database(paths.database, paths.backups_dir)
    second.open()
    try:
        reloaded = VectorIndex(second, "test-model")
        assert reloaded.load() == 499
        assert reloaded.search(query, 10) == before
        assert reloaded.search(vectors[450], 1)[0][:2] == ("summary", 51)
        assert VectorIndex(second, "another-model").load() == 0
        lengths = second.connection().execute(
            "SELECT DISTINCT length(vector) FROM embeddings").fetchall()
        assert lengths == [(DIM * 2,)]  # float16
    finally:
        second.close()


def test_growing_one_small_batch_at_a_time(db: Database):
    vectors = unit(2600)
    index = VectorIndex(db, "test-model")
    for start in range(0, 2600, 13):
        index.add("message", range(start + 1, start + 14), vectors[start:start + 13])
    assert len(index) == 2600
    for row in (0, 1023, 1024, 1536, 2599):
        assert index.search(vectors[row], 1)[0][1] == row + 1


def test_empty_index_and_large_k(db: Database):
    index = VectorIndex(db, "test-model")
    assert index.search(unit(1)[0], 10) == []
    assert index.load() == 0
    index.add("fact", [1, 2], unit(2))
    assert len(index.search(unit(1, seed=3)[0], 100)) == 2
    assert index.search(unit(1)[0], 0) == []


def test_bad_input_is_refused(db: Database):
    index = VectorIndex(db, "test-model")
    with pytest.raises(ValueError, match="unknown kind"):
        index.add("note", [1], unit(1))
    with pytest.raises(ValueError, match="expected 2 vectors"):
        index.add("message", [1, 2], unit(1))
    index.add("message", [1], unit(1))
    with pytest.raises(ValueError, match="dimension 384"):
        index.add("message", [2], np.ones((1, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        index.search(np.ones(10, dtype=np.float32), 3)
    with pytest.raises(ValueError, match="unknown kind"):
        index.search(unit(1)[0], 3, kinds=("notes",))
    assert len(index) == 1


def test_searching_while_another_thread_adds(db: Database):
    vectors = unit(2000)
    index = VectorIndex(db, "test-model")
    index.add("message", range(1, 101), vectors[:100])
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for start in range(100, 2000, 50):
                index.add("message", range(start + 1, start + 51), vectors[start:start + 50])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        assert index.search(vectors[42], 1)[0][1] == 43
    thread.join()
    assert errors == []
    assert len(index) == 2000
    assert index.search(vectors[1999], 1)[0][1] == 2000
