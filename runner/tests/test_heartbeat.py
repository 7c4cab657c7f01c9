"""Heartbeats: each runner process's row in the store (pes_sdk_runner.heartbeat).

On both stores (a SQLite file, a fresh PostgreSQL schema): the rows themselves, the
:class:`Heartbeat` context manager with a clock the test moves, and real ``pes runner serve``
processes: listed while they run, gone after a clean stop, left behind (and seen as dead
once their beat is old) after SIGKILL.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
from pathlib import Path

import pytest
from pes_sdk_runner import heartbeat
from pes_sdk_runner.heartbeat import (
    ALIVE_FOR,
    FORGET_AFTER,
    Heartbeat,
    fleet,
    runner_version,
)
from pes_sdk_runner.store import ProcessBeat, SqlStore, open_store
from runner_proc import config_of, serving, write_config

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves (aware UTC)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _row(pid: int, beat: dt.datetime, role: str = "worker") -> ProcessBeat:
    return ProcessBeat(f"p{pid}", role, "host-a", pid, "0.1.0", T0, beat)


def test_rows_are_written_renewed_listed_ended_and_forgotten(store: SqlStore) -> None:
    store.beat(_row(1, T0))
    store.beat(_row(2, T0, role="serve"))
    renewed = _row(1, T0 + dt.timedelta(seconds=5))
    store.beat(renewed)
    assert store.processes() == [_row(2, T0, role="serve"), renewed]  # by role, then start
    store.end_process("p2")
    assert store.processes() == [renewed]
    store.beat(_row(3, T0 - dt.timedelta(days=2)))
    assert store.forget_processes(T0 - dt.timedelta(days=1)) == 1
    assert [p.id for p in store.processes()] == ["p1"]


def test_a_heartbeat_writes_its_row_renews_it_and_removes_it_on_leaving(
    store: SqlStore,
) -> None:
    clock = Clock()
    # every: far longer than the test, so that only the beats the test makes happen
    with Heartbeat(store, "worker", every=3600, clock=clock) as hb:
        (row,) = store.processes()
        assert (row.role, row.host, row.pid) == ("worker", socket.gethostname(), os.getpid())
        assert row.id == hb.id and row.version == runner_version()
        assert row.started_at == row.beat_at == T0
        clock.now = T0 + dt.timedelta(seconds=5)
        assert hb.beat()
        (row,) = store.processes()
        assert (row.started_at, row.beat_at) == (T0, T0 + dt.timedelta(seconds=5))
    assert store.processes() == []


def test_the_first_beat_forgets_the_long_dead_and_keeps_the_recently_dead(
    store: SqlStore,
) -> None:
    store.beat(_row(7, T0 - FORGET_AFTER - dt.timedelta(seconds=1)))
    store.beat(_row(8, T0 - FORGET_AFTER + dt.timedelta(minutes=1)))
    with Heartbeat(store, "serve", every=3600, clock=Clock()) as hb:
        assert {p.id for p in store.processes()} == {"p8", hb.id}


def test_a_beat_the_store_refuses_is_told_and_the_next_one_reconnects(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with Heartbeat(store, "worker", every=3600, clock=clock) as hb:
        broken = hb._connection()  # the heartbeat's own connection, failing under it

        def refuse(process: ProcessBeat) -> None:
            raise OSError("the store is away")

        monkeypatch.setattr(broken, "beat", refuse)
        clock.now = T0 + dt.timedelta(seconds=5)
        assert not hb.beat()
        assert '"event": "heartbeat.failed"' in caplog.text and "OSError" in caplog.text
        clock.now = T0 + dt.timedelta(seconds=10)
        assert hb.beat()
        assert hb._connection() is not broken  # a new connection, not the failing one
        (row,) = store.processes()
        assert (row.id, row.beat_at) == (hb.id, T0 + dt.timedelta(seconds=10))


def test_a_beat_stuck_on_the_database_does_not_hold_the_stop_up(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "_STOP_WAIT", 0.2)
    release = threading.Event()
    calls = 0

    def clock() -> dt.datetime:
        # The third reading is the beat thread's: it hangs there as on a server that never
        # answers (the first two: the start and the beat on entering).
        nonlocal calls
        calls += 1
        if calls == 3:
            release.wait(30)
        return T0

    hb = Heartbeat(store, "serve", every=0.01, clock=clock)
    hb.__enter__()
    while calls < 3:
        threading.Event().wait(0.01)
    leaving = threading.Thread(target=hb.__exit__, args=(None, None, None))
    leaving.start()
    leaving.join(10)
    try:
        assert not leaving.is_alive()  # the stop went on without the stuck beat
        assert [p.id for p in store.processes()] == [hb.id]  # its row is left to age out
    finally:
        release.set()
        leaving.join(10)


def test_only_the_two_roles_are_taken(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="role: 'scheduler' is not one of serve, worker"):
        Heartbeat(store, "scheduler")
    with pytest.raises(ValueError, match="every"):
        Heartbeat(store, "serve", every=0)


def test_a_process_is_alive_while_it_beats_and_dead_once_it_stopped_beating() -> None:
    rows = [
        _row(1, T0 - ALIVE_FOR - dt.timedelta(seconds=1)),
        _row(2, T0 - ALIVE_FOR, role="serve"),
        _row(3, T0 + dt.timedelta(seconds=3)),  # another host's clock ahead
    ]
    seen = fleet(rows, T0)
    assert [(s.process.pid, s.alive) for s in seen] == [(2, True), (3, True), (1, False)]
    assert seen[1].silent_for == dt.timedelta(0)
    assert seen[2].silent_for == ALIVE_FOR + dt.timedelta(seconds=1)


# -- real processes ----------------------------------------------------------------------------


def test_serve_is_listed_while_it_runs_gone_after_a_stop_and_left_dead_after_sigkill(
    store_url: str, tmp_path: Path
) -> None:
    path = write_config(tmp_path, store_url, daemon="enabled = false")
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        with serving(path, tmp_path / "a.log") as a, serving(path, tmp_path / "b.log") as b:
            rows = {p.pid: p for p in store.processes()}
            assert set(rows) == {a.proc.pid, b.proc.pid}
            assert {p.role for p in rows.values()} == {"serve"}
            assert len({p.id for p in rows.values()}) == 2
            out, log = a.stop()  # SIGTERM: a clean stop deletes its row
            assert "stopped" in out, log
            assert [p.pid for p in store.processes()] == [b.proc.pid]
            b.stop(signal.SIGKILL)
        (left,) = store.processes()  # the killed one's row stays behind, no longer renewed
        assert left.pid == b.proc.pid
        (still,) = fleet([left], left.beat_at + ALIVE_FOR)
        (dead,) = fleet([left], left.beat_at + ALIVE_FOR + dt.timedelta(seconds=1))
        assert still.alive and not dead.alive
    finally:
        store.close()
