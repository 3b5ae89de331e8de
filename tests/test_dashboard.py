"""The dashboard: plots fed by samples and statuses, bounded history, coalesced redraws,
the resource bars and words, the thought stream and the learning controls."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from nexus_desktop.config import Settings
from nexus_desktop.engine import Engine
from nexus_desktop.governor.memory import MemoryStatus
from nexus_desktop.governor.monitor import ResourceSample
from nexus_desktop.learning.metrics import LearningMetrics
from nexus_desktop.paths import AppPaths
from nexus_desktop.status import build_status
from nexus_desktop.store.thoughts import Thought
from nexus_desktop.ui import dashboard_text as words
from nexus_desktop.ui.dashboard import THOUGHTS_KEPT, Dashboard
from nexus_desktop.ui.plots import RingSeries
from nexus_desktop.ui.resource_bars import CRITICAL_COLOUR, WARNING_COLOUR

WINDOW = 60.0


@dataclass
class Clock:
    """The dashboard's clock, moved by the test (monotonic seconds, as samples carry)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dashboard(qtbot: QtBot, clock: Clock) -> Dashboard:
    widget = Dashboard(window_seconds=WINDOW, clock=clock)
    qtbot.addWidget(widget)
    return widget


def sample(at: float, cpu: float = 5.0, rss: float = 400.0,
           vram: float | None = None) -> ResourceSample:
    return ResourceSample(at=at, system_cpu_percent=cpu * 4, process_cpu_percent=cpu,
                          rss_mb=rss, system_ram_percent=50.0, vram_mb=vram,
                          vram_total_mb=None if vram is None else 8192.0)


def full_status(*, paused: bool = False, loss: float | None = 2.5, examples: int = 40,
                level: str = "normal", vram: float | None = None) -> dict[str, Any]:
    """A status as build_status makes it for a running daemon; the learning and memory
    parts come from the real LearningMetrics and MemoryStatus."""
    learning = LearningMetrics(state="learning", examples_learned=examples,
                               tokens_learned=examples * 100, loss=loss,
                               rolling_surprise=3.0, canary_loss=2.0).as_dict()
    memory = MemoryStatus(current_mb=900.0, peak_mb=950.0, growth_mb_per_hour=1.5,
                          level=level, vram_mb=vram, vram_peak_mb=vram, last_gc_at=None,
                          last_cleanup=None).as_dict()
    return {
        "daemon": {"running": True, "paused": paused,
                   "learning": "paused" if paused else "allowed", "uptime_seconds": 12.0},
        "metrics": {"learning": learning},
        "memory": memory,
        "resources": {"mode": "paused" if paused else "idle",
                      "reason": "paused by you" if paused else "no input at the desktop for 5 min",
                      "learning_cpu_budget": 0.0 if paused else 25.0,
                      "learning_cpu_percent": 8.0,
                      "budgets": {"active_cpu_percent": 10.0, "idle_cpu_percent": 25.0,
                                  "ram_warning_mb": 2048, "ram_mb": 4096, "vram_mb": 4096}},
        "checkpoints": {"count": 3, "total_size_mb": 12.5, "latest_version": 7},
        "facts": {"count": 12},
    }


# --------------------------------------------------------------------- ring buffer


def test_ring_series_keeps_the_newest_points_in_order():
    series = RingSeries(5)
    for at in range(12):
        series.append(float(at), at * 10.0)
    times, values = series.since(-math.inf)
    assert len(series) == 5
    assert times.tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert values.tolist() == [70.0, 80.0, 90.0, 100.0, 110.0]
    assert series.since(9.5)[0].tolist() == [10.0, 11.0]


def test_ring_series_before_it_is_full():
    series = RingSeries(4)
    assert series.since(0.0)[0].size == 0
    series.append(1.0, 2.0)
    assert series.since(0.0)[1].tolist() == [2.0]


# --------------------------------------------------------------------- plots


def test_samples_reach_the_resource_plots(dashboard: Dashboard, clock: Clock):
    for step in range(5):
        dashboard.add_sample(sample(clock.now - 4 + step, cpu=step, rss=400.0 + step))
    assert dashboard.refresh()
    x, y = dashboard.curve_data("process_cpu")
    assert x.tolist() == [-4.0, -3.0, -2.0, -1.0, 0.0]
    assert y.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert dashboard.curve_data("system_cpu")[1].tolist() == [0.0, 4.0, 8.0, 12.0, 16.0]
    assert dashboard.curve_data("rss")[1].tolist() == [400.0, 401.0, 402.0, 403.0, 404.0]


def test_statuses_reach_the_learning_plots(dashboard: Dashboard, clock: Clock):
    dashboard.show_status(full_status(loss=2.5, examples=40))
    clock.now += 1
    dashboard.show_status(full_status(loss=2.25, examples=42))
    dashboard.refresh()
    x, y = dashboard.curve_data("loss")
    assert (x.tolist(), y.tolist()) == ([-1.0, 0.0], [2.5, 2.25])
    assert dashboard.curve_data("surprise")[1].tolist() == [3.0, 3.0]
    assert dashboard.curve_data("canary")[1].tolist() == [2.0, 2.0]
    assert dashboard.curve_data("examples")[1].tolist() == [40.0, 42.0]
    assert dashboard.curve_data("tokens")[1].tolist() == [4000.0, 4200.0]
    assert dashboard.curve_data("facts")[1].tolist() == [12.0, 12.0]
    # No skills in the status yet: their curve stays empty.
    assert dashboard.curve_data("skills") == (None, None)


def test_skills_are_drawn_when_the_status_has_them(dashboard: Dashboard):
    dashboard.show_status({**full_status(), "skills": 4})
    dashboard.refresh()
    assert dashboard.curve_data("skills")[1].tolist() == [4.0]


def test_the_window_stays_bounded_after_many_samples(dashboard: Dashboard, clock: Clock):
    start = clock.now
    for step in range(5000):
        dashboard.add_sample(sample(start + step, cpu=step % 7))
        clock.now = start + step
    dashboard.refresh()
    capacity = dashboard.series["process_cpu"].capacity
    assert len(dashboard.series["process_cpu"]) == capacity < 5000
    x, y = dashboard.curve_data("process_cpu")
    assert len(x) == WINDOW + 1  # one sample a second, both ends of the window included
    assert x.min() == -WINDOW and x.max() == 0.0
    assert y[-1] == 4999 % 7


def test_missing_values_are_left_out_not_drawn_as_zero(dashboard: Dashboard, clock: Clock):
    dashboard.show_status(full_status(loss=2.0))
    clock.now += 1
    dashboard.show_status(full_status(loss=None))
    clock.now += 1
    dashboard.show_status(full_status(loss=math.nan))  # a diverged round's loss
    dashboard.refresh()
    x, y = dashboard.curve_data("loss")
    assert (x.tolist(), y.tolist()) == ([-2.0], [2.0])


def test_the_vram_plot_shows_only_with_vram_samples(dashboard: Dashboard, clock: Clock):
    dashboard.add_sample(sample(clock.now))
    dashboard.refresh()
    assert dashboard.plots["vram"].isHidden()
    assert dashboard.bars["vram"].isHidden()
    dashboard.add_sample(sample(clock.now, vram=1500.0))
    dashboard.refresh()
    assert not dashboard.plots["vram"].isHidden()
    assert not dashboard.bars["vram"].isHidden()
    assert dashboard.curve_data("vram")[1].tolist() == [1500.0]
    # resources.vram_mb is 0 (no limit): the card's memory is the bar's limit.
    status = full_status(vram=1500.0)
    status["resources"]["budgets"]["vram_mb"] = 0
    dashboard.show_status(status)
    dashboard.refresh()
    assert [mark.value for mark in dashboard.bars["vram"].marks] == [8192.0]
    # Once the last VRAM sample left the window, the plot goes again.
    clock.now += WINDOW + 1
    dashboard.add_sample(sample(clock.now))
    dashboard.refresh()
    assert dashboard.plots["vram"].isHidden()


def test_plots_keep_their_x_range_downsample_and_clip(dashboard: Dashboard):
    item = dashboard.plots["cpu"].getPlotItem()
    assert item.viewRange()[0] == [-WINDOW, 0.0]
    curve = dashboard.plots["cpu"].curves["process_cpu"]
    assert curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"
    assert curve.opts["clipToView"]


# --------------------------------------------------------------------- redraws


def test_many_inputs_in_one_timer_period_make_one_redraw(qtbot: QtBot, dashboard: Dashboard,
                                                         clock: Clock):
    dashboard.show()
    qtbot.waitExposed(dashboard)
    before = dashboard.redraws
    for step in range(50):
        dashboard.add_sample(sample(clock.now + step / 50))
        dashboard.show_status(full_status())
        dashboard.add_thought(Thought(1.7e9 + step, "learning", f"step {step}"))
    qtbot.waitUntil(lambda: dashboard.redraws > before)
    assert dashboard.redraws == before + 1
    assert len(dashboard.curve_data("process_cpu")[0]) == 50
    # Nothing new: the next ticks draw nothing.
    qtbot.wait(1200)
    assert dashboard.redraws == before + 1
    dashboard.add_sample(sample(clock.now + 1))
    qtbot.waitUntil(lambda: dashboard.redraws == before + 2)
    dashboard.close()


def test_refresh_draws_only_when_something_came(dashboard: Dashboard, clock: Clock):
    assert not dashboard.refresh()
    dashboard.add_sample(sample(clock.now))
    assert dashboard.refresh()
    assert not dashboard.refresh()
    assert dashboard.redraws == 1


def test_the_timer_runs_only_while_shown(qtbot: QtBot, dashboard: Dashboard, clock: Clock):
    timer = dashboard.findChild(QTimer, "dashboardRedrawTimer")
    assert timer is not None and not timer.isActive()
    dashboard.add_sample(sample(clock.now))
    assert dashboard.redraws == 0  # hidden: inputs are only stored
    dashboard.show()
    assert timer.isActive()
    assert dashboard.redraws == 1  # what came while hidden is drawn on showing
    dashboard.hide()
    assert not timer.isActive()
    dashboard.show()
    assert timer.isActive()
    dashboard.close()
    assert not timer.isActive()


# --------------------------------------------------------------------- words and bars


def test_the_mode_line_says_what_learning_may_do():
    assert words.mode_line({"mode": "idle", "reason": "screen locked",
                            "learning_cpu_budget": 25.0}) == (
        "Away: learning within 25% CPU (screen locked)")
    assert words.mode_line({"mode": "active", "learning_cpu_budget": 10.0}) == (
        "At the desktop: learning within 10% CPU")
    assert words.mode_line({"mode": "active", "learning_cpu_budget": 0.0}) == (
        "At the desktop: not learning")
    assert words.mode_line({"mode": "paused", "reason": "on battery (40%)"}) == (
        "Paused: on battery (40%)")
    assert words.mode_line({"mode": "paused", "reason": "paused by you"}) == (
        "Paused by you: press Resume learning to continue")
    assert words.mode_line({"mode": "busy", "reason": "answering you"}).startswith(
        "Answering you")
    assert words.mode_line({}).startswith("Not learning")


def test_the_dashboard_shows_the_status_in_words_and_bars(dashboard: Dashboard):
    dashboard.show_status(full_status())
    dashboard.refresh()
    assert dashboard.mode_label.text() == (
        "Away: learning within 25% CPU (no input at the desktop for 5 min)")
    assert dashboard.memory_label.text() == (
        "Memory 900 MB, peak 950 MB, growth +1.5 MB/h, level normal")
    assert dashboard.checkpoints_label.text() == (
        "Checkpoints: 3 kept (12.5 MB), latest version 7")
    assert dashboard.learning_label.text() == (
        "Learned 40 examples, 4,000 tokens; loss 2.500, surprise 3.000, canary 2.000")
    cpu = dashboard.bars["cpu"]
    assert cpu.value == 8.0
    assert [(m.value, m.label) for m in cpu.marks] == [(10.0, "limit at the desktop"),
                                                       (25.0, "limit while away")]
    assert cpu.maximum >= 25.0
    assert cpu.text == "Learning CPU 8% of 25% allowed"
    ram = dashboard.bars["ram"]
    assert ram.value == 900.0 and [m.value for m in ram.marks] == [2048.0, 4096.0]


def test_memory_levels_are_coloured(dashboard: Dashboard):
    dashboard.show_status(full_status(level="critical"))
    dashboard.refresh()
    assert CRITICAL_COLOUR.name() in dashboard.memory_label.styleSheet()
    assert dashboard.bars["ram"].colour == CRITICAL_COLOUR
    dashboard.show_status(full_status(level="warning"))
    dashboard.refresh()
    assert WARNING_COLOUR.name() in dashboard.memory_label.styleSheet()


@pytest.mark.parametrize("status", [
    {},
    {"daemon": None, "metrics": None, "memory": None, "resources": None, "checkpoints": None},
    {"metrics": {"learning": {"loss": "n/a", "examples_learned": True}},
     "memory": {"process": None, "level": 3}, "resources": {"budgets": None, "mode": None},
     "checkpoints": {"count": 0}, "facts": None, "skills": {"count": None}},
])
def test_missing_or_odd_keys_do_not_break_the_dashboard(dashboard: Dashboard, clock: Clock,
                                                        status: dict[str, Any]):
    dashboard.add_sample(sample(clock.now))
    dashboard.show_status(status)
    assert dashboard.refresh()
    assert dashboard.mode_label.text().startswith("Not learning")
    assert "level not measured yet" in dashboard.memory_label.text()
    assert dashboard.curve_data("loss") == (None, None)
    assert dashboard.bars["cpu"].value is None
    assert dashboard.bars["ram"].value == 400.0  # from the latest sample


def test_a_real_status_without_a_daemon(dashboard: Dashboard, paths: AppPaths,
                                        settings: Settings):
    engine = Engine(paths, settings)
    engine.open(background_indexing=False)
    try:
        status = build_status(engine)
    finally:
        engine.close()
    dashboard.show_status(status)
    dashboard.refresh()
    assert dashboard.mode_label.text().startswith("Not learning")
    assert dashboard.checkpoints_label.text() == "Checkpoints: no model loaded"
    assert dashboard.curve_data("examples")[1].tolist() == [0.0]
    assert [m.value for m in dashboard.bars["cpu"].marks] == [
        settings.get("resources.active_cpu_percent"), settings.get("resources.idle_cpu_percent")]
    assert dashboard.bars["ram"].value == status["memory"]["process"]["current_mb"]


# --------------------------------------------------------------------- thoughts


def test_thoughts_are_listed_newest_first_and_bounded(dashboard: Dashboard):
    for index in range(THOUGHTS_KEPT + 30):
        dashboard.add_thought(Thought(1.7e9 + index, "learning", f"thought {index}"))
    dashboard.refresh()
    stream = dashboard.thought_list
    assert stream.count() == THOUGHTS_KEPT
    assert stream.item(0).text().endswith(f"thought {THOUGHTS_KEPT + 29}")
    assert stream.item(THOUGHTS_KEPT - 1).text().endswith("thought 30")
    dashboard.add_thought(Thought(1.8e9, "rollback", "adapter rolled back: canary +7%"))
    dashboard.refresh()
    assert stream.count() == THOUGHTS_KEPT
    assert stream.item(0).text().endswith("adapter rolled back: canary +7%")
    assert stream.item(0).toolTip().startswith("rollback")


# --------------------------------------------------------------------- controls


@pytest.fixture
def shown(qtbot: QtBot, dashboard: Dashboard) -> Iterator[Dashboard]:
    dashboard.show()
    qtbot.waitExposed(dashboard)
    yield dashboard
    dashboard.close()


def test_the_pause_button_follows_the_status(qtbot: QtBot, shown: Dashboard):
    button = shown.pause_button
    assert button.text() == "Pause learning"
    with qtbot.waitSignal(shown.pause_requested):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    shown.show_status(full_status(paused=True))
    shown.refresh()
    assert button.text() == "Resume learning"
    with qtbot.assertNotEmitted(shown.pause_requested), qtbot.waitSignal(shown.resume_requested):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    shown.show_status(full_status(paused=False))
    shown.refresh()
    assert button.text() == "Pause learning"


def test_train_sends_the_topic_and_an_empty_topic_is_allowed(qtbot: QtBot, shown: Dashboard):
    qtbot.keyClicks(shown.topic_field, "  Norwegian history ")
    with qtbot.waitSignal(shown.train_start_requested) as blocker:
        qtbot.mouseClick(shown.train_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["Norwegian history"]
    shown.topic_field.clear()
    with qtbot.waitSignal(shown.train_start_requested) as blocker:
        qtbot.keyClick(shown.topic_field, Qt.Key.Key_Return)
    assert blocker.args == [""]
    with qtbot.waitSignal(shown.train_stop_requested):
        qtbot.mouseClick(shown.stop_button, Qt.MouseButton.LeftButton)


def test_widgets_have_object_names(dashboard: Dashboard):
    from PySide6.QtWidgets import QWidget

    names = {"modeLine", "pauseButton", "trainTopic", "trainButton", "stopTrainingButton",
             "cpuPlot", "ramPlot", "vramPlot", "lossPlot", "canaryPlot", "experiencePlot",
             "tokensPlot", "cpuBar", "ramBar", "vramBar", "memoryStatus", "checkpointsLine",
             "learningLine", "thoughtStream"}
    assert {name for name in names if dashboard.findChild(QWidget, name) is None} == set()
