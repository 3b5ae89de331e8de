"""The KV cache of the last prompt and reply, reused when the next prompt starts the same.

The persistent session's prompt changes little from turn to turn: the persona and the
recent turns stay, the last reply was just computed, and only the reminder and the new
message are new. Reading only what changed cuts the time to the first token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import DynamicCache, PreTrainedModel


@dataclass
class PrefixCache:
    """Token ids and the cache holding exactly their keys and values."""

    ids: list[int] = field(default_factory=list)
    cache: DynamicCache | None = None
    # How many tokens of the last prompt came from the cache, for /why and benchmarks.
    reused_tokens: int = 0

    def take(self, model: PreTrainedModel, prompt_ids: list[int]) -> tuple[DynamicCache, int]:
        """A cache holding the longest reusable prefix of ``prompt_ids``, and its length.

        At least the last prompt token is always left to compute: its logits start the reply.
        """
        common = 0
        if self.cache is not None:
            limit = min(len(self.ids), len(prompt_ids) - 1)
            while common < limit and self.ids[common] == prompt_ids[common]:
                common += 1
        if common == 0 or self.cache is None:
            self.cache = DynamicCache(config=model.config)
        elif len(self.ids) > common:
            # transformers takes the number of tokens to drop from the end as a negative.
            self.cache.crop(common - len(self.ids))
        self.ids = list(prompt_ids[:common])
        self.reused_tokens = common
        return self.cache, common

    def fed(self, ids: list[int]) -> None:
        """``ids`` went through the model after what the cache held."""
        self.ids.extend(ids)

    def clear(self) -> None:
        """Forget the cache (after a failed forward pass, its state is unknown)."""
        self.ids, self.cache, self.reused_tokens = [], None, 0
