"""Store-thread requests from the chat window and its panels.

An answer comes back a moment after it was asked for, and by then the widget that asked
may have been deleted (a window closed for good, a bubble replaced by another page);
the answer is then dropped instead of reaching a deleted C++ object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject

from nexus_desktop.ui.engine_host import EngineHost


def while_alive(owner: QObject, callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """``callback``, called only while ``owner`` still exists."""
    def call(value: Any) -> None:
        if shiboken6.isValid(owner):
            callback(value)
    return call


def ask(host: EngineHost, owner: QObject, work: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None) -> None:
    """Run ``work`` on the store thread; the answer goes to ``owner``'s callbacks if it is
    still there."""
    host.query(work, while_alive(owner, on_result),
               while_alive(owner, on_error) if on_error is not None else None)
