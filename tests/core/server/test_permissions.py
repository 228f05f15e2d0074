"""The one table of route -> permission names exactly the app's routes (a new
route cannot be left out, and no row is stale), and each role holds what the
reference's role says."""
from __future__ import annotations

from pathlib import Path

from core.models import ROLE_PERMISSIONS, Permission, Role
from core.server.app import create_app
from core.server.permissions import ROUTE_PERMISSIONS
from core.service.facade import BackupService


def test_the_table_covers_exactly_the_apps_routes(tmp_path: Path) -> None:
    service = BackupService(tmp_path / "data")
    try:
        app = create_app(service)
        routes = {(method, route.path) for route in app.routes
                  for method in getattr(route, "methods", None) or ()
                  if method != "HEAD"}
    finally:
        service.close()
    assert routes - set(ROUTE_PERMISSIONS) == set(), "routes without a permission"
    assert set(ROUTE_PERMISSIONS) - routes == set(), "rows for routes that do not exist"
    public = {k for k, p in ROUTE_PERMISSIONS.items() if p is Permission.PUBLIC}
    assert public == {("POST", "/api/v1/login")}


def test_each_role_holds_what_the_reference_gives_it() -> None:
    assert ROLE_PERMISSIONS[Role.ADMINISTRATOR] == frozenset(Permission)
    operator = ROLE_PERMISSIONS[Role.OPERATOR]
    assert Permission.RUN in operator and Permission.VIEW_INFRASTRUCTURE in operator
    assert not operator & {Permission.EDIT_JOBS, Permission.MANAGE_INFRASTRUCTURE,
                           Permission.MANAGE_USERS, Permission.RESTORE}
    restore = ROLE_PERMISSIONS[Role.RESTORE_OPERATOR]
    assert restore == {Permission.PUBLIC, Permission.VIEW, Permission.RESTORE}
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.PUBLIC, Permission.VIEW,
                                             Permission.VIEW_INFRASTRUCTURE}
