"""A small live chart of a session's processing rate: a light custom
painter (no QtCharts), fed one sample per update of the session."""
from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.widgets.formatting import bytes_text

LINE = QColor("#00B336")
FILL = QColor(0, 179, 54, 40)
GRID = QColor("#E1E4E6")
TEXT = QColor("#5F6B6D")
MAX_SAMPLES = 240
SPAN_S = 1.0       # the rate is measured over about this long
SPAN_MIN_S = 0.2


class RateChart(QWidget):
    """Rate in bytes per second over time; ``add(t, processed)`` takes the
    session's elapsed seconds and processed bytes, and derives the rate."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RateChart")
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.rates: deque[tuple[float, float]] = deque(maxlen=MAX_SAMPLES)   # (t, B/s)
        self._seen: deque[tuple[float, int]] = deque()   # recent (t, processed)
        self.samples = 0    # observations of the session while it ran
        self._series: list[tuple[float, int]] = []   # what set_series drew
        self.placeholder = "The rate is drawn while the session runs."

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, 90)

    def clear(self) -> None:
        self._series = []
        self.rates.clear()
        self._seen.clear()
        self.samples = 0
        self.update()

    def set_series(self, series: list[tuple[float, int]]) -> None:
        """Draw a whole session's (elapsed seconds, processed bytes), replacing what was."""
        if series == self._series:
            return
        self.clear()
        self._series = list(series)
        for elapsed_s, processed in series:
            self.add(elapsed_s, processed)

    def add(self, elapsed_s: float, processed: int) -> None:
        """One observation; the rate is taken over the last second or so (at
        least SPAN_MIN_S), which smooths the bursts of a block-wise copy."""
        self.samples += 1
        seen = self._seen
        if seen and (elapsed_s - seen[-1][0] < 0.05 or processed < seen[-1][1]):
            return
        seen.append((elapsed_s, processed))
        while len(seen) > 2 and elapsed_s - seen[1][0] >= SPAN_S:
            seen.popleft()
        t0, p0 = seen[0]
        if elapsed_s - t0 >= SPAN_MIN_S:
            self.rates.append((elapsed_s, (processed - p0) / (elapsed_s - t0)))
        self.update()

    @property
    def peak(self) -> float:
        return max((r for _, r in self.rates), default=0.0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(4, 14, -4, -4)
        painter.setPen(QPen(GRID, 1))
        for i in range(4):
            y = area.top() + i * area.height() / 3
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setPen(TEXT)
        if len(self.rates) < 2:
            painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                             self.placeholder)
            painter.end()
            return
        if self.peak <= 0:
            painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                             "Nothing read: unchanged files are not read again.")
            painter.end()
            return
        peak = self.peak
        t_first, t_last = self.rates[0][0], self.rates[-1][0]
        span = max(t_last - t_first, 1e-6)
        points = [QPointF(area.left() + (t - t_first) / span * area.width(),
                          area.bottom() - min(1.0, r / peak) * area.height())
                  for t, r in self.rates]
        line = QPainterPath(points[0])
        for p in points[1:]:
            line.lineTo(p)
        fill = QPainterPath(line)
        fill.lineTo(QPointF(points[-1].x(), area.bottom()))
        fill.lineTo(QPointF(points[0].x(), area.bottom()))
        fill.closeSubpath()
        painter.fillPath(fill, FILL)
        painter.setPen(QPen(LINE, 1.6))
        painter.drawPath(line)
        painter.setPen(TEXT)
        painter.drawText(QRectF(self.rect()).adjusted(4, 0, -4, 0),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         f"Now {bytes_text(self.rates[-1][1])}/s, "
                         f"peak {bytes_text(peak)}/s")
        painter.end()
