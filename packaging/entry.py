"""The frozen app's entry point: PyInstaller runs this file, not the `nexus-desktop` script.

The order matters: ``freeze_support`` before anything else (a frozen child process runs
this file again and must stop there), then output streams that exist, then torch before
any Qt module.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import TextIO

CONSOLE_LOG = "console.log"


def _log_stream() -> TextIO:
    """The file that stands in for a console the windowed app does not have."""
    from nexus_desktop.paths import app_paths

    log_dir = app_paths().log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    # Open for the rest of the process's life, so never closed here.
    return open(log_dir / CONSOLE_LOG, "a", encoding="utf-8", errors="backslashreplace",
                buffering=1)


def redirect_missing_streams() -> None:
    """A windowed build starts with sys.stdout and sys.stderr set to None, and any print
    (the progress bars shown while a model loads) would raise; send them to a log file."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    stream = _log_stream()
    sys.stdout = sys.stdout or stream
    sys.stderr = sys.stderr or stream


def main() -> int:
    redirect_missing_streams()
    # On Windows torch must load its DLLs before Qt loads its own, or c10.dll fails to
    # initialise (WinError 1114).
    import torch  # noqa: F401

    from nexus_desktop.cli.main import main as nexus_desktop

    return nexus_desktop()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
