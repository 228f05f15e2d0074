"""The Add Backup Repository wizard: Type (a local folder or S3 compatible
storage), Repository (its name, and the folder or the bucket's URL and keys),
Encryption (a password, or "Do not encrypt (insecure)") and Review (the
settings in words, and **Test connection**).

Problems show in plain words next to their fields; Finish is enabled once
the settings are complete. Test connection and Finish ask the backup server
off the GUI thread; its answer (or its refusal) shows inline on the Review
step, never as a traceback. The secrets typed here go to the server once and
are never shown again.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QRadioButton, QSpinBox, QStackedWidget, QVBoxLayout, QWidget,
)
from pydantic import SecretStr
from shiboken6 import isValid

from core.api import RepositoryInfo, RepositorySpec

from gui.widgets.error_box import error_text
from gui.widgets.file_dialogs import tracked_file_dialog
from gui.infrastructure.repositories_model import kind_text
from gui.widgets.wizard import WizardFrame
from gui.runtime.worker import TaskRunner

LOCAL = "local"
S3 = "s3"
MAX_NAME = 64
S3_URL_RE = re.compile(r"^s3:https?://[^/\s:]+(:\d{1,5})?/[^/\s]+(/\S*)?$")
S3_EXAMPLE = "s3:https://s3.example.com:9000/backups/console"

STEPS: list[tuple[str, str]] = [
    ("Type", "Choose where backups are kept: a folder on the backup server's machine, or "
             "an S3 compatible object storage bucket."),
    ("Repository", "Type in a name for the repository and where it is."),
    ("Encryption", "Protect the backups with a password: data is encrypted before it "
                   "leaves the backup server."),
    ("Review", "Review the settings and test the connection, then click Finish."),
]
_PAGE_OF_FIELD = {"kind": "Type", "name": "Repository", "path": "Repository",
                  "url": "Repository", "access_key": "Repository", "secret_key": "Repository",
                  "password": "Encryption", "confirm": "Encryption"}

TestRepository = Callable[[RepositorySpec], str]
AddRepository = Callable[[RepositorySpec], RepositoryInfo]


def _caption(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("WizardCaption")
    label.setWordWrap(True)
    return label


def _error(parent: QWidget) -> QLabel:
    label = QLabel("", parent)
    label.setObjectName("FieldError")
    label.setWordWrap(True)
    label.hide()
    return label


def _page(parent: QWidget) -> tuple[QWidget, QVBoxLayout]:
    page = QWidget(parent)
    page.setObjectName("WizardPage")
    layout = QVBoxLayout(page)
    layout.setContentsMargins(20, 16, 20, 12)
    layout.setSpacing(4)
    return page, layout


class RepositoryWizard(WizardFrame):
    def _free_name(self) -> str:
        """'Backup Repository N' with the lowest N not taken yet."""
        n = 1
        while f"backup repository {n}" in self._taken:
            n += 1
        return f"Backup Repository {n}"

    added = Signal(object)   # RepositoryInfo, once the server has added it

    def __init__(self, runner: TaskRunner, test_repository: TestRepository,
                 add_repository: AddRepository, taken_names: Iterable[str],
                 parent: QWidget | None = None) -> None:
        super().__init__("New Backup Repository", "add_repository", parent)
        self.setObjectName("RepositoryWizard")
        self._runner = runner
        self._test = test_repository
        self._add = add_repository
        self._taken = {n.casefold() for n in taken_names}
        self._closed = False
        self._serial = 0            # the last Test connection asked
        self.testing = False
        self.test_count = 0         # Test connection answers received
        self.saving = False
        self.errors: dict[str, str] = {}
        self.file_dialog: QFileDialog | None = None

        self._build_type_page()
        self._build_location_page()
        self._build_encryption_page()
        self._build_review_page()
        self.finish_button.clicked.connect(self.finish)
        self.stepChanged.connect(lambda _i: self.revalidate())
        self.finished.connect(self._on_closed)
        self.resize(760, 520)
        self.revalidate()

    # -- pages -----------------------------------------------------------------------------
    def _build_type_page(self) -> None:
        page, layout = _page(self)
        self.local_radio = QRadioButton("Local folder", page)
        self.local_radio.setObjectName("RepoLocal")
        self.s3_radio = QRadioButton("S3 compatible", page)
        self.s3_radio.setObjectName("RepoS3")
        group = QButtonGroup(page)
        group.addButton(self.local_radio)
        group.addButton(self.s3_radio)
        self.local_radio.setChecked(True)
        layout.addWidget(self.local_radio)
        layout.addWidget(self._indented(_caption(
            "A folder on the backup server's machine: a local disk, or a NAS share mounted "
            "there.", page)))
        layout.addSpacing(10)
        layout.addWidget(self.s3_radio)
        layout.addWidget(self._indented(_caption(
            "A bucket of Amazon S3 or any S3 compatible storage (MinIO, SeaweedFS, Ceph, "
            "Wasabi...), reached over HTTP(S).", page)))
        layout.addStretch(1)
        self.local_radio.toggled.connect(self._kind_changed)
        self.add_step(*STEPS[0], page)

    def _indented(self, widget: QWidget) -> QWidget:
        widget.setContentsMargins(22, 0, 0, 0)
        return widget

    def _build_location_page(self) -> None:
        page, layout = _page(self)
        layout.addWidget(QLabel("Name:", page))
        self.name_edit = QLineEdit(page)
        self.name_edit.setObjectName("RepoName")
        self.name_edit.setMaxLength(MAX_NAME)
        self.name_edit.setText(self._free_name())   # like the reference: a name to keep or change
        layout.addWidget(self.name_edit)
        self.name_error = _error(page)
        layout.addWidget(self.name_error)
        layout.addSpacing(8)

        self.location_stack = QStackedWidget(page)
        local, local_layout = QWidget(page), QVBoxLayout()
        local.setLayout(local_layout)
        local_layout.setContentsMargins(0, 0, 0, 0)
        local_layout.setSpacing(4)
        local_layout.addWidget(QLabel("Folder:", local))
        row = QHBoxLayout()
        self.path_edit = QLineEdit(local)
        self.path_edit.setObjectName("RepoPath")
        self.path_edit.setPlaceholderText("/mnt/backups/repository")
        self.browse_button = QPushButton("Browse...", local)
        self.browse_button.setAutoDefault(False)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        local_layout.addLayout(row)
        self.path_error = _error(local)
        local_layout.addWidget(self.path_error)
        local_layout.addWidget(_caption(
            "An empty or new folder becomes a new repository; a folder that already holds "
            "one is added as it is.", local))
        local_layout.addStretch(1)

        s3 = QWidget(page)
        grid = QGridLayout(s3)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Endpoint URL:", s3), 0, 0)
        self.url_edit = QLineEdit(s3)
        self.url_edit.setObjectName("RepoUrl")
        self.url_edit.setPlaceholderText(S3_EXAMPLE)
        grid.addWidget(self.url_edit, 0, 1)
        self.url_error = _error(s3)
        grid.addWidget(self.url_error, 1, 1)
        grid.addWidget(_caption("s3:http(s)://HOST:PORT/BUCKET, optionally followed by "
                                "/PREFIX, a folder inside the bucket.", s3), 2, 1)
        grid.addWidget(QLabel("Access key:", s3), 3, 0)
        self.access_key_edit = QLineEdit(s3)
        self.access_key_edit.setObjectName("RepoAccessKey")
        self.access_key_edit.setPlaceholderText("Default: AWS_ACCESS_KEY_ID of the server")
        grid.addWidget(self.access_key_edit, 3, 1)
        self.access_key_error = _error(s3)
        grid.addWidget(self.access_key_error, 4, 1)
        grid.addWidget(QLabel("Secret key:", s3), 5, 0)
        self.secret_key_edit = QLineEdit(s3)
        self.secret_key_edit.setObjectName("RepoSecretKey")
        self.secret_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        grid.addWidget(self.secret_key_edit, 5, 1)
        self.secret_key_error = _error(s3)
        grid.addWidget(self.secret_key_error, 6, 1)
        grid.addWidget(_caption("The keys are kept by the backup server, readable only by "
                                "its user, and never shown again.", s3), 7, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(8, 1)
        self.location_stack.addWidget(local)
        self.location_stack.addWidget(s3)
        self._local_box, self._s3_box = local, s3
        layout.addWidget(self.location_stack, 1)

        for edit in (self.name_edit, self.path_edit, self.url_edit, self.access_key_edit,
                     self.secret_key_edit):
            edit.textChanged.connect(self._edited)
        self.browse_button.clicked.connect(self.browse)
        self.add_step(*STEPS[1], page)

    def _build_encryption_page(self) -> None:
        page, layout = _page(self)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Password:", page), 0, 0)
        self.password_edit = QLineEdit(page)
        self.password_edit.setObjectName("RepoPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        grid.addWidget(self.password_edit, 0, 1)
        self.password_error = _error(page)
        grid.addWidget(self.password_error, 1, 1)
        grid.addWidget(QLabel("Confirm password:", page), 2, 0)
        self.confirm_edit = QLineEdit(page)
        self.confirm_edit.setObjectName("RepoConfirm")
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        grid.addWidget(self.confirm_edit, 2, 1)
        self.confirm_error = _error(page)
        grid.addWidget(self.confirm_error, 3, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        layout.addSpacing(4)
        self.encryption_note = _caption("", page)
        layout.addWidget(self.encryption_note)
        layout.addSpacing(10)
        self.insecure_check = QCheckBox("Do not encrypt (insecure)", page)
        self.insecure_check.setObjectName("RepoInsecure")
        layout.addWidget(self.insecure_check)
        self.insecure_warning = QLabel(
            "Anyone who can read this storage can read every backed up file. Choose this "
            "only for storage that is protected otherwise.", page)
        self.insecure_warning.setObjectName("InsecureWarning")
        self.insecure_warning.setWordWrap(True)
        self.insecure_warning.hide()
        layout.addWidget(self.insecure_warning)
        layout.addSpacing(10)
        row = QHBoxLayout()
        self.immutable_check = QCheckBox("Make recent backups immutable for", page)
        self.immutable_check.setObjectName("RepoImmutable")
        row.addWidget(self.immutable_check)
        self.immutable_days = QSpinBox(page)
        self.immutable_days.setObjectName("RepoImmutableDays")
        self.immutable_days.setRange(1, 36500)
        self.immutable_days.setValue(30)
        self.immutable_days.setSuffix(" days")
        row.addWidget(self.immutable_days)
        row.addStretch(1)
        layout.addLayout(row)
        self.immutable_note = _caption("", page)
        self.immutable_note.setObjectName("RepoImmutableNote")
        layout.addWidget(self.immutable_note)
        layout.addStretch(1)
        for edit in (self.password_edit, self.confirm_edit):
            edit.textChanged.connect(self._edited)
        self.insecure_check.toggled.connect(self._edited)
        self.immutable_check.toggled.connect(self._edited)
        self.immutable_days.valueChanged.connect(self._edited)
        self.add_step(*STEPS[2], page)

    def _build_review_page(self) -> None:
        page, layout = _page(self)
        self.summary = QLabel("", page)
        self.summary.setObjectName("RepoSummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.summary)
        layout.addSpacing(10)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection", page)
        self.test_button.setObjectName("RepoTest")
        self.test_button.setAutoDefault(False)
        self.test_button.setToolTip("Ask the backup server to reach the repository with these "
                                    "settings, without adding it")
        row.addWidget(self.test_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.result_label = QLabel("", page)
        self.result_label.setObjectName("TestResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        self.test_button.clicked.connect(self.test_connection)
        self.add_step(*STEPS[3], page)

    # -- state -----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return S3 if self.s3_radio.isChecked() else LOCAL

    def _kind_changed(self, *_args: object) -> None:
        self.location_stack.setCurrentWidget(self._s3_box if self.kind == S3 else self._local_box)
        self._edited()

    def _edited(self, *_args: object) -> None:
        """An answer about other settings would mislead: drop it (or the one coming)."""
        if not self.saving:
            self._serial += 1
            self.testing = False
            self._set_result("", ok=None)
        self.revalidate()

    def location(self) -> str:
        if self.kind == S3:
            return self.url_edit.text().strip()
        path = posixpath.expanduser(self.path_edit.text().strip())
        return path.rstrip("/") or path

    def check(self) -> dict[str, str]:
        """Every problem of the settings, by field; empty when they can be added."""
        found: dict[str, str] = {}
        name = self.name_edit.text().strip()
        if not name:
            found["name"] = "Type in a name for the repository."
        elif name.casefold() in self._taken:
            found["name"] = f"A repository named '{name}' already exists. Choose another name."
        if self.kind == LOCAL:
            path = self.location()
            if not path:
                found["path"] = "Choose the folder that holds (or will hold) the repository."
            elif not posixpath.isabs(path):
                found["path"] = "Type in the folder's full path, starting with '/'."
        else:
            url = self.location()
            if not url:
                found["url"] = f"Type in the bucket's URL, e.g. {S3_EXAMPLE}"
            elif not S3_URL_RE.match(url):
                found["url"] = ("Type the URL as s3:http(s)://HOST:PORT/BUCKET[/PREFIX], "
                                f"e.g. {S3_EXAMPLE}")
            has_key = bool(self.access_key_edit.text().strip())
            has_secret = bool(self.secret_key_edit.text())
            if has_secret and not has_key:
                found["access_key"] = "Type in the access key that goes with the secret key."
            if has_key and not has_secret:
                found["secret_key"] = "Type in the secret key of this access key."
        if not self.insecure_check.isChecked():
            password = self.password_edit.text()
            if not password and self.kind == S3:
                found["password"] = ("Type in a password, or tick 'Do not encrypt (insecure)' "
                                     "to keep the backups unencrypted.")
            elif password and self.confirm_edit.text() != password:
                found["confirm"] = "The passwords do not match: type the same password twice."
        return found

    def spec(self) -> RepositorySpec:
        """What the server is asked to test or add (with the secrets typed in)."""
        insecure = self.insecure_check.isChecked()
        password = self.password_edit.text()
        s3 = self.kind == S3
        key = self.access_key_edit.text().strip()
        secret = self.secret_key_edit.text()
        return RepositorySpec(
            name=self.name_edit.text().strip(), url=self.location(),
            password=SecretStr(password) if password and not insecure else None,
            insecure_no_encryption=insecure,
            immutable_days=self.immutable_days.value()
            if s3 and self.immutable_check.isChecked() else None,
            access_key_id=key if s3 and key else None,
            secret_access_key=SecretStr(secret) if s3 and secret else None)

    @property
    def encrypted(self) -> bool:
        return not self.insecure_check.isChecked() and bool(self.password_edit.text())

    def revalidate(self) -> None:
        if self._closed:
            return
        self.errors = self.check()
        labels = {"name": self.name_error, "path": self.path_error, "url": self.url_error,
                  "access_key": self.access_key_error, "secret_key": self.secret_key_error,
                  "password": self.password_error, "confirm": self.confirm_error}
        for key, label in labels.items():
            label.setText(self.errors.get(key, ""))
            label.setVisible(key in self.errors)
        insecure = self.insecure_check.isChecked()
        for edit in (self.password_edit, self.confirm_edit):
            edit.setEnabled(not insecure)
        self.insecure_warning.setVisible(insecure)
        self.insecure_check.setVisible(self.kind == S3 or insecure)
        s3 = self.kind == S3
        self.immutable_check.setEnabled(s3)
        self.immutable_days.setEnabled(s3 and self.immutable_check.isChecked())
        self.immutable_note.setText(
            "Nobody, not even someone holding the backup server's S3 keys, can delete or "
            "change a backup for that many days. The bucket must have Object Lock enabled."
            if s3 else "Immutability needs object storage (S3 with Object Lock): a local "
            "folder can always be changed by whoever can write to it.")
        self.encryption_note.setText(
            "Keep the password safe: without it the backups cannot be restored. It is kept "
            "by the backup server and never shown again."
            + ("" if self.kind == S3 else
               " Leave it empty to keep the backups in this folder unencrypted."))
        titles = self.step_titles()
        self.set_problems({titles.index(_PAGE_OF_FIELD[k]) for k in self.errors})
        self.set_finish_allowed(not self.errors and not self.saving)
        self.test_button.setEnabled(not self.errors and not self.testing and not self.saving)
        self.summary.setText(self._summary_html())

    def _summary_html(self) -> str:
        rows = [("Type", kind_text(self.kind)),
                ("Name", self.name_edit.text().strip() or "—"),
                ("Folder" if self.kind == LOCAL else "Endpoint URL", self.location() or "—")]
        if self.kind == S3:
            rows.append(("Access key", self.access_key_edit.text().strip()
                         or "AWS_ACCESS_KEY_ID of the backup server"))
        rows.append(("Encryption", "Encrypted with a password" if self.encrypted
                     else "None: backups are stored unencrypted"))
        spec_days = self.immutable_days.value() if self.kind == S3 and \
            self.immutable_check.isChecked() else None
        rows.append(("Immutability", f"Locked for {spec_days} days (S3 Object Lock)"
                     if spec_days else "None"))
        cells = "".join(f"<tr><td style='padding:2px 16px 2px 0;color:#52606A'>{escape(k)}"
                        f"</td><td style='padding:2px 0'>{escape(v)}</td></tr>"
                        for k, v in rows)
        problems = "".join(f"<li>{escape(text)}</li>" for text in self.errors.values())
        fix = (f"<p style='color:#C62828'>To fix before Finish:</p><ul style='color:#C62828'>"
               f"{problems}</ul>") if problems else ""
        return f"<table>{cells}</table>{fix}"

    # -- browsing --------------------------------------------------------------------------
    def browse(self) -> None:
        """Choose the folder in a file dialog (opened, never exec'd)."""
        dialog = tracked_file_dialog(self, "Choose the repository's folder",
                                     self.path_edit.text(), self.path_edit)
        if dialog is None:
            return
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.open()

    # -- test connection -------------------------------------------------------------------
    def test_connection(self) -> None:
        if self.testing or self.saving or self.check():
            return
        spec = self.spec()
        self._serial += 1
        serial = self._serial
        self.testing = True
        self._set_result("Connecting to the repository…", ok=None)
        self.revalidate()
        test = self._test
        self._runner.submit(lambda: test(spec),
                            lambda answer: self._tested(serial, str(answer), True),
                            lambda exc: self._tested(serial, error_text(exc), False))

    def _tested(self, serial: int, text: str, ok: bool) -> None:
        if self._closed or not isValid(self) or serial != self._serial:
            return
        self.testing = False
        self.test_count += 1
        self._set_result(text, ok=ok)
        self.revalidate()

    def _set_result(self, text: str, *, ok: bool | None) -> None:
        self.result_label.setText(text)
        self.result_label.setProperty("state", "busy" if ok is None else "ok" if ok else "error")
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)

    @property
    def result_text(self) -> str:
        return self.result_label.text()

    @property
    def result_ok(self) -> bool | None:
        state = self.result_label.property("state")
        return None if state not in ("ok", "error") or not self.result_text else state == "ok"

    # -- finish ----------------------------------------------------------------------------
    def finish(self) -> None:
        self.revalidate()
        if self.errors or self.saving:
            return
        spec = self.spec()
        self.saving = True
        self._serial += 1            # a Test connection still out no longer matters
        self.testing = False
        self.set_busy(True)
        self.go_to_step("Review")
        self._set_result("Adding the repository…", ok=None)
        self.revalidate()
        add = self._add
        self._runner.submit(lambda: add(spec), self._added, self._add_failed)

    def _added(self, info: object) -> None:
        if self._closed or not isValid(self):
            return
        self.saving = False
        self.set_busy(False)
        self.added.emit(info)
        self.accept()

    def _add_failed(self, exc: BaseException) -> None:
        if self._closed or not isValid(self):
            return
        self.saving = False
        self.set_busy(False)
        self.go_to_step("Review")
        self._set_result("The repository was not added: " + error_text(exc), ok=False)
        self.revalidate()

    def _on_closed(self, _result: int) -> None:
        self._closed = True
