"""A lower scheduling priority for the calling thread while it learns.

Learning runs on the model's owner thread, which also generates replies, so the priority
must come back up afterwards: only thread-level changes that can be undone are used.

- Linux: ``SCHED_IDLE`` for the calling thread only, then the old policy. Leaving
  ``SCHED_IDLE`` needs CAP_SYS_NICE or an RLIMIT_NICE of 20 (``ulimit -e``; the usual
  default is 0), so a probe thread tries the round trip once and, where it fails, the
  priority is left alone rather than stuck low for good.
- Windows: ``SetThreadPriority(THREAD_PRIORITY_BELOW_NORMAL)``, then the old value.
- macOS and others: unchanged; ``setpriority`` cannot be raised back without privileges.

Threads created inside the block inherit ``SCHED_IDLE`` on Linux, and keep it: start
torch's worker threads (run one op at the full thread count) before the first block.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

THREAD_PRIORITY_IDLE = -15
THREAD_PRIORITY_LOWEST = -2
THREAD_PRIORITY_BELOW_NORMAL = -1
THREAD_PRIORITY_ERROR_RETURN = 0x7FFFFFFF
_WINDOWS_NAMES = {
    THREAD_PRIORITY_IDLE: "THREAD_PRIORITY_IDLE",
    THREAD_PRIORITY_LOWEST: "THREAD_PRIORITY_LOWEST",
    THREAD_PRIORITY_BELOW_NORMAL: "THREAD_PRIORITY_BELOW_NORMAL",
}
_logged: set[str] = set()


class Kernel32(Protocol):
    """The three kernel32 functions used; injectable so the Windows path runs in tests."""

    def GetCurrentThread(self) -> Any: ...
    def GetThreadPriority(self, thread: Any) -> int: ...
    def SetThreadPriority(self, thread: Any, priority: int) -> int: ...


@dataclass(frozen=True)
class PriorityChange:
    """What ``lowered_priority`` did to the thread, for the dashboard and the log:
    "SCHED_IDLE", "THREAD_PRIORITY_BELOW_NORMAL" (or the lower value found) or
    "unchanged: <why>"."""

    applied: str
    # Restores the thread's priority at once, from any thread: a user request must not
    # wait behind a starved slice. The block's end restores it again, harmlessly.
    restore_now: Callable[[], None] | None = field(default=None, compare=False)

    @property
    def lowered(self) -> bool:
        return not self.applied.startswith("unchanged")


@contextmanager
def lowered_priority(*, platform: str | None = None,
                     kernel32: Kernel32 | None = None) -> Iterator[PriorityChange]:
    """Lower the calling thread's priority for the block, so the user's programs and our
    GUI thread win the CPU; restore it afterwards. Enter and leave on the same thread.

    ``platform`` and ``kernel32`` exist for tests (the Windows path with fakes).
    """
    platform = platform or sys.platform
    if platform.startswith("linux") and hasattr(os, "SCHED_IDLE"):
        with _linux_idle() as change:
            yield change
    elif platform == "win32":
        with _windows_below_normal(kernel32 or _load_kernel32()) as change:
            yield change
    else:
        yield PriorityChange(f"unchanged: on {platform} a thread's lowered priority cannot"
                             " be raised back without privileges")


@contextmanager
def _linux_idle() -> Iterator[PriorityChange]:
    policy = os.sched_getscheduler(0)  # 0: the calling thread, not the whole process
    if policy == os.SCHED_IDLE:
        yield PriorityChange("SCHED_IDLE")
        return
    if not idle_is_reversible():
        reason = ("unchanged: this thread could not leave SCHED_IDLE afterwards (needs"
                  " CAP_SYS_NICE or RLIMIT_NICE 20, `ulimit -e`)")
        _log_once(reason)
        yield PriorityChange(reason)
        return
    param = os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:
        reason = f"unchanged: SCHED_IDLE refused ({exc.strerror})"
        _log_once(reason)
        yield PriorityChange(reason)
        return
    owner = threading.get_ident()
    # On Linux a thread id names one thread to sched_setscheduler, from any thread.
    native = threading.get_native_id()

    def restore_now() -> None:
        try:
            os.sched_setscheduler(native, policy, param)
        except OSError as exc:
            logger.error("could not restore the learner thread's policy: %s", exc)

    try:
        yield PriorityChange("SCHED_IDLE", restore_now)
    finally:
        if threading.get_ident() != owner:
            logger.error("lowered_priority left on another thread; the learner stays low")
        else:
            try:
                os.sched_setscheduler(0, policy, param)
            except OSError as exc:
                logger.error("could not restore the learner thread's policy: %s", exc)


@functools.cache
def idle_is_reversible() -> bool:
    """Whether a thread of this process may go to SCHED_IDLE and back (tried once, on a
    short-lived thread, so no thread that matters can be left stuck)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="nexus-priority-probe", daemon=True)
    thread.start()
    thread.join()
    return result == [True]


@contextmanager
def _windows_below_normal(kernel32: Kernel32) -> Iterator[PriorityChange]:
    thread = kernel32.GetCurrentThread()  # a pseudo handle: nothing to close
    previous = kernel32.GetThreadPriority(thread)
    if previous == THREAD_PRIORITY_ERROR_RETURN:
        reason = f"unchanged: GetThreadPriority failed{_last_error()}"
        _log_once(reason)
        yield PriorityChange(reason)
        return
    if previous <= THREAD_PRIORITY_BELOW_NORMAL:
        yield PriorityChange(_WINDOWS_NAMES.get(previous, f"thread priority {previous}"))
        return
    if not kernel32.SetThreadPriority(thread, THREAD_PRIORITY_BELOW_NORMAL):
        reason = f"unchanged: SetThreadPriority failed{_last_error()}"
        _log_once(reason)
        yield PriorityChange(reason)
        return
    try:
        yield PriorityChange("THREAD_PRIORITY_BELOW_NORMAL")
    finally:
        if not kernel32.SetThreadPriority(thread, previous):
            logger.error("could not restore the learner thread's priority%s", _last_error())


def _load_kernel32() -> Kernel32:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.GetCurrentThread.argtypes = ()
    kernel32.GetCurrentThread.restype = wintypes.HANDLE
    kernel32.GetThreadPriority.argtypes = (wintypes.HANDLE,)
    kernel32.GetThreadPriority.restype = ctypes.c_int
    kernel32.SetThreadPriority.argtypes = (wintypes.HANDLE, ctypes.c_int)
    kernel32.SetThreadPriority.restype = wintypes.BOOL
    return kernel32  # type: ignore[no-any-return]


def _last_error() -> str:
    import ctypes

    get_last_error = getattr(ctypes, "get_last_error", None)  # exists only on Windows
    return f" (Windows error {get_last_error()})" if get_last_error else ""


def _log_once(reason: str) -> None:
    if reason not in _logged:
        _logged.add(reason)
        logger.warning("learning priority %s", reason)
