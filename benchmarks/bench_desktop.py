"""The desktop app's start-up and responsiveness, on a real X desktop.

    python benchmarks/bench_desktop.py [--learn-seconds 60] [--replies 3] [--json]

Starts a private Xvfb with a tray host (trayer), then runs the whole app (DesktopApp:
tray, chat window, engine host, the bundled model) in this process, the way
`nexus-desktop app` does, in a fresh temporary user folder whose models folder is
prepared once beforehand (a first start's conversion is not what is measured).

Measured:
- **launch to tray icon**: from the start of this process (before torch and Qt are
  imported) until the tray host has embedded the icon (its geometry is known);
- **launch to first possible answer**: until the model is loaded and the daemon runs;
- **GUI stalls**: a 10 ms QTimer heartbeat on the GUI thread; a stall is a gap beyond
  its interval. The longest gap, and the 99th percentile, per phase: model load,
  generation (replies streamed into the open chat window), opening the dashboard,
  learning (the dashboard open, learning at 25% of the machine, the user "at the
  desktop"). Goal: 50 ms or less;
- **quit**: from Quit until every thread has ended (goal: 5 s or less).
"""

from __future__ import annotations

import time

LAUNCHED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import psutil  # noqa: E402

HEARTBEAT_MS = 10
GOAL_STALL_MS = 50


def start_display() -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A private Xvfb (it picks the display number: -displayfd) and trayer on it."""
    for program, package in (("Xvfb", "xvfb"), ("trayer", "trayer")):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} not found: install the Debian package {package}")
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp",
                             "-screen", "0", "1280x800x24"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_end], [], [], 15)
        if not ready:
            raise SystemExit("Xvfb did not start")
        number += os.read(read_end, 16)
    os.close(read_end)
    display = f":{number.strip().decode()}"
    trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                               "request", "--height", "32", "--transparent", "false"],
                              env={**os.environ, "DISPLAY": display},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return display, [trayer, xvfb]


def prepare_models(home: Path) -> None:
    """A first start in a process of its own: the bundled model is converted and its
    number format measured once, as on a user's first day; the benchmark is a later
    start. The message is the conversation's first."""
    subprocess.run([sys.executable, "-m", "nexus_desktop", "ask", "Hello!"], check=True,
                   env={**os.environ, "NEXUS_HOME": str(home)}, capture_output=True)


class Heartbeat:
    """Gaps between ticks of a timer on the GUI thread, by phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.phase = "start"
        self.gaps: dict[str, list[float]] = {}
        # For each stall, where the other threads were just after it: the thread that
        # held the interpreter is usually still at (or just past) the spot.
        self.causes: list[tuple[str, float, list[str]]] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000 - HEARTBEAT_MS
        self.gaps.setdefault(self.phase, []).append(gap)
        self._last = now
        if gap > GOAL_STALL_MS:
            self.causes.append((self.phase, round(gap, 1), other_threads_now()))

    def enter(self, phase: str) -> None:
        self.phase = phase

    def summary(self) -> dict[str, dict[str, float]]:
        result = {}
        for phase, gaps in self.gaps.items():
            ordered = sorted(gaps)
            result[phase] = {"ticks": len(ordered),
                             "longest_stall_ms": round(max(ordered), 1),
                             "p99_stall_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1),
                             "stalls_over_goal": sum(gap > GOAL_STALL_MS for gap in ordered)}
        return result


def other_threads_now() -> list[str]:
    import threading
    import traceback

    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        stack = traceback.extract_stack(frame)[-3:]
        if stack and "wait" not in stack[-1].name and "sleep" not in stack[-1].name:
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                                for f in reversed(stack))
            found.append(f"{names.get(ident, ident)}: {where}")
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch  # noqa: F401  (before Qt, as the app does)
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from nexus_desktop.api.local_channel import instance_name
    from nexus_desktop.config import Settings
    from nexus_desktop.paths import app_paths, point_huggingface_at
    from nexus_desktop.ui.app import DesktopApp
    from nexus_desktop.ui.single_instance import SingleInstance

    paths = app_paths()
    paths.ensure()
    point_huggingface_at(paths)
    settings = Settings(paths.user_config)
    settings.set("generation.max_new_tokens", args.reply_tokens)
    # Learning while the user is at the desktop, at the budget otherwise used when away.
    settings.set("resources.active_cpu_percent", 25)
    if args.learning_off:
        settings.set("learning.enabled", False)
    qt_app = QApplication([])
    qt_app.setApplicationName("Nexus Desktop")
    qt_app.setQuitOnLastWindowClosed(False)
    heartbeat = Heartbeat()
    instance = SingleInstance(instance_name(paths))
    assert instance.claim()
    app = DesktopApp(paths, settings, instance)
    times: dict[str, float] = {}

    def wait_until(condition: Any, timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            QCoreApplication.processEvents()
            time.sleep(0.001)

    ready: list[str] = []
    app.host.model_ready.connect(ready.append)
    heartbeat.enter("model load")
    app.start()
    wait_until(lambda: app.tray.geometry().width() > 0, 60, "the tray icon")
    times["launch_to_tray_icon_s"] = time.perf_counter() - LAUNCHED
    wait_until(lambda: bool(ready), 300, "the model")
    times["launch_to_first_possible_answer_s"] = time.perf_counter() - LAUNCHED

    heartbeat.enter("idle, chat open")
    started = time.perf_counter()
    app.show_chat()
    # Work done on the GUI thread by the call itself (a stall it causes, not one the
    # background threads cause).
    times["show_chat_call_s"] = time.perf_counter() - started
    idle_until = time.perf_counter() + 5
    wait_until(lambda: time.perf_counter() > idle_until, 10, "idle time")

    heartbeat.enter("generation")
    finished: list[Any] = []
    app.host.reply_finished.connect(lambda _turn, result: finished.append(result))
    questions = ["Tell me about the moon.", "What do cats like to eat?",
                 "Write a short poem about rain.", "How do plants grow?",
                 "What is a good name for a dog?"]
    for number in range(args.replies):
        app.host.send(questions[number % len(questions)])
        wait_until(lambda n=number: len(finished) > n, 300, "a reply")
    tokens_per_reply = [len(result.reply) for result in finished]

    # Building the dashboard's plots is GUI work the user asked for: its own phase.
    heartbeat.enter("opening the dashboard")
    started = time.perf_counter()
    app.show_dashboard()
    times["show_dashboard_call_s"] = time.perf_counter() - started
    settle_until = time.perf_counter() + 3
    wait_until(lambda: time.perf_counter() > settle_until, 10, "the dashboard")

    heartbeat.enter("learning, dashboard open")
    app.host.train_start()
    learn_until = time.perf_counter() + args.learn_seconds
    wait_until(lambda: time.perf_counter() > learn_until, args.learn_seconds + 30, "learning")
    engine = app.host.engine
    assert engine is not None
    steps = engine.learning_metrics().steps

    heartbeat.enter("quit")
    started = time.perf_counter()
    app.quit()
    times["quit_s"] = time.perf_counter() - started
    heartbeat.timer.stop()
    return {"times": {key: round(value, 3) for key, value in times.items()},
            "stalls": heartbeat.summary(), "stall_causes": heartbeat.causes,
            "learning_steps": steps,
            "reply_chars": tokens_per_reply}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in
                  (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "logical_cores": psutil.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform.platform(), "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learn-seconds", type=float, default=60)
    parser.add_argument("--replies", type=int, default=3)
    parser.add_argument("--reply-tokens", type=int, default=64)
    parser.add_argument("--learning-off", action="store_true",
                        help="learning switched off: which stalls are learning's")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args)))
        return
    home = Path(tempfile.mkdtemp(prefix="nexus-bench-desktop-"))
    display, helpers = start_display()
    try:
        prepare_models(home)
        env = {key: value for key, value in os.environ.items() if key != "QT_QPA_PLATFORM"}
        env.update({"DISPLAY": display, "NEXUS_HOME": str(home)})
        # A fresh process, so "launch" starts at its first line.
        child = subprocess.run([sys.executable, __file__, "--child", *sys.argv[1:]], env=env,
                               capture_output=True, text=True)
        if child.returncode != 0:
            raise SystemExit(f"the benchmark failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        for process in helpers:
            process.terminate()
            process.wait(10)
        shutil.rmtree(home, ignore_errors=True)
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(json.dumps(result["machine"]))
    for key, value in result["times"].items():
        print(f"{key}: {value} s")
    print(f"| phase | heartbeat ticks | longest stall (ms) | p99 stall (ms) | stalls > "
          f"{GOAL_STALL_MS} ms |\n| --- | --- | --- | --- | --- |")
    for phase, row in result["stalls"].items():
        print(f"| {phase} | {row['ticks']} | {row['longest_stall_ms']} | "
              f"{row['p99_stall_ms']} | {row['stalls_over_goal']} |")
    print(f"learning steps in the learning phase: {result['learning_steps']}")
    print("\nwhere the other threads were after each stall:")
    for phase, gap, threads in result["stall_causes"]:
        print(f"  {phase}: {gap} ms")
        for line in threads:
            print(f"    {line}")


if __name__ == "__main__":
    main()
