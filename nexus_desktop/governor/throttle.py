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
from nexus_desktop.governor.priority import lowered_priority

T = TypeVar("T")


def cpu_count() -> int:
    return psutil.cpu_count() or 1


def throttled(work: Iterator[T], budget: CpuBudget, wait: Callable[[float], object],
              configured_threads: int = 0) -> Iterator[T]:
    """``work``'s slices, each followed by the pause the budget asks for.

    ``wait(seconds)`` pauses and may return early (a user request, a change of mode);
    the work then asks its own ``may_continue`` before the next slice. Threads and
    priority are set for the whole run and restored when it ends.
    """
    with ExitStack() as stack:
        threads = learning_threads(budget.percent, cpu_count(), configured_threads or None)
        stack.enter_context(torch_threads(threads))
        stack.enter_context(lowered_priority())
        budget.begin()
        for item in work:
            yield item
            pause = budget.pause_after_slice()
            if pause > 0:
                wait(pause)
