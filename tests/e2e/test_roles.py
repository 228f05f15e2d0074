"""Issue 23, 3: the role x route matrix over real TLS on loopback (a real server
process, real Argon2id logins): 403 exactly where the role lacks the route's
permission, never elsewhere; a restore operator restores only into the allowed
folders; an operator's start and stop carry the operator's name."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from core.models import Permission as P, Role
from core.server.permissions import ROUTE_PERMISSIONS
from tests.support.tls_server import TlsServer, agent_jobs

PASSWORD = "correct horse battery"
USERS = {"ada": Role.ADMINISTRATOR, "olga": Role.OPERATOR,
         "rita": Role.RESTORE_OPERATOR, "vera": Role.VIEWER}
A, O, R, V = Role.ADMINISTRATOR, Role.OPERATOR, Role.RESTORE_OPERATOR, Role.VIEWER
# Who may, written out here from the reference's roles (not read from the server's
# own table), so that a role given too much or too little fails this test.
MAY = {P.PUBLIC: {A, O, R, V}, P.VIEW: {A, O, R, V}, P.VIEW_INFRASTRUCTURE: {A, O, V},
       P.RUN: {A, O}, P.RESTORE: {A, R}, P.EDIT_JOBS: {A}, P.MANAGE_INFRASTRUCTURE: {A},
       P.MANAGE_USERS: {A}, P.MANAGE_SERVER: {A}}
# ...and the routes that matter most, by hand: a route filed under the wrong
# permission fails here.
KEY_ROUTES = {
    ("GET", "/api/v1/jobs"): {A, O, R, V},
    ("GET", "/api/v1/restorePoints"): {A, O, R, V},
    ("POST", "/api/v1/jobs/{name}/start"): {A, O},
    ("POST", "/api/v1/jobs/{name}/stop"): {A, O},
    ("POST", "/api/v1/jobs/stop"): {A, O},
    ("POST", "/api/v1/jobs/{name}/pause"): {A, O},
    ("POST", "/api/v1/jobs/{name}/resume"): {A, O},
    ("PUT", "/api/v1/jobs/{name}"): {A},
    ("DELETE", "/api/v1/jobs/{name}"): {A},
    ("DELETE", "/api/v1/jobs/{name}/backups"): {A},
    ("POST", "/api/v1/repositories"): {A},
    ("DELETE", "/api/v1/repositories/{name}"): {A},
    ("POST", "/api/v1/repositories/{name}/keys"): {A},
    ("GET", "/api/v1/repositories"): {A, O, V},
    ("POST", "/api/v1/restorePoints/{point_id}/startRestore"): {A, R},
    ("GET", "/api/v1/restorePoints/{point_id}/browse"): {A, R},
    ("POST", "/api/v1/users"): {A},
    ("PUT", "/api/v1/users/{name}"): {A},
    ("POST", "/api/v1/server/stop"): {A},
    ("GET", "/api/v1/audit"): {A, O, V},
    ("PUT", "/api/v1/maintenance"): {A},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("roles")
    srv = TlsServer(root / "data")
    pw = root / "pw"
    pw.write_text(PASSWORD + "\n")
    allowed = root / "allowed"
    allowed.mkdir()
    for name, role in USERS.items():
        extra = ["--restore-to", str(allowed)] if role is Role.RESTORE_OPERATOR else []
        result = agent_jobs(srv.data, "user", "add", name, "--role", role.value,
                            "--password-file", str(pw), *extra)
        assert result.returncode == 0, result.stderr
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tokens(server: TlsServer) -> dict[str, str]:
    found = {}
    with server.http() as http:
        for name in USERS:
            answer = http.post("/login", json={"user": name, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            found[name] = answer.json()["token"]
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "no-such-thing", path).removeprefix("/api/v1")


def _call(http: httpx.Client, method: str, path: str) -> httpx.Response:
    """The route, with names that do not exist and a body that does not validate:
    the permission is checked first, and an allowed call then changes nothing."""
    url = _concrete(path)
    if not path.startswith("/api/v1"):
        url = str(http.base_url).removesuffix("/api/v1/") + path
    if path.endswith("/events"):
        with http.stream(method, url) as response:
            return response
    kwargs = {"json": []} if method in ("POST", "PUT") else {}
    return http.request(method, url, **kwargs)


MATRIX = [(name, method, path) for name in USERS
          for (method, path) in sorted(ROUTE_PERMISSIONS)]


@pytest.mark.parametrize("user, method, path", MATRIX,
                         ids=[f"{u}-{m}-{p}" for u, m, p in MATRIX])
def test_403_exactly_where_the_role_lacks_the_permission(
        server: TlsServer, tokens: dict[str, str], user: str, method: str, path: str) -> None:
    role = USERS[user]
    allowed = MAY[ROUTE_PERMISSIONS[method, path]]
    with server.http(tokens[user]) as http:
        answer = _call(http, method, path)
    if role in allowed:
        assert answer.status_code not in (401, 403), (answer.status_code, answer.text)
    else:
        assert answer.status_code == 403, (answer.status_code, answer.text)
        body = answer.json()
        assert body["kind"] == "Forbidden"
        assert body["error"].startswith(f"Your role ({role.label}) does not allow you to ")
        assert body["error"].endswith("ask an administrator.")


def test_the_key_routes_need_what_the_reference_says() -> None:
    assert {route: MAY[ROUTE_PERMISSIONS[route]] for route in KEY_ROUTES} == KEY_ROUTES


def test_forbidden_calls_are_refused_before_they_change_anything(
        server: TlsServer, tokens: dict[str, str]) -> None:
    with server.http(tokens["vera"]) as http:
        answer = http.post("/jobs", json={"name": "Viewer's job", "computers": []})
        assert answer.status_code == 403
        assert http.post("/users", json={"name": "mallory", "role": "administrator",
                                         "password": "x" * 12}).status_code == 403
    names = [j["name"] for j in json.loads(agent_jobs(server.data, "job", "list",
                                                      "--json").stdout)]
    assert "Viewer's job" not in names
    users = json.loads(agent_jobs(server.data, "user", "list", "--json").stdout)
    assert "mallory" not in {u["name"] for u in users}


def test_a_restore_operator_restores_only_into_the_allowed_folders(
        server: TlsServer, tokens: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "pc1"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    assert agent_jobs(server.data, "job", "create", "Small", "--computer",
                      f"pc1={src}").returncode == 0
    assert agent_jobs(server.data, "start", "Small", "--wait").returncode == 0
    point = json.loads(agent_jobs(server.data, "points", "Small", "--json").stdout)[0]["id"]
    allowed = server.data.parent / "allowed"
    with server.http(tokens["rita"]) as http:
        base = f"/restorePoints/{quote(point, safe='')}"
        assert http.get(f"{base}/browse").status_code == 200
        inside = http.post(f"{base}/restore", json={"target": str(allowed / "r1")})
        assert inside.status_code == 200, inside.text
        assert (allowed / "r1").rglob("a.txt")
        for target in (str(tmp_path / "elsewhere"), str(allowed / ".." / "escape"), None):
            refused = http.post(f"{base}/startRestore", json={"target": target})
            assert refused.status_code == 403, refused.text
            assert "may restore only into" in refused.json()["error"]
        (allowed / "link").symlink_to(tmp_path)
        refused = http.post(f"{base}/restore", json={"target": str(allowed / "link" / "x")})
        assert refused.status_code == 403
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "x").exists()


def test_an_operators_start_and_stop_carry_the_operators_name(
        server: TlsServer, tokens: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "pc1"
    src.mkdir()
    (src / "big.bin").write_bytes(b"\0x" * (2 << 20))   # 4 MiB at 0.5 MB/s: 8 s
    assert agent_jobs(server.data, "job", "create", "Slow", "--throttle", "0.5",
                      "--computer", f"pc1={src}").returncode == 0
    with server.http(tokens["olga"]) as http:
        started = http.post("/jobs/Slow/start", json={})
        assert started.status_code == 200, started.text
        stopped = http.post("/jobs/Slow/stop", json={"gracefulStop": False})
        assert stopped.status_code == 200, stopped.text
        session = http.get(f"/sessions/{started.json()['session_id']}/wait",
                           params={"timeout": 30}).json()
    assert session["stopped_by"] == "by olga"
    entries = json.loads(agent_jobs(server.data, "audit", "--user", "olga", "--json").stdout)
    assert {"session.start", "session.stop"} <= {e["action"] for e in entries}
