"""Who may call what: every route of the REST API, in ONE table, with the
permission it needs (``core.models.ROLE_PERMISSIONS`` says which role holds
which). ``tests/core/server/test_permissions.py`` checks that the table names
exactly the app's routes, so a new route cannot be left unguarded.

A restore operator's restores are further limited to their allowed folders
(checked in the restore routes, which know the target)."""
from __future__ import annotations

from core.models import Permission as P

API = "/api/v1"

# (method, path as the app declares it) -> what it needs
ROUTE_PERMISSIONS: dict[tuple[str, str], P] = {
    # the server
    ("GET", f"{API}/server"): P.VIEW,
    ("POST", f"{API}/server/stop"): P.MANAGE_SERVER,
    # logging in, and who I am
    ("POST", f"{API}/login"): P.PUBLIC,
    ("GET", f"{API}/me"): P.VIEW,
    # users
    ("GET", f"{API}/users"): P.VIEW_INFRASTRUCTURE,
    ("POST", f"{API}/users"): P.MANAGE_USERS,
    ("PUT", f"{API}/users/{{name}}"): P.MANAGE_USERS,
    ("DELETE", f"{API}/users/{{name}}"): P.MANAGE_USERS,
    ("POST", f"{API}/users/{{name}}/totp"): P.MANAGE_USERS,
    # jobs
    ("GET", f"{API}/jobs"): P.VIEW,
    ("POST", f"{API}/jobs"): P.EDIT_JOBS,
    ("POST", f"{API}/copyJobs"): P.EDIT_JOBS,
    ("GET", f"{API}/jobs/{{name}}"): P.VIEW,
    ("PUT", f"{API}/jobs/{{name}}"): P.EDIT_JOBS,
    ("DELETE", f"{API}/jobs/{{name}}"): P.EDIT_JOBS,
    ("POST", f"{API}/jobs/{{name}}/enable"): P.EDIT_JOBS,
    ("POST", f"{API}/jobs/{{name}}/disable"): P.EDIT_JOBS,
    ("POST", f"{API}/jobs/{{name}}/clone"): P.EDIT_JOBS,
    ("POST", f"{API}/jobs/start"): P.RUN,
    ("POST", f"{API}/jobs/stop"): P.RUN,
    ("POST", f"{API}/jobs/{{name}}/start"): P.RUN,
    ("POST", f"{API}/jobs/{{name}}/stop"): P.RUN,
    ("POST", f"{API}/jobs/{{name}}/pause"): P.RUN,
    ("POST", f"{API}/jobs/{{name}}/resume"): P.RUN,
    ("GET", f"{API}/jobs/{{name}}/retentionPreview"): P.VIEW,
    ("GET", f"{API}/jobs/{{name}}/stopPreview"): P.VIEW,
    ("GET", f"{API}/jobs/{{name}}/retryCandidates"): P.VIEW,
    ("DELETE", f"{API}/jobs/{{name}}/backups"): P.EDIT_JOBS,
    ("POST", f"{API}/scopePreview"): P.EDIT_JOBS,
    ("POST", f"{API}/computers/test"): P.EDIT_JOBS,
    ("POST", f"{API}/demo"): P.EDIT_JOBS,
    # sessions and history
    ("GET", f"{API}/sessions"): P.VIEW,
    ("GET", f"{API}/sessions/{{session_id}}"): P.VIEW,
    ("POST", f"{API}/history"): P.VIEW,
    ("GET", f"{API}/overview"): P.VIEW,
    ("POST", f"{API}/sessions/{{session_id}}/cancel"): P.RUN,
    ("GET", f"{API}/sessions/{{session_id}}/wait"): P.VIEW,
    ("GET", f"{API}/events"): P.VIEW,
    # restore points
    ("GET", f"{API}/restorePoints"): P.VIEW,
    ("GET", f"{API}/restorePoints/diskUsage"): P.VIEW_INFRASTRUCTURE,
    ("POST", f"{API}/restorePoints/{{point_id}}/restore"): P.RESTORE,
    ("POST", f"{API}/restorePoints/{{point_id}}/startRestore"): P.RESTORE,
    ("GET", f"{API}/restorePoints/{{point_id}}/browse"): P.RESTORE,
    ("POST", f"{API}/verify"): P.RUN,
    ("POST", f"{API}/startVerify"): P.RUN,
    ("POST", f"{API}/repair"): P.MANAGE_INFRASTRUCTURE,
    # backup infrastructure
    ("GET", f"{API}/repositories"): P.VIEW_INFRASTRUCTURE,
    ("POST", f"{API}/repositories"): P.MANAGE_INFRASTRUCTURE,
    ("POST", f"{API}/repositories/test"): P.MANAGE_INFRASTRUCTURE,
    ("DELETE", f"{API}/repositories/{{name}}"): P.MANAGE_INFRASTRUCTURE,
    ("GET", f"{API}/repositories/{{name}}/keys"): P.VIEW_INFRASTRUCTURE,
    ("POST", f"{API}/repositories/{{name}}/keys"): P.MANAGE_INFRASTRUCTURE,
    ("DELETE", f"{API}/repositories/{{name}}/keys/{{key_id}}"): P.MANAGE_INFRASTRUCTURE,
    ("PUT", f"{API}/repositories/{{name}}/password"): P.MANAGE_INFRASTRUCTURE,
    ("POST", f"{API}/repositories/{{name}}/keys/passwd"): P.MANAGE_INFRASTRUCTURE,
    ("PUT", f"{API}/repositories/{{name}}/s3keys"): P.MANAGE_INFRASTRUCTURE,
    # settings
    ("GET", f"{API}/maintenance"): P.VIEW_INFRASTRUCTURE,
    ("PUT", f"{API}/maintenance"): P.MANAGE_INFRASTRUCTURE,
    ("GET", f"{API}/notifications"): P.VIEW_INFRASTRUCTURE,
    ("PUT", f"{API}/notifications"): P.MANAGE_INFRASTRUCTURE,
    ("POST", f"{API}/notifications/urls"): P.MANAGE_INFRASTRUCTURE,
    ("DELETE", f"{API}/notifications/urls"): P.MANAGE_INFRASTRUCTURE,
    ("POST", f"{API}/notifications/test"): P.MANAGE_INFRASTRUCTURE,
    # the audit trail, metrics
    ("GET", f"{API}/audit"): P.VIEW_INFRASTRUCTURE,
    ("GET", f"{API}/audit/verify"): P.VIEW_INFRASTRUCTURE,
    ("GET", "/metrics"): P.VIEW_INFRASTRUCTURE,
    # the API's own description (FastAPI's): any logged-in user
    ("GET", "/openapi.json"): P.VIEW,
    ("GET", "/docs"): P.VIEW,
    ("GET", "/docs/oauth2-redirect"): P.VIEW,
    ("GET", "/redoc"): P.VIEW,
}


def permission_for(method: str, path: str) -> P | None:
    """The permission a route needs (HEAD as GET); None for a route not in the table."""
    return ROUTE_PERMISSIONS.get(("GET" if method == "HEAD" else method, path))
