"""Entry points: ``create_main_window`` for embedding and tests, ``main`` for
``agent-console [--data-dir DIR] [--demo] [--screenshot FILE]``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication, QMessageBox, QProxyStyle, QStyle, QStyleHintReturn, QStyleOption, QWidget,
)

from core.errors import ConsoleError
from core.paths import resolve_data_dir
from core.api import BackupApi
from core.logs import setup_logging
from core.api.client import ServerClient

from gui.display import missing_display
from gui.widgets.error_box import error_text
from gui.shell.main_window import WINDOW_TITLE, MainWindow
from gui.widgets.resources import icon, style_sheet

FONT_FAMILIES = ["Segoe UI", "Selawik", "Noto Sans", "Open Sans", "Cantarell", "DejaVu Sans"]
FONT_POINT_SIZE = 9
SCREENSHOT_SIZE = (1360, 780)


class ConsoleStyle(QProxyStyle):
    """Fusion, without the icons Fusion draws on OK/Cancel buttons on Linux."""

    def __init__(self) -> None:
        super().__init__("Fusion")

    def styleHint(self, hint: QStyle.StyleHint, option: QStyleOption | None = None,  # noqa: N802
                  widget: QWidget | None = None,
                  returnData: QStyleHintReturn | None = None) -> int:  # noqa: N803
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return super().styleHint(hint, option, widget, returnData)


def apply_look(app: QApplication) -> None:
    """The console's light, Veeam-like look: font, style sheet, icon."""
    app.setStyle(ConsoleStyle())
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPointSize(FONT_POINT_SIZE)
    app.setFont(font)
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(icon("app"))


def create_main_window(data_dir: Path, *, service: BackupApi | None = None) -> MainWindow:
    """The ready main window (not shown; no event loop started). Without a
    service it is a client of ``data_dir``'s backup server, started on demand
    by the first call (made off the GUI thread)."""
    app = QApplication.instance()
    if isinstance(app, QApplication) and not app.property("agentConsoleStyled"):
        apply_look(app)
        app.setProperty("agentConsoleStyled", True)
    owns = service is None
    if service is None:
        service = ServerClient(Path(data_dir))
    return MainWindow(service, owns_service=owns)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-console", description=WINDOW_TITLE)
    parser.add_argument("--data-dir", help="data directory (default: $AGENT_CONSOLE_DATA_DIR, "
                        "else the platform's user data directory)")
    parser.add_argument("--demo", action="store_true",
                        help="create the demo computers and jobs first")
    parser.add_argument("--connect", nargs="?", const="", metavar="SERVER[:PORT]",
                        help="connect to a backup server on another machine over TLS, as a "
                        "named user: the Connect to Backup Server window opens first")
    parser.add_argument("--screenshot", metavar="FILE",
                        help="save a PNG of the main window once it has loaded, then exit")
    return parser.parse_args(argv)


def connect_first(server: str, app: QApplication) -> MainWindow | None:
    """The Connect window, modal, before any main window; None when it is closed."""
    from gui.connect.connect_dialog import ConnectDialog
    from gui.connect.tls_backend import TlsConnectBackend
    from gui.runtime.settings import console_settings
    from gui.runtime.worker import TaskRunner

    runner = TaskRunner(app)
    settings = console_settings()
    dialog = ConnectDialog(TlsConnectBackend(), settings, runner)
    if server:
        dialog.server.setCurrentText(server)
    accepted = dialog.exec() == ConnectDialog.DialogCode.Accepted and dialog.connected
    runner.shutdown()
    if not accepted or dialog.connected is None:
        return None
    connected = dialog.connected
    return MainWindow(connected.api, owns_service=True, settings=settings, connection=connected)


def _save_screenshot(window: MainWindow, path: Path, app: QApplication) -> None:
    ok = window.grab().save(str(path), "PNG")
    if not ok:
        print(f"agent-console: could not write screenshot {path}", file=sys.stderr)
    app.exit(0 if ok else 1)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    problem = None if QApplication.instance() else missing_display(os.environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(WINDOW_TITLE)
    data_dir = resolve_data_dir(args.data_dir)
    setup_logging(data_dir, "console")
    if args.connect is not None:
        apply_look(app)
        connected = connect_first(args.connect, app)
        if connected is None:
            return 1
        window = connected
    else:
        try:
            window = create_main_window(data_dir)
        except ConsoleError as exc:
            QMessageBox.critical(None, WINDOW_TITLE, error_text(exc))
            return 2

    screenshot = Path(args.screenshot).expanduser().resolve() if args.screenshot else None

    def loaded() -> None:
        if screenshot is not None:
            QTimer.singleShot(50, lambda: _save_screenshot(window, screenshot, app))

    if screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)
    if args.demo:
        window.controller.setup_demo(lambda: window.after_next_refresh(loaded))
    else:
        window.after_next_refresh(loaded)
    window.show()
    code = app.exec()
    current: MainWindow | None = window
    while current is not None:   # Connect may have replaced the window with another
        current.shutdown()
        current = current.successor
    return code


if __name__ == "__main__":
    sys.exit(main())
