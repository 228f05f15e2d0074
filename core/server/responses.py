"""The error answers each REST operation documents in the OpenAPI document.

Every error is :class:`ErrorOut`. Each operation lists the statuses it can
answer besides its success, so a client (and the property-based check of the
API against this document) knows them all; 401 (not logged in, on the TCP
listener), 403 (the user's role does not allow it) and 500 (an internal or
storage failure) can come from any operation.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.server.body_limit import MAX_BODY_BYTES


class ErrorOut(BaseModel):
    """Every error answer: one line for the operator and its kind."""

    error: str
    kind: str
    fields: list[str] | None = None    # 422: one line per invalid field


WHY: dict[int, str] = {
    400: "Refused: the request cannot be carried out as given (InvalidInput, "
         "WrongPassword, RestoreError...)",
    401: "Not logged in: missing, wrong or expired bearer token (TCP listener only; "
         "Unauthorized, CodeRequired)",
    403: "The user's role does not allow this (Forbidden)",
    429: "Too many failed logins for this user or from this address (TooManyAttempts)",
    404: "No such job, session, restore point or key (NotFound)",
    409: "Conflicts with the current state: a job is running, the name exists, the key "
         "is in use (JobStateError, AlreadyExists, KeyInUse)",
    413: f"The request body is over {MAX_BODY_BYTES >> 20} MiB (BodyTooLarge)",
    422: "A parameter or the body does not validate (InvalidInput, with 'fields')",
    500: "Internal or storage failure (InternalError, RepositoryError)",
}


def errors_of(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an operation answering ``codes`` (and 401, 403, 500)."""
    return {code: {"model": ErrorOut, "description": WHY[code]}
            for code in sorted({*codes, 401, 403, 500})}


EVENTS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "Server-Sent Events, one `data: {...}` JSON line per change",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **errors_of(),
}


METRICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The server's state in Prometheus' text format (version 0.0.4)",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
    **errors_of(),
}
