"""The circuit breaker with a fake clock: opening, backoff, the half-open trial, recovery."""

from __future__ import annotations

import threading

import pytest

from nexus_desktop.governor.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("ollama", failure_threshold=3, base_backoff_seconds=5.0,
                          max_backoff_seconds=40.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int, reason: str = "refused") -> None:
    for _ in range(times):
        breaker.record_failure(reason)


def test_starts_closed_and_allows(breaker: CircuitBreaker) -> None:
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.snapshot() == BreakerState("ollama", "closed", 0, None, 0.0)


def test_opens_after_threshold_failures_in_a_row(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure("connection refused")
    assert breaker.state == "open"
    assert not breaker.allow()
    snap = breaker.snapshot()
    assert snap.state == "open"
    assert snap.failures == 3
    assert snap.last_error == "connection refused"
    assert snap.retry_in_seconds == pytest.approx(5.0)


def test_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state == "closed"
    assert breaker.snapshot().failures == 2


def test_half_open_lets_one_trial_through(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(4.9)
    assert not breaker.allow()
    assert breaker.snapshot().retry_in_seconds == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.allow()
    assert breaker.state == "half_open"
    assert not breaker.allow(), "only one trial while half open"
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()
    assert breaker.snapshot() == BreakerState("ollama", "closed", 0, None, 0.0)


def test_failed_trial_reopens_with_doubled_backoff_up_to_max(
        breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    backoffs = []
    for _ in range(5):
        backoffs.append(breaker.snapshot().retry_in_seconds)
        clock.advance(backoffs[-1])
        assert breaker.allow()
        breaker.record_failure("still down")
        assert breaker.state == "open"
    assert backoffs == [5.0, 10.0, 20.0, 40.0, 40.0]
    # Success forgets the history: the next opening starts from the base again.
    clock.advance(40.0)
    assert breaker.allow()
    breaker.record_success()
    fail(breaker, 3)
    assert breaker.snapshot().retry_in_seconds == pytest.approx(5.0)


def test_late_failure_while_open_keeps_the_retry_time(
        breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(3.0)
    breaker.record_failure("a call let out before it opened")
    assert breaker.snapshot().retry_in_seconds == pytest.approx(2.0)
    clock.advance(2.0)
    assert breaker.allow()


def test_long_outage_does_not_overflow(clock: FakeClock) -> None:
    breaker = CircuitBreaker("x", failure_threshold=1, base_backoff_seconds=5.0,
                             max_backoff_seconds=600.0, clock=clock)
    for _ in range(2000):
        breaker.record_failure("down")
        clock.advance(breaker.snapshot().retry_in_seconds)
        assert breaker.allow()
    breaker.record_failure("down")
    assert breaker.snapshot().retry_in_seconds == 600.0


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", base_backoff_seconds=10.0, max_backoff_seconds=5.0)


def test_concurrent_half_open_allows_exactly_one(breaker: CircuitBreaker,
                                                  clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(5.0)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def attempt() -> None:
        start.wait()
        allowed = breaker.allow()
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
