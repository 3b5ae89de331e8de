"""The dashboard's live plots: bounded numpy ring buffers and the pyqtgraph plots that show
the last few minutes of them, with time as "seconds ago" on the x axis."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a real, finite number; None otherwise (missing keys,
    None, NaN from a diverged round, a bool or text where a number was expected)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class RingSeries:
    """The newest ``capacity`` (time, value) points, oldest first.

    Each point is written twice, at ``i`` and ``i + capacity``, so the kept points are
    always one contiguous slice: reading them at every redraw copies nothing and the
    memory never grows, however long the app runs.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._times = np.zeros(2 * capacity)
        self._values = np.zeros(2 * capacity)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, at: float, value: float) -> None:
        for index in (self._next, self._next + self.capacity):
            self._times[index] = at
            self._values[index] = value
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def since(self, start: float) -> tuple[np.ndarray, np.ndarray]:
        """Times and values of the kept points at ``start`` or later (read-only views)."""
        end = self._next + self.capacity
        times = self._times[end - self._size:end]
        values = self._values[end - self._size:end]
        first = int(np.searchsorted(times, start, side="left"))
        return times[first:], values[first:]


# Distinct on the dark pyqtgraph background and for the common colour-vision deficiencies.
PALETTE = ("#4e9af1", "#f5a623", "#7ed321", "#d0021b", "#bd10e0")


class TimePlot(pg.PlotWidget):
    """One plot of named curves over the last ``window_seconds``.

    The x range is fixed to the window, so with clip-to-view and peak downsampling a
    redraw only touches the points on screen. Thin lines and no grid: in software
    painting, 2-pixel lines and grid lines repainted with every scroll made a redraw
    eight times as costly (measured while writing benchmarks/bench_dashboard.py). The
    mouse does not pan or zoom: this is a monitor, and a plot the user zoomed away from
    would stop showing the present.
    """

    def __init__(self, title: str, unit: str, window_seconds: float,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_seconds = window_seconds
        self.curves: dict[str, pg.PlotDataItem] = {}
        item = self.getPlotItem()
        item.setTitle(title)
        item.setLabel("left", unit)
        item.setLabel("bottom", "seconds ago")
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.enableAutoRange(x=False, y=True)
        item.setXRange(-window_seconds, 0, padding=0)
        self._legend = item.addLegend(offset=(5, 5))

    def add_curve(self, name: str, label: str) -> pg.PlotDataItem:
        pen = pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=1)
        curve = self.getPlotItem().plot(name=label, pen=pen)
        self.curves[name] = curve
        return curve

    def show_series(self, name: str, series: RingSeries, now: float) -> None:
        """Plot the points of ``series`` in the window ending at ``now``, as seconds ago."""
        times, values = series.since(now - self.window_seconds)
        self.curves[name].setData(times - now, values)
