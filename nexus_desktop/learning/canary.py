"""The canary set: fixed questions that show whether learning is harming the model.

Learning from one person's conversation can slowly wear away what the base model already
knew (general knowledge) or how it follows instructions. Before a new adapter version is
kept, the learner scores the model on these questions against their reference answers;
if the score gets worse by more than ``learning.canary_margin``, the round is rolled back.

The set ships in ``configs/canary.jsonl``, one JSON object a line:
``{"kind": "knowledge" | "instruction", "prompt": ..., "answer": ...}``.
Nothing in it is about the user, so learning about the user can never look like damage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nexus_desktop.errors import ConfigError
from nexus_desktop.paths import configs_dir

KINDS = ("knowledge", "instruction")
CANARY_FILE = "canary.jsonl"


@dataclass(frozen=True)
class CanaryItem:
    kind: str
    prompt: str
    answer: str


def default_canary_path() -> Path:
    return configs_dir() / CANARY_FILE


def load_canary(path: Path | None = None) -> tuple[CanaryItem, ...]:
    """The canary questions in ``path`` (the shipped set by default), in file order.

    Blank lines are skipped. Raises ConfigError naming the file and line of the first
    problem, since a broken set would make every learning round look good or bad.
    """
    path = Path(path) if path is not None else default_canary_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"The canary questions in {path} cannot be read ({error}). Reinstall Nexus "
            "Desktop to restore the file."
        ) from None
    items: list[CanaryItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        items.append(_parse_line(path, number, line))
    if not items:
        raise ConfigError(
            f"The canary file {path} holds no questions. Reinstall Nexus Desktop to restore it."
        )
    return tuple(items)


def _parse_line(path: Path, number: int, line: str) -> CanaryItem:
    where = f"{path}, line {number}"
    try:
        row = json.loads(line)
    except ValueError as error:
        raise ConfigError(f"{where} is not valid JSON ({error}). Fix or remove the line.") from None
    if not isinstance(row, dict):
        raise ConfigError(f'{where} must be a JSON object with "kind", "prompt" and "answer".')
    for key in ("kind", "prompt", "answer"):
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f'{where} needs a non-empty text "{key}". Fix or remove the line.')
    if row["kind"] not in KINDS:
        raise ConfigError(
            f'{where} has unknown kind {row["kind"]!r}; use "knowledge" or "instruction".'
        )
    return CanaryItem(row["kind"], row["prompt"], row["answer"])
