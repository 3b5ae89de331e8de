"""The losses the learner uses: per-example loss on the answer (the surprise, and what is
learned) and the KL consistency loss to another set of weights (the EMA teacher, or the
model without the adapter on general questions).

Only answer positions count, so the output head runs on those rows alone: the question
and persona make up most of each example, and the head (vocabulary-sized) is the most
expensive layer per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nexus_desktop.learning.encoding import IGNORED, Batch


@dataclass(frozen=True)
class AnswerLogits:
    logits: torch.Tensor   # (rows, vocab), float32: one row per answer token
    targets: torch.Tensor  # (rows,)
    example: torch.Tensor  # (rows,): which example of the batch each row belongs to
    examples: int

    def first(self, count: int) -> AnswerLogits:
        """The rows of the batch's first ``count`` examples."""
        keep = self.example < count
        return AnswerLogits(self.logits[keep], self.targets[keep], self.example[keep], count)

    def rest(self, count: int) -> AnswerLogits:
        """The rows of the examples after the first ``count``, renumbered from 0."""
        keep = self.example >= count
        return AnswerLogits(self.logits[keep], self.targets[keep], self.example[keep] - count,
                            self.examples - count)


def answer_logits(model: torch.nn.Module, batch: Batch) -> AnswerLogits:
    """Logits predicting each answer token, in rows ordered by example then position."""
    hidden = model.get_decoder()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                 use_cache=False).last_hidden_state
    targets = batch.labels[:, 1:]
    answer = targets != IGNORED
    rows = hidden[:, :-1][answer]
    logits = model.get_output_embeddings()(rows).float()
    owner = torch.arange(targets.shape[0], device=targets.device).unsqueeze(1).expand_as(targets)
    return AnswerLogits(logits, targets[answer], owner[answer], targets.shape[0])


def per_example_loss(answer: AnswerLogits) -> torch.Tensor:
    """Mean negative log-likelihood of each example's answer tokens (nats per token)."""
    token_loss = F.cross_entropy(answer.logits, answer.targets, reduction="none")
    return _mean_per_example(token_loss, answer)


def consistency_loss(student: AnswerLogits, teacher: AnswerLogits) -> torch.Tensor:
    """KL(teacher || student) over the answer tokens, per example."""
    teacher_log_probs = F.log_softmax(teacher.logits, dim=-1)
    student_log_probs = F.log_softmax(student.logits, dim=-1)
    kl = (teacher_log_probs.exp() * (teacher_log_probs - student_log_probs)).sum(dim=-1)
    return _mean_per_example(kl, student)


def _mean_per_example(values: torch.Tensor, answer: AnswerLogits) -> torch.Tensor:
    totals = torch.zeros(answer.examples, device=values.device).index_add(0, answer.example,
                                                                          values)
    counts = torch.zeros(answer.examples, device=values.device).index_add(
        0, answer.example, torch.ones_like(values))
    return totals / counts.clamp(min=1.0)
