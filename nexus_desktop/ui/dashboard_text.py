"""What the dashboard says about a status (build_status's dict), in words.

Pure functions, without Qt, so every wording is tested without a window. Any key of the
status may be missing or None (no daemon, no model loaded, a feature not built yet): each
function then says what is unknown rather than failing.
"""

from __future__ import annotations

from typing import Any

from nexus_desktop.ui.plots import finite_number

UNKNOWN = "-"


def section(status: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    """The nested dict at ``keys``; an empty dict when any level is missing or not a dict."""
    current: Any = status
    for key in keys:
        current = current.get(key) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def count_of(value: object) -> float | None:
    """A count given as a number or as ``{"count": n}`` (as status["checkpoints"] is)."""
    if isinstance(value, dict):
        value = value.get("count")
    return finite_number(value)


def mb(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:,.0f} MB"


def percent(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:.3g}%"


def mode_line(resources: dict[str, Any]) -> str:
    """One line on what learning may do now, from the governor's mode and reason."""
    mode = resources.get("mode")
    reason = resources.get("reason")
    budget = finite_number(resources.get("learning_cpu_budget"))
    within = f"learning within {budget:g}% CPU" if budget else "not learning"
    because = f" ({reason})" if reason else ""
    if mode is None:
        return "Not learning: background learning has not started yet."
    if mode == "idle":
        return f"Away: {within}{because}"
    if mode == "active":
        return f"At the desktop: {within}{because}"
    if mode == "busy":
        return "Answering you: learning waits until the reply is done"
    if mode == "paused":
        if reason == "paused by you":
            return "Paused by you: press Resume learning to continue"
        return f"Paused: {reason}" if reason else "Paused"
    return f"{str(mode).capitalize()}{because}"


def memory_line(memory: dict[str, Any]) -> tuple[str, str | None]:
    """The process memory in words and its level (normal, warning, critical or None)."""
    process = section(memory, "process")
    current = finite_number(process.get("current_mb"))
    peak = finite_number(process.get("peak_mb"))
    growth = finite_number(process.get("growth_rate_mb_per_hour"))
    level = memory.get("level") if isinstance(memory.get("level"), str) else None
    growing = UNKNOWN if growth is None else f"{growth:+.1f} MB/h"
    text = (f"Memory {mb(current)}, peak {mb(peak)}, growth {growing}, "
            f"level {level or 'not measured yet'}")
    return text, level


def checkpoints_line(checkpoints: dict[str, Any]) -> str:
    count = count_of(checkpoints)
    if count is None:
        return "Checkpoints: no model loaded"
    if count == 0:
        return "Checkpoints: none saved yet"
    size = finite_number(checkpoints.get("total_size_mb"))
    latest = checkpoints.get("latest_version")
    return (f"Checkpoints: {count:.0f} kept"
            + (f" ({size:,.1f} MB)" if size is not None else "")
            + (f", latest version {latest}" if latest is not None else ""))


def learning_line(learning: dict[str, Any]) -> str:
    examples = finite_number(learning.get("examples_learned"))
    tokens = finite_number(learning.get("tokens_learned"))
    losses = ", ".join(
        f"{label} {value:.3f}" for label, value in
        (("loss", finite_number(learning.get("loss"))),
         ("surprise", finite_number(learning.get("rolling_surprise"))),
         ("canary", finite_number(learning.get("canary_loss")))) if value is not None)
    learned = (f"Learned {examples:,.0f} examples, {tokens or 0:,.0f} tokens"
               if examples is not None else "Nothing learned yet")
    return f"{learned}; {losses}" if losses else learned
