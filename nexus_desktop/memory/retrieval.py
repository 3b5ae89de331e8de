"""Hybrid recall over the whole conversation: keywords and meaning, fused and re-ranked.

**Sources.** Keyword hits come from FTS5/BM25 over messages, archived originals, facts
and summaries; hits by meaning from the vector index (all-MiniLM-L6-v2), the question
embedded once per search. When the question names a date ("last week", "in May"), each
source also looks inside that range: BM25 a second time restricted to the range, the
vector search one deeper scan whose hits from the range are kept as well. A common word's
best matches, or the nearest neighbours of a vague question, may otherwise all come from
other times.

**Relevance** is a weighted sum of the two sources' own scores, each divided by the best
score that source gave for this question: ``0.5 * bm25 / best bm25 + 0.5 * cosine / best
cosine``, a source counting 0 for a memory it did not find (and having no say at all when
it found nothing). Scores rather than ranks: under reciprocal rank fusion a memory only one
source finds, even first, scored below one both find fifth, so the best paraphrase (found
by vectors alone) lost to messages sharing a name with the question, and hybrid found less
than vectors alone on single-hop questions. Dividing by the best puts both sources on the
same 0..1 scale whatever the question's words; equal weights, because neither source is
the better one on every kind of question. These are round values from the middle of the
ranges tried, not the peak of a fine search: on the recall evaluation (benchmarks/
bench_retrieval.py; BENCHMARKS.md, "Memory retrieval") vector weights from 0.4 to 0.6
and date boosts from 2 to 5 give recall@10 from 0.90 to 0.92.

**Dates** multiply relevance: a memory from the range counts ``1 + IN_RANGE_BOOST`` times
as relevant as one from another time, rather than gaining a fixed bonus. A fixed bonus put
every loosely related memory from the range above the best match from elsewhere, which buried
the other half of a question whose date applies to one part only ("what did the dog who
stole a prawn at the party eat in July?": the party was in April). A multiple still lets a
memory from another time win when it is several times as relevant.

**Ranking**: relevance, recency (decay since the memory was last used) and importance, in
fixed shares. Then one hop along links (a reply and its question, a fact and the message
it came from, a summary and what it summarises) brings in neighbours of the best hits.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

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
# How many candidates each source contributes before fusion.
CANDIDATES = 50
# BM25 ranks this many times CANDIDATES messages before the few it must skip (system
# messages, failed replies) are dropped: ranking first and reading the rows after is what
# keeps a common word cheap at 100k messages.
KEYWORD_SLACK = 2
# With a date, the vector scan goes this many times deeper to find hits from the range.
DEEP = 6
# Shares of relevance: keywords and meaning.
W_KEYWORD, W_VECTOR = 0.5, 0.5
# Shares of the final score: how well it matches, how recently it was used, how important.
W_RELEVANCE, W_RECENCY, W_IMPORTANCE = 0.75, 0.10, 0.15
# A memory from the time the question names counts 1 + this times as relevant.
IN_RANGE_BOOST = 3.0
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
    bm25: float | None = None
    cosine: float | None = None
    score: float = 0.0
    # Relevance, recency and importance, and the date phrase when it is from then: the
    # explanation is written only for the memories returned.
    factors: tuple[float, float, float] | None = None
    date_phrase: str | None = None
    linked_to: tuple[str, int] | None = None

    def why(self) -> str:
        if self.linked_to is not None:
            return f"linked to {self.linked_to[0]} #{self.linked_to[1]}"
        sources = [name for name, value in (("bm25", self.bm25), ("vector", self.cosine))
                   if value is not None]
        parts = [f"matched by {' + '.join(sources)}"]
        if self.factors is not None:
            parts += [f"{name} {value:.2f}" for name, value in
                      zip(("relevance", "recency", "importance"), self.factors, strict=True)]
        if self.date_phrase is not None:
            parts.append(f"from {self.date_phrase!r}")
        return "; ".join(parts)


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
                self._keyword_hits(candidates, text, kinds, found)
            if mode in ("hybrid", "vector"):
                self._vector_hits(candidates, text, kinds, found)
            for key in exclude:
                candidates.pop(key, None)
            if not candidates:
                return []
            details = self._details(candidates)
            ranked = self._rank(candidates, details, mode, found, now)
            if mode == "hybrid":
                ranked = self._hop(ranked, details, kinds, k, set(exclude))
            chosen = ranked[:k]
            memories = [self._memory(c, details) for c in chosen]
            if touch:
                self._touch(memories, now)
        return memories

    # ---------------------------------------------------------------- candidate sources

    def _keyword_hits(self, candidates: dict[tuple[str, int], _Candidate], text: str,
                      kinds: Collection[str], found: TimeRange | None) -> None:
        match = keyword_query(text)
        if match is None:
            return
        for window in (None, found) if found is not None else (None,):
            for key, score in self._keyword_pass(match, kinds, window):
                candidates.setdefault(key, _Candidate(*key)).bm25 = score

    def _keyword_pass(self, match: str, kinds: Collection[str], window: TimeRange | None
                      ) -> list[tuple[tuple[str, int], float]]:
        """The best BM25 matches, over everything or within ``window``; bm25() is lower
        for better matches and does not depend on the window."""
        connection = self.database.connection()
        scored: dict[tuple[str, int], float] = {}
        if "message" in kinds:
            for message_id, score in self._message_matches(match, window):
                key = ("message", message_id)
                scored[key] = min(scored.get(key, 0.0), score)
        if "fact" in kinds and window is None:
            for fact_id, score in connection.execute(
                    "SELECT f.id, bm25(facts_fts) FROM facts_fts JOIN facts AS f "
                    "ON f.id = facts_fts.rowid WHERE facts_fts MATCH ? AND f.status = 'active' "
                    "ORDER BY bm25(facts_fts) LIMIT ?", (match, CANDIDATES)):
                scored[("fact", fact_id)] = score
        if "summary" in kinds:
            span = "" if window is None else " AND s.last_at >= ? AND s.first_at < ?"
            bounds = () if window is None else (window.start, window.end)
            for summary_id, score in connection.execute(
                    "SELECT s.id, bm25(summaries_fts) FROM summaries_fts JOIN summaries AS s "
                    f"ON s.id = summaries_fts.rowid WHERE summaries_fts MATCH ?{span} "
                    "ORDER BY bm25(summaries_fts) LIMIT ?", (match, *bounds, CANDIDATES)):
                scored[("summary", summary_id)] = score
        return sorted(scored.items(), key=lambda item: item[1])[:CANDIDATES]

    def _message_matches(self, match: str, window: TimeRange | None
                         ) -> list[tuple[int, float]]:
        """(message id, bm25) from the messages and the archived originals."""
        connection = self.database.connection()
        shown = f"m.role != 'system' AND m.status IN {_SHOWN}"
        found: list[tuple[int, float]] = []
        if window is not None:
            first, last = connection.execute(
                "SELECT min(id), max(id) FROM messages WHERE created_at >= ? AND created_at < ?",
                (window.start, window.end)).fetchone()
            if first is None:
                return found
        for table in ("messages_fts", "message_archive_fts"):
            if window is None:
                # Ranked inside FTS5 first, so only the best rows are read from messages
                # (CROSS JOIN: in that order).
                rows = connection.execute(
                    f"SELECT m.id, r.score FROM (SELECT rowid AS id, bm25({table}) AS score "
                    f"FROM {table} WHERE {table} MATCH ? ORDER BY score LIMIT ?) AS r "
                    f"CROSS JOIN messages AS m ON m.id = r.id WHERE {shown}",
                    (match, CANDIDATES * KEYWORD_SLACK))
            else:
                # The range's span of ids lets FTS5 skip the rest of each word's list; the
                # times are still checked, as ids follow times only where nothing was
                # imported later.
                rows = connection.execute(
                    f"SELECT m.id, bm25({table}) FROM {table} JOIN messages AS m "
                    f"ON m.id = {table}.rowid WHERE {table} MATCH ? AND {table}.rowid "
                    f"BETWEEN ? AND ? AND m.created_at >= ? AND m.created_at < ? AND {shown} "
                    f"ORDER BY bm25({table}) LIMIT ?",
                    (match, first, last, window.start, window.end, CANDIDATES))
            found += rows
        return found

    def _vector_hits(self, candidates: dict[tuple[str, int], _Candidate], text: str,
                     kinds: Collection[str], found: TimeRange | None) -> None:
        """The nearest in meaning; with a date, one deeper scan also gives the nearest
        messages from the range."""
        if self.index is None or self.embed_query is None or not len(self.index):  # type: ignore[arg-type]
            return
        try:
            query = self.embed_query(text)
        except NexusError:
            # Without the embedding model, recall still works by keywords.
            log.exception("embedding a query failed; searching by keywords only")
            return
        depth = CANDIDATES if found is None else CANDIDATES * DEEP
        hits = self.index.search(query, depth, kinds)  # type: ignore[attr-defined]
        chosen = hits[:CANDIDATES]
        if found is not None:
            rest = [hit for hit in hits[CANDIDATES:] if hit[0] == "message"]
            inside = self._message_ids_in([hit[1] for hit in rest], found)
            chosen += [hit for hit in rest if hit[1] in inside][:CANDIDATES]
        for kind, item_id, cosine in chosen:
            candidates.setdefault((kind, item_id), _Candidate(kind, item_id)).cosine = cosine

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
        # bm25() is negative, lower for better matches; a cosine can be below 0.
        best_bm25 = min((c.bm25 for c in alive if c.bm25 is not None), default=0.0)
        best_cosine = max((c.cosine for c in alive if c.cosine is not None), default=0.0)
        # A source that found nothing (no word in common, no vectors yet) has no say.
        w_keyword = W_KEYWORD if best_bm25 < 0 else 0.0
        w_vector = W_VECTOR if best_cosine > 0 else 0.0
        total = (w_keyword + w_vector) or 1.0
        for candidate in alive:
            keyword = candidate.bm25 / best_bm25 if candidate.bm25 is not None \
                and w_keyword else 0.0
            meaning = max(0.0, candidate.cosine) / best_cosine \
                if candidate.cosine is not None and w_vector else 0.0
            candidate.score = (w_keyword * keyword + w_vector * meaning) / total
        if mode != "hybrid":
            return sorted(alive, key=lambda c: -c.score)
        for candidate in alive:
            info = details[(candidate.kind, candidate.id)]
            relevance = candidate.score
            inside = found is not None and found.start <= info["created_at"] < found.end
            recency = self._recency(info, now)
            importance = info["importance"] if info["importance"] is not None \
                else DEFAULT_IMPORTANCE
            candidate.score = (W_RELEVANCE * relevance * (1 + IN_RANGE_BOOST * inside)
                               + W_RECENCY * recency + W_IMPORTANCE * importance)
            candidate.factors = (relevance, recency, importance)
            if inside:
                candidate.date_phrase = found.phrase  # type: ignore[union-attr]
        return sorted(alive, key=lambda c: -c.score)

    def _recency(self, info: dict, now: float) -> float:
        used = max(info["created_at"], info["used_at"] or 0.0)
        age_days = max(0.0, now - used) / 86400
        return float(0.5 ** (age_days / self.half_life_days))

    def _hop(self, ranked: list[_Candidate], details: dict[tuple[str, int], dict],
             kinds: Collection[str], k: int, excluded: set[tuple[str, int]]
             ) -> list[_Candidate]:
        """Add the linked neighbours of the top ``k`` hits, then rank again."""
        present = {(c.kind, c.id) for c in ranked}
        added: dict[tuple[str, int], _Candidate] = {}
        top = ranked[:k]
        neighbours = self._neighbours(top, details)
        for candidate in top:
            for neighbour in neighbours[(candidate.kind, candidate.id)]:
                if neighbour in present or neighbour in excluded or neighbour[0] not in kinds:
                    continue
                hop = added.get(neighbour)
                share = candidate.score * HOP_SHARE
                if hop is None or hop.score < share:
                    added[neighbour] = _Candidate(
                        *neighbour, score=share, linked_to=(candidate.kind, candidate.id))
        if not added:
            return ranked
        details.update(self._details(list(added)))
        hops = [c for key, c in added.items() if key in details
                and (key[0] != "message" or details[key]["text"].strip())]
        return sorted([*ranked, *hops], key=lambda c: -c.score)

    def _neighbours(self, hits: list[_Candidate], details: dict[tuple[str, int], dict]
                    ) -> dict[tuple[str, int], list[tuple[str, int]]]:
        """Each hit's neighbours: the message a message replies to and up to two replies,
        a fact's source message, and up to eight linked memories. A few queries for all
        the hits together."""
        connection = self.database.connection()
        found: dict[tuple[str, int], list[tuple[str, int]]] = {}
        by_kind: dict[str, list[int]] = {}
        for hit in hits:
            link = details[(hit.kind, hit.id)]["link"]
            found[(hit.kind, hit.id)] = [("message", link)] if link is not None \
                and hit.kind in ("message", "fact") else []
            by_kind.setdefault(hit.kind, []).append(hit.id)
        replies: dict[tuple[str, int], list[tuple[str, int]]] = {}
        linked: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for kind, ids in by_kind.items():
            marks = ",".join("?" * len(ids))
            if kind == "message":
                for reply_to, reply in connection.execute(
                        f"SELECT reply_to, id FROM messages WHERE reply_to IN ({marks}) "
                        f"AND status IN {_SHOWN} ORDER BY id", ids):
                    replies.setdefault(("message", reply_to), []).append(("message", reply))
            for own_id, other_kind, other_id in connection.execute(
                    f"SELECT src_id, dst_kind, dst_id FROM links WHERE src_kind = ? AND src_id "
                    f"IN ({marks}) AND relation != 'summary_of' UNION SELECT dst_id, src_kind, "
                    f"src_id FROM links WHERE dst_kind = ? AND dst_id IN ({marks})",
                    (kind, *ids, kind, *ids)):
                linked.setdefault((kind, own_id), []).append((other_kind, other_id))
        for key, neighbours in found.items():
            neighbours += replies.get(key, [])[:2] + linked.get(key, [])[:8]
        return found

    # ---------------------------------------------------------------- results

    @staticmethod
    def _memory(candidate: _Candidate, details: dict[tuple[str, int], dict]) -> Memory:
        info = details[(candidate.kind, candidate.id)]
        return Memory(candidate.kind, candidate.id, info["text"], info["created_at"],
                      info["role"], info["speaker"], info["external_id"],
                      round(candidate.score, 4), candidate.why())

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
