"""The restart supervisor, with real child processes (small Python scripts) and real signals."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nexus_desktop.supervisor import (
    EXIT_CRASH_LOOP,
    EXIT_DO_NOT_RESTART,
    EXIT_RESTART,
    LOG_FILE,
    SUPERVISED_ENV,
    Supervisor,
    child_command,
    describe_exit,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Each run appends "<pid> <NEXUS_SUPERVISED>" to the record file, then does the action for
# its run number (the last action repeats): exitN, selfkill (SIGKILL), or wait.
CHILD = """
import os, signal, sys, time
record, *plan = sys.argv[1:]
if plan[0] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    plan = plan[1:]
with open(record, "a") as handle:
    handle.write(f"{os.getpid()} {os.environ.get('NEXUS_SUPERVISED')}\\n")
with open(record) as handle:
    run = len(handle.read().splitlines())
action = plan[min(run, len(plan)) - 1]
if action.startswith("exit"):
    sys.exit(int(action[4:]))
if action == "selfkill":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(120)  # "wait": until the test signals it (bounded, so nothing lingers)
"""

SUPERVISOR = """
import json, sys
from pathlib import Path
from nexus_desktop.supervisor import Supervisor
sys.exit(Supervisor(json.loads(sys.argv[1]), Path(sys.argv[2]), restart_delay=0).run())
"""


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "runs.txt"
    yield path
    # Whatever a failed test left behind is ended here: no child outlives its test.
    for pid in pids(path):
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            if str(path) in process.cmdline():  # a reused pid belongs to someone else
                process.kill()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def child(record: Path, *plan: str) -> list[str]:
    return [sys.executable, "-c", CHILD, str(record), *plan]


def runs(record: Path) -> list[tuple[int, str]]:
    if not record.exists():
        return []
    lines = record.read_text().splitlines()
    return [(int(pid), flag) for pid, flag in (line.split() for line in lines)]


def pids(record: Path) -> list[int]:
    return [pid for pid, _flag in runs(record)]


def supervisor_log(log_dir: Path) -> str:
    return (log_dir / LOG_FILE).read_text(encoding="utf-8")


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def supervisor_process(record: Path, log_dir: Path) -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def start_supervisor(started: list[subprocess.Popen], command: list[str],
                     log_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SUPERVISOR, json.dumps(command),
                                str(log_dir)])
    started.append(process)
    return process


def test_exit_0_ends_the_supervisor_without_restart(record, log_dir):
    code = Supervisor(child(record, "exit0"), log_dir, restart_delay=0).run()
    assert code == 0
    assert len(runs(record)) == 1
    assert runs(record)[0][1] == "1"  # the child knows it is supervised
    assert "Nexus Desktop quit" in supervisor_log(log_dir)


def test_a_killed_child_is_restarted_with_a_new_pid(record, log_dir):
    code = Supervisor(child(record, "selfkill", "exit0"), log_dir, restart_delay=0).run()
    assert code == 0
    first, second = pids(record)
    assert first != second
    text = supervisor_log(log_dir)
    assert "restarting Nexus Desktop (restart 1 of 5 in 10 min): killed by SIGKILL after" in text


def test_a_crash_loop_stops_after_max_restarts(record, log_dir):
    code = Supervisor(child(record, "exit1"), log_dir, max_restarts=2, restart_delay=0).run()
    assert code == EXIT_CRASH_LOOP
    assert len(runs(record)) == 3  # the first start and two restarts
    text = supervisor_log(log_dir)
    assert "restart 1 of 2 in 10 min): exited with code 1 after" in text
    assert "restart 2 of 2 in 10 min): exited with code 1 after" in text
    assert "not restarting Nexus Desktop: it exited with code 1" in text
    assert "already restarted 2 times in 10 min" in text


def test_restarts_older_than_the_window_do_not_count(record, log_dir):
    # Every reading of the clock is 1000 s after the last: no two crashes share a window.
    ticks = itertools.count(0, 1000)
    supervisor = Supervisor(child(record, "exit1", "exit1", "exit1", "exit1", "exit0"), log_dir,
                            max_restarts=2, window_seconds=600, clock=lambda: next(ticks),
                            restart_delay=0)
    assert supervisor.run() == 0
    assert len(runs(record)) == 5
    assert "restart 1 of 2 in 10 min" in supervisor_log(log_dir)
    assert "restart 2 of 2" not in supervisor_log(log_dir)


def test_the_child_can_ask_not_to_be_restarted(record, log_dir):
    code = Supervisor(child(record, f"exit{EXIT_DO_NOT_RESTART}"), log_dir, restart_delay=0).run()
    assert code == EXIT_DO_NOT_RESTART
    assert len(runs(record)) == 1
    assert "configuration error" in supervisor_log(log_dir)


def test_a_requested_restart_is_not_counted_as_a_crash(record, log_dir):
    restarts = [f"exit{EXIT_RESTART}"] * 4
    code = Supervisor(child(record, *restarts, "exit0"), log_dir, max_restarts=1,
                      restart_delay=0).run()
    assert code == 0
    assert len(runs(record)) == 5
    assert "asked to be started again" in supervisor_log(log_dir)
    assert "restarting Nexus Desktop (restart" not in supervisor_log(log_dir)


def test_a_command_that_cannot_start_is_reported(tmp_path, log_dir):
    code = Supervisor([str(tmp_path / "missing-program")], log_dir, restart_delay=0).run()
    assert code == EXIT_CRASH_LOOP
    assert "cannot start Nexus Desktop" in supervisor_log(log_dir)


def test_the_environment_is_passed_with_the_supervised_flag(record, log_dir, tmp_path):
    out = tmp_path / "env.json"
    script = ("import json, os, sys; json.dump({k: os.environ.get(k) for k in sys.argv[2:]}, "
              "open(sys.argv[1], 'w'))")
    env = {"PATH": os.environ["PATH"], "NEXUS_TEST_MARK": "kept"}
    command = [sys.executable, "-c", script, str(out), "NEXUS_TEST_MARK", SUPERVISED_ENV, "HOME"]
    assert Supervisor(command, log_dir, env=env, restart_delay=0).run() == 0
    assert json.loads(out.read_text()) == {"NEXUS_TEST_MARK": "kept", SUPERVISED_ENV: "1",
                                           "HOME": None}


def test_kill_9_from_outside_restarts_and_sigterm_ends_child_and_supervisor(
        record, log_dir, supervisor_process):
    process = start_supervisor(supervisor_process, child(record, "wait"), log_dir)
    wait_for(lambda: len(runs(record)) == 1)
    first = pids(record)[0]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: len(runs(record)) == 2)
    second = pids(record)[1]
    assert second != first
    assert "killed by SIGKILL" in supervisor_log(log_dir)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert is_gone(second)
    assert len(runs(record)) == 2  # not restarted after the SIGTERM
    assert "supervisor stopped by SIGTERM; Nexus Desktop killed by SIGTERM" in \
        supervisor_log(log_dir)


def test_sigint_is_forwarded_too(record, log_dir, supervisor_process):
    process = start_supervisor(supervisor_process, child(record, "wait"), log_dir)
    wait_for(lambda: len(runs(record)) == 1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 128 + signal.SIGINT
    assert is_gone(pids(record)[0])
    # An uncaught KeyboardInterrupt ends Python by re-raising SIGINT on itself.
    assert "supervisor stopped by SIGINT; Nexus Desktop killed by SIGINT" in \
        supervisor_log(log_dir)


def test_a_second_sigterm_kills_a_child_that_ignores_the_first(record, log_dir,
                                                              supervisor_process):
    process = start_supervisor(supervisor_process, child(record, "ignore-term", "wait"), log_dir)
    wait_for(lambda: len(runs(record)) == 1)
    pid = pids(record)[0]
    process.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)  # the child ignores SIGTERM, so both are still running
    assert not is_gone(pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert is_gone(pid)
    assert "Nexus Desktop killed by SIGKILL" in supervisor_log(log_dir)


def test_exit_reasons_are_named():
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"
    assert describe_exit(2) == "exited with code 2"
    assert describe_exit(0xC0000005) == "exited with code 0xC0000005"


def test_child_command_from_source_and_frozen(monkeypatch):
    assert child_command(["--tray"]) == [sys.executable, "-m", "nexus_desktop", "--tray"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child_command(["--tray"]) == [sys.executable, "--tray"]


def test_the_log_rotates(record, log_dir):
    log_dir.mkdir()
    (log_dir / LOG_FILE).write_text("x" * 1_100_000)
    assert Supervisor(child(record, "exit0"), log_dir, restart_delay=0).run() == 0
    assert (log_dir / f"{LOG_FILE}.1").stat().st_size >= 1_100_000
    assert "Nexus Desktop quit" in supervisor_log(log_dir)
