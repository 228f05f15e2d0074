"""TLS as the clients see it: a certificate's SHA-256 fingerprint, probing a
server for its certificate before anything is sent, and an SSL context that
trusts exactly one pinned certificate (the server's own self-signed one, or a
CA-signed one: the pin is the leaf either way)."""
from __future__ import annotations

import hashlib
import socket
import ssl

from core.errors import ConsoleError

PROBE_TIMEOUT_S = 10.0


class FingerprintMismatch(ConsoleError):
    """The server presented another certificate than the one pinned for it."""


def fingerprint(der: bytes) -> str:
    """The SHA-256 of a DER certificate, lowercase hex (64 digits)."""
    return hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:...`` or ``abcd...`` as 64 lowercase hex digits; anything else refused."""
    hexed = text.strip().replace(":", "").lower()
    if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
        raise ConsoleError(f"{text[:100]!r} is not a SHA-256 fingerprint: give 64 hex digits "
                           "(colons allowed), as 'agent-jobs server status' prints it.")
    return hexed


def probe(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> tuple[str, bytes]:
    """Connect, read the server's certificate and hang up, sending nothing but the
    TLS handshake: ``(fingerprint, der)``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        raise ConsoleError(f"{host}:{port} does not speak TLS ({exc.reason or exc}): check "
                           "the address, and that the server runs with --tls.") from exc
    except OSError as exc:
        raise ConsoleError(f"Cannot reach the backup server at {host}:{port} "
                           f"({exc.strerror or exc}): check the address and the firewall, "
                           "and that the server runs.") from exc
    if not der:
        raise ConsoleError(f"{host}:{port} presented no certificate.")
    return fingerprint(der), der


def pinned_context(der: bytes) -> ssl.SSLContext:
    """A client context that accepts only this very certificate (no host name
    check: the pin is stronger than a name)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(der))
    return context
