"""Worker threads: every QObject worker runs in a QThread started here, so the app can
stop them all at quit and the tests can see that none was left running."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QObject, QThread

# Every worker thread started by the app; the test suite fails a test that leaves one
# running.
_LIVE: weakref.WeakSet[QThread] = weakref.WeakSet()


def start_worker(worker: QObject, name: str) -> QThread:
    """Move ``worker`` to a new QThread named ``name`` and start it.

    The worker is deleted when the thread finishes; call ``stop_worker`` to end it.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    # A worker cannot have a parent in another thread; without this reference Python
    # would collect it, and its C++ object with it, as soon as the caller returns.
    thread.worker = worker  # type: ignore[attr-defined]
    thread.finished.connect(worker.deleteLater)
    _LIVE.add(thread)
    thread.start()
    return thread


def stop_worker(thread: QThread, timeout_ms: int = 5000) -> bool:
    """Ask the thread's event loop to end and wait for it; False if it did not end."""
    thread.quit()
    return thread.wait(timeout_ms)


def running_workers() -> list[str]:
    """Names of the worker threads still running."""
    return [thread.objectName() for thread in list(_LIVE) if thread.isRunning()]
