"""Choosing where the model runs and in which number format.

On the CPU, bfloat16 is several times faster than float32 where the processor has
native bfloat16 instructions and several times slower where it has not, so the choice
is made by measuring, once per processor and torch version, and remembered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nexus_desktop.errors import ModelLoadError

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_PROBE_ROWS = 256
_PROBE_SECONDS = 0.4


@dataclass(frozen=True)
class DtypeChoice:
    dtype: torch.dtype
    reason: str


def pick_device(setting: str) -> torch.device:
    if setting == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(
                "model.device is 'cuda' but no usable NVIDIA GPU was found. Set it to 'auto' or "
                "'cpu' with `nexus-desktop config set model.device auto`."
            )
        return torch.device("cuda")
    if setting == "auto" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def pick_dtype(setting: str, device: torch.device, hidden: int, intermediate: int,
               cache_file: Path) -> DtypeChoice:
    """The dtype to load the model in; ``hidden``/``intermediate`` size the CPU probe."""
    if setting != "auto":
        if device.type == "cpu" and setting == "float16":
            raise ModelLoadError(
                "model.dtype 'float16' is not supported on the CPU; use 'auto', 'float32' or "
                "'bfloat16'."
            )
        return DtypeChoice(DTYPES[setting], "set in model.dtype")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return DtypeChoice(torch.bfloat16, "the GPU supports bfloat16")
        return DtypeChoice(torch.float16, "the GPU lacks bfloat16")
    return _cpu_choice(hidden, intermediate, cache_file)


def _cpu_choice(hidden: int, intermediate: int, cache_file: Path) -> DtypeChoice:
    key = _probe_key(hidden, intermediate)
    cached = _read_cache(cache_file).get(key)
    if cached is None:
        cached = {name: _seconds_per_block(DTYPES[name], hidden, intermediate)
                  for name in ("float32", "bfloat16")}
        cache = _read_cache(cache_file)
        cache[key] = cached
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache, indent=2))
        except OSError as exc:
            log.warning("could not remember the dtype measurement in %s: %s", cache_file, exc)
    fp32, bf16 = cached["float32"], cached["bfloat16"]
    name = "bfloat16" if bf16 < fp32 else "float32"
    ratio = max(fp32, bf16) / min(fp32, bf16)
    return DtypeChoice(DTYPES[name], f"measured {ratio:.1f}x faster than the other on this CPU")


def _probe_key(hidden: int, intermediate: int) -> str:
    cpu = platform.processor() or platform.machine()
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "model name")):
                flags += line
    except OSError:
        pass
    digest = hashlib.sha256(f"{cpu}{flags}".encode()).hexdigest()[:12]
    return f"{torch.__version__}:{torch.get_num_threads()}:{hidden}x{intermediate}:{digest}"


def _read_cache(cache_file: Path) -> dict[str, dict[str, float]]:
    try:
        return json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}


def _seconds_per_block(dtype: torch.dtype, hidden: int, intermediate: int) -> float:
    """Time one MLP-shaped pair of matmuls, the bulk of a prefill, in ``dtype``."""
    x = torch.randn(_PROBE_ROWS, hidden, dtype=dtype)
    up = torch.randn(intermediate, hidden, dtype=dtype)
    down = torch.randn(hidden, intermediate, dtype=dtype)
    linear = torch.nn.functional.linear
    with torch.inference_mode():
        linear(linear(x, up), down)
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < _PROBE_SECONDS:
            linear(linear(x, up), down)
            runs += 1
    return (time.perf_counter() - started) / runs
