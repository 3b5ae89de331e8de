"""The prioritized replay buffer: bounded by trimming, sampling by priority ** alpha."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from nexus_desktop.learning.replay import ReplayBuffer


def test_trims_at_90_percent_to_75_percent_keeping_the_highest_priorities():
    buffer = ReplayBuffer(capacity=100, alpha=0.6, beta=0.4)
    # Priorities are a shuffle of 0..89, so the 15 lowest are exactly 0..14.
    priorities = np.random.default_rng(1).permutation(90)
    dropped: list[int] = []
    for example_id, priority in enumerate(priorities[:89]):
        assert buffer.add(example_id, float(priority)) == []
    assert len(buffer) == 89
    dropped = buffer.add(89, float(priorities[89]))
    assert len(buffer) == 75
    assert len(dropped) == 15
    assert sorted(float(priorities[i]) for i in dropped) == [float(p) for p in range(15)]
    assert all(i not in buffer for i in dropped)
    assert min(buffer.priority(i) for i in buffer.ids()) == 15.0


def test_trimming_drops_the_oldest_among_equal_priorities():
    buffer = ReplayBuffer(capacity=20, alpha=1.0, beta=0.4)  # trims at 18 down to 15
    for example_id in range(17):
        buffer.add(example_id, 1.0)
    dropped = buffer.add(17, 1.0)
    assert dropped == [0, 1, 2]
    assert buffer.ids() == list(range(3, 18))


def test_add_of_a_present_id_updates_it_and_the_new_one_can_be_dropped():
    buffer = ReplayBuffer(capacity=10, alpha=1.0, beta=0.4)  # trims at 9 down to 7
    for example_id in range(8):
        buffer.add(example_id, 5.0)
    assert buffer.add(3, 7.0) == []
    assert len(buffer) == 8 and buffer.priority(3) == 7.0
    assert sorted(buffer.add(99, 0.5)) == [0, 99]


def test_sampling_frequencies_follow_priority_to_the_alpha():
    buffer = ReplayBuffer(capacity=64, alpha=0.6, beta=0.4, seed=7)
    priorities = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 0.0}
    for example_id, priority in priorities.items():
        buffer.add(example_id, priority)
    draws = 20_000
    counts = Counter(buffer.sample(1)[0][0] for _ in range(draws))
    scores = {i: max(p, 1e-6) ** 0.6 for i, p in priorities.items()}
    total = sum(scores.values())
    for example_id, score in scores.items():
        assert counts[example_id] / draws == pytest.approx(score / total, abs=0.012)
    # Floored, not never: priority 0 is rare but possible (1e-6 ** 0.6 ~ 2.5e-4 here).
    assert counts[5] < 20


def test_a_priority_of_zero_is_still_drawn_sometimes():
    buffer = ReplayBuffer(capacity=8, alpha=0.1, beta=0.4, seed=3)
    buffer.add(1, 0.0)
    buffer.add(2, 1.0)
    counts = Counter(buffer.sample(1)[0][0] for _ in range(2000))
    assert counts[1] > 0


def test_alpha_zero_samples_evenly():
    buffer = ReplayBuffer(capacity=64, alpha=0.0, beta=0.4, seed=11)
    for example_id, priority in enumerate([0.01, 1.0, 10.0, 1000.0]):
        buffer.add(example_id, priority)
    draws = 12_000
    counts = Counter(buffer.sample(1)[0][0] for _ in range(draws))
    for example_id in range(4):
        assert counts[example_id] / draws == pytest.approx(0.25, abs=0.015)
    # Uniform probabilities give every example the same weight.
    assert all(w == pytest.approx(1.0) for _, w in buffer.sample(4))


def test_samples_are_distinct_and_weights_favour_the_rarest():
    buffer = ReplayBuffer(capacity=256, alpha=0.6, beta=0.4, seed=5)
    for example_id in range(100):
        buffer.add(example_id, 0.1 + example_id)
    sample = buffer.sample(30)
    ids = [i for i, _ in sample]
    assert len(ids) == len(set(ids)) == 30
    assert all(0 < w <= 1 for _, w in sample)
    # The weight falls as the priority rises; the least likely example drawn has 1.
    by_priority = sorted(sample, key=lambda pair: buffer.priority(pair[0]))
    weights = [w for _, w in by_priority]
    assert weights[0] == 1.0
    assert weights == sorted(weights, reverse=True)
    # Exactly (N * P(i)) ** -beta over the largest of the sample.
    scores = np.array([buffer.priority(i) for i in range(100)]) ** 0.6
    probabilities = scores / scores.sum()
    raw = {i: (100 * probabilities[i]) ** -0.4 for i in ids}
    largest = max(raw.values())
    for example_id, weight in sample:
        assert weight == pytest.approx(raw[example_id] / largest)


def test_sample_more_than_present_gives_all_and_empty_gives_nothing():
    buffer = ReplayBuffer(capacity=16, alpha=0.6, beta=0.4)
    assert buffer.sample(5) == []
    for example_id in (10, 20, 30):
        buffer.add(example_id, 1.0 + example_id)
    assert sorted(i for i, _ in buffer.sample(10)) == [10, 20, 30]
    assert buffer.sample(0) == []
    with pytest.raises(ValueError, match=">= 0"):
        buffer.sample(-1)


def test_same_seed_same_samples_other_seed_other_samples():
    def draws(seed: int) -> list[list[tuple[int, float]]]:
        buffer = ReplayBuffer(capacity=512, alpha=0.6, beta=0.4, seed=seed)
        for example_id in range(200):
            buffer.add(example_id, (example_id * 37) % 11 + 0.5)
        buffer.remove([3, 50, 199])
        return [buffer.sample(16) for _ in range(5)]

    assert draws(42) == draws(42)
    assert draws(42) != draws(43)


def test_remove_clear_and_membership():
    buffer = ReplayBuffer(capacity=32, alpha=0.6, beta=0.4)
    for example_id in range(10):
        buffer.add(example_id, float(example_id))
    assert buffer.remove([2, 5, 5, 99]) == 2
    assert len(buffer) == 8
    assert 2 not in buffer and 5 not in buffer and 9 in buffer
    assert buffer.ids() == [0, 1, 3, 4, 6, 7, 8, 9]
    assert buffer.priority(9) == 9.0  # moved into a freed slot, still right
    assert {i for i, _ in buffer.sample(100)} == {0, 1, 3, 4, 6, 7, 8, 9}
    with pytest.raises(KeyError):
        buffer.priority(2)
    buffer.clear()
    assert len(buffer) == 0 and buffer.ids() == [] and 9 not in buffer


def test_update_changes_sampling_and_ignores_absent_ids():
    buffer = ReplayBuffer(capacity=16, alpha=1.0, beta=0.4, seed=2)
    buffer.add(1, 1.0)
    buffer.add(2, 1.0)
    assert buffer.update(3, 100.0) is False
    assert 3 not in buffer
    before = Counter(buffer.sample(1)[0][0] for _ in range(2000))
    assert buffer.update(2, 99.0) is True
    after = Counter(buffer.sample(1)[0][0] for _ in range(2000))
    assert 800 < before[2] < 1200
    assert after[2] > 1900


def test_load_keeps_the_highest_priorities_up_to_75_percent():
    buffer = ReplayBuffer(capacity=42, alpha=0.6, beta=0.4)  # low water 31
    buffer.add(999, 1000.0)
    # Priorities 0..49 twice (ids k and k + 50): the best 31 are 35..49 twice, plus one 34.
    rows = [(example_id, float(example_id % 50)) for example_id in range(100)]
    assert buffer.load(iter(rows)) == 31
    assert 999 not in buffer  # load replaces what was there
    kept = buffer.ids()
    assert min(buffer.priority(i) for i in kept) == 34.0
    # Ties at the cut keep the later (newer) row, and the ages follow the row order.
    assert 84 in buffer and 34 not in buffer
    assert kept == sorted(kept)
    # Later additions are newer than everything loaded.
    buffer.add(5000, 49.0)
    assert buffer.ids()[-1] == 5000


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"capacity": 1, "alpha": 0.6, "beta": 0.4}, "capacity"),
        ({"capacity": 10.5, "alpha": 0.6, "beta": 0.4}, "capacity"),
        ({"capacity": 100, "alpha": -0.1, "beta": 0.4}, "alpha"),
        ({"capacity": 100, "alpha": float("nan"), "beta": 0.4}, "alpha"),
        ({"capacity": 100, "alpha": 0.6, "beta": 1.5}, "beta"),
        ({"capacity": 100, "alpha": 0.6, "beta": 0.4, "seed": "x"}, "seed"),
    ],
)
def test_constructor_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        ReplayBuffer(**arguments)


def test_bad_priorities_and_ids_are_rejected():
    buffer = ReplayBuffer(capacity=16, alpha=0.6, beta=0.4)
    for priority in (-1.0, float("inf"), float("nan"), "high"):
        with pytest.raises(ValueError, match="priority"):
            buffer.add(1, priority)
    with pytest.raises(ValueError, match="id"):
        buffer.add("1", 1.0)
    assert len(buffer) == 0
