"""Loading models: the bundled GGUF's conversion cache, local folders, device and dtype."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from nexus_desktop.errors import ModelLoadError
from nexus_desktop.llm import device as device_module
from nexus_desktop.llm import gguf_cache
from nexus_desktop.llm.device import pick_device, pick_dtype
from nexus_desktop.llm.loader import load_chat_model, thread_count
from nexus_desktop.llm.source import bundled_gguf


def test_the_bundled_gguf_is_converted_to_safetensors_with_a_manifest(bundled_folder: Path):
    gguf = bundled_gguf()
    assert bundled_folder == gguf_cache.cache_folder(gguf, bundled_folder.parent)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"):
        assert (bundled_folder / name).is_file(), name
    manifest = json.loads((bundled_folder / gguf_cache.MANIFEST).read_text())
    assert manifest["sha256"] == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert not list(bundled_folder.parent.glob(".converting-*"))


def test_a_warm_start_loads_from_the_cache_without_converting(bundled_home, settings,
                                                              monkeypatch):
    def no_conversion(*_args):
        raise AssertionError("converted again although the cache is warm")

    monkeypatch.setattr(gguf_cache, "_convert", no_conversion)
    model, report = load_chat_model(settings, bundled_home)
    assert not report.converted_now
    assert report.folder.parent == bundled_home.models_dir
    assert model.info.name == "SmolLM2-135M-Instruct"
    assert model.info.parameters > 100_000_000
    assert model.info.context_window == 2048


@pytest.mark.slow
@pytest.mark.bundled_model
def test_a_damaged_conversion_cache_is_rebuilt(paths, settings, bundled_folder: Path):
    damaged = gguf_cache.cache_folder(bundled_gguf(), paths.models_dir)
    shutil.copytree(bundled_folder, damaged)
    (damaged / "model.safetensors").write_bytes(b"not weights")
    model, report = load_chat_model(settings, paths)
    assert report.converted_now
    assert (damaged / "model.safetensors").stat().st_size > 100_000_000
    assert model.info.parameters > 100_000_000


def test_a_folder_without_a_model_gives_a_clear_error(settings, paths, tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    settings.set("model.source", str(folder))
    with pytest.raises(ModelLoadError, match=r"needs config\.json, tokenizer files"):
        load_chat_model(settings, paths)


def test_a_local_folder_model_loads_with_its_own_window(paths, tiny_settings,
                                                        tiny_model_folder: Path):
    model, report = load_chat_model(tiny_settings, paths)
    assert report.source.kind == "folder"
    assert report.folder == tiny_model_folder
    assert model.info.context_window == 512
    assert model.info.dtype == "float32" and model.info.device == "cpu"


def test_model_threads_setting_is_applied(paths, tiny_settings):
    before = torch.get_num_threads()
    try:
        tiny_settings.set("model.threads", 1)
        load_chat_model(tiny_settings, paths)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert thread_count(3) == 3 and thread_count(0) >= 1


def test_cuda_requested_without_a_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelLoadError, match=r"config set model\.device auto"):
        pick_device("cuda")
    assert pick_device("auto").type == "cpu"


def test_auto_uses_cuda_when_present_with_bf16_or_fp16(monkeypatch, tmp_path):
    # No GPU here: the CUDA queries are faked, the choice logic is real.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert pick_dtype("auto", cuda, 64, 128, tmp_path / "m.json").dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert pick_dtype("auto", cuda, 64, 128, tmp_path / "m.json").dtype == torch.float16


def test_cpu_dtype_is_measured_once_and_the_faster_kept(monkeypatch, tmp_path):
    cache = tmp_path / "dtype.json"
    choice = pick_dtype("auto", torch.device("cpu"), 64, 128, cache)
    stored = next(iter(json.loads(cache.read_text()).values()))
    faster = min(stored, key=stored.get)
    assert str(choice.dtype) == f"torch.{faster}"
    assert "faster than the other on this CPU" in choice.reason

    def no_measuring(*_args):
        raise AssertionError("measured again although the result is cached")

    monkeypatch.setattr(device_module, "_seconds_per_block", no_measuring)
    key = next(iter(json.loads(cache.read_text())))
    cache.write_text(json.dumps({key: {"float32": 2.0, "bfloat16": 1.0}}))
    assert pick_dtype("auto", torch.device("cpu"), 64, 128, cache).dtype == torch.bfloat16
    cache.write_text(json.dumps({key: {"float32": 1.0, "bfloat16": 2.5}}))
    again = pick_dtype("auto", torch.device("cpu"), 64, 128, cache)
    assert again.dtype == torch.float32 and "2.5x" in again.reason


def test_explicit_dtype_wins_and_fp16_on_cpu_is_refused(tmp_path):
    cpu = torch.device("cpu")
    assert pick_dtype("bfloat16", cpu, 64, 128, tmp_path / "m.json").dtype == torch.bfloat16
    with pytest.raises(ModelLoadError, match=r"not supported on the CPU"):
        pick_dtype("float16", cpu, 64, 128, tmp_path / "m.json")
