"""The decode loop: chunked prefill, then one token at a time, cancellable at every step.

Written out rather than calling ``model.generate`` so that each token is a place to
stop (a user pressing Stop, or a user request preempting background work) and so the
prompt is prefilled in chunks that can be cancelled too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from nexus_desktop.llm.prefix_cache import PrefixCache

PREFILL_CHUNK = 512
_REPETITION_WINDOW = 256


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None


class CancelToken:
    """Set from any thread to stop a generation at its next step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@torch.inference_mode()
def _forward(model: PreTrainedModel, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    # Only the last position's logits are needed: computing all of them for a long
    # prompt would cost vocabulary x prompt length floats.
    out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1, :].float()


def generate_token_ids(
    model: PreTrainedModel,
    prompt_ids: list[int],
    sampling: Sampling,
    stop_ids: set[int],
    cancel: CancelToken,
    prefix: PrefixCache | None = None,
) -> Iterator[int]:
    """Yield new token ids until a stop token, the token limit or cancellation.

    With ``prefix``, the part of the prompt the last call already computed is taken from
    its cache, and the cache is left holding this prompt and reply for the next call.
    """
    device = model.device
    if prefix is None:
        cache, start = DynamicCache(config=model.config), 0
    else:
        cache, start = prefix.take(model, prompt_ids)
    try:
        yield from _generate(model, prompt_ids, start, cache, sampling, stop_ids, cancel, prefix,
                             device)
    except BaseException as exc:
        # Stopped between two steps (the consumer let go), the cache matches its ids;
        # stopped inside a forward pass, some layers may hold more than others.
        if prefix is not None and not isinstance(exc, GeneratorExit):
            prefix.clear()
        raise


def _generate(model: PreTrainedModel, prompt_ids: list[int], start: int, cache: DynamicCache,
              sampling: Sampling, stop_ids: set[int], cancel: CancelToken,
              prefix: PrefixCache | None, device: torch.device) -> Iterator[int]:
    prompt = torch.tensor([prompt_ids], device=device)
    logits = None
    for chunk in range(start, len(prompt_ids), PREFILL_CHUNK):
        if cancel.cancelled:
            return
        logits = _forward(model, prompt[:, chunk:chunk + PREFILL_CHUNK], cache)
        if prefix is not None:
            prefix.fed(prompt_ids[chunk:chunk + PREFILL_CHUNK])
    if logits is None:
        return
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device="cpu").manual_seed(sampling.seed)
    generated: list[int] = []
    for _ in range(sampling.max_new_tokens):
        if cancel.cancelled:
            return
        token = _choose(logits[0].cpu(), generated, sampling, generator)
        if token in stop_ids:
            return
        yield token
        generated.append(token)
        logits = _forward(model, torch.tensor([[token]], device=device), cache)
        if prefix is not None:
            prefix.fed([token])


@torch.inference_mode()
def _choose(logits: torch.Tensor, generated: list[int], sampling: Sampling,
            generator: torch.Generator | None) -> int:
    if sampling.repetition_penalty != 1.0 and generated:
        seen = torch.tensor(sorted(set(generated[-_REPETITION_WINDOW:])))
        values = logits[seen]
        logits[seen] = torch.where(
            values > 0, values / sampling.repetition_penalty, values * sampling.repetition_penalty
        )
    if sampling.temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < sampling.top_p
        sorted_probs = sorted_probs * keep
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))


class IncrementalDecoder:
    """Turns token ids into text pieces, never splitting a multi-byte character."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        decode = self._tokenizer.decode
        before = decode(self._ids[self._prefix:self._read], skip_special_tokens=True)
        after = decode(self._ids[self._prefix:], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return after[len(before):]
        return ""
