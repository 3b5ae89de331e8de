"""A lowered thread priority: SCHED_IDLE for real on Linux, the Windows calls with fakes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest

from nexus_desktop.governor import priority
from nexus_desktop.governor.priority import (
    THREAD_PRIORITY_BELOW_NORMAL,
    THREAD_PRIORITY_ERROR_RETURN,
    THREAD_PRIORITY_IDLE,
    PriorityChange,
    lowered_priority,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def test_change_says_whether_it_lowered() -> None:
    assert PriorityChange("SCHED_IDLE").lowered
    assert not PriorityChange("unchanged: macOS").lowered


@linux_only
def test_linux_lowers_only_the_calling_thread_and_restores_it() -> None:
    if not priority.idle_is_reversible():
        pytest.skip("this process may not leave SCHED_IDLE (no CAP_SYS_NICE, RLIMIT_NICE < 20)")
    seen: dict[str, int] = {}
    inside, leave = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait(10)
        seen["other"] = os.sched_getscheduler(0)
        leave.set()

    before = os.sched_getscheduler(0)
    watcher = threading.Thread(target=other_thread, name="policy-watcher")
    watcher.start()
    with lowered_priority() as change:
        assert change == PriorityChange("SCHED_IDLE")
        assert os.sched_getscheduler(0) == os.SCHED_IDLE
        inside.set()
        assert leave.wait(10)
    watcher.join()
    assert seen["other"] == before
    assert os.sched_getscheduler(0) == before


@linux_only
def test_linux_restores_after_an_error_and_nests() -> None:
    if not priority.idle_is_reversible():
        pytest.skip("this process may not leave SCHED_IDLE")
    before = os.sched_getscheduler(0)
    with pytest.raises(RuntimeError), lowered_priority():
        with lowered_priority() as inner:  # already idle: left as it is
            assert inner.lowered
        assert os.sched_getscheduler(0) == os.SCHED_IDLE
        raise RuntimeError("a failed slice")
    assert os.sched_getscheduler(0) == before


@linux_only
def test_linux_leaves_the_thread_alone_when_it_could_not_come_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(priority, "idle_is_reversible", lambda: False)
    before = os.sched_getscheduler(0)
    with lowered_priority() as change:
        assert change.applied.startswith("unchanged: ")
        assert "RLIMIT_NICE" in change.applied
        assert os.sched_getscheduler(0) == before


@linux_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to drop to an unprivileged user")
def test_unprivileged_linux_process_keeps_its_priority() -> None:
    """The real probe as a user without CAP_SYS_NICE and RLIMIT_NICE 0 (the usual default),
    where SCHED_IDLE would be a one-way door."""
    script = (
        "import os, resource\n"
        "from nexus_desktop.governor.priority import lowered_priority\n"
        "resource.setrlimit(resource.RLIMIT_NICE, (0, 0))\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "with lowered_priority() as change:\n"
        "    print(change.applied, os.sched_getscheduler(0))\n"
        "print(os.sched_getscheduler(0))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=root, timeout=60, check=True)
    inside, after = done.stdout.splitlines()
    assert inside.startswith("unchanged: ")
    assert inside.endswith(f" {os.SCHED_OTHER}")
    assert after == str(os.SCHED_OTHER)


class FakeKernel32:
    """GetCurrentThread / GetThreadPriority / SetThreadPriority on one pretend thread."""

    def __init__(self, current: int = 0, fail_set: bool = False) -> None:
        self.priority = current
        self.fail_set = fail_set
        self.calls: list[tuple[str, Any]] = []

    def GetCurrentThread(self) -> int:
        return -2  # the pseudo handle

    def GetThreadPriority(self, thread: int) -> int:
        assert thread == -2
        return self.priority

    def SetThreadPriority(self, thread: int, value: int) -> int:
        assert thread == -2
        self.calls.append(("set", value))
        if self.fail_set:
            return 0
        self.priority = value
        return 1


def test_windows_below_normal_and_back() -> None:
    kernel32 = FakeKernel32(current=0)
    with lowered_priority(platform="win32", kernel32=kernel32) as change:
        assert change == PriorityChange("THREAD_PRIORITY_BELOW_NORMAL")
        assert kernel32.priority == THREAD_PRIORITY_BELOW_NORMAL
    assert kernel32.priority == 0
    assert kernel32.calls == [("set", THREAD_PRIORITY_BELOW_NORMAL), ("set", 0)]


def test_windows_restores_after_an_error() -> None:
    kernel32 = FakeKernel32(current=1)
    with pytest.raises(RuntimeError), lowered_priority(platform="win32", kernel32=kernel32):
        raise RuntimeError("a failed slice")
    assert kernel32.priority == 1


def test_windows_never_raises_a_lower_priority() -> None:
    kernel32 = FakeKernel32(current=THREAD_PRIORITY_IDLE)
    with lowered_priority(platform="win32", kernel32=kernel32) as change:
        assert change.applied == "THREAD_PRIORITY_IDLE"
    assert kernel32.calls == []


@pytest.mark.parametrize(("current", "fail_set", "why"), [
    (THREAD_PRIORITY_ERROR_RETURN, False, "GetThreadPriority failed"),
    (0, True, "SetThreadPriority failed"),
])
def test_windows_failures_leave_the_thread_alone(current: int, fail_set: bool,
                                                 why: str) -> None:
    kernel32 = FakeKernel32(current=current, fail_set=fail_set)
    with lowered_priority(platform="win32", kernel32=kernel32) as change:
        assert change.applied.startswith("unchanged: ")
        assert why in change.applied
    assert kernel32.priority == current
    assert len(kernel32.calls) <= 1


def test_macos_is_left_unchanged_and_says_why() -> None:
    with lowered_priority(platform="darwin") as change:
        assert not change.lowered
        assert "without privileges" in change.applied


@pytest.mark.skipif(not (sys.platform.startswith("linux") and priority.idle_is_reversible()),
                    reason="needs Linux and a thread that may leave SCHED_IDLE")
def test_another_thread_can_restore_the_learner_at_once() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def learner() -> None:
        with lowered_priority() as change:
            seen["change"], seen["tid"] = change, threading.get_native_id()
            entered.set()
            release.wait(10)
            seen["inside"] = os.sched_getscheduler(0)
        seen["after"] = os.sched_getscheduler(0)

    thread = threading.Thread(target=learner)
    thread.start()
    try:
        assert entered.wait(10)
        change = seen["change"]
        assert isinstance(change, PriorityChange) and change.restore_now is not None
        assert os.sched_getscheduler(seen["tid"]) == os.SCHED_IDLE
        change.restore_now()  # from this thread: a user request has come
        assert os.sched_getscheduler(seen["tid"]) == os.SCHED_OTHER
    finally:
        release.set()
        thread.join(10)
    assert seen["inside"] == seen["after"] == os.SCHED_OTHER
