"""Reading a child process's output line by line with a deadline, for the kill -9 tests."""

from __future__ import annotations

import os
import selectors
import time


def read_lines(stream, wanted: int, timeout: float) -> tuple[list[bytes], bytes]:
    """Complete lines from the pipe until ``wanted`` of them arrived, the pipe closed or
    the time ran out; also returns the incomplete rest."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    lines: list[bytes] = []
    rest = b""
    deadline = time.monotonic() + timeout
    try:
        while len(lines) < wanted and time.monotonic() < deadline:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            *complete, rest = (rest + chunk).split(b"\n")
            lines.extend(complete)
    finally:
        selector.close()
    return lines, rest
