"""`nexus-desktop status`: health, model, memory, resources, breakers and checkpoints.

Without a running app it describes a headless engine on the same data: the daemon is
not running, and the mode, desktop activity and memory are read once, now.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO


def add_parser(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status", help="health, mode, memory, learning and circuit breakers",
        description="What Nexus Desktop is doing and how it is: the daemon, health, the model, "
                    "request and learning metrics, memory, the mode and CPU budgets, circuit "
                    "breakers, adapter checkpoints and the newest thoughts.")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def run(args: argparse.Namespace, engine, out: TextIO = sys.stdout) -> int:  # type: ignore[no-untyped-def]
    from nexus_desktop.daemon import Daemon
    from nexus_desktop.status import build_status

    daemon = Daemon.for_engine(engine)
    try:
        daemon.look_once()
        status = build_status(engine, daemon)
    finally:
        daemon.close_sources()
    if args.json:
        out.write(json.dumps(status, ensure_ascii=False) + "\n")
    else:
        out.write(render(status))
    return 0


def render(status: dict[str, Any]) -> str:
    health, resources, memory = status["health"], status["resources"], status["memory"]
    daemon, model, learning = status["daemon"], status["model"], status["metrics"]["learning"]
    lines = [f"Health: {health['status']}"]
    lines += [f"  - {issue}" for issue in health["issues"]]
    lines.append(f"Daemon: {'running' if daemon['running'] else 'not running'}; learning "
                 f"{daemon['learning']}")
    if resources["mode"] is not None:
        activity = resources["activity"]
        lines.append(f"Mode: {resources['mode']} ({resources['reason']}); activity from "
                     f"{activity['source']}")
    budgets = resources["budgets"]
    lines.append(f"CPU budgets: {budgets['active_cpu_percent']:.0f}% at the desktop, "
                 f"{budgets['idle_cpu_percent']:.0f}% when away")
    process = memory["process"]
    level = f" ({memory['level']})" if memory["level"] else ""
    lines.append(f"Memory: {process['current_mb']:.0f} MB{level}; limit {budgets['ram_mb']} MB")
    lines.append(f"Model: {model['name']}" + ("" if model["loaded"] else " (not loaded)")
                 + (f", adapter v{model['adapter_version']}" if model["adapter_version"]
                    else ""))
    lines.append(f"Learning: {learning['state']}, {learning['examples_learned']} examples "
                 f"learned, {learning['new_examples']} new waiting")
    lines.append("Circuit breakers: " + ", ".join(
        f"{name} {breaker['state']}" for name, breaker in status["circuit_breakers"].items()))
    checkpoints = status["checkpoints"]
    if checkpoints["count"] is not None:
        lines.append(f"Adapter versions: {checkpoints['count']} "
                     f"({checkpoints['total_size_mb']} MB)")
    if status["thoughts"]:
        lines.append("Recent:")
        lines += [f"  {thought['kind']}: {thought['text']}" for thought in status["thoughts"]]
    return "\n".join(lines) + "\n"
