"""The layering rules of docs/ARCHITECTURE.md, checked on the code itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nexus_desktop

PACKAGE = Path(nexus_desktop.__file__).parent
QT_MODULES = {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy"}
QT_ALLOWED = {"ui", "api"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_qt_is_imported_only_in_ui_and_api():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0]
        if layer in QT_ALLOWED:
            continue
        if imported_modules(path) & QT_MODULES:
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_the_scan_would_catch_a_qt_import(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text("from PySide6.QtCore import QObject\nimport pyqtgraph as pg\n")
    assert imported_modules(sample) & QT_MODULES == {"PySide6", "pyqtgraph"}


def test_the_engine_and_cli_run_without_loading_qt():
    code = (
        "import sys, nexus_desktop.engine, nexus_desktop.cli.main; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
