"""What the resource monitor itself costs: CPU and RAM of an otherwise idle process that
runs ``ResourceMonitor`` at 1 Hz and, for contrast, at 10 Hz (and, as the floor, the same
idle process with no monitor).

Each rate runs for ``--seconds`` in a fresh subprocess of this script (``--worker``)
whose main thread only waits. Printed per rate: the process's CPU time over the run as a
percent of the whole machine and of one core, the CPU time per sample, the RSS at the
end and its growth over the run, and the monitor's own reading of its process (the mean
``process_cpu_percent`` of its samples) as a cross-check.

    python benchmarks/bench_monitor.py [--seconds 60] [--rates 0,1,10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil


def measure(rate: float, seconds: float) -> dict[str, Any]:
    """Run the monitor at ``rate`` Hz (0: no monitor) for ``seconds`` in this process."""
    from nexus_desktop.governor.monitor import ResourceMonitor

    process = psutil.Process()
    monitor = ResourceMonitor(interval_seconds=1 / rate) if rate > 0 else None
    rss_before = process.memory_info().rss / 2**20
    cpu_before, wall_before = time.process_time(), time.monotonic()
    if monitor is not None:
        monitor.start()
    threading.Event().wait(seconds)
    if monitor is not None:
        monitor.stop()
    cpu = time.process_time() - cpu_before
    wall = time.monotonic() - wall_before
    samples = monitor.history() if monitor is not None else []
    cores = psutil.cpu_count() or 1
    return {
        "rate_hz": rate, "seconds": round(wall, 2), "samples": len(samples),
        "cpu_percent_machine": 100 * cpu / (wall * cores),
        "cpu_percent_one_core": 100 * cpu / wall,
        "cpu_us_per_sample": 1e6 * cpu / len(samples) if samples else None,
        "rss_mb": process.memory_info().rss / 2**20,
        "rss_growth_mb": process.memory_info().rss / 2**20 - rss_before,
        "self_reported_percent": (sum(s.process_cpu_percent for s in samples[1:])
                                  / (len(samples) - 1)) if len(samples) > 1 else None,
    }


def run_worker(rate: float, seconds: float) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--worker", json.dumps([rate, seconds])],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in
                  (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "os": platform.platform(), "python": platform.python_version(),
            "psutil": psutil.__version__}


def print_table(out: dict[str, Any]) -> None:
    print(json.dumps(out["machine"]))
    header = ["rate", "samples", "CPU % of machine", "CPU % of one core", "CPU per sample",
              "RSS", "RSS growth", "monitor's own reading"]
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in out["runs"]:
        per_sample = row["cpu_us_per_sample"]
        own = row["self_reported_percent"]
        cells = [f"{row['rate_hz']:g} Hz" if row["rate_hz"] else "no monitor",
                 str(row["samples"]), f"{row['cpu_percent_machine']:.3f}",
                 f"{row['cpu_percent_one_core']:.3f}",
                 "-" if per_sample is None else f"{per_sample:.0f} µs",
                 f"{row['rss_mb']:.1f} MB", f"{row['rss_growth_mb']:+.2f} MB",
                 "-" if own is None else f"{own:.3f} %"]
        print("| " + " | ".join(cells) + " |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--rates", default="0,1,10",
                        help="sampling rates in Hz, comma-separated; 0 runs no monitor")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        rate, seconds = json.loads(args.worker)
        print(json.dumps(measure(rate, seconds)))
        return
    out: dict[str, Any] = {"machine": machine(), "runs": []}
    for rate in (float(value) for value in args.rates.split(",")):
        print(f"{rate:g} Hz for {args.seconds:g} s...", file=sys.stderr)
        out["runs"].append(run_worker(rate, args.seconds))
    out["machine"]["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
