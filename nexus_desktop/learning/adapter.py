"""The LoRA adapter on the chat model, and its EMA copy (the steady teacher).

PEFT injects the LoRA layers into the model's own modules, so the chat model generates
with the adapter without knowing about it; ``base_model()`` switches it off for a
comparison or the canary reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from nexus_desktop.llm.chat_model import ChatModel

# Every linear layer of the transformer blocks (not the output head, which the bundled
# model shares with its embeddings): facts live in the MLPs as much as in attention.
TARGET_MODULES = "all-linear"


class LoraAdapter:
    """The trainable adapter of one ChatModel; used only from the model's owner thread."""

    def __init__(self, chat_model: ChatModel, rank: int, alpha: float) -> None:
        self.chat_model = chat_model
        self.rank = rank
        self.alpha = alpha
        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0,
                            target_modules=TARGET_MODULES, task_type="CAUSAL_LM")
        with warnings.catch_warnings():
            # PEFT reads transformers' deprecated is_gradient_checkpointing property;
            # the warning is about PEFT's code, not anything Nexus Desktop can change.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing",
                                    category=FutureWarning)
            self.peft_model: PeftModel = get_peft_model(chat_model.model, config)
        # Generation runs in eval mode; dropout is 0, so learning needs no train mode.
        self.peft_model.eval()
        self.parameters: dict[str, torch.nn.Parameter] = {
            name: parameter for name, parameter in self.peft_model.named_parameters()
            if parameter.requires_grad
        }
        self.ema = {name: p.detach().clone() for name, p in self.parameters.items()}

    @property
    def device(self) -> torch.device:
        return next(iter(self.parameters.values())).device

    def config(self) -> dict[str, Any]:
        return {"rank": self.rank, "alpha": self.alpha, "target_modules": TARGET_MODULES,
                "base_model": self.chat_model.info.name}

    def state(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.parameters.items()}

    def ema_state(self) -> dict[str, torch.Tensor]:
        return {name: t.clone() for name, t in self.ema.items()}

    def load(self, adapter: dict[str, torch.Tensor], ema: dict[str, torch.Tensor] | None) -> None:
        """Put saved weights in place; raises ValueError when they do not fit this adapter."""
        _check_fits(adapter, self.parameters)
        if ema is not None:
            _check_fits(ema, self.parameters)
        with torch.no_grad():
            for name, parameter in self.parameters.items():
                parameter.copy_(adapter[name].to(parameter.device, parameter.dtype))
                source = ema[name] if ema is not None else adapter[name]
                self.ema[name] = source.to(parameter.device, parameter.dtype).clone()
        self.chat_model.prefix.clear()

    def reset(self) -> None:
        """Back to an adapter that changes nothing (LoRA's B matrices zero)."""
        with torch.no_grad():
            for name, parameter in self.parameters.items():
                if "lora_B" in name:
                    parameter.zero_()
                self.ema[name] = parameter.detach().clone()
        self.chat_model.prefix.clear()

    def update_ema(self, decay: float) -> None:
        with torch.no_grad():
            for name, parameter in self.parameters.items():
                self.ema[name].mul_(decay).add_(parameter.detach(), alpha=1.0 - decay)

    @contextmanager
    def ema_weights(self) -> Iterator[None]:
        """The EMA teacher's weights in place of the learning ones, for one forward pass."""
        saved = self.state()
        with torch.no_grad():
            for name, parameter in self.parameters.items():
                parameter.copy_(self.ema[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, parameter in self.parameters.items():
                    parameter.copy_(saved[name])

    @contextmanager
    def base_model(self) -> Iterator[None]:
        """The model without the adapter."""
        with self.peft_model.disable_adapter():
            yield

    def weights_changed(self) -> None:
        """Kept keys and values of the last prompt were computed with the old weights."""
        self.chat_model.prefix.clear()


def _check_fits(saved: dict[str, torch.Tensor], parameters: dict[str, torch.nn.Parameter]) -> None:
    missing = parameters.keys() - saved.keys()
    if missing:
        raise ValueError(f"the saved adapter lacks {len(missing)} weights, e.g. {min(missing)}")
    for name, parameter in parameters.items():
        if tuple(saved[name].shape) != tuple(parameter.shape):
            raise ValueError(f"the saved weight {name} has shape {tuple(saved[name].shape)}, "
                             f"the adapter needs {tuple(parameter.shape)}")
