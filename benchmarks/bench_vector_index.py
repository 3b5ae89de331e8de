"""Vector index candidates for memory search, measured on random unit vectors of
all-MiniLM-L6-v2's dimension (384), and the embedding ingest rate.

Candidates, each answering top-10 by cosine similarity, brute force:

- float16 (numpy): a float16 matrix, converted to float32 block by block for the dot
  products;
- float16 (torch): the same matrix through torch's float16 matrix-vector product, which
  accumulates in float32;
- float32 (numpy): the reference, twice the memory;
- int8 (numpy): rows scaled by 127 and rounded, converted block by block;
- sqlite-vec float32 / int8: a ``vec0`` virtual table in a SQLite file, loaded into APSW;
- VectorIndex: the app's own index (float16 through torch), written through the app's
  ``Database`` and read back by a fresh ``VectorIndex.load()``, searched for messages.

For each candidate and size: query latency p50/p95 over ``--queries`` queries (each a
noisy copy of a stored vector, like a question about something that was said), build time
(for VectorIndex: persisting in batches of 1,000, and loading), growth of the process's
resident memory, the bytes of the index itself, and recall@10 against exact float32.
Every measurement runs in a fresh subprocess of this script (``--worker``); with
``--repeats N`` the run with the lowest p95 of N is kept, since other work on a 2-core
machine shows up as whole scheduler time slices (multiples of about 4 ms).

``--ingest N`` instead embeds N synthetic messages with the real model through
``index_pending`` (batch 32) and reports texts per second.

    python benchmarks/bench_vector_index.py [--json] [--sizes 1000,10000,100000] [--repeats N]
    python benchmarks/bench_vector_index.py --ingest 1024 [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil

DIM = 384
K = 10
CHUNK = 4096
METHODS = ["float16-numpy", "float16-torch", "float32-numpy", "int8-numpy",
           "sqlite-vec-float32", "sqlite-vec-int8", "VectorIndex"]
NOTES = {
    "float16-numpy": "numpy has no fast float16 kernels: the block conversion dominates",
    "float16-torch": "the kernel VectorIndex uses; torch is already a dependency",
    "float32-numpy": "BLAS sgemv; twice the RAM of float16",
    "int8-numpy": "quarter of the RAM; rounding costs recall",
    "sqlite-vec-float32": "a compiled extension to ship and load; vectors stay on disk",
    "sqlite-vec-int8": "as above, with int8 rows",
    "VectorIndex": "float16 in RAM, float16 blobs in the embeddings table",
}


def unit_chunks(count: int, seed: int = 0) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, count, CHUNK):
        block = rng.standard_normal((min(CHUNK, count - start), DIM), dtype=np.float32)
        yield block / np.linalg.norm(block, axis=1, keepdims=True)


def make_queries(count: int, queries: int) -> np.ndarray:
    """Noisy copies of stored vectors: cosine about 0.7 to the vector they came from."""
    rng = np.random.default_rng(1)
    first = next(unit_chunks(count))
    picked = first[rng.integers(0, len(first), queries)]
    noisy = picked + rng.standard_normal(picked.shape, dtype=np.float32) / np.sqrt(DIM)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def exact_top(count: int, queries: np.ndarray) -> list[set[int]]:
    scores = np.concatenate([block @ queries.T for block in unit_chunks(count)])
    return [set(np.argpartition(-column, K)[:K].tolist()) for column in scores.T]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def blockwise(matrix: np.ndarray, scale: float) -> Callable[[np.ndarray], list[int]]:
    buffer = np.empty((CHUNK, DIM), dtype=np.float32)
    scores = np.empty(len(matrix), dtype=np.float32)

    def search(query: np.ndarray) -> list[int]:
        for start in range(0, len(matrix), CHUNK):
            block = buffer[:min(CHUNK, len(matrix) - start)]
            block[...] = matrix[start:start + len(block)]
            np.dot(block, query / scale, out=scores[start:start + len(block)])
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])].tolist()
    return search


def build_matrix(method: str, count: int) -> tuple[Any, Callable[[np.ndarray], list[int]], int]:
    import torch

    dtype, scale = {"float16-numpy": (np.float16, 1.0), "float16-torch": (np.float16, 1.0),
                    "float32-numpy": (np.float32, 1.0), "int8-numpy": (np.int8, 127.0)}[method]
    matrix = np.empty((count, DIM), dtype=dtype)
    for row, block in zip(range(0, count, CHUNK), unit_chunks(count), strict=True):
        matrix[row:row + len(block)] = np.rint(block * scale) if scale != 1.0 else block
    if method == "float16-torch":
        tensor = torch.from_numpy(matrix)

        def search(query: np.ndarray) -> list[int]:
            scores = torch.mv(tensor, torch.from_numpy(query.astype(np.float16))).float()
            return torch.topk(scores, K).indices.tolist()
        return matrix, search, matrix.nbytes
    if method == "float32-numpy":
        def search(query: np.ndarray) -> list[int]:
            scores = matrix @ query
            top = np.argpartition(-scores, K)[:K]
            return top[np.argsort(-scores[top])].tolist()
        return matrix, search, matrix.nbytes
    return matrix, blockwise(matrix, scale), matrix.nbytes


def build_sqlite_vec(method: str, count: int, folder: Path
                     ) -> tuple[Any, Callable[[np.ndarray], list[int]], int]:
    import apsw
    import sqlite_vec

    path = folder / "vec.db"
    path.unlink(missing_ok=True)  # from an earlier repeat
    connection = apsw.Connection(str(path))
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec.loadable_path())
    int8 = method.endswith("int8")
    column = f"{'int8' if int8 else 'float'}[{DIM}]"
    connection.execute(f"CREATE VIRTUAL TABLE v USING vec0(e {column} distance_metric=cosine)")
    value = "vec_int8(?)" if int8 else "?"
    row = 0
    for block in unit_chunks(count):
        data = np.rint(block * 127).astype(np.int8) if int8 else block
        with connection:
            connection.executemany(f"INSERT INTO v(rowid, e) VALUES (?, {value})",
                                   ((row + i + 1, data[i].tobytes()) for i in range(len(data))))
        row += len(data)
    sql = f"SELECT rowid FROM v WHERE e MATCH {value} AND k = {K} ORDER BY distance"

    def search(query: np.ndarray) -> list[int]:
        data = np.rint(query * 127).astype(np.int8) if int8 else query
        return [rowid - 1 for (rowid,) in connection.execute(sql, (data.tobytes(),))]
    return connection, search, path.stat().st_size


def database(folder: Path):
    from nexus_desktop.store.database import Database

    result = Database(folder / "nexus.db", folder / "backups")
    result.open()
    return result


def write_app_index(count: int, folder: Path) -> dict[str, Any]:
    """Persist ``count`` message vectors through VectorIndex.add, 1,000 per call."""
    from nexus_desktop.embed.vectors import VectorIndex

    db = database(folder)
    index = VectorIndex(db, "bench")
    started = time.perf_counter()
    row = 0
    for block in unit_chunks(count):
        for start in range(0, len(block), 1000):
            part = block[start:start + 1000]
            index.add("message", range(row + 1, row + len(part) + 1), part)
            row += len(part)
    seconds = time.perf_counter() - started
    db.close()
    return {"build_s": seconds, "db_mb": (folder / "nexus.db").stat().st_size / 2**20}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(psutil.cpu_count(logical=False) or 1)
    method, count, folder = spec["method"], spec["count"], Path(spec["folder"])
    if method == "VectorIndex-write":
        return write_app_index(count, folder)
    queries = make_queries(count, spec["queries"])
    truth = exact_top(count, queries)
    # Opening takes a first backup of the written file; only load() is timed.
    db = database(folder) if method == "VectorIndex" else None
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    if db is not None:
        from nexus_desktop.embed.vectors import VectorIndex

        index = VectorIndex(db, "bench")
        index.load()

        def search(query: np.ndarray) -> list[int]:
            return [item - 1 for _, item, _ in index.search(query, K, kinds=("message",))]
        size = len(index) * DIM * 2
        keep: Any = (db, index)
    elif method.startswith("sqlite-vec"):
        keep, search, size = build_sqlite_vec(method, count, folder)
    else:
        keep, search, size = build_matrix(method, count)
    built = time.perf_counter() - started
    grown = rss_mb() - before
    for query in queries[:5]:
        search(query)
    times, recall = [], []
    for query, expected in zip(queries, truth, strict=True):
        start = time.perf_counter()
        found = search(query)
        times.append((time.perf_counter() - start) * 1000)
        recall.append(len(expected & set(found)) / K)
    del keep
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
            ("load_s" if method == "VectorIndex" else "build_s"): built,
            "rss_mb": grown, "index_mb": size / 2**20, "recall_at_10": float(np.mean(recall))}


def synthetic_messages(count: int) -> list[str]:
    words = ["the", "garden", "train", "morning", "sister", "dinner", "colour", "blue",
             "holiday", "Lyon", "dentist", "Friday", "book", "music", "work", "project",
             "meeting", "coffee", "walk", "weather", "rain", "idea", "plan", "weekend",
             "friend", "call", "remember", "favourite", "city", "moved", "bought", "cooked"]
    rng = np.random.default_rng(2)
    return [" ".join(rng.choice(words, int(rng.integers(4, 60)))).capitalize() + "."
            for _ in range(count)]


def measure_ingest(count: int, batch: int) -> dict[str, Any]:
    from nexus_desktop.embed.indexer import index_pending
    from nexus_desktop.embed.model import EmbeddingModel
    from nexus_desktop.embed.vectors import VectorIndex
    from nexus_desktop.store.messages import MessageStore
    from nexus_desktop.store.sessions import persistent_session_id

    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as scratch:
        db = database(Path(scratch))
        messages = MessageStore(db)
        session = persistent_session_id(db)
        texts = synthetic_messages(count)
        for text in texts:
            messages.append(session, "user", text)
        before = rss_mb()
        started = time.perf_counter()
        model = EmbeddingModel.load(threads=psutil.cpu_count(logical=False) or 1)
        loaded = time.perf_counter() - started
        model_mb = rss_mb() - before
        model.encode(texts[:batch])
        index = VectorIndex(db, model.name)
        started = time.perf_counter()
        done = index_pending(db, model, index, batch)
        seconds = time.perf_counter() - started
        db.close()
    assert done == count, f"indexed {done} of {count}"
    return {"texts": count, "batch_size": batch, "seconds": seconds,
            "texts_per_s": count / seconds, "mean_words": float(np.mean(
                [len(text.split()) for text in texts])),
            "model_load_s": loaded, "model_rss_mb": model_mb}


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                            capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"worker {spec} failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    import apsw
    import sqlite_vec
    import torch

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": psutil.cpu_count(logical=False),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "sqlite": apsw.sqlite_lib_version(),
            "sqlite_vec": sqlite_vec.__version__}


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine()}
    if args.ingest:
        print(f"embedding {args.ingest} messages...", file=sys.stderr)
        runs = [run_worker({"method": "ingest", "count": args.ingest, "batch": args.batch})
                for _ in range(args.repeats)]
        out["ingest"] = max(runs, key=lambda run: run["texts_per_s"])
        return out
    rows = []
    for count in args.sizes:
        for method in args.methods:
            print(f"{method} at {count:,}...", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="nexus-bench-") as scratch:
                spec = {"method": method, "count": count, "queries": args.queries,
                        "folder": scratch}
                row = {"method": method, "count": count}
                if method == "VectorIndex":
                    row |= run_worker(spec | {"method": "VectorIndex-write"})
                runs = [run_worker(spec) for _ in range(args.repeats)]
                rows.append(row | min(runs, key=lambda run: run["p95_ms"]))
    out["results"] = rows
    out["machine"]["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    return out


def print_table(out: dict[str, Any]) -> None:
    print(json.dumps(out["machine"]))
    if "ingest" in out:
        print(json.dumps(out["ingest"], indent=1))
        return
    header = ("method", "n", "p50 ms", "p95 ms", "build s", "load s", "RSS MB", "index MB",
              "recall@10")
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in out["results"]:
        cells = [row["method"], f"{row['count']:,}", f"{row['p50_ms']:.2f}",
                 f"{row['p95_ms']:.2f}", _cell(row.get("build_s")), _cell(row.get("load_s")),
                 f"{row['rss_mb']:.0f}", f"{row['index_mb']:.1f}", f"{row['recall_at_10']:.3f}"]
        print("| " + " | ".join(cells) + " |")
    for method in dict.fromkeys(row["method"] for row in out["results"]):
        print(f"- {method}: {NOTES[method]}")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        type=lambda text: [int(part) for part in text.split(",")])
    parser.add_argument("--methods", default=",".join(METHODS),
                        type=lambda text: text.split(","))
    parser.add_argument("--queries", type=int, default=100, help="timed queries per run")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per measurement; the one with the lowest p95 (or the "
                             "highest ingest rate) is kept")
    parser.add_argument("--ingest", type=int, default=0, metavar="N",
                        help="measure embedding N messages instead")
    parser.add_argument("--batch", type=int, default=32, help="embedding batch size")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        result = (measure_ingest(spec["count"], spec["batch"]) if spec["method"] == "ingest"
                  else measure(spec))
        print(json.dumps(result))
        return
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
