"""Time to first token with and without reusing the last prompt's keys and values.

Two identical conversations (a long history of everyday turns, so the prompt is about
1,500 tokens) each get the same follow-up messages through the app's own engine with
the real bundled model: one with `generation.reuse_prefix` off, one with it on. Printed:
the time to the first token of each turn, how many prompt tokens came from the cache,
and the ratio of the medians.

    python benchmarks/bench_prefix_reuse.py [--turns N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HISTORY = [
    ("I repotted the basil and the tomatoes on the balcony this morning; the lower "
     "tomato leaves are turning yellow.",
     "Yellow lower leaves usually mean uneven watering or too little nitrogen. Water "
     "deeply in the morning and feed them every two weeks."),
    ("My sister visits tomorrow and she does not eat meat. Quick dinner ideas?",
     "A pesto pasta with cherry tomatoes and a green salad is ready in twenty-five "
     "minutes."),
    ("Work was hectic, the quarterly report is due on Friday and the numbers are late.",
     "Block two hours tomorrow morning for the report and ask for the numbers today."),
    ("I went running by the river before breakfast, eight kilometres.",
     "Eight kilometres before breakfast is a great start. Remember to stretch."),
]
FOLLOW_UPS = [
    "What should I plant next to the tomatoes?",
    "Any dessert idea for my sister?",
    "How do I stay focused on the report?",
    "How often should I run each week?",
    "Can you suggest a stretching routine?",
    "What else grows well on a balcony?",
]


def build_history(home: Path, turns: int) -> None:
    from nexus_desktop.paths import app_paths
    from nexus_desktop.store.connection import write_transaction
    from nexus_desktop.store.database import Database

    paths = app_paths()
    paths.ensure()
    database = Database(paths.database, paths.backups_dir)
    database.open()
    try:
        now = time.time() - turns * 120
        with write_transaction(database.connection()) as connection:
            connection.execute("INSERT INTO sessions(uid, created_at) VALUES ('bench', ?)",
                               (now,))
            for i in range(turns):
                question, answer = HISTORY[i % len(HISTORY)]
                at = now + i * 120
                connection.execute(
                    "INSERT INTO messages(session_id, role, content, created_at, completed_at)"
                    " VALUES (1, 'user', ?, ?, ?)", (question, at, at))
                connection.execute(
                    "INSERT INTO messages(session_id, role, content, source, created_at, "
                    "completed_at) VALUES (1, 'assistant', ?, 'model', ?, ?)",
                    (answer, at + 1, at + 1))
    finally:
        database.close()


def run_conversation(reuse: bool, turns: int, args: argparse.Namespace,
                     models_dir: Path) -> dict[str, Any]:
    from nexus_desktop.config import Settings
    from nexus_desktop.engine import Engine, TurnResult
    from nexus_desktop.paths import app_paths

    home = Path(tempfile.mkdtemp(prefix="nexus-prefix-"))
    os.environ["NEXUS_HOME"] = str(home)
    (home / "data").mkdir(parents=True)
    (home / "data" / "models").symlink_to(models_dir, target_is_directory=True)
    build_history(home, args.history_turns)
    paths = app_paths()
    settings = Settings(paths.user_config)
    settings.set("model.dtype", args.dtype)
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", args.reply_tokens)
    settings.set("generation.reuse_prefix", reuse)
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        model = engine.load_model()
        rows = []
        for text in FOLLOW_UPS[:turns]:
            result = next(e for e in engine.turn(text) if isinstance(e, TurnResult))
            rows.append({"ttft_ms": result.ttft_ms, "prompt_tokens": result.prompt_tokens,
                         "reused_tokens": model.prefix.reused_tokens if reuse else 0})
    finally:
        engine.close()
    # The first turn of each run fills the cache: the steady state starts after it.
    steady = [r["ttft_ms"] for r in rows[1:]]
    return {"turns": rows, "median_ttft_ms": statistics.median(steady)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=6, help="follow-up turns (2 to 6)")
    parser.add_argument("--history-turns", type=int, default=40,
                        help="earlier exchanges in the conversation (default 40)")
    parser.add_argument("--reply-tokens", type=int, default=24)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    turns = max(2, min(args.turns, len(FOLLOW_UPS)))

    from nexus_desktop.llm import gguf_cache
    from nexus_desktop.llm.source import bundled_gguf

    models_dir = Path(tempfile.mkdtemp(prefix="nexus-prefix-models-"))
    print("converting the bundled model once ...", file=sys.stderr)
    gguf_cache.converted_model(bundled_gguf(), models_dir)
    without = run_conversation(False, turns, args, models_dir)
    with_reuse = run_conversation(True, turns, args, models_dir)
    out = {
        "dtype": args.dtype, "history_turns": args.history_turns,
        "without_reuse": without, "with_reuse": with_reuse,
        "ratio_with_over_without": round(with_reuse["median_ttft_ms"]
                                         / without["median_ttft_ms"], 3),
        "threads": __import__("torch").get_num_threads(),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"time to first token, {args.dtype}, {out['threads']} threads, history of "
          f"{args.history_turns} exchanges")
    print("turn  prompt tokens  without reuse  with reuse  tokens from cache")
    for i, (a, b) in enumerate(zip(without["turns"], with_reuse["turns"], strict=True), 1):
        print(f"{i:>4}  {b['prompt_tokens']:>13}  {a['ttft_ms']:>10.0f} ms  "
              f"{b['ttft_ms']:>7.0f} ms  {b['reused_tokens']:>17}")
    print(f"median after the first turn: {without['median_ttft_ms']:.0f} ms without, "
          f"{with_reuse['median_ttft_ms']:.0f} ms with reuse; ratio "
          f"{out['ratio_with_over_without']:.2f}")


if __name__ == "__main__":
    main()
