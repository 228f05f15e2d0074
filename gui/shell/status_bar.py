"""The status bar: how many jobs run, and which data directory is in use."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QStatusBar, QStyle, QStyleOption, QWidget


def running_text(count: int) -> str:
    if count == 0:
        return "No jobs running"
    return "1 job running" if count == 1 else f"{count} jobs running"


class ElidedLabel(QLabel):
    """A one-line label that may be narrower than its text: the middle of
    the text gives way ("/home/.../data"); the tooltip keeps it whole."""

    MIN_WIDTH = 120

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.MIN_WIDTH), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle,
                                             rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment()), text)


class ConsoleStatusBar(QStatusBar):
    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConsoleStatusBar")
        self.setSizeGripEnabled(False)
        self._remote = ""
        self.running_label = QLabel(running_text(0), self)
        self.running_label.setObjectName("RunningLabel")
        self.jobs_label = QLabel("", self)
        self.jobs_label.setObjectName("JobsCountLabel")
        self.data_dir_label = ElidedLabel(f"Data directory: {data_dir}", self)
        self.data_dir_label.setObjectName("DataDirLabel")
        self.data_dir_label.setToolTip(str(data_dir))
        self.server_label = QLabel("Connecting to the backup server...", self)
        self.server_label.setObjectName("ServerLabel")
        self.notice_label = QLabel("", self)   # what a command just did (e.g. Clone)
        self.notice_label.setObjectName("NoticeLabel")
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.notice_label.clear)
        self.addWidget(self.running_label)
        self.addWidget(self.jobs_label)
        self.addWidget(self.notice_label, 1)
        self.addPermanentWidget(self.server_label)
        self.addPermanentWidget(self.data_dir_label)

    def show_remote(self, address: str, user: str, role: str) -> None:
        """A server on another machine: its name and the user take the place of the
        data directory (which is the server's, over there)."""
        self._remote = address
        self.data_dir_label.setText(f"User: {user} ({role})")
        self.data_dir_label.setToolTip(f"Connected to the backup server {address} as {user}, "
                                       f"role {role}")

    def show_server(self, connected: bool, address: str) -> None:
        where = f" {self._remote}" if self._remote else ""
        self.server_label.setText(f"Backup server{where}: connected" if connected
                                  else f"Backup server{where}: reconnecting...")
        self.server_label.setProperty("connected", connected)
        self.server_label.setToolTip(address)

    NOTICE_MS = 30_000

    def show_notice(self, text: str) -> None:
        """Say what a command did, for half a minute (the tooltip keeps it whole)."""
        self.notice_label.setText(text)
        self.notice_label.setToolTip(text)
        self._notice_timer.start(self.NOTICE_MS)

    def show_counts(self, running: int, jobs: int) -> None:
        self.running_label.setText(running_text(running))
        self.jobs_label.setText(f"Jobs: {jobs}")
