"""ResourceSampler arithmetic on fakes, ResourceMonitor's thread and history, and one
real reading of this process under a busy loop."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from typing import NamedTuple

import psutil
import pytest

from nexus_desktop.governor.monitor import (
    ResourceMonitor,
    ResourceSample,
    ResourceSampler,
    process_cpu_share,
)


class FakeTimes(NamedTuple):
    """psutil.cpu_times() reduced to one busy and the idle field."""

    user: float
    idle: float


class FakeProcess:
    def __init__(self) -> None:
        self.cpu = 0.0
        self.rss = 100 * 2**20

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.cpu * 0.75, system=self.cpu * 0.25)

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=self.rss)


class FakeMachine:
    """A clock, a process and system CPU times that a test moves forward by hand."""

    def __init__(self) -> None:
        self.now = 50.0
        self.process = FakeProcess()
        self.busy = 0.0
        self.idle = 0.0

    def system_times(self) -> FakeTimes:
        return FakeTimes(self.busy, self.idle)

    def sampler(self) -> ResourceSampler:
        return ResourceSampler(process=self.process, clock=lambda: self.now, cpu_count=4,
                               system_cpu_times=self.system_times, ram_percent=lambda: 42.0,
                               vram=lambda: (512.0, 8192.0))


def test_process_cpu_share():
    assert process_cpu_share(2.0, 1.0, 4) == 50.0  # two cores busy out of four
    assert process_cpu_share(1.0, 1.0, 1) == 100.0
    assert process_cpu_share(9.0, 1.0, 4) == 100.0  # clock skew never reads above 100
    assert process_cpu_share(-1.0, 1.0, 4) == 0.0
    assert process_cpu_share(1.0, 0.0, 4) == 0.0


def test_sampler_reports_shares_of_the_whole_machine():
    machine = FakeMachine()
    sampler = machine.sampler()
    machine.now += 2.0
    machine.process.cpu += 2.0  # one of four cores for two seconds
    machine.busy += 6.0
    machine.idle += 2.0
    machine.process.rss = 300 * 2**20
    sample = sampler.sample()
    assert sample == ResourceSample(at=52.0, system_cpu_percent=75.0, process_cpu_percent=25.0,
                                    rss_mb=300.0, system_ram_percent=42.0, vram_mb=512.0,
                                    vram_total_mb=8192.0)
    machine.now += 1.0
    machine.idle += 4.0
    idle = sampler.sample()  # each sample covers only the time since the previous one
    assert (idle.process_cpu_percent, idle.system_cpu_percent) == (0.0, 0.0)


def test_sampler_never_imports_torch():
    code = ("import sys; from nexus_desktop.governor.monitor import ResourceSampler; "
            "s = ResourceSampler().sample(); print('torch' in sys.modules, s.vram_mb)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False None"


def test_history_is_bounded_and_filtered_by_age():
    machine = FakeMachine()
    monitor = ResourceMonitor(machine.sampler(), max_samples=5)
    assert monitor.latest() is None and monitor.history() == []
    for _ in range(8):
        machine.now += 1.0
        monitor.poll()
    assert [s.at for s in monitor.history()] == [54.0, 55.0, 56.0, 57.0, 58.0]
    assert [s.at for s in monitor.history(seconds=2.0)] == [56.0, 57.0, 58.0]
    assert monitor.latest().at == 58.0


def test_a_failing_listener_is_logged_and_the_others_still_called(caplog):
    machine = FakeMachine()
    monitor = ResourceMonitor(machine.sampler())
    seen: list[float] = []

    def broken(sample: ResourceSample) -> None:
        raise RuntimeError("listener bug")

    monitor.add_listener(broken)
    monitor.add_listener(lambda sample: seen.append(sample.at))
    with caplog.at_level(logging.ERROR):
        monitor.poll()
        monitor.poll()
    assert len(seen) == 2
    assert "listener" in caplog.text and "listener bug" in caplog.text
    monitor.remove_listener(broken)


def test_monitor_thread_samples_and_stops_without_waiting_out_the_interval():
    monitor = ResourceMonitor(interval_seconds=3600.0)
    first = threading.Event()
    monitor.add_listener(lambda sample: first.set())
    monitor.start()
    try:
        assert first.wait(30)
        with pytest.raises(RuntimeError, match="already running"):
            monitor.start()
    finally:
        monitor.stop(timeout=30)
    # An hour-long interval would still be sleeping if stop() could not interrupt it.
    assert not any(t.name == "resource-monitor" for t in threading.enumerate())
    assert len(monitor.history()) == 1


def test_a_busy_thread_raises_the_process_share_on_this_machine():
    """Real psutil readings of this process: idle, then while a thread spins for about
    half a CPU second; only a generous difference is asserted."""
    sampler = ResourceSampler()
    time.sleep(0.5)
    idle = sampler.sample()
    start = time.thread_time

    def spin() -> None:
        begin, deadline = start(), time.monotonic() + 20
        while start() - begin < 0.5 and time.monotonic() < deadline:
            sum(range(1000))

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    busy = sampler.sample()
    for sample in (idle, busy):
        assert 0.0 <= sample.process_cpu_percent <= 100.0
        assert 0.0 <= sample.system_cpu_percent <= 100.0
        assert 0.0 < sample.system_ram_percent < 100.0
        assert 10 < sample.rss_mb < psutil.virtual_memory().total / 2**20
    assert busy.process_cpu_percent > idle.process_cpu_percent + 10
    assert busy.system_cpu_percent > 0.0


def test_monitor_history_on_this_process():
    monitor = ResourceMonitor(interval_seconds=0.01, max_samples=3)
    three = threading.Event()
    monitor.add_listener(lambda sample: len(monitor.history()) == 3 and three.set())
    monitor.start()
    try:
        assert three.wait(30)
    finally:
        monitor.stop()
    samples = monitor.history()
    assert len(samples) == 3
    assert samples[0].at < samples[1].at < samples[2].at


def test_no_vram_figure_while_cuda_is_not_started():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_initialized():
        pytest.skip("an earlier test started CUDA")
    sample = ResourceSampler().sample()
    assert (sample.vram_mb, sample.vram_total_mb) == (None, None)
    assert not torch.cuda.is_initialized()  # reading must not start it


def test_vram_is_read_once_cuda_is_in_use():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")
    sample = ResourceSampler().sample()
    assert sample.vram_mb is not None and sample.vram_total_mb is not None
    assert 64 <= sample.vram_mb < sample.vram_total_mb
    del block
