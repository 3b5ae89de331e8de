"""The dashboard: the window that shows what Nexus Desktop is doing - resource use,
learning curves, limits, memory and the thought stream - with the learning controls.

It knows nothing of the engine: the app feeds it samples, statuses and thoughts on the GUI
thread and connects its signals. Inputs only store data and mark the window dirty; a
500 ms timer redraws when dirty, so however often data comes the window redraws at most
twice a second, and it does not redraw at all while hidden (the timer runs only while
the window is shown).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.governor.monitor import ResourceSample
from nexus_desktop.store.thoughts import Thought
from nexus_desktop.ui import dashboard_text as words
from nexus_desktop.ui.plots import RingSeries, TimePlot, finite_number
from nexus_desktop.ui.resource_bars import (
    CRITICAL_COLOUR,
    NORMAL_COLOUR,
    WARNING_COLOUR,
    LimitBar,
    Mark,
)

REDRAW_INTERVAL_MS = 500
WINDOW_SECONDS = 600.0
# Ring capacity per second of window: inputs come about once a second, so twice that
# leaves room for bursts while still bounding memory.
POINTS_PER_SECOND = 2
THOUGHTS_KEPT = 200
LEVEL_COLOURS = {"normal": NORMAL_COLOUR, "warning": WARNING_COLOUR,
                 "critical": CRITICAL_COLOUR}

# (series, plot, label): every curve and the plot it is drawn in.
CURVES = (
    ("process_cpu", "cpu", "Nexus Desktop"), ("system_cpu", "cpu", "whole machine"),
    ("rss", "ram", "resident memory"),
    ("vram", "vram", "GPU memory"),
    ("loss", "loss", "loss"), ("surprise", "loss", "rolling surprise"),
    ("canary", "canary", "canary loss"),
    ("examples", "experience", "examples learned"), ("facts", "experience", "facts"),
    ("skills", "experience", "skills"),
    ("tokens", "tokens", "tokens learned"),
)
PLOTS = (("cpu", "CPU", "% of machine"), ("ram", "RAM", "MB"), ("loss", "Loss and surprise", ""),
         ("canary", "Canary loss", ""), ("experience", "Experience", "count"),
         ("tokens", "Tokens learned", "tokens"), ("vram", "VRAM", "MB"))


class Dashboard(QWidget):
    """The live dashboard window. ``clock`` gives the time statuses are stamped with; it
    must be the resource sampler's clock (monotonic seconds), as samples carry their own."""

    pause_requested = Signal()
    resume_requested = Signal()
    train_start_requested = Signal(str)
    train_stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.setObjectName("dashboard")
        self.setWindowTitle("Nexus Desktop - Dashboard")
        self._clock = clock
        self.redraws = 0
        self._dirty = False
        self._paused = False
        self._status: dict[str, Any] = {}
        self._latest_sample: ResourceSample | None = None
        self._new_thoughts: collections.deque[Thought] = collections.deque(maxlen=THOUGHTS_KEPT)
        capacity = int(window_seconds * POINTS_PER_SECOND)
        self.series = {name: RingSeries(capacity) for name, _, _ in CURVES}
        self.plots = {key: TimePlot(title, unit, window_seconds, self)
                      for key, title, unit in PLOTS}
        for key, plot in self.plots.items():
            plot.setObjectName(f"{key}Plot")
        for name, key, label in CURVES:
            self.plots[key].add_curve(name, label)
        self.plots["vram"].hide()
        self._timer = QTimer(self)
        self._timer.setObjectName("dashboardRedrawTimer")
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self._build()
        self._show_status()

    def curve_data(self, name: str) -> tuple[Any, Any]:
        """The x (seconds ago) and y data last drawn for the curve ``name`` (see CURVES)."""
        plot = next(key for series, key, _ in CURVES if series == name)
        return self.plots[plot].curves[name].getOriginalDataset()

    # ----------------------------------------------------------------- layout

    def _build(self) -> None:
        self.mode_label = self._label("modeLine")
        self.mode_label.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.pause_button = QPushButton("Pause learning", self)
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.topic_field = QLineEdit(self)
        self.topic_field.setObjectName("trainTopic")
        self.topic_field.setPlaceholderText("Topic to train on (empty: what it has)")
        self.topic_field.returnPressed.connect(self._on_train_clicked)
        self.train_button = QPushButton("Train", self)
        self.train_button.setObjectName("trainButton")
        self.train_button.clicked.connect(self._on_train_clicked)
        self.stop_button = QPushButton("Stop training", self)
        self.stop_button.setObjectName("stopTrainingButton")
        self.stop_button.clicked.connect(self.train_stop_requested)
        controls = QHBoxLayout()
        for widget in (self.pause_button, self.topic_field, self.train_button, self.stop_button):
            controls.addWidget(widget)

        grid = QGridLayout()
        for index, plot in enumerate(self.plots.values()):
            grid.addWidget(plot, index // 2, index % 2)

        self.bars = {name: LimitBar(self) for name in ("cpu", "ram", "vram")}
        for name, bar in self.bars.items():
            bar.setObjectName(f"{name}Bar")
        self.bars["vram"].hide()
        self.memory_label = self._label("memoryStatus")
        self.checkpoints_label = self._label("checkpointsLine")
        self.learning_label = self._label("learningLine")
        self.thought_list = QListWidget(self)
        self.thought_list.setObjectName("thoughtStream")
        self.thought_list.setWordWrap(True)
        side = QVBoxLayout()
        for widget in (*self.bars.values(), self.memory_label, self.checkpoints_label,
                       self.learning_label, QLabel("Thoughts (newest first)", self),
                       self.thought_list):
            side.addWidget(widget)

        body = QHBoxLayout()
        body.addLayout(grid, stretch=3)
        body.addLayout(side, stretch=1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode_label)
        layout.addLayout(controls)
        layout.addLayout(body)
        self.resize(1280, 820)

    def _label(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        return label

    # ----------------------------------------------------------------- inputs

    def add_sample(self, sample: ResourceSample) -> None:
        self._latest_sample = sample
        self.series["process_cpu"].append(sample.at, sample.process_cpu_percent)
        self.series["system_cpu"].append(sample.at, sample.system_cpu_percent)
        self.series["rss"].append(sample.at, sample.rss_mb)
        if sample.vram_mb is not None:
            self.series["vram"].append(sample.at, sample.vram_mb)
        self._dirty = True

    def show_status(self, status: dict[str, Any]) -> None:
        self._status = status
        now = self._clock()
        learning = words.section(status, "metrics", "learning")
        values = {"loss": learning.get("loss"), "surprise": learning.get("rolling_surprise"),
                  "canary": learning.get("canary_loss"),
                  "examples": learning.get("examples_learned"),
                  "tokens": learning.get("tokens_learned"),
                  "facts": words.count_of(status.get("facts")),
                  "skills": words.count_of(status.get("skills"))}
        for name, value in values.items():
            number = finite_number(value)
            if number is not None:
                self.series[name].append(now, number)
        self._dirty = True

    def add_thought(self, thought: Thought) -> None:
        self._new_thoughts.append(thought)
        self._dirty = True

    # ----------------------------------------------------------------- redraw

    def refresh(self) -> bool:
        """Redraw everything when new data came since the last redraw (the timer's slot)."""
        if not self._dirty:
            return False
        self._dirty = False
        self.redraws += 1
        now = self._clock()
        for name, key, _ in CURVES:
            self.plots[key].show_series(name, self.series[name], now)
        vram_times, _ = self.series["vram"].since(now - self.plots["vram"].window_seconds)
        self._set_shown(self.plots["vram"], len(vram_times) > 0)
        self._show_status()
        self._show_new_thoughts()
        return True

    def _show_status(self) -> None:
        status = self._status
        resources = words.section(status, "resources")
        self.mode_label.setText(words.mode_line(resources))
        self._paused = bool(words.section(status, "daemon").get("paused"))
        self.pause_button.setText("Resume learning" if self._paused else "Pause learning")
        text, level = words.memory_line(words.section(status, "memory"))
        self.memory_label.setText(text)
        colour = LEVEL_COLOURS.get(level or "")
        style = f"color: {colour.name()};" if colour else ""
        if self.memory_label.styleSheet() != style:  # restyling is costly: only on change
            self.memory_label.setStyleSheet(style)
        self.checkpoints_label.setText(
            words.checkpoints_line(words.section(status, "checkpoints")))
        self.learning_label.setText(
            words.learning_line(words.section(status, "metrics", "learning")))
        self._show_bars(resources, words.section(status, "memory"))

    def _show_bars(self, resources: dict[str, Any], memory: dict[str, Any]) -> None:
        budgets = words.section(resources, "budgets")
        sample = self._latest_sample
        active = finite_number(budgets.get("active_cpu_percent"))
        idle = finite_number(budgets.get("idle_cpu_percent"))
        used = finite_number(resources.get("learning_cpu_percent"))
        allowed = finite_number(resources.get("learning_cpu_budget"))
        marks = tuple(Mark(value, label) for value, label in
                      ((active, "limit at the desktop"), (idle, "limit while away"))
                      if value is not None)
        top = max([used or 0.0, allowed or 0.0, *(mark.value for mark in marks), 1.0])
        over = used is not None and allowed is not None and used > allowed
        self.bars["cpu"].set_reading(
            used, min(100.0, top * 1.5), marks,
            f"Learning CPU {words.percent(used)} of {words.percent(allowed)} allowed",
            WARNING_COLOUR if over else NORMAL_COLOUR)

        current = finite_number(words.section(memory, "process").get("current_mb"))
        if current is None and sample is not None:
            current = sample.rss_mb
        warning = finite_number(budgets.get("ram_warning_mb"))
        limit = finite_number(budgets.get("ram_mb"))
        marks = tuple(Mark(value, label) for value, label in
                      ((warning, "tidying up starts"), (limit, "limit")) if value is not None)
        top = max([current or 0.0, *(mark.value for mark in marks), 1.0])
        level = memory.get("level")
        self.bars["ram"].set_reading(
            current, top * 1.1, marks, f"RAM {words.mb(current)} of {words.mb(limit)}",
            LEVEL_COLOURS.get(level if isinstance(level, str) else "", NORMAL_COLOUR))

        vram = finite_number(words.section(memory, "vram").get("current_mb"))
        if vram is None and sample is not None:
            vram = sample.vram_mb
        self._set_shown(self.bars["vram"], vram is not None)
        if vram is not None:
            # resources.vram_mb 0 means no limit but the card's own memory.
            vram_limit = finite_number(budgets.get("vram_mb")) or (
                sample.vram_total_mb if sample is not None else None)
            marks = (Mark(vram_limit, "limit"),) if vram_limit else ()
            self.bars["vram"].set_reading(
                vram, max(vram, vram_limit or 0.0, 1.0) * 1.1, marks,
                f"VRAM {words.mb(vram)} of {words.mb(vram_limit)}")

    @staticmethod
    def _set_shown(widget: QWidget, shown: bool) -> None:
        if widget.isHidden() == shown:
            widget.setVisible(shown)

    def _show_new_thoughts(self) -> None:
        while self._new_thoughts:
            thought = self._new_thoughts.popleft()
            clock = time.strftime("%H:%M:%S", time.localtime(thought.at))
            item = QListWidgetItem(f"{clock}  {thought.text}")
            item.setToolTip(f"{thought.kind}, {time.ctime(thought.at)}")
            self.thought_list.insertItem(0, item)
        while self.thought_list.count() > THOUGHTS_KEPT:
            self.thought_list.takeItem(self.thought_list.count() - 1)

    # ----------------------------------------------------------------- events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        # Closing the window hides it too, so this also stops the timer on close.
        self._timer.stop()
        super().hideEvent(event)

    def _on_pause_clicked(self) -> None:
        (self.resume_requested if self._paused else self.pause_requested).emit()

    def _on_train_clicked(self) -> None:
        self.train_start_requested.emit(self.topic_field.text().strip())
