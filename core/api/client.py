"""The facade over HTTP: :class:`ServerClient` implements :class:`core.api.BackupApi`
by calling the data directory's server, starting it when none answers.

Calls are synchronous and thread-safe (the console makes them on worker
threads). Events arrive on one background thread that reads the server's
event stream and reconnects when it breaks.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sys

# httpx's own command line (`httpx._main`) loads rich, click and pygments, a third
# of httpx's import time; httpx does without it when it cannot be imported, and
# a None in sys.modules makes that import fail (unless something loaded it first).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402
from pydantic import SecretStr, TypeAdapter

from core import errors
from core.api import (
    HomeOverview, BulkResult, DeleteReport, RepositoryInfo, RepositoryKeyInfo, RepositorySpec,
    RestoreReport, NotificationTest, DiskUsage,
    RetentionPreview, ScopePreview, StopPreview, VerifyReport, restore_report, verify_report,
)
from core.events import CatalogueChanged, Event, EventBus, ServerConnection
from core.models import (
    Computer, FileScope, HistoryPage, HistoryQuery, JobDefinition, JobInfo, JobStatus,
    MaintenanceSettings, NotificationSettings, PointEntryInfo, RepairReport, RestorePointInfo, SessionInfo,
    SshSettings, StopMode, AuditCheck, AuditEntry,
    Me, Role, TotpSetup, UserChange, UserInfo,
)
from core.paths import server_socket_path
from core.api.launcher import ServerUnavailable, ensure_server, lasting_unreachable_owner
from core.api.sockets import unix_address
from core.api.wire import decode_event

log = logging.getLogger(__name__)

WAIT_CHUNK_S = 25.0
REQUEST_TIMEOUT_S = 120.0
RECONNECT_MAX_S = 2.0
OWNER_GONE_WAIT_S = 2.0   # a dying server may hold its lock a moment after its socket closed
# Seconds a request may wait for the server's answer (default REQUEST_TIMEOUT_S;
# 2 to 3600). A stopped (SIGSTOP) server accepts connections but never answers.
ENV_REQUEST_TIMEOUT = "AGENT_JOBS_REQUEST_TIMEOUT"


def request_timeout() -> float:
    try:
        value = float(os.environ.get(ENV_REQUEST_TIMEOUT, REQUEST_TIMEOUT_S))
    except ValueError:
        return REQUEST_TIMEOUT_S
    return min(max(value, 2.0), 3600.0) if value == value else REQUEST_TIMEOUT_S


def _q(name: str) -> str:
    if not name:
        raise errors.InvalidInput("An empty name or id was given: name the job, session or "
                                  "restore point (see 'agent-jobs job list' and 'points').")
    return quote(name, safe="")


class ServerClient:
    def __init__(self, data_dir: Path, *, autostart: bool = True,
                 base_url: str | None = None, token: str | None = None,
                 verify: ssl.SSLContext | None = None) -> None:
        """``verify``: for an https ``base_url``, the context that trusts the server
        (core.api.remote pins its certificate); remote clients are made by
        :func:`core.api.remote.login`."""
        self.data_dir = Path(data_dir)
        self._autostart = autostart and base_url is None
        #: logs in again when the server says the token ended (set by core.api.remote)
        self.relogin: Callable[[], str] | None = None
        self.user: str | None = None           # the named user, on a remote server
        self.fingerprint: str | None = None    # the pinned certificate's, on a remote server
        self._relogin_lock = threading.Lock()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout_s = request_timeout()
        timeout = httpx.Timeout(self._timeout_s, connect=5.0)
        if base_url is None:
            transport = httpx.HTTPTransport(uds=unix_address(server_socket_path(self.data_dir)))
            self._http = httpx.Client(transport=transport, base_url="http://agent-jobs/api/v1",
                                      headers=headers, timeout=timeout)
        else:
            self._http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1",
                                      headers=headers, timeout=timeout,
                                      verify=verify if verify is not None else True)
        self.address = base_url or f"unix:{server_socket_path(self.data_dir)}"
        self._events = EventBus()
        self._stream: threading.Thread | None = None
        self._closing = threading.Event()
        self._stream_lock = threading.Lock()
        self.connected = False

    # -- plumbing -----------------------------------------------------------------
    def _ensure(self) -> None:
        if self._autostart:
            ensure_server(self.data_dir)

    def _request(self, method: str, path: str, *, decode: bool = True, **kwargs: Any) -> Any:
        """The reply's JSON, or its raw bytes without ``decode``."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not self._autostart:
                raise self._unavailable(exc) from exc
            self._ensure()
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as again:
                raise self._unavailable(again) from again
        except httpx.TimeoutException as exc:
            raise ServerUnavailable(
                f"The backup server at {self.address} did not answer within "
                f"{self._timeout_s:g} s: it may be stopped (e.g. SIGSTOP), stuck or very busy. "
                "See 'agent-jobs server status' and the server log under "
                f"{self.data_dir / 'logs'}.") from exc
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        if response.status_code == 401 and self.relogin is not None and self._renew(response):
            response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json() if decode else response.content

    def _renew(self, refused: httpx.Response) -> bool:
        """The token ended (idle, or the server restarted): log in again, once."""
        assert self.relogin is not None
        sent = refused.request.headers.get("authorization")
        with self._relogin_lock:
            if self._http.headers.get("authorization") == sent:   # not renewed meanwhile
                self._http.headers["Authorization"] = f"Bearer {self.relogin()}"
        return True

    def _unavailable(self, exc: BaseException) -> ServerUnavailable:
        if self.address.startswith("unix:"):   # a live owner that does not answer says so
            owned = lasting_unreachable_owner(self.data_dir, OWNER_GONE_WAIT_S)
            if owned is not None:
                return owned
        return ServerUnavailable(
            f"The backup server at {self.address} is not answering ({exc.__class__.__name__}). "
            "Start it with 'agent-jobs server run', or see the server log under "
            f"{self.data_dir / 'logs'}.")

    # -- events ---------------------------------------------------------------------
    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        unsubscribe = self._events.subscribe(listener)
        with self._stream_lock:
            if self._stream is None:
                self._stream = threading.Thread(target=self._read_events, name="event-stream",
                                                daemon=True)
                self._stream.start()
        return unsubscribe

    def _read_events(self) -> None:
        delay = 0.1
        while not self._closing.is_set():
            try:
                self._ensure()
                with self._http.stream("GET", "/events",
                                       timeout=httpx.Timeout(None, connect=5.0)) as response:
                    if response.status_code == 401 and self.relogin is not None:
                        self._renew(response)
                        continue
                    if response.status_code != 200:
                        raise _error_of(response)
                    self._set_connected(True)
                    delay = 0.1
                    for line in response.iter_lines():
                        if self._closing.is_set():
                            return
                        if line.startswith("data:"):
                            self._events.publish(decode_event(line[5:].strip()))
            except (httpx.HTTPError, errors.ConsoleError, OSError) as exc:
                if self._closing.is_set():
                    return
                log.info("event stream interrupted: %s", exc)
            self._set_connected(False)
            self._closing.wait(delay)
            delay = min(RECONNECT_MAX_S, delay * 2)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        self._events.publish(ServerConnection(connected=connected, address=self.address))
        if connected:   # whatever happened while we were away: fetch everything again
            self._events.publish(CatalogueChanged())

    def close(self) -> None:
        self._closing.set()
        self._http.close()

    # -- server ---------------------------------------------------------------------
    def server_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self._request("GET", "/server")   # a server always describes itself
        return info

    def stop_server(self, jobs: StopMode | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self._request("POST", "/server/stop",
                                               json={"jobs": jobs.value if jobs else None})
        return answer

    # -- jobs -------------------------------------------------------------------------
    def list_jobs(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        """Every job, or the named ones (unknown names are left out). Parsed in
        one call: the reply for 2,000 jobs is 1.7 MB."""
        params = None if names is None else [("names", n) for n in names]
        if names is not None and not names:
            return []
        body = self._request("GET", "/jobs", decode=False, params=params)
        return _JOBS.validate_json(body) if body else []

    def get_job(self, name: str) -> JobInfo:
        return _job_info(self._request("GET", f"/jobs/{_q(name)}"))

    def create_job(self, definition: JobDefinition) -> None:
        self._request("POST", "/jobs", json=definition.model_dump(mode="json"))

    def update_job(self, name: str, definition: JobDefinition) -> None:
        self._request("PUT", f"/jobs/{_q(name)}", json=definition.model_dump(mode="json"))

    def delete_job(self, name: str, *, delete_backups: bool = False) -> None:
        self._request("DELETE", f"/jobs/{_q(name)}",
                      params={"deleteBackups": "true" if delete_backups else "false"})

    def set_job_enabled(self, name: str, enabled: bool) -> None:
        self._request("POST", f"/jobs/{_q(name)}/{'enable' if enabled else 'disable'}")

    def clone_job(self, name: str, new_name: str | None = None) -> JobInfo:
        return _job_info(self._request("POST", f"/jobs/{_q(name)}/clone",
                                       json={"name": new_name}))

    def start_job(self, name: str, *, full: bool = False, retry: bool = False,
                  outside_window: bool = False) -> str:
        answer = self._request("POST", f"/jobs/{_q(name)}/start",
                               json={"full": full, "retry": retry,
                                     "outsideWindow": outside_window})
        return str(answer["session_id"])

    def start_jobs(self, names: list[str], *, full: bool = False, retry: bool = False,
                   outside_window: bool = False) -> BulkResult:
        return BulkResult.model_validate(self._request(
            "POST", "/jobs/start", json={"names": names, "full": full, "retry": retry,
                                         "outsideWindow": outside_window}))

    def stop_job(self, name: str, mode: StopMode,
                 escalate_after_s: float | None = None) -> StopPreview:
        return StopPreview.model_validate(self._request(
            "POST", f"/jobs/{_q(name)}/stop",
            json={"gracefulStop": mode.graceful, "mode": mode.value,
                  "escalateAfterSeconds": escalate_after_s}))

    def stop_jobs(self, names: list[str], mode: StopMode,
                  escalate_after_s: float | None = None) -> BulkResult:
        return BulkResult.model_validate(self._request(
            "POST", "/jobs/stop",
            json={"names": names, "gracefulStop": mode.graceful, "mode": mode.value,
                  "escalateAfterSeconds": escalate_after_s}))

    def stop_preview(self, name: str) -> StopPreview:
        return StopPreview.model_validate(self._request("GET", f"/jobs/{_q(name)}/stopPreview"))

    def pause_job(self, name: str) -> StopPreview:
        return StopPreview.model_validate(self._request("POST", f"/jobs/{_q(name)}/pause"))

    def resume_job(self, name: str) -> StopPreview:
        return StopPreview.model_validate(self._request("POST", f"/jobs/{_q(name)}/resume"))

    def retry_candidates(self, name: str) -> list[str]:
        return list(self._request("GET", f"/jobs/{_q(name)}/retryCandidates"))

    # -- sessions ---------------------------------------------------------------------
    def get_session(self, session_id: str) -> SessionInfo:
        return SessionInfo.model_validate(self._request("GET", f"/sessions/{_q(session_id)}"))

    def list_sessions(self, job: str | None = None, limit: int = 200) -> list[SessionInfo]:
        params: dict[str, Any] = {"limit": limit}
        if job is not None:
            params["job"] = job
        return [SessionInfo.model_validate(s)
                for s in self._request("GET", "/sessions", params=params)]

    def wait_session(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        """Return when the session has stopped, or after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunk = min(WAIT_CHUNK_S, self._timeout_s / 2)   # each long poll answers in time
        while True:
            left = chunk if deadline is None else max(0.0, deadline - time.monotonic())
            session = SessionInfo.model_validate(self._request(
                "GET", f"/sessions/{_q(session_id)}/wait",
                params={"timeout": min(chunk, left)}))
            if not session.state.is_active or (deadline is not None and
                                               time.monotonic() >= deadline):
                return session

    # -- restore points -----------------------------------------------------------------
    def disk_usage(self) -> DiskUsage:
        return DiskUsage.model_validate(self._request("GET", "/restorePoints/diskUsage"))

    def list_points(self, job: str | None = None) -> list[RestorePointInfo]:
        params = {"job": job} if job is not None else {}
        return [RestorePointInfo.model_validate(p)
                for p in self._request("GET", "/restorePoints", params=params)]

    def retention_preview(self, name: str) -> RetentionPreview:
        return RetentionPreview.model_validate(
            self._request("GET", f"/jobs/{_q(name)}/retentionPreview"))

    def restore(self, point_id: str, target: Path, *, paths: list[str] | None = None,
                overwrite: bool = False) -> RestoreReport:
        """Start a Restore session and wait for its end (long restores never hit
        the request timeout); raises its error."""
        session_id = self.start_restore(point_id, target, paths=paths, overwrite=overwrite)
        return restore_report(self.wait_session(session_id))

    def verify(self, point_id: str | None = None) -> VerifyReport:
        """Start a Verify session and wait for its report."""
        return verify_report(self.wait_session(self.start_verify(point_id)))

    def start_restore(self, point_id: str, target: Path | None = None, *,
                      paths: list[str] | None = None, overwrite: bool = False) -> str:
        body = {"target": str(Path(target).expanduser().absolute()) if target is not None
                else None, "paths": list(paths or []), "overwrite": overwrite}
        return str(self._request("POST", f"/restorePoints/{_q(point_id)}/startRestore",
                                 json=body)["session_id"])

    def start_verify(self, point_id: str | None = None, *, job: str | None = None) -> str:
        return str(self._request("POST", "/startVerify",
                                 json={"point_id": point_id, "job": job})["session_id"])

    def cancel_session(self, session_id: str) -> None:
        self._request("POST", f"/sessions/{_q(session_id)}/cancel")

    def browse_point(self, point_id: str, folder: str = "") -> list[PointEntryInfo]:
        return [PointEntryInfo.model_validate(e) for e in self._request(
            "GET", f"/restorePoints/{_q(point_id)}/browse", params={"folder": folder})]

    def delete_backups(self, job: str, computer: str | None = None) -> DeleteReport:
        params = {"computer": computer} if computer is not None else {}
        return DeleteReport.model_validate(self._request(
            "DELETE", f"/jobs/{_q(job)}/backups", params=params))

    def list_history(self, query: HistoryQuery) -> HistoryPage:
        return HistoryPage.model_validate(self._request(
            "POST", "/history", json=query.model_dump(mode="json")))

    def get_overview(self, days: int = 7, time_zone: str | None = None) -> HomeOverview:
        params: dict[str, Any] = {"days": days}
        if time_zone is not None:
            params["tz"] = time_zone
        return HomeOverview.model_validate(self._request("GET", "/overview", params=params))

    def setup_demo(self) -> list[str]:
        return list(self._request("POST", "/demo")["created"])

    def repair(self) -> RepairReport:
        return RepairReport.model_validate(self._request("POST", "/repair"))

    def preview_scope(self, computers: list[Computer], scope: FileScope,
                      ssh: SshSettings | None = None) -> ScopePreview:
        return ScopePreview.model_validate(self._request(
            "POST", "/scopePreview",
            json={"computers": [c.model_dump(mode="json") for c in computers],
                  "scope": scope.model_dump(mode="json"),
                  "ssh": (ssh or SshSettings()).model_dump(mode="json")}))

    # -- backup infrastructure ------------------------------------------------------------
    # Secrets go in request bodies only, never in a URL or a query string.
    def list_repositories(self) -> list[RepositoryInfo]:
        return [RepositoryInfo.model_validate(r)
                for r in self._request("GET", "/repositories")]

    def add_repository(self, spec: RepositorySpec) -> RepositoryInfo:
        return RepositoryInfo.model_validate(self._request(
            "POST", "/repositories", json=_spec_body(spec)))

    def remove_repository(self, name: str) -> int:
        answer = self._request("DELETE", f"/repositories/{_q(name)}")
        return int(answer["points_forgotten"])

    def test_repository(self, spec: RepositorySpec) -> str:
        return str(self._request("POST", "/repositories/test",
                                 json=_spec_body(spec))["result"])

    def list_repository_keys(self, name: str) -> list[RepositoryKeyInfo]:
        return [RepositoryKeyInfo.model_validate(k)
                for k in self._request("GET", f"/repositories/{_q(name)}/keys")]

    def add_repository_key(self, name: str, password: SecretStr) -> str:
        return str(self._request("POST", f"/repositories/{_q(name)}/keys",
                                 json={"password": password.get_secret_value()})["id"])

    def remove_repository_key(self, name: str, key_id: str) -> None:
        self._request("DELETE", f"/repositories/{_q(name)}/keys/{_q(key_id)}")

    def list_audit(self, since: datetime | None = None, user: str | None = None,
                   limit: int = 1000) -> list[AuditEntry]:
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["since"] = since.isoformat()
        if user is not None:
            params["user"] = user
        return [AuditEntry.model_validate(e) for e in self._request("GET", "/audit",
                                                                     params=params)]

    def verify_audit(self) -> AuditCheck:
        return AuditCheck.model_validate(self._request("GET", "/audit/verify"))

    # -- named users ---------------------------------------------------------------
    def list_users(self) -> list[UserInfo]:
        return [UserInfo.model_validate(u) for u in self._request("GET", "/users")]

    def add_user(self, name: str, role: Role, password: SecretStr,
                 restore_to: list[str] | None = None) -> UserInfo:
        return UserInfo.model_validate(self._request(
            "POST", "/users", json={"name": name, "role": role.value,
                                    "password": password.get_secret_value(),
                                    "restore_to": restore_to or []}))

    def change_user(self, name: str, change: UserChange) -> UserInfo:
        body = change.model_dump(mode="json", exclude_none=True)
        if change.password is not None:
            body["password"] = change.password.get_secret_value()
        return UserInfo.model_validate(self._request("PUT", f"/users/{_q(name)}", json=body))

    def remove_user(self, name: str) -> None:
        self._request("DELETE", f"/users/{_q(name)}")

    def set_user_totp(self, name: str, enabled: bool) -> TotpSetup | None:
        answer = self._request("POST", f"/users/{_q(name)}/totp", json={"enabled": enabled})
        return None if answer is None else TotpSetup.model_validate(answer)

    def whoami(self) -> Me:
        return Me.model_validate(self._request("GET", "/me"))

    def get_maintenance(self) -> MaintenanceSettings:
        return MaintenanceSettings.model_validate(self._request("GET", "/maintenance"))

    def set_maintenance(self, settings: MaintenanceSettings) -> MaintenanceSettings:
        return MaintenanceSettings.model_validate(self._request(
            "PUT", "/maintenance", json=settings.model_dump(mode="json")))

    def get_notifications(self) -> NotificationSettings:
        return NotificationSettings.model_validate(self._request("GET", "/notifications"))

    def set_notifications(self, settings: NotificationSettings,
                          smtp_password: SecretStr | None = None) -> NotificationSettings:
        body = settings.model_dump(mode="json")
        if smtp_password is not None:
            body["smtp_password"] = smtp_password.get_secret_value()
        return NotificationSettings.model_validate(self._request("PUT", "/notifications",
                                                                 json=body))

    def add_notification_url(self, url: str) -> NotificationSettings:
        return NotificationSettings.model_validate(self._request(
            "POST", "/notifications/urls", json={"url": url}))

    def remove_notification_url(self, url: str) -> NotificationSettings:
        return NotificationSettings.model_validate(self._request(
            "DELETE", "/notifications/urls", params={"url": url}))

    def test_notifications(self) -> list[NotificationTest]:
        return [NotificationTest.model_validate(t)
                for t in self._request("POST", "/notifications/test")]

    def set_repository_password(self, name: str, password: SecretStr) -> None:
        self._request("PUT", f"/repositories/{_q(name)}/password",
                      json={"password": password.get_secret_value()})

    def change_repository_password(self, name: str, new_password: SecretStr) -> str:
        return str(self._request("POST", f"/repositories/{_q(name)}/keys/passwd",
                                 json={"password": new_password.get_secret_value()})["id"])

    def set_repository_s3_keys(self, name: str, access_key_id: str,
                               secret_access_key: SecretStr) -> None:
        self._request("PUT", f"/repositories/{_q(name)}/s3keys",
                      json={"access_key_id": access_key_id,
                            "secret_access_key": secret_access_key.get_secret_value()})

    def test_computer(self, computer: Computer, ssh: SshSettings) -> str:
        return str(self._request("POST", "/computers/test", json={
            "computer": computer.model_dump(mode="json"),
            "ssh": ssh.model_dump(mode="json")})["result"])


def _spec_body(spec: RepositorySpec) -> dict[str, Any]:
    """The spec as JSON, with its secrets' values (model_dump masks them)."""
    body = spec.model_dump(mode="json")
    for field in ("password", "secret_access_key"):
        value = getattr(spec, field)
        body[field] = value.get_secret_value() if value is not None else None
    return body


# JobInfo ignores the summary fields of the reply (name, type, target...).
_JOBS: TypeAdapter[list[JobInfo]] = TypeAdapter(list[JobInfo])


def _job_info(raw: dict[str, Any]) -> JobInfo:
    return JobInfo(definition=JobDefinition.model_validate(raw["definition"]),
                   status=JobStatus(raw["status"]), progress=raw["progress"],
                   last_run=raw["last_run"], last_result=raw["last_result"],
                   next_run=raw["next_run"], active_session_id=raw["active_session_id"])


def _error_of(response: httpx.Response) -> errors.ConsoleError:
    try:
        response.read()
        body = response.json()
        message, kind = str(body["error"]), str(body.get("kind", ""))
    except (ValueError, KeyError, TypeError, httpx.HTTPError):
        return errors.ConsoleError(f"The backup server answered {response.status_code} "
                                   f"{response.reason_phrase}.")
    return errors.from_wire(kind, message)
