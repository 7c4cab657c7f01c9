"""Background work on the job engine (``daemon.engine = "dbos"``, :mod:`pes_sdk_runner.jobs`).

Real processes: ``pes runner serve`` on a SQLite file does everything in one process (a
second one is refused by the store's lease); two ``pes runner worker`` processes on one
PostgreSQL store close each partner-day exactly once; a worker SIGKILLed in the middle of
a close is recovered by its restart (same ``--id``), the day closed once, the registry
byte-identical to a re-close. PostgreSQL: a scratch schema per test on the machine's server
(the engine's tables in ``<schema>_jobs`` beside it), dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from example_inputs import TEPLOSET, UK_DOM, local, pay_basket
from pes_sdk_runner.config import RunnerConfig, parse_runner_config
from pes_sdk_runner.jobs import queue_status, system_database
from pes_sdk_runner.jobs.common import slot_id
from pes_sdk_runner.jobs.tick import cron
from pes_sdk_runner.store import SqlStore, open_store
from runner_proc import (
    ENV,
    config_of,
    pes_runner,
    serving,
    spawn,
    terminate,
    workers,
    write_config,
)

#: The engine's settings of these tests: a tick a second, a scan (and a plan) every two.
FAST = {"tick = 10 ": "tick = 1 "}  # the engine is the default
DAEMON = "scan_interval = 2\nclose_grace = 0\nfile_min_age = 0"
#: How long a test waits for the workers to get somewhere before it gives up.
PATIENCE = 90.0
DAYS = 3


# pg_url: a fresh PostgreSQL schema (runner/tests/conftest.py)


def _config(tmp_path: Path, store_url: str | None) -> tuple[Path, RunnerConfig]:
    path = write_config(tmp_path, store_url, FAST, daemon=DAEMON)
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return path, config


def _paid_days(store: SqlStore, config: RunnerConfig) -> list[dt.date]:
    """Payments to УК Дом and Теплосеть on each of the last DAYS days (real clock: the
    engine's tick is the real time; the days are within daemon.catch_up_days)."""
    store.upsert_partners(p.partner for p in config.partners)
    today = dt.datetime.now(config.service.time_zone).date()
    days = [today - dt.timedelta(days=k) for k in range(DAYS, 0, -1)]
    for day in days:
        pay_basket(store, UK_DOM, local(config, day, 12), "100.00")
        pay_basket(store, TEPLOSET, local(config, day, 13), "50.00", account="200")
    return days


def _registries(store: SqlStore, inn: str) -> list[tuple[dt.date, int]]:
    return sorted((r.day, r.number) for r in store.payment_registries(inn))


def _wait_closed(store: SqlStore, days: Sequence[dt.date], *procs: subprocess.Popen[str]) -> None:
    """Until both partners have a registry of each day (the processes must live)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        closed = {inn: {d for d, _ in _registries(store, inn)} for inn in (UK_DOM, TEPLOSET)}
        if all(set(days) <= got for got in closed.values()):
            return
        for p in procs:
            assert p.poll() is None, f"a process ended ({p.returncode}) before the closes"
        assert time.monotonic() < deadline, f"the days were not closed: {closed}"
        time.sleep(0.5)


def _events(folder: Path, name: str) -> list[dict[str, object]]:
    found = []
    for log in sorted(folder.glob("*.log")):
        for line in log.read_text(encoding="utf-8").splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:  # the last line of a running process, half written
                continue
            if record.get("event") == name:
                found.append(record)
    return found


def _gapless(store: SqlStore, days: Sequence[dt.date]) -> None:
    for inn in (UK_DOM, TEPLOSET):
        got = _registries(store, inn)
        assert [d for d, _ in got] == list(days), inn
        assert [n for _, n in got] == list(range(1, len(days) + 1)), inn


# -- the set-up ----------------------------------------------------------------------------


def test_the_system_database_sits_beside_the_store(tmp_path: Path) -> None:
    _, config = _config(tmp_path, None)
    system = system_database(config)
    assert config.store.sqlite_path is not None
    assert system.url == f"sqlite:///{config.store.sqlite_path}.jobs" and system.schema is None
    pg = config_of(write_config(tmp_path / "a", "postgresql://u@db.example:5432/pes"))
    # The store's connect timeout, stated for the engine's connections too (or the URL's).
    url = "postgresql+psycopg://u@db.example:5432/pes?connect_timeout=10"
    assert system_database(pg).url == url
    own = config_of(write_config(tmp_path / "c", "postgresql://u@db.example/pes?connect_timeout=3"))
    assert system_database(own).url == "postgresql+psycopg://u@db.example/pes?connect_timeout=3"
    assert system_database(pg).schema == "pes_jobs"
    scratch = "postgresql://u@h/pes?options=" + quote("-csearch_path=t_1,public")
    one = config_of(write_config(tmp_path / "b", scratch))
    assert system_database(one).schema == "t_1_jobs"  # a scratch schema: an engine of its own


def test_the_queues_of_an_engine_never_launched_are_unavailable_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    _, config = _config(tmp_path, None)
    status = queue_status(config)
    assert not status.available and status.depth == 0 and status.failed == 0
    assert config.store.sqlite_path is not None
    assert not Path(f"{config.store.sqlite_path}.jobs").exists()


def test_the_tick_is_a_cron_of_whole_seconds_and_one_run_per_interval() -> None:
    assert cron(10) == "*/10 * * * * *" and cron(60) == "0 * * * * *"
    with pytest.raises(ValueError, match="divide 60"):
        cron(7)
    at = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.UTC)
    assert slot_id("scan", 60, at) == slot_id("scan", 60, at + dt.timedelta(seconds=59))
    assert slot_id("scan", 60, at) != slot_id("scan", 60, at + dt.timedelta(seconds=60))


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('engine = "celery"', 'daemon.engine: is "thread" or "dbos"'),
        ("tick = 7", "daemon.tick: is a whole number of seconds that divides 60"),
        ("close_concurrency = 0", "daemon.close_concurrency"),
    ],
)
def test_engine_settings_out_of_range_are_refused_naming_the_key(
    tmp_path: Path, line: str, says: str
) -> None:
    from pes_sdk_runner.config import RunnerConfigError, example_config_path

    key = line.split(" = ")[0]
    text = "\n".join(
        line if raw.startswith(f"{key} = ") else raw
        for raw in example_config_path().read_text(encoding="utf-8").splitlines()
    )
    with pytest.raises(RunnerConfigError) as caught:
        parse_runner_config(text, base=tmp_path, env=ENV)
    assert any(says in str(p) for p in caught.value.problems), caught.value.problems


# -- SQLite: one process ---------------------------------------------------------------------


def test_a_worker_on_a_sqlite_store_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path, _ = _config(tmp_path, None)
    done = pes_runner(["worker", "--config", str(path)])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "`pes runner worker` needs a PostgreSQL store" in done.stderr
    assert "one `pes runner serve` does all the background work" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_sqlite_closes_the_days_on_the_engine_and_a_second_one_is_refused(
    tmp_path: Path,
) -> None:
    path, config = _config(tmp_path, None)
    store = open_store(config.store.url)
    try:
        days = _paid_days(store, config)
        with serving(path, tmp_path / "a.log") as a:
            _wait_closed(store, days, a.proc)
            # One serve per SQLite store: the second, background work on, is refused.
            second = pes_runner(["serve", "--config", str(path), "--port", "0"])
            assert second.returncode == 1, second.stdout + second.stderr
            assert "another scheduler runs on this store" in second.stderr
            assert f"pid {a.proc.pid} " in second.stderr
            out, _ = a.stop()
        assert "background work on the job engine" in out
        _gapless(store, days)
        status = queue_status(config)
        assert status.available and status.failed == 0
    finally:
        store.close()
    import sqlite3

    with sqlite3.connect(f"{config.store.sqlite_path}.jobs") as db:
        closes = dict(
            db.execute(
                "SELECT workflow_uuid, status FROM workflow_status"
                " WHERE workflow_uuid LIKE 'close:%'"
            ).fetchall()
        )
    for day in days:
        assert closes[f"close:{UK_DOM}:{day.isoformat()}"] == "SUCCESS"


def test_serve_on_sqlite_killed_mid_close_finishes_the_day_at_its_restart_once_byte_for_byte(
    tmp_path: Path,
) -> None:
    # The embedded default: one serve, the engine's tables in a SQLite file beside the store.
    path, config = _config(tmp_path, None)
    store = open_store(config.store.url)
    try:
        days = _paid_days(store, config)
        with serving(path, tmp_path / "a.log", crash_at="close.registry-written") as a:
            a.proc.wait(timeout=PATIENCE)
        assert a.proc.returncode == -signal.SIGKILL  # died with a registry file written
        # Restarted on another port: the same executor id, so its close is taken back at
        # launch (the dead process's leases are seen dead, not waited out).
        with serving(path, tmp_path / "b.log") as b:
            _wait_closed(store, days, b.proc)
            b.stop()
        _gapless(store, days)
        closed = Counter(
            (str(e["partner"]), str(e["day"]))
            for e in _events(tmp_path, "daemon.day_closed")
            if e["new"]
        )
        assert set(closed.values()) == {1}, closed
        assert config.store.sqlite_path is not None
        db = config.store.sqlite_path.name  # the store and the engine's file are there too
        outbox = sorted(config.service.data.rglob("*"))
        files = {
            p: p.read_bytes()
            for p in outbox
            if p.is_file() and "processed" not in p.parts and not p.name.startswith(db)
        }
        assert files, "no registry file was written"
        for day in days:
            again = pes_runner(["close-day", "--config", str(path), "--date", day.isoformat()])
            assert again.returncode == 0, again.stdout + again.stderr
        _gapless(store, days)
        assert {p: p.read_bytes() for p in files} == files
    finally:
        store.close()


# -- PostgreSQL: a fleet ------------------------------------------------------------------------


def test_a_worker_needs_the_engine_set_in_the_configuration(tmp_path: Path, pg_url: str) -> None:
    path = write_config(tmp_path, pg_url, daemon=DAEMON + '\nengine = "thread"')
    done = pes_runner(["worker", "--config", str(path)])
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'set daemon.engine = "dbos"' in done.stderr and "Traceback" not in done.stderr


def test_two_workers_close_each_partner_day_exactly_once(tmp_path: Path, pg_url: str) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        days = _paid_days(store, config)
        with workers(path, tmp_path, "w1", "w2") as procs:
            _wait_closed(store, days, *procs)
            time.sleep(3)  # a few more ticks: nothing is closed again
        for p in procs:
            assert p.returncode == 0  # SIGTERM: a clean stop
        _gapless(store, days)
        closed = Counter(
            (str(e["partner"]), str(e["day"]))
            for e in _events(tmp_path, "daemon.day_closed")
            if e["new"]
        )
        expected = {(inn, d.isoformat()) for inn in (UK_DOM, TEPLOSET) for d in days}
        assert set(closed) == expected and set(closed.values()) == {1}, closed
        status = queue_status(config)
        assert status.available and status.failed == 0
    finally:
        store.close()


def test_a_worker_exports_its_metrics_when_asked_counted_by_its_stages(
    tmp_path: Path, pg_url: str
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    args = ["worker", "--config", str(path), "--id", "w1", "--metrics-port", "0"]
    proc = spawn(args, tmp_path / "w1.log", stdout=subprocess.PIPE)
    try:
        days = _paid_days(store, config)
        assert proc.stdout is not None
        line = ""
        while "/metrics" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "the worker ended before serving its metrics"
        url = line.split(" on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        _wait_closed(store, days, proc)
        # Counted by the close steps of this worker, as the scheduler thread counted its own
        # (a step counts just after its registry is in the store: scraped until then).
        wanted = [
            f'pes_daemon_days_closed_total{{partner="{inn}"}} {DAYS}.0'
            for inn in (UK_DOM, TEPLOSET)
        ]
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(url, timeout=10) as answer:
                scraped = answer.read().decode()
            if all(w in scraped for w in wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert all(w in scraped for w in wanted), [x for x in scraped.splitlines() if "closed" in x]
        assert "pes_fleet_up 1.0" in scraped  # the fleet's facts too, read at the scrape
    finally:
        terminate(proc)
        store.close()


@pytest.mark.parametrize(
    "after",
    [["w1"], ["w2", "--take-over", "w1"], ["w2"]],
    ids=["restarted-under-its-id", "taken-over-when-told", "recovered-by-another-on-its-own"],
)
def test_a_worker_killed_mid_close_is_recovered_the_day_closed_once_byte_for_byte(
    tmp_path: Path, pg_url: str, after: list[str]
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        days = _paid_days(store, config)
        with workers(path, tmp_path, "w1", crash_at="close.registry-written") as procs:
            procs[0].wait(timeout=PATIENCE)
        assert procs[0].returncode == -signal.SIGKILL  # died with the registry file written
        # Its own restart takes its work back; or another worker, told it is gone for good or
        # finding no live process holding its id's lease.
        with workers(path, tmp_path, *after[:1], more=after[1:]) as procs:
            _wait_closed(store, days, *procs)
        _gapless(store, days)
        closed = Counter(
            (str(e["partner"]), str(e["day"]))
            for e in _events(tmp_path, "daemon.day_closed")
            if e["new"]
        )
        assert set(closed.values()) == {1}, closed
        outbox = sorted(config.service.data.rglob("*"))
        files = {p: p.read_bytes() for p in outbox if p.is_file() and "processed" not in p.parts}
        # A re-close by hand of every day (every partner): the same numbers, the same bytes.
        for day in days:
            again = pes_runner(["close-day", "--config", str(path), "--date", day.isoformat()])
            assert again.returncode == 0, again.stdout + again.stderr
        _gapless(store, days)
        assert {p: p.read_bytes() for p in files} == files
    finally:
        store.close()


def test_serve_on_postgresql_takes_part_beside_a_worker_and_without_it_with_no_daemon(
    tmp_path: Path, pg_url: str
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        days = _paid_days(store, config)
        with (
            serving(path, tmp_path / "serve.log") as api,
            serving(path, tmp_path / "api-only.log", "--no-daemon") as api_only,
            workers(path, tmp_path, "w1") as procs,
        ):
            _wait_closed(store, days, api.proc, api_only.proc, *procs)
            out, _ = api.stop()
            only, _ = api_only.stop()
        assert "background work on the job engine" in out  # no lease on PostgreSQL
        assert "background work" not in only
        _gapless(store, days)
        closed = Counter(
            (str(e["partner"]), str(e["day"]))
            for e in _events(tmp_path, "daemon.day_closed")
            if e["new"]
        )
        assert set(closed.values()) == {1}, closed
    finally:
        store.close()


def test_one_process_per_executor_id_and_no_take_over_of_a_live_one(
    tmp_path: Path, pg_url: str
) -> None:
    path, config = _config(tmp_path, pg_url)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        with workers(path, tmp_path, "w1") as procs:
            deadline = time.monotonic() + PATIENCE
            while not _events(tmp_path, "jobs.started"):  # its lease taken, the engine up
                assert procs[0].poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            assert store.lease("jobs:w1") is not None
            # Two processes under one id would each take the other's running work back.
            twin = pes_runner(["worker", "--config", str(path), "--id", "w1"])
            assert twin.returncode == 1, twin.stdout + twin.stderr
            assert "another process runs as w1" in twin.stderr
            assert f"pid {procs[0].pid} " in twin.stderr and "Traceback" not in twin.stderr
            grab = pes_runner(["worker", "--config", str(path), "--id", "w2", "--take-over", "w1"])
            assert grab.returncode == 1, grab.stdout + grab.stderr
            assert "--take-over w1: that process still runs" in grab.stderr
            assert procs[0].poll() is None  # the first one was not disturbed
        assert procs[0].returncode == 0
        assert store.lease("jobs:w1") is None  # given up at a clean stop
    finally:
        store.close()


def test_finished_workflows_are_deleted_once_past_the_retention(tmp_path: Path) -> None:
    """In this process (one engine at a time): a tick, then housekeeping as at +1 and +30 days."""
    from dbos import DBOS
    from pes_sdk_runner.jobs import launch
    from pes_sdk_runner.jobs.tick import housekeeping_step, tick_workflow

    from pes_sdk.plugins.manager import get_host

    _, config = _config(tmp_path, None)
    store = open_store(config.store.url)
    store.upsert_partners(p.partner for p in config.partners)
    store.close()
    engine = launch(config, get_host(), executor_id="housekeeping-test")
    try:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        tick_workflow(now, None)  # runs here; queues the periodic stages
        deadline = time.monotonic() + PATIENCE
        # (the schedule's own ticks come and go meanwhile: only the scan is waited for)
        while not DBOS.list_workflows(
            workflow_id_prefix="scan:", status="SUCCESS", load_input=False
        ):
            assert time.monotonic() < deadline, "the queued scan never ran"
            time.sleep(0.2)
        done = {w.workflow_id for w in DBOS.list_workflows(status="SUCCESS", load_input=False)}
        assert any(i.startswith("scan:") for i in done) and len(done) >= 2
        assert housekeeping_step((now + dt.timedelta(days=1)).isoformat()) == 0  # too recent
        # (the schedule's ticks go on meanwhile: more may have ended since)
        gone = housekeeping_step((now + dt.timedelta(days=30)).isoformat())
        assert gone >= len(done)
        left = {w.workflow_id for w in DBOS.list_workflows(load_input=False)}
        assert not done & left
    finally:
        engine.shutdown()
    assert engine.lease is not None
    check = open_store(config.store.url)
    try:
        assert check.lease("jobs:housekeeping-test") is None  # given up at shutdown
    finally:
        check.close()
