"""Learning work run under a CPU budget: fewer torch threads, a lower thread priority, and
a pause after each slice long enough that the measured share stays at the budget.

Shared by the daemon (which changes the budget with the mode) and the headless
`nexus-desktop learn` (the idle budget, or ``--cpu-budget``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeVar

import psutil

from nexus_desktop.governor.cpu_budget import CpuBudget, learning_threads, torch_threads
from nexus_desktop.governor.priority import PriorityChange, lowered_priority

T = TypeVar("T")


def cpu_count() -> int:
    return psutil.cpu_count() or 1


def throttled(work: Iterator[T], budget: CpuBudget, wait: Callable[[float], object],
              configured_threads: int = 0, busy_cores: float = 0.0,
              on_priority: Callable[[PriorityChange | None], object] | None = None
              ) -> Iterator[T]:
    """``work``'s slices, each followed by the pause the budget asks for.

    ``wait(seconds)`` pauses and may return early (a user request, a change of mode);
    the work then asks its own ``may_continue`` before the next slice. Threads (fewer
    when other programs keep ``busy_cores`` busy) and priority are set for the whole run
    and restored when it ends; ``on_priority`` is told the change, then None at the end.
    """
    with ExitStack() as stack:
        threads = learning_threads(budget.percent, cpu_count(), configured_threads or None,
                                   busy_cores)
        stack.enter_context(torch_threads(threads))
        change = stack.enter_context(lowered_priority())
        if on_priority is not None:
            on_priority(change)
            stack.callback(on_priority, None)
        budget.begin()
        for item in work:
            yield item
            pause = budget.pause_after_slice()
            if pause > 0:
                wait(pause)
