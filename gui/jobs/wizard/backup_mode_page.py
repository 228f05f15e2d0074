"""The wizard's Backup Mode step: the entire computer or selected folders,
exclude masks, and a preview of what would be backed up now."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QGridLayout, QLabel, QLineEdit, QListWidget, QPushButton, QRadioButton,
    QTreeWidget, QTreeWidgetItem, QWidget,
)

from core.api import ScopePreview
from core.models import JobDefinition

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.fields import ErrorLabel, WizardPage
from gui.widgets.formatting import bytes_text


class _EditableList(QWidget):
    """A list of texts with a line to type a new one, Add and Remove."""

    changed = Signal()

    def __init__(self, placeholder: str, name: str, parent: QWidget) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        self.edit = QLineEdit(self)
        self.edit.setObjectName(f"{name}Edit")
        self.edit.setPlaceholderText(placeholder)
        self.add_button = QPushButton("Add", self)
        self.add_button.setObjectName(f"{name}Add")
        self.list = QListWidget(self)
        self.list.setObjectName(f"{name}List")
        self.list.setFixedHeight(64)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName(f"{name}Remove")
        for button in (self.add_button, self.remove_button):
            button.setAutoDefault(False)
        grid.addWidget(self.edit, 0, 0)
        grid.addWidget(self.add_button, 0, 1)
        grid.addWidget(self.list, 1, 0)
        grid.addWidget(self.remove_button, 1, 1, Qt.AlignmentFlag.AlignTop)
        self.add_button.clicked.connect(self.add_typed)
        self.edit.returnPressed.connect(self.add_typed)
        self.remove_button.clicked.connect(self.remove_current)
        self.edit.textChanged.connect(lambda text: self.add_button.setEnabled(bool(text.strip())))
        self.list.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))
        self.add_button.setEnabled(False)
        self.remove_button.setEnabled(False)

    def items(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_items(self, items: Iterable[str]) -> None:
        self.list.clear()
        self.list.addItems(list(items))
        self.changed.emit()

    def add_typed(self) -> None:
        text = self.edit.text().strip()
        if text and text not in self.items():
            self.list.addItem(text)
            self.changed.emit()
        self.edit.clear()

    def remove_current(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()


class BackupModePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entire_radio = QRadioButton("Entire computer", self)
        self.folders_radio = QRadioButton("Selected folders", self)
        group = QButtonGroup(self)
        group.addButton(self.entire_radio)
        group.addButton(self.folders_radio)
        self.entire_radio.setChecked(True)
        self.layout_.addWidget(self.entire_radio)
        self.layout_.addWidget(self._indented(self._caption(
            "Back up every file under each computer's folder.")))
        self.layout_.addWidget(self.folders_radio)
        self.folders = _EditableList("A folder inside each computer's folder, e.g. home/user",
                                     "Folder", self)
        self.layout_.addWidget(self._indented(self.folders))
        self.scope_error = ErrorLabel(self)
        self.layout_.addWidget(self._indented(self.scope_error))
        self.layout_.addWidget(self._section("Exclude masks"))
        self.layout_.addWidget(self._caption(
            "Files and folders whose name or path matches a mask are skipped, e.g. *.tmp "
            "or cache."))
        self.masks = _EditableList("*.tmp", "Mask", self)
        self.layout_.addWidget(self.masks)
        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("What would be backed up now"))
        self.preview_total = QLabel("", self)
        self.preview_total.setObjectName("ScopePreviewTotal")
        self.layout_.addWidget(self.preview_total)
        self.preview = QTreeWidget(self)
        self.preview.setObjectName("ScopePreview")
        self.preview.setHeaderLabels(["Computer", "Files", "Size", "Note"])
        self.preview.setRootIsDecorated(False)
        self.preview.setColumnWidth(0, 130)
        self.preview.setColumnWidth(1, 70)
        self.preview.setColumnWidth(2, 80)
        self.layout_.addWidget(self.preview, 1)

        self.folders_radio.toggled.connect(self._mode_changed)
        self.folders.changed.connect(self._emit)
        self.masks.changed.connect(self._emit)
        self._mode_changed()

    def _mode_changed(self, *_args: object) -> None:
        self.folders.setEnabled(self.folders_radio.isChecked())
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        scope = definition.scope if definition else None
        include = list(scope.include) if scope else []
        self.folders.set_items(include)
        self.masks.set_items(list(scope.exclude) if scope else [])
        (self.folders_radio if include else self.entire_radio).setChecked(True)

    def write(self, draft: dict[str, Any]) -> None:
        include = self.folders.items() if self.folders_radio.isChecked() else []
        draft[F.SCOPE] = {"include": include, "exclude": self.masks.items()}

    def own_errors(self) -> dict[str, str]:
        if self.folders_radio.isChecked() and not self.folders.items():
            return {F.SCOPE: "Add at least one folder, or back up the entire computer."}
        return {}

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.scope_error.show_error(errors.get(F.SCOPE))

    # -- preview ---------------------------------------------------------------------------
    def show_preview_waiting(self, text: str) -> None:
        self.preview_total.setText(text)

    def show_preview(self, preview: ScopePreview) -> None:
        self.preview.clear()
        readable = [c for c in preview.computers if c.error is None]
        for found in preview.computers:
            note = found.error or "; ".join(found.warnings)
            item = QTreeWidgetItem([found.computer,
                                    "" if found.error else f"{found.files:,}",
                                    "" if found.error else bytes_text(found.bytes), note])
            item.setToolTip(3, note)
            self.preview.addTopLevelItem(item)
        files = sum(c.files for c in readable)
        size = sum(c.bytes for c in readable)
        what = "1 computer" if len(readable) == 1 else f"{len(readable)} computers"
        text = f"{files:,} files, {bytes_text(size)} on {what}"
        unreadable = len(preview.computers) - len(readable)
        if unreadable:
            text += f" ({unreadable} cannot be read)"
        self.preview_total.setText(text)
