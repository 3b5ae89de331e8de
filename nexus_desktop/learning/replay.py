"""The prioritized replay buffer: which training examples the learner rehearses.

Every training example stays in the database; this in-memory buffer holds the ids of the
most useful part of that history (the most surprising examples) so that each learning
step can mix fresh examples with old ones and the adapter does not forget what it learned
earlier. Sampling favours high priorities (priority ** alpha) and gives each drawn
example an importance weight that corrects part of that bias (beta), as in prioritized
experience replay (Schaul et al., 2016).

The buffer stays bounded: when it reaches 90% of its capacity, the lowest priorities are
dropped until it is 75% full. Trimming in one go rather than one example at a time keeps
the cost of adding an example constant on average.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np

# Floor for priorities when sampling: an example of priority 0 can still be rehearsed.
MIN_PRIORITY = 1e-6
# Trim thresholds as fractions of capacity (numerator, denominator), kept exact in integers.
_HIGH = (9, 10)
_LOW = (3, 4)
_INITIAL_SLOTS = 1024


def _check_priority(priority: float) -> float:
    if isinstance(priority, bool) or not isinstance(priority, Real):
        raise ValueError(f"A replay priority must be a number, not {priority!r}.")
    value = float(priority)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"A replay priority must be a finite number >= 0, not {priority!r}.")
    return value


def _check_id(example_id: int) -> int:
    if isinstance(example_id, bool) or not isinstance(example_id, Integral):
        raise ValueError(f"A training example id must be an integer, not {example_id!r}.")
    return int(example_id)


class ReplayBuffer:
    """Example ids with priorities, sampled in proportion to priority ** alpha.

    Safe to share between threads: every method holds the buffer's lock.
    """

    def __init__(self, capacity: int, alpha: float, beta: float, seed: int = 0) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, Integral) or capacity < 2:
            raise ValueError(
                f"The replay buffer's capacity must be an integer of at least 2, not {capacity!r}."
            )
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not (
            math.isfinite(alpha) and alpha >= 0
        ):
            raise ValueError(f"Replay alpha must be a finite number >= 0, not {alpha!r}.")
        if isinstance(beta, bool) or not isinstance(beta, Real) or not 0 <= beta <= 1:
            raise ValueError(f"Replay beta must be a number from 0 to 1, not {beta!r}.")
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise ValueError(f"The replay seed must be an integer, not {seed!r}.")
        self.capacity = int(capacity)
        self.alpha = float(alpha)
        self.beta = float(beta)
        # The level trimming brings the buffer down to, and the level that triggers it.
        self.low_water = max(1, self.capacity * _LOW[0] // _LOW[1])
        self.high_water = max(
            self.low_water + 1, -(-self.capacity * _HIGH[0] // _HIGH[1])
        )
        self._rng = np.random.default_rng(int(seed))
        self._lock = threading.RLock()
        size = min(self.capacity, _INITIAL_SLOTS)
        # Parallel arrays over slots [0, n); _slot maps an id to its slot. _seq orders
        # examples by when they were first added, so ties in priority drop the oldest.
        self._ids = np.zeros(size, dtype=np.int64)
        self._prio = np.zeros(size, dtype=np.float64)
        self._seq = np.zeros(size, dtype=np.int64)
        self._n = 0
        self._slot: dict[int, int] = {}
        self._next_seq = 0

    # -- inspection ---------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def __contains__(self, example_id: object) -> bool:
        return example_id in self._slot

    def ids(self) -> list[int]:
        """The ids in the buffer, oldest first."""
        with self._lock:
            order = np.argsort(self._seq[: self._n], kind="stable")
            return [int(i) for i in self._ids[: self._n][order]]

    def priority(self, example_id: int) -> float:
        """The priority of an example in the buffer; KeyError if it is not there."""
        with self._lock:
            return float(self._prio[self._slot[example_id]])

    # -- changes ------------------------------------------------------------------

    def add(self, example_id: int, priority: float) -> list[int]:
        """Add an example, or set its priority if it is already there (it keeps its age).

        Returns the ids dropped by trimming, if this addition brought the buffer to 90%
        of its capacity; the new example itself is among them if its priority is lowest.
        """
        example_id = _check_id(example_id)
        value = _check_priority(priority)
        with self._lock:
            slot = self._slot.get(example_id)
            if slot is not None:
                self._prio[slot] = value
                return []
            self._append(example_id, value, self._next_seq)
            self._next_seq += 1
            if self._n >= self.high_water:
                return self._trim(self.low_water)
            return []

    def trim_to(self, count: int) -> list[int]:
        """Keep only the ``count`` highest priorities (memory pressure); returns the
        dropped ids. Their rows stay on disk and come back with the next start."""
        with self._lock:
            if self._n <= count:
                return []
            return self._trim(max(0, count))

    def update(self, example_id: int, priority: float) -> bool:
        """Set the priority of an example in the buffer; an absent id is ignored.

        Returns whether the example was there.
        """
        value = _check_priority(priority)
        with self._lock:
            slot = self._slot.get(example_id)
            if slot is None:
                return False
            self._prio[slot] = value
            return True

    def remove(self, ids: Iterable[int]) -> int:
        """Drop these examples (absent ids are ignored); returns how many were there."""
        removed = 0
        with self._lock:
            for example_id in ids:
                slot = self._slot.pop(example_id, None)
                if slot is None:
                    continue
                last = self._n - 1
                if slot != last:
                    moved = int(self._ids[last])
                    self._ids[slot] = self._ids[last]
                    self._prio[slot] = self._prio[last]
                    self._seq[slot] = self._seq[last]
                    self._slot[moved] = slot
                self._n = last
                removed += 1
        return removed

    def clear(self) -> None:
        with self._lock:
            self._n = 0
            self._slot.clear()

    def load(self, rows: Iterable[tuple[int, float]]) -> int:
        """Replace the content with the highest priorities of ``rows`` (id, priority), up
        to the 75% level, as at start from the training examples in the database.

        Ids are expected to be unique (if one repeats, its last row counts). Among equal
        priorities later rows are kept, and are treated as newer. Returns how many loaded.
        """
        best = heapq.nlargest(
            self.low_water,
            ((_check_priority(p), index, _check_id(i)) for index, (i, p) in enumerate(rows)),
        )
        with self._lock:
            self.clear()
            self._next_seq = 0
            for value, index, example_id in sorted(best, key=lambda row: row[1]):
                slot = self._slot.get(example_id)
                if slot is not None:
                    self._prio[slot] = value
                    self._seq[slot] = index
                else:
                    self._append(example_id, value, index)
                self._next_seq = index + 1
            return self._n

    # -- sampling -----------------------------------------------------------------

    def sample(self, k: int) -> list[tuple[int, float]]:
        """Draw ``k`` distinct examples (all of them when fewer), favouring high priorities.

        Returns (id, importance weight) pairs in the order drawn. The draws follow
        priority ** alpha without replacement (Gumbel top-k: same as drawing one at a time
        and removing it); the weight of an example is (N * P(i)) ** -beta, divided by the
        largest weight in the sample, so it lies in (0, 1] and the least likely example
        drawn has weight 1.
        """
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 0:
            raise ValueError(f"The number of examples to sample must be >= 0, not {k!r}.")
        with self._lock:
            n = self._n
            if n == 0 or k == 0:
                return []
            scores = np.maximum(self._prio[:n], MIN_PRIORITY) ** self.alpha
            probabilities = scores / scores.sum()
            keys = np.log(scores) + self._rng.gumbel(size=n)
            if k >= n:
                chosen = np.argsort(-keys, kind="stable")
            else:
                top = np.argpartition(-keys, k - 1)[:k]
                chosen = top[np.argsort(-keys[top], kind="stable")]
            weights = (n * probabilities[chosen]) ** (-self.beta)
            weights /= weights.max()
            return [
                (int(i), float(w)) for i, w in zip(self._ids[chosen], weights, strict=True)
            ]

    # -- internals ----------------------------------------------------------------

    def _append(self, example_id: int, value: float, seq: int) -> None:
        if self._n == len(self._ids):
            size = min(max(2 * len(self._ids), 1), max(self.capacity, self._n + 1))
            self._ids = np.resize(self._ids, size)
            self._prio = np.resize(self._prio, size)
            self._seq = np.resize(self._seq, size)
        slot = self._n
        self._ids[slot] = example_id
        self._prio[slot] = value
        self._seq[slot] = seq
        self._slot[example_id] = slot
        self._n += 1

    def _trim(self, level: int) -> list[int]:
        """Keep the ``level`` highest priorities (ties: the newest); returns the dropped ids."""
        n = self._n
        # lexsort sorts by the last key first: priority ascending, then oldest first.
        order = np.lexsort((self._seq[:n], self._prio[:n]))
        drop, keep = order[: n - level], np.sort(order[n - level :])
        dropped = [int(i) for i in self._ids[drop]]
        self._ids[:level] = self._ids[keep]
        self._prio[:level] = self._prio[keep]
        self._seq[:level] = self._seq[keep]
        self._n = level
        self._slot = {int(i): slot for slot, i in enumerate(self._ids[:level])}
        return dropped
