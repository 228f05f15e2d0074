"""The Overview's chart: each day's sessions by result, as stacked bars (a
light custom painter, like the Statistics window's rate chart)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from core.api import DayResults

# (label, colour, the DayResults field), bottom to top
SERIES: tuple[tuple[str, QColor, str], ...] = (
    ("Success", QColor("#00B336"), "success"),
    ("Warning", QColor("#F0A30A"), "warning"),
    ("Failed", QColor("#D9342B"), "failed"),
    ("Running", QColor("#2F7FD8"), "running"),
)
GRID = QColor("#E1E4E6")
TEXT = QColor("#5F6B6D")
AXIS_H = 34       # day labels under the bars
LEGEND_H = 22
LEFT_W = 28       # the count scale
TOP_PAD = 10


def day_total(day: DayResults) -> int:
    return day.success + day.warning + day.failed + day.running


def _nice_max(value: int) -> int:
    """A round top for the scale: 4, 8, 10, 20, 50, 100, ..."""
    for top in (4, 8, 10, 20, 40, 50, 100, 200, 500, 1000):
        if value <= top:
            return top
    step: int = 10 ** (len(str(value)) - 1)
    return (value // step + 1) * step


def day_tooltip(day: DayResults) -> str:
    parts = [f"{label}: {getattr(day, field)}" for label, _c, field in SERIES
             if getattr(day, field)]
    return f"{day.day:%A %d %B}\n" + ("\n".join(parts) if parts else "No sessions")


class DayChart(QWidget):
    """``set_days`` takes the overview's days, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DayChart")
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.days: list[DayResults] = []

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, 220)

    def set_days(self, days: list[DayResults]) -> None:
        self.days = list(days)
        self.update()

    # -- geometry (also what the tooltips and tests read) ---------------------------
    def _plot(self) -> QRect:
        r = self.rect()
        return QRect(r.left() + LEFT_W, r.top() + TOP_PAD + LEGEND_H,
                     max(10, r.width() - LEFT_W - 8),
                     max(10, r.height() - TOP_PAD - LEGEND_H - AXIS_H))

    def bar_rect(self, index: int) -> QRect:
        """The slot of day ``index`` (the full height of the plot)."""
        plot = self._plot()
        slot = plot.width() / max(1, len(self.days))
        width = max(4.0, min(42.0, slot * 0.6))
        left = plot.left() + slot * index + (slot - width) / 2
        return QRect(int(left), plot.top(), int(width), plot.height())

    def day_at(self, pos: QPoint) -> int | None:
        plot = self._plot()
        if not self.days or not plot.left() <= pos.x() <= plot.right():
            return None
        slot = plot.width() / len(self.days)
        index = int((pos.x() - plot.left()) // slot)
        return index if 0 <= index < len(self.days) else None

    # -- painting -------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._legend(painter)
        plot = self._plot()
        top = _nice_max(max((day_total(d) for d in self.days), default=0))
        font = painter.font()
        small = painter.font()
        small.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        painter.setFont(small)
        for step in range(5):   # the grid and its scale
            y = plot.bottom() - plot.height() * step / 4
            painter.setPen(GRID)
            painter.drawLine(plot.left(), int(y), plot.right(), int(y))
            painter.setPen(TEXT)
            painter.drawText(QRectF(0, y - 8, LEFT_W - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             str(top * step // 4))
        for i, day in enumerate(self.days):
            slot = self.bar_rect(i)
            y = float(plot.bottom())
            for _label, colour, field in SERIES:
                count = int(getattr(day, field))
                if not count:
                    continue
                height = plot.height() * count / top
                painter.fillRect(QRectF(slot.left(), y - height, slot.width(), height), colour)
                y -= height
            total = day_total(day)
            if total:
                painter.setPen(TEXT)
                painter.drawText(QRectF(slot.left() - 10, y - 16, slot.width() + 20, 14),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                                 str(total))
            painter.setPen(TEXT)
            label = "Today" if i == len(self.days) - 1 else f"{day.day:%a}"
            width = int(plot.width() / max(1, len(self.days)))
            painter.drawText(QRect(slot.center().x() - width // 2, plot.bottom() + 4, width, 14),
                             Qt.AlignmentFlag.AlignHCenter, label)
            painter.drawText(QRect(slot.center().x() - width // 2, plot.bottom() + 18, width, 14),
                             Qt.AlignmentFlag.AlignHCenter, f"{day.day:%d %b}")
        painter.end()

    def _legend(self, painter: QPainter) -> None:
        x = LEFT_W
        metrics = painter.fontMetrics()
        for label, colour, _field in SERIES:
            painter.fillRect(QRect(x, TOP_PAD + 3, 10, 10), colour)
            painter.setPen(TEXT)
            painter.drawText(x + 14, TOP_PAD + 3 + metrics.ascent() - 1, label)
            x += 14 + metrics.horizontalAdvance(label) + 16

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QHelpEvent):
            index = self.day_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), day_tooltip(self.days[index]), self)
            return True
        return super().event(event)
