"""The Windows source with faked Win32 functions, so it is checked on every OS."""

from __future__ import annotations

import ctypes
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from nexus_desktop.governor import activity_windows
from nexus_desktop.governor.activity import ActivityUnavailable
from nexus_desktop.governor.activity_windows import LASTINPUTINFO, WindowsActivity

QUNS_ACCEPTS_NOTIFICATIONS = 5


class FakeFunction:
    """Stands for a ctypes function pointer: only its declared types are looked at."""

    argtypes: list[Any] | None = None
    restype: Any = None


def fake_windows(dw_time: int, tick64: int, state: int = QUNS_ACCEPTS_NOTIFICATIONS,
                 ok: int = 1, hresult: int = 0) -> WindowsActivity:
    """A WindowsActivity whose Win32 calls answer like the real ones would."""

    def get_last_input_info(info: Any) -> int:
        assert info.contents.cbSize == ctypes.sizeof(LASTINPUTINFO) == 8
        info.contents.dwTime = dw_time
        return ok

    def query_notification_state(pointer: Any) -> int:
        pointer.contents.value = state
        return hresult

    return WindowsActivity(get_last_input_info, lambda: tick64, query_notification_state)


def test_idle_is_the_tick_count_minus_the_last_input():
    reading = fake_windows(dw_time=10_000, tick64=12_500).read()
    assert (reading.idle_seconds, reading.source, reading.fallback) == (2.5, "windows", False)
    assert (reading.full_screen, reading.present) == (None, True)


def test_idle_is_right_across_the_32_bit_wrap():
    # dwTime was taken just before the 32-bit counter wrapped; the 64-bit one went on.
    assert fake_windows(dw_time=2**32 - 1500, tick64=2**32 + 500).read().idle_seconds == 2.0


def test_idle_is_right_after_many_wraps():
    assert fake_windows(dw_time=50, tick64=5 * 2**32 + 150).read().idle_seconds == 0.1


@pytest.mark.parametrize(("state", "full_screen", "present"), [
    (1, None, False),  # QUNS_NOT_PRESENT: locked or screensaver
    (2, "full-screen app", True),  # QUNS_BUSY
    (3, "game", True),  # QUNS_RUNNING_D3D_FULL_SCREEN
    (4, "presentation", True),  # QUNS_PRESENTATION_MODE
    (5, None, True),  # QUNS_ACCEPTS_NOTIFICATIONS
    (6, None, True),  # QUNS_QUIET_TIME
    (7, None, True),  # QUNS_APP
])
def test_notification_states(state: int, full_screen: str | None, present: bool):
    reading = fake_windows(dw_time=0, tick64=1000, state=state).read()
    assert (reading.full_screen, reading.present) == (full_screen, present)


def test_a_failing_notification_state_still_gives_the_idle_time():
    reading = fake_windows(dw_time=0, tick64=1000, state=3, hresult=-2147467259).read()
    assert (reading.idle_seconds, reading.full_screen, reading.present) == (1.0, None, True)


def test_a_failing_get_last_input_info_is_unavailable():
    with pytest.raises(ActivityUnavailable, match="GetLastInputInfo failed"):
        fake_windows(dw_time=0, tick64=1000, ok=0).read()


def test_an_os_error_from_a_call_is_unavailable():
    def broken(info: Any) -> int:
        raise OSError("exception: access violation reading 0x0")

    source = WindowsActivity(broken, lambda: 0, lambda state: 0)
    with pytest.raises(ActivityUnavailable, match="access violation"):
        source.read()


def test_all_three_functions_or_none():
    with pytest.raises(ValueError, match="all three"):
        WindowsActivity(lambda info: 1, None, None)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_the_real_functions_are_not_loaded_off_windows():
    source = WindowsActivity()
    with pytest.raises(ActivityUnavailable, match="only on Windows"):
        source.read()
    source.close()


def test_loading_declares_the_argument_and_result_types(monkeypatch: pytest.MonkeyPatch):
    dlls = {
        "user32": SimpleNamespace(GetLastInputInfo=FakeFunction()),
        "kernel32": SimpleNamespace(GetTickCount64=FakeFunction()),
        "shell32": SimpleNamespace(SHQueryUserNotificationState=FakeFunction()),
    }
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, **kwargs: dlls[name], raising=False)
    last_input, tick, state = activity_windows._load_win32()
    assert last_input.argtypes == [ctypes.POINTER(LASTINPUTINFO)]
    assert last_input.restype is ctypes.c_int
    assert (tick.argtypes, tick.restype) == ([], ctypes.c_uint64)
    assert state.argtypes == [ctypes.POINTER(ctypes.c_int)]
    assert state.restype is ctypes.c_long


def test_a_missing_dll_is_unavailable(monkeypatch: pytest.MonkeyPatch):
    def no_dll(name: str, **kwargs: object) -> None:
        raise OSError(f"[WinError 126] {name} not found")

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", no_dll, raising=False)
    with pytest.raises(ActivityUnavailable, match="cannot load the Windows idle-time functions"):
        activity_windows._load_win32()
