"""The VRAM budget set on the CUDA allocator (a stand-in for torch.cuda: no GPU here; the
device machine runs the real one when a session has it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from nexus_desktop.governor.vram import apply_vram_budget


@dataclass
class Properties:
    total_memory: int


@dataclass
class FakeCuda:
    total_mb: int = 8192
    calls: list[tuple[float, int]] = field(default_factory=list)

    def current_device(self) -> int:
        return 0

    def get_device_properties(self, index: int) -> Properties:
        return Properties(self.total_mb * 1024 * 1024)

    def set_per_process_memory_fraction(self, fraction: float, index: int) -> None:
        self.calls.append((fraction, index))


def test_the_budget_becomes_a_fraction_of_the_cards_memory():
    cuda = FakeCuda()
    assert apply_vram_budget(2048, torch.device("cuda"), cuda) == 0.25
    assert apply_vram_budget(1024, torch.device("cuda:1"), cuda) == 0.125
    assert cuda.calls == [(0.25, 0), (0.125, 1)]


def test_a_budget_beyond_the_card_is_the_whole_card_and_zero_or_cpu_set_nothing():
    cuda = FakeCuda()
    assert apply_vram_budget(100_000, torch.device("cuda"), cuda) == 1.0
    assert apply_vram_budget(0, torch.device("cuda"), cuda) is None
    assert apply_vram_budget(2048, torch.device("cpu"), cuda) is None
    assert cuda.calls == [(1.0, 0)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_real_allocator_refuses_past_the_budget():
    device = torch.device("cuda")
    apply_vram_budget(256, device)
    try:
        with pytest.raises(torch.OutOfMemoryError):
            torch.empty(512 * 1024 * 1024, dtype=torch.uint8, device=device)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
