"""The Qt binding the app runs on keeps Python's reference counts right.

PySide6 6.12.0 dropped a reference to None on every call returning nothing; on Python
3.11 the app aborted after a few thousand such calls (timers, plots). This fails on such
a build before the app does.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer


def test_qt_calls_returning_nothing_keep_none_alive(qtbot):
    timer, item = QTimer(), QObject()
    before = sys.getrefcount(None)
    for _ in range(500):
        timer.setInterval(5)
        item.setObjectName("probe")
    assert sys.getrefcount(None) - before > -50
