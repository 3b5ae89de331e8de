"""The status object (seed 000's structure): daemon, health, model, metrics, memory,
resources, circuit breakers, checkpoints, and the newest thoughts.

Built for the running daemon, or for a headless engine with no daemon (then the
daemon is reported as not running and memory is one reading of this process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psutil

from nexus_desktop.governor.breaker import CLOSED, BreakerState
from nexus_desktop.learning.checkpoints import AdapterCheckpoints
from nexus_desktop.learning.learner import adapter_root

if TYPE_CHECKING:
    from nexus_desktop.daemon import Daemon
    from nexus_desktop.engine import Engine

MB = 1024 * 1024
THOUGHTS_SHOWN = 10
# Growth that the health check reports (seed 000's leak warning level).
LEAK_MB_PER_HOUR = 10.0


def build_status(engine: Engine, daemon: Daemon | None = None) -> dict[str, Any]:
    learning = engine.learning_metrics()
    breakers = _breakers(engine)
    memory = _memory(daemon)
    resources = _resources(engine, daemon)
    status = {
        "daemon": _daemon(engine, daemon),
        "model": _model(engine, learning.adapter_version),
        "metrics": _metrics(engine, learning.as_dict()),
        "memory": memory,
        "resources": resources,
        "circuit_breakers": breakers,
        "checkpoints": _checkpoints(engine),
        "facts": {"count": engine.facts.count_active()},
        "skills": _skills(engine),
        "thoughts": [{"at": t.at, "kind": t.kind, "text": t.text}
                     for t in engine.thoughts.recent(THOUGHTS_SHOWN)],
    }
    status["health"] = _health(breakers, memory, resources)
    return status


def _skills(engine: Engine) -> dict[str, Any]:
    counts = engine.skills.store.count()
    return {"count": counts["active"], "archived": counts["archived"],
            "replays": counts["replays"]}


def _daemon(engine: Engine, daemon: Daemon | None) -> dict[str, Any]:
    running = daemon is not None and daemon.running
    uptime = None
    if running and daemon is not None and daemon.started_at is not None:
        uptime = round(daemon.uptime_seconds(), 1)
    return {"running": running,
            "paused": engine.learning.state in ("paused", "stopped"),
            "learning": engine.learning.state,
            "uptime_seconds": uptime}


def _model(engine: Engine, adapter_version: int | None) -> dict[str, Any]:
    model = engine.loaded_model
    info = model.info if model is not None else None
    return {"name": info.name if info else engine.settings.get("model.source"),
            "loaded": model is not None,
            "device": info.device if info else None,
            "dtype": info.dtype if info else None,
            "parameters": info.parameters if info else None,
            "adapter_version": adapter_version,
            "interactions": engine.requests["total"]}


def _metrics(engine: Engine, learning: dict[str, Any]) -> dict[str, Any]:
    total, failed = engine.requests["total"], engine.requests["failed"]
    return {"total_requests": total, "failed_requests": failed,
            "answered_from_memory": engine.requests["from_memory"],
            "replayed_from_skills": engine.requests["from_skills"],
            "success_rate": round((total - failed) / total, 4) if total else None,
            "learning": learning}


def _memory(daemon: Daemon | None) -> dict[str, Any]:
    if daemon is not None and daemon.memory_status is not None:
        return daemon.memory_status.as_dict()
    rss = psutil.Process().memory_info().rss / MB
    return {"process": {"current_mb": round(rss, 1), "peak_mb": None,
                        "growth_rate_mb_per_hour": None},
            "level": None, "vram": None, "last_gc_at": None, "last_cleanup": None}


def _resources(engine: Engine, daemon: Daemon | None) -> dict[str, Any]:
    get = engine.settings.get
    budgets = {"active_cpu_percent": get("resources.active_cpu_percent"),
               "idle_cpu_percent": get("resources.idle_cpu_percent"),
               "ram_warning_mb": get("resources.ram_warning_mb"),
               "ram_mb": get("resources.ram_mb"),
               "vram_mb": get("resources.vram_mb")}
    result: dict[str, Any] = {"mode": None, "reason": None, "cpu_percent": None,
                              "system_cpu_percent": None, "learning_cpu_budget": None,
                              "learning_cpu_percent": None, "activity": None,
                              "budgets": budgets}
    if daemon is None:
        return result
    decision = daemon.governor.last
    sample = daemon.monitor.latest()
    achieved = daemon.budget.achieved_percent()
    result.update({
        "learning_cpu_budget": daemon.budget.percent,
        "learning_cpu_percent": None if achieved is None else round(achieved, 1),
    })
    if sample is not None and daemon.running:
        # A share needs two samples apart in time: only the running monitor has them.
        result["cpu_percent"] = round(sample.process_cpu_percent, 1)
        result["system_cpu_percent"] = round(sample.system_cpu_percent, 1)
    if decision is not None:
        activity = decision.activity
        result.update({
            "mode": str(decision.mode), "reason": decision.reason,
            "activity": {"source": activity.source, "fallback": activity.fallback,
                         "fallback_reason": daemon.activity.fallback_reason
                         if daemon.activity is not None else None,
                         "idle_seconds": round(activity.idle_seconds, 1)},
        })
    return result


def _breakers(engine: Engine) -> dict[str, Any]:
    states: dict[str, BreakerState] = {name: breaker.snapshot()
                                       for name, breaker in engine.breakers.items()}
    if engine.teacher is not None:
        states["teacher"] = engine.teacher.breaker.snapshot()
    return {name: {"state": state.state, "failures": state.failures,
                   "last_error": state.last_error,
                   "retry_in_seconds": round(state.retry_in_seconds, 1)}
            for name, state in states.items()}


def _checkpoints(engine: Engine) -> dict[str, Any]:
    model = engine.loaded_model
    if model is None:
        return {"count": None, "total_size_mb": None, "latest_version": None}
    root = adapter_root(engine.paths.adapters_dir, model.info.name)
    versions = AdapterCheckpoints(root, engine.settings.get("learning.keep_versions")).versions()
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0
    return {"count": len(versions), "total_size_mb": round(size / MB, 2),
            "latest_version": versions[-1].version if versions else None}


def _health(breakers: dict[str, Any], memory: dict[str, Any],
            resources: dict[str, Any]) -> dict[str, Any]:
    """unhealthy: the user cannot be answered or memory is critical; degraded: something
    in the background is held back."""
    serious: list[str] = []
    minor: list[str] = []
    for name, breaker in breakers.items():
        if breaker["state"] != CLOSED:
            text = f"{name} breaker {breaker['state']}: {breaker['last_error']}"
            (serious if name == "inference" else minor).append(text)
    level = memory.get("level")
    if level == "critical":
        serious.append(f"memory critical: {memory['process']['current_mb']:.0f} MB")
    elif level == "warning":
        minor.append(f"memory high: {memory['process']['current_mb']:.0f} MB")
    growth = memory["process"].get("growth_rate_mb_per_hour")
    if growth is not None and growth > LEAK_MB_PER_HOUR:
        minor.append(f"memory growing: {growth:.0f} MB per hour")
    activity = resources.get("activity")
    if activity is not None and activity["fallback"]:
        minor.append("desktop activity unknown, using activity in the app: "
                     f"{activity['fallback_reason']}")
    status = "unhealthy" if serious else "degraded" if minor else "healthy"
    return {"healthy": not serious and not minor, "status": status,
            "issues": serious + minor}
