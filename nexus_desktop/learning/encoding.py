"""Training examples as the model sees them: the same chat template and persona as a turn
with ``--context none``, so what is learned is what that turn is asked."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nexus_desktop.llm.chat_model import ChatModel

IGNORED = -100


@dataclass(frozen=True)
class EncodedExample:
    example_id: int
    input_ids: list[int]
    # Only the answer's tokens count in the loss: the model learns to say it, not to
    # predict the question.
    labels: list[int]

    @property
    def answer_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORED)


@dataclass(frozen=True)
class Batch:
    example_ids: list[int]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    @property
    def answer_tokens(self) -> int:
        return int((self.labels != IGNORED).sum())

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())


class ExampleEncoder:
    """Renders (prompt, target) pairs with the persona and the model's chat template."""

    def __init__(self, model: ChatModel, persona: str, max_tokens: int) -> None:
        self.model = model
        self.persona = persona
        self.max_tokens = max_tokens

    def encode(self, example_id: int, prompt: str, target: str) -> EncodedExample:
        # The question may take half the room at most; the answer gets what is left.
        prompt = self.model.truncate_tokens_from_end(prompt, self.max_tokens // 2)
        asked = [{"role": "system", "content": self.persona}, {"role": "user", "content": prompt}]
        prompt_ids = self.model.render(asked, add_generation_prompt=True)
        room = self.max_tokens - len(prompt_ids) - 4
        target = self.model.truncate_tokens(target, max(room, 1))
        full_ids = self.model.render([*asked, {"role": "assistant", "content": target}],
                                     add_generation_prompt=False)
        if full_ids[:len(prompt_ids)] != prompt_ids:
            # A template that renders the question differently once answered: append the
            # answer and the end token by hand instead.
            end = min(self.model.stop_ids) if self.model.stop_ids else None
            answer = self.model.tokenizer.encode(target, add_special_tokens=False)
            full_ids = prompt_ids + answer + ([end] if end is not None else [])
        full_ids = full_ids[:self.max_tokens]
        labels = [IGNORED] * len(prompt_ids) + full_ids[len(prompt_ids):]
        return EncodedExample(example_id, full_ids, labels)

    def collate(self, examples: list[EncodedExample], device: torch.device) -> Batch:
        """Right-padded tensors for one forward pass."""
        pad = self.model.tokenizer.pad_token_id
        pad = 0 if pad is None else pad
        length = max(len(e.input_ids) for e in examples)
        ids = torch.full((len(examples), length), pad, dtype=torch.long)
        labels = torch.full((len(examples), length), IGNORED, dtype=torch.long)
        mask = torch.zeros((len(examples), length), dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            labels[row, :n] = torch.tensor(example.labels)
            mask[row, :n] = 1
        return Batch([e.example_id for e in examples], ids.to(device), mask.to(device),
                     labels.to(device))
