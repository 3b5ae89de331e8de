"""Nexus Desktop's icons, drawn in code: a speech bubble with a state badge.

Every size is drawn on its own pixel grid instead of scaling one bitmap: at 16 px a 1 px
outline and a plain bubble stay sharp, while 48 px and up get thicker outlines and the
node mark inside the bubble. Shapes start and end on whole pixels (outlines are inset by
half their width) so antialiasing softens curves without blurring straight edges.

Each state differs at 16 px by badge colour *and* badge shape, so it reads for users who
cannot tell the colours apart. A transparent ring around the badge and darker outlines
keep every part visible on light and dark taskbars alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

STATES = ("idle", "learning", "answering", "paused", "error")
# The sizes Windows asks for (16 px at 100 % scaling up to 64 px at 400 %, 256 px for
# Explorer's large views) and that the .ico file holds.
SIZES = (16, 24, 32, 48, 64, 256)
MIN_SIZE = 16

_WHITE = QColor("#ffffff")
# Bubble colours: a mid-tone fill shows on dark taskbars, the darker outline on light ones.
_BRAND_FILL = QColor("#5b5bd6")
_BRAND_EDGE = QColor("#2c2c8a")
# Paused greys the whole mark, a cue that does not depend on the badge alone.
_PAUSED_FILL = QColor("#8d939c")
_PAUSED_EDGE = QColor("#4a4f57")


@dataclass(frozen=True)
class _Badge:
    fill: QColor
    edge: QColor


_BADGES = {
    "learning": _Badge(QColor("#2f9e44"), QColor("#1a5e28")),   # green circle, up arrow
    "answering": _Badge(QColor("#1c9ad6"), QColor("#0d5a80")),  # blue diamond
    "paused": _Badge(QColor("#f59f00"), QColor("#8a5a00")),     # amber square, pause bars
    "error": _Badge(QColor("#e03131"), QColor("#8a1414")),      # red triangle, "!"
}


@dataclass(frozen=True)
class _Metrics:
    """Where things go at one size, in whole pixels (strokes chosen per size)."""

    size: int
    stroke: int      # outline width
    body: QRectF     # the bubble's outer edge (without the tail)
    radius: float    # corner radius of the bubble
    tail_left: int   # x where the tail leaves the bubble's bottom edge
    tail_right: int
    tail_tip: QPointF
    badge: QRectF    # the badge's outer box, bottom-right corner
    gap: int         # width of the transparent ring around the badge
    detailed: bool   # room for the node mark inside the bubble and glyphs in badges

    @classmethod
    def for_size(cls, size: int) -> _Metrics:
        stroke = 1 if size < 40 else round(size / 28)
        top = round(size / 16)
        bottom = round(size * 0.75)
        badge = round(size * (0.5 if size < 28 else 0.44))
        return cls(
            size=size,
            stroke=stroke,
            body=QRectF(0, top, size, bottom - top),
            radius=size * 0.22,
            tail_left=round(size * 0.19),
            tail_right=round(size * 0.44),
            tail_tip=QPointF(round(size * 0.16) + 0.5, size - round(size / 16)),
            badge=QRectF(size - badge, size - badge, badge, badge),
            gap=max(1, round(size / 20)),
            detailed=size >= 28,
        )


def _check_state(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"unknown tray state {state!r}; use one of: {', '.join(STATES)}")


def _inset(rect: QRectF, by: float) -> QRectF:
    return rect.adjusted(by, by, -by, -by)


def _outline_pen(color: QColor, width: int) -> QPen:
    pen = QPen(color, width)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _bubble_path(m: _Metrics) -> QPainterPath:
    """Body and tail as one outline, inset by half the stroke so the outer edge of the
    stroke falls on whole pixels."""
    half = m.stroke / 2
    body = QPainterPath()
    body.addRoundedRect(_inset(m.body, half), m.radius, m.radius)
    tail = QPainterPath()
    base_y = m.body.bottom() - m.stroke - half
    tail.addPolygon(QPolygonF([
        QPointF(m.tail_left + half, base_y),
        QPointF(m.tail_right + half, base_y),
        QPointF(m.tail_tip.x(), m.tail_tip.y() - half),
    ]))
    tail.closeSubpath()
    return body.united(tail)


def _draw_bubble(painter: QPainter, m: _Metrics, paused: bool) -> None:
    fill, edge = (_PAUSED_FILL, _PAUSED_EDGE) if paused else (_BRAND_FILL, _BRAND_EDGE)
    painter.setPen(_outline_pen(edge, m.stroke))
    painter.setBrush(fill)
    painter.drawPath(_bubble_path(m))


def _draw_node_mark(painter: QPainter, m: _Metrics) -> None:
    """Three linked nodes (the "nexus"), kept in the bubble's upper left so a badge in
    the bottom-right corner never covers them."""
    s = m.size
    nodes = [QPointF(s * 0.25, s * 0.47), QPointF(s * 0.45, s * 0.23),
             QPointF(s * 0.72, s * 0.32)]
    painter.setPen(QPen(_WHITE, max(1.0, s / 24), Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap))
    painter.drawPolyline(QPolygonF([*nodes, nodes[0]]))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    radius = s * 0.075
    for node in nodes:
        painter.drawEllipse(node, radius, radius)


def _draw_typing_dots(painter: QPainter, m: _Metrics) -> None:
    """Three dots, the familiar sign of a reply being written. At small sizes the dots
    are whole-pixel squares-with-round-corners so they stay three distinct dots."""
    s = m.size
    dot = max(2, round(s / 8))
    step = dot + max(1, round(s / 11))
    left = round((s - (3 * dot + 2 * (step - dot))) / 2)
    top = round(m.body.top() + (m.badge.top() - m.gap - m.body.top() - dot) / 2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    for index in range(3):
        painter.drawEllipse(QRectF(left + index * step, top, dot, dot))


def _cut_badge_ring(painter: QPainter, m: _Metrics) -> None:
    """Clear a ring around the badge so it stands apart from the bubble on any taskbar."""
    painter.save()
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(Qt.GlobalColor.black)
    ring = m.badge.adjusted(-m.gap, -m.gap, m.gap, m.gap)
    painter.drawRoundedRect(ring, m.gap + m.badge.width() * 0.25, m.gap + m.badge.width() * 0.25)
    painter.restore()


def _badge_shape(state: str, box: QRectF) -> QPainterPath:
    path = QPainterPath()
    if state == "learning":
        path.addEllipse(box)
    elif state == "answering":
        c = box.center()
        path.addPolygon(QPolygonF([QPointF(c.x(), box.top()), QPointF(box.right(), c.y()),
                                   QPointF(c.x(), box.bottom()), QPointF(box.left(), c.y())]))
        path.closeSubpath()
    elif state == "paused":
        corner = box.width() * 0.2
        path.addRoundedRect(box, corner, corner)
    else:
        path.addPolygon(QPolygonF([QPointF(box.center().x(), box.top()),
                                   QPointF(box.right(), box.bottom()),
                                   QPointF(box.left(), box.bottom())]))
        path.closeSubpath()
    return path


def _draw_badge(painter: QPainter, m: _Metrics, state: str) -> None:
    colours = _BADGES[state]
    _cut_badge_ring(painter, m)
    painter.setPen(_outline_pen(colours.edge, m.stroke))
    painter.setBrush(colours.fill)
    painter.drawPath(_badge_shape(state, _inset(m.badge, m.stroke / 2)))
    if state == "paused":
        _draw_pause_bars(painter, m.badge)
    elif m.detailed and state == "learning":
        _draw_up_arrow(painter, m.badge)
    elif m.detailed and state == "error":
        _draw_exclamation(painter, m.badge)


def _draw_pause_bars(painter: QPainter, box: QRectF) -> None:
    """Two bars on whole pixels, centred exactly: the gap is chosen so the leftover
    space splits evenly on both sides."""
    size = int(box.width())
    bar = max(1, round(size * 0.15))
    gap = max(1, round(size * 0.15))
    if (size - 2 * bar - gap) % 2:
        gap += 1
    height = max(3, round(size * 0.5))
    if (size - height) % 2:
        height += 1
    left = box.left() + (size - 2 * bar - gap) / 2
    top = box.top() + (size - height) / 2
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    painter.drawRect(QRectF(left, top, bar, height))
    painter.drawRect(QRectF(left + bar + gap, top, bar, height))


def _draw_up_arrow(painter: QPainter, box: QRectF) -> None:
    w = box.width()
    c = box.center()
    pen = QPen(_WHITE, max(1.5, w * 0.12), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawLine(QPointF(c.x(), c.y() + w * 0.24), QPointF(c.x(), c.y() - w * 0.22))
    painter.drawPolyline(QPolygonF([QPointF(c.x() - w * 0.18, c.y() - w * 0.04),
                                    QPointF(c.x(), c.y() - w * 0.22),
                                    QPointF(c.x() + w * 0.18, c.y() - w * 0.04)]))


def _draw_exclamation(painter: QPainter, box: QRectF) -> None:
    w = box.width()
    x = box.center().x()
    pen = QPen(_WHITE, max(1.5, w * 0.11), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(QPointF(x, box.top() + w * 0.38), QPointF(x, box.top() + w * 0.66))
    painter.drawPoint(QPointF(x, box.top() + w * 0.82))


def state_pixmap(state: str, size: int) -> QPixmap:
    """The icon for ``state``, drawn natively at ``size`` x ``size`` pixels."""
    _check_state(state)
    if size < MIN_SIZE:
        raise ValueError(f"icon size {size} is too small; the smallest is {MIN_SIZE} px")
    return QPixmap.fromImage(_drawn(state, size))


# Each image is drawn once per process: the tray switches states often, and QImage (unlike
# QPixmap) may outlive the application object at exit.
@functools.cache
def _drawn(state: str, size: int) -> QImage:
    metrics = _Metrics.for_size(size)
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw_bubble(painter, metrics, paused=state == "paused")
    if state == "answering":
        _draw_typing_dots(painter, metrics)
    elif metrics.detailed:
        _draw_node_mark(painter, metrics)
    if state != "idle":
        _draw_badge(painter, metrics, state)
    painter.end()
    return image


def state_icon(state: str) -> QIcon:
    """An icon holding the natively drawn image of ``state`` at every size in SIZES."""
    _check_state(state)
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(state_pixmap(state, size))
    return icon


def app_icon() -> QIcon:
    """Nexus Desktop's own icon: the idle mark without a badge."""
    return state_icon("idle")
