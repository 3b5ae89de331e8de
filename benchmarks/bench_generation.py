"""Generation speed and memory of Nexus Desktop's bundled model, beside llama.cpp.

Measures, for each number format (float32, bfloat16):

- start to first token: process start to the first token of a short chat prompt, with the
  conversion cache cold (the bundled GGUF is converted first) and warm;
- prefill of a 1,500-token context, chunked exactly as the app does it;
- decode speed after the short prompt and after the 1,500-token context;
- a whole turn: the 1,500-token prefill plus the reply tokens;
- peak resident memory of the process.

Each configuration runs in a fresh subprocess (this script, with ``--worker``) so that
peak memory and start-up times are those of a clean process. The peer, llama.cpp through
``llama-cpp-python``, runs the same GGUF file with the same thread count, prompts and
token counts; ``--peer-python`` runs it under another interpreter, since it is compiled
into its own environment. The peer worker needs only ``llama_cpp`` and the standard
library, which is why this module imports nothing else at the top.

    python benchmarks/bench_generation.py [--json] [--peer-python PATH]

``--json`` prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PREFILL_TOKENS = 1500
# The peer's context must hold the long prompt plus the reply, as ours does (2,048).
PEER_CONTEXT = 2048
PERSONA = (
    "You are Nexus, a private AI companion that runs on the user's own computer. You keep one "
    "lifelong conversation with the user. Answer helpfully, briefly and truthfully."
)
SHORT_MESSAGE = "What is the capital of France, and what is it famous for?"
# Natural conversation, repeated until the long prompt has more than PREFILL_TOKENS tokens.
HISTORY = [
    ("user", "I spent the morning repotting the basil and the tomatoes on the balcony. The "
             "tomatoes look tired, the lower leaves are turning yellow. Is that the heat?"),
    ("assistant", "Yellow lower leaves on tomatoes are usually a sign of uneven watering or a "
                  "lack of nitrogen rather than heat alone. Water deeply in the morning, let "
                  "the top of the soil dry between waterings, and give them a balanced feed "
                  "every two weeks. Remove the yellow leaves so the plant spends its energy "
                  "on new growth."),
    ("user", "Thanks. Tomorrow I want to cook something with the basil. My sister visits and "
             "she does not eat meat. Ideas that do not take all evening?"),
    ("assistant", "A quick pesto pasta works well: blend basil, a clove of garlic, toasted "
                  "pine nuts, parmesan and olive oil, then toss it with hot pasta and a spoon "
                  "of the cooking water. Add cherry tomatoes and a green salad and dinner is "
                  "ready in about twenty-five minutes."),
]

# Keys of the figures, how they are labelled, their unit, and which way is better.
METRICS = [
    ("ttft_cold_cache_s", "start to first token, cold cache", "s", "lower"),
    ("load_cold_cache_s", "  of which converting and loading", "s", "lower"),
    ("ttft_s", "start to first token, warm cache", "s", "lower"),
    ("load_s", "  of which loading the model", "s", "lower"),
    ("prefill_1500_s", "prefill 1,500 tokens", "s", "lower"),
    ("decode_tok_s", "decode, short context", "tok/s", "higher"),
    ("decode_1500_tok_s", "decode after 1,500 tokens", "tok/s", "higher"),
    ("turn_s", "turn: prefill 1,500 + reply", "s", "lower"),
    ("peak_rss_mb", "peak RSS", "MB", "lower"),
    ("peak_rss_cold_cache_mb", "peak RSS, cold-cache start", "MB", "lower"),
]


def chatml(messages: list[tuple[str, str]]) -> str:
    """The prompt text of SmolLM2's chat template (ChatML), ending with the assistant's turn.

    Both engines tokenize this same text, so they read the same token ids; for the bundled
    model it is what ``ChatModel.render`` produces.
    """
    body = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return body + "<|im_start|>assistant\n"


def short_prompt() -> str:
    return chatml([("system", PERSONA), ("user", SHORT_MESSAGE)])


def long_prompt() -> str:
    """A memory-laden prompt: persona and a long history, cut to PREFILL_TOKENS by the worker."""
    return chatml([("system", PERSONA), *HISTORY * 8, ("user", SHORT_MESSAGE)])


# --------------------------------------------------------------------------- workers


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil
        except ImportError:
            return None
        return psutil.Process().memory_info().peak_wset / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _load_average() -> list[float | None]:
    """The 1, 5 and 15 minute load averages (Windows has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else [None, None, None]


def _ids_digest(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def _timed(stream: Iterator[int], count: int) -> dict[str, Any]:
    """Take ``count`` tokens: the time to the first, then the decode rate after it."""
    # Never asking for token count + 1 keeps either engine from computing it.
    tokens = itertools.islice(stream, count)
    started = time.perf_counter()
    ids = [next(tokens)]
    first = time.perf_counter()
    ids.extend(tokens)
    ended = time.perf_counter()
    return {
        "first_s": first - started,
        "decode_tok_s": (len(ids) - 1) / (ended - first),
        "total_s": ended - started,
        "ids": ids,
    }


def _measure(spec: dict[str, Any], engine: str, load_s: float,
             stream: Callable[[list[int]], Iterator[int]], short: list[int],
             long_ids: list[int] | None,
             first_token_at: float) -> dict[str, Any]:
    """The figures shared by both workers; ``stream(ids)`` yields at least decode_tokens ids."""
    result: dict[str, Any] = {
        "engine": engine,
        "load_s": load_s,
        # Wall-clock time: the parent stamped it just before starting this process.
        "ttft_s": first_token_at - spec["spawned_at"],
        "short_prompt_tokens": len(short),
        "short_prompt_digest": _ids_digest(short),
    }
    if spec["mode"] == "full":
        if long_ids is None or len(long_ids) < spec["prefill_tokens"]:
            raise SystemExit(f"the long prompt has fewer than {spec['prefill_tokens']} tokens")
        long_ids = long_ids[:spec["prefill_tokens"]]
        short_runs, long_runs = [], []
        for _ in range(spec["repeats"]):
            short_runs.append(_timed(stream(short), spec["decode_tokens"]))
            long_runs.append(_timed(stream(long_ids), spec["decode_tokens"]))
        # Best of the repeats: other work on the machine only ever makes a run slower.
        result.update(
            decode_tok_s=max(r["decode_tok_s"] for r in short_runs),
            prefill_1500_s=min(r["first_s"] for r in long_runs),
            decode_1500_tok_s=max(r["decode_tok_s"] for r in long_runs),
            turn_s=min(r["total_s"] for r in long_runs),
            long_prompt_digest=_ids_digest(long_ids),
            reply_ids=short_runs[0]["ids"],
        )
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def ours_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Nexus Desktop's own path: settings -> load_chat_model -> generate_token_ids."""
    import torch
    import transformers

    from nexus_desktop.config import Settings
    from nexus_desktop.llm.generation import CancelToken, Sampling, generate_token_ids
    from nexus_desktop.llm.loader import load_chat_model
    from nexus_desktop.paths import app_paths

    paths = app_paths()
    settings = Settings(paths.user_config)
    settings.set("model.source", "bundled")
    settings.set("model.device", "cpu")
    settings.set("model.dtype", spec["dtype"])
    settings.set("model.threads", spec["threads"])
    chat, report = load_chat_model(settings, paths)
    sampling = Sampling(spec["decode_tokens"], temperature=0.0)

    def stream(ids: list[int]) -> Iterator[int]:
        # No stop ids, so every run decodes the same number of tokens.
        return generate_token_ids(chat.model, ids, sampling, set(), CancelToken())

    def encode(text: str) -> list[int]:
        return chat.tokenizer.encode(text, add_special_tokens=False)

    short = encode(spec["short_prompt"])
    first = stream(short)
    next(first)
    first_token_at = time.time()
    first.close()
    long_ids = encode(spec["long_prompt"]) if spec["mode"] == "full" else None
    result = _measure(spec, "nexus", report.seconds, stream, short, long_ids, first_token_at)
    result.update(
        dtype=chat.info.dtype,
        threads=torch.get_num_threads(),
        converted_now=report.converted_now,
        torch=torch.__version__,
        transformers=transformers.__version__,
    )
    return result


def peer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp through llama-cpp-python, on the same GGUF, prompts and counts."""
    try:
        import llama_cpp
    except ImportError as exc:
        return {"unavailable": f"llama_cpp is not importable by {sys.executable}: {exc}"}

    started = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=spec["gguf"], n_ctx=PEER_CONTEXT, n_threads=spec["threads"],
        n_threads_batch=spec["threads"], verbose=False,
    )
    load_s = time.perf_counter() - started

    def stream(ids: list[int]) -> Iterator[int]:
        # reset() forgets the evaluated tokens, so generate() cannot reuse a cached
        # prefix and every run prefills its whole prompt, as ours does.
        llm.reset()
        return llm.generate(ids, temp=0.0, repeat_penalty=1.0, reset=True)

    def encode(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=True)

    short = encode(spec["short_prompt"])
    next(stream(short))
    first_token_at = time.time()
    long_ids = encode(spec["long_prompt"]) if spec["mode"] == "full" else None
    result = _measure(spec, "llama.cpp", load_s, stream, short, long_ids, first_token_at)
    result.update(threads=spec["threads"], llama_cpp_python=llama_cpp.__version__)
    return result


def worker_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    work = peer_worker if spec["engine"] == "peer" else ours_worker
    Path(spec["result_file"]).write_text(json.dumps(work(spec)))


# --------------------------------------------------------------------------- parent


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cpu_seconds() -> tuple[float, float | None]:
    """CPU time used by the whole machine, and by this process and its finished children."""
    import psutil

    machine = psutil.cpu_times()
    busy = sum(getattr(machine, name, 0.0)
               for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    try:
        import resource
    except ImportError:  # Windows: no per-process accounting of finished children
        return busy, None
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return busy, ours


def run_worker(python: str, spec: dict[str, Any], env: dict[str, str], scratch: Path
               ) -> dict[str, Any]:
    result_file = scratch / f"result-{time.monotonic_ns()}.json"
    spec = {**spec, "result_file": str(result_file), "spawned_at": time.time()}
    busy_before, ours_before = _cpu_seconds()
    started = time.perf_counter()
    try:
        # The worker's own output goes to stderr, keeping stdout for the report.
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            env=env, stdout=sys.stderr, stderr=sys.stderr, check=False,
        )
    except OSError as exc:
        return {"unavailable": f"cannot run {python}: {exc}"}
    wall = time.perf_counter() - started
    busy_after, ours_after = _cpu_seconds()
    if done.returncode != 0 or not result_file.is_file():
        return {"error": f"worker exited with status {done.returncode}"}
    result = json.loads(result_file.read_text())
    if ours_before is not None and ours_after is not None:
        # Other work competing for the CPU while this worker ran, in percent of one core
        # (the machine's load average would count the benchmark itself).
        other = (busy_after - busy_before) - (ours_after - ours_before)
        result["other_work_cpu_pct"] = round(max(other, 0.0) / wall * 100, 1)
    return result


def home_env(home: Path, models_dir: Path | None) -> dict[str, str]:
    """A fresh NEXUS_HOME, its data/models pointing at ``models_dir`` when given."""
    if models_dir is not None:
        (home / "data").mkdir(parents=True)
        (home / "data" / "models").symlink_to(models_dir, target_is_directory=True)
    # Nothing here needs the network; HF_HOME inside the home keeps the user's cache untouched.
    return {**os.environ, "NEXUS_HOME": str(home), "HF_HOME": str(home / "hf"),
            "HF_HUB_OFFLINE": "1"}


def machine_info() -> dict[str, Any]:
    import psutil
    import torch

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                cpu = value.strip()
            elif name.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": torch.cuda.is_available(),
        "cpu_bf16_instructions": bool(flags & {"avx512_bf16", "amx_bf16"}) if flags else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, float]:
    """ours / peer for every figure both have."""
    return {key: round(ours[key] / peer[key], 3) for key, *_ in METRICS
            if isinstance(ours.get(key), float | int) and isinstance(peer.get(key), float | int)
            and peer[key]}


def turn_tie(ours: dict[str, Any], peer: dict[str, Any]) -> float | None:
    """The reply length at which both engines' 1,500-token turns take equally long.

    Which engine wins a turn depends on the reply's length when one prefills faster and
    the other decodes faster; None when one of them is faster at every length.
    """
    prefill_gain = peer["prefill_1500_s"] - ours["prefill_1500_s"]
    per_token_loss = 1 / ours["decode_1500_tok_s"] - 1 / peer["decode_1500_tok_s"]
    if prefill_gain * per_token_loss <= 0:
        return None
    return round(prefill_gain / per_token_loss, 1)


def leading_agreement(a: list[int], b: list[int]) -> int:
    """How many greedy tokens the two engines chose alike before they first differ."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from nexus_desktop.llm.loader import thread_count
    from nexus_desktop.llm.source import bundled_gguf

    threads = thread_count(args.threads)
    gguf = bundled_gguf()
    dtypes = args.dtypes
    if PREFILL_TOKENS + args.decode_tokens > PEER_CONTEXT:
        raise SystemExit(f"--decode-tokens must be at most {PEER_CONTEXT - PREFILL_TOKENS}")
    common = {"threads": threads, "decode_tokens": args.decode_tokens,
              "prefill_tokens": PREFILL_TOKENS, "repeats": args.repeats,
              "short_prompt": short_prompt(), "long_prompt": long_prompt()}
    load_before = _load_average()
    scratch = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
    try:
        models_dir = Path(args.models_dir) if args.models_dir else scratch / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        cold: dict[str, Any] | None = None
        if not args.skip_cold:
            progress(f"[{dtypes[0]}] start with an empty conversion cache (converts the GGUF)")
            home = scratch / "cold"
            cold = run_worker(sys.executable, {**common, "engine": "ours", "mode": "start",
                                               "dtype": dtypes[0]},
                              home_env(home, None), scratch)
            _check(cold, "cold-cache start")
            converted = home / "data" / "models"
            for folder in converted.iterdir():
                if not (models_dir / folder.name).exists():
                    shutil.move(folder, models_dir / folder.name)
        by_dtype: dict[str, dict[str, Any]] = {}
        for dtype in dtypes:
            progress(f"[{dtype}] start with a warm conversion cache, prefill, decode")
            result = run_worker(sys.executable, {**common, "engine": "ours", "mode": "full",
                                                 "dtype": dtype},
                                home_env(scratch / f"warm-{dtype}", models_dir), scratch)
            _check(result, f"{dtype} run")
            if result.pop("converted_now"):
                # --skip-cold with an empty --models-dir: this start converted, so it was cold.
                result["ttft_cold_cache_s"] = result.pop("ttft_s")
                result["load_cold_cache_s"] = result.pop("load_s")
                progress("  (the conversion cache was empty: that start is a cold one)")
            by_dtype[dtype] = result
        if cold is not None:
            by_dtype[dtypes[0]]["ttft_cold_cache_s"] = cold["ttft_s"]
            by_dtype[dtypes[0]]["load_cold_cache_s"] = cold["load_s"]
            by_dtype[dtypes[0]]["peak_rss_cold_cache_mb"] = cold["peak_rss_mb"]
            by_dtype[dtypes[0]]["other_work_cpu_pct_cold_cache"] = cold.get("other_work_cpu_pct")
        progress("[llama.cpp] same GGUF, threads, prompts and token counts")
        peer = run_worker(args.peer_python or sys.executable,
                          {**common, "engine": "peer", "mode": "full", "gguf": str(gguf)},
                          {**os.environ}, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report(args, threads, gguf, by_dtype, peer, load_before)


def _check(result: dict[str, Any], what: str) -> None:
    problem = result.get("error") or result.get("unavailable")
    if problem:
        raise SystemExit(f"the {what} failed: {problem}")


def report(args: argparse.Namespace, threads: int, gguf: Path,
           by_dtype: dict[str, dict[str, Any]], peer: dict[str, Any],
           load_before: list[float | None]) -> dict[str, Any]:
    primary = by_dtype[args.dtypes[0]]
    out: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "model": gguf.name,
        "dtype": args.dtypes[0],
        "threads": threads,
        "prefill_tokens": PREFILL_TOKENS,
        "decode_tokens": args.decode_tokens,
        "repeats": args.repeats,
        **{key: primary.get(key) for key, *_ in METRICS},
        "by_dtype": by_dtype,
        "machine": machine_info(),
        "load_average": {"before": load_before, "after": _load_average()},
    }
    if "unavailable" in peer or "error" in peer:
        out["peer_missing"] = peer.get("unavailable") or peer["error"]
    else:
        out["peer"] = peer
        for result in by_dtype.values():
            result["ratios"] = ratios(result, peer)
            result["same_inputs_as_peer"] = (
                result["short_prompt_digest"] == peer["short_prompt_digest"]
                and result["long_prompt_digest"] == peer["long_prompt_digest"])
            result["greedy_tokens_agreeing"] = leading_agreement(result["reply_ids"],
                                                                 peer["reply_ids"])
            # The goals: decode at least half as fast as llama.cpp, and a whole
            # memory-laden turn (prefill + reply) faster than llama.cpp's.
            result["goals"] = {
                "decode_at_least_half_of_peer": result["ratios"]["decode_tok_s"] >= 0.5,
                "turn_faster_than_peer": result["ratios"]["turn_s"] < 1.0,
            }
            result["turn_tie_reply_tokens"] = turn_tie(result, peer)
        out["ratios"] = primary["ratios"]
    # The reply ids served only the agreement check; they would clutter tracked results.
    for result in [*by_dtype.values(), peer]:
        result.pop("reply_ids", None)
    return out


def _cell(value: Any) -> str:
    if not isinstance(value, float | int):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def print_table(out: dict[str, Any]) -> None:
    m = out["machine"]
    load = out["load_average"]
    print(f"Nexus Desktop generation benchmark, {out['date']}, commit {out['commit']}")
    print(f"model {out['model']}, {out['threads']} threads, reply {out['decode_tokens']} "
          f"tokens, best of {out['repeats']}")
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} physical "
          f"cores, {m['ram_gb']} GiB RAM, GPU {'yes' if m['gpu'] else 'none'}, "
          f"bf16 instructions {m['cpu_bf16_instructions']}, torch {m['torch']}")
    runs = [*out["by_dtype"].items(), ("llama.cpp", out.get("peer", {}))]
    other = ", ".join(f"{name} {_cell(r.get('other_work_cpu_pct'))}" for name, r in runs)
    print(f"load average (1 min) before {_cell(load['before'][0])}, after "
          f"{_cell(load['after'][0])}; other work during each run, % of one core: {other}")
    print()
    dtypes = list(out["by_dtype"])
    peer = out.get("peer")
    header = ["", "unit", *dtypes]
    if peer:
        header += ["llama.cpp", *(f"{d}/peer" for d in dtypes), "better"]
    rows = [header]
    for key, label, unit, better in METRICS:
        row = [label, unit, *(_cell(out["by_dtype"][d].get(key)) for d in dtypes)]
        if peer:
            row += [_cell(peer.get(key)),
                    *(_cell(out["by_dtype"][d]["ratios"].get(key)) for d in dtypes), better]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    print()
    if not peer:
        print(f"llama.cpp: not measured ({out['peer_missing']}). Install llama-cpp-python in "
              "a separate environment and pass --peer-python.")
        return
    for dtype, result in out["by_dtype"].items():
        r, goals = result["ratios"], result["goals"]
        print(f"{dtype}: decode {r['decode_tok_s']:.2f}x llama.cpp's speed (goal >= 0.5: "
              f"{_met(goals['decode_at_least_half_of_peer'])}); whole turn {r['turn_s']:.2f}x "
              f"llama.cpp's time (goal < 1: {_met(goals['turn_faster_than_peer'])})")
        tie = result["turn_tie_reply_tokens"]
        if tie is not None:
            faster = "shorter" if r["prefill_1500_s"] < 1 else "longer"
            print(f"  turns take equally long at a reply of {tie:.0f} tokens; ours is faster "
                  f"for {faster} replies")
        print(f"  same token ids as llama.cpp: {result['same_inputs_as_peer']}; greedy replies "
              f"agree for the first {result['greedy_tokens_agreeing']} tokens")


def _met(flag: bool) -> str:
    return "met" if flag else "not met"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the table")
    parser.add_argument("--peer-python", metavar="PATH",
                        help="interpreter with llama-cpp-python for the peer (default: this one)")
    parser.add_argument("--dtypes", default="float32,bfloat16",
                        type=lambda text: list(dict.fromkeys(
                            d.strip() for d in text.split(",") if d.strip())),
                        help="number formats to measure, the first is the headline "
                             "(default: float32,bfloat16)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for both engines; 0 = one per physical core, as the "
                             "app's model.threads default")
    parser.add_argument("--decode-tokens", type=int, default=128,
                        help="tokens decoded per run, the reply of the measured turn "
                             "(default 128)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each measurement; the best is reported (default 2)")
    parser.add_argument("--skip-cold", action="store_true",
                        help="do not measure the start with an empty conversion cache")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="keep the converted model here between benchmark runs (default: "
                             "a temporary folder)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.decode_tokens < 2 or args.repeats < 1:
        parser.error("--decode-tokens must be at least 2 and --repeats at least 1")
    if not set(args.dtypes) <= {"float32", "bfloat16"} or not args.dtypes:
        parser.error("--dtypes takes float32 and/or bfloat16")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
