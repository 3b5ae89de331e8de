"""macOS: seconds since the last input event, from CoreGraphics.

``CGEventSourceSecondsSinceLastEventType`` with the HID system state sees input to every
app and needs no accessibility permission. The function is a constructor argument so
tests can fake it; the real one is loaded on the first read, and only on macOS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
import threading
from collections.abc import Callable

from nexus_desktop.governor.activity import ActivityReading, ActivityUnavailable

K_CG_EVENT_SOURCE_STATE_HID_SYSTEM_STATE = 1
K_CG_ANY_INPUT_EVENT_TYPE = 0xFFFFFFFF
COREGRAPHICS = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"

SecondsSinceLastEvent = Callable[[int, int], float]


class MacActivity:
    """Idle time of the macOS login session."""

    name = "macos"

    def __init__(self, seconds_since_last_event: SecondsSinceLastEvent | None = None) -> None:
        self._function = seconds_since_last_event
        self._lock = threading.Lock()

    def read(self) -> ActivityReading:
        with self._lock:
            if self._function is None:
                self._function = _load_coregraphics()
            function = self._function
        try:
            seconds = float(function(K_CG_EVENT_SOURCE_STATE_HID_SYSTEM_STATE,
                                     K_CG_ANY_INPUT_EVENT_TYPE))
        except OSError as exc:
            raise ActivityUnavailable(f"reading the macOS idle time failed: {exc}") from exc
        if not math.isfinite(seconds) or seconds < 0:
            raise ActivityUnavailable(f"CoreGraphics returned an impossible idle time {seconds}")
        return ActivityReading(idle_seconds=seconds, source=self.name, fallback=False)

    def close(self) -> None:
        """Nothing to release: the framework stays loaded for the life of the process."""


def _load_coregraphics() -> SecondsSinceLastEvent:
    """The real function, with argument and result types declared."""
    if sys.platform != "darwin":
        raise ActivityUnavailable("the macOS activity source works only on macOS")
    try:
        library = ctypes.CDLL(ctypes.util.find_library("CoreGraphics") or COREGRAPHICS)
        function = library.CGEventSourceSecondsSinceLastEventType
    except (OSError, AttributeError) as exc:
        raise ActivityUnavailable(f"cannot load CoreGraphics: {exc}") from exc
    function.argtypes = [ctypes.c_int32, ctypes.c_uint32]  # CGEventSourceStateID, CGEventType
    function.restype = ctypes.c_double  # CFTimeInterval
    return function
