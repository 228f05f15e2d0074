"""The TLS listener's certificate: the one given (``--tls-cert/--tls-key``), or
a self-signed one made once and kept in ``DATA_DIR/tls`` (key mode 0600), so
its fingerprint stays the same across restarts and clients pin it once."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.api.tls import fingerprint
from core.errors import InvalidInput
from core.paths import server_tls_dir

SELF_SIGNED_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def fingerprint(self) -> str:
        pem = self.cert.read_text()
        return fingerprint(ssl.PEM_cert_to_DER_cert(first_pem(pem)))

    def check(self) -> None:
        """Refuse a pair that does not load, with the file named."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(f"--tls-cert {self.cert} / --tls-key {self.key} cannot be used "
                               f"({exc}): give a PEM certificate and its private key.") from exc


def first_pem(text: str) -> str:
    end = "-----END CERTIFICATE-----"
    start = text.find("-----BEGIN CERTIFICATE-----")
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        raise InvalidInput("The TLS certificate file holds no PEM certificate.")
    return text[start:stop + len(end)] + "\n"


def given(cert: str | None, key: str | None) -> TlsFiles | bool:
    """The files given, checked; True (the server's own certificate) when none are."""
    if (cert is None) != (key is None):
        raise InvalidInput("--tls-cert and --tls-key go together: give both, or neither "
                           "(the server then makes its own certificate).")
    if cert is None or key is None:
        return True
    files = TlsFiles(Path(cert).expanduser().absolute(), Path(key).expanduser().absolute())
    files.check()
    return files


def ensure_self_signed(data_dir: Path) -> TlsFiles:
    folder = server_tls_dir(data_dir)
    files = TlsFiles(folder / "server.crt", folder / "server.key")
    if files.cert.is_file() and files.key.is_file():
        os.chmod(files.key, 0o600)
        return files
    folder.mkdir(mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "agent-jobs"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Agent Backup Console")])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                   x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                   x509.IPAddress(ipaddress.ip_address("::1"))]
    if host:
        alt.insert(0, x509.DNSName(host))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    tmp_key = files.key.with_suffix(".key.tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.chmod(tmp_key, 0o600)
    tmp_cert = files.cert.with_suffix(".crt.tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, files.key)
    os.replace(tmp_cert, files.cert)
    return files
