"""Shared fixtures: every user folder in a temp dir, models prepared once per session,
and a guard that fails any test leaving threads behind."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import tqdm

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths, app_paths
from nexus_desktop.store.database import Database

if TYPE_CHECKING:
    from nexus_desktop.engine import Engine
    from nexus_desktop.ui.engine_host import EngineHost

# The private X server fixture (xvfb), for every test module that needs a real desktop.
pytest_plugins = ["xdisplay"]

# Set before any test imports huggingface_hub, which reads them once: no test may reach
# the network, and the client's cache and token are never the developer's own.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="nexus-tests-hf-")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# Widget tests draw offscreen; the real-desktop tests start their own X server and give
# the app they launch its own environment.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
# transformers shows tqdm bars while loading weights; tqdm's monitor thread would outlive
# the test that first drew one and trip the leftover-thread guard below.
tqdm.tqdm.monitor_interval = 0


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Collect a test module's garbage before the next module runs. Models freed only
    by the cycle collector would otherwise pile up in this one process, and the tests
    that read its memory (the status's memory level, the check that a model fits the
    RAM limit) would measure earlier tests' garbage rather than their own work."""
    if nextitem is None or nextitem.path != item.path:
        gc.collect()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point NEXUS_HOME, HF_HOME and the home folder at this test's temp dir."""
    home = tmp_path / "nexus-home"
    monkeypatch.setenv("NEXUS_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-home" / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-home" / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-home" / ".cache"))
    return home


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        # A QThread that ran Python code shows up as a _DummyThread that never ends; the
        # Qt fixture below checks those threads instead.
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not isinstance(t, threading._DummyThread)]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"test left threads running: {[t.name for t in extra]}"


@pytest.fixture(autouse=True)
def no_leftover_qt_workers_or_timers() -> Iterator[None]:
    """Fail a Qt test that leaves a worker thread or an active timer behind.

    Runs after pytest-qt has closed the test's widgets (autouse fixtures are torn down
    last). Tests that never load Qt skip the check, so they never import it.
    """
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from nexus_desktop.ui.workers import running_workers

    app = QApplication.instance()
    if app is None:
        return
    deadline = time.monotonic() + 5
    while running_workers() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    workers = running_workers()
    # Widgets the test closed are deleted first: their timers went with them.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    owners = [app, *app.topLevelWidgets()]
    timers = sorted({timer.objectName() or repr(timer) for owner in owners
                     for timer in owner.findChildren(QTimer) if timer.isActive()})
    visible = [w.objectName() or type(w).__name__ for w in app.topLevelWidgets()
               if w.isVisible()]
    assert not workers, f"test left Qt worker threads running: {workers}"
    assert not timers, f"test left Qt timers running: {timers}"
    assert not visible, f"test left windows open: {visible}"


@pytest.fixture
def paths(isolated_home: Path) -> AppPaths:
    result = app_paths()
    result.ensure()
    return result


@pytest.fixture
def settings(paths: AppPaths) -> Settings:
    return Settings(paths.user_config)


@pytest.fixture
def db(paths: AppPaths) -> Iterator[Database]:
    """The app's real database file in this test's home, opened (migrated) and closed."""
    database = Database(paths.database, paths.backups_dir)
    database.open()
    yield database
    database.close()


@pytest.fixture(scope="session")
def shared_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models folder for the whole run, so the bundled GGUF is converted only once.

    NEXUS_TEST_MODELS keeps it between runs on a developer's machine.
    """
    kept = os.environ.get("NEXUS_TEST_MODELS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def bundled_folder(shared_models_dir: Path) -> Path:
    """The bundled model converted to safetensors (the real conversion, done once)."""
    from nexus_desktop.llm import gguf_cache
    from nexus_desktop.llm.source import bundled_gguf

    return gguf_cache.converted_model(bundled_gguf(), shared_models_dir)


@pytest.fixture
def bundled_home(paths: AppPaths, bundled_folder: Path) -> AppPaths:
    """A user home whose models folder already holds the converted bundled model."""
    paths.models_dir.parent.mkdir(parents=True, exist_ok=True)
    if not paths.models_dir.exists():
        paths.models_dir.symlink_to(bundled_folder.parent, target_is_directory=True)
    return paths


@pytest.fixture(scope="session")
def tiny_model_folder(bundled_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with the bundled model's tokenizer, for fast mechanical tests."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(bundled_folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_settings(settings: Settings, tiny_model_folder: Path) -> Settings:
    """Settings that load the tiny model, deterministic replies included."""
    settings.set("model.source", str(tiny_model_folder))
    settings.set("model.dtype", "float32")
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", 16)
    return settings


@pytest.fixture
def quiet_engine(paths: AppPaths, tiny_settings: Settings) -> Iterator[Engine]:
    """An engine on the tiny model without its background threads (no index thread, no
    compaction pass), for tests that write history directly and read back exactly that."""
    from nexus_desktop.engine import Engine

    engine = Engine(paths, tiny_settings)
    engine.open(background_indexing=False)
    yield engine
    engine.close()


@pytest.fixture
def host(paths: AppPaths, tiny_settings: Settings) -> Iterator[EngineHost]:
    """The desktop app's engine host on the tiny model, not started yet (tests start it
    under their window); shut down, all its threads ended, at the end."""
    from nexus_desktop.ui.engine_host import EngineHost

    engine_host = EngineHost(paths, tiny_settings)
    yield engine_host
    assert engine_host.shutdown()
