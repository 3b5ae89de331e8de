"""The X11 source: its failures without a display, and the real thing on a private Xvfb."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import time

import pytest
from xdisplay import require

from nexus_desktop.governor.activity import ActivityUnavailable, detect_activity_source
from nexus_desktop.governor.activity_x11 import X11Activity

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="libX11, Xvfb and xdotool are tested on Linux")


def test_no_display_is_unavailable():
    source = X11Activity("")
    with pytest.raises(ActivityUnavailable, match=r"no X display \(DISPLAY is not set\)"):
        source.read()
    source.close()


def test_a_missing_libxss_names_the_package():
    def without_xss(name: str) -> str | None:
        return None if name == "Xss" else ctypes.util.find_library(name)

    source = X11Activity(":0", find_library=without_xss)
    with pytest.raises(ActivityUnavailable, match=r"libXss not found .*libxss1"):
        source.read()
    source.close()


def test_a_display_that_does_not_exist_is_unavailable():
    source = X11Activity(":4094")
    with pytest.raises(ActivityUnavailable, match="cannot open the X display ':4094'"):
        source.read()
    source.close()


@pytest.mark.slow
def test_idle_grows_without_input_and_drops_after_a_mouse_move(xvfb: str):
    xdotool = require("xdotool", "xdotool")
    source = X11Activity(xvfb)
    try:
        first = source.read()
        assert (first.source, first.fallback, first.present) == ("x11", False, True)
        time.sleep(1.5)
        before = source.read().idle_seconds
        assert before >= first.idle_seconds + 1.0
        subprocess.run([xdotool, "mousemove", "100", "100"], check=True, timeout=10,
                       env={**os.environ, "DISPLAY": xvfb})
        assert source.read().idle_seconds < 0.5
    finally:
        source.close()
        source.close()


@pytest.mark.slow
def test_detect_picks_x11_on_a_real_display(xvfb: str):
    source, reason = detect_activity_source("linux", {"DISPLAY": xvfb})
    assert isinstance(source, X11Activity)
    assert reason is None
    source.close()
