"""The production-pressure governor on an injected source, clock and wait: it halves on
pressure, holds while it stays high, ramps back by 1/16 of the maximum per calm interval,
never goes below 1 MiB/s, and does nothing without PSI."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.agents.ssh.agent_src.backup_agent import governor as gov
from core.agents.ssh.agent_src.backup_agent.governor import FLOOR_BPS, Governor, PsiSource

MiB = 1 << 20


class World:
    """A clock that moves only when waited on (or told), and PSI totals that grow by
    ``pct`` % of the time that passes."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pct = {"io": 0.0, "cpu": 0.0}
        self.totals = {"io": 0, "cpu": 0}
        self.waits: list[float] = []
        self.cancelled = False

    def clock(self) -> float:
        return self.now

    def advance(self, dt: float) -> None:
        for k in self.totals:
            self.totals[k] += int(dt * 1e6 * self.pct[k] / 100)
        self.now += dt

    def wait(self, dt: float) -> bool:
        self.waits.append(dt)
        self.advance(dt)
        return self.cancelled

    def source(self) -> dict[str, int]:
        return dict(self.totals)

    def governor(self, threshold: int = 20, max_bps: float | None = None) -> Governor:
        return Governor(threshold, max_bps, source=self.source, clock=self.clock,
                        wait=self.wait)

    def read(self, g: Governor, n: int, dt: float) -> None:
        """A read of ``n`` bytes that took ``dt`` seconds, then the governor's say."""
        self.advance(dt)
        g.consume(n)


def test_calm_never_waits_and_stays_unlimited() -> None:
    w = World()
    g = w.governor()
    for _ in range(50):
        w.read(g, MiB, 0.1)   # 10 MiB/s, no pressure
    assert g.rate is None and w.waits == [] and g.held_s == 0 and g.why == ""


def test_pressure_halves_and_holds_while_high_then_resumes() -> None:
    w = World()
    g = w.governor(threshold=20, max_bps=64 * MiB)
    w.read(g, 1 * MiB, 0.5)   # a calm interval
    w.pct["io"] = 43.0
    holds: list[tuple[str, float]] = []
    g.on_hold = lambda res, pct: holds.append((res, pct))
    # the pressure falls after 3 s held (six intervals)
    original = w.wait

    def wait(dt: float) -> bool:
        if w.now >= 4.0:
            w.pct["io"] = 5.0
        return original(dt)
    g.wait = wait
    w.read(g, 1 * MiB, 0.5)   # an interval passed: pressure seen, held
    assert holds == [("io", pytest.approx(43.0, abs=0.5))]
    assert g.held_s == pytest.approx(3.0 + gov.INTERVAL_S, abs=0.01)   # calm from t=4
    assert g.why == "io pressure 43 % > 20 %"
    # halved on the first interval and each interval held: 64 -> 32 -> ... floor-bounded
    assert FLOOR_BPS <= g.rate < 64 * MiB / 2  # type: ignore[operator]


def test_floor_is_one_mib_per_second() -> None:
    w = World()
    g = w.governor(max_bps=8 * MiB)
    w.pct["cpu"] = 90.0

    def wait(dt: float) -> bool:
        if w.now > 20:
            w.pct["cpu"] = 0.0
        w.advance(dt)
        return False
    g.wait = wait
    w.read(g, MiB, 0.5)
    assert g.rate == FLOOR_BPS and g.why.startswith("cpu pressure 90 %")


def test_ramps_back_by_a_sixteenth_per_calm_interval() -> None:
    w = World()
    g = w.governor(max_bps=32 * MiB)
    w.pct["io"] = 50.0
    state = {"n": 0}

    def wait(dt: float) -> bool:
        state["n"] += 1
        if state["n"] == 1:          # calm after one interval held
            w.pct["io"] = 0.0
        w.advance(dt)
        return False
    g.wait = wait
    w.read(g, MiB, 0.5)
    assert g.rate == 16 * MiB       # halved once
    rates = []
    for _ in range(10):
        w.read(g, MiB, 0.5)          # reads keep well under the rate: only the ramp
        rates.append(g.rate)
    assert rates[:3] == [18 * MiB, 20 * MiB, 22 * MiB]
    assert rates[-1] == 32 * MiB    # back at the job's limit, never past it


def test_unlimited_ramps_back_to_full_speed() -> None:
    w = World()
    g = w.governor()
    for _ in range(5):
        w.read(g, 50 * MiB, 0.5)     # 100 MiB/s measured
    w.pct["io"] = 80.0

    def wait(dt: float) -> bool:
        w.pct["io"] = 0.0
        w.advance(dt)
        return False
    g.wait = wait
    w.read(g, 50 * MiB, 0.5)
    assert g.rate == pytest.approx(50 * MiB, rel=0.01)
    for _ in range(20):
        w.read(g, MiB, 0.5)
    assert g.rate is None            # full speed again


def test_lowered_rate_paces_reads() -> None:
    w = World()
    g = w.governor(max_bps=100 * MiB)
    g.rate = 2 * MiB
    w.read(g, 2 * MiB, 0.0)
    assert w.waits and sum(w.waits) == pytest.approx(1.0 - gov.BURST_S, abs=0.01)
    assert g.slowed_s == pytest.approx(sum(w.waits))


def test_cancel_while_held_returns_at_once() -> None:
    w = World()
    g = w.governor()
    w.pct["io"] = 100.0
    w.cancelled = True
    w.read(g, MiB, 0.5)
    assert w.waits == [gov.INTERVAL_S]   # one wait, then back to the caller


def test_no_psi_is_full_speed(tmp_path: Path) -> None:
    g = Governor(20, None, source=PsiSource(str(tmp_path / "none")).totals)
    assert not g.available
    g.consume(1 << 30)
    assert g.rate is None and g.figures()["psi"] is False


def test_psi_format_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "io").write_text("some avg10=1.00 avg60=0.50 avg300=0.10 total=123456\n"
                                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=99\n")
    (tmp_path / "cpu").write_text("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n")
    monkeypatch.setenv(gov.PSI_ENV, str(tmp_path))
    assert PsiSource().totals() == {"io": 123456, "cpu": 42}


def test_real_psi_reads_when_the_kernel_has_it() -> None:
    if not Path("/proc/pressure/io").exists():
        pytest.skip("this kernel (or container) shows no PSI")
    totals = PsiSource("/proc/pressure").totals()
    assert totals is not None and set(totals) == {"io", "cpu"}
