"""Recall and speed of Nexus Desktop's memory retrieval.

**Recall** (the default): the synthetic conversation in ``retrieval_data/`` (35 sessions
over eight months of 2026, written by hand; ``build_dataset.py`` there) is imported into
a fresh database through the app's own importer, embedded with the bundled
all-MiniLM-L6-v2 through the app's indexer, and each of its questions is put to
``Retriever.search`` in three modes: hybrid, BM25 only and vectors only. For each mode,
question type and k in (5, 10): recall@k (the share of a question's evidence messages
among the first k results, averaged over questions) and all@k (the share of questions
with all of their evidence in the first k). The whole conversation is in the database;
a question's ``now`` is only passed to the retriever, as the time it is asked.

**Scale** (``--scale``): the same questions against databases of 1k, 10k and 100k
messages (``--sizes``): the conversation plus filler, namely its messages with names,
places and numbers swapped and template sentences about everyday life, spread over
2019-2026, imported through the app's importer. Embedding 100k texts with the real model
would take most of an hour on two cores, so the filler's vectors are the real model's
vectors of the texts they were made from (a pool of ~600, embedded once) plus Gaussian
noise (sigma 0.025 per dimension, cosine ~0.9 to the original), normalised again; the
conversation itself keeps its real vectors. Vector search is a brute-force scan, so its
cost does not depend on what the vectors hold. Reported per size: search latency p50/p95
per mode, end to end (the query embedded by the real model) and with the query vector
already computed; the database file size and size per 10k messages; the time to load the
vector index and the growth of the process's resident memory when it loads. And the
ingest rate: ``--ingest`` messages imported and then embedded with the real model.

    python benchmarks/bench_retrieval.py [--json] [--misses]
    python benchmarks/bench_retrieval.py --scale [--sizes 1000,10000,100000] [--json]

``--json`` prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import psutil

from nexus_desktop.config import Settings
from nexus_desktop.embed.indexer import index_pending
from nexus_desktop.embed.model import EmbeddingModel
from nexus_desktop.embed.vectors import VectorIndex
from nexus_desktop.memory.importer import import_jsonl
from nexus_desktop.memory.retrieval import Retriever
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.paths import HOME_ENV, AppPaths, app_paths
from nexus_desktop.store.database import Database

DATA = Path(__file__).resolve().parent / "retrieval_data"
MODES = ("hybrid", "bm25", "vector")
TYPES = ("single-hop", "multi-hop", "temporal")
KS = (5, 10)
DEFAULT_SIZES = (1_000, 10_000, 100_000)
NOISE_SIGMA = 0.025
FILLER_POOL = 300
# Filler dates: before, during and after the conversation's eight months.
FILLER_START = datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC).timestamp()
FILLER_END = datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC).timestamp()


@dataclass(frozen=True)
class Question:
    q: str
    type: str
    evidence: tuple[str, ...]
    now: float


@dataclass
class Store:
    """A fresh user home with the conversation imported and embedded."""

    database: Database
    index: VectorIndex
    settings: Settings
    import_s: float
    embed_s: float
    messages: int

    def retriever(self, embed_query: Callable[[str], np.ndarray]) -> Retriever:
        return Retriever(self.database, self.index, embed_query, self.settings)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def load_questions(path: Path = DATA / "questions.jsonl") -> list[Question]:
    return [Question(row["q"], row["type"], tuple(row["evidence"]),
                     datetime.datetime.fromisoformat(row["now"]).timestamp())
            for row in read_jsonl(path)]


def home_paths(folder: Path) -> AppPaths:
    """The app's folders under ``folder``, as NEXUS_HOME makes them."""
    os.environ[HOME_ENV] = str(folder)
    paths = app_paths()
    paths.ensure()
    return paths


def open_store(paths: AppPaths, conversation: Path, model: EmbeddingModel,
               embed: bool = True) -> Store:
    """Import ``conversation`` into a new database and (unless not ``embed``) embed it."""
    settings = Settings(paths.user_config)
    database = Database(paths.database, paths.backups_dir)
    database.open()
    session = PersistentSession(database)
    started = time.perf_counter()
    report = import_jsonl(session, conversation)
    import_s = time.perf_counter() - started
    if report.bad_lines:
        raise SystemExit(f"{conversation}: lines refused by the importer: {report.bad_lines}")
    index = VectorIndex(database, model.name)
    started = time.perf_counter()
    if embed:
        index_pending(database, model, index, settings.get("embedding.batch_size"))
    embed_s = time.perf_counter() - started
    return Store(database, index, settings, import_s, embed_s, report.imported)


# --------------------------------------------------------------------------- recall


def question_results(store: Store, model: EmbeddingModel, questions: Sequence[Question],
                     modes: Sequence[str] = MODES) -> list[dict[str, Any]]:
    """Per question: the external ids each mode returns, best first (k = max(KS))."""
    retriever = store.retriever(lambda text: model.encode([text])[0])
    rows = []
    for question in questions:
        found = {}
        for mode in modes:
            memories = retriever.search(question.q, k=max(KS), mode=mode, now=question.now,
                                        touch=False)
            found[mode] = [memory.external_id for memory in memories]
        rows.append({"q": question.q, "type": question.type,
                     "evidence": list(question.evidence), "found": found})
    return rows


def recall_table(rows: Sequence[dict[str, Any]], modes: Sequence[str] = MODES
                 ) -> dict[str, dict[str, dict[str, float]]]:
    """mode -> question type (and "all") -> recall@k, all@k and the question count."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        table[mode] = {}
        for group in (*TYPES, "all"):
            chosen = [row for row in rows if group in ("all", row["type"])]
            if not chosen:
                continue
            cell: dict[str, float] = {"questions": len(chosen)}
            for k in KS:
                shares = [len(set(row["evidence"]) & set(row["found"][mode][:k]))
                          / len(row["evidence"]) for row in chosen]
                cell[f"recall@{k}"] = round(statistics.fmean(shares), 4)
                cell[f"all@{k}"] = round(statistics.fmean(s == 1.0 for s in shares), 4)
            table[mode][group] = cell
    return table


def evaluate(paths: AppPaths, model: EmbeddingModel,
             conversation: Path = DATA / "conversation.jsonl",
             questions_file: Path = DATA / "questions.jsonl") -> dict[str, Any]:
    """Import, embed and ask every question in every mode; close the database after."""
    questions = load_questions(questions_file)
    store = open_store(paths, conversation, model)
    known = {row[0] for row in store.database.connection().execute(
        "SELECT external_id FROM messages WHERE external_id IS NOT NULL")}
    unknown = sorted({e for q in questions for e in q.evidence} - known)
    if unknown:
        raise SystemExit(f"evidence ids missing from the conversation: {unknown}")
    try:
        rows = question_results(store, model, questions)
    finally:
        store.database.close()
    return {"messages": store.messages, "questions": len(questions),
            "import_s": round(store.import_s, 3), "embed_s": round(store.embed_s, 3),
            "recall": recall_table(rows), "per_question": rows}


def misses(rows: Sequence[dict[str, Any]], mode: str, k: int) -> list[dict[str, Any]]:
    """Questions whose evidence ``mode`` does not all find in its first ``k``."""
    return [{"q": row["q"], "type": row["type"], "evidence": row["evidence"],
             "missing": sorted(set(row["evidence"]) - set(row["found"][mode][:k])),
             "found": row["found"][mode][:k]}
            for row in rows if not set(row["evidence"]) <= set(row["found"][mode][:k])]


# --------------------------------------------------------------------------- filler

# Words of the conversation that the filler swaps for others, so that its copies do not
# all say the same thing about the same people.
SWAPS = {
    "name": ["Maya", "Tomás", "Ines", "Biscuit", "Gerald", "Jonah", "Priya", "Aisha", "Ben",
             "Henk", "Gwen", "Hannah", "Marek", "Francesca", "Ruth", "Lucía", "Alan",
             "Okafor", "Halvorsen"],
    "place": ["Lisbon", "Rotterdam", "Leeds", "Cornwall", "St Ives", "Bristol",
              "Pembrokeshire", "Bologna", "Sintra", "Exeter", "Madrid", "Japan", "Valencia",
              "Alfama", "Porto"],
}
REPLACEMENTS = {
    "name": ["Sofia", "Daniel", "Amara", "Oscar", "Leila", "Finn", "Noor", "Rafael", "Elsie",
             "Kwame", "Greta", "Idris", "Mila", "Theo", "Zara", "Pavel", "Rosa", "Callum",
             "Yusuf", "Hattie", "Bruno", "Imogen", "Kofi", "Astrid"],
    "place": ["Glasgow", "Seville", "Ghent", "Norwich", "Bruges", "Cardiff", "Lyon",
              "Galway", "Krakow", "York", "Bath", "Annecy", "Ljubljana", "Malaga", "Oban",
              "Dorset", "Aberdeen", "Turin", "Munich", "Tallinn"],
}
_SWAP = {kind: re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b")
         for kind, words in SWAPS.items()}
_DIGIT = re.compile(r"\d")

TEMPLATES = [
    ("user", "Spent the {part} {chore}. {feeling}"),
    ("user", "{name} and I {activity} {when}. {feeling}"),
    ("user", "Do you have a good recipe for {dish}? I have {ingredient} to use up."),
    ("user", "Work was {work_adj} today: {work_event}."),
    ("user", "Remind me to {todo} {future}."),
    ("user", "{name} called from {place}, {news}."),
    ("assistant", "That sounds {adj}. {advice}"),
    ("assistant", "For {dish}, {tip}."),
    ("assistant", "Noted: {todo} {future}."),
]
WORDS = {
    "part": ["morning", "afternoon", "evening", "whole weekend", "lunch break"],
    "chore": ["clearing out the garage", "sorting the loft", "weeding the front garden",
              "painting the hallway", "fixing the shed door", "doing the tax return",
              "washing the car", "batch cooking for the week", "ironing a mountain of shirts",
              "assembling a wardrobe"],
    "feeling": ["I'm exhausted.", "Weirdly satisfying.", "Never again.", "Worth it in the end.",
                "My back hurts.", "It rained the whole time, of course.", "Good to tick it off."],
    "name": REPLACEMENTS["name"],
    "activity": ["went to a pub quiz", "watched a film at the Watershed", "walked the harbour",
                 "went to a gig", "played tennis", "went to the farmers' market",
                 "tried the new ramen place", "visited the museum", "went wild swimming",
                 "cycled along the railway path"],
    "when": ["last night", "on Saturday", "this morning", "after work", "on Sunday afternoon"],
    "dish": ["a vegetable lasagne", "chicken pie", "a lemon tart", "fish tacos", "minestrone",
             "a chickpea curry", "pork dumplings", "an apple cake", "tortilla", "onion soup"],
    "ingredient": ["a bag of spinach", "half a pumpkin", "lots of courgettes", "some leeks",
                   "two aubergines", "a tub of ricotta", "some chorizo", "a big bag of apples"],
    "work_adj": ["exhausting", "quiet", "chaotic", "surprisingly fun", "long", "productive"],
    "work_event": ["three meetings back to back", "the printer broke again",
                   "we shipped the release", "a client called four times",
                   "the team lunch ran late", "the quarterly review went fine",
                   "the wifi was down all morning", "I finally cleared my inbox"],
    "todo": ["call the bank", "renew the passports", "book a haircut", "pay the window cleaner",
             "order new contact lenses", "return the library books", "water the plants",
             "send the birthday card", "check the tyre pressure", "buy more bin bags"],
    "future": ["tomorrow", "on Friday", "next week", "at the weekend", "before the end of "
               "the month"],
    "place": REPLACEMENTS["place"],
    "news": ["the flight was delayed", "the new flat is lovely", "the job interview went well",
             "the weather is awful", "they've adopted a kitten", "the conference was boring",
             "the wedding is off", "the baby arrived early"],
    "adj": ["lovely", "tiring", "like a good day", "stressful", "fun", "like a lot of work"],
    "advice": ["Make sure you get some rest tonight.", "A walk outside might help.",
               "Write down what worked for next time.", "Don't be too hard on yourself.",
               "Maybe plan something easy for tomorrow.", "It's worth celebrating."],
    "tip": ["roast the vegetables first for more flavour", "don't overwork the pastry",
            "season in layers as you go", "let it rest before slicing",
            "use a wide pan so it reduces faster", "add the herbs at the very end"],
}


def filler_pool(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """``count`` distinct (role, text) everyday sentences from the templates."""
    rng = random.Random(seed)
    pool: dict[str, str] = {}
    while len(pool) < count:
        role, template = rng.choice(TEMPLATES)
        text = re.sub(r"\{(\w+)\}", lambda m: rng.choice(WORDS[m.group(1)]), template)
        pool.setdefault(text, role)
    return [(role, text) for text, role in pool.items()]


def varied(text: str, rng: random.Random) -> str:
    """``text`` with its people, places and digits swapped."""
    for kind, pattern in _SWAP.items():
        text = pattern.sub(lambda _m, kind=kind: rng.choice(REPLACEMENTS[kind]), text)
    return _DIGIT.sub(lambda _m: str(rng.randrange(10)), text)


def filler_rows(count: int, sources: Sequence[tuple[str, str]], seed: int = 11
                ) -> Iterator[tuple[dict[str, str], int]]:
    """``count`` filler messages in time order, each with the index of its source text."""
    rng = random.Random(seed)
    times = sorted(rng.uniform(FILLER_START, FILLER_END) for _ in range(count))
    for number, stamp in enumerate(times, start=1):
        source = rng.randrange(len(sources))
        role, text = sources[source]
        moment = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
        yield {"id": f"f{number:06d}", "role": role, "t": moment.isoformat(timespec="seconds"),
               "text": varied(text, rng)}, source


def noisy(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near ``vectors``: Gaussian noise of NOISE_SIGMA, normalised again."""
    moved = vectors + rng.normal(0.0, NOISE_SIGMA, vectors.shape).astype(np.float32)
    return moved / np.linalg.norm(moved, axis=1, keepdims=True)


# --------------------------------------------------------------------------- scale


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95)}


def build_scaled(paths: AppPaths, size: int, model: EmbeddingModel,
                 sources: Sequence[tuple[str, str]], source_vectors: np.ndarray,
                 scratch: Path) -> tuple[Store, dict[str, Any]]:
    """The conversation (real vectors) plus filler (noisy vectors) up to ``size``."""
    conversation = read_jsonl(DATA / "conversation.jsonl")
    filler = list(filler_rows(max(0, size - len(conversation)), sources))
    file = scratch / f"scaled-{size}.jsonl"
    with file.open("w", encoding="utf-8") as handle:
        for row in [*conversation, *(row for row, _ in filler)]:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    store = open_store(paths, file, model, embed=False)
    ids = dict(store.database.connection().execute(
        "SELECT external_id, id FROM messages WHERE external_id IS NOT NULL"))
    started = time.perf_counter()
    index = store.index
    # The sources begin with the conversation's own texts, in order: its real vectors.
    index.add("message", [ids[row["id"]] for row in conversation],
              source_vectors[:len(conversation)])
    rng = np.random.default_rng(3)
    for start in range(0, len(filler), 10_000):
        chunk = filler[start:start + 10_000]
        vectors = noisy(source_vectors[[source for _, source in chunk]], rng)
        index.add("message", [ids[row["id"]] for row, _ in chunk], vectors)
    vectors_s = time.perf_counter() - started
    store.database.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    size_bytes = sum(path.stat().st_size for path in paths.data_dir.glob("nexus.db*"))
    facts = {"messages": store.messages, "import_s": round(store.import_s, 2),
             "store_vectors_s": round(vectors_s, 2),
             "db_mb": round(size_bytes / 2**20, 2),
             "db_mb_per_10k": round(size_bytes / 2**20 / store.messages * 10_000, 2),
             "db_mb_per_10k_by_part": space_by_part(store.database, store.messages),
             **index_memory(paths.database, model.name)}
    # The searches use an index loaded from the database, as the app does at start-up.
    store.index = VectorIndex(store.database, model.name)
    del index
    gc.collect()
    store.index.load()
    return store, facts


def space_by_part(database: Database, messages: int) -> dict[str, float]:
    """MB per 10k messages taken by the vectors, the messages with their indexes, and
    the full-text index (from SQLite's dbstat table, when this SQLite has it)."""
    try:
        rows = database.connection().execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except apsw.SQLError:
        return {}

    def part(name: str) -> str:
        if "fts" in name:
            return "full-text"
        if name.startswith(("embeddings", "messages")):
            return name.split("_")[0]
        return "other"

    taken: dict[str, int] = {}
    for name, size in rows:
        taken[part(name)] = taken.get(part(name), 0) + size
    return {key: round(size / 2**20 / messages * 10_000, 2) for key, size in sorted(taken.items())}


def index_memory(database: Path, model_name: str) -> dict[str, Any]:
    """Load time and resident memory of the vector index, in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--index-memory", str(database),
                           model_name], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def index_memory_worker(database_path: Path, model_name: str) -> dict[str, Any]:
    """Resident memory before and after ``VectorIndex.load`` of an existing database."""
    # Not Database.open(): that would back the file up first. Reading needs no more.
    database = Database(database_path, database_path.parent / "backups")
    index = VectorIndex(database, model_name)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    count = index.load()
    load_s = time.perf_counter() - started
    grown = rss_mb() - before
    database.close()
    return {"index_vectors": count, "index_load_s": round(load_s, 3),
            "index_rss_mb": round(grown, 1)}


def latencies(store: Store, model: EmbeddingModel, questions: Sequence[Question],
              repeats: int) -> dict[str, dict[str, float]]:
    """p50/p95 over the questions per mode, with the query embedded, then with its vector
    cached. Each question runs ``repeats`` times and keeps its fastest time, so that a
    moment when another process had the CPU does not count as the search's own cost."""
    cache: dict[str, np.ndarray] = {}

    def embed(text: str) -> np.ndarray:
        vector = model.encode([text])[0]
        cache[text] = vector
        return vector

    def cached(text: str) -> np.ndarray:
        return cache[text] if text in cache else embed(text)

    out: dict[str, dict[str, float]] = {}
    for label, embed_query in (("", embed), (" cached", cached)):
        retriever = store.retriever(embed_query)
        for question in questions[:10]:  # warm the caches of SQLite and torch
            retriever.search(question.q, k=10, mode="hybrid", now=question.now, touch=False)
        for mode in MODES:
            if label and mode == "bm25":
                continue
            samples = []
            for question in questions:
                runs = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    retriever.search(question.q, k=10, mode=mode, now=question.now,
                                     touch=False)
                    runs.append(time.perf_counter() - started)
                samples.append(min(runs))
            out[mode + label] = percentiles(samples)
    return out


def ingest_rate(paths: AppPaths, model: EmbeddingModel, count: int,
                sources: Sequence[tuple[str, str]], scratch: Path) -> dict[str, Any]:
    """Import ``count`` filler messages, then embed them all with the real model."""
    file = scratch / "ingest.jsonl"
    with file.open("w", encoding="utf-8") as handle:
        for row, _ in filler_rows(count, sources, seed=5):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    store = open_store(paths, file, model)
    store.database.close()
    total = store.import_s + store.embed_s
    return {"messages": store.messages, "import_s": round(store.import_s, 2),
            "embed_s": round(store.embed_s, 2),
            "import_per_s": round(store.messages / store.import_s),
            "embed_per_s": round(store.messages / store.embed_s, 1),
            "total_per_s": round(store.messages / total, 1),
            "batch_size": store.settings.get("embedding.batch_size")}


def scale(model: EmbeddingModel, sizes: Sequence[int], ingest: int, repeats: int,
          scratch: Path) -> dict[str, Any]:
    questions = load_questions()
    base = [(row["role"], row["text"]) for row in read_jsonl(DATA / "conversation.jsonl")]
    sources = [*base, *filler_pool(FILLER_POOL)]
    progress(f"embedding {len(sources)} source texts for the filler...")
    source_vectors = model.encode([text for _, text in sources])
    out: dict[str, Any] = {"sizes": []}
    if ingest:
        progress(f"ingest: importing and embedding {ingest:,} messages...")
        out["ingest"] = ingest_rate(home_paths(scratch / "ingest"), model, ingest, sources,
                                    scratch)
    for size in sizes:
        progress(f"building {size:,} messages...")
        paths = home_paths(scratch / f"home-{size}")
        store, facts = build_scaled(paths, size, model, sources, source_vectors, scratch)
        progress(f"timing {len(questions)} questions per mode at {size:,}...")
        facts["latency"] = latencies(store, model, questions, repeats)
        store.database.close()
        out["sizes"].append(facts)
    return out


# --------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    load = [round(value, 2) for value in os.getloadavg()] if hasattr(os, "getloadavg") \
        else None
    return {"cpu": cpu, "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
            "torch_threads": torch.get_num_threads(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": load, "os": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "sqlite": apsw.sqlite_lib_version()}


def print_recall(result: dict[str, Any]) -> None:
    print(f"Recall over {result['questions']} questions, {result['messages']} messages "
          f"(import {result['import_s']} s, embedding {result['embed_s']} s)\n")
    print(f"| mode | questions | n | {' | '.join(f'recall@{k} | all@{k}' for k in KS)} |")
    print("| --- | --- | ---: |" + " ---: |" * (2 * len(KS)))
    for mode, groups in result["recall"].items():
        for group, cell in groups.items():
            values = " | ".join(f"{cell[f'recall@{k}']:.3f} | {cell[f'all@{k}']:.3f}"
                                for k in KS)
            print(f"| {mode} | {group} | {cell['questions']:.0f} | {values} |")


def print_misses(rows: Sequence[dict[str, Any]]) -> None:
    for mode in MODES:
        missed = misses(rows, mode, max(KS))
        print(f"\n{mode}: {len(missed)} questions without all evidence in the top "
              f"{max(KS)}")
        for row in missed:
            print(f"  [{row['type']}] {row['q']}  missing {row['missing']}")


def print_scale(result: dict[str, Any]) -> None:
    if "ingest" in result:
        ingest = result["ingest"]
        print(f"\nIngest: {ingest['messages']:,} messages, import {ingest['import_per_s']:,}"
              f"/s, embedding {ingest['embed_per_s']}/s (batch {ingest['batch_size']}), "
              f"import + embedding {ingest['total_per_s']}/s")
    if not result["sizes"]:
        return
    labels = list(result["sizes"][0]["latency"])
    print("\n| messages | " + " | ".join(f"{label} p50 / p95 ms" for label in labels)
          + " | DB MB | MB per 10k | index load s | index RSS MB |")
    print("| ---: |" + " ---: |" * (len(labels) + 4))
    for facts in result["sizes"]:
        cells = " | ".join(f"{facts['latency'][label]['p50_ms']} / "
                           f"{facts['latency'][label]['p95_ms']}" for label in labels)
        print(f"| {facts['messages']:,} | {cells} | {facts['db_mb']} | "
              f"{facts['db_mb_per_10k']} | {facts['index_load_s']} | "
              f"{facts['index_rss_mb']} |")
    for facts in result["sizes"]:
        parts = ", ".join(f"{name} {mb}" for name, mb in facts["db_mb_per_10k_by_part"].items())
        print(f"\nMB per 10k messages at {facts['messages']:,}: {parts or 'no dbstat'}", end="")
    print()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--misses", action="store_true",
                        help="list the questions each mode misses at k=10")
    parser.add_argument("--scale", action="store_true",
                        help="also measure latency, size and RAM on larger databases")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        type=lambda text: [int(part) for part in text.split(",") if part],
                        help="database sizes in messages for --scale (default %(default)s)")
    parser.add_argument("--ingest", type=int, default=2000,
                        help="messages to import and embed for the ingest rate with --scale "
                             "(0 skips it; default %(default)s)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each question per mode; the fastest counts "
                             "(default %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice)")
    parser.add_argument("--index-memory", nargs=2, metavar=("DATABASE", "MODEL"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.index_memory:
        print(json.dumps(index_memory_worker(Path(args.index_memory[0]),
                                             args.index_memory[1])))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    model = EmbeddingModel.load(threads=args.threads)
    out: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-retrieval-") as folder:
        scratch = Path(folder)
        progress("recall: importing, embedding and asking every question...")
        out["recall"] = evaluate(home_paths(scratch / "recall"), model)
        if args.scale:
            out["scale"] = scale(model, args.sizes, args.ingest, args.repeats, scratch)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    print_recall(out["recall"])
    if args.misses:
        print_misses(out["recall"]["per_question"])
    if args.scale:
        print_scale(out["scale"])
    print(f"\n{out['machine']['cpu']}, {out['machine']['logical_cores']} logical cores, "
          f"torch threads {out['machine']['torch_threads']}; {out['wall_s']} s in all")


if __name__ == "__main__":
    main()
