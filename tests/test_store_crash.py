"""kill -9 in the middle of appends: every message whose append had returned survives.

A real process (tests/helpers/append_worker.py) runs 3 threads that append 1,000 messages
each (3,000 in all), each on its own connection, and prints every message once its
append has returned. The test kills it with SIGKILL after 1,200 reported messages (40%),
then opens the database the way the app does and checks every reported message.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pipe_lines import read_lines

from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database

HELPERS = Path(__file__).parent / "helpers"
_spec = importlib.util.spec_from_file_location("append_worker", HELPERS / "append_worker.py")
_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_worker)
checksum, message_text = _worker.checksum, _worker.message_text

THREADS = 3
PER_THREAD = 1000
KILL_AFTER = 1200
REPO = Path(__file__).resolve().parent.parent
CONTENT = re.compile(r"^thread (\d+) message (\d+): ")

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="SIGKILL exists only on POSIX systems"
)


def drain(stream, rest: bytes) -> list[bytes]:
    """Whatever complete lines are still in the pipe after the writer died."""
    while chunk := os.read(stream.fileno(), 65536):
        rest += chunk
    return rest.split(b"\n")[:-1]


def test_kill_9_during_appends_from_three_threads_loses_no_acknowledged_message(
    paths: AppPaths, tmp_path: Path
):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    errors = tmp_path / "worker-stderr.txt"
    with errors.open("wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, str(HELPERS / "append_worker.py"), str(paths.database),
             str(paths.backups_dir), str(THREADS), str(PER_THREAD)],
            stdout=subprocess.PIPE, stderr=stderr, cwd=REPO, env=env,
        )
        try:
            lines, rest = read_lines(worker.stdout, KILL_AFTER + 1, timeout=120)
            if len(lines) == KILL_AFTER + 1:
                os.kill(worker.pid, signal.SIGKILL)
            lines += drain(worker.stdout, rest)
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            worker.stdout.close()
    problem = errors.read_text(errors="replace")
    assert len(lines) > KILL_AFTER, f"the worker stopped early:\n{problem}"
    assert worker.returncode == -signal.SIGKILL, problem
    assert problem == ""

    ready, *reports = [line.decode() for line in lines]
    assert ready.startswith("ready ")
    session = int(ready.split()[1])
    assert "done" not in reports
    reported: dict[int, tuple[int, int, str]] = {}
    for line in reports:
        number, thread, index, digest = line.split()
        reported[int(number)] = (int(thread), int(index), digest)
    assert len(reported) == len(reports)
    assert KILL_AFTER <= len(reported) < THREADS * PER_THREAD  # really killed part-way
    # The kill left committed pages in the WAL that the restart has to read.
    assert paths.database.with_name(paths.database.name + "-wal").stat().st_size > 0

    database = Database(paths.database, paths.backups_dir)
    report = database.open()
    try:
        assert report.recovery is None
        assert database.quick_check() == []
        rows = dict(database.connection().execute(
            "SELECT id, content FROM messages WHERE session_id = ?", (session,)
        ).fetchall())
        assert database.connection().execute("SELECT count(*) FROM messages").get == len(rows)
    finally:
        database.close()

    # Every reported message is there, with exactly the content that was appended.
    for number, (thread, index, digest) in reported.items():
        assert number in rows, f"message {number} was acknowledged but is gone"
        assert rows[number] == message_text(thread, index)
        assert checksum(rows[number]) == digest

    # Nothing else is there but, per thread, at most the one message whose append had
    # committed when the kill came and so could not be reported.
    seen: dict[int, list[int]] = {n: [] for n in range(THREADS)}
    for number in sorted(rows):
        match = CONTENT.match(rows[number])
        assert match, rows[number][:60]
        thread, index = int(match[1]), int(match[2])
        assert rows[number] == message_text(thread, index)
        seen[thread].append(index)
    for thread, indexes in seen.items():
        assert indexes == list(range(len(indexes))), f"thread {thread} has gaps or repeats"
        acknowledged = sum(1 for t, _, _ in reported.values() if t == thread)
        assert len(indexes) - acknowledged in (0, 1)
