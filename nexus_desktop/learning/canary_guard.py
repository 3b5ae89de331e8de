"""Scoring the canary questions: the loss of the reference answers, with and without the
adapter. A learning round is committed only while it stays within the margin of the base
model's score, so learning about the user never costs general knowledge or manners."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from nexus_desktop.learning.canary import CanaryItem
from nexus_desktop.learning.encoding import ExampleEncoder
from nexus_desktop.learning.losses import answer_logits, per_example_loss

log = logging.getLogger(__name__)
REFERENCE_FILE = "canary-reference.json"


class CanaryScorer:
    def __init__(self, encoder: ExampleEncoder, items: tuple[CanaryItem, ...],
                 chunk: int = 8) -> None:
        self.encoder = encoder
        self.encoded = [encoder.encode(i, item.prompt, item.answer)
                        for i, item in enumerate(items)]
        self.chunk = chunk
        # How long the last scored item took: whether another fits before a deadline.
        self.item_seconds = 0.0
        self.fingerprint = hashlib.sha256(json.dumps(
            [[item.prompt, item.answer] for item in items]).encode()).hexdigest()

    def score(self, model: torch.nn.Module, may_continue: Callable[[], bool],
              chunk: int | None = None) -> Iterator[None]:
        """Yields between chunks (a place to stop); ``self.last`` holds the result, or
        None when stopped before the end. ``chunk`` overrides the chunk size: one item
        at a time stops soonest (at quit, against a deadline)."""
        self.last: float | None = None
        size = chunk or self.chunk
        losses: list[float] = []
        for start in range(0, len(self.encoded), size):
            if not may_continue():
                return
            started = time.monotonic()
            items = self.encoded[start:start + size]
            batch = self.encoder.collate(items, _device_of(model))
            with torch.no_grad():
                losses.extend(per_example_loss(answer_logits(model, batch)).tolist())
            self.item_seconds = (time.monotonic() - started) / len(items)
            yield
        self.last = sum(losses) / len(losses)


def read_reference(root: Path, fingerprint: str, model_name: str) -> float | None:
    """The base model's canary loss saved earlier, if it was for this set and model."""
    try:
        saved = json.loads((root / REFERENCE_FILE).read_text(encoding="utf-8"))
        if saved["canary"] == fingerprint and saved["model"] == model_name:
            return float(saved["loss"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write_reference(root: Path, fingerprint: str, model_name: str, loss: float) -> None:
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / (REFERENCE_FILE + ".tmp")
    temporary.write_text(json.dumps({"canary": fingerprint, "model": model_name, "loss": loss}),
                         encoding="utf-8")
    temporary.replace(root / REFERENCE_FILE)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
