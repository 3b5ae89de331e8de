"""`nexus-desktop learn`: learning now, headless, for a budget of work seconds."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import TextIO

import psutil

from nexus_desktop.governor.cpu_budget import CpuBudget
from nexus_desktop.governor.monitor import process_cpu_share
from nexus_desktop.governor.throttle import cpu_count, throttled
from nexus_desktop.learning.metrics import LearningMetrics

# How often progress is written to the terminal while learning.
PROGRESS_SECONDS = 5.0
# How long the machine's load is measured before learning starts.
BUSY_SAMPLE_SECONDS = 0.3


def add_parser(commands: argparse._SubParsersAction) -> None:
    learn = commands.add_parser(
        "learn", help="teach the adapter what it has not learned yet, now",
        description="Learn from the conversation (and the Ollama teacher, when it is on) for "
                    "up to N seconds of work, then check the result on the canary questions "
                    "and save it as a new adapter version, or roll it back.")
    learn.add_argument("--seconds", type=_seconds, required=True, metavar="N",
                       help="seconds of learning work (0 only shows where learning stands)")
    learn.add_argument("--topic", help="learn the teacher's examples on this topic first")
    learn.add_argument("--cpu-budget", type=_percent, metavar="P",
                       help="the most CPU learning may use, as a percent of the whole machine "
                            "(default: resources.idle_cpu_percent; 100: no limit)")
    learn.add_argument("--json", action="store_true", help="print the metrics as JSON")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError("--seconds must be from 0 to 604800 (a week)")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percent") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("--cpu-budget must be from 1 to 100 (percent of the "
                                         "whole machine)")
    return value


def run(args: argparse.Namespace, engine, out: TextIO = sys.stdout,  # type: ignore[no-untyped-def]
        err: TextIO = sys.stderr) -> int:
    if args.seconds > 0:
        engine.check_learning_on()
    if engine.settings.get("teacher.enabled"):
        engine.start_teacher(args.topic)
    engine.learner()  # the model with the newest good adapter, whose metrics are shown
    metrics = engine.learning_metrics()
    settings = engine.settings
    percent = (args.cpu_budget if args.cpu_budget is not None
               else settings.get("resources.idle_cpu_percent"))
    budget = CpuBudget(percent)
    # Nothing interrupts a pause here but the end of the pause itself (Ctrl-C aside).
    never = threading.Event()
    run_started = (time.monotonic(), time.process_time())
    if args.seconds > 0:
        threads = settings.get("resources.learning_threads")
        # What other programs keep busy now: learning leaves them those cores.
        busy = psutil.cpu_percent(interval=BUSY_SAMPLE_SECONDS) / 100 * cpu_count()
        work_before = metrics.learned_seconds
        last_report = time.monotonic()
        while True:
            work_left = args.seconds - (engine.learning_metrics().learned_seconds - work_before)
            for metrics in throttled(engine.learn(work_left, args.topic), budget, never.wait,
                                     threads, busy):
                if not args.json and time.monotonic() - last_report >= PROGRESS_SECONDS:
                    err.write(_progress(metrics) + "\n")
                    err.flush()
                    last_report = time.monotonic()
            rollbacks = engine.learning_metrics().rollbacks
            if engine.learning_round_open:
                err.write("Checking the canary questions before saving...\n")
            for _ in throttled(engine.finish_learning(), budget, never.wait, threads, busy):
                pass
            metrics = engine.learning_metrics()
            spent = metrics.learned_seconds - work_before
            if metrics.rollbacks == rollbacks or spent >= args.seconds:
                break
            # The round was undone and its examples are new again: learn them anew, at
            # half the rate, with the work seconds that are left.
            err.write("The canary questions got worse, so that round was undone; learning "
                      "again at half the rate.\n")
    # The share of the whole machine over the whole run, canary check included.
    wall = time.monotonic() - run_started[0]
    achieved = (process_cpu_share(time.process_time() - run_started[1], wall, cpu_count())
                if args.seconds > 0 and wall > 0 else None)
    cpu = {"budget_percent": percent,
           "achieved_percent": None if achieved is None else round(achieved, 1)}
    if args.json:
        out.write(json.dumps({**metrics.as_dict(), "cpu": cpu}, ensure_ascii=False) + "\n")
    else:
        out.write(render(metrics))
        shown = "-" if achieved is None else f"{achieved:.0f}%"
        out.write(f"  CPU                  {shown} of the machine (budget {percent:.0f}%)\n")
    return 0


def _progress(metrics: LearningMetrics) -> str:
    loss = "-" if metrics.loss is None else f"{metrics.loss:.3f}"
    return (f"learning: {metrics.learned_seconds:.0f} s, {metrics.steps} steps, loss {loss}, "
            f"{metrics.replay_size} examples in replay, {metrics.new_examples} new")


def render(metrics: LearningMetrics) -> str:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    version = "none yet" if metrics.adapter_version is None else str(metrics.adapter_version)
    lines = [
        f"Learning: {metrics.state}",
        f"  adapter version      {version}",
        f"  examples learned     {metrics.examples_learned} ({metrics.examples_known} "
        "already known, skipped)",
        f"  tokens learned       {metrics.tokens_learned}",
        f"  steps                {metrics.steps} in {metrics.learned_seconds:.0f} s of work",
        f"  loss                 {number(metrics.loss)}",
        f"  rolling surprise     {number(metrics.rolling_surprise)}",
        f"  canary loss          {number(metrics.canary_loss)} (without the adapter: "
        f"{number(metrics.canary_reference)})",
        f"  rollbacks            {metrics.rollbacks}",
        f"  replay buffer        {metrics.replay_size} examples; {metrics.new_examples} new "
        "waiting",
        f"  teacher examples     {metrics.teacher_examples}",
    ]
    if metrics.teacher is not None:
        lines.append(f"  Ollama teacher       {metrics.teacher['state']}"
                     + (f" ({metrics.teacher['last_error']})"
                        if metrics.teacher.get("last_error") else ""))
    if metrics.last_event:
        lines.append(f"  last event           {metrics.last_event}")
    lines += [f"  set aside            {item}" for item in metrics.skipped_versions]
    return "\n".join(lines) + "\n"
