"""Loading the configured model: source -> local folder -> device, dtype, threads -> ChatModel."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import torch
from safetensors import SafetensorError

from nexus_desktop.config import Settings
from nexus_desktop.errors import ModelLoadError
from nexus_desktop.governor.vram import apply_vram_budget
from nexus_desktop.llm import gguf_cache, hub
from nexus_desktop.llm.chat_model import ChatModel, ModelInfo
from nexus_desktop.llm.device import pick_device, pick_dtype
from nexus_desktop.llm.source import ModelSource, bundled_gguf, resolve_source
from nexus_desktop.model_loading import model_loading
from nexus_desktop.paths import AppPaths

log = logging.getLogger(__name__)
Status = Callable[[str], None]


@dataclass(frozen=True)
class LoadReport:
    source: ModelSource
    folder: Path
    converted_now: bool
    seconds: float


def model_folder(source: ModelSource, paths: AppPaths, status: Status,
                 tqdm_class: Any = None) -> tuple[Path, bool]:
    """The local folder with the model's weights, and whether it was converted just now."""
    if source.kind == "folder":
        return Path(source.location), False
    if source.kind == "hub":
        status(f"Fetching {source.location} from Hugging Face (only the first time)...")
        return hub.download(source.location, tqdm_class=tqdm_class), False
    gguf = bundled_gguf()
    folder = gguf_cache.cache_folder(gguf, paths.models_dir)
    if gguf_cache.is_converted(folder):
        return folder, False
    status("Preparing the bundled model for its first use (once, about half a minute)...")
    return gguf_cache.converted_model(gguf, paths.models_dir), True


def thread_count(setting: int) -> int:
    if setting > 0:
        return setting
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def load_chat_model(settings: Settings, paths: AppPaths, status: Status = log.info,
                    tqdm_class: Any = None,
                    check_fits: Callable[[Path], None] | None = None
                    ) -> tuple[ChatModel, LoadReport]:
    """Load the configured model; ``check_fits(folder)`` may refuse it (ModelLoadError)
    once its weights are on disk and before they are read."""
    started = time.perf_counter()
    source = resolve_source(settings.get("model.source"))
    folder, converted = model_folder(source, paths, status, tqdm_class)
    if check_fits is not None:
        check_fits(folder)
    try:
        model = _load(folder, source, settings, paths)
    except ModelLoadError:
        if source.kind != "bundled" or converted:
            raise
        # A damaged conversion cache: convert again from the bundled GGUF.
        log.warning("the converted model in %s did not load; converting again", folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder, converted = model_folder(source, paths, status, tqdm_class)
        model = _load(folder, source, settings, paths)
    return model, LoadReport(source, folder, converted, time.perf_counter() - started)


def _load(folder: Path, source: ModelSource, settings: Settings, paths: AppPaths) -> ChatModel:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(thread_count(settings.get("model.threads")))
    device = pick_device(settings.get("model.device"))
    # Before the weights go to the GPU, so the budget holds from the first allocation.
    apply_vram_budget(settings.get("resources.vram_mb"), device)
    try:
        config = AutoConfig.from_pretrained(folder)
        choice = pick_dtype(
            settings.get("model.dtype"), device, config.hidden_size,
            getattr(config, "intermediate_size", 4 * config.hidden_size),
            paths.cache_dir / "dtype-measurements.json",
        )
        with model_loading:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(
                folder, dtype=choice.dtype, use_safetensors=True
            )
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise ModelLoadError(
            f"Could not load the model from {folder}: {exc}. A model folder needs config.json, "
            "tokenizer files and safetensors weights of a causal language model."
        ) from None
    model.to(device).eval()
    wanted = settings.get("generation.context_tokens")
    window = min(wanted, getattr(config, "max_position_embeddings", None) or wanted)
    info = ModelInfo(
        name=source.name,
        device=device.type,
        dtype=str(choice.dtype).removeprefix("torch."),
        dtype_reason=choice.reason,
        context_window=window,
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return ChatModel(model, tokenizer, info)
