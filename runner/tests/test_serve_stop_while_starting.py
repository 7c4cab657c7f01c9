"""A stop (SIGTERM, Ctrl-C) that comes while ``pes runner serve`` or ``worker`` is starting.

A service manager stops a process whenever it likes: just after starting it, too. Such a
stop must end the process as one after the start does: exit 0, no traceback, and nothing
half done that the next start cannot take up. Before, SIGTERM during the migrations
killed the process (SIGTERM's default action) and one during the engine's launch ended it
with "Aborted!" (exit 1), the scheduler's lease held until its time ran out.

The real processes; the migrations are held at a known point by the test holding the
migrator's lock on the real PostgreSQL server (seen waiting in ``pg_locks``).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from runner_proc import TIMEOUT, serving, spawn, wait_started, worker, write_config

MIGRATION_LOCK = "pes_sdk_runner.schema_migrations"  # store/migrate.py's key


def _named(url: str, name: str) -> str:
    """``url`` with its connections named ``name`` in ``pg_stat_activity``."""
    return f"{url}&application_name={quote(name)}"


@contextmanager
def _migrations_held(url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """The migrator's lock, taken and held by the test until the block ends.

    The lock is the whole database's: a migration of another test on the same server waits
    for it too, the second or so the process takes to reach it."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (MIGRATION_LOCK,))
        try:
            yield conn
        finally:
            conn.rollback()


def _wait_for_the_lock(url: str, name: str, proc: subprocess.Popen[str]) -> None:
    """Until a connection named ``name`` waits for an advisory lock (the migrator's)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        with psycopg.connect(url, autocommit=True) as look:
            waiting = look.execute(
                "SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid"
                " WHERE a.application_name = %s AND l.locktype = 'advisory' AND NOT l.granted",
                (name,),
            ).fetchone()
        if waiting is not None:
            return
        assert proc.poll() is None, f"ended ({proc.returncode}) before it migrated"
        assert time.monotonic() < deadline, "it never waited for the migrations' lock"
        time.sleep(0.05)


def _ended(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise
    return out


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_stop_during_the_migrations_ends_cleanly_and_a_restart_serves(
    tmp_path: Path, pg_url: str, command: str, stop: signal.Signals
) -> None:
    name = f"pes-start-{uuid.uuid4().hex[:12]}"
    path = write_config(tmp_path, _named(pg_url, name))
    log = tmp_path / f"{command}.log"
    more = ("--port", "0") if command == "serve" else ("--id", "w1")
    with _migrations_held(pg_url) as held:
        proc = spawn([command, "--config", str(path), *more], log, stdout=subprocess.PIPE)
        try:
            _wait_for_the_lock(pg_url, name, proc)
            proc.send_signal(stop)
        finally:
            held.rollback()  # the migrations go on: the stop waits for them
        out = _ended(proc)
    err = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert "pes runner: stopped" in out
    assert "serving on" not in out  # stopped before it served

    # Nothing half done: the next start migrates what is left (nothing) and runs.
    if command == "serve":
        with serving(path, tmp_path / "again.log") as served:
            assert served.health()["status"] == "ok"
            out, err = served.stop()
        assert served.proc.returncode == 0, err
    else:
        with worker(path, tmp_path, "w1") as again:
            wait_started(tmp_path, "w1", again, patience=TIMEOUT)
        assert again.returncode == 0


def test_a_stop_as_serve_launches_its_engine_ends_cleanly_and_a_restart_serves(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path)
    log = tmp_path / "serve.log"
    proc = spawn(["serve", "--config", str(path), "--port", "0"], log, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed just before the engine is launched
    assert re.search(r"serving on http://", first), first + log.read_text(encoding="utf-8")
    proc.send_signal(signal.SIGTERM)
    out = _ended(proc)
    err = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert "pes runner: stopped" in out

    # Nothing half done: the scheduler's lease of the SQLite store was given back, so the
    # next start runs at once instead of being refused until the lease runs out.
    with serving(path, tmp_path / "again.log") as served:
        assert served.health()["status"] == "ok"
        out, err = served.stop()
    assert served.proc.returncode == 0, err
