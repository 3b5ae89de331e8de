"""Nexus Desktop's online learner on the real bundled model: speed, time to learn a fact
from what the user says, drift on the canary questions, and memory.

Four parts, each configuration in a fresh process (this script with ``--worker``) with its
own empty ``NEXUS_HOME`` whose models folder points at one converted copy of the bundled
model (SmolLM2-135M-Instruct), loaded through the app's own ``load_chat_model``:

1. **Learning speed**: fact statements are stored as the app stores them (the user's
   message, ``extract_facts``, ``FactStore.remember``, which writes the question/answer
   examples). The learner first measures every new example's surprise (the first tick),
   then learns for a fixed number of seconds; measured there: answer tokens learned per
   second (the learner's own ``tokens_learned``) and all tokens through the model per
   second (every forward pass: the EMA teacher's, the base model's on the anchors, and the
   learning pass, which also runs backward). float32 and bfloat16 (``model.dtype``), 1
   and 2 threads (``model.threads``).
2. **From a stated fact to an answer from the weights alone**: facts are told to the app
   in ordinary turns (``Engine.turn``), then it learns in slices (``Engine.learn``); after
   every interval of learning each fact's question is asked with ``context="none"``
   (greedy), which answers from the model and its adapter alone, without memory. Reported:
   seconds of learning until 8 of 10 and 10 of 10 are answered (the value is in the
   reply). Asking costs time too; only learning seconds count. The stating turns become
   exchange examples, as in the app; the checking turns do not (the engine queues only
   turns made with full context), and ``examples`` in each check tells.
3. **Canary drift**: a pool of examples (facts stored as in part 1, plus synthetic
   everyday exchanges: a user's remark about their day and a short friendly reply, made
   from templates and stored through the app's own ``ExampleStore.add_exchange``) is
   measured once (the first tick, identical for both configurations), then learned with
   the anchor loss on (``learning.anchor_weight`` 1; the default is now 3) and off (0). After
   every ``--drift-every`` example visits (an example drawn into a learning step) the
   round is closed (``Learner.end_round``: the canary questions are scored, the round is
   saved or rolled back, as in the app) and the canary loss is reported relative to the
   base model's. Both configurations run at the same time, one thread each: their
   figures are losses, not speeds.
4. **Memory**: resident memory after loading the model only (and after its first forward
   pass: float32 weights are memory-mapped and read on first use), and the peak while
   learning (psutil, sampled every 20 ms in a thread), in parts 1 and 3.

    python benchmarks/bench_learning.py [--quick] [--json] [--models-dir DIR]

The defaults (30 s per speed configuration, facts checked for up to 300 s, 1,000 example
visits of drift) take about 50 minutes on 2 cores, most of it part 3; ``--drift-visits
400 --drift-every 100`` about half that, ``--quick`` a few minutes.

``--json`` prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Part 1 and part 2: ten facts with values the model cannot guess.
STATEMENTS = [
    "My favorite color is teal.",
    "My sister's name is Ingrid.",
    "I live in Tromso.",
    "My dog is called Pickles.",
    "I work at Zentrix.",
    "I am a glassblower.",
    "My favorite food is ramen.",
    "My brother lives in Valparaiso.",
    "I have a cat named Biscotti.",
    "My favorite band is Wilco.",
]
# Part 1 learns these too, so the replay holds more than the learner gets through.
MORE_STATEMENTS = [
    "My wife's name is Odalys.",
    "I grew up in Hobart.",
    "My favorite book is Dune.",
    "My son is called Tibor.",
]

# Part 3: facts about the user's people and tastes, for the pool.
_PEOPLE = ["aunt", "boss", "cousin", "daughter", "father", "mother", "niece", "nephew",
           "neighbor", "roommate", "colleague", "mentor", "grandmother", "grandfather"]
_NAMES = ["Marta", "Henrik", "Solveig", "Amara", "Dariusz", "Fenna", "Ilse", "Quentin",
          "Rosalind", "Yannick", "Zofia", "Bartek", "Leontine", "Casimir"]
_CITIES = ["Leeds", "Porto", "Gdansk", "Tampere", "Ghent", "Bergen", "Split", "Aarhus",
           "Brno", "Cork", "Lille", "Tartu", "Graz", "Umea"]
_FAVORITES = [("movie", "Alien"), ("season", "autumn"), ("drink", "chai"),
              ("sport", "curling"), ("dessert", "baklava"), ("flower", "peonies"),
              ("game", "Go"), ("city", "Kyoto")]


def drift_statements() -> list[str]:
    statements = []
    for person, name, city in zip(_PEOPLE, _NAMES, _CITIES, strict=True):
        statements.append(f"My {person} is called {name}.")
        statements.append(f"My {person} lives in {city}.")
    statements += [f"My favorite {thing} is {value}." for thing, value in _FAVORITES]
    return statements


# Synthetic everyday exchanges (part 3): a remark about the user's day and a short,
# friendly reply, from templates with varied slots.
_ACTIVITIES = [("hiking", "the hike"), ("swimming", "the swim"), ("cycling", "the ride"),
               ("bouldering", "the climbing"), ("running", "the run"),
               ("kayaking", "the paddle"), ("skating", "the skating"),
               ("birdwatching", "the birdwatching")]
_WHEN = ["this morning", "yesterday", "last weekend", "on Sunday", "after work",
         "on Saturday", "before breakfast", "last night"]
_WHO = ["my cousin", "a colleague", "the neighbours", "an old classmate", "my partner",
        "two friends from work", "my running club", "my brother-in-law"]
_DISHES = [("a lentil curry", "rice and a yoghurt dip"), ("mushroom risotto", "a green salad"),
           ("fish tacos", "lime and slaw"), ("a vegetable lasagne", "garlic bread"),
           ("shakshuka", "crusty bread"), ("a chickpea stew", "flatbread"),
           ("pad thai", "a cucumber salad"), ("potato soup", "toasted rye bread")]
_THINGS = [("kettle", "buy a new one"), ("bike chain", "fix it with a spare link"),
           ("laptop charger", "borrow one"), ("washing machine", "call a repair service"),
           ("umbrella", "get a sturdier one"), ("desk lamp", "change the bulb"),
           ("headphones", "use the old pair"), ("coffee grinder", "grind by hand")]
_TOPICS = ["octopuses", "the Roman roads", "deep-sea vents", "bees", "volcanoes",
           "the history of tea", "glaciers", "medieval castles", "coral reefs", "owls"]
_SKILLS = ["the guitar", "Portuguese", "watercolour painting", "chess", "sourdough baking",
           "touch typing", "woodworking", "juggling"]
_PLANTS = ["basil", "cherry tomatoes", "mint", "chillies", "strawberries", "lavender"]
_PLACES = ["Lisbon", "the Scottish Highlands", "Vienna", "the Dolomites", "Copenhagen",
           "Sicily", "Krakow", "the Lake District"]
_MONTHS = ["March", "May", "June", "September", "October", "December"]
_CAUSES = ["a long meeting", "a broken build", "a missed deadline", "a difficult client",
           "too many emails", "a server outage"]


def _exchange_templates(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(9)
    when, who = rng.choice(_WHEN), rng.choice(_WHO)
    if kind == 0:
        act, noun = rng.choice(_ACTIVITIES)
        return (f"I went {act} {when} with {who}.",
                f"That sounds like a good outing. How did {who} like {noun}?")
    if kind == 1:
        dish, side = rng.choice(_DISHES)
        return (f"I'm cooking {dish} tonight for {who}.",
                f"Good choice. Serve {dish} with {side} and it makes a full meal.")
    if kind == 2:
        thing, fix = rng.choice(_THINGS)
        return (f"My {thing} broke {when}, so I had to {fix}.",
                f"That is annoying. Good that you could {fix}; keep an eye on it.")
    if kind == 3:
        topic = rng.choice(_TOPICS)
        return (f"I watched a documentary about {topic} {when}.",
                f"Nice. What surprised you most about {topic}?")
    if kind == 4:
        skill = rng.choice(_SKILLS)
        return (f"I started learning {skill} {when}.",
                f"Good luck with {skill}! A little practice every day works best.")
    if kind == 5:
        plant = rng.choice(_PLANTS)
        return (f"I planted {plant} on the balcony {when}.",
                f"{plant.capitalize()} like sun and steady water; check the soil every "
                "couple of days.")
    if kind == 6:
        place, month = rng.choice(_PLACES), rng.choice(_MONTHS)
        return (f"I'm planning a trip to {place} in {month} with {who}.",
                f"{place} in {month} should be lovely. Book the travel early for better "
                "prices.")
    if kind == 7:
        cause = rng.choice(_CAUSES)
        return (f"Work was exhausting {when} because of {cause}.",
                f"Sorry to hear that. {cause.capitalize()} wears anyone down; take a short "
                "walk and rest tonight.")
    hours = rng.choice([4, 5, 6])
    return (f"I only slept {hours} hours {when} and I feel slow.",
            f"{hours} hours is not much. Drink some water, get daylight, and go to bed "
            "early tonight.")


def synthetic_exchanges(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seen: dict[str, str] = {}
    while len(seen) < count:
        user, reply = _exchange_templates(rng)
        seen.setdefault(user, reply)
    return list(seen.items())


# --------------------------------------------------------------------------- helpers


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load_average() -> list[float | None]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [None] * 3


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class PeakRss:
    """The process's peak resident memory while the block runs, sampled in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak_mb = _rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


class TokenCounter:
    """Counts the tokens of every batch the learner passes through the model."""

    def __init__(self) -> None:
        self.forward_only = 0   # surprise, EMA teacher, base model on the anchors
        self.learning = 0       # the learning pass: forward and backward

    def install(self) -> None:
        import torch

        from nexus_desktop.learning import learner as learner_module

        original = learner_module.answer_logits

        def counted(model: Any, batch: Any) -> Any:
            if torch.is_grad_enabled():
                self.learning += batch.tokens
            else:
                self.forward_only += batch.tokens
            return original(model, batch)

        learner_module.answer_logits = counted

    @property
    def total(self) -> int:
        return self.forward_only + self.learning


def _settings(spec: dict[str, Any]) -> tuple[Any, Any]:
    from nexus_desktop.config import Settings
    from nexus_desktop.paths import app_paths

    paths = app_paths()
    paths.ensure()
    settings = Settings(paths.user_config)
    settings.set("model.source", "bundled")
    settings.set("model.device", "cpu")
    settings.set("model.dtype", spec["dtype"])
    settings.set("model.threads", spec["threads"])
    for key, value in spec.get("settings", {}).items():
        settings.set(key, value)
    return paths, settings


def _state_facts(engine: Any, statements: list[str]) -> int:
    """Store the facts of each statement as a turn does (message, extraction, store)."""
    from nexus_desktop.memory.facts import extract_facts

    stored = 0
    for text in statements:
        message = engine.session.add_user_message(text)
        for candidate in extract_facts(text):
            engine.facts.remember(candidate, message.id, "pattern")
            stored += 1
    return stored


def _visits(database: Any) -> int:
    """Example visits so far: how many times examples were drawn into a learning step."""
    row = database.connection().execute(
        "SELECT total(times_trained) FROM training_examples").fetchone()
    return int(row[0])


def _example_count(database: Any) -> int:
    return database.connection().execute("SELECT count(*) FROM training_examples").fetchone()[0]


# --------------------------------------------------------------------------- workers


def throughput_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from nexus_desktop.engine import Engine
    from nexus_desktop.learning.learner import Learner
    from nexus_desktop.llm.loader import load_chat_model

    paths, settings = _settings(spec)
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        facts = _state_facts(engine, spec["statements"])
        rss_start = _rss_mb()
        chat, report = load_chat_model(settings, paths)
        rss_model = _rss_mb()
        # float32 weights are memory-mapped from the converted file and read on first
        # use, so the memory after loading understates what answering takes.
        with torch.no_grad():
            chat.model(input_ids=torch.tensor([chat.tokenizer.encode("Hello")]))
        rss_model_used = _rss_mb()
        counter = TokenCounter()
        counter.install()
        learner = Learner(engine.database, settings, chat, paths.adapters_dir)
        learner.open()
        metrics = learner.metrics
        with PeakRss() as peak:
            # The first tick: the surprise of every new example, before any learning.
            for _ in learner.run(math.inf, lambda: metrics.new_examples > 0):
                pass
            surprise = {"seconds": metrics.learned_seconds, "tokens": counter.total,
                        "examples": metrics.examples_learned + metrics.examples_known}
            before = (metrics.learned_seconds, metrics.tokens_learned, counter.total,
                      counter.learning, _visits(engine.database), metrics.steps)
            # A slice should take about learning.slice_seconds: between slices the app
            # can stop learning for the user.
            longest_slice = 0.0
            last = time.perf_counter()
            for _ in learner.run(spec["seconds"]):
                now = time.perf_counter()
                longest_slice, last = max(longest_slice, now - last), now
        seconds = metrics.learned_seconds - before[0]
        visits = _visits(engine.database) - before[4]
        return {
            "dtype": chat.info.dtype,
            "threads": torch.get_num_threads(),
            "facts": facts,
            "examples": _example_count(engine.database),
            "load_s": report.seconds,
            "surprise_s": surprise["seconds"],
            "surprise_examples_per_s": surprise["examples"] / surprise["seconds"],
            "surprise_tokens_per_s": surprise["tokens"] / surprise["seconds"],
            "learning_s": seconds,
            "answer_tokens_per_s": (metrics.tokens_learned - before[1]) / seconds,
            "tokens_per_s": (counter.total - before[2]) / seconds,
            "learning_pass_tokens_per_s": (counter.learning - before[3]) / seconds,
            "examples_per_s": visits / seconds,
            "example_visits": visits,
            "steps": metrics.steps - before[5],
            "longest_slice_s": longest_slice,
            "loss": metrics.loss,
            "state_after": metrics.state,
            "rss_before_model_mb": rss_start,
            "rss_model_mb": rss_model,
            "rss_model_used_mb": rss_model_used,
            "peak_rss_learning_mb": peak.peak_mb,
        }
    finally:
        engine.close()


def answer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from nexus_desktop.engine import Engine, TurnResult
    from nexus_desktop.memory.facts import extract_facts
    from nexus_desktop.store.fact_phrasing import fact_questions

    paths, settings = _settings(spec)
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    questions = []
    for text in spec["statements"]:
        fact = extract_facts(text)[0]
        # The first question the fact store writes as a training example for this fact.
        questions.append((fact_questions(fact.subject, fact.key, fact.value)[0][0], fact.value))

    def reply(text: str, context: str) -> TurnResult:
        return next(e for e in engine.turn(text, context=context) if isinstance(e, TurnResult))

    def check() -> dict[str, Any]:
        started = time.perf_counter()
        replies = [reply(question, "none").reply for question, _ in questions]
        right = [value.lower() in text.lower()
                 for (_, value), text in zip(questions, replies, strict=True)]
        return {"correct": sum(right), "right": right, "replies": replies,
                "check_s": time.perf_counter() - started}

    try:
        started = time.perf_counter()
        for text in spec["statements"]:
            reply(text, "full")
        stated_s = time.perf_counter() - started
        learner = engine.learner()
        metrics = learner.metrics
        checks = [{"learned_s": 0.0, **check()}]
        progress(f"  0 s of learning: {checks[0]['correct']}/{len(questions)}")
        ended = "cap"
        while metrics.learned_seconds < spec["cap_seconds"] - 0.5:
            goal = min(spec["interval_seconds"],
                       spec["cap_seconds"] - metrics.learned_seconds)
            for _ in engine.learn(goal):
                pass
            result = check()
            checks.append({"learned_s": metrics.learned_seconds, "steps": metrics.steps,
                           "loss": metrics.loss, "examples": _example_count(engine.database),
                           **result})
            progress(f"  {metrics.learned_seconds:.0f} s of learning, {metrics.steps} steps: "
                     f"{result['correct']}/{len(questions)}")
            if result["correct"] == len(questions):
                ended = "all answered"
                break
            if metrics.state == "up to date":
                ended = "nothing left to learn"
                break
        finish_started = time.perf_counter()
        for _ in engine.finish_learning():
            pass
        finish_s = time.perf_counter() - finish_started

        def first(at_least: int) -> float | None:
            return next((c["learned_s"] for c in checks if c["correct"] >= at_least), None)

        return {
            "dtype": engine.load_model().info.dtype,
            "threads": torch.get_num_threads(),
            "facts": len(questions),
            "questions": [q for q, _ in questions],
            "values": [v for _, v in questions],
            "stating_s": stated_s,
            "checks": checks,
            "ended": ended,
            "seconds_to_8_of_10": first(math.ceil(0.8 * len(questions))),
            "seconds_to_all": first(len(questions)),
            "learned_s": metrics.learned_seconds,
            "steps": metrics.steps,
            "examples_at_end": _example_count(engine.database),
            "checking_s": sum(c["check_s"] for c in checks),
            "final_round_s": finish_s,
            "canary_ratio_at_end": (metrics.canary_loss / metrics.canary_reference
                                    if metrics.canary_loss and metrics.canary_reference
                                    else None),
            "last_event": metrics.last_event,
        }
    finally:
        engine.close()


def drift_prep_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """The pool: facts and exchanges stored, and every example's surprise measured."""
    from nexus_desktop.engine import Engine

    paths, settings = _settings(spec)
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        facts = _state_facts(engine, spec["statements"])
        fact_examples = _example_count(engine.database)
        exchanges = synthetic_exchanges(max(0, spec["pool"] - fact_examples))
        for user_text, reply_text in exchanges:
            user = engine.session.add_user_message(user_text)
            reply = engine.session.record_reply(user, reply_text, "model")
            engine.examples.add_exchange(user, reply)
        learner = engine.learner()
        metrics = learner.metrics
        started = time.perf_counter()
        for _ in learner.run(math.inf, lambda: metrics.new_examples > 0):
            pass
        return {
            "facts": facts, "fact_examples": fact_examples, "exchanges": len(exchanges),
            "pool": _example_count(engine.database),
            "in_replay": metrics.replay_size, "known": metrics.examples_known,
            "surprise_s": time.perf_counter() - started,
            "mean_surprise": engine.database.connection().execute(
                "SELECT avg(surprise) FROM training_examples").fetchone()[0],
        }
    finally:
        engine.close()


def drift_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from nexus_desktop.engine import Engine

    paths, settings = _settings(spec)
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        rss_start = _rss_mb()
        engine.load_model()
        rss_model = _rss_mb()
        learner = engine.learner()
        metrics = learner.metrics
        database = engine.database
        checkpoints = []
        started = time.perf_counter()
        with PeakRss() as peak:
            for mark in range(spec["every"], spec["visits"] + 1, spec["every"]):
                for _ in learner.run(math.inf, lambda mark=mark: _visits(database) < mark):
                    pass
                visits = _visits(database)
                for _ in learner.end_round():
                    pass
                checkpoints.append({
                    "visits": visits, "steps": metrics.steps,
                    "learned_s": metrics.learned_seconds, "loss": metrics.loss,
                    "canary_loss": metrics.canary_loss,
                    "canary_reference": metrics.canary_reference,
                    "ratio": metrics.canary_loss / metrics.canary_reference,
                    "event": metrics.last_event, "version": metrics.adapter_version,
                    "rollbacks": metrics.rollbacks,
                })
                progress(f"  anchor weight {spec['settings']['learning.anchor_weight']}: "
                         f"{visits} visits, canary {checkpoints[-1]['ratio']:.3f} x base, "
                         f"{metrics.last_event}")
                if metrics.state == "up to date":
                    break
        return {
            "dtype": engine.load_model().info.dtype,
            "threads": torch.get_num_threads(),
            "anchor_weight": settings.get("learning.anchor_weight"),
            "checkpoints": checkpoints,
            "wall_s": time.perf_counter() - started,
            "rss_before_model_mb": rss_start,
            "rss_model_mb": rss_model,
            "peak_rss_learning_mb": peak.peak_mb,
            "replay_size": metrics.replay_size,
        }
    finally:
        engine.close()


WORKERS = {"throughput": throughput_worker, "answer": answer_worker,
           "drift-prep": drift_prep_worker, "drift": drift_worker}


def worker_main(spec_json: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec = json.loads(spec_json)
    Path(spec["result_file"]).write_text(json.dumps(WORKERS[spec["part"]](spec)))


# --------------------------------------------------------------------------- parent


def _cpu_seconds() -> tuple[float, float]:
    """CPU time of the whole machine, and of this process and its finished children."""
    import resource

    import psutil

    machine = psutil.cpu_times()
    busy = sum(getattr(machine, name, 0.0)
               for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return busy, ours


def home_env(home: Path, models_dir: Path) -> dict[str, str]:
    """A fresh NEXUS_HOME whose data/models points at ``models_dir``."""
    if not (home / "data" / "models").exists():
        (home / "data").mkdir(parents=True)
        (home / "data" / "models").symlink_to(models_dir, target_is_directory=True)
    return {**os.environ, "NEXUS_HOME": str(home), "HF_HOME": str(home / "hf"),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_workers(specs: list[tuple[dict[str, Any], dict[str, str]]], scratch: Path
                ) -> list[dict[str, Any]]:
    """Run the workers at the same time; each one's result, and the other work on the
    machine meanwhile in percent of one core."""
    busy_before, ours_before = _cpu_seconds()
    started = time.perf_counter()
    running = []
    for spec, env in specs:
        result_file = scratch / f"result-{time.monotonic_ns()}.json"
        spec = {**spec, "result_file": str(result_file)}
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            env=env, stdout=sys.stderr, stderr=sys.stderr)
        running.append((process, result_file))
    results = []
    for process, result_file in running:
        code = process.wait()
        if code != 0 or not result_file.is_file():
            raise SystemExit(f"a worker exited with status {code}")
        results.append(json.loads(result_file.read_text()))
    wall = time.perf_counter() - started
    busy_after, ours_after = _cpu_seconds()
    other = (busy_after - busy_before) - (ours_after - ours_before)
    for result in results:
        result["wall_s_process"] = wall
        result["other_work_cpu_pct"] = round(max(other, 0.0) / wall * 100, 1)
    return results


def machine_info() -> dict[str, Any]:
    import psutil
    import torch
    import transformers

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
        "cpu": cpu, "logical_cores": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_bf16_instructions": bool(flags & {"avx512_bf16", "amx_bf16"}) if flags else None,
        "os": platform.platform(), "python": platform.python_version(),
        "torch": torch.__version__, "transformers": transformers.__version__,
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from nexus_desktop.llm import gguf_cache
    from nexus_desktop.llm.source import bundled_gguf

    out: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(), "quick": args.quick,
        "load_average_at_start": _load_average(),
    }
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="nexus-learn-bench-"))
    try:
        models_dir = Path(args.models_dir) if args.models_dir else scratch / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        progress("converting the bundled model (once; kept with --models-dir) ...")
        gguf_cache.converted_model(bundled_gguf(), models_dir)

        def env(name: str) -> dict[str, str]:
            return home_env(scratch / name, models_dir)

        if "speed" in args.parts:
            out["throughput"] = []
            statements = STATEMENTS + MORE_STATEMENTS
            for dtype in args.dtypes:
                for threads in args.threads:
                    progress(f"[speed] {dtype}, {threads} thread(s): {args.seconds:g} s of "
                             "learning")
                    spec = {"part": "throughput", "dtype": dtype, "threads": threads,
                            "seconds": args.seconds, "statements": statements}
                    out["throughput"] += run_workers([(spec, env(f"speed-{dtype}-{threads}"))],
                                                     scratch)
        dtype, threads = chosen_config(args, out.get("throughput", []))
        out["parts_2_3_config"] = {"dtype": dtype, "threads": threads}
        if "answer" in args.parts:
            progress(f"[answer] {args.facts} facts stated, checked every "
                     f"{args.interval:g} s of learning, up to {args.cap:g} s; {dtype}, "
                     f"{threads} thread(s)")
            spec = {"part": "answer", "dtype": dtype, "threads": threads,
                    "statements": STATEMENTS[:args.facts], "cap_seconds": args.cap,
                    "interval_seconds": args.interval,
                    "settings": {"generation.temperature": 0.0,
                                 "generation.max_new_tokens": args.reply_tokens}}
            out["answer"] = run_workers([(spec, env("answer"))], scratch)[0]
        if "drift" in args.parts:
            progress(f"[drift] a pool of {args.pool} examples, its surprise measured once")
            common = {"dtype": dtype, "threads": 1,
                      "settings": {"learning.checkpoint_minutes": 1440.0}}
            # About a tenth of the pool comes from facts (36 facts at 1,000 examples).
            statements = drift_statements()[:max(2, round(36 * args.pool / 1000))]
            prep = run_workers([({**common, "part": "drift-prep", "pool": args.pool,
                                  "threads": threads, "statements": statements},
                                 env("drift-pool"))], scratch)[0]
            progress(f"[drift] {args.drift_visits} example visits, anchor loss on and off at "
                     "the same time, one thread each")
            specs = []
            for weight in (1.0, 0.0):
                name = f"drift-anchor-{weight:g}"
                shutil.copytree(scratch / "drift-pool", scratch / name, symlinks=True)
                specs.append(({**common, "part": "drift", "visits": args.drift_visits,
                               "every": args.drift_every,
                               "settings": {**common["settings"],
                                            "learning.anchor_weight": weight}},
                              env(name)))
            on, off = run_workers(specs, scratch)
            out["drift"] = {"pool": prep, "anchor_on": on, "anchor_off": off}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["total_s"] = time.perf_counter() - started
    out["load_average_at_end"] = _load_average()
    out["machine"] = machine_info()
    out["summary"] = summary(out)
    return out


def chosen_config(args: argparse.Namespace, speeds: list[dict[str, Any]]) -> tuple[str, int]:
    """Parts 2 and 3 run in the configuration part 1 found fastest, unless told otherwise;
    without part 1, bfloat16 (the app's choice on a CPU with bfloat16 instructions) and
    one thread per core."""
    dtype, threads = args.dtype, args.answer_threads
    if speeds:
        best = max(speeds, key=lambda r: r["answer_tokens_per_s"])
        dtype, threads = dtype or best["dtype"], threads or best["threads"]
    return dtype or "bfloat16", threads or (os.cpu_count() or 1)


def summary(out: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    rows = {(r["dtype"], r["threads"]): r for r in out.get("throughput", [])}

    def ratio(a: tuple[str, int], b: tuple[str, int], key: str) -> float | None:
        if a in rows and b in rows and rows[b][key]:
            return round(rows[a][key] / rows[b][key], 3)
        return None

    if rows:
        result["bf16_over_fp32"] = {
            f"{t} threads": ratio(("bfloat16", t), ("float32", t), "answer_tokens_per_s")
            for t in sorted({t for _, t in rows})}
        result["two_over_one_thread"] = {
            d: ratio((d, 2), (d, 1), "answer_tokens_per_s") for d in sorted({d for d, _ in rows})}
    if "answer" in out:
        result["seconds_to_8_of_10"] = out["answer"]["seconds_to_8_of_10"]
        result["seconds_to_all"] = out["answer"]["seconds_to_all"]
    if "drift" in out:
        result["final_canary_ratio"] = {
            name: out["drift"][name]["checkpoints"][-1]["ratio"]
            for name in ("anchor_on", "anchor_off") if out["drift"][name]["checkpoints"]}
    return result


# --------------------------------------------------------------------------- printing


def _n(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:,.{digits}f}"


def print_report(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(f"Nexus Desktop learning benchmark, {out['date']}, commit {out['commit']}"
          + (" (--quick)" if out["quick"] else ""))
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} "
          f"physical cores, {m['ram_gb']} GiB RAM, bf16 instructions "
          f"{m['cpu_bf16_instructions']}, torch {m['torch']}, transformers {m['transformers']}")
    print(f"load average at start {out['load_average_at_start']}, at end "
          f"{out['load_average_at_end']}; whole run {out['total_s'] / 60:.1f} min")
    if out.get("throughput"):
        print("\n1. Learning speed (after the first tick; per second of learning work)")
        header = ["dtype", "threads", "learn s", "answer tok/s", "all tok/s", "examples/s",
                  "steps", "longest slice s", "surprise ex/s", "RSS model MB",
                  "after a forward MB", "peak RSS MB", "other work %"]
        rows = [header]
        for r in out["throughput"]:
            rows.append([r["dtype"], str(r["threads"]), _n(r["learning_s"]),
                         _n(r["answer_tokens_per_s"]), _n(r["tokens_per_s"], 0),
                         _n(r["examples_per_s"], 2), str(r["steps"]),
                         _n(r["longest_slice_s"]),
                         _n(r["surprise_examples_per_s"], 2), _n(r["rss_model_mb"], 0),
                         _n(r.get("rss_model_used_mb"), 0), _n(r["peak_rss_learning_mb"], 0),
                         _n(r["other_work_cpu_pct"])])
        _table(rows)
        s = out["summary"]
        print("bfloat16 / float32 (answer tokens/s): "
              + ", ".join(f"{k} {_n(v, 2)}" for k, v in s["bf16_over_fp32"].items()))
        print("2 threads / 1 thread (answer tokens/s): "
              + ", ".join(f"{k} {_n(v, 2)}" for k, v in s["two_over_one_thread"].items()))
        print("RSS: 'RSS model' after loading the model only, then after one forward pass "
              "(float32 weights are read on first use); 'peak RSS' while learning")
    if "answer" in out:
        a = out["answer"]
        print(f"\n2. From a stated fact to an answer from the weights alone ({a['dtype']}, "
              f"{a['threads']} threads, {a['facts']} facts)")
        _table([["learning s", "steps", "answered", "checking s"]]
               + [[_n(c["learned_s"]), str(c.get("steps", 0)),
                   f"{c['correct']}/{a['facts']}", _n(c["check_s"])] for c in a["checks"]])
        target = math.ceil(0.8 * a["facts"])
        print(f"{target}/{a['facts']} after {_reached(a['seconds_to_8_of_10'])}; "
              f"{a['facts']}/{a['facts']} after {_reached(a['seconds_to_all'])} "
              f"(ended: {a['ended']}); stating the facts took {a['stating_s']:.0f} s, "
              f"checking {a['checking_s']:.0f} s")
    if "drift" in out:
        d = out["drift"]
        pool = d["pool"]
        print(f"\n3. Canary drift ({d['anchor_on']['dtype']}, a pool of {pool['pool']} "
              f"examples: {pool['fact_examples']} from {pool['facts']} facts, "
              f"{pool['exchanges']} exchanges; {pool['in_replay']} to learn)")
        on, off = d["anchor_on"]["checkpoints"], d["anchor_off"]["checkpoints"]
        rows = [["visits", "anchor on: canary / base", "round", "anchor off: canary / base",
                 "round"]]
        for i in range(max(len(on), len(off))):
            a = on[i] if i < len(on) else {}
            b = off[i] if i < len(off) else {}
            rows.append([str(a.get("visits", b.get("visits", "-"))), _n(a.get("ratio"), 3),
                         str(a.get("event", "-")), _n(b.get("ratio"), 3),
                         str(b.get("event", "-"))])
        _table(rows)
        print(f"anchor on: {d['anchor_on']['wall_s']:.0f} s, peak RSS "
              f"{d['anchor_on']['peak_rss_learning_mb']:.0f} MB; anchor off: "
              f"{d['anchor_off']['wall_s']:.0f} s, peak RSS "
              f"{d['anchor_off']['peak_rss_learning_mb']:.0f} MB (both at once)")


def _reached(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.0f} s of learning"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the tables")
    parser.add_argument("--quick", action="store_true",
                        help="a short run to check that everything works (a few minutes)")
    parser.add_argument("--parts", default="speed,answer,drift",
                        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
                        help="which parts to run (default: speed,answer,drift)")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="keep the converted model here between runs (default: temporary)")
    parser.add_argument("--seconds", type=float, help="part 1: seconds of learning per "
                        "configuration, after the first tick (default 30)")
    parser.add_argument("--dtypes", default="float32,bfloat16",
                        type=lambda text: [d.strip() for d in text.split(",") if d.strip()],
                        help="part 1: number formats (default float32,bfloat16)")
    parser.add_argument("--threads", default="1,2",
                        type=lambda text: [int(t) for t in text.split(",") if t.strip()],
                        help="part 1: thread counts (default 1,2)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"),
                        help="parts 2 and 3 (default: the fastest in part 1)")
    parser.add_argument("--answer-threads", type=int,
                        help="threads for part 2 and the first tick of part 3 (default: the "
                             "fastest in part 1); part 3 learns with one thread per run")
    parser.add_argument("--facts", type=int, help="part 2: facts stated, 1 to 10 (default 10)")
    parser.add_argument("--cap", type=float,
                        help="part 2: give up after this many seconds of learning (default 300)")
    parser.add_argument("--interval", type=float,
                        help="part 2: seconds of learning between checks (default 15)")
    parser.add_argument("--reply-tokens", type=int, default=32,
                        help="part 2: the longest reply, in tokens (default 32)")
    parser.add_argument("--pool", type=int, help="part 3: examples in the pool (default 1000)")
    parser.add_argument("--drift-visits", type=int,
                        help="part 3: example visits to learn (default 1000)")
    parser.add_argument("--drift-every", type=int,
                        help="part 3: visits between canary checkpoints (default 250)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {"seconds": (5, 30), "facts": (2, 10), "cap": (15, 300), "interval": (15, 15),
                "pool": (40, 1000), "drift_visits": (16, 1000), "drift_every": (8, 250)}
    for name, (short, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    if not 1 <= args.facts <= len(STATEMENTS):
        parser.error(f"--facts must be from 1 to {len(STATEMENTS)}")
    if not set(args.dtypes) <= {"float32", "bfloat16"} or not args.dtypes:
        parser.error("--dtypes takes float32 and/or bfloat16")
    if not set(args.parts) <= {"speed", "answer", "drift"}:
        parser.error("--parts takes speed, answer and drift")
    if args.drift_every < 1 or args.drift_visits < args.drift_every:
        parser.error("--drift-visits must be at least --drift-every, which must be positive")
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
        print_report(out)


if __name__ == "__main__":
    main()
