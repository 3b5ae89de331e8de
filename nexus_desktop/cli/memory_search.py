"""`nexus-desktop memory search`: hybrid recall over the whole conversation, for people
and for evaluations (`--queries FILE` answers many queries in one process).

Messages that have no vector yet (just imported, say) are embedded first, with progress
on stderr; their vectors are kept, so that happens once.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError
from nexus_desktop.memory.retrieval import MODES, Memory, Retriever
from nexus_desktop.store.archive import originals
from nexus_desktop.store.database import Database

if TYPE_CHECKING:
    from nexus_desktop.embed.vectors import VectorIndex


def add_arguments(search: argparse.ArgumentParser) -> None:
    search.add_argument("query", nargs="?", help="what to look for")
    search.add_argument("--queries", type=Path, metavar="FILE",
                        help="one query per line; prints one JSON list per line")
    search.add_argument("--k", type=int, default=10, help="how many results (default 10)")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    search.add_argument("--mode", choices=MODES, default="hybrid",
                        help="hybrid (the default), bm25 (keywords only) or vector (meaning only)")


def search(args: argparse.Namespace, database: Database, settings: Settings,
           out: TextIO, err: TextIO = sys.stderr) -> int:
    if (args.query is None) == (args.queries is None):
        raise InputError("Give either a query or --queries FILE (not both).")
    if not 1 <= args.k <= 1000:
        raise InputError(f"--k must be between 1 and 1000, not {args.k}.")
    queries = [args.query] if args.query is not None else _read_queries(args.queries)
    # torch comes with these: imported only when a search really runs.
    from nexus_desktop.embed.model import BUNDLED_NAME
    from nexus_desktop.embed.shared import shared_embedding_model
    from nexus_desktop.embed.vectors import VectorIndex

    index = VectorIndex(database, BUNDLED_NAME)
    index.load()
    _index_pending(database, index, settings.get("embedding.batch_size"), err)
    model = shared_embedding_model() if args.mode != "bm25" else None
    embed = (lambda text: model.encode([text])[0]) if model is not None else None
    retriever = Retriever(database, index, embed, settings)
    for query in queries:
        # Looking something up is not using it: counts and recency stay as they were.
        found = retriever.search(query, args.k, args.mode, touch=False) if query.strip() else []
        results = _results(database, found)
        if args.json or args.queries is not None:
            out.write(json.dumps(results, ensure_ascii=False) + "\n")
        else:
            _print(results, query, out)
    return 0


def _read_queries(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the queries file {path}: {exc}. Give a UTF-8 text file "
                         "with one query per line.") from None


def _index_pending(database: Database, index: VectorIndex, batch: int, err: TextIO) -> None:
    from nexus_desktop.embed.indexer import index_batch, pending_items
    from nexus_desktop.embed.shared import shared_embedding_model

    if not pending_items(database, index.model_name, 1):
        return
    err.write("Indexing new messages for search (once) ...\n")
    model = shared_embedding_model()
    done = 0
    while indexed := index_batch(database, model, index, batch):
        done += indexed
        if done % (batch * 20) < indexed:
            err.write(f"  {done:,} indexed\n")
            err.flush()
    err.write(f"  {done:,} indexed, done.\n")


def _results(database: Database, found: list[Memory]) -> list[dict[str, object]]:
    full = originals(database.connection(), [m.id for m in found])
    return [{
        "id": memory.id,
        "external_id": memory.external_id,
        "role": memory.role,
        "speaker": memory.speaker,
        "text": full.get(memory.id, memory.text),
        "created_at": datetime.fromtimestamp(memory.created_at).astimezone()
                      .isoformat(timespec="seconds"),
        "score": memory.score,
    } for memory in found]


def _print(results: list[dict[str, object]], query: str, out: TextIO) -> None:
    if not results:
        out.write(f"Nothing found for {query!r}.\n")
        return
    for result in results:
        text = " ".join(str(result["text"]).split())
        if len(text) > 160:
            text = text[:157] + "..."
        who = result["speaker"] or result["role"]
        out.write(f"#{result['id']} {str(result['created_at'])[:16]} {who} "
                  f"({result['score']:.3f}): {text}\n")
