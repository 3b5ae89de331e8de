"""`nexus-desktop --self-test`: does this installation work, end to end?

It loads the bundled model, answers one message, reads the conversation back from the
database, finds the message again by keywords and meaning, takes one learning step, as
the app does them, and builds the desktop app's windows without showing them. Everything
happens in a temporary folder standing in for the user's folders (data, settings,
caches, logs), so the user's own memory is never read or changed; the folder is removed
at the end. The installer's build runs it on the frozen app, where a missing file or
package metadata shows up here rather than at a user's first start.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import apsw

from nexus_desktop import __version__
from nexus_desktop.paths import AppPaths

if TYPE_CHECKING:
    from nexus_desktop.engine import Engine, TurnResult

# A statement the fact patterns recognise: the turn stores a fact, and the fact gives
# the learner question/answer examples to take its step on.
STATEMENT = "My favorite color is teal."
QUESTION = "What is my favorite color?"
# Learning steps are only bounded by slices: the first slices measure the new examples.
MAX_LEARNING_SLICES = 8


class SelfTestError(Exception):
    """A check found something not working; the message says what."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    seconds: float
    detail: str

    def line(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return f"{self.name:<10} {verdict:<6} {self.seconds:6.1f} s  {self.detail}"


def run_check(name: str, check: Callable[[], str]) -> CheckResult:
    """Run one check; any exception is its failure (the point is to report, not crash)."""
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except Exception as exc:
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return CheckResult(name, ok, time.perf_counter() - started, detail)


def temporary_paths(root: Path) -> AppPaths:
    return AppPaths(root / "data", root / "config", root / "cache", root / "logs")


@contextmanager
def isolated_environment(root: Path) -> Iterator[None]:
    """Keep Hugging Face's cache in ``root`` and the network off while the test runs."""
    wanted = {"HF_HOME": str(root / "cache" / "huggingface"), "HF_HUB_OFFLINE": "1",
              "HF_HUB_DISABLE_TELEMETRY": "1"}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class SelfTest:
    """The checks in order; each later one uses what the earlier ones made."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths
        self.engine: Engine | None = None
        self.turn: TurnResult | None = None

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [("model", self.check_model), ("generate", self.check_generate),
                ("database", self.check_database), ("retrieval", self.check_retrieval),
                ("learning", self.check_learning), ("desktop", self.check_desktop)]

    def run(self, out: TextIO) -> list[CheckResult]:
        results = []
        try:
            for name, check in self.checks():
                result = run_check(name, check)
                results.append(result)
                out.write(result.line() + "\n")
                out.flush()
        finally:
            self.close()
        return results

    def check_model(self) -> str:
        from nexus_desktop.config import Settings
        from nexus_desktop.engine import Engine

        self.paths.ensure()
        settings = Settings(self.paths.user_config)
        # A short, deterministic reply, and a learning step on the first examples.
        for key, value in (("generation.max_new_tokens", 16), ("generation.temperature", 0.0),
                           ("learning.surprise_threshold", 0.0), ("learning.batch_size", 1)):
            settings.set(key, value)
        self.engine = Engine(self.paths, settings, status=lambda _text: None)
        self.engine.open(background_indexing=False)
        info = self.engine.load_model().info
        report = self.engine.load_report
        converted = " (converted from the bundled GGUF)" if report and report.converted_now else ""
        return (f"{info.name} on {info.device}, {info.dtype}, "
                f"{info.parameters / 1e6:.0f}M parameters{converted}")

    def check_generate(self) -> str:
        engine = self._engine_with_model()
        events = list(engine.turn(STATEMENT))
        result = events[-1]
        if getattr(result, "status", None) != "complete" or not result.reply.strip():
            raise SelfTestError(f"the turn ended {getattr(result, 'status', result)!r} "
                                f"({getattr(result, 'error', None)}) with no reply")
        self.turn = result
        pieces = len(events) - 1 - sum(1 for e in events if hasattr(e, "remembered"))
        return f"{pieces} pieces, first piece after {result.ttft_ms:.0f} ms: {result.reply[:40]!r}"

    def check_database(self) -> str:
        engine, turn = self._engine_with_turn()
        # A connection of its own sees only what was committed.
        reader = apsw.Connection(str(engine.paths.database), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            rows = dict(reader.execute(
                "SELECT id, content FROM messages WHERE id IN (?, ?) AND status = 'complete'",
                (turn.user_message_id, turn.reply_id)))
            facts = reader.execute("SELECT count(*) FROM facts WHERE status = 'active'").get
            problems = [row[0] for row in reader.execute("PRAGMA quick_check")]
        finally:
            reader.close()
        if rows != {turn.user_message_id: STATEMENT, turn.reply_id: turn.reply}:
            raise SelfTestError(f"the committed turn reads back as {rows!r}")
        if problems != ["ok"]:
            raise SelfTestError(f"quick_check: {problems}")
        if not facts:
            raise SelfTestError(f"no fact was stored from {STATEMENT!r}")
        return f"messages {turn.user_message_id} and {turn.reply_id} and {facts} fact read back"

    def check_retrieval(self) -> str:
        from nexus_desktop.embed.indexer import index_pending
        from nexus_desktop.embed.shared import shared_embedding_model

        engine, turn = self._engine_with_turn()
        embedded = index_pending(engine.database, shared_embedding_model(), engine.index,
                                 engine.settings.get("embedding.batch_size"))
        found = {mode: [m.id for m in engine.retriever.search(QUESTION, 3, mode, touch=False)]
                 for mode in ("bm25", "vector", "hybrid")}
        missing = [mode for mode, ids in found.items() if turn.user_message_id not in ids]
        if missing:
            raise SelfTestError(f"{QUESTION!r} did not find message {turn.user_message_id} "
                                f"by {', '.join(missing)}: {found}")
        return f"{embedded} vectors; message found by keywords, meaning and both"

    def check_learning(self) -> str:
        engine = self._engine_with_model()
        learner = engine.learner()
        if not learner.examples.counts()["new"]:
            raise SelfTestError("the conversation gave no example to learn from")
        trained = [name for name in learner.adapter.parameters if "lora_B" in name]
        for _ in range(MAX_LEARNING_SLICES):
            if learner.metrics.steps or not learner.slice():
                break
        loss = learner.metrics.loss
        if not learner.metrics.steps or loss is None or not math.isfinite(loss):
            raise SelfTestError(f"no learning step was taken (steps {learner.metrics.steps}, "
                                f"loss {loss})")
        # LoRA's B matrices start at zero: a step that learned anything moved them.
        if not any(learner.adapter.parameters[name].abs().sum() > 0 for name in trained):
            raise SelfTestError("the learning step left the adapter unchanged")
        return (f"{learner.metrics.steps} step after measuring "
                f"{learner.metrics.examples_learned} examples, loss {loss:.2f}")

    def check_desktop(self) -> str:
        from nexus_desktop.ui.self_check import check_desktop

        return check_desktop(self.paths)

    def _engine_with_model(self) -> Engine:
        if self.engine is None or self.engine.loaded_model is None:
            raise SelfTestError("not run: the model did not load")
        return self.engine

    def _engine_with_turn(self) -> tuple[Engine, TurnResult]:
        engine = self._engine_with_model()
        if self.turn is None:
            raise SelfTestError("not run: no reply was generated")
        return engine, self.turn

    def close(self) -> None:
        """Close the engine at once: the open learning round is given up, not checked."""
        from nexus_desktop.embed.shared import release_shared_embedding_model

        if self.engine is not None:
            self.engine.close(deadline=time.monotonic())
            self.engine = None
        release_shared_embedding_model()


def run_self_test(out: TextIO) -> int:
    """Run every check, print one line per check and a verdict; 0 when all passed."""
    out.write(f"Nexus Desktop {__version__} self-test ({platform.system()} "
              f"{platform.machine()}, Python {platform.python_version()})\n")
    out.flush()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nexus-self-test-",
                                     ignore_cleanup_errors=True) as folder:
        root = Path(folder)
        with isolated_environment(root):
            results = SelfTest(temporary_paths(root)).run(out)
    passed = sum(result.ok for result in results)
    verdict = "passed" if passed == len(results) else "FAILED"
    out.write(f"self-test {verdict}: {passed} of {len(results)} checks ok in "
              f"{time.perf_counter() - started:.0f} s\n")
    out.flush()
    return 0 if passed == len(results) else 1
