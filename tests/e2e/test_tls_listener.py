"""Issue 23, 1: the TLS listener of a real ``agent-jobs server run --tls``: its own
certificate (kept, key 0600) or one given (trustme), the fingerprint in the log and
``server status``, plain HTTP refused, and no listening beyond loopback without TLS."""
from __future__ import annotations

import json
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from core.api.tls import fingerprint
from tests.support.tls_server import TlsServer, agent_jobs


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsServer]:
    srv = TlsServer(tmp_path / "data")
    yield srv
    srv.stop()


def test_the_own_certificate_is_kept_private_and_its_fingerprint_is_shown(
        server: TlsServer) -> None:
    key = server.data / "tls" / "server.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    der = ssl.PEM_cert_to_DER_cert((server.data / "tls" / "server.crt").read_text())
    assert fingerprint(der) == server.fingerprint
    status = agent_jobs(server.data, "server", "status", "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["tls_fingerprint"] == server.fingerprint and info["tls"] is True
    text = agent_jobs(server.data, "server", "status").stdout
    assert server.fingerprint in text and "https://" in text
    log = "".join(p.read_text() for p in (server.data / "logs").glob("server*"))
    assert server.fingerprint in log
    with server.http(server.token) as http:   # HTTPS with the token works
        assert http.get("/server").json()["tls_fingerprint"] == server.fingerprint


def test_plain_http_to_the_tls_port_is_refused(server: TlsServer) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{server.host}:{server.port}/api/v1/server",
                  headers={"Authorization": f"Bearer {server.token}"}, timeout=10)


def test_a_restart_keeps_the_same_certificate(tmp_path: Path) -> None:
    first = TlsServer(tmp_path / "data")
    first.stop()
    second = TlsServer(tmp_path / "data")
    try:
        assert second.fingerprint == first.fingerprint
    finally:
        second.stop()


def test_a_given_certificate_is_served(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    srv = TlsServer(tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
        assert srv.fingerprint == fingerprint(der)
        context = ssl.create_default_context()
        ca.configure_trust(context)   # a client trusting the CA (no pin) also works
        answer = httpx.get(f"{srv.url}/api/v1/server", verify=context, timeout=10,
                           headers={"Authorization": f"Bearer {srv.token}"})
        assert answer.status_code == 200
    finally:
        srv.stop()


@pytest.mark.parametrize("args, words", [
    (["--listen", "0.0.0.0:0"], "add --tls"),
    (["--listen", "192.0.2.1:9392"], "add --tls"),
    (["--tls"], "--tls needs --listen"),
    (["--listen", "127.0.0.1:0", "--tls", "--tls-cert", "/nonexistent"], "go together"),
])
def test_unsafe_or_incomplete_listen_options_are_refused(tmp_path: Path, args: list[str],
                                                         words: str) -> None:
    result = agent_jobs(tmp_path / "data", "server", "run", *args, timeout=30)
    assert result.returncode != 0
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_broken_certificate_file_is_refused_by_name(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not a certificate")
    key.write_text("nor a key")
    result = agent_jobs(tmp_path / "data", "server", "run", "--listen", "127.0.0.1:0",
                        "--tls", "--tls-cert", str(cert), "--tls-key", str(key), timeout=30)
    assert result.returncode != 0 and str(cert) in result.stderr
    assert "Traceback" not in result.stderr
