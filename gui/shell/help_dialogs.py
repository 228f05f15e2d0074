"""The main menu's Help (the README's section on the console) and About
(version, data directory, backup server address and state) windows."""
from __future__ import annotations

from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout,
    QWidget,
)

from gui.widgets.resources import icon, resources_dir

PACKAGE = "agent-backup-console"
HELP_HEADING = "### The console"
HELP_FALLBACK = (
    "## The console\n\nHome → **Backup Job** creates a job (its arrow offers **Backup "
    "Copy...**: a job that copies a backup job's restore points to another repository); "
    "select a job for the **Job** tab "
    "(Start, Stop, Retry, Active Full, Edit, Clone, Disable, Delete, Statistics). "
    "Enter edits, Delete deletes, Ctrl+F searches, F5 refreshes, Ctrl+Q exits.\n\n"
    "The full guide is the README.md of Agent Backup Console."
)


def version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "development copy"


def readme_path() -> Path | None:
    try:
        candidate = resources_dir().parent / "README.md"
    except FileNotFoundError:
        return None
    return candidate if candidate.is_file() else None


def console_help_markdown(readme: Path | None = None) -> str:
    """The README's section on the console (up to the next heading of its level)."""
    path = readme if readme is not None else readme_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path else []
    except OSError:
        lines = []
    level = HELP_HEADING.split(" ", 1)[0]
    section: list[str] | None = None
    for line in lines:
        if section is None:
            if line.strip() == HELP_HEADING:
                section = [line.replace(level, "##", 1)]
            continue
        if line.startswith("#") and len(line) - len(line.lstrip("#")) <= len(level):
            break
        section.append(line)
    return "\n".join(section) if section else HELP_FALLBACK


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("HelpDialog")
        self.setWindowTitle("Agent Backup Console Help")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("HelpText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(console_help_markdown())
        layout.addWidget(self.browser, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def text(self) -> str:
        return self.browser.toPlainText()


class AboutDialog(QDialog):
    def __init__(self, data_dir: Path, address: str, connected: bool | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AboutDialog")
        self.setWindowTitle("About Agent Backup Console")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 12)
        layout.setSpacing(10)
        head = QHBoxLayout()
        badge = QLabel(self)
        badge.setPixmap(icon("app").pixmap(48, 48))
        head.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<b>Agent Backup Console</b><br>Version {version()}", self)
        title.setObjectName("DialogQuestion")
        head.addWidget(title, 1)
        layout.addLayout(head)
        form = QFormLayout()
        form.setHorizontalSpacing(12)
        self.values: dict[str, QLabel] = {}
        state = ("Connected" if connected else "Not connected (reconnecting…)"
                 if connected is False else "Connecting…")
        for name, value in (("Data directory", str(data_dir)),
                            ("Backup server", address or "in this process"),
                            ("Server state", state),
                            ("Server process", "")):
            label = QLabel(value, self)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            form.addRow(f"{name}:", label)
            self.values[name] = label
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def set_server_info(self, info: dict[str, Any] | None) -> None:
        """What the server says about itself (``server_info``), when asked."""
        if not info:
            self.values["Server process"].setText("unknown")
            return
        text = f"PID {info.get('pid', '?')}"
        if info.get("started"):
            try:
                started = datetime.fromisoformat(str(info["started"])).astimezone()
                text += f", started {started:%Y-%m-%d %H:%M:%S}"
            except ValueError:
                pass
        if info.get("tcp"):
            text += f", also on TCP {info['tcp']}"
        running = info.get("running_jobs") or []
        text += f"; {len(running)} job{'s' if len(running) != 1 else ''} running"
        self.values["Server process"].setText(text)
        self.values["Server state"].setText("Connected")
