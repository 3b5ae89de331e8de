"""A loaded causal LM with its tokenizer: prompt rendering, token counting, streaming."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nexus_desktop.llm.generation import (
    CancelToken,
    IncrementalDecoder,
    Sampling,
    generate_token_ids,
)
from nexus_desktop.llm.prefix_cache import PrefixCache

# Used when a model folder brings no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    device: str
    dtype: str
    dtype_reason: str
    context_window: int
    parameters: int


class ChatModel:
    """The one model instance; used only from the thread that owns it."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 info: ModelInfo) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        if tokenizer.chat_template is None:
            tokenizer.chat_template = CHATML_TEMPLATE
        self.stop_ids = self._stop_ids()
        self._overhead = self._per_message_overhead()
        self.prefix = PrefixCache()

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        for token in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id:
                ids.add(token_id)
        return ids

    def _per_message_overhead(self) -> int:
        """Tokens the template adds around one message's content."""
        base = self.render([{"role": "user", "content": "x"}], add_generation_prompt=False)
        two = self.render(
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": "x"}],
            add_generation_prompt=False,
        )
        return max(1, len(two) - len(base))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def message_cost(self, text: str) -> int:
        """Tokens one message of ``text`` takes in a prompt, template included."""
        return self.count_tokens(text) + self._overhead

    def render(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True
               ) -> list[int]:
        return list(self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=add_generation_prompt, tokenize=True,
            return_dict=False,
        ))

    def truncate_tokens(self, text: str, max_tokens: int) -> str:
        """The first ``max_tokens`` tokens of ``text``, as text."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return self.tokenizer.decode(ids[:max_tokens])

    def truncate_tokens_from_end(self, text: str, max_tokens: int) -> str:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return self.tokenizer.decode(ids[-max_tokens:]) if max_tokens > 0 else ""

    def stream(self, prompt_ids: list[int], sampling: Sampling, cancel: CancelToken,
               reuse_prefix: bool = False) -> Iterator[str]:
        """Text pieces of the reply as they are generated.

        ``reuse_prefix`` reads only the part of the prompt that differs from the last
        prompt and reply (their keys and values are kept between calls).
        """
        context = self.info.context_window
        room = context - len(prompt_ids)
        if room <= 0:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens fills the {context}-token window")
        if sampling.max_new_tokens > room:
            sampling = Sampling(room, sampling.temperature, sampling.top_p,
                                sampling.repetition_penalty, sampling.seed)
        decoder = IncrementalDecoder(self.tokenizer)
        if not reuse_prefix:
            self.prefix.clear()
        prefix = self.prefix if reuse_prefix else None
        for token_id in generate_token_ids(self.model, prompt_ids, sampling, self.stop_ids, cancel,
                                           prefix):
            piece = decoder.push(token_id)
            if piece:
                yield piece
