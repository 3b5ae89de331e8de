"""Hybrid recall over the whole conversation: keywords and meaning, fused and re-ranked.

Keyword hits (FTS5/BM25 over messages, archived originals, facts and summaries) and
vector hits (all-MiniLM-L6-v2) are fused by reciprocal rank, then re-ranked by relevance,
recency (decay since the memory was last used) and importance, with a date named in the
question ("last week", "in May") favouring memories from then. One hop along links (a
reply and its question, a fact and the message it came from, a summary and what it
summarises) brings in neighbours of the best hits.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import numpy as np

from nexus_desktop.config import Settings
from nexus_desktop.errors import NexusError
from nexus_desktop.memory.dates import TimeRange, find_time_range, without_phrase
from nexus_desktop.store.connection import translate_errors, write_transaction
from nexus_desktop.store.database import Database
from nexus_desktop.store.snippets import WORD

log = logging.getLogger(__name__)

MODES = ("hybrid", "bm25", "vector")
KINDS = ("message", "fact", "summary")
# Reciprocal rank fusion's damping constant, the usual choice from the RRF paper.
RRF_K = 60
# How many candidates each source contributes before fusion.
CANDIDATES = 50
# Share of the final score: how well it matches, how recently it was used, how important.
W_RELEVANCE, W_RECENCY, W_IMPORTANCE = 0.75, 0.10, 0.15
# A memory from the time the question names counts this much more.
IN_RANGE_BONUS = 0.5
# A neighbour reached over a link gets this share of the score of the hit it hangs off.
HOP_SHARE = 0.5
DEFAULT_IMPORTANCE = 0.3
_SHOWN = ("complete", "cancelled", "interrupted")
# Words too common to say what a question is about.
_STOPWORD_TEXT = """
a about above after again all am an and any are as at be been before being below between both
but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves tell remember remind said say told know did ago
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SUFFIX = re.compile(r"(?:ing|ed|es|s)$")


@dataclass(frozen=True)
class Memory:
    kind: str
    id: int
    text: str
    created_at: float
    role: str | None
    speaker: str | None
    external_id: str | None
    score: float
    why: str


@dataclass
class _Candidate:
    kind: str
    id: int
    ranks: dict[str, int] = field(default_factory=dict)
    hop_from: tuple[str, int] | None = None
    score: float = 0.0
    why: list[str] = field(default_factory=list)


def keyword_query(text: str) -> str | None:
    """An FTS5 query matching any content word of ``text``, word stems as prefixes.

    Any word rather than all: recall questions rarely share every word with the answer.
    """
    terms: list[str] = []
    for word in WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        stem = _SUFFIX.sub("", word) if len(word) > 5 else word
        term = '"' + stem.replace('"', '""') + '"' + ("*" if len(stem) >= 4 else "")
        if term not in terms:
            terms.append(term)
    return " OR ".join(terms) if terms else None


class Retriever:
    def __init__(self, database: Database, index: object | None,
                 embed_query: Callable[[str], np.ndarray] | None, settings: Settings) -> None:
        self.database = database
        self.index = index
        self.embed_query = embed_query
        self.half_life_days = settings.get("memory.recency_half_life_days")

    def search(self, query: str, k: int = 10, mode: str = "hybrid",
               kinds: Collection[str] = ("message",), now: float | None = None,
               touch: bool = True, exclude: Collection[tuple[str, int]] = ()) -> list[Memory]:
        """The ``k`` memories that best answer ``query``, best first."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        now = time.time() if now is None else now
        found = find_time_range(query, now) if mode == "hybrid" else None
        text = without_phrase(query, found)
        with translate_errors(self.database.path):
            candidates: dict[tuple[str, int], _Candidate] = {}
            if mode in ("hybrid", "bm25"):
                self._add(candidates, "bm25", self._keyword_hits(text, kinds, None))
            if mode in ("hybrid", "vector"):
                self._add(candidates, "vector", self._vector_hits(text, kinds, None, CANDIDATES))
            if found is not None:
                self._add(candidates, "bm25 in range", self._keyword_hits(text, kinds, found))
                self._add(candidates, "vector in range",
                          self._vector_hits(text, kinds, found, CANDIDATES * 6))
            for key in exclude:
                candidates.pop(key, None)
            if not candidates:
                return []
            details = self._details(candidates)
            ranked = self._rank(candidates, details, mode, found, now)
            if mode == "hybrid":
                ranked = self._hop(ranked, details, kinds, k, set(exclude), now)
            chosen = ranked[:k]
            memories = [self._memory(c, details, now) for c in chosen]
            if touch:
                self._touch(memories, now)
        return memories

    # ---------------------------------------------------------------- candidate sources

    @staticmethod
    def _add(candidates: dict[tuple[str, int], _Candidate], source: str,
             hits: Iterable[tuple[str, int]]) -> None:
        for rank, (kind, item_id) in enumerate(hits):
            candidate = candidates.setdefault((kind, item_id), _Candidate(kind, item_id))
            candidate.ranks.setdefault(source, rank)

    def _keyword_hits(self, text: str, kinds: Collection[str], window: TimeRange | None
                      ) -> list[tuple[str, int]]:
        match = keyword_query(text)
        if match is None:
            return []
        connection = self.database.connection()
        scored: dict[tuple[str, int], float] = {}
        span = "" if window is None else " AND m.created_at >= ? AND m.created_at < ?"
        bounds: tuple[float, ...] = () if window is None else (window.start, window.end)
        if "message" in kinds:
            for table in ("messages_fts", "message_archive_fts"):
                rows = connection.execute(
                    f"SELECT m.id, bm25({table}) FROM {table} JOIN messages AS m "
                    f"ON m.id = {table}.rowid WHERE {table} MATCH ? AND m.role != 'system' "
                    f"AND m.status IN {_SHOWN}{span} ORDER BY bm25({table}) LIMIT ?",
                    (match, *bounds, CANDIDATES))
                for message_id, rank in rows:
                    key = ("message", message_id)
                    scored[key] = min(scored.get(key, 0.0), rank)
        if "fact" in kinds and window is None:
            for fact_id, rank in connection.execute(
                    "SELECT f.id, bm25(facts_fts) FROM facts_fts JOIN facts AS f "
                    "ON f.id = facts_fts.rowid WHERE facts_fts MATCH ? AND f.status = 'active' "
                    "ORDER BY bm25(facts_fts) LIMIT ?", (match, CANDIDATES)):
                scored[("fact", fact_id)] = rank
        if "summary" in kinds:
            summary_span = "" if window is None else " AND s.last_at >= ? AND s.first_at < ?"
            for summary_id, rank in connection.execute(
                    "SELECT s.id, bm25(summaries_fts) FROM summaries_fts JOIN summaries AS s "
                    f"ON s.id = summaries_fts.rowid WHERE summaries_fts MATCH ?{summary_span} "
                    "ORDER BY bm25(summaries_fts) LIMIT ?", (match, *bounds, CANDIDATES)):
                scored[("summary", summary_id)] = rank
        # bm25() is lower for better matches.
        return sorted(scored, key=scored.__getitem__)[:CANDIDATES]

    def _vector_hits(self, text: str, kinds: Collection[str], window: TimeRange | None,
                     depth: int) -> list[tuple[str, int]]:
        if self.index is None or self.embed_query is None or not len(self.index):  # type: ignore[arg-type]
            return []
        wanted = [kind for kind in kinds if window is None or kind == "message"]
        try:
            query = self.embed_query(text)
        except NexusError:
            # Without the embedding model, recall still works by keywords.
            log.exception("embedding a query failed; searching by keywords only")
            return []
        hits = self.index.search(query, depth, wanted)  # type: ignore[attr-defined]
        pairs = [(kind, item_id) for kind, item_id, _score in hits]
        if window is None:
            return pairs[:CANDIDATES]
        ids = [item_id for _kind, item_id in pairs]
        inside = self._message_ids_in(ids, window)
        return [pair for pair in pairs if pair[1] in inside][:CANDIDATES]

    def _message_ids_in(self, ids: list[int], window: TimeRange) -> set[int]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {row[0] for row in self.database.connection().execute(
            f"SELECT id FROM messages WHERE id IN ({marks}) AND created_at >= ? "
            "AND created_at < ?", (*ids, window.start, window.end))}

    # ---------------------------------------------------------------- ranking

    def _details(self, candidates: Collection[tuple[str, int]]) -> dict[tuple[str, int], dict]:
        """Text, times, importance and links of each candidate, in one query per kind."""
        connection = self.database.connection()
        details: dict[tuple[str, int], dict] = {}
        by_kind: dict[str, list[int]] = {}
        for kind, item_id in candidates:
            by_kind.setdefault(kind, []).append(item_id)
        queries = {
            "message": "SELECT id, content, created_at, role, speaker, external_id, importance, "
                       "last_retrieved_at, reply_to, tier FROM messages WHERE id IN ({})",
            "fact": "SELECT id, text, created_at, NULL, NULL, NULL, importance, "
                    "last_retrieved_at, source_message_id, status FROM facts "
                    # A fact forgotten since the index was loaded still has a vector there.
                    "WHERE status = 'active' AND id IN ({})",
            "summary": "SELECT id, text, last_at, NULL, NULL, NULL, NULL, NULL, NULL, "
                       "first_message_id FROM summaries WHERE id IN ({})",
        }
        for kind, ids in by_kind.items():
            sql = queries[kind].format(",".join("?" * len(ids)))
            for row in connection.execute(sql, ids):
                details[(kind, row[0])] = {
                    "text": row[1], "created_at": row[2], "role": row[3], "speaker": row[4],
                    "external_id": row[5], "importance": row[6], "used_at": row[7],
                    "link": row[8], "extra": row[9],
                }
        return details

    def _rank(self, candidates: dict[tuple[str, int], _Candidate],
              details: dict[tuple[str, int], dict], mode: str, found: TimeRange | None,
              now: float) -> list[_Candidate]:
        alive = [c for key, c in candidates.items() if key in details]
        for candidate in alive:
            candidate.score = sum(1 / (RRF_K + rank + 1) for rank in candidate.ranks.values())
        if mode != "hybrid" or not alive:
            return sorted(alive, key=lambda c: -c.score)
        best = max(c.score for c in alive)
        for candidate in alive:
            info = details[(candidate.kind, candidate.id)]
            relevance = candidate.score / best
            recency = self._recency(info, now)
            importance = info["importance"] if info["importance"] is not None \
                else DEFAULT_IMPORTANCE
            candidate.score = (W_RELEVANCE * relevance + W_RECENCY * recency
                               + W_IMPORTANCE * importance)
            candidate.why = [f"matched by {' + '.join(sorted(candidate.ranks))}",
                             f"relevance {relevance:.2f}", f"recency {recency:.2f}",
                             f"importance {importance:.2f}"]
            if found is not None and found.start <= info["created_at"] < found.end:
                candidate.score += IN_RANGE_BONUS
                candidate.why.append(f"from {found.phrase!r}")
        return sorted(alive, key=lambda c: -c.score)

    def _recency(self, info: dict, now: float) -> float:
        used = max(info["created_at"], info["used_at"] or 0.0)
        age_days = max(0.0, now - used) / 86400
        return float(0.5 ** (age_days / self.half_life_days))

    def _hop(self, ranked: list[_Candidate], details: dict[tuple[str, int], dict],
             kinds: Collection[str], k: int, excluded: set[tuple[str, int]],
             now: float) -> list[_Candidate]:
        """Add the linked neighbours of the top ``k`` hits, then rank again."""
        present = {(c.kind, c.id) for c in ranked}
        added: dict[tuple[str, int], _Candidate] = {}
        for candidate in ranked[:k]:
            for neighbour in self._neighbours(candidate, details):
                if neighbour in present or neighbour in excluded or neighbour[0] not in kinds:
                    continue
                hop = added.get(neighbour)
                share = candidate.score * HOP_SHARE
                if hop is None or hop.score < share:
                    added[neighbour] = _Candidate(
                        *neighbour, hop_from=(candidate.kind, candidate.id), score=share,
                        why=[f"linked to {candidate.kind} #{candidate.id}"])
        if not added:
            return ranked
        details.update(self._details(list(added)))
        hops = [c for key, c in added.items() if key in details
                and (key[0] != "message" or details[key]["text"].strip())]
        return sorted([*ranked, *hops], key=lambda c: -c.score)

    def _neighbours(self, candidate: _Candidate, details: dict[tuple[str, int], dict]
                    ) -> list[tuple[str, int]]:
        info = details[(candidate.kind, candidate.id)]
        connection = self.database.connection()
        found: list[tuple[str, int]] = []
        if candidate.kind == "message":
            if info["link"] is not None:
                found.append(("message", info["link"]))
            found += [("message", row[0]) for row in connection.execute(
                "SELECT id FROM messages WHERE reply_to = ? AND status IN "
                f"{_SHOWN} LIMIT 2", (candidate.id,))]
        elif candidate.kind == "fact" and info["link"] is not None:
            found.append(("message", info["link"]))
        found += [(row[0], row[1]) for row in connection.execute(
            "SELECT dst_kind, dst_id FROM links WHERE src_kind = ? AND src_id = ? "
            "AND relation != 'summary_of' UNION SELECT src_kind, src_id FROM links "
            "WHERE dst_kind = ? AND dst_id = ? LIMIT 8",
            (candidate.kind, candidate.id, candidate.kind, candidate.id))]
        return found

    # ---------------------------------------------------------------- results

    @staticmethod
    def _memory(candidate: _Candidate, details: dict[tuple[str, int], dict],
                now: float) -> Memory:
        info = details[(candidate.kind, candidate.id)]
        why = "; ".join(candidate.why) or f"matched by {' + '.join(sorted(candidate.ranks))}"
        return Memory(candidate.kind, candidate.id, info["text"], info["created_at"],
                      info["role"], info["speaker"], info["external_id"],
                      round(candidate.score, 4), why)

    def _touch(self, memories: list[Memory], now: float) -> None:
        """Count the use of what was recalled: recency decays from the last use."""
        tables = {"message": "messages", "fact": "facts"}
        connection = self.database.connection()
        with write_transaction(connection):
            for memory in memories:
                table = tables.get(memory.kind)
                if table is not None:
                    connection.execute(
                        f"UPDATE {table} SET retrieval_count = retrieval_count + 1, "
                        "last_retrieved_at = ? WHERE id = ?", (now, memory.id))
