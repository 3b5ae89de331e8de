"""`nexus-desktop --self-test`: the real run in a subprocess, and its failure report."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nexus_desktop import self_test
from nexus_desktop.self_test import SelfTest, run_check, run_self_test

CHECKS = ("model", "generate", "database", "retrieval", "learning", "desktop")
MODEL_CHECKS = CHECKS[:-1]


def report_lines(output: str) -> dict[str, str]:
    """The verdict word of each check's line."""
    verdicts = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in CHECKS:
            verdicts[words[0]] = words[1]
    return verdicts


@pytest.mark.slow
@pytest.mark.bundled_model
def test_self_test_passes_and_leaves_no_trace(tmp_path: Path) -> None:
    home = tmp_path / "user-home"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "HOME": str(home), "NEXUS_HOME": str(tmp_path / "nexus-home"),
           "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "TMPDIR": str(scratch)}
    result = subprocess.run([sys.executable, "-m", "nexus_desktop", "--self-test"], env=env,
                            capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report_lines(result.stdout) == dict.fromkeys(CHECKS, "ok")
    assert "self-test passed: 6 of 6 checks ok" in result.stdout
    # Its data lived in a temporary folder, removed at the end (torch may leave its own
    # empty compile-cache folder there); the user's folders were never created.
    assert not list(scratch.glob("nexus-self-test-*"))
    assert not (tmp_path / "nexus-home").exists() and not home.exists()


def test_a_failing_check_exits_1_and_the_checks_after_it_say_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_model(_self: SelfTest) -> str:
        raise RuntimeError("the bundled model file is missing")

    monkeypatch.setattr(SelfTest, "check_model", broken_model)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    out = io.StringIO()

    assert run_self_test(out) == 1
    lines = out.getvalue().splitlines()
    # The desktop's windows need no model: that check still runs and passes.
    assert report_lines(out.getvalue()) == {**dict.fromkeys(MODEL_CHECKS, "FAILED"),
                                            "desktop": "ok"}
    model_line = next(line for line in lines if line.startswith("model"))
    assert "RuntimeError: the bundled model file is missing" in model_line
    assert all("not run: the model did not load" in line
               for line in lines if line.split()[0] in ("generate", "learning"))
    assert lines[-1].startswith("self-test FAILED: 1 of 6 checks ok")
    # The environment it changed for the run is given back.
    assert "HF_HUB_OFFLINE" not in os.environ


def test_run_check_times_a_check_and_reports_its_exception() -> None:
    passed = run_check("one", lambda: "fine")
    assert passed.ok and passed.detail == "fine" and passed.seconds >= 0
    assert passed.line().split()[:2] == ["one", "ok"]

    def broken() -> str:
        raise self_test.SelfTestError("no reply")

    failed = run_check("two", broken)
    assert not failed.ok and failed.detail == "SelfTestError: no reply"
    assert failed.line().split()[:2] == ["two", "FAILED"]


def test_the_temporary_folders_are_all_inside_the_given_root(tmp_path: Path) -> None:
    paths = self_test.temporary_paths(tmp_path)
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir,
                   paths.database.parent, paths.huggingface_dir):
        assert folder.is_relative_to(tmp_path)
