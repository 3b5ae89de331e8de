"""What the learner reports: the dashboard's experience metrics and `learn --json`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Kept across restarts in each checkpoint's manifest, so totals grow for the life of
# the install rather than per run.
LIFETIME_FIELDS = ("examples_learned", "examples_known", "tokens_learned", "steps",
                   "learned_seconds", "rollbacks")


@dataclass
class LearningMetrics:
    state: str = "idle"
    adapter_version: int | None = None
    examples_learned: int = 0
    examples_known: int = 0
    tokens_learned: int = 0
    steps: int = 0
    learned_seconds: float = 0.0
    rolling_surprise: float | None = None
    loss: float | None = None
    canary_loss: float | None = None
    canary_reference: float | None = None
    rollbacks: int = 0
    replay_size: int = 0
    new_examples: int = 0
    teacher_examples: int = 0
    teacher: dict[str, Any] | None = None
    last_event: str | None = None
    skipped_versions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for key in ("learned_seconds", "rolling_surprise", "loss", "canary_loss",
                    "canary_reference"):
            if result[key] is not None:
                # A diverged round's canary loss is not a number; JSON has no NaN.
                result[key] = round(result[key], 4) if math.isfinite(result[key]) else None
        return result

    def lifetime(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in LIFETIME_FIELDS}

    def restore(self, saved: dict[str, Any]) -> None:
        for key in LIFETIME_FIELDS:
            value = saved.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(self, key, type(getattr(self, key))(value))


def rolling(previous: float | None, value: float, weight: float = 0.1) -> float:
    """An exponential moving average that starts at the first value."""
    return value if previous is None else (1 - weight) * previous + weight * value
