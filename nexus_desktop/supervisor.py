"""Start Nexus Desktop again after it crashes ("Restart=always" without a service manager).

The supervisor is a small parent process that runs the app as its child. A clean quit
(exit code 0, chosen from the tray) ends both; any other end is logged with its reason
and the app is started again, unless it keeps crashing, when restarting only burns
battery and hides the problem: then the supervisor stops and says why in its log.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from nexus_desktop.autostart import launch_command

LOG_FILE = "supervisor.log"
# Set in the child's environment, so the app knows a crash will be followed by a restart.
SUPERVISED_ENV = "NEXUS_SUPERVISED"
# The user quit; the supervisor ends too.
EXIT_QUIT = 0
# The app exits with this when restarting cannot help (a configuration error the user
# must fix first); the supervisor then stops instead of looping.
EXIT_DO_NOT_RESTART = 3
# Returned when the supervisor gives up because the app keeps crashing.
EXIT_CRASH_LOOP = 1
# The app asks to be started again at once (after importing or resetting the memory):
# not a crash, so it does not count towards the restart limit.
EXIT_RESTART = 4

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = logging.getLogger(__name__)


def child_command(extra_args: list[str]) -> list[str]:
    """The command that runs the app itself under the supervisor."""
    return [*launch_command(), *extra_args]


def describe_exit(returncode: int) -> str:
    """Why a child ended, in words: "exited with code 1", "killed by SIGKILL"."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    if returncode > 255:
        # Windows reports crashes as NTSTATUS codes, which are read in hex
        # (0xC0000005 is an access violation).
        return f"exited with code 0x{returncode:08X}"
    return f"exited with code {returncode}"


def describe_window(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


class Supervisor:
    """Runs ``command`` and starts it again after every abnormal exit, within limits."""

    def __init__(
        self,
        command: list[str],
        log_dir: Path,
        *,
        max_restarts: int = 5,
        window_seconds: float = 600,
        clock: Callable[[], float] = time.monotonic,
        env: dict[str, str] | None = None,
        restart_delay: float = 1.0,
    ) -> None:
        """``restart_delay`` waits between a crash and the restart, so the operating
        system has released what the dead app held (GPU memory, its local socket)."""
        self._command = list(command)
        self._log_dir = log_dir
        self._max_restarts = max_restarts
        self._window = window_seconds
        self._clock = clock
        self._env = dict(os.environ if env is None else env)
        self._env[SUPERVISED_ENV] = "1"
        self._restart_delay = restart_delay
        self._child: subprocess.Popen[bytes] | None = None
        self._stop_signal: int | None = None
        self._signals_received = 0

    def run(self) -> int:
        """Supervise until the app quits, asks not to be restarted, keeps crashing, or the
        supervisor is told to stop. Returns the code the supervisor should exit with."""
        handler = self._open_log()
        previous = self._install_signal_handlers()
        try:
            return self._supervise()
        finally:
            self._restore_signal_handlers(previous)
            log.removeHandler(handler)
            handler.close()

    def _supervise(self) -> int:
        restarts: deque[float] = deque()
        while True:
            if self._stop_signal is not None:
                return self._stopped_by_signal(None)
            started = self._clock()
            try:
                self._child = subprocess.Popen(self._command, env=self._env)
            except OSError as exc:
                log.error("cannot start Nexus Desktop (%s): %s; not retrying",
                          subprocess.list2cmdline(self._command), exc)
                return EXIT_CRASH_LOOP
            log.info("Nexus Desktop started (pid %d)", self._child.pid)
            if self._stop_signal is not None:
                # The signal came while the child was being created: pass it on now.
                self._forward(self._stop_signal)
            returncode = self._child.wait()
            ended = self._clock()
            reason = f"{describe_exit(returncode)} after {ended - started:.1f} s"
            if self._stop_signal is not None:
                return self._stopped_by_signal(reason)
            if returncode == EXIT_QUIT:
                log.info("Nexus Desktop quit (pid %d); supervisor ends", self._child.pid)
                return EXIT_QUIT
            if returncode == EXIT_DO_NOT_RESTART:
                log.error("Nexus Desktop %s: it reported a configuration error, so restarting "
                          "would not help; not restarting. Fix the problem named in "
                          "nexus.log, then start Nexus Desktop again.", reason)
                return EXIT_DO_NOT_RESTART
            if returncode == EXIT_RESTART:
                log.info("Nexus Desktop asked to be started again (pid %d)", self._child.pid)
                continue
            while restarts and ended - restarts[0] > self._window:
                restarts.popleft()
            window = describe_window(self._window)
            if len(restarts) >= self._max_restarts:
                log.error("not restarting Nexus Desktop: it %s, and it was already restarted "
                          "%d times in %s. See nexus.log for the cause, then start Nexus "
                          "Desktop again.", reason, len(restarts), window)
                return EXIT_CRASH_LOOP
            restarts.append(ended)
            log.warning("restarting Nexus Desktop (restart %d of %d in %s): %s",
                        len(restarts), self._max_restarts, window, reason)
            if self._restart_delay > 0:
                time.sleep(self._restart_delay)

    def _stopped_by_signal(self, reason: str | None) -> int:
        assert self._stop_signal is not None
        name = signal.Signals(self._stop_signal).name
        ended = f"; Nexus Desktop {reason}" if reason else ""
        log.info("supervisor stopped by %s%s; not restarting", name, ended)
        return 128 + self._stop_signal

    def _open_log(self) -> logging.Handler:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            self._log_dir / LOG_FILE, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        return handler

    def _install_signal_handlers(self) -> dict[int, object]:
        # Python only lets the main thread set signal handlers; elsewhere the process's own
        # handlers stay in charge.
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, object] = {}
        for sig in FORWARDED_SIGNALS:
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, object]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """First SIGTERM/SIGINT: pass it to the app so it closes cleanly, then stop.
        A second one: the app is not ending, so kill it.

        A Ctrl-C in a terminal reaches the app directly as well (same process group), so
        the app may see SIGINT twice; its quit is idempotent.
        """
        self._signals_received += 1
        if self._stop_signal is None:
            self._stop_signal = signum
        if self._signals_received == 1:
            self._forward(signum)
        elif self._child is not None and self._child.poll() is None:
            self._child.kill()

    def _forward(self, signum: int) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            return
        if os.name == "nt":
            # Windows has no SIGTERM delivery to another process; terminate is the way.
            child.terminate()
        else:
            child.send_signal(signum)
