"""The backup server's REST API (FastAPI), over the service facade.

Paths and bodies follow the reference console's REST API where it has one
(``POST /api/v1/jobs/{name}/stop`` with ``{"gracefulStop": ...}``). Every
error is ``{"error": "...", "kind": "..."}`` with the operator-facing words
the CLI prints; never a stack trace.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors
from core.api import (
    HomeOverview, BulkResult, DeleteReport, RepositoryInfo, RepositoryKeyInfo, RepositorySpec,
    RestoreReport, RetentionPreview, ScopePreview, StopPreview, VerifyReport, job_summary,
    NotificationTest, DiskUsage,
)
from core.api.overview import MAX_OVERVIEW_DAYS, OVERVIEW_DAYS
from core.scheduling.retention import GfsRetention
from core.models import (
    Computer, FileScope, HistoryPage, HistoryQuery, JobDefinition, JobInfo, PointEntryInfo,
    MaintenanceSettings, NotificationSettings, RepairReport, RestorePointInfo, SessionInfo,
    SshSettings, StopMode, CopyJobRequest, AuditCheck, AuditEntry,
    Me, Permission, Role, TotpSetup, UserChange, UserInfo,
)
from core.service.registry import S3AccessDenied
from core.repository.keys import KeyInUse, PasswordRequired, WrongPassword
from core.server.actor import ActorMiddleware, origin_of
from core.server.auth import principal_of, still_valid_of
from core.server.permissions import permission_for
from core.service.audit import identify
from core.service.users import TOKEN_IDLE_S, inside
from core.server.body_limit import MAX_BODY_BYTES, BodyLimit
from core.server.events_hub import EventHub
from core.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, ServerCollector, render
from core.server.responses import EVENTS_RESPONSE, METRICS_RESPONSE, errors_of

if TYPE_CHECKING:
    from core.service.facade import BackupService

log = logging.getLogger(__name__)

API = "/api/v1"
MAX_WAIT_S = 30.0

STATUS_OF_ERROR: dict[type[errors.ConsoleError], int] = {
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.TooManyAttempts: 429,
    errors.NotFound: 404,
    WrongPassword: 400,
    PasswordRequired: 400,
    KeyInUse: 409,
    errors.AlreadyExists: 409,
    errors.JobStateError: 409,
    errors.InvalidInput: 400,
    errors.RestoreError: 400,
    S3AccessDenied: 400,
    errors.RepositoryError: 500,
}


class ServerControl:
    """What the API needs from the process around it."""

    def info(self) -> dict[str, Any]:
        return {}

    def request_shutdown(self, jobs: StopMode | None) -> None:
        pass


# -- bodies and answers ----------------------------------------------------------
class JobOut(BaseModel):
    """A job as ``job list --json`` shows it, plus its full definition."""

    name: str
    type: str
    description: str
    computers: list[str]
    status: str
    progress: int
    enabled: bool
    last_run: str | None
    last_result: str | None
    next_run: str | None
    target: str
    task_slots: int
    throttle_mbps: float | None
    retain_points: int
    gfs: GfsRetention
    schedule: str | None
    active_session_id: str | None
    definition: JobDefinition

    @classmethod
    def of(cls, job: JobInfo) -> JobOut:
        return cls(**job_summary(job), active_session_id=job.active_session_id,
                   definition=job.definition)


_JOBS_OUT: TypeAdapter[list[JobOut]] = TypeAdapter(list[JobOut])


class StartBody(BaseModel):
    full: bool = False
    retry: bool = False
    outsideWindow: bool = False   # noqa: N815 (a manual start outside the backup window)


class CloneBody(BaseModel):
    name: str | None = None   # the clone's name; without it "<name> clone", "<name> clone 2", ...


class StartAnswer(BaseModel):
    session_id: str


class StopBody(BaseModel):
    gracefulStop: bool = False   # noqa: N815 (the reference API's name)
    # "immediately", "gracefully" or "gracefullyPastRpo" (computers in progress past their
    # RPO finish, the others stop now); without it, gracefulStop says which of the first two.
    mode: StopMode | None = None
    # A graceful stop turns immediate when the job still runs this long after.
    escalateAfterSeconds: float | None = Field(default=None, gt=0, le=7 * 86400)  # noqa: N815


class BulkStartBody(StartBody):
    names: list[str] = Field(max_length=10_000)


class BulkStopBody(StopBody):
    names: list[str] = Field(max_length=10_000)


class RestoreBody(BaseModel):
    target: str | None = None       # None: the computer's original location
    paths: list[str] = Field(default=[], max_length=100_000)   # only these paths of the point
    overwrite: bool = False         # files of the point may replace existing ones

    @field_validator("target")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        # A relative folder would be resolved against the server's working
        # directory, which the client neither knows nor chose.
        if v is not None and not v.startswith("/"):
            raise ValueError(f"{v[:200]!r} is not an absolute path: give the restore "
                             "folder as a full path starting with '/'")
        return v


class SessionStarted(BaseModel):
    session_id: str


class VerifyBody(BaseModel):
    point_id: str | None = None
    job: str | None = None


class ServerStopBody(BaseModel):
    jobs: StopMode | None = None


class DemoAnswer(BaseModel):
    created: list[str]


class ScopePreviewBody(BaseModel):
    computers: list[Computer] = Field(max_length=10_000)
    scope: FileScope = FileScope()
    ssh: SshSettings = SshSettings()   # how to reach the SSH computers among them


class KeyBody(BaseModel):
    """A new password of an encrypted repository (in the body, never the URL)."""

    password: SecretStr


class S3KeysBody(BaseModel):
    """New S3 keys of a repository (in the body, never the URL)."""

    access_key_id: str
    secret_access_key: SecretStr


class KeyAdded(BaseModel):
    id: str


class TestAnswer(BaseModel):
    result: str


class NotificationsBody(NotificationSettings):
    """The settings, and the SMTP password to keep (left out: the kept one
    stays; "": it is removed). It is kept in DATA_DIR/secrets, never returned."""

    smtp_password: str | None = Field(default=None, max_length=1024)


class UrlBody(BaseModel):
    url: str = Field(min_length=1, max_length=4096)


class RepositoryRemoved(BaseModel):
    points_forgotten: int     # no longer listed; their data stays in the repository


class ComputerTestBody(BaseModel):
    computer: Computer
    ssh: SshSettings = SshSettings()


class LoginBody(BaseModel):
    user: str = Field(min_length=1, max_length=200)
    password: SecretStr = Field(max_length=4096)
    code: str | None = Field(default=None, max_length=20)   # the TOTP code, when the user has one


class LoginAnswer(BaseModel):
    token: str
    user: str
    role: Role
    expires_in: float   # seconds without use; each request renews it


class UserBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: SecretStr = Field(max_length=4096)
    restore_to: list[str] = Field(default=[], max_length=1000)


class TotpBody(BaseModel):
    enabled: bool = True


async def authorize(request: Request) -> None:
    """Every route: the permission its row of the table needs (core.server.permissions),
    and the user named for the audit trail."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    permission = permission_for(request.method, path)
    if permission is None:   # fail closed: a route someone forgot in the table
        raise errors.Forbidden(f"{request.method} {path} is in no row of the permission "
                               "table: nobody may call it.")
    if permission is Permission.PUBLIC:
        return
    principal = principal_of(request.scope)
    if principal is None:
        raise errors.Unauthorized("Not logged in: log in first (POST /api/v1/login).")
    identify(principal.user)
    principal.require(permission)


def _restore_allowed(request: Request, target: str | None) -> None:
    """A restore operator restores only into the folders an administrator allowed."""
    principal = principal_of(request.scope)
    if principal is None or principal.role is Role.ADMINISTRATOR:
        return
    allowed = ", ".join(principal.restore_to) or "none"
    if target is None or not inside(target, principal.restore_to):
        where = "the original location" if target is None else target
        raise errors.Forbidden(
            f"Your role ({principal.role.label}) may restore only into the folders allowed "
            f"for you ({allowed}), not {where}; ask an administrator ('agent-jobs user set "
            f"{principal.user} --restore-to DIR').")


def _mode(body: StopBody) -> StopMode:
    if body.mode is not None:
        if body.mode is StopMode.IMMEDIATELY and body.gracefulStop:
            raise errors.InvalidInput('"mode": "immediately" contradicts "gracefulStop": true; '
                               "send one of them.")
        return body.mode
    return StopMode.GRACEFULLY if body.gracefulStop else StopMode.IMMEDIATELY


def _error(status: int, message: str, kind: str, headers: Mapping[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind, **extra}, status_code=status,
                        headers=headers)


def _unreadable_body(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a body (it says only 'error parsing the body')."""
    if isinstance(cause, UnicodeDecodeError):
        return (f"The request body is not valid UTF-8 (byte {cause.object[cause.start]:#04x} "
                f"at offset {cause.start}): send JSON encoded in UTF-8.")
    if isinstance(cause, RecursionError):
        return ("The request body nests JSON arrays or objects too deeply for the server to "
                "read: send a flatter document.")
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return ("The request body has a number with more digits than the server reads "
                f"(at most {sys.get_int_max_str_digits()}): send numbers of ordinary size.")
    return f"The request body cannot be read as JSON ({type(cause).__name__}: {cause})." \
        if cause is not None else "The request body cannot be read as JSON."


def _http_error(req: Request, exc: StarletteHTTPException) -> tuple[str, str]:
    """The message and kind of an error raised by FastAPI or Starlette themselves."""
    where = f"{req.method} {req.url.path}"
    if exc.status_code == 400:
        return _unreadable_body(exc.__cause__), "InvalidInput"
    if exc.status_code == 404:
        return (f"No such API path: {where}. The API is under {API} and described at "
                "/openapi.json.", "NotFound")
    if exc.status_code == 405:
        return (f"Method not allowed: {where}. The API is described at /openapi.json.",
                "MethodNotAllowed")
    return f"{exc.detail} ({where}).", "HTTPError"


def _field_message(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        loc = [x for x in err.get("loc", ()) if x != "body"]
        at = f" at character {loc[0]}" if loc else ""
        why = (err.get("ctx") or {}).get("error", "JSON decode error")
        return f"The request body is not valid JSON ({why}{at})."
    loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def create_app(service: BackupService, control: ServerControl | None = None,
               hub: EventHub | None = None) -> FastAPI:
    control = control or ServerControl()
    hub = hub or EventHub(service.subscribe)
    service.users.tokens_dropped = hub.recheck
    app = FastAPI(title="Agent Backup Console server", version="1",
                  description="Jobs, sessions, restore points and live events of one data "
                              "directory's backup server. Every error is `{\"error\": ..., "
                              "\"kind\": ...}`; a request body over "
                              f"{MAX_BODY_BYTES >> 20} MiB is refused with 413 unread.",
                  dependencies=[Depends(authorize)])
    app.state.hub = hub
    app.add_middleware(ActorMiddleware)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    # -- errors ------------------------------------------------------------------
    @app.exception_handler(errors.ConsoleError)
    async def console_error(_req: Request, exc: errors.ConsoleError) -> JSONResponse:
        status = next((code for cls, code in STATUS_OF_ERROR.items() if isinstance(exc, cls)),
                      500 if isinstance(exc, errors.RepositoryError) else 400)
        return _error(status, str(exc), type(exc).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(req: Request, exc: StarletteHTTPException) -> JSONResponse:
        message, kind = _http_error(req, exc)
        # A body FastAPI cannot parse is refused as one that does not validate.
        status = 422 if exc.status_code == 400 else exc.status_code
        return _error(status, message, kind, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = list(exc.errors())
        message = _field_message(errs[0]) if errs else "invalid request"
        return _error(422, message, "InvalidInput",
                      fields=[_field_message(e) for e in errs])

    @app.exception_handler(ValidationError)
    async def model_invalid(_req: Request, exc: ValidationError) -> JSONResponse:
        errs = exc.errors()
        return _error(422, _field_message(dict(errs[0])) if errs else str(exc), "InvalidInput")

    @app.exception_handler(Exception)
    async def unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in a request")
        return _error(500, f"Internal error in the backup server ({exc.__class__.__name__}: "
                           f"{exc}). Details are in the server log under "
                           f"{service.data_dir / 'logs'}.", "InternalError")

    # -- server ------------------------------------------------------------------
    @app.get(f"{API}/server", responses=errors_of())
    def server_info() -> dict[str, Any]:
        running = service.running_jobs()   # from memory: works on a damaged catalogue
        return {"data_dir": str(service.data_dir), "running_jobs": running,
                "event_streams": hub.stream_count,
                "notifications": service.notification_status(), **control.info()}

    @app.post(f"{API}/server/stop", status_code=202, responses=errors_of(409, 413, 422))
    def server_stop(body: ServerStopBody) -> dict[str, Any]:
        # from memory: works on a damaged catalogue; paused jobs stay paused over a restart
        running = service.working_jobs()
        if running and body.jobs is None:
            raise errors.JobStateError(
                f"Jobs are running: {', '.join(running)}. Stop them first, or use "
                "'server stop --jobs immediately|gracefully'.")
        control.request_shutdown(body.jobs)
        return {"stopping": True, "running_jobs": running, "paused_jobs": service.paused_jobs()}

    # -- logging in, who I am, users ------------------------------------------------
    @app.post(f"{API}/login", responses=errors_of(401, 413, 422, 429))
    def login(request: Request, body: LoginBody) -> LoginAnswer:
        """A named user logs in: a bearer token, renewed while it is used (401 kind
        ``CodeRequired``: give ``code``, the user's TOTP code)."""
        token = service.users.login(body.user, body.password.get_secret_value(), body.code,
                                    origin_of(request.scope))
        principal = service.users.principal(token)
        assert principal is not None
        return LoginAnswer(token=token, user=principal.user, role=principal.role,
                           expires_in=TOKEN_IDLE_S)

    @app.get(f"{API}/me", responses=errors_of())
    def me(request: Request) -> Me:
        """Who this request runs as: user, role and permissions (the console greys out
        the commands whose permission is missing)."""
        principal = principal_of(request.scope)
        return principal.me() if principal is not None else service.whoami()

    @app.get(f"{API}/users", responses=errors_of())
    def list_users() -> list[UserInfo]:
        return service.list_users()

    @app.post(f"{API}/users", status_code=201, responses=errors_of(400, 409, 413, 422))
    def add_user(body: UserBody) -> UserInfo:
        return service.add_user(body.name, body.role, body.password, body.restore_to)

    @app.put(API + "/users/{name}", responses=errors_of(400, 404, 413, 422))
    def change_user(name: str, body: UserChange) -> UserInfo:
        return service.change_user(name, body)

    @app.delete(API + "/users/{name}", status_code=204, responses=errors_of(400, 404, 422))
    def remove_user(name: str) -> Response:
        service.remove_user(name)
        return Response(status_code=204)

    @app.post(API + "/users/{name}/totp", responses=errors_of(404, 413, 422))
    def set_user_totp(name: str, body: TotpBody) -> TotpSetup | None:
        """Give the user a new TOTP secret (shown this once), or remove it."""
        return service.set_user_totp(name, body.enabled)

    # -- jobs --------------------------------------------------------------------
    @app.get(f"{API}/jobs", response_model=list[JobOut], responses=errors_of(422))
    def list_jobs(names: list[str] | None = Query(None)) -> Response:
        """Every job, or only those in ``names`` (repeatable; unknown ones are
        left out). Serialised in one call: FastAPI's own validation and encoding
        of 2,000 jobs cost more than reading them."""
        jobs = [JobOut.of(j) for j in service.list_jobs(names)]
        return Response(content=_JOBS_OUT.dump_json(jobs), media_type="application/json")

    @app.post(f"{API}/jobs", status_code=201, responses=errors_of(400, 409, 413, 422))
    def create_job(definition: JobDefinition) -> JobOut:
        service.create_job(definition)
        return JobOut.of(service.get_job(definition.name))

    @app.post(f"{API}/copyJobs", status_code=201, responses=errors_of(400, 409, 413, 422))
    def create_copy_job(body: CopyJobRequest) -> JobOut:
        """Create a backup copy job: it copies the restore points of the backup job
        ``source`` into ``repository`` (another repository than the source's). The same
        as ``POST /jobs`` with ``kind`` "backup_copy" and ``copy_source``; change it with
        ``PUT /jobs/{name}``, run it with ``POST /jobs/{name}/start``, list its points with
        ``GET /restorePoints?job=NAME``."""
        definition = body.definition()
        service.create_job(definition)
        return JobOut.of(service.get_job(definition.name))

    @app.get(API + "/jobs/{name}", responses=errors_of(404, 422))
    def get_job(name: str) -> JobOut:
        return JobOut.of(service.get_job(name))

    @app.put(API + "/jobs/{name}", responses=errors_of(400, 404, 409, 413, 422))
    def update_job(name: str, definition: JobDefinition) -> JobOut:
        service.update_job(name, definition)
        return JobOut.of(service.get_job(definition.name))

    @app.delete(API + "/jobs/{name}", status_code=204, responses=errors_of(400, 404, 409, 422))
    def delete_job(name: str, deleteBackups: bool = False) -> Response:  # noqa: N803
        service.delete_job(name, delete_backups=deleteBackups)
        return Response(status_code=204)

    @app.post(API + "/jobs/{name}/enable", responses=errors_of(404, 409, 422))
    def enable_job(name: str) -> JobOut:
        service.set_job_enabled(name, True)
        return JobOut.of(service.get_job(name))

    @app.post(API + "/jobs/{name}/disable", responses=errors_of(404, 409, 422))
    def disable_job(name: str) -> JobOut:
        service.set_job_enabled(name, False)
        return JobOut.of(service.get_job(name))

    @app.post(API + "/jobs/{name}/clone", status_code=201,
              responses=errors_of(400, 404, 409, 413, 422))
    def clone_job(name: str, body: CloneBody | None = None) -> JobOut:
        """A copy of the job, created disabled (it would run beside the original)."""
        return JobOut.of(service.clone_job(name, (body or CloneBody()).name))

    @app.post(f"{API}/jobs/start", responses=errors_of(400, 413, 422))
    def start_jobs(body: BulkStartBody) -> BulkResult:
        return service.start_jobs(body.names, full=body.full, retry=body.retry,
                                  outside_window=body.outsideWindow)

    @app.post(f"{API}/jobs/stop", responses=errors_of(400, 413, 422))
    def stop_jobs(body: BulkStopBody) -> BulkResult:
        return service.stop_jobs(body.names, _mode(body), body.escalateAfterSeconds)

    @app.post(API + "/jobs/{name}/start", responses=errors_of(400, 404, 409, 413, 422))
    def start_job(name: str, body: StartBody | None = None) -> StartAnswer:
        body = body or StartBody()
        return StartAnswer(session_id=service.start_job(
            name, full=body.full, retry=body.retry, outside_window=body.outsideWindow))

    @app.post(API + "/jobs/{name}/stop", responses=errors_of(404, 409, 413, 422))
    def stop_job(name: str, body: StopBody | None = None) -> StopPreview:
        body = body or StopBody()
        return service.stop_job(name, _mode(body), body.escalateAfterSeconds)

    @app.post(API + "/jobs/{name}/pause", responses=errors_of(404, 409, 413, 422))
    def pause_job(name: str) -> StopPreview:
        """Hold every computer in flight at its next block (what it sent is kept, packs and
        index made durable); no new computer starts; the session shows Paused."""
        return service.pause_job(name)

    @app.post(API + "/jobs/{name}/resume", responses=errors_of(404, 409, 413, 422))
    def resume_job(name: str) -> StopPreview:
        """Let a paused session's computers go on where they stopped (also after a restart
        of the server: the files they had stored are not read again)."""
        return service.resume_job(name)

    @app.get(API + "/jobs/{name}/retentionPreview", responses=errors_of(404, 422))
    def retention_preview(name: str) -> RetentionPreview:
        """Which of the job's restore points its retention (the last N and GFS) keeps, with
        the reasons ("last 3", "weekly 2026-W48"), and which would go now; removes nothing."""
        return service.retention_preview(name)

    @app.get(API + "/jobs/{name}/stopPreview", responses=errors_of(404, 422))
    def stop_preview(name: str) -> StopPreview:
        return service.stop_preview(name)

    @app.get(API + "/jobs/{name}/retryCandidates", responses=errors_of(404, 422))
    def retry_candidates(name: str) -> list[str]:
        return service.retry_candidates(name)

    # -- sessions ----------------------------------------------------------------
    @app.get(f"{API}/sessions", responses=errors_of(404, 422))
    def list_sessions(job: str | None = None,
                      limit: int = Query(200, ge=1, le=10_000)) -> list[SessionInfo]:
        return service.list_sessions(job, limit)

    @app.get(API + "/sessions/{session_id}", responses=errors_of(404, 422))
    def get_session(session_id: str) -> SessionInfo:
        return service.get_session(session_id)

    @app.post(f"{API}/history", responses=errors_of(400, 413, 422))
    def history(query: HistoryQuery) -> HistoryPage:
        """A page of session summaries (backup, restore, verify), newest first."""
        return service.list_history(query)

    @app.get(f"{API}/overview", responses=errors_of(400, 422))
    def overview(days: int = Query(OVERVIEW_DAYS, ge=1, le=MAX_OVERVIEW_DAYS),
                 tz: str | None = Query(None, max_length=64)) -> HomeOverview:
        """Home → Overview: the last 24 hours by state, the latest failures and why,
        the next scheduled runs, and each day's results (days counted in ``tz``, an
        IANA zone name; none: the server's own)."""
        return service.get_overview(days, tz)

    @app.post(API + "/sessions/{session_id}/cancel", status_code=204,
              responses=errors_of(404, 409, 422))
    def cancel_session(session_id: str) -> Response:
        """Cancel a running restore or verify (a backup session: stop it immediately)."""
        service.cancel_session(session_id)
        return Response(status_code=204)

    @app.get(API + "/sessions/{session_id}/wait", responses=errors_of(404, 422))
    def wait_session(session_id: str,
                     timeout: float = Query(MAX_WAIT_S, ge=0, le=MAX_WAIT_S)) -> SessionInfo:
        """Long poll: answers when the session has stopped, or after ``timeout``."""
        return service.wait_session(session_id, timeout)

    # -- restore points ------------------------------------------------------------
    @app.get(f"{API}/restorePoints", responses=errors_of(404, 422))
    def list_points(job: str | None = None) -> list[RestorePointInfo]:
        return service.list_points(job)

    @app.get(f"{API}/restorePoints/diskUsage", responses=errors_of())
    def disk_usage() -> DiskUsage:
        """The space restore points really take, after dedup and compression."""
        return service.disk_usage()

    @app.post(API + "/restorePoints/{point_id}/restore",
              responses=errors_of(400, 404, 409, 413, 422))
    def restore(request: Request, point_id: str, body: RestoreBody) -> RestoreReport:
        """Restore and wait for the end (a short restore); see .../startRestore."""
        _restore_allowed(request, body.target)
        if body.target is None:
            raise errors.InvalidInput("target: a folder is needed; restore to the original "
                                      "location with .../startRestore")
        return service.restore(point_id, Path(body.target), paths=body.paths or None,
                               overwrite=body.overwrite)

    @app.post(API + "/restorePoints/{point_id}/startRestore",
              responses=errors_of(400, 404, 409, 413, 422))
    def start_restore(request: Request, point_id: str, body: RestoreBody) -> SessionStarted:
        """Start a Restore session; follow it with /sessions/{id} and the events."""
        _restore_allowed(request, body.target)
        return SessionStarted(session_id=service.start_restore(
            point_id, Path(body.target) if body.target is not None else None,
            paths=body.paths or None, overwrite=body.overwrite))

    @app.get(API + "/restorePoints/{point_id}/browse", responses=errors_of(400, 404, 422))
    def browse(point_id: str, folder: str = "") -> list[PointEntryInfo]:
        """One folder of the point ("" is the computer's root)."""
        return service.browse_point(point_id, folder)

    @app.post(f"{API}/verify", responses=errors_of(400, 404, 409, 413, 422))
    def verify(body: VerifyBody | None = None) -> VerifyReport:
        return service.verify((body or VerifyBody()).point_id)

    @app.post(f"{API}/startVerify", responses=errors_of(400, 404, 409, 413, 422))
    def start_verify(body: VerifyBody | None = None) -> SessionStarted:
        """Start a Verify session of a point, a job's points or everything."""
        body = body or VerifyBody()
        return SessionStarted(session_id=service.start_verify(body.point_id, job=body.job))

    @app.delete(API + "/jobs/{name}/backups", responses=errors_of(400, 404, 409, 422))
    def delete_backups(name: str, computer: str | None = None) -> DeleteReport:
        """Delete the job's (or one computer's) restore points from disk."""
        return service.delete_backups(name, computer)

    @app.post(f"{API}/demo", responses=errors_of(409))
    def demo() -> DemoAnswer:
        return DemoAnswer(created=service.setup_demo())

    @app.post(f"{API}/repair", responses=errors_of(409))
    def repair() -> RepairReport:
        """Rebuild the repository's index from its packs and drop damaged copies."""
        return service.repair()

    @app.post(f"{API}/scopePreview", responses=errors_of(400, 413, 422))
    def scope_preview(body: ScopePreviewBody) -> ScopePreview:
        """Files and bytes a backup scope would read on each computer now."""
        return service.preview_scope(body.computers, body.scope, body.ssh)

    # -- backup infrastructure --------------------------------------------------------
    # Secrets travel only in request bodies; no answer and no log line carries them.
    @app.get(f"{API}/repositories", responses=errors_of())
    def list_repositories() -> list[RepositoryInfo]:
        """Every backup repository with its jobs and space (``problem``: unreachable)."""
        return service.list_repositories()

    @app.post(f"{API}/repositories", status_code=201, responses=errors_of(400, 409, 413, 422))
    def add_repository(spec: RepositorySpec) -> RepositoryInfo:
        """Register a repository: creates it when its location is empty, else opens it."""
        return service.add_repository(spec)

    @app.post(f"{API}/repositories/test", responses=errors_of(400, 413, 422))
    def test_repository(spec: RepositorySpec) -> TestAnswer:
        """What adding the repository would find, in a sentence; creates nothing."""
        return TestAnswer(result=service.test_repository(spec))

    @app.delete(API + "/repositories/{name}", responses=errors_of(400, 404, 409, 422))
    def remove_repository(name: str) -> RepositoryRemoved:
        """Forget a repository and stop listing its points; its data is never deleted."""
        return RepositoryRemoved(points_forgotten=service.remove_repository(name))

    @app.get(API + "/repositories/{name}/keys", responses=errors_of(400, 404, 422))
    def list_repository_keys(name: str) -> list[RepositoryKeyInfo]:
        return service.list_repository_keys(name)

    @app.post(API + "/repositories/{name}/keys", status_code=201,
              responses=errors_of(400, 404, 409, 413, 422))
    def add_repository_key(name: str, body: KeyBody) -> KeyAdded:
        return KeyAdded(id=service.add_repository_key(name, body.password))

    @app.delete(API + "/repositories/{name}/keys/{key_id}", status_code=204,
              responses=errors_of(400, 404, 409, 422))
    def remove_repository_key(name: str, key_id: str) -> Response:
        service.remove_repository_key(name, key_id)
        return Response(status_code=204)

    @app.put(API + "/repositories/{name}/password", status_code=204,
              responses=errors_of(400, 404, 413, 422))
    def set_repository_password(name: str, body: KeyBody) -> Response:
        """Keep this password for the repository, once it opens it."""
        service.set_repository_password(name, body.password)
        return Response(status_code=204)

    @app.post(API + "/repositories/{name}/keys/passwd", status_code=201,
              responses=errors_of(400, 404, 409, 413, 422))
    def change_repository_password(name: str, body: KeyBody) -> KeyAdded:
        """restic's ``key passwd``: a new key replaces the one the server uses."""
        return KeyAdded(id=service.change_repository_password(name, body.password))

    @app.put(API + "/repositories/{name}/s3keys", status_code=204,
              responses=errors_of(400, 404, 413, 422))
    def set_repository_s3_keys(name: str, body: S3KeysBody) -> Response:
        """Keep (or replace) the S3 keys of an S3 repository, once they work."""
        service.set_repository_s3_keys(name, body.access_key_id, body.secret_access_key)
        return Response(status_code=204)

    @app.post(f"{API}/computers/test", responses=errors_of(400, 413, 422))
    def test_computer(body: ComputerTestBody) -> TestAnswer:
        """Connect to a computer as a backup would (SSH: host key, login, path)."""
        return TestAnswer(result=service.test_computer(body.computer, body.ssh))

    # -- the maintenance window ------------------------------------------------------
    @app.get(f"{API}/maintenance", responses=errors_of())
    def get_maintenance() -> MaintenanceSettings:
        """The server-wide maintenance window (``window`` null: none; backups
        then reclaim space at their end)."""
        return service.get_maintenance()

    @app.put(f"{API}/maintenance", responses=errors_of(400, 413, 422))
    def set_maintenance(body: MaintenanceSettings) -> MaintenanceSettings:
        """Set the maintenance window (``{"window": {"start": "01:00", "end":
        "05:00", "days": ["mon", ...]}}``), or remove it (``{"window": null}``)."""
        return service.set_maintenance(body)

    # -- the audit trail -------------------------------------------------------------
    @app.get(f"{API}/audit", responses=errors_of(422))
    def list_audit(since: datetime | None = None, user: str | None = None,
                   limit: int = Query(1000, ge=1, le=100_000)) -> list[AuditEntry]:
        """Who did what, when and from where, newest first (``since`` an ISO time)."""
        return service.list_audit(since, user, limit)

    @app.get(f"{API}/audit/verify", responses=errors_of())
    def verify_audit() -> AuditCheck:
        """Check the audit trail's hash chain: ``intact``, or the first row that is not."""
        return service.verify_audit()

    # -- metrics (beside the API, as Prometheus expects: /metrics) ------------------
    collector = ServerCollector(service)

    @app.get("/metrics", response_class=Response, responses=METRICS_RESPONSE)
    def metrics() -> Response:
        """Every job's last result, last success time, duration, bytes read and stored;
        running sessions; repositories' used and free space; notification failures.
        Read from the catalogue at each scrape."""
        return Response(content=render(collector), media_type=METRICS_CONTENT_TYPE)

    # -- notifications ---------------------------------------------------------------
    @app.get(f"{API}/notifications", responses=errors_of())
    def get_notifications() -> NotificationSettings:
        """The mail server, the notification URLs and the daily summary's time
        (the SMTP password only as ``smtp.password_set``)."""
        return service.get_notifications()

    @app.put(f"{API}/notifications", responses=errors_of(400, 413, 422))
    def set_notifications(body: NotificationsBody) -> NotificationSettings:
        """Replace the notification settings (``{"smtp": {"host": ..., "port": 587,
        "security": "starttls", "user": ..., "sender": ..., "to": [...]}, "urls":
        [...], "summary_at": "07:00", "smtp_password": ...}``)."""
        password = body.smtp_password
        settings = NotificationSettings.model_validate(
            body.model_dump(exclude={"smtp_password"}))
        return service.set_notifications(
            settings, SecretStr(password) if password is not None else None)

    @app.post(f"{API}/notifications/urls", responses=errors_of(400, 413, 422))
    def add_notification_url(body: UrlBody) -> NotificationSettings:
        """Add a notification URL in apprise's syntax (json://HOST:PORT/PATH, ntfy://...)."""
        return service.add_notification_url(body.url)

    @app.delete(f"{API}/notifications/urls", responses=errors_of(404, 422))
    def remove_notification_url(url: str = Query(min_length=1, max_length=4096)) \
            -> NotificationSettings:
        """Remove a notification URL (given exactly as listed)."""
        return service.remove_notification_url(url)

    @app.post(f"{API}/notifications/test", responses=errors_of(400, 413, 422))
    def test_notifications() -> list[NotificationTest]:
        """Send a test message to every destination now; what each one said."""
        return service.test_notifications()

    # -- events --------------------------------------------------------------------
    @app.get(f"{API}/events", response_class=StreamingResponse, responses=EVENTS_RESPONSE)
    async def events(request: Request) -> StreamingResponse:
        """Server-Sent Events: ``data: {"type": "SessionChanged", ...}`` per change. A
        logged-in user's stream ends once their token does (or they are disabled)."""
        return StreamingResponse(hub.stream(still_valid_of(request.scope)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return app
