"""One process at a time on a data folder: the lock, who holds it, and the commands and
the app refusing or waiting while another process works on the memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nexus_desktop.data_lock import LOCK_FILE, DataInUseError, DataLock, holder
from nexus_desktop.paths import AppPaths
from nexus_desktop.ui import app as desktop_app

HOLD_SCRIPT = (
    "import sys, time\n"
    "from nexus_desktop.data_lock import DataLock\n"
    "from nexus_desktop.paths import app_paths\n"
    "lock = DataLock.acquire(app_paths(), 'a test holder')\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def test_a_second_taker_is_told_who_holds_the_memory(paths: AppPaths):
    with DataLock.acquire(paths, "`nexus-desktop ask`"):
        described = holder(paths)
        assert described is not None and described["pid"] == os.getpid()
        with pytest.raises(DataInUseError) as refused:
            DataLock.acquire(paths, "the Nexus Desktop app")
        message = str(refused.value)
        assert "`nexus-desktop ask`" in message and f"process {os.getpid()}" in message
        assert str(paths.data_dir) in message and "try again" in message
    # Released: taken again at once, and no stale description is left.
    assert (paths.data_dir / LOCK_FILE).read_text(encoding="utf-8") == ""
    DataLock.acquire(paths, "again").release()


def test_a_crashed_holder_leaves_the_memory_free(paths: AppPaths):
    child = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(DataInUseError, match="a test holder"):
            DataLock.acquire(paths, "test")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    DataLock.acquire(paths, "after the crash").release()


@pytest.mark.slow
def test_a_command_refuses_while_another_process_works_on_the_memory(paths: AppPaths):
    with DataLock.acquire(paths, "`nexus-desktop learn`"):
        done = subprocess.run([sys.executable, "-m", "nexus_desktop", "facts", "list"],
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "in use by `nexus-desktop learn`" in done.stderr and "try again" in done.stderr
    # The database was never opened: nothing was created in the data folder.
    assert not paths.database.exists()


def test_the_app_waits_for_a_command_to_end(paths: AppPaths, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(desktop_app, "DATA_LOCK_WAIT_S", 10.0)
    command = DataLock.acquire(paths, "`nexus-desktop ask`")
    releaser = threading.Timer(0.5, command.release)
    releaser.start()
    started = time.monotonic()
    lock = desktop_app._wait_for_data_lock(paths)
    releaser.join()
    assert time.monotonic() - started >= 0.4
    assert holder(paths)["purpose"] == "the Nexus Desktop app"  # type: ignore[index]
    lock.release()


def test_the_app_gives_up_on_a_command_that_does_not_end(paths: AppPaths,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(desktop_app, "DATA_LOCK_WAIT_S", 0.3)
    with DataLock.acquire(paths, "`nexus-desktop learn`"), \
            pytest.raises(DataInUseError, match="nexus-desktop learn"):
        desktop_app._wait_for_data_lock(paths)

