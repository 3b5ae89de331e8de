"""A private X server for tests that need a real desktop: Xvfb on a free display number,
and the programs that drive it."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def require(program: str, debian_package: str) -> str:
    """The program's path; a missing one fails the test (never a silent skip)."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} not found: install the Debian package {debian_package}")
    return path


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A private Xvfb on a free display number (Xvfb picks it: -displayfd); yields ':N'."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [require("Xvfb", "xvfb"), "-displayfd", str(write_end), "-nolisten", "tcp",
         "-screen", "0", "1024x768x24"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + 15
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.1)
            if ready:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
        if not number.strip().isdigit():
            pytest.fail(f"Xvfb did not start (exit code {process.poll()})")
        display = number.strip().decode()
        assert Path(f"/tmp/.X11-unix/X{display}").exists()
        yield f":{display}"
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(10)
