"""A horizontal bar of how much of a resource is in use, with the user's limits drawn on it
as marks, so "learning uses 8% of the 10% allowed" reads at a glance."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

NORMAL_COLOUR = QColor("#4caf50")
WARNING_COLOUR = QColor("#f5a623")
CRITICAL_COLOUR = QColor("#d0021b")
TRACK_COLOUR = QColor("#3a3a3a")
MARK_COLOUR = QColor("#ffffff")
TEXT_COLOUR = QColor("#ffffff")


@dataclass(frozen=True)
class Mark:
    """A limit drawn across the bar at ``value`` (same unit as the bar)."""

    value: float
    label: str


class LimitBar(QWidget):
    """Fill from 0 to ``value`` on a scale of ``maximum``, marks across it, text inside.

    Painted by hand: a QProgressBar has no marks, and this is cheap enough to repaint
    with every status.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value: float | None = None
        self.maximum = 100.0
        self.marks: tuple[Mark, ...] = ()
        self.text = ""
        self.colour = NORMAL_COLOUR
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 22)

    def set_reading(self, value: float | None, maximum: float, marks: tuple[Mark, ...],
                    text: str, colour: QColor = NORMAL_COLOUR) -> None:
        """``value`` None: nothing to show (the bar stays empty and says so in ``text``)."""
        if (value, maximum, marks, text, colour) == (self.value, self.maximum, self.marks,
                                                      self.text, self.colour):
            return  # statuses come every second, mostly unchanged: no repaint then
        self.value = value
        self.maximum = maximum if maximum > 0 else 1.0
        self.marks = marks
        self.text = text
        self.colour = colour
        self.setToolTip("\n".join(f"{mark.label}: {mark.value:g}" for mark in marks))
        self.update()

    def fraction(self, value: float) -> float:
        return min(1.0, max(0.0, value / self.maximum))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            track = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
            painter.fillRect(track, TRACK_COLOUR)
            if self.value is not None:
                filled = QRectF(track)
                filled.setWidth(track.width() * self.fraction(self.value))
                painter.fillRect(filled, self.colour)
            # Marks are notches at both edges, so the text in the middle stays readable.
            painter.setPen(QPen(MARK_COLOUR, 2))
            notch = max(3, int(track.height() / 4))
            for mark in self.marks:
                x = int(track.left() + track.width() * self.fraction(mark.value))
                top, bottom = int(track.top()), int(track.bottom())
                painter.drawLine(x, top, x, top + notch)
                painter.drawLine(x, bottom - notch, x, bottom)
            painter.setPen(TEXT_COLOUR)
            painter.drawText(track.adjusted(6, 0, -6, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             self.text)
        finally:
            painter.end()
