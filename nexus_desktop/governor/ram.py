"""The RAM budget at the door: a model that cannot fit is refused before it is read, with
a message saying what to do, rather than pushing the machine into swap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil

from nexus_desktop.errors import ModelLoadError

MB = 1024 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def weights_mb(folder: Path) -> float:
    """The size of the model's weight files: what loading them costs at least (the
    weights are read in their stored type; a smaller type only lowers it)."""
    return sum(path.stat().st_size for path in folder.rglob("*")
               if path.suffix in WEIGHT_SUFFIXES and path.is_file()) / MB


def process_rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def available_mb() -> float:
    return psutil.virtual_memory().available / MB


def check_model_fits(folder: Path, budget_mb: float,
                     rss_mb: Callable[[], float] | None = None,
                     free_mb: Callable[[], float] | None = None) -> None:
    """Raise ModelLoadError when the model in ``folder`` would take the process past
    ``budget_mb`` (the ``resources.ram_mb`` setting) or past the machine's free memory."""
    needed = weights_mb(folder)
    in_use = (rss_mb or process_rss_mb)()
    if in_use + needed > budget_mb:
        raise ModelLoadError(
            f"The model in {folder} needs about {needed:,.0f} MB of memory; Nexus Desktop "
            f"uses {in_use:,.0f} MB and may use at most {budget_mb:,.0f} MB. Raise the limit "
            "(`nexus-desktop config set resources.ram_mb N`, or Settings > Limits) or choose "
            "a smaller model.")
    free = (free_mb or available_mb)()
    if needed > free:
        raise ModelLoadError(
            f"The model in {folder} needs about {needed:,.0f} MB of memory and only "
            f"{free:,.0f} MB are free on this machine. Close other programs or choose a "
            "smaller model.")
