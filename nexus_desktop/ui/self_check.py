"""The desktop app's part of `nexus-desktop --self-test`: its windows can be built.

A packaged app can lack a Qt module that only the GUI imports (pyqtgraph's plots load
QtOpenGL, say), and the other checks never import the GUI: this one builds the
dashboard's plots and the chat window, unshown, and takes them down again.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QCoreApplication, QEvent, qVersion
from PySide6.QtWidgets import QApplication


def check_desktop(paths: object) -> str:
    from nexus_desktop.config import Settings
    from nexus_desktop.ui.chat_window import ChatWindow
    from nexus_desktop.ui.dashboard import Dashboard
    from nexus_desktop.ui.engine_host import EngineHost

    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        # Nothing is shown, so no desktop is needed (a build machine, a terminal).
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication([])
    settings = Settings(paths.user_config)  # type: ignore[attr-defined]
    host = EngineHost(paths, settings)  # type: ignore[arg-type]
    windows = [Dashboard(), ChatWindow(host)]
    names = ", ".join(type(window).__name__ for window in windows)
    for window in windows:
        window.deleteLater()
    host.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return f"{names} built (Qt {qVersion()}, {app.platformName()} platform)"
