"""Add or edit one protected computer of a job: a local folder read by the
backup server's own agent, or a Linux computer the server reaches over SSH
(``ssh://USER@HOST[:PORT]/PATH``, agent "ssh").

For an SSH computer the window also edits the job's SSH settings (identity
file, known_hosts file, trust a new host key), which every Linux computer of
the job shares, and **Test connection** asks the backup server, off the GUI
thread, to connect, check the host key and the path.
"""
from __future__ import annotations

import getpass
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from PySide6.QtCore import QDir, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QHBoxLayout,
    QLabel, QLineEdit, QPushButton, QRadioButton, QSizePolicy, QSpinBox, QStackedWidget,
    QVBoxLayout, QWidget,
)
from shiboken6 import isValid

from core.models import Computer, SshSettings, parse_ssh_path

from gui.widgets.error_box import error_text
from gui.widgets.file_dialogs import tracked_file_dialog
from gui.jobs.wizard.draft import computer_name_error, suggest_computer_name
from gui.runtime.worker import TaskRunner

LOCAL: Final = "local"
SSH: Final = "ssh"
AGENTS: list[tuple[str, str]] = [
    (LOCAL, "Local folder"),
    (SSH, "Linux computer (SSH)"),
]
AGENT_TEXT = {LOCAL: "Local", SSH: "Linux (SSH)"}
DEFAULT_SSH_PORT = 22
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")
_PATH_SAFE = "/:@!$&'()*+,;=~"   # kept as typed; others (space, %, ?, #) are %-quoted
_USER_RE = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}\$?$")

TestComputer = Callable[[Computer, SshSettings], str]


def console_backend(widget: QWidget) -> tuple[TaskRunner, Any] | None:
    """The task runner and backup server facade of the console window that hosts
    ``widget`` (a wizard's parent), or None for a window shown on its own."""
    current: QWidget | None = widget
    while current is not None:
        runner, service = getattr(current, "runner", None), getattr(current, "service", None)
        if isinstance(runner, TaskRunner) and service is not None:
            return runner, service
        current = current.parentWidget()
    return None


def full_path(folder: str) -> str:
    """``~/data`` -> ``/home/me/data``; trailing slashes dropped."""
    folder = posixpath.expanduser(folder.strip())
    return folder.rstrip("/") or ("/" if folder else "")


def folder_error(folder: str) -> str | None:
    folder = full_path(folder)
    if not folder:
        return "Choose the folder that holds the computer's files."
    if not posixpath.isabs(folder):
        return "Type in the folder's full path, starting with '/'."
    return None


# -- ssh://USER@HOST[:PORT]/PATH -----------------------------------------------------------
@dataclass(frozen=True)
class SshAddress:
    user: str
    host: str
    port: int
    path: str

    def url(self) -> str:
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"          # an IPv6 address
        port = f":{self.port}" if self.port != DEFAULT_SSH_PORT else ""
        path = self.path if self.path.startswith("/") else "/" + self.path
        return f"ssh://{quote(self.user, safe='')}@{host}{port}{quote(path, safe=_PATH_SAFE)}"


def parse_ssh_url(url: str) -> SshAddress | None:
    """``ssh://USER@HOST[:PORT]/PATH`` -> its parts; None if it is not one."""
    try:
        target = parse_ssh_path(url)
    except ValueError:
        return None
    host = f"[{target.host}]" if ":" in target.host else target.host
    return SshAddress(target.user, host, target.port, target.path)


def host_error(host: str) -> str | None:
    host = host.strip()
    if not host:
        return "Type in the computer's DNS name or IP address."
    if not _HOST_RE.match(host):
        return "Type in a DNS name or IP address only (no user, port or path)."
    return None


def user_error(user: str) -> str | None:
    user = user.strip()
    if not user:
        return "Type in the account the backup server logs in with."
    if not _USER_RE.match(user):
        return "Type in a Linux account name: letters, digits, '.', '_' or '-'."
    return None


def remote_path_error(path: str) -> str | None:
    path = path.strip()
    if not path:
        return "Type in the folder to back up on the computer, e.g. /home or /."
    if not path.startswith("/"):
        return "Type in the folder's full path on the computer, starting with '/'."
    return None


def optional_file_error(path: str, what: str) -> str | None:
    path = path.strip()
    if path and not posixpath.isabs(posixpath.expanduser(path)):
        return f"Type in the {what}'s full path, starting with '/' (or leave it empty)."
    return None


def _optional_file(path: str) -> str | None:
    path = path.strip()
    return posixpath.expanduser(path) if path else None


class ComputerDialog(QDialog):
    chosen = Signal(object)   # Computer; for an SSH computer, ssh_settings() has its settings

    def __init__(self, taken: Iterable[str], computer: Computer | None = None,
                 parent: QWidget | None = None, *, ssh: SshSettings | None = None,
                 test_computer: TestComputer | None = None,
                 runner: TaskRunner | None = None, kind: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ComputerDialog")
        self.setWindowTitle("Edit Computer" if computer else "Add Computer")
        self.setModal(True)
        self._taken = [n for n in taken if computer is None or n != computer.name]
        self._auto_name = computer is None   # the name follows the folder/host until typed
        self._test_computer = test_computer
        self._runner = runner
        self._closed = False
        self._test_serial = 0
        self.testing = False
        self.test_count = 0          # answers of Test connection (for tests and the curious)
        self.file_dialog: QFileDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)

        kinds = QHBoxLayout()
        kinds.addWidget(QLabel("Type:", self))
        self.local_radio = QRadioButton(AGENTS[0][1], self)
        self.local_radio.setObjectName("LocalComputer")
        self.ssh_radio = QRadioButton(AGENTS[1][1], self)
        self.ssh_radio.setObjectName("SshComputer")
        self._kind_group = QButtonGroup(self)
        self._kind_group.addButton(self.local_radio)
        self._kind_group.addButton(self.ssh_radio)
        kinds.addWidget(self.local_radio)
        kinds.addWidget(self.ssh_radio)
        kinds.addStretch(1)
        layout.addLayout(kinds)

        self.pages = QStackedWidget(self)
        self.local_page = self._build_local_page()
        self.ssh_page = self._build_ssh_page()
        self.pages.addWidget(self.local_page)
        self.pages.addWidget(self.ssh_page)
        layout.addWidget(self.pages)

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Name:", self), 0, 0)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("ComputerName")
        self.name_edit.setMaxLength(63)
        grid.addWidget(self.name_edit, 0, 1)
        self.name_error = self._error_label()
        grid.addWidget(self.name_error, 1, 1)
        grid.setColumnMinimumWidth(0, 110)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        layout.addWidget(self.buttons)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.setMinimumWidth(600)

        settings = ssh or SshSettings()
        self.identity_edit.setText(settings.identity_file or "")
        self.known_hosts_edit.setText(settings.known_hosts_file or "")
        self.accept_new_check.setChecked(settings.accept_new_host_key)
        agent = computer.agent if computer is not None else (kind or LOCAL)
        if computer is not None:
            self.name_edit.setText(computer.name)
            if agent == SSH:
                address = parse_ssh_url(computer.path)
                if address is not None:
                    self.host_edit.setText(address.host)
                    self.port_spin.setValue(address.port)
                    self.user_edit.setText(address.user)
                    self.remote_path_edit.setText(address.path)
            else:
                self.folder_edit.setText(computer.path)
        (self.ssh_radio if agent == SSH else self.local_radio).setChecked(True)
        self._show_kind()

        self.local_radio.toggled.connect(self._kind_changed)
        self.name_edit.textEdited.connect(self._name_typed)
        self.name_edit.textChanged.connect(self._validate)
        self.folder_edit.textChanged.connect(self._folder_changed)
        self.host_edit.textChanged.connect(self._host_changed)
        for edit in (self.user_edit, self.remote_path_edit, self.identity_edit,
                     self.known_hosts_edit):
            edit.textChanged.connect(self._ssh_edited)
        self.port_spin.valueChanged.connect(self._ssh_edited)
        self.accept_new_check.toggled.connect(self._ssh_edited)
        self.browse_button.clicked.connect(self.browse)
        self.identity_browse.clicked.connect(
            lambda: self._browse_file(self.identity_edit, "Choose the private key file"))
        self.known_hosts_browse.clicked.connect(
            lambda: self._browse_file(self.known_hosts_edit, "Choose the known_hosts file"))
        self.test_button.clicked.connect(self.test_connection)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(self._on_finished)
        self._touched = computer is not None
        self._validate()
        self._show_kind()

    # -- building --------------------------------------------------------------------------
    def _error_label(self, parent: QWidget | None = None) -> QLabel:
        """A field's message, in a line of its own that is always there (empty while the
        field is fine): a message appearing never moves the fields under the pointer.
        A long one is cut at the label's width; its tooltip has it whole."""
        label = QLabel("", parent or self)
        label.setObjectName("FieldError")
        label.ensurePolished()
        label.setFixedHeight(label.fontMetrics().lineSpacing() + 2)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        return label

    def _build_local_page(self) -> QWidget:
        page = QWidget(self)
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Folder:", page), 0, 0)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit(page)
        self.folder_edit.setObjectName("ComputerFolder")
        self.folder_edit.setPlaceholderText("/srv/data")
        self.browse_button = QPushButton("Browse...", page)
        self.browse_button.setAutoDefault(False)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        grid.addLayout(row, 0, 1)
        self.folder_error = self._error_label(page)
        grid.addWidget(self.folder_error, 1, 1)
        note = QLabel("A folder on the backup server's machine, read by its local agent.", page)
        note.setObjectName("WizardCaption")
        note.setWordWrap(True)
        grid.addWidget(note, 2, 1)
        grid.setColumnMinimumWidth(0, 110)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)
        return page

    def _build_ssh_page(self) -> QWidget:
        page = QWidget(self)
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        row = 0

        def add(label: str, widget: QWidget | QHBoxLayout, error: QLabel | None = None) -> None:
            nonlocal row
            grid.addWidget(QLabel(label, page), row, 0)
            if isinstance(widget, QHBoxLayout):
                grid.addLayout(widget, row, 1)
            else:
                grid.addWidget(widget, row, 1)
            row += 1
            if error is not None:
                grid.addWidget(error, row, 1)
                row += 1

        host_row = QHBoxLayout()
        self.host_edit = QLineEdit(page)
        self.host_edit.setObjectName("SshHost")
        self.host_edit.setPlaceholderText("web-01.example.com or 192.168.1.20")
        self.port_spin = QSpinBox(page)
        self.port_spin.setObjectName("SshPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(DEFAULT_SSH_PORT)
        self.port_spin.setFixedWidth(80)
        host_row.addWidget(self.host_edit, 1)
        host_row.addSpacing(6)
        host_row.addWidget(QLabel("Port:", page))
        host_row.addSpacing(2)
        host_row.addWidget(self.port_spin)
        self.host_error = self._error_label(page)
        add("Host:", host_row, self.host_error)
        self.user_edit = QLineEdit(page)
        self.user_edit.setObjectName("SshUser")
        self.user_edit.setText(getpass.getuser())
        self.user_error = self._error_label(page)
        add("User:", self.user_edit, self.user_error)
        self.remote_path_edit = QLineEdit(page)
        self.remote_path_edit.setObjectName("SshPath")
        self.remote_path_edit.setPlaceholderText("/home")
        self.remote_path_error = self._error_label(page)
        add("Path:", self.remote_path_edit, self.remote_path_error)

        section = QLabel("SSH settings of the job (shared by its Linux computers)", page)
        section.setObjectName("WizardSection")
        grid.addWidget(section, row, 0, 1, 2)
        row += 1
        identity_row = QHBoxLayout()
        self.identity_edit = QLineEdit(page)
        self.identity_edit.setObjectName("SshIdentity")
        self.identity_edit.setPlaceholderText("Default: the server user's keys (~/.ssh)")
        self.identity_browse = QPushButton("Choose File...", page)
        self.identity_browse.setAutoDefault(False)
        identity_row.addWidget(self.identity_edit, 1)
        identity_row.addWidget(self.identity_browse)
        self.identity_error = self._error_label(page)
        add("Identity file:", identity_row, self.identity_error)
        known_row = QHBoxLayout()
        self.known_hosts_edit = QLineEdit(page)
        self.known_hosts_edit.setObjectName("SshKnownHosts")
        self.known_hosts_edit.setPlaceholderText("Default: known_hosts in the data directory")
        self.known_hosts_browse = QPushButton("Choose File...", page)
        self.known_hosts_browse.setAutoDefault(False)
        known_row.addWidget(self.known_hosts_edit, 1)
        known_row.addWidget(self.known_hosts_browse)
        self.known_hosts_error = self._error_label(page)
        add("Known hosts:", known_row, self.known_hosts_error)
        self.accept_new_check = QCheckBox("Trust the host key the first time it is seen", page)
        self.accept_new_check.setObjectName("SshAcceptNew")
        self.accept_new_check.setToolTip(
            "Remember a computer's host key at the first connection (OpenSSH accept-new). "
            "A key that later changes is always refused.")
        grid.addWidget(self.accept_new_check, row, 1)
        row += 1

        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test connection", page)
        self.test_button.setObjectName("SshTest")
        self.test_button.setAutoDefault(False)
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        grid.addLayout(test_row, row, 1)
        row += 1
        self.test_result = QLabel("", page)
        self.test_result.setObjectName("TestResult")
        self.test_result.setWordWrap(True)
        self.test_result.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.test_result.setMinimumHeight(3 * self.fontMetrics().lineSpacing() + 4)
        grid.addWidget(self.test_result, row, 1)
        grid.setColumnMinimumWidth(0, 110)
        grid.setColumnStretch(1, 1)
        return page

    # -- kind, name ------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return SSH if self.ssh_radio.isChecked() else LOCAL

    def _show_kind(self) -> None:
        """Show the kind's fields; the window fits them (the hidden page takes no room)."""
        shown = self.ssh_page if self.kind == SSH else self.local_page
        for page in (self.local_page, self.ssh_page):
            policy = QSizePolicy.Policy.Preferred if page is shown else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        self.pages.setCurrentWidget(shown)
        self.pages.updateGeometry()
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.adjustSize()
        # Fit the kind's fields: a shorter page (Local folder) leaves no empty room.
        self.resize(self.width(), self.sizeHint().height())

    def _kind_changed(self, *_args: object) -> None:
        self._show_kind()
        self._suggest_name()
        self._validate()

    def _name_typed(self, _text: str) -> None:
        self._auto_name = False
        self._touched = True

    def _suggest_name(self) -> None:
        if not self._auto_name:
            return
        source = self.host_edit.text().strip().strip("[]") if self.kind == SSH \
            else self.folder_edit.text()
        self.name_edit.setText(suggest_computer_name(source.replace(":", "-")))

    def _folder_changed(self, _folder: str) -> None:
        self._touched = True
        self._suggest_name()
        self._validate()

    def _host_changed(self, _host: str) -> None:
        self._touched = True
        self._suggest_name()
        self._ssh_edited()

    def _ssh_edited(self, *_args: object) -> None:
        """An answer about other settings would mislead: drop it (or the one coming)."""
        self._touched = True
        self._test_serial += 1
        self.testing = False
        self._set_result("", ok=None)
        self._validate()

    # -- validation ------------------------------------------------------------------------
    def field_errors(self) -> dict[str, str]:
        """Every problem of the form, by field (empty: the computer is valid)."""
        found: dict[str, str | None] = {
            "name": computer_name_error(self.name_edit.text(), self._taken)}
        if self.kind == SSH:
            found.update(
                host=host_error(self.host_edit.text()),
                user=user_error(self.user_edit.text()),
                path=remote_path_error(self.remote_path_edit.text()),
                identity=optional_file_error(self.identity_edit.text(), "identity file"),
                known_hosts=optional_file_error(self.known_hosts_edit.text(),
                                                "known_hosts file"))
        else:
            found["folder"] = folder_error(self.folder_edit.text())
        return {key: text for key, text in found.items() if text}

    def errors(self) -> tuple[str | None, str | None]:
        """(name problem, location problem): kept for callers of the local form."""
        found = self.field_errors()
        location = next((found[k] for k in ("folder", "host", "user", "path", "identity",
                                            "known_hosts") if k in found), None)
        return found.get("name"), location

    def _validate(self) -> None:
        found = self.field_errors() if self._touched else {}
        for key, label in (("name", self.name_error), ("folder", self.folder_error),
                           ("host", self.host_error), ("user", self.user_error),
                           ("path", self.remote_path_error),
                           ("identity", self.identity_error),
                           ("known_hosts", self.known_hosts_error)):
            text = found.get(key, "")
            label.setToolTip(text)
            width = max(label.width(), 200)
            label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                         width))
        valid = not self.field_errors()
        self.ok_button.setEnabled(valid)
        self._update_test_button()

    def _update_test_button(self) -> None:
        available = self._runner is not None and self._test_computer is not None
        location_ok = not (set(self.field_errors()) - {"name"})
        self.test_button.setEnabled(available and location_ok and not self.testing)
        self.test_button.setToolTip(
            "Ask the backup server to connect, check the host key and read the path"
            if available else "Not connected to a backup server")

    # -- browsing --------------------------------------------------------------------------
    def browse(self) -> None:
        """Choose the folder in a file dialog (opened, never exec'd)."""
        dialog = self._open_file_dialog("Choose the computer's folder", self.folder_edit)
        if dialog is not None:
            dialog.setFileMode(QFileDialog.FileMode.Directory)
            dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
            dialog.open()

    def _browse_file(self, edit: QLineEdit, title: str) -> None:
        dialog = self._open_file_dialog(title, edit)
        if dialog is not None:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
            dialog.setFilter(dialog.filter() | QDir.Filter.Hidden)   # ~/.ssh
            dialog.open()

    def _open_file_dialog(self, title: str, edit: QLineEdit) -> QFileDialog | None:
        start = edit.text().strip() or posixpath.expanduser("~/.ssh")
        return tracked_file_dialog(self, title, start, edit)

    # -- test connection -------------------------------------------------------------------
    def test_connection(self) -> None:
        """Ask the server to reach the computer; the answer shows under the button."""
        if self._runner is None or self._test_computer is None or self.testing:
            return
        if set(self.field_errors()) - {"name"}:
            return
        computer = self._computer_for_test()
        settings = self.ssh_settings()
        self._test_serial += 1
        serial = self._test_serial
        self.testing = True
        self._set_result("Connecting to " + self.host_edit.text().strip() + "…", ok=None)
        self._update_test_button()
        test = self._test_computer
        self._runner.submit(lambda: test(computer, settings),
                            lambda answer: self._tested(serial, str(answer), True),
                            lambda exc: self._tested(serial, error_text(exc), False))

    def _computer_for_test(self) -> Computer:
        name = self.name_edit.text().strip()
        if computer_name_error(name) is not None:
            name = suggest_computer_name(self.host_edit.text().strip("[]").replace(":", "-")) \
                or "computer"
        return Computer(name=name, path=self.ssh_address().url(), agent=SSH)

    def _tested(self, serial: int, text: str, ok: bool) -> None:
        if self._closed or not isValid(self) or serial != self._test_serial:
            return
        self.testing = False
        self.test_count += 1
        self._set_result(text, ok=ok)
        self._update_test_button()
        if self.sizeHint().height() > self.height():   # a long answer: room for all of it
            self.resize(self.width(), self.sizeHint().height())

    def _set_result(self, text: str, *, ok: bool | None) -> None:
        self.test_result.setText(text)
        self.test_result.setProperty("state", "busy" if ok is None else "ok" if ok else "error")
        self.test_result.style().unpolish(self.test_result)
        self.test_result.style().polish(self.test_result)

    @property
    def test_ok(self) -> bool | None:
        """The last Test connection's verdict (None: none yet, or testing)."""
        state: Any = self.test_result.property("state")
        return None if state not in ("ok", "error") or not self.test_result.text() \
            else state == "ok"

    # -- the result ------------------------------------------------------------------------
    def ssh_address(self) -> SshAddress:
        return SshAddress(self.user_edit.text().strip(), self.host_edit.text().strip(),
                          self.port_spin.value(), self.remote_path_edit.text().strip())

    def ssh_settings(self) -> SshSettings:
        return SshSettings(identity_file=_optional_file(self.identity_edit.text()),
                           known_hosts_file=_optional_file(self.known_hosts_edit.text()),
                           accept_new_host_key=self.accept_new_check.isChecked())

    def computer(self) -> Computer:
        if self.kind == SSH:
            return Computer(name=self.name_edit.text().strip(), path=self.ssh_address().url(),
                            agent=SSH)
        return Computer(name=self.name_edit.text().strip(),
                        path=full_path(self.folder_edit.text()), agent=LOCAL)

    def _accept(self) -> None:
        if self.field_errors():
            return
        self.chosen.emit(self.computer())
        self.accept()

    def _on_finished(self, _result: int) -> None:
        self._closed = True
