"""/api/metrics: the status object as Prometheus text, written by prometheus-client.

A fresh registry per request holds one collector that reads the status it is given, so
the figures are always those of the status at that moment and nothing global is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

MB = 1024 * 1024
BREAKER_STATES = ("closed", "open", "half_open")
HEALTH_STATES = ("healthy", "degraded", "unhealthy")
# (metric name, status key in metrics.learning, help) for the learning figures.
LEARNING_COUNTERS = (
    ("nexus_learning_examples_learned", "examples_learned", "Training examples learned"),
    ("nexus_learning_tokens_learned", "tokens_learned", "Tokens learned"),
    ("nexus_learning_steps", "steps", "Optimizer steps taken"),
    ("nexus_learning_seconds", "learned_seconds", "Seconds spent learning"),
    ("nexus_learning_rollbacks", "rollbacks", "Learning rounds undone by the canary check"),
)
LEARNING_GAUGES = (
    ("nexus_learning_examples_known", "examples_known", "Training examples already known"),
    ("nexus_learning_replay_size", "replay_size", "Examples in the replay buffer"),
    ("nexus_learning_new_examples", "new_examples", "New examples waiting to be learned"),
    ("nexus_learning_loss", "loss", "Loss of the latest learning step"),
    ("nexus_learning_rolling_surprise", "rolling_surprise", "Rolling surprise of new examples"),
    ("nexus_learning_canary_loss", "canary_loss", "Canary loss of the latest check"),
    ("nexus_adapter_version", "adapter_version", "Version of the learned adapter in use"),
)


def render(status: dict[str, Any]) -> tuple[bytes, str]:
    """The body and Content-Type of /api/metrics for ``status``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(status))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _StatusCollector(Collector):
    def __init__(self, status: dict[str, Any]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status
        yield from _daemon(status)
        yield from _resources(status)
        yield from _requests(status["metrics"])
        yield from _learning(status["metrics"]["learning"])
        yield _gauge("nexus_facts", "Facts remembered about the user",
                     status["facts"]["count"])
        skills = status["skills"]
        yield _gauge("nexus_skills", "Skills in use", skills["count"])
        yield _gauge("nexus_skills_archived", "Skills archived", skills["archived"])
        yield _states("nexus_circuit_breaker_state", "Circuit breakers, 1 for the state each "
                      "is in", "breaker", {name: breaker["state"] for name, breaker
                                           in status["circuit_breakers"].items()},
                      BREAKER_STATES)


def _daemon(status: dict[str, Any]) -> Iterator[Metric]:
    daemon, model = status["daemon"], status["model"]
    yield _gauge("nexus_daemon_running", "1 while the always-on loop runs",
                 int(daemon["running"]))
    yield _gauge("nexus_learning_paused", "1 while learning is paused or stopped by the user",
                 int(daemon["paused"]))
    yield _gauge("nexus_uptime_seconds", "Seconds since the loop started",
                 daemon["uptime_seconds"])
    health = status["health"]["status"]
    yield _states("nexus_health", "Health, 1 for the current status", "component",
                  {"nexus": health}, HEALTH_STATES)
    info = InfoMetricFamily("nexus_model", "The language model")
    info.add_metric([], {"name": str(model["name"]), "loaded": str(model["loaded"]).lower(),
                         "device": str(model["device"] or ""),
                         "dtype": str(model["dtype"] or "")})
    yield info


def _resources(status: dict[str, Any]) -> Iterator[Metric]:
    process = status["memory"]["process"]
    yield _gauge("nexus_process_resident_memory_bytes", "Memory the process uses (RSS)",
                 _bytes(process["current_mb"]))
    yield _gauge("nexus_process_resident_memory_peak_bytes", "Highest memory use seen",
                 _bytes(process["peak_mb"]))
    vram = status["memory"]["vram"]
    yield _gauge("nexus_gpu_memory_bytes", "GPU memory the model uses",
                 _bytes(vram["current_mb"]) if vram else None)
    resources = status["resources"]
    yield _gauge("nexus_process_cpu_percent", "CPU the process uses, percent of the machine",
                 resources["cpu_percent"])
    yield _gauge("nexus_system_cpu_percent", "CPU the whole machine uses, percent",
                 resources["system_cpu_percent"])
    yield _gauge("nexus_learning_cpu_budget_percent", "The CPU budget learning keeps to",
                 resources["learning_cpu_budget"])


def _requests(metrics: dict[str, Any]) -> Iterator[Metric]:
    yield _counter("nexus_requests", "Chat turns asked", metrics["total_requests"])
    yield _counter("nexus_requests_failed", "Chat turns that failed",
                   metrics["failed_requests"])
    yield _counter("nexus_answered_from_memory", "Turns answered from remembered facts",
                   metrics["answered_from_memory"])
    yield _counter("nexus_replayed_from_skills", "Turns answered by replaying a kept skill",
                   metrics["replayed_from_skills"])


def _learning(learning: dict[str, Any]) -> Iterator[Metric]:
    for name, key, text in LEARNING_COUNTERS:
        yield _counter(name, text, learning[key])
    for name, key, text in LEARNING_GAUGES:
        yield _gauge(name, text, learning[key])


def _gauge(name: str, text: str, value: float | None) -> GaugeMetricFamily:
    """A gauge; a figure not known yet (None) is left out rather than shown as 0."""
    family = GaugeMetricFamily(name, text)
    if value is not None:
        family.add_metric([], float(value))
    return family


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, text, value=float(value))


def _states(name: str, text: str, label: str, current: dict[str, str],
            states: tuple[str, ...]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=[label, "state"])
    for owner, state in current.items():
        for candidate in states:
            family.add_metric([owner, candidate], float(candidate == state))
    return family


def _bytes(megabytes: float | None) -> float | None:
    return None if megabytes is None else megabytes * MB
