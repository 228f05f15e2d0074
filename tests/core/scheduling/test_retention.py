"""GFS retention (core.scheduling.retention): invariants over generated timelines, and the
kept set against the real ``restic forget --dry-run`` on the same timestamps."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.scheduling.retention import GfsRetention, decide, keep_reasons

UTC = timezone.utc


@dataclass(frozen=True)
class P:
    """A point as retention reads it."""

    id: str
    created: datetime
    computer: str = "pc1"
    damaged: str | None = None
    imported: bool = False


def points_of(times: list[datetime], computer: str = "pc1") -> list[P]:
    return [P(f"{computer}-{i:03d}", t, computer) for i, t in enumerate(sorted(times))]


# -- the rules, by example ------------------------------------------------------------
def test_reasons_name_the_day_iso_week_month_and_year():
    times = [datetime(2026, 12, d, h, tzinfo=UTC) for d, h in ((1, 12), (5, 8), (5, 12))] + [
        datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2025, 12, 29, 9, tzinfo=UTC)]
    got = {d.created: d.reasons for d in decide(
        points_of(times), 1, GfsRetention(keep_daily=2, keep_weekly=2, keep_monthly=2,
                                          keep_yearly=2), UTC)}
    newest, other_of_day = sorted(t for t in times if t.day == 5 and t.month == 12)[::-1]
    # the newest point: every rule; 2026-12-05 is a Saturday of ISO week 49
    assert got[newest] == ("last 1", "daily 2026-12-05", "weekly 2026-W49",
                           "monthly 2026-12", "yearly 2026")
    assert got[other_of_day] == ()                          # the same day: not its newest
    assert got[datetime(2026, 12, 1, 12, tzinfo=UTC)] == ("daily 2026-12-01",)
    # Monday 30 Nov is in ISO week 49 too: no weekly; it is November's newest
    assert got[datetime(2026, 11, 30, 9, tzinfo=UTC)] == ("monthly 2026-11",)
    # 29 Dec 2025 belongs to ISO week 2026-W01, and is 2025's newest point
    assert got[datetime(2025, 12, 29, 9, tzinfo=UTC)] == ("weekly 2026-W01", "yearly 2025")


def test_a_period_with_no_point_does_not_count():
    # points on days 1, 10, 20: "daily 3" keeps all three, whatever the days between
    times = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in (1, 10, 20)]
    kept = [d for d in decide(points_of(times), 1, GfsRetention(keep_daily=3), UTC) if d.keep]
    assert len(kept) == 3


def test_damaged_points_never_count_and_the_newer_ones_stay_listed():
    t = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in range(1, 7)]
    pts = [P("a", t[0]), P("b", t[1], damaged="missing data"), P("c", t[2]),
           P("d", t[3]), P("e", t[4], damaged="missing data"), P("f", t[5])]
    got = {d.id: d for d in decide(pts, 2, GfsRetention(), UTC)}
    # the last 2 intact ones are d and f; e, newer than d, stays listed; b goes
    assert [i for i in "abcdef" if got[i].keep] == ["d", "e", "f"]
    assert got["e"].reasons == ("damaged",) and got["d"].reasons == ("last 2",)
    # while no intact point goes, no damaged one goes either
    assert all(d.keep for d in decide(pts, 4, GfsRetention(), UTC))


def test_another_servers_points_are_kept_and_computers_are_decided_apart():
    t = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in range(1, 5)]
    pts = points_of(t, "pc1") + points_of(t[:1], "pc2") + [P("x", t[0], "pc1", imported=True)]
    got = {d.id: d for d in decide(pts, 1, GfsRetention(), UTC)}
    assert got["pc2-000"].keep                                  # pc2's only point
    assert got["x"].keep and got["x"].reasons == ("another server's point",)
    assert [d.id for d in got.values() if d.computer == "pc1" and d.keep] == ["x", "pc1-003"]


def test_flags_letters():
    (d,) = decide(points_of([datetime(2026, 3, 1, tzinfo=UTC)]), 1,
                  GfsRetention(keep_daily=1, keep_monthly=1), UTC)
    assert d.flags == "DM"


# -- invariants over generated timelines ----------------------------------------------
START = datetime(2024, 1, 1, tzinfo=UTC)
timelines = st.lists(st.integers(min_value=0, max_value=3 * 365 * 24 * 4),   # quarter hours
                     min_size=1, max_size=60, unique=True).map(
    lambda qs: sorted(START + timedelta(minutes=15 * q) for q in qs))
policies = st.tuples(st.integers(0, 6), st.builds(
    GfsRetention, keep_daily=st.integers(0, 10), keep_weekly=st.integers(0, 8),
    keep_monthly=st.integers(0, 14), keep_yearly=st.integers(0, 4)))


def kept_ids(points: list[P], keep_last: int, gfs: GfsRetention) -> list[str]:
    return [d.id for d in decide(points, keep_last, gfs, UTC) if d.keep]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines, policies)
def test_invariants(times, policy):
    keep_last, gfs = policy
    points = points_of(times)
    decisions = decide(points, keep_last, gfs, UTC)
    kept = [d for d in decisions if d.keep]
    # the newest point is always kept, so a computer's only point is never dropped
    assert decisions[-1].keep
    # count bounds: no more than the rules allow, no fewer than each rule asks
    rules = keep_last + gfs.keep_daily + gfs.keep_weekly + gfs.keep_monthly + gfs.keep_yearly
    if rules:
        assert len(kept) <= rules
    days = {t.date() for t in times}
    weeks = {t.isocalendar()[:2] for t in times}
    months = {(t.year, t.month) for t in times}
    years = {t.year for t in times}
    assert len(kept) >= max(min(keep_last, len(times)), min(gfs.keep_daily, len(days)),
                            min(gfs.keep_weekly, len(weeks)),
                            min(gfs.keep_monthly, len(months)),
                            min(gfs.keep_yearly, len(years)))
    # every daily reason belongs to the newest point of its day (and so on for the others)
    for d in kept:
        for reason in d.reasons:
            kind = reason.split()[0]
            if kind == "daily":
                assert d.created == max(t for t in times if t.date() == d.created.date())
    # idempotence: applying retention to what it kept keeps all of it, for the same reasons
    again = decide([p for p in points if p.id in {d.id for d in kept}], keep_last, gfs, UTC)
    assert [(d.id, d.reasons) for d in again] == [(d.id, d.reasons) for d in kept]


@settings(max_examples=100, deadline=None)
@given(timelines, timelines, policies)
def test_computers_do_not_affect_one_another(first, second, policy):
    keep_last, gfs = policy
    a, b = points_of(first, "pc1"), points_of(second, "pc2")
    assert kept_ids(a + b, keep_last, gfs) == kept_ids(a, keep_last, gfs) + \
        kept_ids(b, keep_last, gfs)


def test_no_rule_keeps_everything():
    times = [START + timedelta(days=i) for i in range(5)]
    assert all(keep_reasons(times[::-1], 0, GfsRetention()))


# -- the same timestamps through restic -----------------------------------------------
TIMES = [
    "2024-03-02 15:10:00", "2024-03-18 13:34:00", "2024-04-28 15:43:00",
    "2024-06-06 20:58:00", "2024-09-25 01:23:00", "2024-10-24 05:24:00",
    "2024-11-20 08:37:00", "2025-01-06 14:14:00", "2025-01-30 05:49:00",
    "2025-01-30 21:16:00", "2025-02-04 18:46:00", "2025-04-11 14:38:00",
    "2025-08-20 09:01:00", "2025-10-11 09:36:00", "2025-10-27 17:56:00",
    "2025-10-27 19:12:00", "2025-11-11 14:21:00", "2025-11-24 05:13:00",
    "2025-12-01 11:26:00", "2025-12-28 23:30:00", "2025-12-29 00:10:00",
    "2026-01-01 09:00:00", "2026-01-04 23:59:00", "2026-01-05 00:00:01",
    "2026-01-18 06:07:00", "2026-01-24 17:46:00", "2026-03-03 13:58:00",
    "2026-03-14 07:38:00", "2026-04-05 07:08:00", "2026-06-28 11:54:00",
    "2026-08-11 22:55:00", "2026-09-08 18:51:00", "2026-11-27 13:06:00",
    "2026-12-03 14:12:00", "2026-12-31 12:00:00", "2027-01-01 12:00:00",
    "2027-01-03 12:00:00", "2027-01-04 08:00:00", "2027-02-06 19:00:00",
    "2027-02-10 01:00:00", "2027-02-10 04:00:00", "2027-02-10 08:00:00",
    "2027-02-10 21:00:00", "2027-02-25 04:32:00",
]
POLICIES = [
    (1, GfsRetention(keep_daily=7, keep_weekly=4, keep_monthly=12, keep_yearly=3)),
    (3, GfsRetention()),
    (1, GfsRetention(keep_daily=3)),
    (0, GfsRetention(keep_weekly=6)),
    (2, GfsRetention(keep_monthly=5, keep_yearly=2)),
    (4, GfsRetention(keep_daily=10, keep_weekly=10, keep_monthly=10, keep_yearly=10)),
    (0, GfsRetention(keep_yearly=1)),
]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _seal(master: dict, plaintext: bytes) -> bytes:
    """restic's authenticated encryption (AES-256-CTR, Poly1305-AES over the ciphertext):
    IV || ciphertext || MAC, with the repository's master key."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.poly1305 import Poly1305
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(_b64(master["encrypt"])), modes.CTR(iv)).encryptor()
    body = enc.update(plaintext) + enc.finalize()
    nonce_key = Cipher(algorithms.AES(_b64(master["mac"]["k"])), modes.ECB()).encryptor()
    s = nonce_key.update(iv) + nonce_key.finalize()
    return iv + body + Poly1305.generate_tag(_b64(master["mac"]["r"]) + s, body)


@pytest.fixture(scope="module")
def restic_repo(tmp_path_factory) -> dict[str, str]:
    """A restic repository holding one snapshot per time of TIMES (one made by ``restic
    backup --time``; the others its copies with the other times, written as restic writes
    a snapshot: sealed with the master key, named by the hash of what is stored — 44
    backups would take half a minute, the key derivation of each run dominating)."""
    if shutil.which("restic") is None:
        pytest.skip("restic is not installed (bash .ci/setup installs it)")
    root = tmp_path_factory.mktemp("restic")
    (root / "src").mkdir()
    (root / "src" / "f").write_text("x")
    env = {**os.environ, "RESTIC_PASSWORD": "test", "RESTIC_REPOSITORY": str(root / "repo"),
           "TZ": "UTC", "RESTIC_CACHE_DIR": str(root / "cache")}

    def restic(*args: str) -> str:
        return subprocess.run(["restic", "--no-cache", "-q", *args], env=env, check=True,
                              capture_output=True, text=True, timeout=60).stdout

    restic("init")
    restic("backup", "--host", "pc1", "--time", TIMES[-1], str(root / "src"))
    master = json.loads(restic("cat", "masterkey"))
    (first,) = json.loads(restic("snapshots", "--json"))
    for when in TIMES[:-1]:
        snapshot = {k: first[k] for k in ("tree", "paths", "hostname", "username")}
        snapshot["time"] = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        sealed = _seal(master, json.dumps(snapshot).encode())
        (root / "repo" / "snapshots" / hashlib.sha256(sealed).hexdigest()).write_bytes(sealed)
    env["_root"] = str(root)
    return env


def _restic_kept(env: dict[str, str], keep_last: int, gfs: GfsRetention) -> set[datetime]:
    flags: list[str] = []
    for option, n in (("--keep-last", keep_last), ("--keep-daily", gfs.keep_daily),
                      ("--keep-weekly", gfs.keep_weekly), ("--keep-monthly", gfs.keep_monthly),
                      ("--keep-yearly", gfs.keep_yearly)):
        if n:
            flags += [option, str(n)]
    out = subprocess.run(["restic", "--no-cache", "forget", "--dry-run", "--json", *flags],
                         env=env, check=True, capture_output=True, text=True,
                         timeout=60).stdout
    (group,) = json.loads(out)
    return {datetime.fromisoformat(s["time"].replace("Z", "+00:00")) for s in group["keep"]}


def test_restic_holds_every_timestamp(restic_repo):
    out = subprocess.run(["restic", "--no-cache", "snapshots", "--json"], env=restic_repo,
                         check=True, capture_output=True, text=True, timeout=60).stdout
    assert len(json.loads(out)) == len(TIMES)


@pytest.mark.parametrize("keep_last,gfs", POLICIES, ids=lambda v: str(v))
def test_kept_set_matches_restic_forget(restic_repo, keep_last, gfs):
    times = [datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for t in TIMES]
    ours = {d.created for d in decide(points_of(times), keep_last, gfs, UTC) if d.keep}
    assert ours == _restic_kept(restic_repo, keep_last, gfs)
    assert len(ours) < len(times)   # the comparison drops something
