"""The job wizard's logic without Qt: a draft of settings checked against
the job model, errors in plain words per field, and job names.

A draft is the dict a :class:`JobDefinition` is validated from. Errors are
keyed by the wizard field they belong to (see ``PAGE_OF_FIELD``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from core.models import COMPUTER_NAME_RE, JobDefinition

NAME = "name"
DESCRIPTION = "description"
COMPUTERS = "computers"
SCOPE = "scope"
REPOSITORY = "repository"
RETAIN = "retain_points"
GFS = "gfs"
TASK_SLOTS = "task_slots"
THROTTLE = "throttle_mbps"
YIELD = "yield_to_production"
PRESSURE = "pressure_threshold"
ACTIVE_FULL = "active_full"
HEALTH_CHECK = "health_check"
SCHEDULE = "schedule"
WINDOW = "schedule.window"
SSH = "ssh"
NOTIFY = "notify"
KIND = "kind"
COPY_SOURCE = "copy_source"

PAGE_OF_FIELD: dict[str, str] = {
    NAME: "Name", DESCRIPTION: "Name", COMPUTERS: "Computers", SCOPE: "Backup Mode",
    REPOSITORY: "Storage", RETAIN: "Storage", GFS: "Storage", TASK_SLOTS: "Storage",
    THROTTLE: "Storage", YIELD: "Storage", PRESSURE: "Storage", ACTIVE_FULL: "Storage", HEALTH_CHECK: "Storage", SCHEDULE: "Schedule",
    WINDOW: "Schedule",
    SSH: "Computers", NOTIFY: "Notifications",
}

MAX_NAME = 64
NEW_JOB_BASE = "Agent Backup Job"

# Words for the numeric limits of the model, by field and kind of limit.
_LIMITS: dict[tuple[str, str], str] = {
    (RETAIN, "greater_than_equal"): "Keep at least {ge} restore point.",
    (RETAIN, "less_than_equal"): "Keep at most {le} restore points.",
    (GFS, "greater_than_equal"): "Keep {ge} or more daily, weekly, monthly and yearly points.",
    (GFS, "less_than_equal"): "Keep at most {le} daily, weekly, monthly or yearly points.",
    (TASK_SLOTS, "greater_than_equal"): "Use at least {ge} task slot.",
    (TASK_SLOTS, "less_than_equal"): "Use at most {le} task slots.",
    (THROTTLE, "greater_than"): "The read rate limit must be more than {gt} MB/s.",
    (THROTTLE, "greater_than_equal"): "The read rate limit must be at least {ge} MB/s.",
    (THROTTLE, "less_than_equal"): "The read rate limit must be at most {le} MB/s.",
    (PRESSURE, "greater_than_equal"): "The pressure threshold must be at least {ge} %.",
    (PRESSURE, "less_than_equal"): "The pressure threshold must be at most {le} %.",
}
_MISSING_WORDS: dict[str, str] = {
    NAME: "Type in a name for the job.",
    COMPUTERS: "Add at least one computer.",
}
_ROOT_WORDS: dict[str, str] = {   # a whole-job error, in the wizard's words
    "a job needs at least one computer": "Add at least one computer.",
}


@dataclass
class DraftCheck:
    definition: JobDefinition | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.definition is not None and not self.errors

    def page_errors(self, page: str) -> list[str]:
        return [text for key, text in self.errors.items() if PAGE_OF_FIELD.get(key) == page]


def sentence(text: str) -> str:
    """``"choose at least one day"`` -> ``"Choose at least one day."``"""
    text = text.strip().removeprefix("Value error, ").strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def field_of(loc: tuple[Any, ...]) -> str:
    """The wizard field an error location belongs to."""
    parts = [str(p) for p in loc]
    if not parts:
        return NAME
    if parts[0] == SCHEDULE and len(parts) > 1 and parts[1] == "window":
        return WINDOW
    return parts[0] if parts[0] in PAGE_OF_FIELD else NAME


# The job model checks some fields together (a model validator, whose errors have no
# location): the words of its message say which field it is about.
_ROOT_FIELDS: tuple[tuple[str, str], ...] = (
    ("at least one computer", COMPUTERS), ("source", COPY_SOURCE), ("copy itself", COPY_SOURCE),
    ("computers", COMPUTERS), ("include folders", SCOPE), ("active full", ACTIVE_FULL),
)


def root_field(message: str) -> str:
    """The wizard field a whole-job error of the model is about (NAME if none fits)."""
    text = message.casefold()
    return next((key for words, key in _ROOT_FIELDS if words in text), NAME)


def plain_words(key: str, error: Mapping[str, Any]) -> str:
    """One pydantic error as the operator reads it next to the field."""
    kind = str(error.get("type", ""))
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in (error.get("ctx") or {}).items()}
    value = error.get("input")
    empty = value is None or (isinstance(value, (str, list, tuple)) and not
                              (value.strip() if isinstance(value, str) else value))
    if kind == "missing" or (key in _MISSING_WORDS and empty):
        return _MISSING_WORDS.get(key, "Fill in this setting.")
    template = _LIMITS.get((key, kind))
    if template is not None:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError, ValueError):
            pass
    if kind in ("int_parsing", "float_parsing", "int_type", "float_type"):
        return "Type in a number."
    message = str(error.get("msg", "This value is not valid"))
    bare = message.removeprefix("Value error, ").strip()
    if bare in _ROOT_WORDS:
        return _ROOT_WORDS[bare]
    loc = [str(p) for p in error.get("loc", ())]
    if key == COMPUTERS and len(loc) >= 2 and loc[1].isdigit():
        return f"Computer {int(loc[1]) + 1}: " + sentence(message)[0].lower() + \
            sentence(message)[1:]
    return sentence(message)


def check_draft(draft: Mapping[str, Any], *, taken: Iterable[str] = (),
                original: str | None = None, running: bool = False,
                computer_errors: Iterable[str] = (),
                extra: Mapping[str, str] | None = None) -> DraftCheck:
    """Validate ``draft`` as the server would, plus what only the console
    knows: names of the other jobs, a running job's name, unreadable folders,
    and ``extra`` errors of the wizard's own controls."""
    errors: dict[str, str] = {}
    definition: JobDefinition | None = None
    try:
        definition = JobDefinition.model_validate(dict(draft))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            key = field_of(loc) if loc else root_field(str(err.get("msg", "")))
            errors.setdefault(key, plain_words(key, err))
    name = str(draft.get(NAME, "")).strip()
    if NAME not in errors and name:
        others = {n.casefold() for n in taken} - ({original.casefold()} if original else set())
        if name.casefold() in others:
            errors[NAME] = f"A job named '{name}' already exists. Choose another name."
        elif running and original is not None and name != original:
            errors[NAME] = "The job is running. Stop it before renaming it."
    for key, text in (extra or {}).items():
        errors.setdefault(key, text)
    folder_errors = [sentence(e) for e in computer_errors]
    if folder_errors and COMPUTERS not in errors:
        errors[COMPUTERS] = "\n".join(folder_errors)
    return DraftCheck(definition if not errors else None, errors)


def computer_name_error(name: str, taken: Iterable[str] = ()) -> str | None:
    """Why ``name`` cannot name a computer of the job, or None."""
    name = name.strip()
    if not name:
        return "Type in a name for the computer."
    if not COMPUTER_NAME_RE.match(name):
        return ("Use letters, digits, '.', '_' or '-' (at most 63 characters, starting "
                "with a letter or digit).")
    if name in set(taken):
        return f"The job already has a computer named '{name}'."
    return None


def suggest_computer_name(folder: str) -> str:
    """A valid computer name made from a folder's last part (``""`` if none fits)."""
    base = re.split(r"[/\\]", folder.rstrip("/\\"))[-1] if folder else ""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._")[:63]
    return name if name and COMPUTER_NAME_RE.match(name) else ""


def new_job_name(taken: Iterable[str]) -> str:
    """``"Agent Backup Job 1"``, or the next free number."""
    used = {n.casefold() for n in taken}
    number = 1
    while f"{NEW_JOB_BASE} {number}".casefold() in used:
        number += 1
    return f"{NEW_JOB_BASE} {number}"
