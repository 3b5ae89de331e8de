"""The skill library: how much faster a replayed repeat is, and how rarely it replays wrongly.

Both parts run the app's own engine (``Engine.turn``) with the real bundled model
(SmolLM2-135M-Instruct) and the real embedding model (all-MiniLM-L6-v2), each in a fresh
``NEXUS_HOME``, with the app's default settings unless said otherwise. The requests are in
``skill_requests.json``.

**Latency.** Each task-like request is asked fresh (the model answers; default
``generation.max_new_tokens``, temperature and prefix reuse), then accepted: every other
one by the next message ("Thanks!"), the others by a thumbs up. Then it is asked again with
a harmless change (case, punctuation, "please"), which must be replayed from the skill
library, and once more word for word with ``skills.enabled`` off: what the user would wait
without the library. Latencies are ``TurnResult.latency_ms`` (the turn after its message is
saved), plus the wall time of the whole ``Engine.turn`` call. The models are warmed up
(loaded, and one untimed turn) before anything is timed.

**False replays.** For each pair of similar-but-different requests (swapped units, other
numbers, languages, texts, tones, names, negations...), the first is kept as a skill rated
good (through ``SkillLibrary.record`` on messages added to the conversation; its reply text
plays no part in matching) and the second is asked through ``Engine.turn``: a reply with
source "skill" is a false replay. The match is made before the model starts, so a reply the
model writes is stopped at its first piece, as the user's Stop would, and its prompt is held
to 512 tokens (``generation.context_tokens``): only whether the turn replays matters here.
Then every kept request is asked again with a harmless change: each should be replayed from
its own skill.

    python benchmarks/bench_skills.py [--requests N] [--pairs N] [--no-peer] [--json]

The latency part asks the first 12 of the 20 requests unless told otherwise (each costs two
full replies from the model); ``--requests 4 --pairs 20`` is a quick run. ``--json`` prints
one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psutil

if TYPE_CHECKING:
    from nexus_desktop.engine import Engine, TurnResult

DATA = Path(__file__).resolve().parent / "skill_requests.json"
# The message that accepts a reply in the latency part (a thumbs up accepts the others).
THANKS = "Thanks!"
# The false-replay part's prompts: matching happens before the prompt is built.
PAIR_CONTEXT_TOKENS = 512
WARM_UP_MESSAGE = "Hello!"


def _strip_end(text: str) -> str:
    return text.rstrip(" .!?")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# Harmless changes to a request: it asks for the same thing, so it must be replayed.
VARIANTS: list[tuple[str, Callable[[str], str]]] = [
    ("please first", lambda t: "Please " + _lower_first(t)),
    ("please last", lambda t: _strip_end(t) + ", please"),
    ("could you", lambda t: "Could you " + _lower_first(_strip_end(t)) + "?"),
    ("lower case, no full stop", lambda t: _lower_first(_strip_end(t))),
    ("extra space and !", lambda t: _strip_end(t).replace(" ", "  ", 1) + "!"),
]


def harmless_variant(text: str, index: int) -> tuple[str, str]:
    """The ``index``-th kind of harmless change (cycling) and the changed request."""
    name, change = VARIANTS[index % len(VARIANTS)]
    changed = change(text)
    if changed == text:
        raise SystemExit(f"the variant {name!r} of {text!r} is the same text")
    return name, changed


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_requests(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The requests, checked: all are tasks the library keeps, and no request can be
    replayed from another one's skill except where a pair is meant to test exactly that."""
    from nexus_desktop.memory.skill_requests import is_task_request, refers_back, request_key

    data = json.loads(path.read_text(encoding="utf-8"))
    latency, pairs = data["latency_requests"], data["similar_pairs"]
    for text in [*latency, *(p[k] for p in pairs for k in ("kept", "asked"))]:
        if not is_task_request(text) or refers_back(text):
            raise SystemExit(f"not a request the skill library keeps: {text!r}")
    _check_distinct("latency requests", [request_key(t) for t in latency])
    kept = [request_key(p["kept"]) for p in pairs]
    asked = [request_key(p["asked"]) for p in pairs]
    _check_distinct("kept requests", kept)
    _check_distinct("asked requests", asked)
    for i, key in enumerate(asked):
        others = [j for j, k in enumerate(kept) if k == key and j != i]
        if others:
            raise SystemExit(f"{pairs[i]['asked']!r} is the request of pair {others[0] + 1}")
    return latency, pairs


def _check_distinct(what: str, keys: list[str]) -> None:
    twice = [key for key, count in Counter(keys).items() if count > 1]
    if twice:
        raise SystemExit(f"{what} repeat the same request: {twice}")


# --------------------------------------------------------------------------- engine


def open_engine(root: Path, name: str, models_dir: Path, settings: dict[str, Any]) -> Engine:
    """An engine on a fresh NEXUS_HOME sharing the converted model, both models warm."""
    from nexus_desktop.config import Settings
    from nexus_desktop.engine import Engine
    from nexus_desktop.paths import app_paths

    home = root / name
    (home / "data").mkdir(parents=True)
    (home / "data" / "models").symlink_to(models_dir, target_is_directory=True)
    os.environ["NEXUS_HOME"] = str(home)
    paths = app_paths()
    config = Settings(paths.user_config)
    for key, value in settings.items():
        config.set(key, value)
    # No index thread: it would compete with the timed turns for the CPU.
    engine = Engine(paths, config)
    engine.open(background_indexing=False)
    engine.warm_up()
    engine.indexer.embed_query(WARM_UP_MESSAGE)
    ask(engine, WARM_UP_MESSAGE)
    return engine


def ask(engine: Engine, text: str, *, first_piece_only: bool = False
        ) -> tuple[TurnResult, float]:
    """One turn through the engine; its result and the wall time of the whole call in ms.
    ``first_piece_only`` stops the reply after its first piece."""
    from nexus_desktop.engine import Piece, TurnResult
    from nexus_desktop.llm.generation import CancelToken

    cancel = CancelToken()
    started = time.perf_counter()
    result = None
    for event in engine.turn(text, cancel):
        if isinstance(event, Piece) and first_piece_only:
            cancel.cancel()
        elif isinstance(event, TurnResult):
            result = event
    wall_ms = (time.perf_counter() - started) * 1000
    if result is None:
        raise SystemExit(f"the turn for {text!r} gave no result")
    return result, wall_ms


def reply_tokens(engine: Engine, text: str) -> int:
    model = engine.loaded_model
    return len(model.tokenizer.encode(text, add_special_tokens=False)) if model else 0


# --------------------------------------------------------------------------- latency


def measure_latency(engine: Engine, requests: list[str], peer: bool) -> list[dict[str, Any]]:
    rows = []
    for i, request in enumerate(requests):
        progress(f"[latency {i + 1}/{len(requests)}] {request[:60]}")
        fresh, fresh_wall = ask(engine, request)
        accepted_by = THANKS if i % 2 == 0 else "thumbs up"
        if i % 2 == 0:
            ask(engine, THANKS)
        else:
            engine.rate_reply(fresh.reply_id, True)
        kept = engine.skills.store.by_source(fresh.reply_id) is not None
        variant, repeat = harmless_variant(request, i)
        replay, replay_wall = ask(engine, repeat)
        row: dict[str, Any] = {
            "request": request, "accepted_by": accepted_by, "kept": kept,
            "fresh_status": fresh.status, "fresh_ms": fresh.latency_ms,
            "fresh_ttft_ms": fresh.ttft_ms, "fresh_wall_ms": fresh_wall,
            "fresh_reply_tokens": reply_tokens(engine, fresh.reply),
            "fresh_prompt_tokens": fresh.prompt_tokens,
            "fresh_had_worked_example": fresh.skill_example is not None,
            "repeat": repeat, "variant": variant, "repeat_source": replay.source,
            "replay_ms": replay.latency_ms, "replay_wall_ms": replay_wall,
        }
        if peer:
            engine.settings.set("skills.enabled", False)
            try:
                without, without_wall = ask(engine, request)
            finally:
                engine.settings.set("skills.enabled", True)
            row.update(peer_status=without.status, peer_ms=without.latency_ms,
                       peer_ttft_ms=without.ttft_ms, peer_wall_ms=without_wall,
                       peer_reply_tokens=reply_tokens(engine, without.reply))
        rows.append(row)
        peer_text = (f", skills off {row['peer_ms'] / 1000:.1f} s "
                     f"({row['peer_reply_tokens']} tokens)" if peer else "")
        progress(f"  fresh {row['fresh_ms'] / 1000:.1f} s ({row['fresh_reply_tokens']} tokens), "
                 f"repeat {row['replay_ms']:.0f} ms from {row['repeat_source']}{peer_text}")
    return rows


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
            "n": len(values)}


def summarise_latency(rows: list[dict[str, Any]]) -> dict[str, Any]:
    replayed = [r for r in rows if r["repeat_source"] == "skill"]
    fresh = [r for r in rows if r["fresh_status"] == "complete"]
    peer = [r for r in rows if r.get("peer_status") == "complete"]
    out: dict[str, Any] = {
        "requests": len(rows),
        "kept": sum(r["kept"] for r in rows),
        "replayed": len(replayed),
        "not_replayed": [r["repeat"] for r in rows if r["repeat_source"] != "skill"],
        "replay_ms": _stats([r["replay_ms"] for r in replayed]),
        "replay_wall_ms": _stats([r["replay_wall_ms"] for r in replayed]),
        "fresh_ms": _stats([r["fresh_ms"] for r in fresh]),
        "fresh_ttft_ms": _stats([r["fresh_ttft_ms"] for r in fresh if r["fresh_ttft_ms"]]),
        "fresh_wall_ms": _stats([r["fresh_wall_ms"] for r in fresh]),
        "fresh_reply_tokens": _stats([r["fresh_reply_tokens"] for r in fresh]),
        "peer_ms": _stats([r["peer_ms"] for r in peer]),
        "peer_ttft_ms": _stats([r["peer_ttft_ms"] for r in peer if r["peer_ttft_ms"]]),
        "peer_wall_ms": _stats([r["peer_wall_ms"] for r in peer]),
        "peer_reply_tokens": _stats([r["peer_reply_tokens"] for r in peer]),
    }
    replay = out["replay_ms"]
    ratios: dict[str, float] = {}
    for name in ("fresh_ms", "fresh_ttft_ms", "peer_ms", "peer_ttft_ms"):
        if replay and out[name]:
            for stat in ("median", "p95"):
                ratios[f"{name}_{stat}"] = out[name][stat] / replay[stat]
    if out["replay_wall_ms"] and out["fresh_wall_ms"]:
        ratios["fresh_wall_ms_median"] = (out["fresh_wall_ms"]["median"]
                                          / out["replay_wall_ms"]["median"])
    out["speed_up"] = ratios
    return out


# --------------------------------------------------------------------------- false replays


def measure_false_replays(engine: Engine, pairs: list[dict[str, str]]) -> dict[str, Any]:
    from nexus_desktop.memory.skill_requests import request_key

    skill_of: dict[int, int] = {}
    rows = []
    for i, pair in enumerate(pairs):
        progress(f"[pair {i + 1}/{len(pairs)}] {pair['asked'][:60]}")
        asked = engine.session.add_user_message(pair["kept"])
        reply = engine.session.record_reply(
            asked, f"(the reply the user accepted to: {pair['kept']})", "model")
        skill = engine.skills.record(asked, reply, "rated good")
        if skill is None:
            raise SystemExit(f"the skill library did not keep {pair['kept']!r}")
        skill_of[i] = skill.id
        result, _ = ask(engine, pair["asked"], first_piece_only=True)
        kept_vector = engine.indexer.embed_query(pair["kept"])
        asked_vector = engine.indexer.embed_query(pair["asked"])
        rows.append({
            **pair, "source": result.source, "replayed_skill": result.skill_id,
            "worked_example": result.skill_example is not None,
            "same_key": request_key(pair["kept"]) == request_key(pair["asked"]),
            "similarity": float(np.dot(kept_vector, asked_vector)),
            "false_replay": result.source == "skill",
        })
    repeats = []
    for i, pair in enumerate(pairs):
        variant, repeat = harmless_variant(pair["kept"], i)
        progress(f"[repeat {i + 1}/{len(pairs)}] {repeat[:60]}")
        result, _ = ask(engine, repeat, first_piece_only=True)
        repeats.append({"kept": pair["kept"], "repeat": repeat, "variant": variant,
                        "source": result.source,
                        "replayed": result.source == "skill" and result.skill_id == skill_of[i]})
    return {"pairs": rows, "repeats": repeats,
            "replay_similarity": engine.settings.get("skills.replay_similarity")}


def summarise_replays(found: dict[str, Any]) -> dict[str, Any]:
    pairs, repeats = found["pairs"], found["repeats"]
    by_category: dict[str, dict[str, int]] = {}
    for row in pairs:
        counts = by_category.setdefault(row["category"], {"pairs": 0, "false_replays": 0})
        counts["pairs"] += 1
        counts["false_replays"] += row["false_replay"]
    false = [r for r in pairs if r["false_replay"]]
    return {
        "pairs": len(pairs),
        "false_replays": len(false),
        "false_replay_rate": len(false) / len(pairs),
        "false_replayed_pairs": [{"category": r["category"], "kept": r["kept"],
                                  "asked": r["asked"], "similarity": round(r["similarity"], 3)}
                                 for r in false],
        "by_category": by_category,
        "asked_with_worked_example": sum(r["worked_example"] for r in pairs),
        # What the words check is for: these pairs are as close as a replay in meaning.
        "replay_similarity": found["replay_similarity"],
        "pairs_at_replay_similarity": sum(r["similarity"] >= found["replay_similarity"]
                                          for r in pairs),
        "pairs_with_same_key": sum(r["same_key"] for r in pairs),
        "repeats": len(repeats),
        "true_replays": sum(r["replayed"] for r in repeats),
        "true_replay_rate": sum(r["replayed"] for r in repeats) / len(repeats),
        "repeats_not_replayed": [{"kept": r["kept"], "repeat": r["repeat"],
                                  "source": r["source"]}
                                 for r in repeats if not r["replayed"]],
    }


# --------------------------------------------------------------------------- report


def cpu_seconds() -> tuple[float, float]:
    """CPU time used by the whole machine and by this process."""
    machine = psutil.cpu_times()
    busy = sum(getattr(machine, name, 0.0)
               for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    ours = psutil.Process().cpu_times()
    return busy, ours.user + ours.system


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                cpu = value.strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "logical_cores": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": torch.cuda.is_available(), "os": platform.platform(),
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def _ms(stats: dict[str, float] | None, key: str) -> str:
    return "-" if stats is None else f"{stats[key]:,.0f} ms"


def print_report(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(f"Nexus Desktop skill library benchmark, {out['date']}, commit {out['commit']}")
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} physical "
          f"cores, {m['ram_gb']} GiB RAM, GPU {'yes' if m['gpu'] else 'none'}, torch "
          f"{m['torch']} ({m['torch_threads']} threads); load average before "
          f"{out['load_average'][0]:.2f}, other work during the run "
          f"{out['other_work_cpu_pct']:.0f}% of one core; {out['seconds']:.0f} s in all")
    latency = out.get("latency")
    if latency:
        print(f"\nLatency: {latency['requests']} requests, {latency['kept']} kept as skills, "
              f"{latency['replayed']} repeats replayed")
        rows = [("", "median", "p95")]
        for label, key in [("replayed repeat (turn)", "replay_ms"),
                           ("replayed repeat (whole call)", "replay_wall_ms"),
                           ("fresh reply (turn)", "fresh_ms"),
                           ("fresh reply, first token", "fresh_ttft_ms"),
                           ("same request, skills off (turn)", "peer_ms"),
                           ("same request, skills off, first token", "peer_ttft_ms")]:
            rows.append((label, _ms(latency[key], "median"), _ms(latency[key], "p95")))
        for stats_key, label in [("fresh_reply_tokens", "fresh reply tokens"),
                                 ("peer_reply_tokens", "skills-off reply tokens")]:
            stats = latency[stats_key]
            if stats:
                rows.append((label, f"{stats['median']:.0f}", f"{stats['p95']:.0f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        # The aim (20x or more) is against the whole fresh reply.
        for key, label, aim in [("fresh_ms", "fresh reply", " (aim: 20x or more)"),
                                ("peer_ms", "skills off", " (aim: 20x or more)"),
                                ("fresh_ttft_ms", "fresh first token", "")]:
            median = latency["speed_up"].get(f"{key}_median")
            if median is not None:
                p95 = latency["speed_up"][f"{key}_p95"]
                print(f"replay vs {label}: {median:,.0f}x faster at the median, {p95:,.0f}x "
                      f"at p95{aim}")
        if latency["not_replayed"]:
            print(f"not replayed: {latency['not_replayed']}")
    replays = out.get("false_replays")
    if replays:
        print(f"\nFalse replays: {replays['false_replays']} of {replays['pairs']} similar-but-"
              f"different requests ({replays['false_replay_rate']:.1%}, aim 2% or less); "
              f"{replays['pairs_at_replay_similarity']} pairs are at least "
              f"{replays['replay_similarity']} similar in "
              f"meaning, {replays['pairs_with_same_key']} have the same words; "
              f"{replays['asked_with_worked_example']} were answered with the kept skill as a "
              "worked example")
        width = max(len(c) for c in replays["by_category"])
        for category, counts in replays["by_category"].items():
            print(f"  {category.ljust(width)}  {counts['false_replays']} of {counts['pairs']}")
        for pair in replays["false_replayed_pairs"]:
            print(f"  replayed wrongly ({pair['similarity']:.3f}): {pair['kept']!r} -> "
                  f"{pair['asked']!r}")
        print(f"True replays: {replays['true_replays']} of {replays['repeats']} harmless "
              f"repeats ({replays['true_replay_rate']:.1%})")
        for repeat in replays["repeats_not_replayed"]:
            print(f"  not replayed: {repeat['repeat']!r} (source {repeat['source']})")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from nexus_desktop.llm import gguf_cache
    from nexus_desktop.llm.source import bundled_gguf

    latency_requests, pairs = load_requests(Path(args.data))
    latency_requests, pairs = latency_requests[:args.requests], pairs[:args.pairs]
    # A seed makes the sampled replies repeatable.
    torch.manual_seed(0)
    load_before = os.getloadavg()
    busy_before, ours_before = cpu_seconds()
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="nexus-bench-skills-"))
    out: dict[str, Any] = {}
    try:
        models_dir = Path(args.models_dir) if args.models_dir else root / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        progress("converting the bundled model (once; cached with --models-dir) ...")
        gguf_cache.converted_model(bundled_gguf(), models_dir)
        if latency_requests:
            engine = open_engine(root, "latency", models_dir, {})
            try:
                rows = measure_latency(engine, latency_requests, not args.no_peer)
            finally:
                engine.close()
            out["latency"] = summarise_latency(rows)
            out["latency_rows"] = rows
        if pairs:
            engine = open_engine(root, "pairs", models_dir,
                                 {"generation.context_tokens": PAIR_CONTEXT_TOKENS})
            try:
                found = measure_false_replays(engine, pairs)
            finally:
                engine.close()
            out["false_replays"] = summarise_replays(found)
            out["false_replay_rows"] = found
    finally:
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    busy_after, ours_after = cpu_seconds()
    other = (busy_after - busy_before) - (ours_after - ours_before)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": " ".join(["benchmarks/bench_skills.py", *sys.argv[1:]]),
        "seconds": seconds,
        "machine": machine_info(),
        "load_average": load_before,
        # Other programs' CPU use while this ran, in percent of one core.
        "other_work_cpu_pct": max(other, 0.0) / seconds * 100,
        **out,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12,
                        help="requests in the latency part (at most 20), 0 to skip it "
                             "(default 12)")
    parser.add_argument("--pairs", type=int, default=1000,
                        help="similar-but-different pairs to ask, 0 to skip them (default all)")
    parser.add_argument("--no-peer", action="store_true",
                        help="do not time the same request again with skills.enabled off")
    parser.add_argument("--data", default=str(DATA), help="the requests file")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="keep the converted model here between runs (default: a "
                             "temporary folder)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the report")
    args = parser.parse_args(argv)
    if args.requests < 0 or args.pairs < 0:
        parser.error("--requests and --pairs must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Nothing here needs the network; set before transformers is imported, which reads it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print_report(out)


if __name__ == "__main__":
    main()
