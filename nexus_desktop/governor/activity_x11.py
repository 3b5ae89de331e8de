"""X11: idle time from the MIT-SCREEN-SAVER extension (libXss), through ctypes.

The X server counts time since the last input event from any client or device, which is
exactly "has the user touched the desktop". The display is opened on the first read and
kept until ``close``. Xlib ends the process if the X server goes away under an open
display; that only happens when the whole session ends, so it is accepted here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from typing import Any

from nexus_desktop.governor.activity import ActivityReading, ActivityUnavailable

SCREEN_SAVER_ON = 1  # XScreenSaverInfo.state while the server's screen saver runs


class XScreenSaverInfo(ctypes.Structure):
    """The struct that XScreenSaverAllocInfo allocates; ``idle`` is in milliseconds."""

    _fields_ = (
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("eventMask", ctypes.c_ulong),
    )


class X11Activity:
    """Idle time of one X display (``display`` defaults to $DISPLAY)."""

    name = "x11"

    def __init__(self, display: str | None = None,
                 find_library: Callable[[str], str | None] = ctypes.util.find_library) -> None:
        self._display_name = display if display is not None else os.environ.get("DISPLAY", "")
        self._find_library = find_library
        self._lock = threading.Lock()
        self._xlib: Any = None
        self._xss: Any = None
        self._display: int | None = None
        self._root = 0
        self._info: int | None = None

    def read(self) -> ActivityReading:
        with self._lock:
            if self._display is None:
                self._open()
            if not self._xss.XScreenSaverQueryInfo(self._display, self._root, self._info):
                raise ActivityUnavailable(f"XScreenSaverQueryInfo failed on {self._display_name}")
            info = ctypes.cast(self._info, ctypes.POINTER(XScreenSaverInfo)).contents
            return ActivityReading(idle_seconds=info.idle / 1000.0, source=self.name,
                                   fallback=False, present=info.state != SCREEN_SAVER_ON)

    def close(self) -> None:
        with self._lock:
            if self._info is not None:
                self._xlib.XFree(self._info)
                self._info = None
            if self._display is not None:
                self._xlib.XCloseDisplay(self._display)
                self._display = None

    def _open(self) -> None:
        if not self._display_name:
            raise ActivityUnavailable("no X display (DISPLAY is not set)")
        if self._xlib is None:
            self._xlib = _declare_xlib(self._load("X11", "libx11-6"))
            self._xss = _declare_xss(self._load("Xss", "libxss1"))
        display = self._xlib.XOpenDisplay(self._display_name.encode())
        if not display:
            raise ActivityUnavailable(f"cannot open the X display {self._display_name!r}")
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not self._xss.XScreenSaverQueryExtension(display, ctypes.byref(event_base),
                                                    ctypes.byref(error_base)):
            self._xlib.XCloseDisplay(display)
            raise ActivityUnavailable(
                f"the X server at {self._display_name} lacks the MIT-SCREEN-SAVER extension")
        info = self._xss.XScreenSaverAllocInfo()
        if not info:
            self._xlib.XCloseDisplay(display)
            raise ActivityUnavailable("XScreenSaverAllocInfo failed (out of memory?)")
        self._display, self._info = display, info
        self._root = self._xlib.XDefaultRootWindow(display)

    def _load(self, name: str, debian_package: str) -> ctypes.CDLL:
        path = self._find_library(name)
        if path is None:
            raise ActivityUnavailable(
                f"lib{name} not found (Debian/Ubuntu package {debian_package})")
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            raise ActivityUnavailable(f"cannot load lib{name}: {exc}") from exc


def _declare_xlib(xlib: ctypes.CDLL) -> ctypes.CDLL:
    """Pointers as c_void_p: the default int result would truncate them on 64-bit."""
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong  # Window (an XID)
    xlib.XFree.argtypes = [ctypes.c_void_p]
    xlib.XFree.restype = ctypes.c_int
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.restype = ctypes.c_int
    return xlib


def _declare_xss(xss: ctypes.CDLL) -> ctypes.CDLL:
    int_pointer = ctypes.POINTER(ctypes.c_int)
    xss.XScreenSaverQueryExtension.argtypes = [ctypes.c_void_p, int_pointer, int_pointer]
    xss.XScreenSaverQueryExtension.restype = ctypes.c_int  # Bool
    xss.XScreenSaverAllocInfo.argtypes = []
    xss.XScreenSaverAllocInfo.restype = ctypes.c_void_p
    xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p]
    xss.XScreenSaverQueryInfo.restype = ctypes.c_int  # Status: 0 is failure
    return xss
