"""The desktop app on a real X desktop: a private Xvfb with a tray host (trayer), the app
started the way a user starts it (`python -m nexus_desktop`, under its supervisor), driven
with xdotool like a user: click the tray icon, type a message, read the streamed reply;
a second launch hands over to the first; kill -9 brings the app back on the same
conversation; Quit from the tray menu ends both processes. Screenshots are saved in the
test's temp folder (look at them: tests/screenshots.md says where)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import apsw
import psutil
import pytest
from xdisplay import require

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths

pytestmark = [pytest.mark.slow, pytest.mark.bundled_model]

T = TypeVar("T")
APP_TITLE = "Nexus Desktop"  # the tray icon's window
CHAT_TITLE = "Chat - Nexus Desktop"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Desktop:
    """xdotool, xwininfo and ImageMagick on one display."""

    def __init__(self, display: str, shots: Path) -> None:
        self.env = {**os.environ, "DISPLAY": display}
        self.shots = shots
        self.xdotool = require("xdotool", "xdotool")
        self.xwininfo = require("xwininfo", "x11-utils")
        self.import_ = require("import", "imagemagick")

    def run(self, *args: str) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)
        return done.stdout

    def tray_icon(self) -> tuple[int, int] | None:
        """The centre of the app's icon in the tray host's panel, in root coordinates."""
        tree = self.run(self.xwininfo, "-root", "-tree")
        in_panel = False
        for line in tree.splitlines():
            if '"panel": ("panel" "trayer")' in line:
                in_panel = True
            elif in_panel and f'"{APP_TITLE}"' in line:
                # e.g.  0x400007 "Nexus Desktop": ("nexus-desktop" ...)  22x30+0+0  +1001+1
                _, size, absolute = line.rsplit(None, 2)
                width, height = (int(v) for v in size.split("+")[0].split("x"))
                x, y = (int(v) for v in absolute.lstrip("+").split("+"))
                return x + width // 2, y + height // 2
        return None

    def visible_windows(self, name: str) -> list[str]:
        return self.run(self.xdotool, "search", "--onlyvisible", "--name", name).split()

    def click(self, x: int, y: int, button: int = 1) -> None:
        self.run(self.xdotool, "mousemove", str(x), str(y), "click", str(button))

    def type_line(self, window: str, text: str) -> None:
        """Real key presses into the focused window (Qt ignores events sent to a window
        with XSendEvent, which `xdotool type --window` uses). The chat window puts the
        input box in focus when it opens."""
        self.run(self.xdotool, "windowfocus", "--sync", window)
        self.run(self.xdotool, "type", "--delay", "30", text)
        self.run(self.xdotool, "key", "Return")

    def key(self, *keys: str) -> None:
        self.run(self.xdotool, "key", *keys)

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        subprocess.run([self.import_, "-window", "root", str(path)], env=self.env, check=True,
                       timeout=30)
        return path


@pytest.fixture
def tray_host(xvfb: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [require("trayer", "trayer"), "--edge", "top", "--align", "right", "--widthtype",
         "request", "--height", "32", "--transparent", "false"],
        env={**os.environ, "DISPLAY": xvfb}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    yield process
    process.terminate()
    process.wait(10)


def replies(paths: AppPaths) -> list[tuple[int, str, str]]:
    """The finished replies in the database, read without disturbing the app."""
    if not paths.database.exists():
        return []
    connection = apsw.Connection(str(paths.database), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return list(connection.execute(
            "SELECT id, content, status FROM messages WHERE role = 'assistant' "
            "AND status IN ('complete', 'failed') ORDER BY id"))
    except apsw.Error:
        return []
    finally:
        connection.close()


def user_messages(paths: AppPaths) -> list[str]:
    connection = apsw.Connection(str(paths.database), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return [row[0] for row in connection.execute(
            "SELECT content FROM messages WHERE role = 'user' ORDER BY id")]
    finally:
        connection.close()


def app_children(supervisor: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        return psutil.Process(supervisor.pid).children()
    except psutil.NoSuchProcess:
        return []


def test_the_app_on_a_real_desktop(xvfb: str, tray_host: subprocess.Popen[bytes],
                                   bundled_home: AppPaths, tmp_path: Path):
    settings = Settings(bundled_home.user_config)
    settings.set("generation.max_new_tokens", 24)
    settings.set("generation.temperature", 0.0)
    desktop = Desktop(xvfb, tmp_path)
    env = {key: value for key, value in os.environ.items() if key != "QT_QPA_PLATFORM"}
    env["DISPLAY"] = xvfb
    supervisor = subprocess.Popen([sys.executable, "-m", "nexus_desktop"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The tray icon appears; a click on it opens the chat window.
        icon = wait_for("the tray icon", desktop.tray_icon)
        desktop.click(*icon)
        chat = wait_for("the chat window", lambda: desktop.visible_windows(f"^{CHAT_TITLE}$"))[0]
        desktop.type_line(chat, "hello, my name is Sam")
        first = wait_for("the first reply", lambda: replies(bundled_home), timeout=300)
        assert first[0][2] == "complete" and first[0][1].strip()
        time.sleep(0.5)  # the last piece is painted
        desktop.screenshot("1-first-reply")

        # Esc hides the window; a second launch brings it back and exits at once.
        desktop.key("Escape")
        wait_for("the window to hide", lambda: not desktop.visible_windows(f"^{CHAT_TITLE}$"))
        second = subprocess.run([sys.executable, "-m", "nexus_desktop", "app"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        wait_for("the first instance's window", lambda: desktop.visible_windows(
            f"^{CHAT_TITLE}$"))
        assert len(app_children(supervisor)) == 1

        # kill -9: the supervisor starts the app again, on the same conversation.
        killed = app_children(supervisor)[0]
        killed.send_signal(signal.SIGKILL)
        wait_for("a new app process", lambda: [p for p in app_children(supervisor)
                                               if p.pid != killed.pid])
        icon = wait_for("the tray icon again", desktop.tray_icon)
        desktop.click(*icon)
        chat = wait_for("the chat window again",
                        lambda: desktop.visible_windows(f"^{CHAT_TITLE}$"))[0]
        desktop.type_line(chat, "what is my name?")
        wait_for("the second reply", lambda: len(replies(bundled_home)) >= 2, timeout=300)
        time.sleep(0.5)
        desktop.screenshot("2-after-restart")
        assert user_messages(bundled_home) == ["hello, my name is Sam", "what is my name?"]
        log = (bundled_home.log_dir / "supervisor.log").read_text()
        assert "SIGKILL" in log

        # Quit from the tray menu (its last item) ends the app and the supervisor.
        desktop.click(*icon, button=3)
        time.sleep(1)
        desktop.screenshot("3-tray-menu")
        desktop.key("Up", "Return")
        assert supervisor.wait(60) == 0
    finally:
        if supervisor.poll() is None:
            for child in app_children(supervisor):
                child.kill()
            supervisor.kill()
            supervisor.wait(10)
        print(f"screenshots: {tmp_path}")
        assert supervisor.stderr is not None
        with supervisor.stderr:
            print(supervisor.stderr.read().decode(errors="replace")[-3000:])
