"""Appends messages from several threads and reports each one once its append returned.

Usage: append_worker.py DATABASE BACKUPS THREADS PER_THREAD

Prints ``ready SESSION`` first, then one line per message whose append has returned:
``ID THREAD INDEX SHA256`` (the checksum of the content), flushed at once. The parent
kills this process part-way and checks that every reported message survived.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path

from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id


def message_text(thread: int, index: int) -> str:
    """The content of one message; the parent computes the same text to compare."""
    return f"thread {thread} message {index}: " + "ünïcödé ✓ " * (index % 7) + "x" * (index % 300)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> None:
    database_path, backups, threads, per_thread = (
        Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    )
    database = Database(database_path, backups)
    database.open()
    session = persistent_session_id(database)
    store = MessageStore(database)
    out_lock = threading.Lock()
    start = threading.Barrier(threads)

    def report(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def work(thread: int) -> None:
        start.wait()
        for index in range(per_thread):
            text = message_text(thread, index)
            message = store.append(session, "user", text)
            report(f"{message.id} {thread} {index} {checksum(message.content)}")

    report(f"ready {session}")
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    database.close()
    report("done")


if __name__ == "__main__":
    main()
