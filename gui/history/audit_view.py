"""History → Audit Trail: who changed, started, stopped and restored what, and a
button that checks the trail's hash chain. Every call runs on the TaskRunner."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QMessageBox, QPushButton, QTableView, QVBoxLayout, QWidget,
)

from core.api import BackupApi
from core.models import AuditCheck, AuditEntry

from gui.history.audit_model import AuditColumn, AuditModel, AuditProxy
from gui.runtime.worker import TaskRunner
from gui.widgets.error_box import show_error
from gui.widgets.list_table import setup_list_table
from gui.widgets.search_box import search_box

AUDIT_NODE = "Audit Trail"
SHOWN = 5000      # the newest entries the list holds; the CLI reaches further back
_WIDTHS = {AuditColumn.WHEN: 150, AuditColumn.USER: 90, AuditColumn.ORIGIN: 110,
           AuditColumn.ACTION: 130, AuditColumn.TARGET: 170, AuditColumn.RESULT: 160}


class AuditView(QWidget):
    def __init__(self, service: BackupApi, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AuditView")
        self._service = service
        self._runner = runner
        self.model = AuditModel(self)
        self.proxy = AuditProxy(self)
        self.proxy.setSourceModel(self.model)
        self.loads = 0
        self.check_box: QMessageBox | None = None
        self.error_box: QMessageBox | None = None
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.search = search_box(self, "Type in a user, action or object to search for")
        self.search.textChanged.connect(self.proxy.set_search)
        layout.addWidget(self.search)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        self.summary = QLabel("", self)
        self.summary.setObjectName("AuditSummary")
        bar.addWidget(self.summary, 1)
        self.verify_button = QPushButton("Verify Chain", self)
        self.verify_button.setObjectName("VerifyAuditButton")
        self.verify_button.setToolTip("Check that no entry was changed, removed or cut off "
                                      "since the server wrote it")
        self.verify_button.clicked.connect(self.verify)
        bar.addWidget(self.verify_button)
        layout.addLayout(bar)
        self.table = QTableView(self)
        self.table.setObjectName("AuditTable")
        self.table.setModel(self.proxy)
        setup_list_table(self.table, widths=_WIDTHS, stretch=AuditColumn.DETAILS,
                         on_menu=lambda _pos: None, multi_select=False, movable=False)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Fetch the newest entries (on the runner); one fetch at a time."""
        if self._loading:
            return
        self._loading = True
        self._runner.submit(lambda: self._service.list_audit(limit=SHOWN), self._landed,
                            self._failed)

    def _landed(self, entries: list[AuditEntry]) -> None:
        self._loading = False
        self.loads += 1
        self.model.set_entries(entries)
        more = " (the newest; agent-jobs audit lists them all)" if len(entries) >= SHOWN else ""
        self.summary.setText(f"{len(entries)} entries{more}" if entries
                             else "Nothing recorded yet: changes, starts, stops and restores "
                                  "appear here.")

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self.error_box = show_error(self, AUDIT_NODE, exc)

    def verify(self) -> None:
        self.verify_button.setEnabled(False)
        self._runner.submit(self._service.verify_audit, self._checked, self._check_failed)

    def _checked(self, check: AuditCheck) -> None:
        self.verify_button.setEnabled(True)
        box = QMessageBox(self)
        box.setWindowTitle("Verify Audit Trail")
        if check.intact:
            box.setIcon(QMessageBox.Icon.Information)
            box.setText(f"The audit trail is intact: {check.rows} entries, each chained to "
                        "the one before it.")
        else:
            box.setIcon(QMessageBox.Icon.Warning)
            box.setText("The audit trail was tampered with.")
            box.setInformativeText(check.problem or "")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.check_box = box
        box.open()

    def _check_failed(self, exc: BaseException) -> None:
        self.verify_button.setEnabled(True)
        self._failed(exc)
