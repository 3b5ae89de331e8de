"""A CPU budget for learning, enforced by duty cycling: work a slice, then pause.

The budget is a share of the whole machine (all cores together, as Windows Task Manager
shows it: 25% of 2 cores is half a core). After each slice the model's owner thread asks
how long to pause. The pause bills all CPU the process used since the previous slice ended
(other threads' and torch's worker threads' included) and carries a pause that was cut
short into the next one, so the long-run share equals the budget while pauses are kept;
a slow proportional-integral correction from the share measured over a sliding window
removes what that rule cannot see (slices that waited instead of computing, clamped
pauses, coarse CPU counters).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_PAUSE_SECONDS = 30.0
# Gains of the windowed correction, on the relative error (budget - measured) / budget.
# Deliberately slow: the window lags by about half its length and the base rule already
# does most of the work, so the correction must not chase slice-to-slice noise.
FEEDBACK_P = 0.3
FEEDBACK_I_PER_SECOND = 0.05
# The correction scales the budget used for billing by (1 + correction) within these bounds.
CORRECTION_MIN = -0.5
CORRECTION_MAX = 0.5
MIN_MEASURE_SECONDS = 1.0

Sample = tuple[float, float]  # (clock seconds, process CPU seconds)
SliceEnd = tuple[float, float, float]  # a Sample and when the pause after it was due to end


class CpuBudget:
    """Pauses between learning slices so this process stays at a share of the machine.

    Thread-safe: the owner thread calls ``begin`` and ``pause_after_slice``, the governor
    calls ``set_percent`` and the dashboard ``achieved_percent`` from other threads.
    ``clock`` and ``cpu_seconds`` are injectable so tests need not burn CPU or wait; the
    default ``time.process_time`` counts every thread of the process, user and system.
    """

    def __init__(self, percent: float, cpu_count: int | None = None,
                 window_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 cpu_seconds: Callable[[], float] = time.process_time) -> None:
        _check_percent(percent)
        if cpu_count is not None and cpu_count < 1:
            raise ValueError("cpu_count must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._percent = float(percent)
        self._cpu_count = cpu_count or os.cpu_count() or 1
        self._window = window_seconds
        self._clock = clock
        self._cpu_seconds = cpu_seconds
        self._lock = threading.Lock()
        self._integral = 0.0  # kept across runs: a bias of this machine and workload
        self._correction = 0.0
        self._samples: deque[SliceEnd] = deque()  # slice ends in the window, oldest first
        self.begin()

    @property
    def percent(self) -> float:
        with self._lock:
            return self._percent

    @property
    def cpu_count(self) -> int:
        return self._cpu_count

    @property
    def effective_percent(self) -> float:
        """The budget after the windowed correction: what the next pause is billed at."""
        with self._lock:
            return min(100.0, self._percent * (1.0 + self._correction))

    def set_percent(self, percent: float) -> None:
        """Switch budgets (active 10%, idle 25%, 100 = no throttling); the window restarts
        so the share measured under the old budget does not steer the new one."""
        _check_percent(percent)
        with self._lock:
            if percent != self._percent:
                self._percent = float(percent)
                self._samples.clear()

    def begin(self) -> None:
        """Start a run of slices: time and CPU spent before it (or between runs, such as a
        reply to the user) are neither billed nor measured, and no unpaid pause carries over."""
        now = (self._clock(), self._cpu_seconds())
        with self._lock:
            self._samples.clear()
            self._last_call = now
            self._resume_at = now[0]

    def pause_after_slice(self) -> float:
        """Seconds to pause now, right after a slice (wait on an Event, so it can be cut short).

        Base rule: a cycle of slice plus pause may take ``cpu / (cores x budget)`` seconds of
        wall time, where ``cpu`` is what the whole process used since the previous slice
        ended; the slice is taken to have started when the previous pause was due to end.
        """
        now, cpu = self._clock(), self._cpu_seconds()
        with self._lock:
            billed = cpu - self._last_call[1]
            interval = now - self._last_call[0]
            slice_wall = now - self._resume_at  # negative if the last pause was cut short
            self._last_call = (now, cpu)
            if self._percent >= 100.0:
                self._resume_at = now
                self._samples.append((now, cpu, now))
                self._prune(now)
                return 0.0
            pause = self._corrected_pause(now, cpu, billed, slice_wall, interval)
            self._resume_at = now + pause
            self._samples.append((now, cpu, self._resume_at))
            self._prune(now)
            return pause

    def _corrected_pause(self, now: float, cpu: float, billed: float, slice_wall: float,
                         interval: float) -> float:
        """The base rule at the budget scaled by the proportional-integral correction."""
        budget = self._percent / 100.0

        def pause_at(correction: float) -> tuple[float, float]:
            share = min(1.0, budget * (1.0 + correction))
            wanted = billed / (self._cpu_count * share) - slice_wall
            return wanted, _clamp(wanted, 0.0, MAX_PAUSE_SECONDS)

        error = 0.0
        integral = self._integral
        measured = self._owed_share(cpu, now + pause_at(self._correction)[1])
        if measured is not None:
            error = (budget - measured) / budget
            integral = _clamp(integral + FEEDBACK_I_PER_SECOND * error * interval,
                              CORRECTION_MIN, CORRECTION_MAX)
        correction = _clamp(FEEDBACK_P * error + integral, CORRECTION_MIN, CORRECTION_MAX)
        wanted, pause = pause_at(correction)
        # Anti-windup: stop integrating while the pause is pinned in the error's direction.
        pinned = (wanted <= 0.0 and error > 0) or (wanted >= MAX_PAUSE_SECONDS and error < 0)
        if not pinned:
            self._integral = integral
        self._correction = correction
        return pause

    def achieved_percent(self) -> float | None:
        """The process's measured share of the machine over the window, in percent.

        While slices keep coming it spans whole cycles (slice end to slice end), so it does
        not swing with the phase of the current pause; once none has ended for a window it
        runs up to now and falls, as Task Manager's would. None until the current run (or
        budget) has a whole cycle of at least a second.
        """
        now, cpu = self._clock(), self._cpu_seconds()
        with self._lock:
            self._prune(now)
            if not self._samples:
                return None
            first, last = self._samples[0], self._samples[-1]
            if last[0] < now - self._window:
                end = (now, cpu)
            elif len(self._samples) >= 2:
                end = (last[0], last[1])
            else:
                return None
            return _share_percent((first[0], first[1]), end, self._cpu_count,
                                  self._minimum_span())

    def _owed_share(self, cpu: float, resume_at: float) -> float | None:
        """The window's share (a fraction) once the pauses already owed are taken: CPU
        since the oldest slice end over the time from its pause's end to this one's.

        Counting owed pauses as taken keeps a pause that was cut short, and is repaid by
        the next one, from also steering the correction; what is left is what the base
        rule cannot see.
        """
        if not self._samples:
            return None
        _, first_cpu, first_resume = self._samples[0]
        span = resume_at - first_resume
        if span < self._minimum_span():
            return None
        return (cpu - first_cpu) / (self._cpu_count * span)

    def _prune(self, now: float) -> None:
        """Keep one sample at or before the window's start, so the window is always full."""
        while len(self._samples) >= 2 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()

    def _minimum_span(self) -> float:
        return min(MIN_MEASURE_SECONDS, self._window)


def learning_threads(percent: float, cpu_count: int, configured: int | None = None,
                     busy_cores: float = 0.0) -> int:
    """Torch threads for learning under a budget: enough cores to reach it, no more (one
    thread at 25% of 2 cores; the duty cycle trims the rest), and no more than the cores
    other programs leave free (``busy_cores``): torch's threads wait for each other at
    every operation, so one thread without a free core stalls them all (slices of 15 to
    50 s instead of 1 s were measured with 2 threads beside other work on 2 cores)."""
    _check_percent(percent)
    needed = math.ceil(percent * cpu_count / 100.0 - 1e-9)
    free = math.floor(cpu_count - busy_cores + 0.5)
    return max(1, min(needed, configured or cpu_count, free))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous count.

    Torch's intra-op thread count is process-wide, but the model has one owner thread, so
    generation and learning never run at once and cannot fight over the setting.
    """
    if n < 1:
        raise ValueError("a torch thread count must be at least 1")
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _share_percent(start: Sample, end: Sample, cpu_count: int, minimum_span: float
                   ) -> float | None:
    span = end[0] - start[0]
    if span < minimum_span:
        return None
    return 100.0 * (end[1] - start[1]) / (cpu_count * span)


def _check_percent(percent: float) -> None:
    if not 0 < percent <= 100:
        raise ValueError(f"a CPU budget must be above 0% and at most 100%, not {percent}%")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
