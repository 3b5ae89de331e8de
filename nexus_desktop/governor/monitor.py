"""CPU, RAM and VRAM use of this process and of the machine, sampled in the background.

The governor, the memory manager and the resource graphs all read the same samples, so the
figures they show agree and psutil is asked once a second, not once per reader. CPU
shares are of the whole machine (all cores together, 0-100), as Windows Task Manager shows.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import psutil

log = logging.getLogger(__name__)
MB = 2**20


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """One reading; ``at`` is on the sampler's clock (monotonic seconds). Slotted: an
    hour of history at 1 Hz is 3,600 of them."""

    at: float
    system_cpu_percent: float
    process_cpu_percent: float
    rss_mb: float
    system_ram_percent: float
    vram_mb: float | None = None
    vram_total_mb: float | None = None


class ProcessLike(Protocol):
    """What the sampler uses of ``psutil.Process``, so tests can hand in a fake."""

    def cpu_times(self) -> Any: ...
    def memory_info(self) -> Any: ...


class _CpuTotals(NamedTuple):
    busy: float
    total: float


def process_cpu_share(cpu_seconds: float, wall_seconds: float, cpu_count: int) -> float:
    """CPU seconds used in ``wall_seconds`` as a percent of the whole machine (0-100)."""
    if wall_seconds <= 0 or cpu_count < 1:
        return 0.0
    return min(100.0, max(0.0, 100.0 * cpu_seconds / (wall_seconds * cpu_count)))


def _system_totals(times: Any) -> _CpuTotals:
    """Busy and total CPU seconds of all cores, counted as psutil.cpu_percent does:
    iowait is idle, and guest time is already inside user time on Linux."""
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return _CpuTotals(total - times.idle - getattr(times, "iowait", 0.0), total)


def _vram() -> tuple[float | None, float | None]:
    """Reserved and total CUDA memory, only when torch is loaded and CUDA already started:
    reading it must never import torch or create a CUDA context."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None, None
    try:
        device = torch.cuda.current_device()
        total = torch.cuda.get_device_properties(device).total_memory / MB
        return torch.cuda.memory_reserved(device) / MB, total
    except RuntimeError:
        log.debug("could not read CUDA memory", exc_info=True)
        return None, None


class ResourceSampler:
    """Takes a ``ResourceSample`` per call; CPU figures cover the time since the last call.

    The system figure comes from the sampler's own ``cpu_times`` deltas rather than
    ``psutil.cpu_percent(interval=None)``, whose state is shared with any other caller in
    the same thread, and so that process and system shares cover the same interval.
    """

    def __init__(self, process: ProcessLike | None = None,
                 clock: Callable[[], float] = time.monotonic, cpu_count: int | None = None,
                 system_cpu_times: Callable[[], Any] = psutil.cpu_times,
                 ram_percent: Callable[[], float] = lambda: psutil.virtual_memory().percent,
                 vram: Callable[[], tuple[float | None, float | None]] = _vram) -> None:
        self.clock = clock
        self.cpu_count = cpu_count or psutil.cpu_count() or 1
        self._process = process if process is not None else psutil.Process()
        self._system_cpu_times = system_cpu_times
        self._ram_percent = ram_percent
        self._vram = vram
        self._lock = threading.Lock()
        self._last_at = clock()
        self._last_cpu = self._process_cpu_seconds()
        self._last_system = _system_totals(system_cpu_times())

    def _process_cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> ResourceSample:
        with self._lock:
            at = self.clock()
            cpu = self._process_cpu_seconds()
            system = _system_totals(self._system_cpu_times())
            share = process_cpu_share(cpu - self._last_cpu, at - self._last_at, self.cpu_count)
            total = system.total - self._last_system.total
            busy = system.busy - self._last_system.busy
            system_percent = min(100.0, max(0.0, 100.0 * busy / total)) if total > 0 else 0.0
            self._last_at, self._last_cpu, self._last_system = at, cpu, system
        vram_mb, vram_total_mb = self._vram()
        return ResourceSample(
            at=at, system_cpu_percent=system_percent, process_cpu_percent=share,
            rss_mb=self._process.memory_info().rss / MB,
            system_ram_percent=float(self._ram_percent()),
            vram_mb=vram_mb, vram_total_mb=vram_total_mb)


class ResourceMonitor:
    """Samples every ``interval_seconds`` on a thread of its own, keeps a bounded history
    and hands each sample to the listeners (on the monitor's thread; a listener that
    raises is logged and the monitor goes on).

    ``run()`` is the whole loop, so a QThread can host it instead of ``start()``.
    """

    def __init__(self, sampler: ResourceSampler | None = None, interval_seconds: float = 1.0,
                 max_samples: int = 3600) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self.interval_seconds = interval_seconds
        self._sampler = sampler or ResourceSampler()
        self._history: collections.deque[ResourceSample] = collections.deque(maxlen=max_samples)
        self._listeners: list[Callable[[ResourceSample], object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_listener(self, listener: Callable[[ResourceSample], object]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ResourceSample], object]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the resource monitor is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="resource-monitor", daemon=False)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the loop; waits at most ``timeout`` for a sample or listener in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval_seconds)

    def poll(self) -> ResourceSample | None:
        """Takes one sample now, stores it and tells the listeners."""
        try:
            sample = self._sampler.sample()
        except (psutil.Error, OSError):
            log.exception("resource sample failed")
            return None
        with self._lock:
            self._history.append(sample)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(sample)
            except Exception:
                log.exception("resource listener %r failed", listener)
        return sample

    def latest(self) -> ResourceSample | None:
        with self._lock:
            return self._history[-1] if self._history else None

    def history(self, seconds: float | None = None) -> list[ResourceSample]:
        """The kept samples, oldest first; with ``seconds``, only those of the last
        ``seconds`` on the sampler's clock."""
        with self._lock:
            samples = list(self._history)
        if seconds is None:
            return samples
        cutoff = self._sampler.clock() - seconds
        return [sample for sample in samples if sample.at >= cutoff]
