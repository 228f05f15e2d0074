"""The "Connect to backup server" window: server, port, user and password, like
the reference console's first window, with SSH's first-time fingerprint question.

Order matters for safety: the server's certificate is fetched and checked
*before* the password leaves this machine, so a server that shows another
certificate than the one trusted before never sees it. Every network step runs
on the TaskRunner; the GUI thread only shows what came back."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from gui.connect.backend import ConnectBackend, Connected, NeedsCode, Probe
from gui.connect.recent_servers import DEFAULT_PORT, RecentServer, load_recent, remember
from gui.runtime.worker import TaskRunner
from gui.widgets.error_box import error_text

TITLE = "Connect to backup server"


def fingerprint_text(fingerprint: str) -> str:
    """Hex in pairs, as ssh and browsers show it: 'AB:CD:...'."""
    pairs = [fingerprint[i:i + 2].upper() for i in range(0, len(fingerprint), 2)]
    return ":".join(pairs)


def split_server(text: str, port: int) -> tuple[str, int]:
    """'host', 'host:port' or 'https://host:port/' as typed; the port field otherwise."""
    text = text.strip().removeprefix("https://").rstrip("/")
    host, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and host and not host.endswith(":"):   # not a bare IPv6
        return host.strip("[]"), int(tail)
    return text.strip("[]"), port


class ConnectDialog(QDialog):
    """Modal; ``connected`` holds the result once accepted."""

    def __init__(self, backend: ConnectBackend, settings: QSettings, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConnectDialog")
        self.setWindowTitle(TITLE)
        self.setModal(True)
        self._backend = backend
        self._settings = settings
        self._runner = runner
        self.connected: Connected | None = None
        self.question: QMessageBox | None = None   # the fingerprint question, while open
        self._recent = load_recent(settings)

        layout = QVBoxLayout(self)
        heading = QLabel("Type the name or address of the backup server and your "
                         "credentials.", self)
        heading.setWordWrap(True)
        layout.addWidget(heading)
        form = QFormLayout()
        self.server = QComboBox(self)
        self.server.setObjectName("ServerCombo")
        self.server.setEditable(True)
        self.server.setMinimumWidth(260)
        for server in self._recent:
            self.server.addItem(server.label)
        editor = self.server.lineEdit()
        if editor is not None:
            editor.setPlaceholderText("backup.example.com")
            editor.editingFinished.connect(self._port_typed_in_server)
        self.port = QSpinBox(self)
        self.port.setObjectName("PortSpin")
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.user = QLineEdit(self)
        self.user.setObjectName("UserEdit")
        self.password = QLineEdit(self)
        self.password.setObjectName("PasswordEdit")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.code = QLineEdit(self)
        self.code.setObjectName("CodeEdit")
        self.code.setPlaceholderText("6 digits from your authenticator app")
        self.code_label = QLabel("Code:", self)
        form.addRow("Server:", self.server)
        form.addRow("Port:", self.port)
        form.addRow("User name:", self.user)
        form.addRow("Password:", self.password)
        form.addRow(self.code_label, self.code)
        self.code.hide()
        self.code_label.hide()
        layout.addLayout(form)
        self.status = QLabel("", self)
        self.status.setObjectName("ConnectStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(self)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setObjectName("ConnectButton")
        self.connect_button.setDefault(True)
        buttons.addButton(self.connect_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = buttons.addButton("Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button.setObjectName("CloseButton")
        self.connect_button.clicked.connect(self.start_connect)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.server.currentIndexChanged.connect(self._recent_chosen)
        if self._recent:
            self._recent_chosen(0)

    # -- the fields -------------------------------------------------------------------
    def _recent_chosen(self, index: int) -> None:
        if 0 <= index < len(self._recent):
            chosen = self._recent[index]
            self.port.setValue(chosen.port)
            self.user.setText(chosen.user)
            self.password.setFocus()

    def _port_typed_in_server(self) -> None:
        """'host:port' typed in the Server field: the port goes to its own field."""
        host, port = self.target()
        if host and host != self.server.currentText().strip():
            self.server.setCurrentText(host)
            self.port.setValue(port)

    def target(self) -> tuple[str, int]:
        return split_server(self.server.currentText(), self.port.value())

    def _missing(self) -> str | None:
        host, _port = self.target()
        if not host:
            return "Type the backup server's name or address."
        if not self.user.text().strip():
            return "Type your user name."
        if not self.password.text():
            return "Type your password."
        if self.code.isVisible() and not self.code.text().strip():
            return "Type the code from your authenticator app."
        return None

    def _busy(self, busy: bool, text: str = "") -> None:
        for widget in (self.server, self.port, self.user, self.password, self.code,
                       self.connect_button):
            widget.setEnabled(not busy)
        self.status.setText(text)
        self.status.setProperty("error", False)

    def _fail(self, text: str) -> None:
        self._busy(False)
        self.status.setText(text)
        self.status.setProperty("error", True)
        self.status.style().polish(self.status)

    # -- the steps: probe, (trust), log in ------------------------------------------------
    def start_connect(self) -> None:
        missing = self._missing()
        if missing is not None:
            self._fail(missing)
            return
        host, port = self.target()
        self._busy(True, f"Connecting to {host}:{port}...")
        self._runner.submit(lambda: self._backend.probe(host, port),
                            lambda probe: self._probed(host, port, probe), self._error)

    def _probed(self, host: str, port: int, probe: Probe) -> None:
        if probe.changed:
            self._refuse_changed(host, port, probe)
            return
        if probe.first_time:
            self._ask_trust(host, port, probe)
            return
        self._login(host, port, probe.fingerprint, trust=False)

    def _refuse_changed(self, host: str, port: int, probe: Probe) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, TITLE,
                          f"The certificate of {host}:{port} is not the one you trusted "
                          "before. Someone may be pretending to be your backup server, so "
                          "your password was not sent.", QMessageBox.StandardButton.Close, self)
        box.setObjectName("FingerprintChanged")
        box.setInformativeText(
            f"Trusted before: {fingerprint_text(probe.known or '')}\n"
            f"Shown now: {fingerprint_text(probe.fingerprint)}\n\n"
            "If the server's certificate was replaced on purpose, check the new fingerprint "
            "with 'agent-jobs server status' on the server, then remove the server's line "
            f"from {self._backend.known_servers_file()} and connect again.")
        self.question = box
        box.finished.connect(lambda _r: self._fail("Not connected: the server's certificate "
                                                   "has changed."))
        box.open()

    def _ask_trust(self, host: str, port: int, probe: Probe) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, TITLE,
                          f"You have not connected to {host}:{port} before. Check that this "
                          "is your backup server's certificate fingerprint (SHA-256; "
                          "'agent-jobs server status' on the server prints it):",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("TrustServer")
        box.setInformativeText(fingerprint_text(probe.fingerprint) +
                               "\n\nTrust this server and connect?")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.question = box

        def answered(result: int) -> None:
            self.question = None
            if result == QMessageBox.StandardButton.Yes:
                self._login(host, port, probe.fingerprint, trust=True)
            else:
                self._fail("Not connected: the server's certificate was not trusted.")

        box.finished.connect(answered)
        box.open()

    def _login(self, host: str, port: int, fingerprint: str, *, trust: bool) -> None:
        user, password = self.user.text().strip(), self.password.text()
        code = self.code.text().strip() if self.code.isVisible() else None
        self._busy(True, f"Logging in to {host}:{port} as {user}...")

        def work() -> Connected | NeedsCode:
            if trust:
                self._backend.trust(host, port, fingerprint)
            return self._backend.login(host, port, fingerprint, user, password, code)

        self._runner.submit(work, lambda outcome: self._logged_in(host, port, outcome),
                            self._error)

    def _logged_in(self, host: str, port: int, outcome: Any) -> None:
        if isinstance(outcome, NeedsCode):
            self._busy(False)
            self.code_label.show()
            self.code.show()
            self.code.setFocus()
            self.status.setText("This user has a second factor: type the code from your "
                                "authenticator app.")
            return
        assert isinstance(outcome, Connected)
        self.connected = outcome
        remember(self._settings, RecentServer(host, port, outcome.user))
        self.accept()

    def _error(self, exc: BaseException) -> None:
        self._fail(error_text(exc))
        self.password.setFocus()
        self.password.selectAll()
