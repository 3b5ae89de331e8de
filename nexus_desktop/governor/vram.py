"""The VRAM budget: this process may allocate at most ``resources.vram_mb`` on its GPU.

torch's caching allocator refuses allocations past the fraction with an out-of-memory
error instead of taking the whole card from the user's games and other programs. The
memory manager hands cached blocks back (``empty_cache``) on its schedule and at the
warning and critical levels.
"""

from __future__ import annotations

from typing import Any

import torch

MB = 1024 * 1024


def apply_vram_budget(vram_mb: int, device: torch.device, cuda: Any = None) -> float | None:
    """Cap the share of ``device``'s memory this process may use; returns the fraction
    set, or None when there is nothing to cap (not CUDA, or no limit: 0). ``cuda`` is
    torch.cuda unless a test hands in a stand-in."""
    if device.type != "cuda" or vram_mb <= 0:
        return None
    cuda = cuda if cuda is not None else torch.cuda
    index = device.index if device.index is not None else cuda.current_device()
    total = cuda.get_device_properties(index).total_memory
    fraction = min(1.0, vram_mb * MB / total)
    cuda.set_per_process_memory_fraction(fraction, index)
    return fraction
