"""Benchmark (not a test): DBOS Transact as the runner's durable job engine (issue 16).

The figures of docs/decisions/0001-job-engine.md. Each is printed beside a baseline
measured in the same run, on the same database:

* **overhead**: per workflow and per step, on a SQLite system database (DBOS's default
  rollback journal, and the same file switched to WAL) and on PostgreSQL. Baselines: a
  plain function call, and one plain transaction (an INSERT and its commit) on the same
  kind of database, opened as the runner's store opens it (SQLite: WAL,
  ``synchronous=FULL``). A workflow of one step doing that transaction is set against it.
  Four threads starting workflows at once show the rate a threaded server would get.
* **fan-out**: 300 partner closes (one small transaction each: the close's row, unique on
  partner and day) enqueued on a queue with the workflow id ``close:<ИНН>:<day>``, run by
  two worker processes on PostgreSQL (the queue's defaults; ``worker_concurrency=8`` and a
  0.1 s poll; the same with all 300 enqueued in one transaction), and by the one process of
  the embedded SQLite case (system database in DBOS's default journal, and in WAL). Then the
  same 300 enqueued again: nothing runs twice. Baseline: the 300 transactions in a loop in
  one process.
* **recovery**: a workflow (step 1; a slow step 2 that records each attempt; step 3) whose
  process is SIGKILLed inside step 2; then the same executor id restarted (SQLite and
  PostgreSQL) or another process recovering the dead executor's workflows (PostgreSQL).
  Printed: seconds from the kill to the workflow's end, and how often each step ran (the
  killed step runs again: steps are at-least-once).
* **schedule**: two processes apply the same 2-second schedule (as every process of a fleet
  does at start) and run its ticks for 12 s: each tick runs once, whoever fires it.
* **start-up**: ``import dbos`` and ``DBOS.launch()`` against ``import pes_sdk_runner.api``.
* **procrastinate** (if installed; PostgreSQL only): the same 300 closes as jobs, two
  worker processes (concurrency 8 each, LISTEN/NOTIFY), and the same 300 deferred again
  with a queueing lock each, for comparison.

DBOS holds one instance per process (a module-level singleton), so every configuration
runs in a subprocess of its own: this file runs itself with ``child ...``. PostgreSQL
figures use a scratch database (``pes_bench_jobs_<pid>``), dropped afterwards; ``--postgres``
names the server (a URL on which this role may CREATE DATABASE).

    .venv/bin/python runner/benchmarks/job_engine.py [--quick] [--only overhead,fanout,...]
        [--dir DIR] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, SetWorkflowID

ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
#: The scratch database of this run (its pid: two runs at once must not drop each other's).
SCRATCH = f"pes_bench_jobs_{os.getpid()}"
APP_NAME = "pes-bench-jobs"
QUEUE = "closes"
DAY = "2026-11-26"
SECTIONS = ("overhead", "fanout", "recovery", "schedule", "startup", "procrastinate")


# -- the application database the steps write to ------------------------------------------


class AppDb:
    """The tables the steps write to: one transaction per call, on at most ``size``
    connections shared by the threads (the machine's PostgreSQL takes 100 clients in all,
    and a queue without a worker limit runs hundreds of workflows at once)."""

    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self.pg = url.startswith("postgres")
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _open(self) -> Any:
        if self.pg:
            return psycopg.connect(self.url, connect_timeout=10)
        conn = sqlite3.connect(
            self.url.removeprefix("sqlite:///"), timeout=30, check_same_thread=False
        )
        conn.isolation_level = None
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # as the runner's store
        return conn

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._open()
            try:
                yield conn
            finally:
                self._idle.put(conn)

    def run(self, *statements: tuple[str, Sequence[Any]]) -> list[int]:
        """The statements in one transaction; each one's row count."""
        counts = []
        with self._conn() as conn:
            if self.pg:
                with conn.transaction():
                    for sql, params in statements:
                        counts.append(conn.execute(sql.replace("?", "%s"), params).rowcount)
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        counts.append(conn.execute(sql, params).rowcount)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        return counts

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._conn() as conn:
            if self.pg:
                with conn.transaction():
                    return conn.execute(sql.replace("?", "%s"), params).fetchone()[0]
            return conn.execute(sql, params).fetchone()[0]

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()

    def create(self) -> None:
        key = "BIGSERIAL PRIMARY KEY" if self.pg else "INTEGER PRIMARY KEY"
        self.run(
            (f"CREATE TABLE IF NOT EXISTS bench_txn (id {key}, note TEXT)", ()),
            (
                "CREATE TABLE IF NOT EXISTS bench_close (partner TEXT, day TEXT,"
                " executor TEXT, PRIMARY KEY (partner, day))",
                (),
            ),
            (f"CREATE TABLE IF NOT EXISTS bench_runs (id {key}, wf TEXT, step TEXT)", ()),
        )


APP: AppDb | None = None


def app() -> AppDb:
    assert APP is not None, "the child sets APP before launching DBOS"
    return APP


# -- workflows and steps (registered at import, in every process alike) --------------------


@DBOS.step()
def noop_step(i: int) -> int:
    return i


@DBOS.workflow()
def steps_wf(n: int) -> int:
    return sum(noop_step(i) for i in range(n))


@DBOS.step()
def txn_step(i: int) -> int:
    app().run(("INSERT INTO bench_txn (note) VALUES (?)", (f"wf {i}",)))
    return i


@DBOS.workflow()
def txn_wf(i: int) -> int:
    return txn_step(i)


@DBOS.step()
def close_step(partner: str, day: str) -> bool:
    # The store decides: the close's row is unique on (partner, day); a second run inserts
    # nothing. bench_runs counts every execution, which a real close would not keep.
    inserted, _ = app().run(
        (
            "INSERT INTO bench_close (partner, day, executor) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (partner, day, DBOS.executor_id),
        ),
        ("INSERT INTO bench_runs (wf, step) VALUES (?, ?)", (f"close:{partner}:{day}", "close")),
    )
    return inserted == 1


@DBOS.workflow()
def close_wf(partner: str, day: str) -> bool:
    return close_step(partner, day)


def _record(wf: str, step: str) -> None:
    app().run(("INSERT INTO bench_runs (wf, step) VALUES (?, ?)", (wf, step)))


@DBOS.step()
def first_step(wf: str) -> None:
    _record(wf, "first")


@DBOS.step()
def slow_step(wf: str) -> int:
    before = app().one("SELECT count(*) FROM bench_runs WHERE wf = ? AND step = 'slow'", (wf,))
    _record(wf, "slow")
    if before == 0:
        time.sleep(300)  # the first attempt is killed in here
    return int(before) + 1


@DBOS.step()
def last_step(wf: str) -> None:
    _record(wf, "last")


@DBOS.workflow()
def victim_wf(wf: str) -> int:
    first_step(wf)
    attempts = slow_step(wf)
    last_step(wf)
    return attempts


@DBOS.step()
def tick_step(at: str) -> None:
    _record(f"tick:{at}", DBOS.executor_id)


@DBOS.workflow()
def tick_wf(scheduled: dt.datetime, context: object) -> None:
    tick_step(scheduled.isoformat())


# -- the child processes --------------------------------------------------------------------


def launch(sys_url: str, executor: str, *, listen: Sequence[str] | None = None) -> float:
    """DBOS on ``sys_url`` as executor ``executor``; the seconds construction and launch took."""
    t0 = time.perf_counter()
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": sys_url,
        # Fixed, not DBOS's hash of the workflows' source: every process of one release must
        # share it, or queues and recovery skip each other's workflows.
        "application_version": "bench-1",
        "executor_id": executor,
        "log_level": "WARNING",
        # DBOS's default is 20 connections a process; the machine's PostgreSQL allows 100
        # for everyone.
        "sys_db_pool_size": 6,
    }
    DBOS(config=config)
    if listen is not None:
        DBOS.listen_queues(listen)
    DBOS.launch()
    return time.perf_counter() - t0


def per_op(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    """Seconds per call of ``fn`` over ``n`` calls: wall clock, and this process's CPU
    (all its threads; the database server's CPU is not in it). Other work on the machine
    stretches the first much more than the second."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def threaded(fn: Callable[[int], object], n: int, threads: int) -> float:
    """Calls per second of ``fn`` from ``threads`` threads at once, ``n`` calls in all."""
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(k, n, threads):
                fn(i)
        except BaseException as exc:  # reported below: a thread-safety failure
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} threads failed: {errors[0]!r}")
    return n / elapsed


def child_overhead(sys_url: str, app_url: str, n: int) -> dict[str, Any]:
    global APP
    APP = AppDb(app_url)
    APP.create()
    out: dict[str, Any] = {}
    out["call"] = per_op(lambda i: sum(i for i in range(1)), n * 20)
    out["txn"] = per_op(lambda i: app().run(("INSERT INTO bench_txn (note) VALUES (?)", ("x",))), n)
    out["launch"] = launch(sys_url, "bench-overhead")
    out["wf0"] = per_op(lambda i: steps_wf(0), n)
    out["wf1"] = per_op(lambda i: steps_wf(1), n)
    out["wf10"] = per_op(lambda i: steps_wf(10), max(n // 4, 10))
    out["wf_txn"] = per_op(txn_wf, n)
    out["wf1_4threads_per_s"] = threaded(lambda i: steps_wf(1), n, 4)
    out["txn_4threads_per_s"] = threaded(
        lambda i: app().run(("INSERT INTO bench_txn (note) VALUES (?)", ("y",))), n, 4
    )
    # The same id twice, the second with another argument: the first's result comes back
    # and the step does not run again.
    with SetWorkflowID("close:7707083893:2026-11-26"):
        first = close_wf("7707083893", DAY)
    with SetWorkflowID("close:7707083893:2026-11-26"):
        second = close_wf("0000000000", "another day")
    runs = app().one("SELECT count(*) FROM bench_runs WHERE step = 'close'")
    out["same_id_twice"] = {"first": first, "second": second, "step_runs": runs}
    DBOS.destroy()
    return out


def child_worker(sys_url: str, app_url: str, executor: str, concurrency: int, poll: float) -> None:
    """A worker process: dequeues ``closes`` until SIGTERM; prints READY once launched."""
    global APP
    APP = AppDb(app_url)
    launch(sys_url, executor, listen=[QUEUE])
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=concurrency or None,
        polling_interval_sec=poll,
        on_conflict="always_update",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=5)


def child_scheduler(sys_url: str, app_url: str, executor: str) -> None:
    """A process that applies the 2-second schedule (as every process of a fleet would at
    start) and runs its ticks; prints READY, stops on SIGTERM."""
    global APP
    APP = AppDb(app_url)
    launch(sys_url, executor, listen=[QUEUE])
    DBOS.register_queue(QUEUE, worker_concurrency=2, polling_interval_sec=0.1)
    DBOS.apply_schedules(
        [
            {
                "schedule_name": "bench-tick",
                "workflow_fn": tick_wf,
                "schedule": "*/2 * * * * *",  # every 2 seconds (6 fields: seconds first)
                "queue_name": QUEUE,
            }
        ]
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    DBOS.destroy(workflow_completion_timeout_sec=5)


def child_fanout_local(
    sys_url: str, app_url: str, partners: int, poll: float, concurrency: int
) -> dict[str, Any]:
    """The embedded case: one process enqueues the closes and runs them."""
    global APP
    APP = AppDb(app_url)
    APP.create()
    launch(sys_url, "embedded")
    queue = DBOS.register_queue(QUEUE, worker_concurrency=concurrency, polling_interval_sec=poll)
    t0 = time.perf_counter()
    handles = []
    for p in range(partners):
        with SetWorkflowID(f"close:{p:010d}:{DAY}"):
            handles.append(queue.enqueue(close_wf, f"{p:010d}", DAY))
    enqueued = time.perf_counter() - t0
    for h in handles:
        h.get_result()
    done = time.perf_counter() - t0
    DBOS.destroy()
    return {"enqueue": enqueued, "done": done}


def child_victim(sys_url: str, app_url: str, executor: str, wf: str) -> None:
    """Starts ``victim_wf`` and waits to be killed."""
    global APP
    APP = AppDb(app_url)
    APP.create()
    launch(sys_url, executor)
    with SetWorkflowID(wf):
        DBOS.start_workflow(victim_wf, wf)
    print("STARTED", flush=True)
    time.sleep(600)


def child_resume(sys_url: str, app_url: str, executor: str, wf: str, dead: str | None) -> None:
    """Launches as ``executor`` (recovering its own workflows) or, with ``dead``, recovers
    that executor's workflows; prints when launched and when ``wf`` ended (wall clock)."""
    global APP
    APP = AppDb(app_url)
    started = time.time()
    launch(sys_url, executor)
    launched = time.time()
    if dead is not None:
        # Not public API (DBOS Conductor or the admin server calls it); what a runner's own
        # sweep of dead executors would call.
        DBOS._recover_pending_workflows([dead])
    result: int = DBOS.retrieve_workflow(wf).get_result(polling_interval_sec=0.05)
    ended = time.time()
    status = DBOS.get_workflow_status(wf)
    print(
        json.dumps(
            {
                "started": started,
                "launched": launched,
                "ended": ended,
                "result": result,
                "executor": status.executor_id if status else None,
            }
        ),
        flush=True,
    )
    DBOS.destroy()


def child_startup(sys_url: str) -> dict[str, float]:
    out = {"launch": launch(sys_url, "bench-startup")}
    t0 = time.perf_counter()
    DBOS.destroy(destroy_registry=False)
    out["destroy"] = time.perf_counter() - t0
    out["relaunch"] = launch(sys_url, "bench-startup")
    DBOS.destroy()
    return out


def procrastinate_app(url: str, *, sync: bool) -> Any:
    """A procrastinate app on ``url`` with the ``pclose`` task (the same close as
    :func:`close_step`, its executor the worker's name)."""
    import procrastinate

    connector = (
        procrastinate.SyncPsycopgConnector(conninfo=url)
        if sync
        else procrastinate.PsycopgConnector(conninfo=url)
    )
    papp = procrastinate.App(connector=connector)

    def pclose(partner: str, day: str) -> bool:
        inserted, _ = app().run(
            (
                "INSERT INTO bench_close (partner, day, executor) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (partner, day, os.environ.get("PES_BENCH_WORKER", "?")),
            ),
            (
                "INSERT INTO bench_runs (wf, step) VALUES (?, ?)",
                (f"close:{partner}:{day}", "close"),
            ),
        )
        return inserted == 1

    papp.task(name="pclose", queue=QUEUE)(pclose)
    return papp


def child_pworker(url: str, name: str, concurrency: int) -> None:
    global APP
    APP = AppDb(url)
    os.environ["PES_BENCH_WORKER"] = name
    papp = procrastinate_app(url, sync=False)
    print("READY", flush=True)
    papp.run_worker(queues=[QUEUE], concurrency=concurrency, name=name)


# -- the parent -----------------------------------------------------------------------------


def run_child(*args: str, timeout: float = 300) -> Any:
    """Runs a child to its end; its last line of output, parsed as JSON."""
    done = subprocess.run(
        [sys.executable, __file__, "child", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def child_process(*args: str, wait_for: str) -> Iterator[subprocess.Popen[str]]:
    """A child running beside the parent, once it printed ``wait_for``; killed afterwards."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != wait_for:
            raise RuntimeError(f"child {args[0]} did not start (exit {proc.wait()})")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def scratch_pg(admin_url: str) -> Iterator[str]:
    """A fresh scratch database for one section, dropped afterwards; yields its URL."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{SCRATCH}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def overhead(admin_url: str, work: Path, n: int) -> None:
    print(f"\n== overhead: {n} workflows of each kind ({load()})")
    runs: list[tuple[str, dict[str, Any]]] = []
    sys_db = work / "jobs-rollback.sqlite"
    runs.append(
        (
            "SQLite (DBOS default journal)",
            run_child("overhead", f"sqlite:///{sys_db}", f"sqlite:///{work}/app1.sqlite", str(n)),
        )
    )
    wal = work / "jobs-wal.sqlite"
    with sqlite3.connect(wal) as conn:  # WAL is kept in the file: DBOS opens it so
        conn.execute("PRAGMA journal_mode = WAL")
    runs.append(
        (
            "SQLite (system DB in WAL)",
            run_child("overhead", f"sqlite:///{wal}", f"sqlite:///{work}/app2.sqlite", str(n)),
        )
    )
    with scratch_pg(admin_url) as url:
        runs.append(("PostgreSQL", run_child("overhead", url, url, str(n))))
    for name, r in runs:
        txn = r["txn"]
        step = [(r["wf10"][k] - r["wf1"][k]) / 9 for k in (0, 1)]
        print(f"-- {name}  (wall clock, then this process's CPU; ratio of the wall clock)")
        print(f"   plain function call          {r['call'][0] * 1e6:8.3f} µs")
        print(f"   plain transaction (baseline) {ms(txn[0])} {ms(txn[1])}")
        rows = [
            ("workflow, no step           ", r["wf0"]),
            ("workflow, 1 no-op step      ", r["wf1"]),
            ("workflow, 10 no-op steps    ", r["wf10"]),
            ("per further step            ", step),
            ("workflow, 1 step doing txn  ", r["wf_txn"]),
        ]
        for label, (wall, cpu) in rows:
            print(f"   {label} {ms(wall)} {ms(cpu)}  = {wall / txn[0]:5.1f}x txn")
        print(
            f"   4 threads: {r['wf1_4threads_per_s']:7.0f} workflows/s (1 step);"
            f" plain txn {r['txn_4threads_per_s']:7.0f}/s"
        )
        print(f"   launch {r['launch']:.3f} s; same id twice: {r['same_id_twice']}")


def _wait_closes(db: AppDb, partners: int, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        done = db.one(
            "SELECT count(*) FROM dbos.workflow_status"
            " WHERE workflow_uuid LIKE ? AND status = 'SUCCESS'",
            ("close:%",),
        )
        if done >= partners:
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError("the closes did not finish in time")


def _enqueue_in_one_transaction(client: DBOSClient, url: str, partners: int) -> None:
    """Every close enqueued in one system-database transaction (one commit, not one each)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            for p in range(partners):
                options: EnqueueOptions = {
                    "workflow_name": close_wf.__qualname__,
                    "queue_name": QUEUE,
                    "workflow_id": f"close:{p:010d}:{DAY}",
                    "app_version": "bench-1",
                }
                client.enqueue_in_transaction(conn, options, f"{p:010d}", DAY)
    finally:
        engine.dispose()


def fanout(admin_url: str, work: Path, partners: int) -> None:
    print(f"\n== fan-out: {partners} partner closes ({load()})")
    configs = [
        ("queue defaults (no worker limit, poll 1 s)", 0, 1.0, False),
        ("worker_concurrency=8, poll 0.1 s", 8, 0.1, False),
        ("worker_concurrency=8, poll 0.1 s, all enqueued in one transaction", 8, 0.1, True),
    ]
    for name, concurrency, poll, batch in configs:
        with scratch_pg(admin_url) as url:
            db = AppDb(url)
            db.create()
            t0 = time.perf_counter()
            for p in range(partners):
                db.run(
                    (
                        "INSERT INTO bench_close (partner, day, executor) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (f"{p:010d}", "baseline", "parent"),
                    ),
                    ("INSERT INTO bench_runs (wf, step) VALUES (?, ?)", ("baseline", "close")),
                )
            baseline = time.perf_counter() - t0
            args = (url, url)
            with (
                child_process("worker", *args, "w1", str(concurrency), str(poll), wait_for="READY"),
                child_process("worker", *args, "w2", str(concurrency), str(poll), wait_for="READY"),
            ):
                client = DBOSClient(
                    system_database_url=url, application_name=APP_NAME, system_database_pool_size=2
                )
                try:
                    t0 = time.perf_counter()
                    if batch:
                        _enqueue_in_one_transaction(client, url, partners)
                    else:
                        for p in range(partners):
                            options: EnqueueOptions = {
                                "workflow_name": close_wf.__qualname__,
                                "queue_name": QUEUE,
                                "workflow_id": f"close:{p:010d}:{DAY}",
                                "app_version": "bench-1",
                            }
                            client.enqueue(options, f"{p:010d}", DAY)
                    enqueued = time.perf_counter() - t0
                    done = _wait_closes(db, partners) - t0
                    # the same ids again: every one returns the recorded workflow
                    t1 = time.perf_counter()
                    for p in range(partners):
                        options = {
                            "workflow_name": close_wf.__qualname__,
                            "queue_name": QUEUE,
                            "workflow_id": f"close:{p:010d}:{DAY}",
                            "app_version": "bench-1",
                        }
                        client.enqueue(options, f"{p:010d}", DAY)
                    again = time.perf_counter() - t1
                    time.sleep(2 * poll + 0.5)  # long enough for a worker to run a duplicate
                finally:
                    client.destroy()
            closes = db.one("SELECT count(*) FROM bench_close WHERE day = ?", (DAY,))
            runs = db.one("SELECT count(*) FROM bench_runs WHERE wf LIKE ?", ("close:%",))
            by_worker = {
                w: db.one("SELECT count(*) FROM bench_close WHERE executor = ?", (w,))
                for w in ("w1", "w2")
            }
        print(f"-- PostgreSQL, 2 workers, {name}")
        print(f"   baseline: {partners} transactions in a loop  {baseline:7.3f} s")
        print(f"   enqueue {partners} (one process)           {enqueued:7.3f} s")
        print(f"   enqueue to last close done               {done:7.3f} s = {done / baseline:.1f}x")
        print(f"   by worker {by_worker}; closes {closes}, step runs {runs}")
        print(f"   the same {partners} ids enqueued again: {again:.3f} s, no run added")
    for journal, concurrency in (("DBOS default journal", 8), ("WAL", 8), ("WAL", 1)):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            if journal == "WAL":
                with sqlite3.connect(f"{tmp}/jobs.sqlite") as conn:
                    conn.execute("PRAGMA journal_mode = WAL")
            r = run_child(
                "fanout-local",
                f"sqlite:///{tmp}/jobs.sqlite",
                f"sqlite:///{tmp}/app.sqlite",
                str(partners),
                "0.1",
                str(concurrency),
            )
        print(
            f"-- SQLite, one process (the embedded case), system DB in {journal},"
            f" worker_concurrency={concurrency}, poll 0.1 s"
        )
        print(f"   enqueue {r['enqueue']:.3f} s; enqueue to last close done {r['done']:.3f} s")


def recovery(admin_url: str, work: Path) -> None:
    print(f"\n== recovery after SIGKILL inside step 2 of 3 ({load()})")
    cases: list[tuple[str, str | None, str, bool]] = [
        ("SQLite, the same executor restarted", None, "w1", False),
        ("PostgreSQL, the same executor restarted", admin_url, "w1", False),
        ("PostgreSQL, another executor recovers the dead one's", admin_url, "w2", True),
    ]
    for name, pg, resumer, other in cases:
        wf = "close:victim:2026-11-26"
        with suppress_pg(pg) as url:
            if url is None:
                tmp = Path(tempfile.mkdtemp(dir=work))
                sys_url, app_url = f"sqlite:///{tmp}/jobs.sqlite", f"sqlite:///{tmp}/app.sqlite"
            else:
                sys_url = app_url = url
            db = AppDb(app_url)
            with child_process("victim", sys_url, app_url, "w1", wf, wait_for="STARTED") as victim:
                db.create()
                while db.one("SELECT count(*) FROM bench_runs WHERE step = 'slow'") == 0:
                    time.sleep(0.01)
                victim.kill()  # SIGKILL, inside the slow step
                killed = time.time()
                victim.wait()
            args = ["resume", sys_url, app_url, resumer, wf] + (["w1"] if other else [])
            r = run_child(*args)
            counts = {
                step: db.one("SELECT count(*) FROM bench_runs WHERE step = ?", (step,))
                for step in ("first", "slow", "last")
            }
        print(f"-- {name}")
        print(
            f"   kill to workflow done {r['ended'] - killed:6.2f} s (DBOS launch"
            f" {r['launched'] - r['started']:.2f} s, launched to done"
            f" {r['ended'] - r['launched']:.2f} s)"
        )
        print(
            f"   step runs {counts}; result {r['result']} (attempts of step 2); ended on"
            f" executor {r['executor']}"
        )


@contextmanager
def suppress_pg(admin_url: str | None) -> Iterator[str | None]:
    if admin_url is None:
        yield None
        return
    with scratch_pg(admin_url) as url:
        yield url


def schedule(admin_url: str, seconds: float) -> None:
    print(f"\n== a 2-second schedule applied by two processes for {seconds:.0f} s ({load()})")
    with scratch_pg(admin_url) as url:
        db = AppDb(url)
        db.create()
        with (
            child_process("scheduler", url, url, "w1", wait_for="READY"),
            child_process("scheduler", url, url, "w2", wait_for="READY"),
        ):
            time.sleep(seconds)
        ticks = db.one("SELECT count(DISTINCT wf) FROM bench_runs WHERE wf LIKE ?", ("tick:%",))
        runs = db.one("SELECT count(*) FROM bench_runs WHERE wf LIKE ?", ("tick:%",))
        by_worker = {
            w: db.one("SELECT count(*) FROM bench_runs WHERE wf LIKE ? AND step = ?", ("tick:%", w))
            for w in ("w1", "w2")
        }
        db.close()
    print(
        f"   ticks {ticks}, tick runs {runs} (one a tick: {runs == ticks}), by worker {by_worker}"
    )


def procrastinate_fanout(admin_url: str, partners: int) -> None:
    print(f"\n== procrastinate: {partners} partner closes ({load()})")
    try:
        import procrastinate
    except ImportError:
        print("   not installed: skipped")
        return
    with scratch_pg(admin_url) as url:
        db = AppDb(url)
        db.create()
        papp = procrastinate_app(url, sync=True)
        with papp.open():
            papp.schema_manager.apply_schema()
            task = papp.tasks["pclose"]
            with (
                child_process("pworker", url, "w1", "8", wait_for="READY"),
                child_process("pworker", url, "w2", "8", wait_for="READY"),
            ):
                time.sleep(1.0)  # both listening
                rounds: list[tuple[float, float]] = []
                for _ in range(2):
                    t0 = time.perf_counter()
                    for p in range(partners):
                        lock = f"close:{p:010d}:{DAY}"
                        with suppress(procrastinate.exceptions.AlreadyEnqueued):
                            task.configure(queueing_lock=lock).defer(partner=f"{p:010d}", day=DAY)
                    enqueued = time.perf_counter() - t0
                    want = partners * (len(rounds) + 1)
                    while (
                        db.one("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
                        < want
                    ):
                        time.sleep(0.02)
                    rounds.append((enqueued, time.perf_counter() - t0))
        by_worker = {
            w: db.one("SELECT count(*) FROM bench_close WHERE executor = ?", (w,))
            for w in ("w1", "w2")
        }
        runs = db.one("SELECT count(*) FROM bench_runs WHERE wf LIKE ?", ("close:%",))
        closes = db.one("SELECT count(*) FROM bench_close")
    (enq, done), (_, done2) = rounds
    print("-- PostgreSQL, 2 workers, concurrency 8 each, LISTEN/NOTIFY")
    print(f"   defer {partners} {enq:.3f} s; defer to last job done {done:.3f} s")
    print(f"   by worker {by_worker}")
    print(
        f"   the same {partners} deferred again (queueing lock each) once the first were done:"
        f" all ran again, {done2:.3f} s; step runs {runs}, closes {closes} (the unique key held)"
    )


def startup(admin_url: str, work: Path) -> None:
    print(f"\n== start-up ({load()})")

    def seconds(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t0

    bare = min(seconds("pass") for _ in range(3))
    runner = min(seconds("import pes_sdk_runner.api") for _ in range(3))
    both = min(seconds("import pes_sdk_runner.api, dbos") for _ in range(3))
    print(
        f"   python -c pass {bare:.3f} s; + import pes_sdk_runner.api {runner - bare:.3f} s;"
        f" + import dbos besides {both - runner:.3f} s"
    )
    r = run_child("startup", f"sqlite:///{work}/startup.sqlite")
    r2 = run_child("startup", f"sqlite:///{work}/startup.sqlite")
    print(
        f"   SQLite: first launch (creates the schema) {r['launch']:.3f} s, later launch"
        f" {r2['launch']:.3f} s, destroy {r['destroy']:.3f} s, relaunch in-process"
        f" {r['relaunch']:.3f} s"
    )
    with scratch_pg(admin_url) as url:
        r = run_child("startup", url)
        r2 = run_child("startup", url)
    print(
        f"   PostgreSQL: first launch {r['launch']:.3f} s, later launch {r2['launch']:.3f} s,"
        f" destroy {r['destroy']:.3f} s, relaunch in-process {r['relaunch']:.3f} s"
    )


def child(argv: list[str]) -> None:
    kind, *args = argv
    if kind == "overhead":
        print(json.dumps(child_overhead(args[0], args[1], int(args[2]))))
    elif kind == "worker":
        child_worker(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif kind == "fanout-local":
        print(
            json.dumps(
                child_fanout_local(args[0], args[1], int(args[2]), float(args[3]), int(args[4]))
            )
        )
    elif kind == "victim":
        child_victim(*args)
    elif kind == "resume":
        child_resume(args[0], args[1], args[2], args[3], args[4] if len(args) > 4 else None)
    elif kind == "scheduler":
        child_scheduler(args[0], args[1], args[2])
    elif kind == "pworker":
        child_pworker(args[0], args[1], int(args[2]))
    elif kind == "startup":
        print(json.dumps(child_startup(args[0])))
    else:
        raise SystemExit(f"unknown child {kind}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        with suppress(KeyboardInterrupt):
            child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer workflows, 60 partners")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--postgres", default=ADMIN_URL, help="an admin URL (CREATE DATABASE)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary files go")
    args = parser.parse_args()
    only = set(args.only.split(","))
    import _bench

    print(f"DBOS Transact {_dbos_version()}; {_bench.machine()}")
    with tempfile.TemporaryDirectory(prefix="pes-bench-jobs-", dir=args.dir) as tmp:
        work = Path(tmp)
        if "startup" in only:
            startup(args.postgres, work)
        if "overhead" in only:
            overhead(args.postgres, work, 50 if args.quick else 200)
        if "fanout" in only:
            fanout(args.postgres, work, 60 if args.quick else 300)
        if "recovery" in only:
            recovery(args.postgres, work)
        if "schedule" in only:
            schedule(args.postgres, 6 if args.quick else 12)
        if "procrastinate" in only:
            procrastinate_fanout(args.postgres, 60 if args.quick else 300)
    print(f"\n({load()})")


def _dbos_version() -> str:
    from importlib.metadata import version

    return version("dbos")


if __name__ == "__main__":
    main()
