"""Windows: idle time from GetLastInputInfo, a busy desktop from SHQueryUserNotificationState.

The three Win32 functions are constructor arguments so tests on any OS can fake them; the
real ones are loaded on the first read, and only on Windows.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nexus_desktop.governor.activity import ActivityReading, ActivityUnavailable

if TYPE_CHECKING:
    GetLastInputInfo = Callable[[ctypes._Pointer[Any]], int]
    QueryNotificationState = Callable[[ctypes._Pointer[ctypes.c_int]], int]

S_OK = 0
QUNS_NOT_PRESENT = 1
QUNS_BUSY = 2
QUNS_RUNNING_D3D_FULL_SCREEN = 3
QUNS_PRESENTATION_MODE = 4
FULL_SCREEN_REASONS = {
    QUNS_BUSY: "full-screen app",
    QUNS_RUNNING_D3D_FULL_SCREEN: "game",
    QUNS_PRESENTATION_MODE: "presentation",
}


class LASTINPUTINFO(ctypes.Structure):
    """The Win32 struct; ``dwTime`` is a 32-bit tick count that wraps every 49.7 days."""

    _fields_ = (("cbSize", ctypes.c_uint32), ("dwTime", ctypes.c_uint32))


class WindowsActivity:
    """Idle time of this Windows session (input in other sessions is not seen)."""

    name = "windows"

    def __init__(self, get_last_input_info: GetLastInputInfo | None = None,
                 get_tick_count64: Callable[[], int] | None = None,
                 query_notification_state: QueryNotificationState | None = None) -> None:
        injected = (get_last_input_info, get_tick_count64, query_notification_state)
        if any(f is None for f in injected) and any(f is not None for f in injected):
            raise ValueError("inject all three Win32 functions or none")
        self._functions = None if get_last_input_info is None else injected
        self._lock = threading.Lock()

    def read(self) -> ActivityReading:
        get_last_input_info, get_tick_count64, query_state = self._loaded()
        info = LASTINPUTINFO(cbSize=ctypes.sizeof(LASTINPUTINFO))
        try:
            if not get_last_input_info(ctypes.pointer(info)):
                raise ActivityUnavailable(f"GetLastInputInfo failed{_last_error()}")
            # Compare in 32 bits: the difference modulo 2**32 is right across the wrap.
            idle_ms = ((get_tick_count64() & 0xFFFFFFFF) - info.dwTime) & 0xFFFFFFFF
            state = ctypes.c_int(0)
            known = query_state(ctypes.pointer(state)) == S_OK
        except OSError as exc:
            raise ActivityUnavailable(f"reading the Windows idle time failed: {exc}") from exc
        # An unknown notification state is not a reason to stop: idle time is what matters.
        return ActivityReading(
            idle_seconds=idle_ms / 1000.0, source=self.name, fallback=False,
            full_screen=FULL_SCREEN_REASONS.get(state.value) if known else None,
            present=not (known and state.value == QUNS_NOT_PRESENT),
        )

    def close(self) -> None:
        """Nothing to release: the DLLs stay loaded for the life of the process."""

    def _loaded(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._functions is None:
                self._functions = _load_win32()
            return self._functions


def _last_error() -> str:
    get_last_error = getattr(ctypes, "get_last_error", None)  # exists only on Windows
    return f" (Windows error {get_last_error()})" if get_last_error else ""


def _load_win32() -> tuple[Any, Any, Any]:
    """The real functions, with argument and result types declared."""
    if sys.platform != "win32":
        raise ActivityUnavailable("the Windows activity source works only on Windows")
    try:
        user32 = ctypes.WinDLL("user32", use_last_error=True)
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        shell32 = ctypes.WinDLL("shell32")
        get_last_input_info = user32.GetLastInputInfo
        get_tick_count64 = kernel32.GetTickCount64
        query_state = shell32.SHQueryUserNotificationState
    except (OSError, AttributeError) as exc:
        raise ActivityUnavailable(f"cannot load the Windows idle-time functions: {exc}") from exc
    get_last_input_info.argtypes = [ctypes.POINTER(LASTINPUTINFO)]
    get_last_input_info.restype = ctypes.c_int  # BOOL
    get_tick_count64.argtypes = []
    get_tick_count64.restype = ctypes.c_uint64
    query_state.argtypes = [ctypes.POINTER(ctypes.c_int)]
    query_state.restype = ctypes.c_long  # HRESULT
    return get_last_input_info, get_tick_count64, query_state
