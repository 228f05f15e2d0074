"""The rules by which an SSH computer's agent is given up (issue 19), on an
injected clock: no heartbeat, or heartbeats without progress, for the
allowed silence; never while the server itself holds the agent back, nor
while the agent waits for the server."""
from __future__ import annotations

import pytest

from core.agents.ssh.watchdog import STALL_ENV, Watchdog, heartbeat_every, stall_s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_silence_without_heartbeats_gives_up(clock):
    dog = Watchdog(30, clock)
    clock.now += 30
    assert dog.overdue() is None
    clock.now += 0.1
    assert dog.overdue() == "heartbeat"


def test_heartbeats_with_a_counter_that_stays_are_no_progress(clock):
    dog = Watchdog(30, clock)
    for _ in range(31):
        dog.heartbeat(7, waiting=False)
        clock.now += 1
    assert dog.overdue() == "progress"


def test_a_moving_counter_output_or_waiting_for_the_server_is_progress(clock):
    dog = Watchdog(30, clock)
    for i in range(100):
        dog.heartbeat(i, waiting=False)
        clock.now += 1
    assert dog.overdue() is None
    for _ in range(100):                    # idle: it waits for the server's request
        dog.heartbeat(99, waiting=True)
        clock.now += 1
    assert dog.overdue() is None
    for _ in range(100):                    # blocked writing on a slow link: data arrives
        dog.heartbeat(99, waiting=False)
        dog.output()
        clock.now += 1
    assert dog.overdue() is None


def test_time_the_server_holds_the_agent_back_does_not_count(clock):
    dog = Watchdog(30, clock)
    dog.pause()
    clock.now += 300
    assert dog.overdue() is None
    dog.resume()
    clock.now += 29
    assert dog.overdue() is None
    clock.now += 2
    assert dog.overdue() == "heartbeat"


def test_the_setting(monkeypatch):
    monkeypatch.delenv(STALL_ENV, raising=False)
    assert stall_s() == 30 and heartbeat_every(30) == 5
    monkeypatch.setenv(STALL_ENV, "2.5")
    assert stall_s() == 2.5 and heartbeat_every(2.5) == pytest.approx(2.5 / 6)
    for bad in ("soon", "0", "-1"):
        monkeypatch.setenv(STALL_ENV, bad)
        assert stall_s() == 30
