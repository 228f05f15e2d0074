"""Validation of the relative paths stored in manifests."""
from __future__ import annotations


def rel_path_problem(rel: str) -> str | None:
    """Why ``rel`` is not a safe relative posix path, or None if it is."""
    if not isinstance(rel, str):
        return "path is not a string"
    # One pass of C substring searches: with the path wrapped in slashes, an
    # empty, "." or ".." component (or a leading "/") shows up as one of these.
    wrapped = f"/{rel}/"
    if "//" not in wrapped and "/./" not in wrapped and "/../" not in wrapped \
            and "\x00" not in rel:
        return None
    if not rel:
        return "empty path"
    if "\x00" in rel:
        return "path contains a NUL character"
    if rel.startswith("/"):
        return "absolute path"
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return f"path component {part!r} is not allowed"
    return "invalid path"  # pragma: no cover - unreachable


def check_rel_path(rel: str) -> str:
    problem = rel_path_problem(rel)
    if problem is not None:
        raise ValueError(f"invalid repository path {rel!r}: {problem}")
    return rel


def parent_of(rel: str) -> str:
    """'' for top-level entries."""
    cut = rel.rfind("/")
    return rel[:cut] if cut >= 0 else ""
