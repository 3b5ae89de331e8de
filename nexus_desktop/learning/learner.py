"""The online LoRA learner: two-tick surprise gate, prioritized replay, EMA teacher,
rounds checked by the canary guard, atomic checkpoints.

Work comes in slices of about ``learning.slice_seconds``; between slices the learner asks
``may_continue()``, so a user request or the governor stops it within about a second.
A round is the learning between two checkpoints (``learning.checkpoint_minutes`` of work,
or less when learning stops or the app exits). At its end the canary questions are
scored: within the margin of the base model the round is saved as a new adapter
version; beyond it the adapter goes back to the last good version and the event is
logged. Only the model's owner thread may call it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from nexus_desktop.config import Settings
from nexus_desktop.errors import CheckpointError
from nexus_desktop.learning.adapter import LoraAdapter
from nexus_desktop.learning.canary import CanaryItem, load_canary
from nexus_desktop.learning.canary_guard import CanaryScorer, read_reference, write_reference
from nexus_desktop.learning.checkpoints import AdapterCheckpoints
from nexus_desktop.learning.encoding import ExampleEncoder
from nexus_desktop.learning.examples import (
    BOOSTED_KINDS,
    USER_MARKED_BOOST,
    Example,
    ExampleStore,
)
from nexus_desktop.learning.losses import answer_logits, consistency_loss, per_example_loss
from nexus_desktop.learning.metrics import LearningMetrics, rolling
from nexus_desktop.learning.replay import ReplayBuffer
from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.paths import configs_dir
from nexus_desktop.store.database import Database

log = logging.getLogger(__name__)

# After a rolled-back round the next one learns at half the rate, down to this share of
# the setting; a committed round restores the full rate.
MIN_RATE_SCALE = 1 / 64
# Gradients are clipped so one odd example cannot throw the adapter far.
MAX_GRAD_NORM = 1.0


def adapter_root(adapters_dir: Path, model_name: str) -> Path:
    """Each base model has its own adapter versions: an adapter fits one model only."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-")[:60] or "model"
    digest = hashlib.sha256(model_name.encode()).hexdigest()[:8]
    return adapters_dir / f"{slug}-{digest}"


def always() -> bool:
    return True


class Learner:
    def __init__(self, database: Database, settings: Settings, chat_model: ChatModel,
                 adapters_dir: Path, canary: tuple[CanaryItem, ...] | None = None,
                 anchors: tuple[CanaryItem, ...] | None = None,
                 seed: int = 0, on_thought: Callable[[str, str], object] | None = None) -> None:
        get = settings.get
        self.settings = settings
        self.chat_model = chat_model
        # Told of checkpoints and rollbacks in words, for the thought stream.
        self.on_thought = on_thought
        self.examples = ExampleStore(database)
        self.root = adapter_root(adapters_dir, chat_model.info.name)
        self.checkpoints = AdapterCheckpoints(self.root, get("learning.keep_versions"))
        self.adapter = LoraAdapter(chat_model, get("learning.lora_rank"),
                                   get("learning.lora_alpha"))
        self.encoder = ExampleEncoder(chat_model, get("chat.persona"),
                                      get("learning.example_tokens"))
        self.canary = CanaryScorer(self.encoder, canary if canary is not None else load_canary())
        self.anchors = [self.encoder.encode(i, item.prompt, item.answer)
                        for i, item in enumerate(anchors if anchors is not None else load_canary(
                            configs_dir() / "anchors.jsonl"))]
        self._anchor_next = 0
        self.replay = ReplayBuffer(get("learning.replay_capacity"), get("learning.replay_alpha"),
                                   get("learning.replay_beta"), seed)
        self.metrics = LearningMetrics()
        self._rate_scale = 1.0
        self._optimizer = self._new_optimizer()
        self._accumulated = 0
        self._round_seconds = 0.0
        self._round_dirty = False
        self._diverged = False
        self._seconds_per_example: float | None = None
        self._boosts: dict[int, float] = {}
        # Examples measured or trained in the open round: a rollback measures them again.
        self._round_ids: set[int] = set()

    # -- start ----------------------------------------------------------------------

    def open(self) -> None:
        """Load the newest good adapter version and the replay history."""
        self.checkpoints.clean_temporary()
        loaded = self.checkpoints.load_latest()
        if loaded is not None:
            self.metrics.skipped_versions += [f"v{n}: {why}" for n, why in loaded.skipped]
            try:
                self.adapter.load(loaded.adapter, loaded.ema)
            except ValueError as exc:
                # Saved with another rank (the setting changed): start a new adapter
                # rather than refuse to start; the old versions stay on disk.
                log.warning("adapter version %s does not fit: %s", loaded.version.version, exc)
                self.metrics.skipped_versions.append(f"v{loaded.version.version}: {exc}")
            else:
                self.metrics.adapter_version = loaded.version.version
                self.metrics.restore(loaded.version.metrics)
        self.replay.load(self.examples.replay_rows())
        self._refresh_counts()

    # -- the work loop --------------------------------------------------------------

    def run(self, seconds: float, may_continue: Callable[[], bool] = always,
            topic: str | None = None) -> Iterator[LearningMetrics]:
        """Learn for up to ``seconds`` of work; yields the metrics after every slice.

        Ends early when ``may_continue()`` says so or nothing is left to learn; a round
        that is due is checked and saved on the way.
        """
        spent = 0.0
        self.metrics.state = "learning"
        try:
            while spent < seconds and may_continue():
                started = time.perf_counter()
                worked = self.slice(topic)
                elapsed = time.perf_counter() - started
                spent += elapsed
                self._round_seconds += elapsed
                self.metrics.learned_seconds += elapsed
                self._refresh_counts()
                if not worked:
                    self.metrics.state = "up to date"
                yield self.metrics
                if not worked:
                    break
                if self._diverged or (self._round_seconds
                                      >= self.settings.get("learning.checkpoint_minutes") * 60):
                    yield from self.end_round(may_continue)
        finally:
            if self.metrics.state == "learning":
                self.metrics.state = "idle"

    def slice(self, topic: str | None = None) -> bool:
        """One piece of work: measure new examples' surprise, else one replay micro-batch.
        False when there is nothing to learn."""
        self._drop_removed()
        micro = self._micro_batch()
        fresh = self.examples.new_examples(max(2, micro * 2), topic)
        if fresh:
            self._measure_surprise(fresh)
            return True
        if not self._has_work():
            return False
        self._train(micro)
        return True

    @property
    def round_open(self) -> bool:
        """Learned since the last checkpoint, not yet checked and saved."""
        return self._round_dirty

    def end_round(self, may_continue: Callable[[], bool] = always,
                  chunk: int | None = None) -> Iterator[LearningMetrics]:
        """Score the canary (``chunk`` items at a time; the scorer's own size by default);
        commit the round as a new version or roll it back."""
        if not self._round_dirty:
            return
        self._flush_step()
        reference = yield from self._canary_reference(may_continue, chunk)
        if reference is None:
            return
        for _ in self.canary.score(self.chat_model.model, may_continue, chunk):
            yield self.metrics
        score = self.canary.last
        if score is None:
            return
        self.metrics.canary_loss = score
        margin = self.settings.get("learning.canary_margin")
        if not math.isfinite(score) or score > reference * (1 + margin):
            self._roll_back(score, reference, margin)
        else:
            self._commit(score, reference)
        self._round_seconds = 0.0
        self._round_dirty = False
        self._diverged = False
        self._round_ids.clear()
        self._refresh_counts()
        yield self.metrics

    def finish(self, deadline: float | None = None) -> bool:
        """At exit: close the open round (checked and saved, or rolled back). With a
        ``deadline`` (time.monotonic), a check that cannot end by then is given up: the
        round's learning since the last version is not kept. False in that case."""
        if deadline is None:
            for _ in self.end_round():
                pass
        else:
            # One item at a time, each begun only if it can end by the deadline (as long
            # as the last one took): a check that cannot fit gives up at once instead of
            # holding Quit up for a whole chunk, which takes seconds on a busy CPU.
            def may_continue() -> bool:
                return time.monotonic() + self.canary.item_seconds < deadline
            for _ in self.end_round(may_continue, chunk=1):
                pass
        if self._round_dirty:
            # As after a rollback: what this round learned is gone with its weights.
            self.examples.measure_again(self._round_ids)
        return not self._round_dirty

    # -- two ticks: surprise, then learning -------------------------------------------

    def _measure_surprise(self, fresh: list[Example]) -> None:
        threshold = self.settings.get("learning.surprise_threshold")
        encoded = [self.encoder.encode(e.id, e.prompt, e.target) for e in fresh]
        batch = self.encoder.collate(encoded, self.adapter.device)
        with torch.no_grad():
            losses = per_example_loss(answer_logits(self.chat_model.model, batch)).tolist()
        if not all(math.isfinite(loss) for loss in losses):
            # Diverged weights measure nothing: the examples stay new, and the round
            # ends now and is rolled back.
            self._diverged = self._round_dirty = True
            return
        self.examples.record_surprise(list(zip(fresh, losses, strict=True)), threshold)
        self._round_ids.update(e.id for e in fresh)
        for example, loss in zip(fresh, losses, strict=True):
            self.metrics.rolling_surprise = rolling(self.metrics.rolling_surprise, loss)
            if loss < threshold:
                self.metrics.examples_known += 1
                continue
            self.metrics.examples_learned += 1
            boost = USER_MARKED_BOOST if example.kind in BOOSTED_KINDS else 1.0
            if boost != 1.0:
                self._boosts[example.id] = boost
            self.replay.add(example.id, loss * boost)

    def _drop_removed(self) -> None:
        """Examples deleted since (a forgotten or corrected fact) leave the buffer now,
        not only when drawn: a forgotten fact is never learned again."""
        kept = self.examples.replay_ids()
        gone = [i for i in self.replay.ids() if i not in kept]
        if gone:
            self.replay.remove(gone)

    def _has_work(self) -> bool:
        """Something in replay the model does not know yet (loss above the threshold)."""
        threshold = self.settings.get("learning.surprise_threshold")
        return any(self.replay.priority(i) / self._boosts.get(i, 1.0) >= threshold
                   for i in self.replay.ids())

    def _train(self, micro: int) -> None:
        drawn = self.replay.sample(micro)
        self._round_ids.update(i for i, _ in drawn)
        found = self.examples.get(i for i, _ in drawn)
        started = time.perf_counter()
        encoded = [self.encoder.encode(i, found[i].prompt, found[i].target) for i, _ in drawn]
        device = self.adapter.device
        batch = self.encoder.collate(encoded, device)
        weights = torch.tensor([w for _, w in drawn], device=device)
        consistency_weight = self.settings.get("learning.consistency_weight")
        anchor_weight = self.settings.get("learning.anchor_weight")
        anchors = self._next_anchors(len(drawn)) if anchor_weight > 0 else []
        teacher = base = None
        model = self.chat_model.model
        # The other weights' passes come first: swapping in the EMA weights after the
        # learning pass would change tensors its backward pass still needs.
        if consistency_weight > 0:
            with self.adapter.ema_weights(), torch.no_grad():
                teacher = answer_logits(model, batch)
        if anchors:
            with self.adapter.base_model(), torch.no_grad():
                base = answer_logits(model, self.encoder.collate(anchors, device))
        # One pass for the examples and the anchors together.
        student = answer_logits(model, self.encoder.collate(encoded + anchors, device))
        learned = student.first(len(drawn))
        losses = per_example_loss(learned)
        loss = (weights * losses).mean()
        if teacher is not None:
            loss = loss + consistency_weight * consistency_loss(learned, teacher).mean()
        if base is not None:
            # Learning without forgetting: on general questions the adapter is held to
            # what the model without it says.
            loss = loss + anchor_weight * consistency_loss(student.rest(len(drawn)),
                                                           base).mean()
        self._round_dirty = True
        if not torch.isfinite(loss):
            # The weights have diverged (a far too large learning rate): nothing more
            # is learned this round, and its end rolls it back.
            self._diverged = True
            self._optimizer.zero_grad(set_to_none=True)
            self._accumulated = 0
            return
        # Each micro-batch's share of the step, so a step's gradient is the mean over its
        # examples even when the micro-batch size does not divide the batch size.
        (loss * len(drawn) / self.settings.get("learning.batch_size")).backward()
        self._accumulated += len(drawn)
        if self._accumulated >= self.settings.get("learning.batch_size"):
            self._flush_step()
        values = losses.detach().tolist()
        for (example_id, _), value in zip(drawn, values, strict=True):
            self.replay.update(example_id, value * self._boosts.get(example_id, 1.0))
        self.examples.record_training(list(zip((i for i, _ in drawn), values, strict=True)),
                                      self._boosts)
        self.metrics.tokens_learned += batch.answer_tokens
        self.metrics.loss = rolling(self.metrics.loss, float(loss.detach()))
        per_example = (time.perf_counter() - started) / len(drawn)
        self._seconds_per_example = rolling(self._seconds_per_example, per_example, 0.3)

    def _next_anchors(self, count: int) -> list:
        chosen = []
        for _ in range(min(count, len(self.anchors))):
            chosen.append(self.anchors[self._anchor_next % len(self.anchors)])
            self._anchor_next += 1
        return chosen

    def _flush_step(self) -> None:
        if not self._accumulated:
            return
        torch.nn.utils.clip_grad_norm_(list(self.adapter.parameters.values()), MAX_GRAD_NORM)
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)
        self._accumulated = 0
        self.adapter.update_ema(self.settings.get("learning.ema_decay"))
        self.adapter.weights_changed()
        self.metrics.steps += 1

    def _micro_batch(self) -> int:
        """Examples per slice, so one slice takes about ``learning.slice_seconds``."""
        batch_size = self.settings.get("learning.batch_size")
        if self._seconds_per_example is None:
            return min(2, batch_size)
        fits = int(self.settings.get("learning.slice_seconds") / self._seconds_per_example)
        return max(1, min(batch_size, fits))

    # -- the canary guard ---------------------------------------------------------------

    def _canary_reference(self, may_continue: Callable[[], bool], chunk: int | None
                          ) -> Iterator[LearningMetrics]:
        if self.metrics.canary_reference is None:
            self.metrics.canary_reference = read_reference(
                self.root, self.canary.fingerprint, self.chat_model.info.name)
        if self.metrics.canary_reference is None:
            with self.adapter.base_model():
                for _ in self.canary.score(self.chat_model.model, may_continue, chunk):
                    yield self.metrics
            if self.canary.last is None:
                return None
            self.metrics.canary_reference = self.canary.last
            write_reference(self.root, self.canary.fingerprint, self.chat_model.info.name,
                            self.canary.last)
        return self.metrics.canary_reference

    def _commit(self, score: float, reference: float) -> None:
        self._rate_scale = 1.0
        for group in self._optimizer.param_groups:
            group["lr"] = self._learning_rate()
        metrics = {**self.metrics.lifetime(), "canary_loss": score, "canary_reference": reference}
        try:
            version = self.checkpoints.save(self.adapter.state(), self.adapter.ema_state(),
                                            self.adapter.config(), metrics)
        except CheckpointError as exc:
            log.error("saving the adapter failed: %s", exc)
            self._event("checkpoint_failed", {"error": str(exc)})
            return
        self.metrics.adapter_version = version.version
        self._event("checkpoint", {"version": version.version, "canary_loss": round(score, 4),
                                   "canary_reference": round(reference, 4)})
        self._tell("checkpoint", f"adapter v{version.version} saved: canary "
                   f"{_change(score, reference)}")

    def _roll_back(self, score: float, reference: float, margin: float) -> None:
        self.metrics.rollbacks += 1
        good = self.metrics.adapter_version
        restored = None
        if good is not None:
            try:
                restored = self.checkpoints.load(good)
            except CheckpointError as exc:
                log.error("the last good adapter cannot be read: %s", exc)
        if restored is not None:
            self.adapter.load(restored.adapter, restored.ema)
            canary = restored.version.metrics.get("canary_loss")
        else:
            self.adapter.reset()
            self.metrics.adapter_version = None
            canary = None
        # The canary loss shown is the adapter's in use; the rejected one is in the log.
        self.metrics.canary_loss = canary if isinstance(canary, float) else None
        self._rate_scale = max(MIN_RATE_SCALE, self._rate_scale / 2)
        self._optimizer = self._new_optimizer()
        # What the round learned is gone: its examples' losses were measured with the
        # weights just discarded, so they are measured again and learned anew.
        self.examples.measure_again(self._round_ids)
        self.replay.remove(list(self._round_ids))
        self._event("rolled_back", {
            "canary_loss": round(score, 4) if math.isfinite(score) else str(score),
            "canary_reference": round(reference, 4), "margin": margin,
            "back_to_version": self.metrics.adapter_version,
            "next_learning_rate": self._learning_rate(),
            "measured_again": len(self._round_ids),
        })
        log.warning("learning round rolled back: canary loss %.3f against %.3f (margin %.0f%%)",
                    score, reference, margin * 100)
        self._tell("rollback", f"adapter rolled back: canary {_change(score, reference)}")

    # -- bookkeeping ----------------------------------------------------------------------

    def _learning_rate(self) -> float:
        return self.settings.get("learning.learning_rate") * self._rate_scale

    def _new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(list(self.adapter.parameters.values()), lr=self._learning_rate(),
                                 weight_decay=0.0)

    def _tell(self, kind: str, text: str) -> None:
        if self.on_thought is not None:
            self.on_thought(kind, text)

    def _event(self, kind: str, detail: dict[str, object]) -> None:
        self.metrics.last_event = kind
        self.examples.log_event(kind, detail)

    def _refresh_counts(self) -> None:
        counts = self.examples.counts()
        self.metrics.replay_size = len(self.replay)
        self.metrics.new_examples = counts["new"]
        self.metrics.teacher_examples = counts["teacher"]


def _change(score: float, reference: float) -> str:
    """The canary loss against the base model's, as "+7%" or "-1%"."""
    if not math.isfinite(score):
        return "not a number (diverged)"
    return f"{(score / reference - 1) * 100:+.0f}%"
