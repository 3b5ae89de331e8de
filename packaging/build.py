"""Build Nexus Desktop as one folder with PyInstaller, and on Windows its installer.

    python packaging/build.py               the app folder: dist/Nexus Desktop/
    python packaging/build.py --installer   then the installer (Windows, Inno Setup's iscc)

Run it with the project's environment (torch, the app and pyinstaller installed). The
work files go to build/, the results to dist/; both are git-ignored.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "nexus_desktop.spec"
INSTALLER_SCRIPT = ROOT / "packaging" / "installer.iss"
BUILD_DIR = ROOT / "build"
DIST_DIR = ROOT / "dist"
APP_FOLDER = DIST_DIR / "Nexus Desktop"
INSTALLER_DIR = DIST_DIR / "installer"


def project_version() -> str:
    """The version in pyproject.toml: the one place it is written."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def frozen_executable(folder: Path = APP_FOLDER) -> Path:
    """The executable that runs commands and `--self-test` with output to the terminal
    (on Windows the console twin of the windowed app)."""
    return folder / ("nexus-desktop.exe" if sys.platform == "win32" else "nexus-desktop")


def pyinstaller_command() -> list[str]:
    return [sys.executable, "-m", "PyInstaller", "--noconfirm",
            "--distpath", str(DIST_DIR), "--workpath", str(BUILD_DIR), str(SPEC)]


def iscc_command(iscc: str = "iscc") -> list[str]:
    """Inno Setup's compiler, given the version and where the app folder is."""
    return [iscc, f"/DAppVersion={project_version()}", f"/DAppFolder={APP_FOLDER}",
            f"/O{INSTALLER_DIR}", str(INSTALLER_SCRIPT)]


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*")
               if path.is_file() and not path.is_symlink())


def build_app() -> None:
    started = time.monotonic()
    subprocess.run(pyinstaller_command(), check=True, cwd=ROOT)
    print(f"Built {APP_FOLDER} ({folder_size(APP_FOLDER) / 2**20:,.0f} MiB) in "
          f"{time.monotonic() - started:.0f} s.", flush=True)


def find_iscc() -> str | None:
    """Inno Setup's compiler: on PATH, or where its installer puts it."""
    found = shutil.which("iscc")
    if found:
        return found
    program_files = os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")
    default = Path(program_files) / "Inno Setup 6" / "ISCC.exe"
    return str(default) if default.is_file() else None


def build_installer() -> None:
    iscc = find_iscc()
    if iscc is None:
        raise SystemExit("Inno Setup 6 is not installed (no iscc on PATH or in Program Files).")
    if not APP_FOLDER.is_dir():
        raise SystemExit(f"{APP_FOLDER} is missing: build the app first.")
    subprocess.run(iscc_command(iscc), check=True, cwd=ROOT)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", action="store_true",
                        help="also compile the Windows installer from the built folder")
    parser.add_argument("--skip-app", action="store_true",
                        help="use the folder already in dist/ (with --installer)")
    args = parser.parse_args(argv)
    if not args.skip_app:
        build_app()
    if args.installer:
        build_installer()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
