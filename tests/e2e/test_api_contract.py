"""The REST API against its own OpenAPI document, and the edges of its contract.

A property-based check (schemathesis) sends generated requests, valid and
not, to a real server on loopback TCP and checks every answer: a documented
status, a body matching the documented schema and content type, never a 5xx.
The other tests send what a generator seldom finds: bodies that are not
UTF-8, nested 100,000 deep, a 5,000-digit number, and bodies over the limit.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from core.server.body_limit import MAX_BODY_BYTES
from core.server.runtime import ServerRuntime
from tests.conftest import make_tree
from tests.support.server import start_server, stop_server

API = "/api/v1"


class Live:
    def __init__(self, runtime: ServerRuntime) -> None:
        assert runtime.tcp_address is not None
        host, port = runtime.tcp_address
        self.url = f"http://{host}:{port}"
        self.token = (runtime.data_dir / "server.token").read_text().strip()
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.url}{API}{path}", content=body, timeout=30,
                          headers={**self.auth, "Content-Type": "application/json", **headers})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # The whole ServerRuntime (uvicorn, the token guard, the service) on
    # 127.0.0.1, hosted here so that 'server stop' only asks it to exit.
    runtime = start_server(tmp_path_factory.mktemp("api") / "data", tcp=("127.0.0.1", 0))
    try:
        yield Live(runtime)
    finally:
        stop_server(runtime)


# Left out, and why: each would reach outside the test or never answer.
#  - GET /events streams until the client leaves: there is no whole answer to check
#    (its content type is checked below).
#  - POST /computers/test, /scopePreview, /repositories, /repositories/test connect
#    to the generated SSH or S3 hosts, or walk or create the generated folders, which
#    may be anywhere on this machine ('/').
#  - POST /jobs/start, /jobs/{name}/start back up a generated job, whose computer
#    may be '/'.
#  - POST /demo takes no input to vary, and writes the demo computers' trees of
#    generated files (tests/core/cli/test_cli.py covers it).
#  - PUT /notifications, POST /notifications/urls and /notifications/test would
#    keep (or mail and post to at once) generated hosts, which may be anywhere
#    (tests/core/cli/test_notifications_cli.py covers them, on loopback).
LEFT_OUT_POSTS = (r"^/api/v1/(computers/test|scopePreview|repositories(/test)?|demo"
                  r"|jobs/start|jobs/\{name\}/start|notifications/(urls|test))$")
# The answers against the document: no 5xx, a documented status, content type,
# headers and body. Not whether the server accepts every request the schema
# allows: names, folders and ids have rules the schema does not spell out.
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_headers_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("API_CHECK_EXAMPLES", "10"))   # per operation and mode
CI = bool(os.environ.get("CI"))   # the same examples on every CI run; new ones elsewhere


def test_every_operation_answers_as_its_openapi_document_says(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", headers=live.auth)
    operations = [result.ok() for result in schema.exclude(path=f"{API}/events")
                  .exclude(method="POST", path_regex=LEFT_OUT_POSTS)
                  .exclude(method="PUT", path=f"{API}/notifications").get_all_operations()]
    assert len(operations) == 55   # of 66
    spec = httpx.get(f"{live.url}/openapi.json", headers=live.auth).json()
    failures: dict[str, str] = {}
    for operation in operations:
        method, path = operation.label.split(" ", 1)
        op = spec["paths"][path][method.lower()]
        # Invalid data exists only for a body or a query parameter: a path
        # parameter is any string, and most operations take nothing else.
        negatable = "requestBody" in op or any(p["in"] == "query"
                                               for p in op.get("parameters", []))
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:
            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=CI,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate])
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=live.auth, timeout=30, checks=CONFORMANCE)

            try:
                check()
            except BaseException as failure:   # hypothesis reports all at once, as a group
                if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                    raise
                failures[f"{operation.label} ({mode.value})"] = str(failure)[:2000]
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def test_every_operation_documents_its_error_statuses_and_content_types(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json", headers=live.auth).json()
    operations = {(method.upper(), path): op for path, item in spec["paths"].items()
                  for method, op in item.items()}
    assert len(operations) > 40
    for (method, path), op in operations.items():
        codes = set(op["responses"])
        assert {"401", "500"} <= codes, (method, path)
        for code in codes - {"200", "201", "202", "204"}:
            content = op["responses"][code]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
        if "requestBody" in op:
            assert {"413", "422"} <= codes, (method, path)
    assert {"400", "404", "409"} <= set(operations["POST", f"{API}/restorePoints/{{point_id}}"
                                                             "/startRestore"]["responses"])
    assert "404" in operations["GET", f"{API}/jobs/{{name}}"]["responses"]
    events = operations["GET", f"{API}/events"]["responses"]["200"]["content"]
    assert list(events) == ["text/event-stream"]
    with httpx.stream("GET", f"{live.url}{API}/events", headers=live.auth, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("body, needle", [
    (b'{"name": "\xff", "computers": []}', "not valid UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "too deeply"),
    (b'{"name": ' + b"7" * 5000 + b', "computers": []}', "more digits"),
    (b'{"name": "J", ', "not valid JSON"),
])
def test_an_unreadable_body_answers_in_the_documented_shape(live: Live, body: bytes,
                                                            needle: str) -> None:
    answer = live.post("/jobs", body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert "detail" not in error and error["kind"] == "InvalidInput"
    assert needle in error["error"] and "Traceback" not in answer.text


def test_unknown_paths_and_methods_answer_in_the_documented_shape(live: Live) -> None:
    missing = httpx.get(f"{live.url}{API}/nothing-here", headers=live.auth)
    assert missing.status_code == 404 and missing.json()["kind"] == "NotFound"
    assert "/openapi.json" in missing.json()["error"]
    wrong = httpx.delete(f"{live.url}{API}/server", headers=live.auth)
    assert wrong.status_code == 405 and wrong.json()["kind"] == "MethodNotAllowed"
    assert "GET" in wrong.headers["allow"]


def _headers_only(live: Live, head: bytes) -> bytes:
    """Send a request's head and none of its body; the answer the server gives."""
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while not answer.rstrip().endswith(b"}"):
            more = sock.recv(65536)   # a server waiting for the body times out here
            if not more:
                break
            answer += more
    return answer


def test_a_body_over_the_limit_is_refused_unread(live: Live) -> None:
    # Content-Length of 128 MiB and no body sent: answered at once, unread
    head = (f"POST {API}/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {128 << 20}\r\n\r\n").encode()
    answer = _headers_only(live, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"kind": "BodyTooLarge"' in answer and b"8 MiB" in answer
    # chunked, with no length: counted as it streams in, refused past the limit
    chunked = httpx.post(f"{live.url}{API}/jobs", headers={**live.auth,
                         "Content-Type": "application/json"},
                         content=iter([b" " * (1 << 20)] * 128), timeout=30)
    assert chunked.status_code == 413 and chunked.json()["kind"] == "BodyTooLarge"
    # just under the limit is read (and refused for what it says, not its size)
    under = live.post("/jobs", b" " * (MAX_BODY_BYTES - 2) + b"{}")
    assert under.status_code == 422 and under.json()["error"].startswith("name:")
    assert httpx.get(f"{live.url}{API}/server", headers=live.auth).status_code == 200


def test_a_client_that_sends_all_of_a_refused_body_still_reads_the_413(live: Live) -> None:
    """The rest of a refused streamed body is read before the answer, so no reset eats it."""
    host, port = live.url.removeprefix("http://").split(":")
    head = (f"POST {API}/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head + chunk * 24 + b"0\r\n\r\n")   # 24 MiB, all of it, then read
        answer = b""
        while not answer.rstrip().endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"kind": "BodyTooLarge"' in answer


def test_an_unknown_agent_is_refused_when_the_job_is_made(live: Live) -> None:
    body = b'{"name": "Evil", "computers": [{"name": "pc1", "path": "/srv", "agent": "evil"}]}'
    refused = live.post("/jobs", body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "computers.0.agent: Input should be 'local' or 'ssh'"
    listed = httpx.get(f"{live.url}{API}/jobs", headers=live.auth).json()
    assert "Evil" not in [job["name"] for job in listed]


@pytest.fixture(scope="module")
def point(live: Live, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real restore point, of a computer with two files."""
    src = make_tree(tmp_path_factory.mktemp("pc1"), files=2, size=1000)
    body = json.dumps({"name": "Restorable", "computers": [{"name": "pc1", "path": str(src)}]})
    assert live.post("/jobs", body.encode()).status_code == 201
    session = live.post("/jobs/Restorable/start", b"{}").json()["session_id"]
    ended = httpx.get(f"{live.url}{API}/sessions/{session}/wait", headers=live.auth,
                      params={"timeout": 30}, timeout=40).json()
    assert ended["state"] == "Stopped" and ended["result"] == "Success", ended
    points = httpx.get(f"{live.url}{API}/restorePoints", headers=live.auth,
                       params={"job": "Restorable"}).json()
    return str(points[0]["id"])


@pytest.mark.parametrize("target", ["restored", "./restored", "~/restored", ""])
def test_a_relative_restore_target_is_refused(live: Live, point: str, target: str,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)   # the server's working directory (it runs in this process)
    for action in ("restore", "startRestore"):
        answer = live.post(f"/restorePoints/{point}/{action}",
                           json.dumps({"target": target}).encode())
        assert answer.status_code == 422, answer.text
        assert "not an absolute path" in answer.json()["error"]
    assert list(tmp_path.iterdir()) == []
    done = live.post(f"/restorePoints/{point}/restore",
                     json.dumps({"target": str(tmp_path / "restored")}).encode())
    assert done.status_code == 200 and done.json()["files"] == 2, done.text
