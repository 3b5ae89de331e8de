"""Wayland: idle time over the D-Bus session bus, since only the compositor sees all input.

GNOME (Mutter) answers ``org.gnome.Mutter.IdleMonitor.GetIdletime``; KDE and others
answer ``org.freedesktop.ScreenSaver.GetSessionIdleTime``. Uses the pure-Python jeepney,
imported on the first read so other platforms never need it. The connection is opened
on the first read, reopened after a bus error, and every call has a short timeout.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from nexus_desktop.governor.activity import ActivityReading, ActivityUnavailable

CALL_TIMEOUT_SECONDS = 1.0
NOT_RUNNING = {"org.freedesktop.DBus.Error.ServiceUnknown",
               "org.freedesktop.DBus.Error.NameHasNoOwner"}
NO_SUCH_OBJECT = {"org.freedesktop.DBus.Error.UnknownObject",
                  "org.freedesktop.DBus.Error.UnknownMethod",
                  "org.freedesktop.DBus.Error.UnknownInterface"}


def session_bus_address(environ: Mapping[str, str] = os.environ) -> str | None:
    """$DBUS_SESSION_BUS_ADDRESS, else the systemd default $XDG_RUNTIME_DIR/bus if it exists."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.exists(os.path.join(runtime_dir, "bus")):
        return f"unix:path={os.path.join(runtime_dir, 'bus')}"
    return None


class _SessionBusSource(ABC):
    """A connection to the session bus and one method call with a timeout."""

    name = "dbus"

    def __init__(self, bus_address: str | None = None,
                 timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        self._bus_address = bus_address
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connection: Any = None

    def read(self) -> ActivityReading:
        with self._lock:
            idle_ms = self._idle_ms()
        return ActivityReading(idle_seconds=idle_ms / 1000.0, source=self.name, fallback=False)

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    @abstractmethod
    def _idle_ms(self) -> int:
        """Milliseconds since the last input, as this desktop's service reports them."""

    def _call(self, bus_name: str, object_path: str, interface: str, method: str) -> int:
        """Call a method that returns one unsigned integer; D-Bus errors propagate."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        connection = self._connect()
        message = new_method_call(DBusAddress(object_path, bus_name, interface), method)
        try:
            reply = connection.send_and_get_reply(message, timeout=self._timeout)
        except TimeoutError as exc:
            self._disconnect()
            raise ActivityUnavailable(
                f"{bus_name} did not answer {method} within {self._timeout} s") from exc
        except OSError as exc:
            self._disconnect()
            raise ActivityUnavailable(f"lost the D-Bus session bus: {exc}") from exc
        body = unwrap_msg(reply)
        if len(body) != 1 or not isinstance(body[0], int):
            raise ActivityUnavailable(f"{bus_name} {method} returned {body!r}, not a number")
        return body[0]

    def _connect(self) -> Any:
        if self._connection is not None:
            return self._connection
        try:
            from jeepney.io.blocking import open_dbus_connection
        except ImportError as exc:
            raise ActivityUnavailable("the Python package jeepney is not installed") from exc
        address = self._bus_address or session_bus_address()
        if not address:
            raise ActivityUnavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        try:
            self._connection = open_dbus_connection(bus=address, auth_timeout=self._timeout)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ActivityUnavailable(
                f"cannot connect to the D-Bus session bus at {address}: {exc}") from exc
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _unavailable(bus_name: str, method: str, error: Any) -> ActivityUnavailable:
    """Turn a D-Bus error reply into a reason a user can read."""
    if error.name in NOT_RUNNING:
        return ActivityUnavailable(f"{bus_name} is not running on the D-Bus session bus")
    return ActivityUnavailable(f"{bus_name} {method} failed: {error}")


class MutterIdleMonitor(_SessionBusSource):
    """GNOME: Mutter's idle monitor, in milliseconds (uint64)."""

    name = "gnome"
    BUS_NAME = "org.gnome.Mutter.IdleMonitor"
    PATH = "/org/gnome/Mutter/IdleMonitor/Core"

    def _idle_ms(self) -> int:
        from jeepney.wrappers import DBusErrorResponse

        try:
            return self._call(self.BUS_NAME, self.PATH, self.BUS_NAME, "GetIdletime")
        except DBusErrorResponse as error:
            raise _unavailable(self.BUS_NAME, "GetIdletime", error) from error


class FreedesktopScreenSaver(_SessionBusSource):
    """KDE and others: ``GetSessionIdleTime`` (uint32).

    Read as milliseconds, which is what KDE (the main implementer) returns. An
    implementation that returned seconds would look 1000 times less idle: the governor
    would wait longer, never disturb the user more.
    """

    name = "freedesktop"
    BUS_NAME = "org.freedesktop.ScreenSaver"
    PATHS = ("/org/freedesktop/ScreenSaver", "/ScreenSaver")

    def __init__(self, bus_address: str | None = None,
                 timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        super().__init__(bus_address, timeout)
        self._paths = list(self.PATHS)

    def _idle_ms(self) -> int:
        from jeepney.wrappers import DBusErrorResponse

        error: Any = None
        for path in self._paths:
            try:
                idle_ms = self._call(self.BUS_NAME, path, self.BUS_NAME, "GetSessionIdleTime")
            except DBusErrorResponse as exc:
                if exc.name not in NO_SUCH_OBJECT:
                    raise _unavailable(self.BUS_NAME, "GetSessionIdleTime", exc) from exc
                error = exc
                continue
            self._paths = [path]  # remember the object that answered
            return idle_ms
        raise _unavailable(self.BUS_NAME, "GetSessionIdleTime", error) from error
