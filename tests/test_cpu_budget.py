"""The CPU budget's duty cycle with a fake clock and CPU counter, and once for real."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil
import pytest
import torch

from nexus_desktop.governor import cpu_budget
from nexus_desktop.governor.cpu_budget import CpuBudget, learning_threads, torch_threads


class FakeMachine:
    """A clock and a process CPU counter that only move when the test says so; other
    threads of the process may burn ``other_cores`` all the time."""

    def __init__(self, other_cores: float = 0.0) -> None:
        self.now = 1000.0
        self.cpu = 50.0
        self.other_cores = other_cores

    def clock(self) -> float:
        return self.now

    def cpu_seconds(self) -> float:
        return self.cpu

    def run(self, wall: float, cpu: float = 0.0) -> None:
        """``wall`` seconds pass in which the learner uses ``cpu`` seconds of CPU."""
        self.now += wall
        self.cpu += cpu + self.other_cores * wall

    def budget(self, percent: float, cpu_count: int) -> CpuBudget:
        return CpuBudget(percent, cpu_count=cpu_count, clock=self.clock,
                         cpu_seconds=self.cpu_seconds)


Slice = Callable[[int], tuple[float, float]]


def simulate(machine: FakeMachine, budget: CpuBudget, slices: Slice, seconds: float,
             honoured: float = 1.0) -> float:
    """Run slices and pauses (of which the caller keeps ``honoured``) for ``seconds``;
    the share of the machine over the second half, in percent."""
    end = machine.now + seconds
    halfway = (machine.now + end) / 2
    start: tuple[float, float] | None = None
    i = 0
    while machine.now < end:
        if start is None and machine.now >= halfway:
            start = (machine.now, machine.cpu)
        wall, cpu = slices(i)
        machine.run(wall, cpu)
        machine.run(budget.pause_after_slice() * honoured)
        i += 1
    assert start is not None
    return 100 * (machine.cpu - start[1]) / (budget.cpu_count * (machine.now - start[0]))


def busy(i: int) -> tuple[float, float]:
    return 1.0, 1.0


def test_one_cpu_second_in_one_second_on_two_cores_at_25_percent_pauses_one_second() -> None:
    machine = FakeMachine()
    budget = machine.budget(25, cpu_count=2)
    machine.run(1.0, 1.0)
    assert budget.pause_after_slice() == pytest.approx(1.0)


def test_no_pause_at_100_percent() -> None:
    machine = FakeMachine()
    budget = machine.budget(100, cpu_count=2)
    for _ in range(20):
        machine.run(1.0, 1.0)
        assert budget.pause_after_slice() == 0.0
    assert budget.achieved_percent() == pytest.approx(50.0)


def test_half_of_one_core_is_a_steady_one_to_one_cycle() -> None:
    machine = FakeMachine()
    budget = machine.budget(50, cpu_count=1)
    pauses = []
    for _ in range(60):
        machine.run(0.5, 0.5)
        pauses.append(budget.pause_after_slice())
        machine.run(pauses[-1])
    assert pauses == pytest.approx([0.5] * 60)
    assert budget.achieved_percent() == pytest.approx(50.0)
    assert budget.effective_percent == pytest.approx(50.0)


def test_time_before_begin_is_neither_billed_nor_measured() -> None:
    machine = FakeMachine()
    budget = machine.budget(25, cpu_count=2)
    machine.run(100.0, 80.0)  # say, replies to the user before learning starts
    budget.begin()
    assert budget.achieved_percent() is None
    machine.run(1.0, 1.0)
    assert budget.pause_after_slice() == pytest.approx(1.0)


def test_pause_is_capped() -> None:
    machine = FakeMachine()
    budget = machine.budget(10, cpu_count=1)
    machine.run(1.0, 1.0)
    machine.cpu += 100.0  # another thread's burst
    assert budget.pause_after_slice() == cpu_budget.MAX_PAUSE_SECONDS


def test_cpu_of_other_threads_is_billed_so_the_share_holds() -> None:
    machine = FakeMachine(other_cores=0.2)  # e.g. the indexer and the GUI, all the time

    def bursty(i: int) -> tuple[float, float]:
        return (0.6, 0.6 + (0.4 if i % 7 == 0 else 0.0))  # plus torch worker bursts

    share = simulate(machine, machine.budget(25, cpu_count=2), bursty, seconds=600)
    assert share == pytest.approx(25.0, abs=1.0)


def test_a_pause_cut_short_is_repaid_by_the_next() -> None:
    machine = FakeMachine()
    share = simulate(machine, machine.budget(25, cpu_count=2), busy, seconds=600, honoured=0.4)
    assert share == pytest.approx(25.0, abs=1.0)


def waits_sometimes(i: int) -> tuple[float, float]:
    """Every fourth slice mostly waits (for the disk, or on a busy machine)."""
    return (1.0, 0.1) if i % 4 == 0 else (1.0, 1.0)


def test_feedback_makes_up_for_what_the_slice_rule_misjudges() -> None:
    machine = FakeMachine(other_cores=0.05)
    budget = machine.budget(25, cpu_count=2)
    share = simulate(machine, budget, waits_sometimes, seconds=600)
    assert share == pytest.approx(25.0, abs=1.0)
    assert budget.effective_percent > 25.0
    assert budget.achieved_percent() == pytest.approx(25.0, abs=2.0)


def test_without_feedback_the_slice_rule_alone_falls_short(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_budget, "FEEDBACK_P", 0.0)
    monkeypatch.setattr(cpu_budget, "FEEDBACK_I_PER_SECOND", 0.0)
    machine = FakeMachine(other_cores=0.05)
    share = simulate(machine, machine.budget(25, cpu_count=2), waits_sometimes, seconds=600)
    assert share < 23.5  # what the feedback test above corrects


def test_set_percent_mid_run() -> None:
    machine = FakeMachine()
    budget = machine.budget(25, cpu_count=2)
    assert simulate(machine, budget, busy, seconds=120) == pytest.approx(25.0, abs=1.0)
    budget.set_percent(10)
    assert budget.percent == 10
    assert budget.achieved_percent() is None  # the window restarts with the budget
    machine.run(1.0, 1.0)
    assert budget.pause_after_slice() == pytest.approx(4.0)  # 1 / (2 x 0.1) - 1
    assert simulate(machine, budget, busy, seconds=120) == pytest.approx(10.0, abs=1.0)
    assert budget.achieved_percent() == pytest.approx(10.0, abs=1.0)
    budget.set_percent(100)
    machine.run(1.0, 1.0)
    assert budget.pause_after_slice() == 0.0


def test_achieved_percent_spans_whole_cycles_and_then_runs_to_now() -> None:
    machine = FakeMachine()
    budget = machine.budget(25, cpu_count=2)
    machine.run(0.5, 0.5)
    assert budget.achieved_percent() is None  # under a second of data
    simulate(machine, budget, busy, seconds=60)
    machine.run(0.5, 0.5)  # halfway through a slice: whole cycles only
    assert budget.achieved_percent() == pytest.approx(25.0)
    machine.run(30.0)  # learning stopped: the share falls as it would on Task Manager
    assert budget.achieved_percent() == pytest.approx(0.5 / (2 * 30.5) * 100, abs=1.0)


@pytest.mark.parametrize("percent", [0, -5, 100.5])
def test_budget_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="CPU budget"):
        CpuBudget(percent)
    with pytest.raises(ValueError, match="CPU budget"):
        CpuBudget(25).set_percent(percent)


@pytest.mark.parametrize(("percent", "cores", "configured", "threads"), [
    (25, 2, None, 1), (10, 8, None, 1), (25, 8, None, 2), (30, 10, None, 3),
    (100, 8, None, 8), (100, 8, 4, 4), (0.1, 2, None, 1), (50, 16, 4, 4),
])
def test_learning_threads(percent: float, cores: int, configured: int | None,
                          threads: int) -> None:
    assert learning_threads(percent, cores, configured) == threads


def test_torch_threads_restores_the_previous_count() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("a failed slice")
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_real_busy_thread_stays_at_a_quarter_of_two_cores() -> None:
    """Pure-Python slices of ~0.2 s under a 25% budget for 15 s, measured by psutil."""
    cores = psutil.cpu_count() or 1
    budget = CpuBudget(25, cpu_count=cores)
    stop = threading.Event()
    process = psutil.Process()

    def learner() -> None:
        budget.begin()
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            slice_end = time.monotonic() + 0.2
            total = 0
            while time.monotonic() < slice_end:
                total += sum(i * i for i in range(1000))
            stop.wait(budget.pause_after_slice())

    before, started = process.cpu_times(), time.monotonic()
    thread = threading.Thread(target=learner, name="busy-learner")
    thread.start()
    thread.join()
    after, wall = process.cpu_times(), time.monotonic() - started
    used = (after.user + after.system) - (before.user + before.system)
    share = 100 * used / (cores * wall)
    print(f"measured share {share:.1f}% of {cores} cores; budget's own reading "
          f"{budget.achieved_percent():.1f}%")
    assert share == pytest.approx(25.0, abs=5.0)
    assert budget.achieved_percent() == pytest.approx(25.0, abs=5.0)


@pytest.mark.parametrize(("percent", "cores", "busy", "threads"), [
    (100.0, 2, 0.0, 2), (100.0, 2, 0.4, 2), (100.0, 2, 1.2, 1), (100.0, 2, 2.0, 1),
    (100.0, 8, 3.0, 5), (50.0, 8, 7.9, 1)])
def test_learning_threads_leave_the_cores_other_programs_use(
        percent: float, cores: int, busy: float, threads: int) -> None:
    assert learning_threads(percent, cores, None, busy) == threads
