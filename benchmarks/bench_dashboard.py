"""What an open dashboard costs: the CPU of a process that shows the dashboard and feeds
it one resource sample, one status and one thought per second, as the app does.

Each case runs for ``--seconds`` in a fresh subprocess of this script (``--worker``):

- ``shown``: the dashboard is shown, its plots already holding a full window (10 minutes)
  of history, so every redraw draws as many points as it ever will;
- ``hidden``: the same feed with the window hidden (the app's usual state: inputs are
  stored, nothing is drawn);
- ``none``: a Qt process with no dashboard, the floor.

Printed per case: process CPU time over wall time as a percent of one core and of the
whole machine, the redraws done, the RSS at the end and its growth over the run. Qt runs
on the ``offscreen`` platform unless ``--platform`` says otherwise: it paints every frame
in software into memory, as on a desktop, but nothing is composited on a screen.

    python benchmarks/bench_dashboard.py [--seconds 60] [--cases shown,hidden,none] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil


def fake_status(step: int) -> dict[str, Any]:
    """A running daemon's status (build_status's shape) whose learning figures move."""
    return {
        "daemon": {"running": True, "paused": False, "learning": "allowed",
                   "uptime_seconds": float(step)},
        "metrics": {"learning": {
            "examples_learned": 1000 + step, "tokens_learned": 120_000 + 130 * step,
            "loss": 2.0 + 0.3 * math.sin(step / 17),
            "rolling_surprise": 2.4 + 0.2 * math.cos(step / 23),
            "canary_loss": 2.1 + 0.01 * (step % 30)}},
        "memory": {"process": {"current_mb": 850.0 + step % 40, "peak_mb": 900.0,
                               "growth_rate_mb_per_hour": 0.4},
                   "level": "normal", "vram": None},
        "resources": {"mode": "idle", "reason": "no input at the desktop for 5 min",
                      "learning_cpu_budget": 25.0, "learning_cpu_percent": 20.0 + step % 5,
                      "budgets": {"active_cpu_percent": 10.0, "idle_cpu_percent": 25.0,
                                  "ram_warning_mb": 2048, "ram_mb": 4096, "vram_mb": 4096}},
        "checkpoints": {"count": 3, "total_size_mb": 12.5, "latest_version": 7},
        "facts": {"count": 40 + step // 60},
    }


def measure(case: str, seconds: float) -> dict[str, Any]:
    """Run ``case`` for ``seconds`` in this process, with its own Qt event loop."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from nexus_desktop.governor.monitor import ResourceSample
    from nexus_desktop.store.thoughts import Thought
    from nexus_desktop.ui.dashboard import WINDOW_SECONDS, Dashboard

    app = QApplication([])
    process = psutil.Process()
    dashboard = None
    feeder = QTimer()
    steps = 0
    if case != "none":
        # The statuses of the prefill are stamped in the past, the live ones now.
        backdate = [WINDOW_SECONDS]
        dashboard = Dashboard(clock=lambda: time.monotonic() - backdate[0])

        def feed() -> None:
            nonlocal steps
            at = time.monotonic() - backdate[0]
            dashboard.add_sample(ResourceSample(
                at=at, system_cpu_percent=30.0 + 20 * math.sin(steps / 9),
                process_cpu_percent=5.0 + 4 * math.sin(steps / 5), rss_mb=850.0 + steps % 40,
                system_ram_percent=55.0))
            dashboard.show_status(fake_status(steps))
            dashboard.add_thought(Thought(time.time(), "learning",
                                          f"learned {steps % 8 + 1} examples, loss 2.31"))
            steps += 1

        for second in range(int(WINDOW_SECONDS)):
            backdate[0] = WINDOW_SECONDS - second
            feed()
        backdate[0] = 0.0
        if case == "shown":
            dashboard.show()
        feeder.timeout.connect(feed)
        feeder.start(1000)
    app.processEvents()
    redraws_before = dashboard.redraws if dashboard is not None else 0
    rss_before = process.memory_info().rss / 2**20
    cpu_before, wall_before = time.process_time(), time.monotonic()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    cpu = time.process_time() - cpu_before
    wall = time.monotonic() - wall_before
    feeder.stop()
    redraws = (dashboard.redraws - redraws_before) if dashboard is not None else 0
    if dashboard is not None:
        dashboard.close()
    cores = psutil.cpu_count() or 1
    return {
        "case": case, "platform": app.platformName(), "seconds": round(wall, 2),
        "inputs": steps - (int(WINDOW_SECONDS) if dashboard is not None else 0),
        "redraws": redraws,
        "cpu_percent_one_core": 100 * cpu / wall,
        "cpu_percent_machine": 100 * cpu / (wall * cores),
        "cpu_ms_per_redraw": 1000 * cpu / redraws if redraws else None,
        "rss_mb": process.memory_info().rss / 2**20,
        "rss_growth_mb": process.memory_info().rss / 2**20 - rss_before,
    }


def run_worker(case: str, seconds: float, qt_platform: str) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": qt_platform}
    output = subprocess.run([sys.executable, __file__, "--worker", json.dumps([case, seconds])],
                            capture_output=True, text=True, check=True, env=env)
    return json.loads(output.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in
                  (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
                  if line.startswith("model name")), platform.processor())
    import pyqtgraph
    import PySide6

    return {"cpu": model, "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "os": platform.platform(), "python": platform.python_version(),
            "pyside6": PySide6.__version__, "pyqtgraph": pyqtgraph.__version__}


def print_table(out: dict[str, Any]) -> None:
    print(json.dumps(out["machine"]))
    header = ["case", "Qt platform", "seconds", "inputs", "redraws", "CPU % of one core",
              "CPU % of machine", "CPU per redraw", "RSS", "RSS growth"]
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in out["runs"]:
        per_redraw = row["cpu_ms_per_redraw"]
        cells = [row["case"], row["platform"], f"{row['seconds']:.0f}", str(row["inputs"]),
                 str(row["redraws"]), f"{row['cpu_percent_one_core']:.2f}",
                 f"{row['cpu_percent_machine']:.2f}",
                 "-" if per_redraw is None else f"{per_redraw:.1f} ms",
                 f"{row['rss_mb']:.1f} MB", f"{row['rss_growth_mb']:+.2f} MB"]
        print("| " + " | ".join(cells) + " |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--cases", default="shown,hidden,none",
                        help="comma-separated: shown, hidden, none")
    parser.add_argument("--platform", default="offscreen",
                        help="Qt platform plugin (QT_QPA_PLATFORM) of the workers")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not set(args.cases.split(",")) <= {"shown", "hidden", "none"}:
        parser.error("--cases takes shown, hidden and/or none")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        case, seconds = json.loads(args.worker)
        print(json.dumps(measure(case, seconds)))
        return
    out: dict[str, Any] = {"machine": machine(), "runs": []}
    for case in args.cases.split(","):
        print(f"{case} for {args.seconds:g} s...", file=sys.stderr)
        out["runs"].append(run_worker(case, args.seconds, args.platform))
    out["machine"]["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
