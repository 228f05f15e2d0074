"""Fault injection for the reliability tests: real bytes flipped in real files,
real processes killed or stopped, real full and read-only file systems."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def agent_jobs(data: Path, *args: str, timeout: float = 120, env: dict | None = None,
               **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env={**ENV, **(env or {})},
                          timeout=timeout, cwd=ROOT, **kw)


def as_json(data: Path, *args: str):
    result = agent_jobs(data, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert a refused command: non-zero exit, one line on stderr, no traceback."""
    err = result.stderr.strip()
    assert result.returncode != 0, (result.stdout, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "unexpected" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def repo_files(data: Path) -> dict[str, str]:
    """Every repository file (path -> blake2 of its bytes)."""
    root = data / "repositories" / "default"
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "lock":
            out[str(p.relative_to(root))] = hashlib.blake2b(p.read_bytes()).hexdigest()
    return out


def catalogue_rows(data: Path) -> dict[str, list]:
    """The catalogue's content, table by table (not its pages: WAL moves them). The
    audit trail is left out: it records a refused action by design (see
    :func:`audit_results`)."""
    path = data / "catalogue.sqlite"
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}")), key=repr)
                for t in tables if t not in ("server_state", "audit")}
    finally:
        conn.close()


def audit_results(data: Path) -> list[str]:
    """How each recorded action ended, oldest first ("done", "refused: ...")."""
    path = data / "catalogue.sqlite"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='audit'").fetchone():
            return []
        return [r[0] for r in conn.execute("SELECT result FROM audit ORDER BY id")]
    finally:
        conn.close()


def data_state(data: Path) -> tuple[dict, dict]:
    return repo_files(data), catalogue_rows(data)


# -- mounts ------------------------------------------------------------------------


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting needs root"
    return None


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    """A small real file system at ``path`` (disk-full tests)."""
    why = _can_mount()
    if why:
        pytest.skip(f"cannot mount a tmpfs: {why}")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` remounted read-only in place (a bind mount)."""
    why = _can_mount()
    if why:
        pytest.skip(f"cannot bind-mount read-only: {why}")
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True,
                            text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system holding ``folder`` to the last byte; returns the filler."""
    filler = folder / f"filler-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return filler      # already full
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            chunk = b"\1" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler
