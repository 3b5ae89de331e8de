"""The frozen app (PyInstaller onedir) passes its own self-test, starts, and answers its
command line.

Not part of the normal run (it builds for several minutes); run it with
    python3 packaging/bootstrap.py test -m frozen_build tests/test_frozen_build.py
It uses the folder already in dist/ when there is one; NEXUS_REBUILD=1 builds it again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.frozen_build]
CHECKS = ("model", "generate", "database", "retrieval", "learning", "desktop")


def build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nexus_packaging_build",
                                                  ROOT / "packaging" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(3600)
def test_frozen_app_passes_its_self_test(tmp_path: Path) -> None:
    build = build_module()
    executable = build.frozen_executable()
    if os.environ.get("NEXUS_REBUILD") == "1" or not executable.exists():
        subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py")], check=True,
                       cwd=ROOT, timeout=3000)
    home = tmp_path / "user-home"
    env = {**os.environ, "HOME": str(home), "NEXUS_HOME": str(tmp_path / "nexus-home"),
           "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
    # Outside the checkout, so nothing can come from the source tree instead of the bundle.
    result = subprocess.run([str(executable), "--self-test"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
                if line.split() and line.split()[0] in CHECKS}
    assert verdicts == dict.fromkeys(CHECKS, "ok")
    # The bundle has no CUDA libraries (CPU torch) and no unused Qt module.
    names = {path.name for path in executable.parent.rglob("*")}
    libraries = {name for name in names if re.search(r"\.(?:so|dll|dylib)(?:\.|$)", name)}
    assert not [name for name in libraries
                if re.search(r"cudnn|cublas|cudart|torch_cuda", name, re.IGNORECASE)]
    assert not any(name.startswith(("libQt6Quick", "Qt6Quick", "libQt6WebEngine"))
                   for name in names)


@pytest.mark.timeout(900)
def test_the_frozen_app_starts_and_its_command_line_talks_to_it(tmp_path: Path) -> None:
    executable = build_module().frozen_executable()
    if not executable.exists():
        pytest.skip("no frozen build in dist/: run the self-test test first")
    home = tmp_path / "user-home"
    env = {**os.environ, "HOME": str(home), "NEXUS_HOME": str(tmp_path / "nexus-home"),
           "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "QT_QPA_PLATFORM": "offscreen"}

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(executable), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    app = subprocess.Popen([str(executable), "app"], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The running app answers `status` itself: its daemon runs once the model is in.
        deadline = time.monotonic() + 300
        while True:
            assert app.poll() is None, app.communicate()[1][-3000:]
            status = command("status", "--json")
            if status.returncode == 0 and json.loads(status.stdout)["daemon"]["running"]:
                break
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(2)
        asked = command("ask", "--json", "My favorite color is teal.")
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["status"] == "complete"
        facts = command("facts", "list", "--json")
        assert [fact["value"] for fact in json.loads(facts.stdout)] == ["teal"]
    finally:
        app.terminate()
        app.communicate(timeout=60)
