"""The governor and the always-on daemon on the real bundled model: the CPU share learning
really takes under a budget, how fast learning steps aside when the user touches the
desktop, and the process's memory over a long run of chat and learning.

One preparing process tells the app ten facts in ordinary turns (``Engine.turn``,
greedy), which queues their question/answer examples and the exchanges, so there is
learning work. Each part then runs in a fresh process (this script with ``--worker``)
with its own copy of that ``NEXUS_HOME``, whose models folder points at one converted
copy of the bundled model (SmolLM2-135M-Instruct). Every part drives the app's own
``Daemon`` (user jobs first, learning slices under the ``CpuBudget`` of the governor's
mode) with fixed ``Limits`` (``follow_settings=False``), as tests/test_daemon.py does.
Each learner slice is timestamped by wrapping ``Learner.slice``.

1. **Achieved CPU share at budgets of 10, 25 and 50%** (one process per budget): a fake
   desktop that is idle, ``Limits(idle_cpu_percent=budget)``. Once the model is loaded
   and the first learning step has run, the process's CPU time (psutil, user + system,
   all threads) is measured from one slice end to the first slice end at least
   ``--share-seconds`` later (whole cycles of slice and pause) and divided by the wall
   time times the number of logical CPUs. Also reported: the budget's own
   ``achieved_percent()`` (sampled every second; its 10 s window), seconds of learning
   work (the slices' own durations), slices and learning steps, and achieved / budget.
2. **From user input to the learning pause**: a private Xvfb, a ``DesktopActivity``
   wrapping ``X11Activity`` on it, ``Limits(active_cpu_percent=0, idle_cpu_percent=100,
   idle_minutes=0.05)``, so learning runs after 3 s without input and stops at input.
   While slices run (at a random moment within a slice), ``xdotool mousemove``; measured
   from the call: (a) until the governor's mode is "active" (``daemon.mode_changes``) and
   (b) until the last slice ended (learning paused; 0 when none was running). The mouse
   keeps moving every second until learning has stopped, then is left alone until the
   desktop is idle again and slices run; ``--trials`` times.
3. **RSS over a long run of chat and learning**: the app's default limits (10% at the
   desktop, 25% away), background indexing on as in the app; a fake desktop that is
   "away" for 60 s (learning at 25%), then "at the desktop" for 60 s with a chat turn
   submitted through ``Daemon.submit_turn`` every 10 s (learning at 10% between them),
   and so on for ``--soak-minutes``. RSS is sampled every 5 s; reported: RSS at the
   start, end and peak, the least-squares slope in MB/hour over the whole run and over
   its second half, and the ``MemoryManager``'s own growth figure (its slope over the
   last 30 minutes, shown once it has 10 minutes).

Other work on the machine (all CPU time of the machine less this process's) is measured
over each part's measured interval, in percent of one core.

    python benchmarks/bench_governor.py [--quick] [--json] [--models-dir DIR]

The defaults take about 45 minutes on 2 cores, most of it part 3; ``--quick`` (10 s
shares, 2 trials, a 2-minute run) about 5. ``--json`` prints one JSON object on
stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The ten facts of tests/test_learning_proof.py: statement, question, value.
FACTS = [
    ("My favorite color is teal.", "What is my favorite color?", "teal"),
    ("My name is Mira.", "What is my name?", "Mira"),
    ("My sister's name is Ola.", "What is my sister's name?", "Ola"),
    ("I am from Tromsø.", "Where am I from?", "Tromsø"),
    ("My favorite food is pierogi.", "What is my favorite food?", "pierogi"),
    ("My dog's name is Biscuit.", "What is my dog's name?", "Biscuit"),
    ("My birthday is March 3.", "When is my birthday?", "March 3"),
    ("My favorite band is Radiohead.", "What is my favorite band?", "Radiohead"),
    ("My favorite book is Dune.", "What is my favorite book?", "Dune"),
    ("My favorite city is Lisbon.", "What is my favorite city?", "Lisbon"),
]

# Part 3: what the user says while at the desktop, in turn (questions about the facts
# among everyday remarks).
CHAT = [
    "Good morning! I slept well for once.",
    "What is my favorite color?",
    "I went cycling yesterday with a colleague.",
    "Can you suggest something quick for dinner?",
    "Where am I from?",
    "My laptop charger broke, so I borrowed one.",
    "I watched a documentary about octopuses last night.",
    "What is my dog's name?",
    "Work was exhausting today because of a long meeting.",
    "I started learning the guitar last weekend.",
    "What is my favorite book?",
    "I'm planning a trip to Vienna in May.",
    "I planted basil on the balcony this morning.",
    "When is my birthday?",
    "Thanks, that helps. Talk to you later.",
]

PARTS = ("share", "pause", "soak")
MB = 2**20


# --------------------------------------------------------------------------- helpers


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load_average() -> list[float | None]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [None] * 3


def process_cpu() -> float:
    """CPU seconds of this process, all threads, user and system (not its children)."""
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine, all cores."""
    import psutil

    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0)
               for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


@dataclass(frozen=True)
class Mark:
    """A moment: the monotonic clock, this process's CPU and the machine's busy CPU."""

    at: float
    cpu: float
    busy: float

    @classmethod
    def now(cls) -> Mark:
        return cls(time.monotonic(), process_cpu(), machine_busy())


def other_work_pct(start: Mark, end: Mark) -> float:
    """CPU the rest of the machine used between two marks, in percent of one core."""
    wall = end.at - start.at
    other = (end.busy - start.busy) - (end.cpu - start.cpu)
    return round(100.0 * max(other, 0.0) / wall, 1) if wall > 0 else 0.0


def share_pct(start: Mark, end: Mark, cores: int) -> float:
    """This process's share of the whole machine between two marks, in percent."""
    return 100.0 * (end.cpu - start.cpu) / ((end.at - start.at) * cores)


@dataclass(frozen=True)
class Slice:
    start: Mark
    end: Mark
    steps: int  # learning steps after it
    training: bool  # no new examples were waiting: the slice learned, not measured surprise

    @property
    def seconds(self) -> float:
        return self.end.at - self.start.at


class SliceLog:
    """Every learner slice's start and end, by wrapping ``Learner.slice`` (as
    tests/test_daemon.py's SliceCounter counts them). Loads the model."""

    def __init__(self, engine: Any) -> None:
        self.starts: list[Mark] = []
        self.ends: list[Slice] = []
        self.learner = learner = engine.learner()
        original = learner.slice

        def logged(topic: str | None = None) -> bool:
            training = learner.metrics.new_examples == 0
            started = Mark.now()
            self.starts.append(started)
            try:
                return original(topic)
            finally:
                self.ends.append(Slice(started, Mark.now(), learner.metrics.steps, training))

        learner.slice = logged  # type: ignore[method-assign]

    @property
    def running(self) -> bool:
        return len(self.starts) > len(self.ends)


def skip_last_round(slices: SliceLog | None) -> None:
    """At close the engine checks and saves the open round (the canary questions, 10 s or
    more); parts 1 and 2 do not measure it, so it is skipped."""
    if slices is not None:
        slices.learner.finish = lambda: None  # type: ignore[method-assign]


@dataclass
class FakeDesktop:
    """Seconds since the user's last input, set by the benchmark."""

    idle_seconds: float = 3600.0

    def read(self) -> Any:
        from nexus_desktop.governor.activity import ActivityReading

        return ActivityReading(self.idle_seconds, "fake", False)


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def _settings(spec: dict[str, Any]) -> tuple[Any, Any]:
    """The app's paths for this process's NEXUS_HOME, and its settings for the run."""
    from nexus_desktop.config import Settings
    from nexus_desktop.paths import app_paths

    paths = app_paths()
    paths.ensure()
    settings = Settings(paths.user_config)
    settings.set("model.source", "bundled")
    settings.set("model.device", "cpu")
    settings.set("model.dtype", spec["dtype"])
    settings.set("generation.temperature", 0.0)
    settings.set("generation.max_new_tokens", spec["reply_tokens"])
    for key, value in spec.get("settings", {}).items():
        settings.set(key, value)
    return paths, settings


def open_engine(spec: dict[str, Any], background_indexing: bool = False) -> Any:
    from nexus_desktop.engine import Engine

    paths, settings = _settings(spec)
    engine = Engine(paths, settings)
    engine.open(background_indexing=background_indexing)
    return engine


def make_daemon(engine: Any, read_activity: Callable[[], Any], limits: Any,
                activity: Any = None) -> Any:
    """A daemon as ``Daemon.for_engine`` builds it, with fixed limits and no battery."""
    from nexus_desktop.daemon import Daemon
    from nexus_desktop.governor.cpu_budget import CpuBudget
    from nexus_desktop.governor.memory import MemoryManager
    from nexus_desktop.governor.modes import Governor
    from nexus_desktop.governor.monitor import ResourceMonitor

    get = engine.settings.get
    critical = get("resources.ram_mb")
    memory = MemoryManager(warning_mb=min(get("resources.ram_warning_mb"), critical * 0.9),
                           critical_mb=critical, on_event=engine.thoughts.add)
    engine.register_cleanups(memory)
    governor = Governor(read_activity, limits, read_battery=lambda: None)
    return Daemon(engine, governor, ResourceMonitor(), memory,
                  CpuBudget(limits.idle_cpu_percent), activity, follow_settings=False)


def _example_counts(engine: Any) -> dict[str, int]:
    return dict(engine.database.connection().execute(
        "SELECT kind, count(*) FROM training_examples GROUP BY kind"))


# --------------------------------------------------------------------------- workers


def prep_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Tell the facts in ordinary turns; the parts start from copies of this home."""
    from nexus_desktop.engine import TurnResult

    engine = open_engine(spec)
    try:
        started = time.perf_counter()
        engine.load_model()
        load_s = time.perf_counter() - started
        replies = []
        started = time.perf_counter()
        for statement, _, _ in FACTS[:spec["facts"]]:
            result = next(e for e in engine.turn(statement) if isinstance(e, TurnResult))
            replies.append(result.reply)
        return {"facts": spec["facts"], "load_s": load_s,
                "stating_s": time.perf_counter() - started,
                "examples": _example_counts(engine), "replies": replies,
                "dtype": engine.load_model().info.dtype}
    finally:
        engine.close()


def share_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import psutil

    from nexus_desktop.governor.modes import Limits

    budget_percent = spec["budget"]
    cores = psutil.cpu_count() or 1
    engine = open_engine(spec)
    daemon = slices = None
    try:
        slices = SliceLog(engine)
        rss_model = rss_mb()
        desktop = FakeDesktop(3600.0)
        daemon = make_daemon(engine, desktop.read, Limits(idle_cpu_percent=budget_percent))
        started = time.monotonic()
        daemon.start()
        # Learning has begun: the first slice that learned (not the surprise of new
        # examples) has ended. The pause after a slice pays for that slice, so a whole
        # cycle runs from one slice's start to the next one's: measured from the start of
        # the slice after it to the first slice start at least the measured time later.
        wait_for(lambda: any(s.training for s in slices.ends), spec["timeout"],
                 "the first learning slice")
        first_index = len(slices.ends)
        wait_for(lambda: len(slices.starts) > first_index, spec["timeout"], "the next slice")
        warm_up_s = time.monotonic() - started
        begin = slices.starts[first_index]
        due = begin.at + spec["seconds"]
        own: list[float] = []
        while time.monotonic() < due:
            time.sleep(1.0)
            value = daemon.budget.achieved_percent()
            if value is not None:
                own.append(value)
        wait_for(lambda: slices.starts[-1].at >= due, spec["timeout"],
                 "a slice start after the measured time", interval=0.05)
        last_index = next(i for i, m in enumerate(slices.starts) if m.at >= due)
        end = slices.starts[last_index]
        own_at_end = daemon.budget.achieved_percent()
        measured = slices.ends[first_index:last_index]
        achieved = share_pct(begin, end, cores)
        return {
            "budget_percent": budget_percent,
            "cores": cores,
            "achieved_percent": achieved,
            "ratio": achieved / budget_percent,
            "budget_own_mean_percent": statistics.fmean(own) if own else None,
            "budget_own_at_end_percent": own_at_end,
            "budget_effective_percent_at_end": daemon.budget.effective_percent,
            "wall_s": end.at - begin.at,
            "cpu_s": end.cpu - begin.cpu,
            "work_s": sum(s.seconds for s in measured),
            "slices": len(measured),
            "slice_s_median": statistics.median(s.seconds for s in measured),
            "longest_slice_s": max(s.seconds for s in measured),
            "steps": measured[-1].steps - slices.ends[first_index - 1].steps,
            "warm_up_s": warm_up_s,
            "slices_before": first_index,
            "other_work_pct_one_core": other_work_pct(begin, end),
            "rss_model_mb": rss_model,
            "rss_end_mb": rss_mb(),
            "mode": str(daemon.governor.last.mode) if daemon.governor.last else None,
        }
    finally:
        if daemon is not None:
            daemon.stop(timeout=300)
        skip_last_round(slices)
        engine.close()


def start_xvfb() -> tuple[str, subprocess.Popen[bytes]]:
    """A private Xvfb on a free display number (Xvfb picks it: -displayfd), as
    tests/xdisplay.py starts it."""
    program = shutil.which("Xvfb")
    if program is None:
        raise SystemExit("Xvfb not found: install the Debian package xvfb")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [program, "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0",
         "1024x768x24"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + 15
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.1)
            if ready:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
    finally:
        os.close(read_end)
    if not number.strip().isdigit():
        process.terminate()
        raise SystemExit(f"Xvfb did not start (exit code {process.poll()})")
    return f":{number.strip().decode()}", process


def pause_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import psutil

    from nexus_desktop.governor.activity import AppActivity, DesktopActivity
    from nexus_desktop.governor.activity_x11 import X11Activity
    from nexus_desktop.governor.cpu_budget import learning_threads
    from nexus_desktop.governor.modes import Limits

    xdotool = shutil.which("xdotool")
    if xdotool is None:
        raise SystemExit("xdotool not found: install the Debian package xdotool")
    display, xvfb = start_xvfb()
    rng = random.Random(spec["seed"])
    moves = 0

    def move() -> float:
        """Move the mouse (somewhere else each time); when the move was asked for."""
        nonlocal moves
        moves += 1
        asked = time.monotonic()
        subprocess.run([xdotool, "mousemove", str(100 + 200 * (moves % 2)), "300"],
                       check=True, timeout=30, env={**os.environ, "DISPLAY": display})
        return asked

    engine = open_engine(spec)
    daemon = slices = None
    try:
        slices = SliceLog(engine)
        activity = DesktopActivity(X11Activity(display), AppActivity())
        limits = Limits(active_cpu_percent=0.0, idle_cpu_percent=100.0, idle_minutes=0.05)
        daemon = make_daemon(engine, activity.read, limits, activity)
        daemon.start()

        def change_after(mode: str, since: float) -> Any:
            return next((c for c in daemon.mode_changes if c.mode == mode and c.at >= since),
                        None)

        wait_for(lambda: len(slices.ends) >= 3, spec["timeout"], "three slices")
        trials = []
        for number in range(spec["trials"]):
            # A slice has just ended (the waits before end at one); the input comes at a
            # random moment within the next.
            recent = [s.seconds for s in slices.ends[-5:]]
            time.sleep(rng.uniform(0.0, statistics.median(recent)))
            running = slices.running
            mark = Mark.now()
            asked = move()
            xdotool_s = time.monotonic() - asked
            # Keep moving every second until the governor has said "active" and no slice
            # is running any more, and a second past that.
            last_move = asked
            deadline = asked + spec["timeout"]
            quiet_since = None
            while time.monotonic() < deadline:
                if time.monotonic() - last_move >= 1.0:
                    last_move = move()
                stopped = change_after("active", asked) is not None and not slices.running
                if stopped and quiet_since is None:
                    quiet_since = time.monotonic()
                elif not stopped:
                    quiet_since = None
                if quiet_since is not None and time.monotonic() - quiet_since >= 1.0:
                    break
                time.sleep(0.01)
            else:
                raise TimeoutError("learning did not stop after input")
            change = change_after("active", asked)
            ended_after = [s for s in slices.ends if s.end.at >= asked]
            paused_at = max((s.end.at for s in ended_after), default=asked)
            trial = {
                "trial": number + 1,
                "slice_running_at_input": running,
                "to_active_s": change.at - asked,
                "to_pause_s": paused_at - asked,
                "slices_ended_after_input": len(ended_after),
                "slices_started_after_active": sum(1 for m in slices.starts
                                                   if m.at > change.at),
                "xdotool_s": xdotool_s,
                "recent_slice_s": statistics.median(recent),
                "other_work_pct_one_core": other_work_pct(mark, Mark.now()),
            }
            trials.append(trial)
            progress(f"  trial {number + 1}: active after {trial['to_active_s']:.3f} s, "
                     f"learning paused after {trial['to_pause_s']:.3f} s")
            # Left alone: idle again after 3 s, and learning resumes.
            left = time.monotonic()
            wait_for(lambda left=left: change_after("idle", left) is not None,
                     spec["timeout"], "idle again")
            resumed = change_after("idle", left).at
            wait_for(lambda resumed=resumed: slices.ends[-1].end.at > resumed,
                     spec["timeout"], "learning again")
            trial["idle_again_after_s"] = resumed - last_move

        def stats(key: str) -> dict[str, float]:
            values = [t[key] for t in trials]
            return {"median": statistics.median(values), "max": max(values),
                    "min": min(values)}

        return {"display": display, "trials": trials,
                "learning_threads": learning_threads(100.0, psutil.cpu_count() or 1),
                "to_active": stats("to_active_s"),
                "to_pause": stats("to_pause_s"),
                "slice_s_median": statistics.median(s.seconds for s in slices.ends),
                "limits": {"active_cpu_percent": 0.0, "idle_cpu_percent": 100.0,
                           "idle_minutes": 0.05}}
    finally:
        if daemon is not None:
            daemon.stop(timeout=300)
        skip_last_round(slices)
        engine.close()
        xvfb.terminate()
        xvfb.wait(10)


def soak_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import psutil

    from nexus_desktop.engine import TurnResult
    from nexus_desktop.governor.memory import slope_per_hour
    from nexus_desktop.governor.modes import Limits

    cores = psutil.cpu_count() or 1
    engine = open_engine(spec, background_indexing=True)
    daemon = slices = None
    stop = threading.Event()
    samples: list[tuple[float, float]] = []  # (seconds since the start, RSS MB)
    try:
        slices = SliceLog(engine)
        desktop = FakeDesktop(3600.0)
        limits = Limits()  # the app's defaults: 10% at the desktop, 25% away, 2 minutes
        daemon = make_daemon(engine, desktop.read, limits)
        start = Mark.now()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - start.at, rss_mb()))
                stop.wait(spec["rss_every"])

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        daemon.start()
        end_at = start.at + spec["seconds"]
        phases: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        said = 0
        while time.monotonic() < end_at - 1:
            # Away: learning at the idle budget.
            desktop.idle_seconds = 3600.0
            phase_start, steps_before = Mark.now(), engine.learning_metrics().steps
            phase_end = min(end_at, phase_start.at + spec["away_seconds"])
            time.sleep(max(0.0, phase_end - time.monotonic()))
            phase_mark = Mark.now()
            phases.append({"phase": "away", "start_s": phase_start.at - start.at,
                           "seconds": phase_mark.at - phase_start.at,
                           "share_percent": share_pct(phase_start, phase_mark, cores),
                           "steps": engine.learning_metrics().steps - steps_before,
                           "other_work_pct_one_core": other_work_pct(phase_start,
                                                                     phase_mark),
                           "rss_mb": rss_mb()})
            if time.monotonic() >= end_at - 1:
                break
            # At the desktop: a turn every turn_every seconds, learning at the active
            # budget in between.
            desktop.idle_seconds = 0.0
            phase_start, steps_before = Mark.now(), engine.learning_metrics().steps
            phase_end = min(end_at, phase_start.at + spec["desk_seconds"])
            slot = phase_start.at
            while slot < phase_end - 1:
                text = CHAT[said % len(CHAT)]
                said += 1
                asked = time.monotonic()
                result = daemon.submit_turn(text).wait(spec["timeout"])
                turns.append({"at_s": asked - start.at, "seconds": time.monotonic() - asked,
                              "status": result.status if isinstance(result, TurnResult)
                              else None})
                slot += spec["turn_every"]
                time.sleep(max(0.0, min(slot, phase_end) - time.monotonic()))
            time.sleep(max(0.0, phase_end - time.monotonic()))
            phase_mark = Mark.now()
            phases.append({"phase": "desk", "start_s": phase_start.at - start.at,
                           "seconds": phase_mark.at - phase_start.at,
                           "share_percent": share_pct(phase_start, phase_mark, cores),
                           "steps": engine.learning_metrics().steps - steps_before,
                           "other_work_pct_one_core": other_work_pct(phase_start,
                                                                     phase_mark),
                           "rss_mb": rss_mb()})
            progress(f"  {(time.monotonic() - start.at) / 60:.1f} min: RSS {rss_mb():.0f} MB, "
                     f"{len(turns)} turns, {engine.learning_metrics().steps} steps")
        end = Mark.now()
        stop.set()
        sampler.join()
        samples.append((end.at - start.at, rss_mb()))
        status = daemon.memory.status()
        metrics = engine.learning_metrics()
        half = samples[-1][0] / 2
        second_half = [p for p in samples if p[0] >= half]
        durations = [t["seconds"] for t in turns]
        away = [p["share_percent"] for p in phases if p["phase"] == "away"]
        return {
            "minutes": (end.at - start.at) / 60,
            "rss_every_s": spec["rss_every"],
            "rss_start_mb": samples[0][1],
            "rss_end_mb": samples[-1][1],
            "rss_peak_mb": max(y for _, y in samples),
            "rss_min_mb": min(y for _, y in samples),
            "slope_mb_per_hour": slope_per_hour(samples),
            "slope_second_half_mb_per_hour": (slope_per_hour(second_half)
                                              if len(second_half) >= 2 else None),
            "memory_manager": status.as_dict(),
            "samples": [(round(t, 1), round(y, 1)) for t, y in samples],
            "turns": len(turns),
            "turns_complete": sum(1 for t in turns if t["status"] == "complete"),
            "turn_s_median": statistics.median(durations) if durations else None,
            "turn_s_max": max(durations) if durations else None,
            "learning_s": metrics.learned_seconds,
            "steps": metrics.steps,
            "slices": len(slices.ends),
            "adapter_version": metrics.adapter_version,
            "rollbacks": metrics.rollbacks,
            "learning_state": metrics.state,
            "examples": _example_counts(engine),
            "share_percent_whole_run": share_pct(start, end, cores),
            "share_percent_away_mean": statistics.fmean(away) if away else None,
            "other_work_pct_one_core": other_work_pct(start, end),
            "phases": phases,
            "mode_changes": len(daemon.mode_changes),
            "memory_events": [t.text for t in engine.thoughts.recent(1000)
                              if t.kind.startswith("memory")],
        }
    finally:
        stop.set()
        if daemon is not None:
            daemon.stop(timeout=300)
        skip_last_round(slices)
        engine.close()


WORKERS = {"prep": prep_worker, "share": share_worker, "pause": pause_worker,
           "soak": soak_worker}


def worker_main(spec_json: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec = json.loads(spec_json)
    Path(spec["result_file"]).write_text(json.dumps(WORKERS[spec["part"]](spec)))


# --------------------------------------------------------------------------- parent


def home_env(home: Path, models_dir: Path) -> dict[str, str]:
    """A fresh NEXUS_HOME whose data/models points at ``models_dir``."""
    if not (home / "data" / "models").exists():
        (home / "data").mkdir(parents=True)
        (home / "data" / "models").symlink_to(models_dir, target_is_directory=True)
    return {**os.environ, "NEXUS_HOME": str(home), "HF_HOME": str(home / "hf"),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_worker(spec: dict[str, Any], env: dict[str, str], scratch: Path) -> dict[str, Any]:
    result_file = scratch / f"result-{time.monotonic_ns()}.json"
    spec = {**spec, "result_file": str(result_file)}
    started = time.perf_counter()
    code = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        env=env, stdout=sys.stderr, stderr=sys.stderr, check=False).returncode
    if code != 0 or not result_file.is_file():
        raise SystemExit(f"the {spec['part']} worker exited with status {code}")
    result = json.loads(result_file.read_text())
    result["process_s"] = time.perf_counter() - started
    return result


def machine_info() -> dict[str, Any]:
    import psutil
    import torch

    from nexus_desktop.governor.priority import idle_is_reversible

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                cpu = value.strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "nice": os.nice(0),
            "learning_priority": ("SCHED_IDLE" if sys.platform.startswith("linux")
                                  and idle_is_reversible() else "unchanged")}


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True,
                                  cwd=Path(__file__).resolve().parent.parent, check=False)
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--short", "--untracked-files=no")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "changed_files": changed.splitlines() if changed else []}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from nexus_desktop.llm import gguf_cache
    from nexus_desktop.llm.source import bundled_gguf

    out: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_state(), "quick": args.quick, "load_average_at_start": _load_average(),
        "options": {k: v for k, v in vars(args).items() if k not in ("worker", "json")},
    }
    started = time.perf_counter()
    begin = Mark.now()
    scratch = Path(tempfile.mkdtemp(prefix="nexus-governor-bench-"))
    try:
        models_dir = Path(args.models_dir) if args.models_dir else scratch / "models"
        models_dir.mkdir(parents=True, exist_ok=True)
        progress("converting the bundled model (once; kept with --models-dir) ...")
        gguf_cache.converted_model(bundled_gguf(), models_dir)
        common = {"dtype": args.dtype, "reply_tokens": args.reply_tokens,
                  "timeout": args.timeout}
        prepared = scratch / "prepared"
        progress(f"[prep] telling {args.facts} facts in turns")
        out["prep"] = run_worker({**common, "part": "prep", "facts": args.facts},
                                 home_env(prepared, models_dir), scratch)
        progress(f"[prep] {out['prep']['stating_s']:.0f} s; examples "
                 f"{out['prep']['examples']}")

        def env(name: str) -> dict[str, str]:
            home = scratch / name
            shutil.copytree(prepared, home, symlinks=True)
            return home_env(home, models_dir)

        # Rounds are checked and saved every 5 minutes on the clock; parts 1 and 2 are
        # shorter than that anyway, and the canary check must not land in a measurement.
        short = {"learning.checkpoint_minutes": 60.0}
        if "share" in args.parts:
            out["share"] = []
            for budget in args.budgets:
                progress(f"[share] budget {budget:g}%: {args.share_seconds:g} s of whole "
                         "cycles after the first learning step")
                result = run_worker({**common, "part": "share", "budget": budget,
                                     "seconds": args.share_seconds, "settings": short},
                                    env(f"share-{budget:g}"), scratch)
                progress(f"  achieved {result['achieved_percent']:.1f}% "
                         f"(x{result['ratio']:.2f}); budget's own "
                         f"{_n(result['budget_own_mean_percent'])}%; other work "
                         f"{result['other_work_pct_one_core']:.0f}% of one core")
                out["share"].append(result)
        if "pause" in args.parts:
            progress(f"[pause] {args.trials} trials on a private Xvfb")
            out["pause"] = run_worker({**common, "part": "pause", "trials": args.trials,
                                       "seed": 7, "settings": short}, env("pause"), scratch)
        if "soak" in args.parts:
            progress(f"[soak] {args.soak_minutes:g} minutes: {args.away_seconds:g} s away, "
                     f"{args.desk_seconds:g} s at the desktop with a turn every "
                     f"{args.turn_every:g} s")
            out["soak"] = run_worker({**common, "part": "soak",
                                      "seconds": args.soak_minutes * 60,
                                      "away_seconds": args.away_seconds,
                                      "desk_seconds": args.desk_seconds,
                                      "turn_every": args.turn_every,
                                      "rss_every": args.rss_every}, env("soak"), scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["total_s"] = time.perf_counter() - started
    out["other_work_pct_one_core_whole_run"] = other_work_pct(begin, Mark.now())
    out["load_average_at_end"] = _load_average()
    out["machine"] = machine_info()
    out["summary"] = summary(out)
    return out


def summary(out: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "share" in out:
        result["achieved_over_budget"] = {f"{r['budget_percent']:g}%": round(r["ratio"], 3)
                                          for r in out["share"]}
    if "pause" in out:
        p = out["pause"]
        result["to_active_s"] = {k: round(v, 3) for k, v in p["to_active"].items()}
        result["to_pause_s"] = {k: round(v, 3) for k, v in p["to_pause"].items()}
    if "soak" in out:
        s = out["soak"]
        result["rss_slope_mb_per_hour"] = round(s["slope_mb_per_hour"], 1)
        second = s["slope_second_half_mb_per_hour"]
        result["rss_slope_second_half_mb_per_hour"] = (None if second is None
                                                       else round(second, 1))
        result["rss_goal_met"] = second is not None and second < 10.0
    return result


# --------------------------------------------------------------------------- printing


def _n(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return f"{value:,.{digits}f}"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def print_report(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(f"Nexus Desktop governor benchmark, {out['date']}, commit {out['commit']}"
          + (" (--quick)" if out["quick"] else ""))
    if out["changed_files"]:
        print(f"uncommitted changes: {', '.join(out['changed_files'])}")
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} "
          f"physical cores, {m['ram_gb']} GiB RAM, torch {m['torch']}, nice {m['nice']}, "
          f"learning at {m['learning_priority']}")
    print(f"load average at start {out['load_average_at_start']}, at end "
          f"{out['load_average_at_end']}; other work {out['other_work_pct_one_core_whole_run']}"
          f"% of one core over the run; whole run {out['total_s'] / 60:.1f} min")
    prep = out["prep"]
    print(f"{prep['facts']} facts told in {prep['stating_s']:.0f} s ({prep['dtype']}); "
          f"examples {prep['examples']}")
    if "share" in out:
        print("\n1. Achieved CPU share (whole cycles, psutil; % of the whole machine)")
        rows = [["budget", "achieved", "achieved / budget", "budget's own (mean)",
                 "measured s", "work s", "slices", "steps", "longest slice s",
                 "other work % of a core"]]
        for r in out["share"]:
            rows.append([f"{r['budget_percent']:g}%", f"{r['achieved_percent']:.1f}%",
                         f"{r['ratio']:.2f}", _n(r["budget_own_mean_percent"]) + "%",
                         _n(r["wall_s"], 0), _n(r["work_s"]), str(r["slices"]),
                         str(r["steps"]), _n(r["longest_slice_s"]),
                         _n(r["other_work_pct_one_core"], 0)])
        _table(rows)
    if "pause" in out:
        p = out["pause"]
        print(f"\n2. From input (xdotool mousemove on {p['display']}) to the learning pause "
              f"(idle budget 100%: {p['learning_threads']} learning threads)")
        rows = [["trial", "slice running", "to mode active s", "to learning paused s",
                 "slices started after", "other work % of a core"]]
        for t in p["trials"]:
            rows.append([str(t["trial"]), "yes" if t["slice_running_at_input"] else "no",
                         _n(t["to_active_s"], 3), _n(t["to_pause_s"], 3),
                         str(t["slices_started_after_active"]),
                         _n(t["other_work_pct_one_core"], 0)])
        _table(rows)
        print(f"mode active: median {p['to_active']['median']:.3f} s, max "
              f"{p['to_active']['max']:.3f} s; learning paused: median "
              f"{p['to_pause']['median']:.3f} s, max {p['to_pause']['max']:.3f} s; "
              f"median slice {p['slice_s_median']:.2f} s")
    if "soak" in out:
        s = out["soak"]
        growth = s["memory_manager"]["process"]["growth_rate_mb_per_hour"]
        print(f"\n3. RSS over {s['minutes']:.1f} minutes of chat and learning "
              f"(sampled every {s['rss_every_s']:g} s)")
        _table([["start MB", "end MB", "peak MB", "slope MB/h", "second half MB/h",
                 "MemoryManager MB/h"],
                [_n(s["rss_start_mb"], 0), _n(s["rss_end_mb"], 0), _n(s["rss_peak_mb"], 0),
                 _n(s["slope_mb_per_hour"]), _n(s["slope_second_half_mb_per_hour"]),
                 _n(growth)]])
        print(f"{s['turns']} turns ({s['turns_complete']} complete; median "
              f"{_n(s['turn_s_median'])} s, max {_n(s['turn_s_max'])} s), "
              f"{s['learning_s']:.0f} s of learning, {s['steps']} steps, adapter version "
              f"{s['adapter_version']}, {s['rollbacks']} rollbacks; share while away "
              f"{_n(s['share_percent_away_mean'])}% (budget 25%); other work "
              f"{s['other_work_pct_one_core']:.0f}% of one core")
        print(f"goal under 10 MB/h (second half): "
              f"{'met' if out['summary']['rss_goal_met'] else 'missed'}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the tables")
    parser.add_argument("--quick", action="store_true",
                        help="a short run to check that everything works (about 5 minutes)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
                        help="which parts to run (default: share,pause,soak)")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="keep the converted model here between runs (default: temporary)")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"),
                        help="model.dtype (default bfloat16)")
    parser.add_argument("--facts", type=int,
                        help="facts told before the parts, 1 to 10 (default 10)")
    parser.add_argument("--reply-tokens", type=int, default=48,
                        help="generation.max_new_tokens for every turn (default 48)")
    parser.add_argument("--budgets", default="10,25,50",
                        type=lambda text: [float(b) for b in text.split(",") if b.strip()],
                        help="part 1: CPU budgets in percent of the machine (default 10,25,50)")
    parser.add_argument("--share-seconds", type=float,
                        help="part 1: least measured time per budget (default 60)")
    parser.add_argument("--trials", type=int, help="part 2: mouse moves (default 5)")
    parser.add_argument("--soak-minutes", type=float,
                        help="part 3: length of the run (default 30)")
    parser.add_argument("--away-seconds", type=float, default=60.0,
                        help="part 3: seconds away (learning at 25%%) per cycle (default 60)")
    parser.add_argument("--desk-seconds", type=float, default=60.0,
                        help="part 3: seconds at the desktop per cycle (default 60)")
    parser.add_argument("--turn-every", type=float, default=10.0,
                        help="part 3: seconds between chat turns at the desktop (default 10)")
    parser.add_argument("--rss-every", type=float, default=5.0,
                        help="part 3: seconds between RSS samples (default 5)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="the longest wait for any one event (default 900 s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = {"share_seconds": (10.0, 60.0), "trials": (2, 5), "soak_minutes": (2.0, 30.0),
                "facts": (3, len(FACTS))}
    for name, (short, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, short if args.quick else full)
    if not set(args.parts) <= set(PARTS):
        parser.error("--parts takes share, pause and soak")
    if not 1 <= args.facts <= len(FACTS):
        parser.error(f"--facts must be from 1 to {len(FACTS)}")
    if not args.budgets or not all(0 < b <= 100 for b in args.budgets):
        parser.error("--budgets must be above 0 and at most 100")
    if args.trials < 1 or args.share_seconds <= 0 or args.soak_minutes <= 0:
        parser.error("--trials, --share-seconds and --soak-minutes must be positive")
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
