"""The macOS source with a faked CoreGraphics function, so it is checked on every OS."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
from types import SimpleNamespace

import pytest

from nexus_desktop.governor import activity_macos
from nexus_desktop.governor.activity import ActivityUnavailable
from nexus_desktop.governor.activity_macos import MacActivity


def test_asks_for_any_input_in_the_hid_system_state():
    calls: list[tuple[int, int]] = []

    def seconds_since_last_event(state: int, event_type: int) -> float:
        calls.append((state, event_type))
        return 12.5

    reading = MacActivity(seconds_since_last_event).read()
    assert (reading.idle_seconds, reading.source, reading.fallback) == (12.5, "macos", False)
    assert calls == [(1, 0xFFFFFFFF)]


@pytest.mark.parametrize("impossible", [-1.0, math.nan, math.inf])
def test_an_impossible_answer_is_unavailable(impossible: float):
    with pytest.raises(ActivityUnavailable, match="impossible idle time"):
        MacActivity(lambda state, event_type: impossible).read()


def test_an_os_error_is_unavailable():
    def broken(state: int, event_type: int) -> float:
        raise OSError("segfault avoided")

    with pytest.raises(ActivityUnavailable, match="segfault avoided"):
        MacActivity(broken).read()


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the refusal off macOS")
def test_the_real_function_is_not_loaded_off_macos():
    source = MacActivity()
    with pytest.raises(ActivityUnavailable, match="only on macOS"):
        source.read()
    source.close()


def test_loading_declares_the_argument_and_result_types(monkeypatch: pytest.MonkeyPatch):
    function = SimpleNamespace(argtypes=None, restype=None)
    loaded: list[str] = []

    def cdll(path: str) -> SimpleNamespace:
        loaded.append(path)
        return SimpleNamespace(CGEventSourceSecondsSinceLastEventType=function)

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    loaded_function = activity_macos._load_coregraphics()
    assert loaded == [activity_macos.COREGRAPHICS]
    assert loaded_function.argtypes == [ctypes.c_int32, ctypes.c_uint32]
    assert loaded_function.restype is ctypes.c_double


def test_a_missing_framework_is_unavailable(monkeypatch: pytest.MonkeyPatch):
    def no_library(path: str) -> None:
        raise OSError(f"dlopen({path}): image not found")

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    with pytest.raises(ActivityUnavailable, match="cannot load CoreGraphics"):
        activity_macos._load_coregraphics()
