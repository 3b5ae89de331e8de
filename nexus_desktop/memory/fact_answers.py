"""Direct questions about a remembered fact, answered from memory at once.

"What's my favorite color?" has one right answer once the user has said it, and a small
model does not reliably give it even with the fact in its prompt. So a question that
asks for a fact (the same question, or one that means the same to the embedding model)
is answered with the fact itself, and the reply is marked as coming from memory. Every
other message goes to the model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nexus_desktop.store.fact_phrasing import fact_questions, normalise_key
from nexus_desktop.store.facts import Fact

# Cosine similarity above which a question means the same as one a fact answers.
SAME_QUESTION = 0.9
_QUESTION_START = re.compile(
    r"^(what|what's|whats|where|where's|who|who's|when|which|how|do|does|did|is|are|am|can you "
    r"tell|tell me|remind me|remember)\b", re.IGNORECASE)
_CONTRACTIONS = {"what's": "what is", "whats": "what is", "where's": "where is",
                 "who's": "who is", "i'm": "i am", "don't": "do not", "didn't": "did not"}
_PUNCTUATION = re.compile(r"[^\w\s']")


@dataclass(frozen=True)
class FactAnswer:
    fact_id: int
    question: str
    answer: str
    similarity: float

    @property
    def why(self) -> str:
        how = "the same question" if self.similarity >= 0.999 else \
            f"similarity {self.similarity:.2f} to"
        return f"fact #{self.fact_id} answers {how} {self.question!r}"


def looks_like_question(text: str) -> bool:
    stripped = text.strip()
    return stripped.endswith("?") or bool(_QUESTION_START.match(stripped))


def normalise_question(text: str) -> str:
    words = _PUNCTUATION.sub(" ", text.lower()).split()
    return normalise_key(" ".join(_CONTRACTIONS.get(word, word) for word in words))


class FactAnswerer:
    """Matches a question to the questions each fact answers; thread-safe."""

    def __init__(self, embed: Callable[[str], np.ndarray] | None) -> None:
        self.embed = embed
        self._vectors: dict[tuple[int, float], np.ndarray] = {}
        self._lock = threading.Lock()

    def answer(self, text: str, facts: Sequence[Fact]) -> FactAnswer | None:
        """The answer to ``text`` from one of ``facts``, or None when it asks for none."""
        if not facts or not looks_like_question(text) or len(text) > 300:
            return None
        asked = normalise_question(text)
        pairs = [(fact, question, reply) for fact in facts
                 for question, reply in fact_questions(fact.subject, fact.key, fact.value)]
        for fact, question, reply in pairs:
            if normalise_question(question) == asked:
                return FactAnswer(fact.id, question, reply, 1.0)
        if self.embed is None:
            return None
        query = self.embed(text)
        best: tuple[float, Fact, str, str] | None = None
        for fact in facts:
            vectors = self._question_vectors(fact)
            scores = vectors @ query
            row = int(np.argmax(scores))
            question, reply = fact_questions(fact.subject, fact.key, fact.value)[row]
            if best is None or scores[row] > best[0]:
                best = (float(scores[row]), fact, question, reply)
        if best is None or best[0] < SAME_QUESTION:
            return None
        return FactAnswer(best[1].id, best[2], best[3], round(best[0], 3))

    def _question_vectors(self, fact: Fact) -> np.ndarray:
        """The unit vectors of the questions ``fact`` answers, kept until it changes."""
        key = (fact.id, fact.updated_at)
        with self._lock:
            found = self._vectors.get(key)
        if found is None:
            assert self.embed is not None
            questions = [q for q, _ in fact_questions(fact.subject, fact.key, fact.value)]
            found = np.stack([self.embed(q) for q in questions])
            with self._lock:
                self._vectors[key] = found
        return found
