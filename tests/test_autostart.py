"""Start at login: every backend for real in temp folders; Windows on an in-memory registry
(the one part that cannot run here)."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nexus_desktop import autostart
from nexus_desktop.autostart import (
    APPROVED_ENABLED,
    RUN_KEY,
    STARTUP_APPROVED_KEY,
    MacLaunchAgent,
    WindowsAutostart,
    XdgAutostart,
    autostart_for_platform,
    desktop_exec_line,
    launch_command,
    read_desktop_entry,
    windows_command_line,
)

COMMAND = ["/opt/Nexus Desktop/nexus", "--tray", "50% \"quoted\" $HOME `x` back\\slash"]


# --- an in-memory winreg with the real module's names and FileNotFoundError behaviour ---

class FakeKey:
    def __init__(self, values: dict[str, tuple[Any, int]], access: int) -> None:
        self.values = values
        self.access = access

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeWinreg(SimpleNamespace):
    HKEY_CURRENT_USER = 0x80000001
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_BINARY = 3

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[tuple[int, str], dict[str, tuple[Any, int]]] = {}

    def OpenKey(self, root: int, path: str, reserved: int = 0, access: int = 0x20019):
        values = self.keys.get((root, path.lower()))
        if values is None:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return FakeKey(values, access)

    def CreateKeyEx(self, root: int, path: str, reserved: int = 0, access: int = 0x20006):
        return FakeKey(self.keys.setdefault((root, path.lower()), {}), access)

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[Any, int]:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: Any) -> None:
        if not key.access & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        key.values[name] = (value, kind)

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if not key.access & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]

    def value(self, path: str, name: str = "Nexus Desktop") -> tuple[Any, int] | None:
        return self.keys.get((self.HKEY_CURRENT_USER, path.lower()), {}).get(name)


@pytest.fixture
def registry() -> FakeWinreg:
    return FakeWinreg()


def test_windows_is_off_by_default(registry):
    startup = WindowsAutostart(registry)
    assert not startup.is_enabled()
    assert startup.describe().startswith("Off.")
    startup.disable()  # nothing to remove is fine


def test_windows_enable_writes_a_quoted_run_value_and_disable_removes_it(registry):
    startup = WindowsAutostart(registry)
    startup.enable(COMMAND)
    value, kind = registry.value(RUN_KEY)
    assert kind == registry.REG_SZ
    assert value.startswith('"/opt/Nexus Desktop/nexus" --tray ')
    assert startup.is_enabled()
    assert "On:" in startup.describe() and "Task Manager" in startup.describe()
    startup.disable()
    assert registry.value(RUN_KEY) is None
    assert registry.value(STARTUP_APPROVED_KEY) is None
    assert not startup.is_enabled()


def test_windows_respects_the_task_manager_switch(registry):
    startup = WindowsAutostart(registry)
    startup.enable(COMMAND)
    # What Task Manager writes when the user disables the entry: 03, then a FILETIME.
    with registry.CreateKeyEx(registry.HKEY_CURRENT_USER, STARTUP_APPROVED_KEY, 0,
                              registry.KEY_SET_VALUE) as key:
        registry.SetValueEx(key, "Nexus Desktop", 0, registry.REG_BINARY,
                            b"\x03\x00\x00\x00" + bytes.fromhex("10c6c1e5a1b4da01"))
    assert startup.disabled_by_user()
    assert not startup.is_enabled()
    assert "turned off in Task Manager" in startup.describe()
    assert registry.value(RUN_KEY) is not None  # the user's choice is kept, not deleted

    # Turning it on again in Nexus Desktop is the newer choice and wins.
    startup.enable(COMMAND)
    assert registry.value(STARTUP_APPROVED_KEY) == (APPROVED_ENABLED, registry.REG_BINARY)
    assert startup.is_enabled()


def test_windows_enabled_mark_from_task_manager_counts_as_on(registry):
    startup = WindowsAutostart(registry)
    startup.enable(COMMAND)
    with registry.CreateKeyEx(registry.HKEY_CURRENT_USER, STARTUP_APPROVED_KEY, 0,
                              registry.KEY_SET_VALUE) as key:
        registry.SetValueEx(key, "Nexus Desktop", 0, registry.REG_BINARY, b"\x06" + b"\0" * 11)
    assert startup.is_enabled()


@pytest.mark.skipif(sys.platform != "win32", reason="Windows splits command lines itself")
def test_windows_command_line_splits_back_into_the_same_arguments():
    import ctypes

    line = windows_command_line(COMMAND)
    argc = ctypes.c_int()
    argv = ctypes.windll.shell32.CommandLineToArgvW(line, ctypes.byref(argc))
    assert [argv[i] for i in range(argc.value)] == COMMAND


def test_windows_command_line_quoting():
    assert windows_command_line([r"C:\Program Files\Nexus\nexus.exe"]) == (
        r'"C:\Program Files\Nexus\nexus.exe"')
    assert windows_command_line([r"C:\n.exe", "-m", "a b", 'say "hi"']) == (
        r'"C:\n.exe" -m "a b" "say \"hi\""')


# --- XDG -----------------------------------------------------------------------------

def desktop_exec_arguments(exec_value: str) -> list[str]:
    """Read an Exec value back as a desktop does: string escapes first, then the quoting
    rules (inside double quotes a backslash escapes ``"``, `` ` ``, ``$`` and ``\\``), then
    ``%%`` -> ``%``. Written from the spec, independently of the code under test."""
    text = exec_value.replace("\\\\", "\0").replace("\\n", "\n").replace("\0", "\\")
    arguments: list[str] = []
    current: list[str] = []
    in_quotes = started = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quotes and ch == "\\" and text[i + 1] in '"`$\\':
            current.append(text[i + 1])
            i += 1
        elif ch == '"':
            in_quotes, started = not in_quotes, True
        elif ch == " " and not in_quotes:
            if current or started:
                arguments.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
        i += 1
    if current or started:
        arguments.append("".join(current))
    return [argument.replace("%%", "%") for argument in arguments]


def test_xdg_uses_xdg_config_home_and_is_off_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    startup = XdgAutostart()
    assert startup.path == tmp_path / "cfg" / "autostart" / "nexus-desktop.desktop"
    assert not startup.is_enabled()
    assert startup.describe().startswith("Off.")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert XdgAutostart().path == Path.home() / ".config" / "autostart" / "nexus-desktop.desktop"


def test_xdg_enable_writes_a_valid_entry_and_disable_removes_it(tmp_path):
    startup = XdgAutostart(tmp_path)
    startup.enable(COMMAND)
    entry = read_desktop_entry(startup.path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Nexus Desktop"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert desktop_exec_arguments(entry["Exec"]) == COMMAND
    assert startup.is_enabled()
    assert str(startup.path) in startup.describe() and startup.describe().startswith("On:")
    assert not list(startup.path.parent.glob("*.tmp"))
    startup.disable()
    assert not startup.path.exists()
    assert not startup.is_enabled()
    startup.disable()


@pytest.mark.skipif(not Path("/usr/bin/desktop-file-validate").exists(),
                    reason="desktop-file-utils not installed")
def test_xdg_entry_passes_desktop_file_validate(tmp_path):
    startup = XdgAutostart(tmp_path)
    startup.enable(COMMAND)
    result = subprocess.run(["desktop-file-validate", str(startup.path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exec_quoting_follows_the_desktop_entry_spec():
    assert desktop_exec_line(["/usr/bin/python3", "-m", "nexus_desktop"]) == (
        "/usr/bin/python3 -m nexus_desktop")
    assert desktop_exec_line(["/a b/p", "50%"]) == '"/a b/p" 50%%'
    # A literal backslash inside a quoted argument takes four in the file.
    assert desktop_exec_line(["c\\d"]) == '"c\\\\\\\\d"'
    assert desktop_exec_line(['"$`']) == '"\\\\"\\\\$\\\\`"'
    assert desktop_exec_line([""]) == '""'


@pytest.mark.parametrize("mark", ["Hidden=true", "X-GNOME-Autostart-enabled=false"])
def test_xdg_respects_a_desktop_turning_the_entry_off(tmp_path, mark):
    startup = XdgAutostart(tmp_path)
    startup.enable(COMMAND)
    text = startup.path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    startup.path.write_text(text + mark + "\n")
    assert startup.disabled_by_user()
    assert not startup.is_enabled()
    assert "turned off in your desktop" in startup.describe()
    startup.enable(COMMAND)  # the user's explicit "on" wins
    assert startup.is_enabled()
    assert "Hidden" not in startup.path.read_text()


def test_xdg_ignores_keys_of_other_groups(tmp_path):
    startup = XdgAutostart(tmp_path)
    startup.path.parent.mkdir(parents=True)
    startup.path.write_text("[Desktop Entry]\nType=Application\nExec=x\n"
                            "[Desktop Action other]\nHidden=true\n")
    assert startup.is_enabled()


# --- macOS ---------------------------------------------------------------------------

def test_mac_launch_agent_round_trip(tmp_path):
    startup = MacLaunchAgent(tmp_path)
    assert startup.path == (tmp_path / "Library" / "LaunchAgents"
                            / f"{autostart.LAUNCH_AGENT_LABEL}.plist")
    assert not startup.is_enabled()
    assert startup.describe().startswith("Off.")
    startup.enable(COMMAND)
    with startup.path.open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent["Label"] == autostart.LAUNCH_AGENT_LABEL
    assert agent["ProgramArguments"] == COMMAND
    assert agent["RunAtLoad"] is True
    assert startup.is_enabled()
    assert "Login Items" in startup.describe()
    startup.disable()
    assert not startup.path.exists()
    assert not startup.is_enabled()


def test_mac_respects_disabled_and_damaged_agents(tmp_path):
    startup = MacLaunchAgent(tmp_path)
    startup.enable(COMMAND)
    with startup.path.open("rb") as handle:
        agent = plistlib.load(handle)
    agent["Disabled"] = True
    with startup.path.open("wb") as handle:
        plistlib.dump(agent, handle)
    assert startup.disabled_by_user()
    assert not startup.is_enabled()
    assert "marked disabled" in startup.describe()
    startup.path.write_bytes(b"not a plist")
    assert not startup.is_enabled()
    assert "cannot be used" in startup.describe()
    startup.enable(COMMAND)
    assert startup.is_enabled()


# --- choosing a backend and the command ------------------------------------------------

def test_launch_command_from_source_and_frozen(monkeypatch):
    assert launch_command() == [sys.executable, "-m", "nexus_desktop"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_command() == [sys.executable]


def test_launch_command_really_starts_nexus_desktop():
    result = subprocess.run([*launch_command(), "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "nexus" in result.stdout.lower()


def test_platform_backend(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    assert isinstance(autostart_for_platform(), XdgAutostart)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isinstance(autostart_for_platform(), MacLaunchAgent)
