"""The D-Bus sources (Wayland): on a private dbus-daemon with small fake services."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("the D-Bus sources (jeepney) exist only on Linux", allow_module_level=True)

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from nexus_desktop.governor.activity import ActivityUnavailable, detect_activity_source
from nexus_desktop.governor.activity_wayland import (
    FreedesktopScreenSaver,
    MutterIdleMonitor,
    session_bus_address,
)

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
MUTTER = ("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core", "GetIdletime")
SCREENSAVER = ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver",
               "GetSessionIdleTime")


def test_the_session_bus_address_comes_from_the_environment(tmp_path: Path):
    assert session_bus_address({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}) == "unix:path=/x"
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) is None
    (tmp_path / "bus").touch()
    assert session_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)}) == f"unix:path={tmp_path}/bus"
    assert session_bus_address({}) is None


def test_no_bus_address_is_unavailable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    source = MutterIdleMonitor()
    with pytest.raises(ActivityUnavailable, match="no D-Bus session bus"):
        source.read()
    source.close()


def test_an_unreachable_bus_is_unavailable(tmp_path: Path):
    source = FreedesktopScreenSaver(f"unix:path={tmp_path}/missing")
    with pytest.raises(ActivityUnavailable, match="cannot connect to the D-Bus session bus"):
        source.read()
    source.close()


@pytest.fixture(scope="module")
def bus() -> Iterator[str]:
    """A private session bus (no service activation, so nothing real can answer)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("dbus-daemon not found: install the Debian package dbus-daemon")
    with tempfile.TemporaryDirectory(prefix="nexus-dbus-") as folder:
        config = Path(folder) / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=Path(folder) / "bus"), encoding="utf-8")
        process = subprocess.Popen(
            [daemon, "--config-file", str(config), "--print-address", "--nofork"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            address = process.stdout.readline().strip()
            if not address:
                pytest.fail(f"dbus-daemon did not start (exit code {process.wait(10)})")
            yield address
        finally:
            process.terminate()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


class FakeService:
    """Owns a bus name and answers one method on one object path with a fixed value.

    ``value`` None means: never answer (to test the timeout).
    """

    def __init__(self, address: str, bus_name: str, path: str, method: str,
                 signature: str, value: object) -> None:
        self._answer = (path, method, signature, value)
        self._connection = open_dbus_connection(bus=address)
        reply = self._connection.send_and_get_reply(message_bus.RequestName(bus_name), timeout=5)
        assert reply.body == (1,), "could not own the bus name"  # PRIMARY_OWNER
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"fake {bus_name}")
        self._thread.start()

    def _serve(self) -> None:
        path, method, signature, value = self._answer
        while not self._stop.is_set():
            try:
                message = self._connection.receive(timeout=0.05)
            except TimeoutError:
                continue
            if message.header.message_type != MessageType.method_call:
                continue
            fields = message.header.fields
            if (fields[HeaderFields.path], fields[HeaderFields.member]) != (path, method):
                self._connection.send(
                    new_error(message, "org.freedesktop.DBus.Error.UnknownObject"))
            elif value is not None:
                self._connection.send(new_method_return(message, signature, (value,)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._connection.close()


@pytest.fixture
def start_service(bus: str) -> Iterator[Callable[..., FakeService]]:
    services: list[FakeService] = []

    def start(bus_name: str, path: str, method: str, signature: str,
              value: object) -> FakeService:
        services.append(FakeService(bus, bus_name, path, method, signature, value))
        return services[-1]

    yield start
    for service in services:
        service.stop()


@pytest.mark.slow
def test_gnome_idle_monitor_milliseconds(bus: str, start_service: Callable[..., FakeService]):
    start_service(*MUTTER, "t", 2**40)  # uint64: longer than any uint32 could hold
    source = MutterIdleMonitor(bus)
    try:
        reading = source.read()
        assert (reading.idle_seconds, reading.source, reading.fallback) == (
            2**40 / 1000, "gnome", False)
    finally:
        source.close()


@pytest.mark.slow
def test_freedesktop_screensaver_milliseconds(bus: str,
                                              start_service: Callable[..., FakeService]):
    start_service(*SCREENSAVER, "u", 4321)
    source = FreedesktopScreenSaver(bus)
    try:
        assert source.read().idle_seconds == 4.321
        assert source.read().source == "freedesktop"  # the connection is reused
    finally:
        source.close()


@pytest.mark.slow
def test_freedesktop_screensaver_at_the_short_path(bus: str,
                                                   start_service: Callable[..., FakeService]):
    start_service(SCREENSAVER[0], "/ScreenSaver", SCREENSAVER[2], "u", 1500)
    source = FreedesktopScreenSaver(bus)
    try:
        assert source.read().idle_seconds == 1.5
    finally:
        source.close()


@pytest.mark.slow
def test_no_service_is_unavailable_with_the_reason(bus: str):
    for source, name in ((MutterIdleMonitor(bus), "org.gnome.Mutter.IdleMonitor"),
                         (FreedesktopScreenSaver(bus), "org.freedesktop.ScreenSaver")):
        with pytest.raises(ActivityUnavailable,
                           match=f"^{re.escape(name)} is not running on the D-Bus session bus$"):
            source.read()
        source.close()


@pytest.mark.slow
def test_a_service_that_does_not_answer_times_out(bus: str,
                                                  start_service: Callable[..., FakeService]):
    start_service(*MUTTER, "t", None)
    source = MutterIdleMonitor(bus, timeout=0.2)
    try:
        with pytest.raises(ActivityUnavailable, match=r"did not answer GetIdletime within 0\.2 s"):
            source.read()
    finally:
        source.close()


@pytest.mark.slow
def test_a_wrong_answer_is_unavailable(bus: str, start_service: Callable[..., FakeService]):
    start_service(*SCREENSAVER, "s", "soon")
    source = FreedesktopScreenSaver(bus)
    try:
        with pytest.raises(ActivityUnavailable, match="not a number"):
            source.read()
    finally:
        source.close()


@pytest.mark.slow
def test_detect_prefers_gnome_then_freedesktop(bus: str,
                                               start_service: Callable[..., FakeService]):
    environ = {"WAYLAND_DISPLAY": "wayland-0", "DBUS_SESSION_BUS_ADDRESS": bus}
    source, reason = detect_activity_source("linux", environ)
    assert source is None
    assert reason == ("org.gnome.Mutter.IdleMonitor is not running on the D-Bus session bus; "
                      "org.freedesktop.ScreenSaver is not running on the D-Bus session bus")

    start_service(*SCREENSAVER, "u", 10)
    source, reason = detect_activity_source("linux", environ)
    assert isinstance(source, FreedesktopScreenSaver)
    assert reason is None
    source.close()

    start_service(*MUTTER, "t", 20)
    source, reason = detect_activity_source("linux", environ)
    assert isinstance(source, MutterIdleMonitor)
    assert source.read().idle_seconds == 0.02
    source.close()
