"""The steps of the New Agent Backup Job wizard: Name, Computers, Backup
Mode, Storage, Schedule and Summary.

Each page loads a job definition, writes its part of the draft (the dict a
:class:`JobDefinition` is validated from), shows the errors of its fields in
plain words next to them, and says ``changed`` whenever the operator edits.
"""
from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from PySide6.QtCore import QTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout,
    QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, QRadioButton, QSpinBox,
    QTextBrowser, QTimeEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)
from shiboken6 import isValid

from core.api import RepositoryInfo, ScopePreview, describe_settings
from core.models import ActiveFullKind, Computer, JobDefinition, SshSettings
from core.scheduling.schedule import ALL_DAYS, WEEKDAYS, ScheduleKind, Weekday

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.computer_dialog import AGENT_TEXT, ComputerDialog, console_backend
from gui.widgets.formatting import bytes_text

DEFAULT_REPOSITORY = "Default Backup Repository"
TIME_FORMAT = "HH:mm"
INDENT = 22


def _hhmm(edit: QTimeEdit) -> str:
    return edit.time().toString(TIME_FORMAT)


def _set_hhmm(edit: QTimeEdit, text: str) -> None:
    edit.setTime(QTime.fromString(text, TIME_FORMAT))


def _time_edit(parent: QWidget, text: str = "22:00") -> QTimeEdit:
    edit = QTimeEdit(parent)
    edit.setDisplayFormat(TIME_FORMAT)
    edit.setWrapping(True)
    _set_hhmm(edit, text)
    return edit


def _spin(parent: QWidget, low: int, high: int, value: int, width: int = 70) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setFixedWidth(width)
    return spin


class ErrorLabel(QLabel):
    """A field's problem in plain words, right under the field. It keeps one
    line of room when empty, so fields do not jump as errors come and go."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("", parent)
        self.setObjectName("FieldError")
        self.setWordWrap(True)
        self.setMinimumHeight(self.fontMetrics().height() + 2)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_error(self, text: str | None) -> None:
        self.setText(text or "")


class DayChecks(QWidget):
    """Seven check boxes, Mon to Sun."""

    changed = Signal()

    def __init__(self, parent: QWidget, days: Iterable[Weekday] = ALL_DAYS) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.boxes: dict[Weekday, QCheckBox] = {}
        for day in Weekday:
            box = QCheckBox(day.label, self)
            box.toggled.connect(lambda _=False: self.changed.emit())
            self.boxes[day] = box
            row.addWidget(box)
        row.addStretch(1)
        self.set_days(days)

    def days(self) -> tuple[Weekday, ...]:
        return tuple(day for day, box in self.boxes.items() if box.isChecked())

    def set_days(self, days: Iterable[Weekday]) -> None:
        chosen = set(days)
        for day, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(day in chosen)
            box.blockSignals(False)
        self.changed.emit()


class WizardPage(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("WizardPage")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(20, 16, 20, 12)
        self.layout_.setSpacing(4)

    def _emit(self, *_args: object) -> None:
        self.changed.emit()

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName("WizardCaption")
        label.setWordWrap(True)
        return label

    def _section(self, text: str) -> QLabel:
        self.layout_.addSpacing(6)
        label = QLabel(text, self)
        label.setObjectName("WizardSection")
        return label

    def load(self, definition: JobDefinition | None) -> None:
        raise NotImplementedError

    def write(self, draft: dict[str, Any]) -> None:
        raise NotImplementedError

    def show_errors(self, errors: Mapping[str, str]) -> None:
        raise NotImplementedError


# -- Name ------------------------------------------------------------------------------
class NamePage(WizardPage):
    def __init__(self, default_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._default_name = default_name
        self.layout_.addWidget(QLabel("Name:", self))
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("JobName")
        self.name_edit.setMaxLength(F.MAX_NAME)
        self.layout_.addWidget(self.name_edit)
        self.name_error = ErrorLabel(self)
        self.layout_.addWidget(self.name_error)
        self.layout_.addSpacing(6)
        self.layout_.addWidget(QLabel("Description:", self))
        self.description_edit = QLineEdit(self)
        self.description_edit.setObjectName("JobDescription")
        self.layout_.addWidget(self.description_edit)
        self.description_error = ErrorLabel(self)
        self.layout_.addWidget(self.description_error)
        self.layout_.addStretch(1)
        self.name_edit.textChanged.connect(self._emit)
        self.description_edit.textChanged.connect(self._emit)

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            self.name_edit.setText(self._default_name)
            stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
            self.description_edit.setText(f"Created by {getpass.getuser()} at {stamp}.")
        else:
            self.name_edit.setText(definition.name)
            self.description_edit.setText(definition.description)
        self.name_edit.selectAll()

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.NAME] = self.name_edit.text()
        draft[F.DESCRIPTION] = self.description_edit.text()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.name_error.show_error(errors.get(F.NAME))
        self.description_error.show_error(errors.get(F.DESCRIPTION))


# -- Computers -------------------------------------------------------------------------
class ComputersPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.computers: list[Computer] = []
        self.ssh = SshSettings()   # the job's SSH settings, shared by its Linux computers
        self.computer_dialog: ComputerDialog | None = None
        self.layout_.addWidget(self._caption(
            "Protected computers, processed in this order. Each is a name and a folder on "
            "the backup server's machine, or a Linux computer the server reaches over SSH."))
        self.layout_.addSpacing(4)
        row = QHBoxLayout()
        self.table = QTreeWidget(self)
        self.table.setObjectName("ComputersList")
        self.table.setHeaderLabels(["Name", "Path", "Agent"])
        self.table.setRootIsDecorated(False)
        self.table.setColumnWidth(0, 140)
        self.table.setColumnWidth(1, 260)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        row.addWidget(self.table, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton("Add...", self)
        self.edit_button = QPushButton("Edit...", self)
        self.remove_button = QPushButton("Remove", self)
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        for button in (self.add_button, self.edit_button, self.remove_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addSpacing(12)
        for button in (self.up_button, self.down_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        self.layout_.addLayout(row, 1)
        self.error = ErrorLabel(self)
        self.layout_.addWidget(self.error)

        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.up_button.clicked.connect(lambda: self.move(-1))
        self.down_button.clicked.connect(lambda: self.move(1))
        self.table.itemDoubleClicked.connect(lambda *_: self.edit())
        self.table.currentItemChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    # -- list ---------------------------------------------------------------------
    def names(self) -> list[str]:
        return [c.name for c in self.computers]

    def current_row(self) -> int:
        item = self.table.currentItem()
        return self.table.indexOfTopLevelItem(item) if item is not None else -1

    def _fill(self, select: int = -1) -> None:
        self.table.clear()
        for computer in self.computers:
            item = QTreeWidgetItem([computer.name, computer.path,
                                    AGENT_TEXT.get(computer.agent, computer.agent)])
            item.setToolTip(1, computer.path)
            self.table.addTopLevelItem(item)
        if 0 <= select < len(self.computers):
            self.table.setCurrentItem(self.table.topLevelItem(select))
        self._update_buttons()
        self.changed.emit()

    def _update_buttons(self) -> None:
        row = self.current_row()
        self.edit_button.setEnabled(row >= 0)
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self.computers) - 1)

    def add_computer(self, computer: Computer) -> None:
        self.computers.append(computer)
        self._fill(len(self.computers) - 1)

    def replace_computer(self, row: int, computer: Computer) -> None:
        if 0 <= row < len(self.computers):
            self.computers[row] = computer
            self._fill(row)

    def remove(self) -> None:
        row = self.current_row()
        if row >= 0:
            del self.computers[row]
            self._fill(min(row, len(self.computers) - 1))

    def move(self, delta: int) -> None:
        row = self.current_row()
        target = row + delta
        if row < 0 or not 0 <= target < len(self.computers):
            return
        self.computers[row], self.computers[target] = self.computers[target], self.computers[row]
        self._fill(target)

    # -- the computer window ------------------------------------------------------------
    def add(self) -> None:
        self._open_dialog(None)

    def edit(self) -> None:
        row = self.current_row()
        if row >= 0:
            self._open_dialog(row)

    def _open_dialog(self, row: int | None) -> None:
        if self.computer_dialog is not None:
            return
        computer = self.computers[row] if row is not None else None
        backend = console_backend(self)
        dialog = ComputerDialog(self.names(), computer, self, ssh=self.ssh,
                                runner=backend[0] if backend else None,
                                test_computer=backend[1].test_computer if backend else None)

        def chosen(c: Computer) -> None:
            if c.agent == "ssh":
                self.ssh = dialog.ssh_settings()
            if row is None:
                self.add_computer(c)
            else:
                self.replace_computer(row, c)

        dialog.chosen.connect(chosen)
        self.computer_dialog = dialog

        def closed(_result: int) -> None:
            if self.computer_dialog is dialog:
                self.computer_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(closed)
        dialog.open()

    # -- page -----------------------------------------------------------------------------
    def load(self, definition: JobDefinition | None) -> None:
        self.computers = list(definition.computers) if definition else []
        self.ssh = definition.ssh if definition else SshSettings()
        self._fill(0 if self.computers else -1)

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.COMPUTERS] = [c.model_dump() for c in self.computers]
        draft[F.SSH] = self.ssh.model_dump()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.error.show_error(errors.get(F.COMPUTERS) or errors.get(F.SSH))


# -- Backup Mode -----------------------------------------------------------------------
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

    def _indented(self, widget: QWidget) -> QWidget:
        holder = QWidget(self)
        row = QHBoxLayout(holder)
        row.setContentsMargins(INDENT, 0, 0, 0)
        row.addWidget(widget)
        return holder

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


# -- Storage ---------------------------------------------------------------------------
class StoragePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("Backup repository:", self), 0, 0)
        self.repository_combo = QComboBox(self)
        self.repository_combo.setObjectName("RepositoryCombo")
        self.repository_combo.addItem(DEFAULT_REPOSITORY)
        grid.addWidget(self.repository_combo, 0, 1, 1, 2)
        self.repository_error = ErrorLabel(self)
        grid.addWidget(self.repository_error, 1, 1, 1, 2)
        self.repository_details = self._caption("")
        self.repository_details.setObjectName("RepositoryDetails")
        grid.addWidget(self.repository_details, 1, 1, 1, 2)
        self.repositories: dict[str, RepositoryInfo] = {}
        self.repositories_loaded = False   # the list came from the server
        self._fetch_repositories()

        grid.addWidget(QLabel("Retention policy:", self), 2, 0)
        self.retain_spin = _spin(self, 0, 999, 7)
        self.retain_spin.setObjectName("RetainPoints")
        grid.addWidget(self.retain_spin, 2, 1)
        grid.addWidget(QLabel("restore points to keep per computer", self), 2, 2)
        self.retain_error = ErrorLabel(self)
        grid.addWidget(self.retain_error, 3, 1, 1, 2)

        grid.addWidget(QLabel("Task slots:", self), 4, 0)
        self.slots_spin = _spin(self, 1, 64, 2)
        self.slots_spin.setObjectName("TaskSlots")
        grid.addWidget(self.slots_spin, 4, 1)
        grid.addWidget(QLabel("computers processed at the same time", self), 4, 2)
        self.slots_error = ErrorLabel(self)
        grid.addWidget(self.slots_error, 5, 1, 1, 2)

        self.throttle_check = QCheckBox("Limit the read rate to", self)
        grid.addWidget(self.throttle_check, 6, 0)
        self.throttle_spin = QDoubleSpinBox(self)
        self.throttle_spin.setObjectName("Throttle")
        self.throttle_spin.setRange(0.0, 100_000.0)
        self.throttle_spin.setDecimals(1)
        self.throttle_spin.setSingleStep(1.0)
        self.throttle_spin.setValue(10.0)
        self.throttle_spin.setFixedWidth(90)
        grid.addWidget(self.throttle_spin, 6, 1)
        grid.addWidget(QLabel("MB/s per computer", self), 6, 2)
        self.throttle_error = ErrorLabel(self)
        grid.addWidget(self.throttle_error, 7, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.layout_.addLayout(grid)

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Active full"))
        self.active_full_check = QCheckBox("Create active full backups periodically", self)
        self.layout_.addWidget(self.active_full_check)
        self.layout_.addWidget(self._caption(
            "The first scheduled run on these days reads all data again and starts a new "
            "backup chain."))
        full = QGridLayout()
        full.setContentsMargins(INDENT, 0, 0, 0)
        self.weekly_radio = QRadioButton("Weekly on:", self)
        self.monthly_radio = QRadioButton("Monthly on day", self)
        group = QButtonGroup(self)
        group.addButton(self.weekly_radio)
        group.addButton(self.monthly_radio)
        self.weekly_radio.setChecked(True)
        self.full_days = DayChecks(self, (Weekday.SAT,))
        self.month_day_spin = _spin(self, 1, 31, 1)
        self.month_last_check = QCheckBox("the last day of the month", self)
        full.addWidget(self.weekly_radio, 0, 0)
        full.addWidget(self.full_days, 0, 1, 1, 2)
        full.addWidget(self.monthly_radio, 1, 0)
        full.addWidget(self.month_day_spin, 1, 1)
        full.addWidget(self.month_last_check, 1, 2)
        full.setColumnStretch(2, 1)
        self.layout_.addLayout(full)
        self.active_full_error = ErrorLabel(self)
        self.layout_.addWidget(self.active_full_error)
        self.layout_.addStretch(1)

        self.repository_combo.currentIndexChanged.connect(self._show_repository)
        for signal in (self.repository_combo.currentIndexChanged, self.retain_spin.valueChanged,
                       self.slots_spin.valueChanged, self.throttle_spin.valueChanged,
                       self.full_days.changed, self.month_day_spin.valueChanged):
            signal.connect(self._emit)
        for box in (self.throttle_check, self.active_full_check, self.weekly_radio,
                    self.month_last_check):
            box.toggled.connect(self._enable)
        self._enable()

    def _fetch_repositories(self) -> None:
        """Fill the repository list from the backup server (Backup Infrastructure)."""
        backend = console_backend(self)
        if backend is None or not hasattr(backend[1], "list_repositories"):
            return
        runner, service = backend
        runner.submit(service.list_repositories, self._repositories_landed,
                      lambda _exc: None)   # keep the names the list has

    def _repositories_landed(self, repos: Sequence[RepositoryInfo]) -> None:
        if not isValid(self):
            return
        combo = self.repository_combo
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        for repo in repos:
            place = f"{repo.location} (unavailable: {repo.problem})" if repo.problem \
                else repo.location
            combo.addItem(repo.name)
            combo.setItemData(combo.count() - 1, place, Qt.ItemDataRole.ToolTipRole)
        if current and combo.findText(current) < 0:
            combo.addItem(current)
        combo.setCurrentText(current if current else combo.itemText(0))
        combo.blockSignals(False)
        self.repositories = {repo.name: repo for repo in repos}
        self.repositories_loaded = True
        self._show_repository()
        self.changed.emit()

    def _show_repository(self, *_args: object) -> None:
        """The chosen repository in a line: type, place, free space, encryption."""
        repo = self.repositories.get(self.repository_combo.currentText())
        if repo is None:
            self.repository_details.setText("")
            return
        parts = ["S3 compatible" if repo.kind == "s3" else "Local folder", repo.location]
        if repo.free_bytes is not None:
            parts.append(f"{bytes_text(repo.free_bytes)} free")
        parts.append("encrypted" if repo.encrypted else "not encrypted")
        if repo.problem:
            parts.append(f"unavailable: {repo.problem}")
        self.repository_details.setText(" · ".join(parts))

    def _enable(self, *_args: object) -> None:
        self.throttle_spin.setEnabled(self.throttle_check.isChecked())
        on = self.active_full_check.isChecked()
        weekly = self.weekly_radio.isChecked()
        for widget in (self.weekly_radio, self.monthly_radio):
            widget.setEnabled(on)
        self.full_days.setEnabled(on and weekly)
        self.month_last_check.setEnabled(on and not weekly)
        self.month_day_spin.setEnabled(on and not weekly and not self.month_last_check.isChecked())
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        if definition is None:
            return
        if self.repository_combo.findText(definition.repository) < 0:
            self.repository_combo.addItem(definition.repository)
        self.repository_combo.setCurrentText(definition.repository)
        self.retain_spin.setValue(definition.retain_points)
        self.slots_spin.setValue(definition.task_slots)
        self.throttle_check.setChecked(definition.throttle_mbps is not None)
        if definition.throttle_mbps is not None:
            self.throttle_spin.setValue(definition.throttle_mbps)
        plan = definition.active_full
        self.active_full_check.setChecked(plan is not None)
        if plan is not None:
            (self.weekly_radio if plan.kind is ActiveFullKind.WEEKLY
             else self.monthly_radio).setChecked(True)
            self.full_days.set_days(plan.days)
            self.month_day_spin.setValue(plan.day_of_month)
            self.month_last_check.setChecked(plan.last_day)
        self._enable()

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.REPOSITORY] = self.repository_combo.currentText()
        draft[F.RETAIN] = self.retain_spin.value()
        draft[F.TASK_SLOTS] = self.slots_spin.value()
        draft[F.THROTTLE] = self.throttle_spin.value() if self.throttle_check.isChecked() \
            else None
        if not self.active_full_check.isChecked():
            draft[F.ACTIVE_FULL] = None
        else:
            weekly = self.weekly_radio.isChecked()
            draft[F.ACTIVE_FULL] = {
                "kind": (ActiveFullKind.WEEKLY if weekly else ActiveFullKind.MONTHLY).value,
                "days": [d.value for d in self.full_days.days()] if weekly else ["sat"],
                "day_of_month": self.month_day_spin.value(),
                "last_day": self.month_last_check.isChecked() and not weekly,
            }

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.repository_error.show_error(errors.get(F.REPOSITORY))
        self.repository_details.setVisible(not errors.get(F.REPOSITORY))
        self.retain_error.show_error(errors.get(F.RETAIN))
        self.slots_error.show_error(errors.get(F.TASK_SLOTS))
        self.throttle_error.show_error(errors.get(F.THROTTLE))
        self.active_full_error.show_error(errors.get(F.ACTIVE_FULL))


# -- Schedule --------------------------------------------------------------------------
DAILY_CHOICES: list[tuple[str, tuple[Weekday, ...] | None]] = [
    ("Everyday", ALL_DAYS), ("On weekdays", WEEKDAYS), ("On these days:", None),
]


class SchedulePage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.auto_check = QCheckBox("Run the job automatically", self)
        self.auto_check.setObjectName("RunAutomatically")
        self.layout_.addWidget(self.auto_check)

        grid = QGridLayout()
        grid.setContentsMargins(INDENT, 2, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.daily_radio = QRadioButton("Daily at this time:", self)
        self.monthly_radio = QRadioButton("Monthly at this time:", self)
        self.periodic_radio = QRadioButton("Periodically every:", self)
        kinds = QButtonGroup(self)
        for radio in (self.daily_radio, self.monthly_radio, self.periodic_radio):
            kinds.addButton(radio)
        self.daily_radio.setChecked(True)

        self.daily_time = _time_edit(self)
        self.daily_kind = QComboBox(self)
        for text, _days in DAILY_CHOICES:
            self.daily_kind.addItem(text)
        self.daily_days = DayChecks(self)
        grid.addWidget(self.daily_radio, 0, 0)
        grid.addWidget(self.daily_time, 0, 1)
        grid.addWidget(self.daily_kind, 0, 2)
        grid.addWidget(self.daily_days, 1, 1, 1, 3)

        self.monthly_time = _time_edit(self)
        self.month_day = _spin(self, 1, 31, 1)
        self.month_last = QCheckBox("on the last day of the month", self)
        month_row = QHBoxLayout()
        month_row.addWidget(QLabel("on day", self))
        month_row.addWidget(self.month_day)
        month_row.addWidget(self.month_last)
        month_row.addStretch(1)
        grid.addWidget(self.monthly_radio, 2, 0)
        grid.addWidget(self.monthly_time, 2, 1)
        grid.addLayout(month_row, 2, 2, 1, 2)

        self.every_spin = _spin(self, 1, 10080, 1)
        self.every_spin.setObjectName("EveryCount")
        self.every_unit = QComboBox(self)
        self.every_unit.addItems(["Hours", "Minutes"])
        grid.addWidget(self.periodic_radio, 3, 0)
        grid.addWidget(self.every_spin, 3, 1)
        grid.addWidget(self.every_unit, 3, 2)
        grid.setColumnStretch(3, 1)
        self.layout_.addLayout(grid)
        self.schedule_error = ErrorLabel(self)
        self.layout_.addWidget(self._indent(self.schedule_error))

        self.layout_.addWidget(self._section("Automatic retry"))
        retry_row = QHBoxLayout()
        self.retry_check = QCheckBox("Retry failed computers", self)
        self.retries_spin = _spin(self, 1, 100, 3)
        self.retries_spin.setObjectName("Retries")
        self.retry_wait_spin = _spin(self, 1, 1440, 10)
        self.retry_wait_spin.setObjectName("RetryWait")
        retry_row.addWidget(self.retry_check)
        retry_row.addWidget(self.retries_spin)
        retry_row.addWidget(QLabel("times, waiting", self))
        retry_row.addWidget(self.retry_wait_spin)
        retry_row.addWidget(QLabel("minutes before each retry", self))
        retry_row.addStretch(1)
        self.layout_.addLayout(retry_row)

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Backup window"))
        window_row = QHBoxLayout()
        self.window_check = QCheckBox("Start scheduled runs only from", self)
        self.window_check.setObjectName("UseWindow")
        self.window_start = _time_edit(self, "22:00")
        self.window_end = _time_edit(self, "06:00")
        window_row.addWidget(self.window_check)
        window_row.addWidget(self.window_start)
        window_row.addWidget(QLabel("to", self))
        window_row.addWidget(self.window_end)
        window_row.addStretch(1)
        self.layout_.addLayout(window_row)
        window_days_row = QHBoxLayout()
        window_days_row.setContentsMargins(INDENT, 0, 0, 0)
        window_days_row.addWidget(QLabel("opening on", self))
        self.window_days = DayChecks(self)
        window_days_row.addWidget(self.window_days, 1)
        self.layout_.addLayout(window_days_row)
        window_stop_row = QHBoxLayout()
        window_stop_row.setContentsMargins(INDENT, 0, 0, 0)
        window_stop_row.addWidget(QLabel("When the window closes on a running job:", self))
        self.window_stop = QComboBox(self)
        self.window_stop.setObjectName("WindowStop")
        self.window_stop.addItem("Stop it gracefully")
        self.window_stop.addItem("Stop it immediately")
        self.window_stop.setItemData(0, "Computers in progress finish; no new computer starts",
                                     Qt.ItemDataRole.ToolTipRole)
        self.window_stop.setItemData(1, "Computers in progress are cancelled and get no "
                                     "restore point", Qt.ItemDataRole.ToolTipRole)
        window_stop_row.addWidget(self.window_stop)
        window_stop_row.addStretch(1)
        self.layout_.addLayout(window_stop_row)
        self.window_error = ErrorLabel(self)
        self.layout_.addWidget(self._indent(self.window_error))

        self.layout_.addSpacing(6)
        self.layout_.addWidget(self._section("Next runs"))
        self.next_runs = QLabel("", self)
        self.next_runs.setObjectName("NextRuns")
        self.next_runs.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(self.next_runs)
        self.layout_.addStretch(1)

        for signal in (self.daily_time.timeChanged, self.daily_kind.currentIndexChanged,
                       self.daily_days.changed, self.monthly_time.timeChanged,
                       self.month_day.valueChanged, self.every_spin.valueChanged,
                       self.every_unit.currentIndexChanged, self.retries_spin.valueChanged,
                       self.retry_wait_spin.valueChanged, self.window_start.timeChanged,
                       self.window_end.timeChanged, self.window_days.changed,
                       self.window_stop.currentIndexChanged):
            signal.connect(self._enable)
        for box in (self.auto_check, self.daily_radio, self.monthly_radio, self.periodic_radio,
                    self.month_last, self.retry_check, self.window_check):
            box.toggled.connect(self._enable)
        self.daily_kind.currentIndexChanged.connect(self._daily_kind_chosen)
        self.retry_check.setChecked(True)
        self._enable()

    def _indent(self, widget: QWidget) -> QWidget:
        holder = QWidget(self)
        row = QHBoxLayout(holder)
        row.setContentsMargins(INDENT, 0, 0, 0)
        row.addWidget(widget)
        return holder

    def _daily_kind_chosen(self, index: int) -> None:
        days = DAILY_CHOICES[index][1]
        if days is not None:
            self.daily_days.set_days(days)

    def _enable(self, *_args: object) -> None:
        on = self.auto_check.isChecked()
        daily, monthly, periodic = (self.daily_radio.isChecked(), self.monthly_radio.isChecked(),
                                    self.periodic_radio.isChecked())
        for radio in (self.daily_radio, self.monthly_radio, self.periodic_radio):
            radio.setEnabled(on)
        self.daily_time.setEnabled(on and daily)
        self.daily_kind.setEnabled(on and daily)
        custom = DAILY_CHOICES[self.daily_kind.currentIndex()][1] is None
        self.daily_days.setEnabled(on and daily and custom)
        self.monthly_time.setEnabled(on and monthly)
        self.month_last.setEnabled(on and monthly)
        self.month_day.setEnabled(on and monthly and not self.month_last.isChecked())
        self.every_spin.setEnabled(on and periodic)
        self.every_unit.setEnabled(on and periodic)
        self.retry_check.setEnabled(on)
        self.retries_spin.setEnabled(on and self.retry_check.isChecked())
        self.retry_wait_spin.setEnabled(on and self.retry_check.isChecked())
        self.window_check.setEnabled(on)
        windowed = on and self.window_check.isChecked()
        for widget in (self.window_start, self.window_end, self.window_days, self.window_stop):
            widget.setEnabled(windowed)
        self.changed.emit()

    def load(self, definition: JobDefinition | None) -> None:
        schedule = definition.schedule if definition else None
        if schedule is not None:
            if schedule.kind is ScheduleKind.DAILY:
                self.daily_radio.setChecked(True)
            elif schedule.kind is ScheduleKind.MONTHLY:
                self.monthly_radio.setChecked(True)
            else:
                self.periodic_radio.setChecked(True)
            _set_hhmm(self.daily_time, schedule.at)
            _set_hhmm(self.monthly_time, schedule.at)
            index = next((i for i, (_t, days) in enumerate(DAILY_CHOICES)
                          if days == schedule.days), len(DAILY_CHOICES) - 1)
            self.daily_kind.setCurrentIndex(index)
            self.daily_days.set_days(schedule.days)
            self.month_day.setValue(schedule.day_of_month)
            self.month_last.setChecked(schedule.last_day)
            hours = schedule.every_minutes % 60 == 0
            self.every_unit.setCurrentIndex(0 if hours else 1)
            self.every_spin.setValue(schedule.every_minutes // 60 if hours
                                     else schedule.every_minutes)
            self.retry_check.setChecked(schedule.retries > 0)
            if schedule.retries > 0:
                self.retries_spin.setValue(schedule.retries)
            self.retry_wait_spin.setValue(schedule.retry_wait_minutes)
            window = schedule.window
            self.window_check.setChecked(window is not None)
            if window is not None:
                _set_hhmm(self.window_start, window.start)
                _set_hhmm(self.window_end, window.end)
                self.window_days.set_days(window.days)
                self.window_stop.setCurrentIndex(1 if window.terminate else 0)
        self.auto_check.setChecked(schedule is not None)
        self._enable()

    def schedule_draft(self) -> dict[str, Any] | None:
        if not self.auto_check.isChecked():
            return None
        if self.daily_radio.isChecked():
            kind, at = ScheduleKind.DAILY, _hhmm(self.daily_time)
        elif self.monthly_radio.isChecked():
            kind, at = ScheduleKind.MONTHLY, _hhmm(self.monthly_time)
        else:
            kind, at = ScheduleKind.PERIODICALLY, "22:00"
        every = self.every_spin.value() * (60 if self.every_unit.currentIndex() == 0 else 1)
        draft: dict[str, Any] = {
            "kind": kind.value, "at": at,
            "days": [d.value for d in self.daily_days.days()] if kind is ScheduleKind.DAILY
            else [d.value for d in ALL_DAYS],
            "day_of_month": self.month_day.value(), "last_day": self.month_last.isChecked(),
            "every_minutes": every,
            "retries": self.retries_spin.value() if self.retry_check.isChecked() else 0,
            "retry_wait_minutes": self.retry_wait_spin.value(),
            "window": None,
        }
        if self.window_check.isChecked():
            draft["window"] = {"start": _hhmm(self.window_start), "end": _hhmm(self.window_end),
                               "days": [d.value for d in self.window_days.days()],
                               "terminate": self.window_stop.currentIndex() == 1}
        return draft

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.SCHEDULE] = self.schedule_draft()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.schedule_error.show_error(errors.get(F.SCHEDULE))
        self.window_error.show_error(errors.get(F.WINDOW))

    def show_next_runs(self, runs: Sequence[datetime] | None) -> None:
        """``None``: not scheduled; an empty list: the schedule never runs."""
        if runs is None:
            text = ("Not scheduled: the job runs when you start it."
                    if not self.auto_check.isChecked() else "")
        elif not runs:
            text = "Never: no run of this schedule falls inside the backup window."
        else:
            text = "   ".join(run.astimezone().strftime("%a %Y-%m-%d %H:%M") for run in runs)
        self.next_runs.setText(text)


# -- Summary ---------------------------------------------------------------------------
class SummaryPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QTextBrowser(self)
        self.summary.setObjectName("JobSummary")
        self.summary.setOpenLinks(False)
        self.layout_.addWidget(self.summary, 1)
        self.problems = QLabel("", self)
        self.problems.setObjectName("FieldError")
        self.problems.setWordWrap(True)
        self.layout_.addWidget(self.problems)
        self.run_check = QCheckBox("Run the job when I click Finish", self)
        self.run_check.setObjectName("RunOnFinish")
        self.layout_.addWidget(self.run_check)

    def load(self, definition: JobDefinition | None) -> None:
        pass

    def write(self, draft: dict[str, Any]) -> None:
        pass

    def show_errors(self, errors: Mapping[str, str]) -> None:
        if errors:
            order = list(dict.fromkeys(F.PAGE_OF_FIELD.values()))
            keys = sorted(errors, key=lambda k: order.index(F.PAGE_OF_FIELD.get(k, "Name")))
            lines = [f"{F.PAGE_OF_FIELD.get(key, 'Name')}: {errors[key]}" for key in keys]
            self.problems.setText("Before you can finish:\n" + "\n".join(lines))
        else:
            self.problems.setText("")

    def show_settings(self, definition: JobDefinition | None,
                      words: Callable[[JobDefinition], list[tuple[str, str]]] = describe_settings
                      ) -> None:
        if definition is None:
            self.summary.setHtml("<p>The settings are not complete yet.</p>")
            return
        rows = "".join(f"<tr><td class='k'>{escape(label)}:</td><td>{escape(text)}</td></tr>"
                       for label, text in words(definition))
        self.summary.setHtml(
            "<style>td{padding:2px 10px 2px 0;vertical-align:top}"
            "td.k{color:#52606A;white-space:nowrap}</style>"
            f"<table>{rows}</table>")

    def text(self) -> str:
        return self.summary.toPlainText()
