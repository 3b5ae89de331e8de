"""Start at login: one small backend per operating system, off until the user turns it on.

Users of local AI apps dislike apps that start themselves silently, so nothing here runs
unless the user asks. Each backend also respects a "disabled" mark that the desktop
itself (Task Manager, a session manager) wrote on the user's behalf: the app then reports
"off" and says where the user turned it off, instead of pretending it is on.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

APP_NAME = "Nexus Desktop"


class Autostart(Protocol):
    def is_enabled(self) -> bool:
        """True if Nexus Desktop will start at the next login."""
        ...

    def enable(self, command: list[str]) -> None:
        """Start ``command`` at every login from now on."""
        ...

    def disable(self) -> None:
        """Stop starting at login; doing it twice is harmless."""
        ...

    def describe(self) -> str:
        """Where the setting lives and its state, in words for the user."""
        ...


def launch_command() -> list[str]:
    """The command that starts Nexus Desktop as it runs now (installed app or source)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "nexus_desktop"]


def autostart_for_platform() -> Autostart:
    if sys.platform == "win32":
        return WindowsAutostart()
    if sys.platform == "darwin":
        return MacLaunchAgent()
    return XdgAutostart()


# --- Windows ---------------------------------------------------------------------------

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
# Explorer's StartupApproved value: 12 bytes, first byte even = enabled, odd = disabled
# by the user in Task Manager or Settings > Apps > Startup (the rest is a timestamp).
APPROVED_ENABLED = b"\x02" + b"\x00" * 11


def windows_command_line(command: list[str]) -> str:
    """A Run-key command line: the program always quoted (its path may hold spaces, and an
    unquoted path with spaces can start the wrong program), the arguments quoted by the
    rules the C runtime uses to split them again."""
    program, *arguments = command
    quoted_program = f'"{program}"'
    if not arguments:
        return quoted_program
    return f"{quoted_program} {subprocess.list2cmdline(arguments)}"


class WindowsAutostart:
    """The "Nexus Desktop" value under ``HKCU\\...\\CurrentVersion\\Run``.

    Per user, no admin rights needed, and listed in Task Manager's Startup tab, where the
    user may turn it off; Explorer records that under ``StartupApproved\\Run``.
    """

    def __init__(self, winreg_module: ModuleType | Any = None, value_name: str = APP_NAME):
        if winreg_module is None:
            import winreg as winreg_module  # only on Windows; tests pass a fake
        self._reg = winreg_module
        self._value_name = value_name

    def _read(self, key_path: str) -> tuple[Any, int] | None:
        try:
            with self._reg.OpenKey(self._reg.HKEY_CURRENT_USER, key_path, 0,
                                   self._reg.KEY_READ) as key:
                value, kind = self._reg.QueryValueEx(key, self._value_name)
        except FileNotFoundError:
            return None
        return value, kind

    def registered_command(self) -> str | None:
        found = self._read(RUN_KEY)
        return str(found[0]) if found else None

    def disabled_by_user(self) -> bool:
        found = self._read(STARTUP_APPROVED_KEY)
        if found is None:
            return False  # no entry means Explorer treats the Run value as enabled
        value, _kind = found
        return isinstance(value, bytes | bytearray) and len(value) > 0 and value[0] % 2 == 1

    def is_enabled(self) -> bool:
        return self.registered_command() is not None and not self.disabled_by_user()

    def enable(self, command: list[str]) -> None:
        reg = self._reg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
            reg.SetValueEx(key, self._value_name, 0, reg.REG_SZ, windows_command_line(command))
        # Turning it on here is the user's newest choice, so it overrides an older "off"
        # from Task Manager; otherwise the switch in Nexus Desktop would read "on" while
        # Windows kept skipping the entry. Task Manager can still turn it off again.
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, STARTUP_APPROVED_KEY, 0,
                             reg.KEY_SET_VALUE) as key:
            reg.SetValueEx(key, self._value_name, 0, reg.REG_BINARY, APPROVED_ENABLED)

    def disable(self) -> None:
        for key_path in (RUN_KEY, STARTUP_APPROVED_KEY):
            try:
                with self._reg.OpenKey(self._reg.HKEY_CURRENT_USER, key_path, 0,
                                       self._reg.KEY_SET_VALUE) as key:
                    self._reg.DeleteValue(key, self._value_name)
            except FileNotFoundError:
                continue  # already gone

    def describe(self) -> str:
        where = f'the "{self._value_name}" value under HKEY_CURRENT_USER\\{RUN_KEY}'
        if self.registered_command() is None:
            return f"Off. When on, Nexus Desktop is started at login by {where}."
        if self.disabled_by_user():
            return ("Off: turned off in Task Manager (Startup apps). Turn it on there, or "
                    f"here in Nexus Desktop. The entry is {where}.")
        return f"On: started at login by {where}. Task Manager's Startup apps can turn it off."


# --- Linux and other XDG desktops ------------------------------------------------------

DESKTOP_FILE_NAME = "nexus-desktop.desktop"
# Characters that force quoting of an Exec argument (Desktop Entry spec, "The Exec key").
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def xdg_config_home() -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config`` when unset or relative (as the spec says)."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".config"


def quote_exec_argument(argument: str) -> str:
    """One argument of an Exec key, quoted and escaped as the Desktop Entry spec requires.

    Two layers: inside double quotes ``"``, `` ` ``, ``$`` and ``\\`` get a backslash;
    then the whole value gets the string escapes (``\\`` -> ``\\\\``, newline -> ``\\n``),
    and a literal ``%`` becomes ``%%`` so it is not read as a field code.
    """
    if argument and not any(ch in _EXEC_RESERVED for ch in argument):
        quoted = argument
    else:
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in argument)
        quoted = f'"{inner}"'
    escaped = (quoted.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
               .replace("\r", "\\r"))
    return escaped.replace("%", "%%")


def desktop_exec_line(command: list[str]) -> str:
    return " ".join(quote_exec_argument(argument) for argument in command)


def read_desktop_entry(path: Path) -> dict[str, str]:
    """The keys of the ``[Desktop Entry]`` group, values as written (escapes kept)."""
    entries: dict[str, str] = {}
    in_group = False
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_group = line == "[Desktop Entry]"
            continue
        if in_group and "=" in line:
            key, value = line.split("=", 1)
            entries[key.strip()] = value.strip()
    return entries


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/nexus-desktop.desktop`` (freedesktop Autostart spec)."""

    def __init__(self, config_home: Path | None = None) -> None:
        self.path = (config_home or xdg_config_home()) / "autostart" / DESKTOP_FILE_NAME

    def _entry(self) -> dict[str, str] | None:
        try:
            return read_desktop_entry(self.path)
        except FileNotFoundError:
            return None

    def disabled_by_user(self) -> bool:
        """Desktops turn an autostart entry off by writing ``Hidden=true`` (the spec) or,
        on GNOME, ``X-GNOME-Autostart-enabled=false``, instead of deleting our file."""
        entry = self._entry()
        if entry is None:
            return False
        return (entry.get("Hidden", "").lower() == "true"
                or entry.get("X-GNOME-Autostart-enabled", "").lower() == "false")

    def is_enabled(self) -> bool:
        return self._entry() is not None and not self.disabled_by_user()

    def enable(self, command: list[str]) -> None:
        # Rewritten whole: the user's explicit "on" replaces a desktop's older Hidden=true.
        text = "\n".join([
            "[Desktop Entry]",
            "Type=Application",
            f"Name={APP_NAME}",
            "Comment=Your private AI companion, started at login",
            f"Exec={desktop_exec_line(command)}",
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "",
        ])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.path)  # a session starting now never reads half a file

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        if self._entry() is None:
            return f"Off. When on, Nexus Desktop is started at login by {self.path}."
        if self.disabled_by_user():
            return ("Off: turned off in your desktop's startup applications settings. Turn it "
                    f"on there, or here in Nexus Desktop. The entry is {self.path}.")
        return (f"On: started at login by {self.path}. Your desktop's startup applications "
                "settings can turn it off.")


# --- macOS -----------------------------------------------------------------------------

LAUNCH_AGENT_LABEL = "org.nexus-desktop.app"


class MacLaunchAgent:
    """``~/Library/LaunchAgents/<label>.plist``, read by launchd at the next login."""

    def __init__(self, home: Path | None = None, label: str = LAUNCH_AGENT_LABEL) -> None:
        self.label = label
        self.path = (home or Path.home()) / "Library" / "LaunchAgents" / f"{label}.plist"

    def _plist(self) -> dict[str, Any] | None:
        """The agent's keys; None when there is no file, {} when launchd could not read it
        either (damaged or not a dictionary)."""
        try:
            with self.path.open("rb") as handle:
                data = plistlib.load(handle)
        except FileNotFoundError:
            return None
        except (plistlib.InvalidFileException, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def disabled_by_user(self) -> bool:
        """launchd skips an agent whose plist says ``Disabled = true``."""
        data = self._plist()
        return bool(data) and data.get("Disabled") is True

    def is_enabled(self) -> bool:
        data = self._plist()
        return bool(data) and data.get("RunAtLoad") is True and not self.disabled_by_user()

    def enable(self, command: list[str]) -> None:
        agent = {
            "Label": self.label,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            # The supervisor restarts after crashes; launchd must not start a second copy.
            "KeepAlive": False,
            "ProcessType": "Interactive",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        with partial.open("wb") as handle:
            plistlib.dump(agent, handle)
        os.replace(partial, self.path)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def describe(self) -> str:
        if self._plist() is None:
            return f"Off. When on, Nexus Desktop is started at login by {self.path}."
        if self.disabled_by_user():
            return ("Off: the launch agent is marked disabled. Turn it on here in Nexus "
                    f"Desktop to rewrite it. The entry is {self.path}.")
        if not self.is_enabled():
            return ("Off: the launch agent cannot be used (damaged or not set to run at "
                    f"login). Turn it on here in Nexus Desktop to rewrite {self.path}.")
        return (f"On: started at login by {self.path}. System Settings > General > Login "
                "Items can turn it off.")
