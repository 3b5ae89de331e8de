"""The shipped canary set, and clear errors for a broken one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nexus_desktop.errors import ConfigError
from nexus_desktop.learning.canary import KINDS, CanaryItem, load_canary
from nexus_desktop.paths import configs_dir


def test_the_shipped_set_loads_with_both_kinds_and_no_duplicates():
    items = load_canary()
    assert items == load_canary(configs_dir() / "canary.jsonl")
    assert len(items) >= 24
    kinds = [item.kind for item in items]
    assert set(kinds) == set(KINDS)
    assert kinds.count("knowledge") >= 16 and kinds.count("instruction") >= 8
    prompts = [item.prompt.strip().lower() for item in items]
    assert len(prompts) == len(set(prompts))
    assert all(isinstance(item, CanaryItem) for item in items)
    assert all(item.answer.strip() and len(item.answer) < 120 for item in items)


def test_the_shipped_set_says_nothing_about_the_user():
    personal = re.compile(r"\b(my|me|mine|i|i'm|you|your|yours)\b", re.IGNORECASE)
    for item in load_canary():
        assert not personal.search(item.prompt), item.prompt
        assert not personal.search(item.answer), item.answer


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "canary.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"kind": "knowledge", "prompt": "What is 2 plus 2?", "answer": "4"})


def test_blank_lines_are_skipped(tmp_path: Path):
    path = write(tmp_path, GOOD, "", "   ", GOOD.replace("2 plus 2", "3 plus 3"))
    assert [item.prompt for item in load_canary(path)] == ["What is 2 plus 2?", "What is 3 plus 3?"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"kind": "knowledge", "prompt": "x"', "line 3 is not valid JSON"),
        ('["knowledge", "x", "y"]', "line 3 must be a JSON object"),
        ('{"kind": "knowledge", "answer": "y"}', 'line 3 needs a non-empty text "prompt"'),
        ('{"kind": "knowledge", "prompt": "x", "answer": "  "}', '"answer"'),
        ('{"kind": "knowledge", "prompt": 5, "answer": "y"}', '"prompt"'),
        ('{"kind": "trivia", "prompt": "x", "answer": "y"}', "line 3 has unknown kind 'trivia'"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, bad: str, message: str):
    path = write(tmp_path, GOOD, "", bad, GOOD)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_canary(path)
    assert str(path) in str(caught.value)


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="holds no questions"):
        load_canary(write(tmp_path, "", " "))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_canary(tmp_path / "absent.jsonl")
