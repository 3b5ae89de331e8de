"""Downloading a model from the Hugging Face Hub, against a loopback fake of the Hub.

The real ``huggingface_hub`` client does the downloading. It reads ``HF_ENDPOINT``,
``HF_HUB_OFFLINE`` and ``HF_HOME`` once, when it is imported, and it is already imported by
the time a test runs (with conftest's ``HF_HUB_OFFLINE=1``, and before ``isolated_home`` set
``HF_HOME``). So the ``hub_client`` fixture gives ``huggingface_hub.constants`` the values a
fresh import under the test's variables would compute, and one test runs the download in a
fresh process that gets nothing but the environment variables, to show the two agree.
A guard on the client's HTTP session fails any request that is not to the loopback.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
from tqdm.auto import tqdm

from nexus_desktop.config import Settings
from nexus_desktop.errors import ModelLoadError
from nexus_desktop.llm import hub
from nexus_desktop.llm.generation import CancelToken, Sampling
from nexus_desktop.llm.loader import load_chat_model
from nexus_desktop.llm.source import ModelSource, resolve_source

REPO = "test-org/tiny-llama"
GATED = "test-org/gated-llama"
OLD_WEIGHTS = "test-org/pickled-only"
# Served next to the real files: allow_patterns must keep the client from fetching these.
SKIPPED = {"pytorch_model.bin": b"pickled weights " * 64, "model.onnx": b"onnx graph " * 64}


def wanted_files(fake: FakeHub, repo_id: str) -> dict[str, int]:
    """Repo files hub.ALLOW_PATTERNS selects, with their sizes."""
    files = fake.repos[repo_id].files
    return {name: item.size for name, item in files.items()
            if any(fnmatch.fnmatch(name, pattern) for pattern in hub.ALLOW_PATTERNS)}


@pytest.fixture
def fake_hub(tiny_model_folder: Path) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        fake.add_repo(REPO, tiny_model_folder, extra_files=SKIPPED)
        fake.add_repo(GATED, tiny_model_folder, gated=True)
        fake.add_repo(OLD_WEIGHTS, extra_files={
            "config.json": (tiny_model_folder / "config.json").read_bytes(),
            "pytorch_model.bin": SKIPPED["pytorch_model.bin"],
        })
        yield fake
    assert not fake.errors, f"the fake hub failed: {fake.errors!r}"


def sync_hub_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give huggingface_hub.constants the values a fresh import would read from os.environ.

    The module reads HF_ENDPOINT, HF_HUB_OFFLINE, HF_HOME (cache, token path...) once, on
    import; running a fresh copy of it and copying over what differs is the same as
    importing the client under the current environment. (constants.py imports only the
    standard library, so the copy has no side effects.)
    """
    from huggingface_hub import constants

    spec = importlib.util.spec_from_file_location("_fresh_hf_constants", constants.__file__)
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    plain = (str, bool, int, float, tuple, list, dict, frozenset, type(None))
    for name, value in vars(fresh).items():
        if name.startswith("__") or not isinstance(value, plain):
            continue
        if getattr(constants, name, None) != value:
            monkeypatch.setattr(constants, name, value, raising=False)


class HubClient:
    """Switches the imported huggingface_hub between online (to an endpoint) and offline."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.cache = Path(os.environ["HF_HOME"]) / "hub"

    def online(self, endpoint: str) -> None:
        self._monkeypatch.setenv("HF_ENDPOINT", endpoint)
        self._monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        sync_hub_constants(self._monkeypatch)

    def offline(self) -> None:
        self._monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        sync_hub_constants(self._monkeypatch)


@pytest.fixture
def hub_client(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> Iterator[HubClient]:
    """huggingface_hub as imported under this test's HF_HOME, offline until told otherwise.

    Its HTTP session fails any request that is not to the loopback, so a setting that did
    not take effect shows as a failure instead of a request to huggingface.co.
    """
    import httpx2
    from huggingface_hub.utils import _http

    for name in ("HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                 "HF_ENDPOINT", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sync_hub_constants(monkeypatch)

    def loopback_only(request: httpx2.Request) -> None:
        if request.url.host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a test tried to reach {request.url}")

    def guarded_client() -> httpx2.Client:
        client = _http.default_client_factory()
        client.event_hooks["request"].append(loopback_only)
        return client

    _http.set_client_factory(guarded_client)
    try:
        yield HubClient(monkeypatch)
    finally:
        _http.set_client_factory(_http.default_client_factory)  # also closes the session


@pytest.fixture
def online(hub_client: HubClient, fake_hub: FakeHub) -> FakeHub:
    hub_client.online(fake_hub.endpoint)
    return fake_hub


def recording_tqdm() -> type[tqdm]:
    """A tqdm class that keeps its bars (as the app's progress dialog class would)."""

    class RecordingTqdm(tqdm):
        monitor_interval = 0  # no monitor thread
        bars: list[RecordingTqdm] = []  # noqa: RUF012 - one list per class, on purpose
        updates: list[tuple[str, float]] = []  # noqa: RUF012

        def __init__(self, *args, **kwargs) -> None:
            kwargs["file"] = io.StringIO()
            kwargs["disable"] = False
            super().__init__(*args, **kwargs)
            RecordingTqdm.bars.append(self)

        def update(self, n: float | None = 1) -> bool | None:
            RecordingTqdm.updates.append((self.unit, n or 0))
            return super().update(n)

    return RecordingTqdm


# --- downloading -----------------------------------------------------------------------


def test_download_fetches_only_what_loading_needs_with_progress(online, hub_client):
    progress = recording_tqdm()

    folder = hub.download(REPO, tqdm_class=progress)

    expected = wanted_files(online, REPO)
    assert {"config.json", "tokenizer.json", "tokenizer_config.json",
            "model.safetensors"} <= expected.keys()
    assert folder.is_relative_to(hub_client.cache)
    assert {p.name for p in folder.iterdir()} == set(expected)
    for name in expected:
        served = online.repos[REPO].files[name].source
        assert (folder / name).read_bytes() == served.read_bytes(), name
    assert online.downloaded_names() == set(expected)
    assert not any(name in SKIPPED for name in online.downloaded_names())
    # The weights came the Hub's way for LFS files: a redirect, then the CDN.
    assert any(r.server == "cdn" and r.method == "GET" for r in online.recorded())

    total = sum(expected.values())
    byte_bars = [bar for bar in progress.bars if bar.unit == "B"]
    assert any(bar.total == total and bar.n == total for bar in byte_bars), [
        (bar.desc, bar.n, bar.total) for bar in byte_bars]
    byte_updates = [n for unit, n in progress.updates if unit == "B" and n > 0]
    assert len(byte_updates) >= len(expected)
    file_bars = [bar for bar in progress.bars if bar.total == len(expected) and bar.unit == "it"]
    assert file_bars and file_bars[0].n == len(expected)


def test_second_download_comes_from_the_cache(online, hub_client):
    first = hub.download(REPO)
    online.clear_requests()

    assert hub.download(REPO) == first
    # A cached model is used without asking the Hub anything, even online.
    assert online.recorded() == []

    hub_client.offline()
    online.clear_requests()
    assert hub.download(REPO) == first
    assert online.recorded() == []


@pytest.mark.parametrize("how", ["offline mode", "no connection"])
def test_offline_and_not_cached(how, hub_client, fake_hub):
    if how == "no connection":
        with FakeHub() as gone:
            closed_endpoint = gone.endpoint
        hub_client.online(closed_endpoint)

    with pytest.raises(ModelLoadError) as caught:
        hub.download(REPO)

    message = str(caught.value)
    assert REPO in message
    assert "seems to be offline" in message
    assert "'bundled'" in message and "local model folder" in message
    assert fake_hub.recorded() == []


def test_unknown_model(online):
    with pytest.raises(ModelLoadError, match="no Hugging Face model called 'test-org/no-such'"):
        hub.download("test-org/no-such")
    assert [r.status for r in online.recorded()] == [401]


def test_gated_model(online):
    with pytest.raises(ModelLoadError) as caught:
        hub.download(GATED)
    message = str(caught.value)
    assert GATED in message and "gated" in message
    assert "accept its licence" in message and "hf auth login" in message
    assert online.file_gets() == []
    assert any(r.status == 401 and "/resolve/" in r.path for r in online.recorded())


def test_model_without_safetensors(online):
    with pytest.raises(ModelLoadError, match="has no safetensors weights") as caught:
        hub.download(OLD_WEIGHTS)
    assert OLD_WEIGHTS in str(caught.value)
    # The pickled weights were never fetched, only the config.
    assert online.downloaded_names() == {"config.json"}


def test_fresh_process_reads_the_hub_settings_from_the_environment(fake_hub, tmp_path):
    """The user's way: HF_ENDPOINT, HF_HUB_OFFLINE and HF_HOME set before anything starts."""
    hf_home = tmp_path / "fresh-hf-home"
    env = {**os.environ, "HF_ENDPOINT": fake_hub.endpoint, "HF_HUB_OFFLINE": "0",
           "HF_HOME": str(hf_home), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for name in ("HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                 "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)
    code = ("import json, sys; from nexus_desktop.llm import hub; "
            f"json.dump(str(hub.download({REPO!r})), sys.stdout)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = Path(json.loads(done.stdout))
    assert folder.is_relative_to(hf_home / "hub")
    assert {p.name for p in folder.iterdir()} == set(wanted_files(fake_hub, REPO))
    assert fake_hub.downloaded_names() == set(wanted_files(fake_hub, REPO))


# --- through the loader ----------------------------------------------------------------


def test_loader_downloads_and_runs_a_hub_model(online, hub_client, settings, paths,
                                               tiny_model_folder):
    settings.set("model.source", REPO)
    settings.set("model.dtype", "float32")

    model, report = load_chat_model(settings, paths)

    assert model.info.name == REPO
    assert report.source == ModelSource("hub", REPO)
    assert report.folder.is_relative_to(hub_client.cache)
    assert not report.converted_now
    ids = model.render([{"role": "user", "content": "Hello"}])
    reply = "".join(model.stream(ids, Sampling(max_new_tokens=5), CancelToken()))
    assert reply

    # The same weights as the folder they were served from: the same greedy reply.
    settings.set("model.source", str(tiny_model_folder))
    local, _ = load_chat_model(settings, paths)
    assert model.render([{"role": "user", "content": "Hello"}]) == ids
    assert "".join(local.stream(ids, Sampling(max_new_tokens=5), CancelToken())) == reply


# --- reading model.source --------------------------------------------------------------


def test_resolve_source_kinds(tmp_path, monkeypatch):
    assert resolve_source("bundled") == ModelSource("bundled", "bundled")
    assert resolve_source("  bundled ") == ModelSource("bundled", "bundled")

    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_source(str(folder)) == ModelSource("folder", str(folder.resolve()))
    monkeypatch.chdir(tmp_path)
    assert resolve_source("my-model") == ModelSource("folder", str(folder.resolve()))
    assert resolve_source("my-model").name == "my-model"

    source = resolve_source("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert source == ModelSource("hub", "HuggingFaceTB/SmolLM2-360M-Instruct")
    assert source.name == "HuggingFaceTB/SmolLM2-360M-Instruct"


@pytest.mark.parametrize("value", [
    "not a model", "./missing/dir/x", "missing/dir/x", "~/no/such/model", "",
    # Shaped like ids, but ids the Hub (and huggingface_hub) reject.
    "org/a--b", "org/name.", "org/-name", "org/x.git", "org/..", "org/naïve", "o" * 97 + "/model",
])
def test_resolve_source_rejects_what_is_neither(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError) as caught:
        resolve_source(value)
    message = str(caught.value)
    assert repr(value) in message
    assert "nexus-desktop config set model.source" in message


def test_an_existing_file_is_not_a_model_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "model").write_text("not a folder")
    with pytest.raises(ModelLoadError, match=r"nexus-desktop config set model\.source"):
        resolve_source("org/model")


def test_the_terminal_shows_download_progress_and_then_chats(fake_hub, paths, tmp_path):
    """`nexus-desktop ask` with a Hub id: the user sees the download progress, then a reply."""
    settings = Settings(paths.user_config)
    settings.set("model.source", REPO)
    settings.set("model.dtype", "float32")
    settings.set("generation.max_new_tokens", 16)
    env = {**os.environ, "HF_ENDPOINT": fake_hub.endpoint, "HF_HUB_OFFLINE": "0",
           "HF_HOME": str(tmp_path / "cli-hf-home")}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    done = subprocess.run([sys.executable, "-m", "nexus_desktop", "ask", "hi", "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"Fetching {REPO} from Hugging Face" in done.stderr
    assert "Fetching 6 files: 100%" in done.stderr
    assert json.loads(done.stdout)["status"] == "complete"
