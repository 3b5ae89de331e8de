"""The skill library from the command line, in real processes: `ask --json` says where a
reply came from, and `skills list | show | rename | pin | unpin | delete` manage the
library without loading a model."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths

pytestmark = pytest.mark.slow

TASK = "Convert 5 miles to km"


def nexus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nexus_desktop", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def ask(*args: str) -> dict[str, Any]:
    done = nexus("ask", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def home(paths: AppPaths, tiny_settings: Settings) -> AppPaths:
    # At temperature 0 the tiny model writes only blank lines, which are never kept.
    tiny_settings.set("generation.temperature", 1.0)
    tiny_settings.set("generation.top_p", 1.0)
    return paths


def test_ask_json_reports_a_replayed_skill_and_an_example(home: AppPaths):
    first = ask(TASK)
    assert first["source"] == "model" and "skill_id" not in first
    ask("Thanks!")
    replay = ask("please convert 5 miles to km")
    assert replay["source"] == "skill" and replay["reply"] == first["reply"]
    assert isinstance(replay["skill_id"], int)
    fresh = ask("--fresh", TASK)
    assert fresh["source"] == "model" and "skill_id" not in fresh
    similar = ask("Convert 7 miles to km")
    assert similar["source"] == "model" and similar["skill_example"] == replay["skill_id"]


def test_skills_are_listed_renamed_pinned_and_deleted(home: AppPaths):
    empty = nexus("skills", "list")
    assert empty.returncode == 0 and "No skills kept yet" in empty.stdout
    first = ask(TASK)
    ask("Thanks!")
    listed = json.loads(nexus("skills", "list", "--json").stdout)
    assert [(s["intent"], s["result"], s["state"]) for s in listed] == \
        [(TASK, first["reply"], "active")]
    skill_id = str(listed[0]["id"])

    renamed = nexus("skills", "rename", skill_id, "Miles to km")
    assert renamed.returncode == 0 and "Miles to km" in renamed.stdout
    pinned = nexus("skills", "pin", skill_id)
    assert pinned.returncode == 0 and "pinned" in pinned.stdout
    shown = nexus("skills", "show", skill_id)
    assert shown.returncode == 0 and "Miles to km" in shown.stdout and TASK in shown.stdout
    table = nexus("skills", "list").stdout
    assert "pinned" in table and "Miles to km" in table

    deleted = nexus("skills", "delete", skill_id)
    assert deleted.returncode == 0 and first["reply"].strip()[:20] in deleted.stdout
    assert json.loads(nexus("skills", "list", "--all", "--json").stdout) == []
    assert ask(TASK)["source"] == "model"


def test_an_unknown_skill_or_empty_name_is_refused_with_what_to_do(home: AppPaths):
    missing = nexus("skills", "pin", "42")
    assert missing.returncode == 1 and "no skill 42" in missing.stderr
    assert "skills list" in missing.stderr
    empty = nexus("skills", "rename", "1", "  ")
    assert empty.returncode == 1 and "cannot be empty" in empty.stderr
