"""The status bar: how many jobs run, and which data directory is in use."""
from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from core.models import JobInfo

from .action_state import is_running


def running_text(count: int) -> str:
    if count == 0:
        return "No jobs running"
    return "1 job running" if count == 1 else f"{count} jobs running"


class ConsoleStatusBar(QStatusBar):
    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConsoleStatusBar")
        self.setSizeGripEnabled(False)
        self.running_label = QLabel(running_text(0), self)
        self.running_label.setObjectName("RunningLabel")
        self.jobs_label = QLabel("", self)
        self.jobs_label.setObjectName("JobsCountLabel")
        self.data_dir_label = QLabel(f"Data directory: {data_dir}", self)
        self.data_dir_label.setObjectName("DataDirLabel")
        self.data_dir_label.setToolTip(str(data_dir))
        self.server_label = QLabel("Connecting to the backup server...", self)
        self.server_label.setObjectName("ServerLabel")
        self.addWidget(self.running_label)
        self.addWidget(self.jobs_label)
        self.addPermanentWidget(self.server_label)
        self.addPermanentWidget(self.data_dir_label)

    def show_server(self, connected: bool, address: str) -> None:
        self.server_label.setText("Backup server: connected" if connected
                                  else "Backup server: reconnecting...")
        self.server_label.setProperty("connected", connected)
        self.server_label.setToolTip(address)

    def show_jobs(self, jobs: Sequence[JobInfo]) -> None:
        self.running_label.setText(running_text(sum(1 for job in jobs if is_running(job))))
        self.jobs_label.setText(f"Jobs: {len(jobs)}")
