"""Benchmark (not a test): confirmed durable payments per second over HTTP, by fleet shape.

Issue 16's goal: two ``pes runner serve`` processes on one PostgreSQL store confirm at
least 1,000 payments a second on the 2-core machine (one process on SQLite: about 770/s).

Three shapes, measured in one run, each on a fresh store:

* ``sqlite x1``: one ``serve`` on a SQLite file (the embedded default, group commit);
* ``postgresql x1``: one ``serve`` on a fresh PostgreSQL database;
* ``postgresql x2``: two ``serve`` processes on one fresh PostgreSQL database, the load
  dealt evenly between them (as a proxy in front of them would).

Every ``serve`` is the real command, ``pes runner serve --no-daemon --port 0`` (the
example configuration, its store replaced), on loopback; the acquirer is one sandbox
simulator in a process of its own, shared by the fleet (``[gateway] settings.url``); the
load comes from two other processes (``_bench.drive``'s driver, keep-alive connections).
Per shape, exactly as ``payments.py`` (whose set-up, baskets and signed webhooks this
reuses): accept each client's two services, create ``--payments`` baskets of two lines,
then deliver the acquirer's signed ``payment.succeeded`` for each: **the confirmation
rate** is the figure of the goal; each answered webhook is one durable commit (the
payment moved to ``succeeded`` and its two ledger credits). After the servers stopped,
every payment is checked ``succeeded`` with two credits in the store.

CPU per confirmation, from ``/proc/<pid>/stat`` (user + system) around the confirmations:
each ``serve`` process, the PostgreSQL server processes serving this database (their pids
from ``pg_stat_activity``), and the load driver's processes. Baselines, same run, same
disk: bare durable commits of one small row, one connection, for SQLite (WAL,
``synchronous=FULL``) and PostgreSQL (``synchronous_commit`` as the server has it).

    .venv/bin/python runner/benchmarks/fleet.py [--payments 4000] [--connections 8]
    .venv/bin/python runner/benchmarks/fleet.py --quick        # 200 payments a shape
    .venv/bin/python runner/benchmarks/fleet.py --only pg1 --profile DIR   # + py-spy of each server

``--only closes`` (not in the default run): a day close on two real ``pes runner worker``
processes (``daemon.engine = "dbos"``, a tick a second, no close grace, a plan every 2 s).
``--partners`` partners made from the example's three, ``--close-payments`` paid and
credited payments booked in their windows of yesterday (as ``close_day.py`` books them),
then the workers started: seconds from their start to the last registry of the day, from
the first close queued (the engine's record) to the last registry, and from the first
registry to the last. Baseline, same run, same data: one ``COPY (SELECT …) TO STDOUT`` of
every credit with its payment line (what the closes read). ``--quick``: 12 partners,
1,000 payments.

PostgreSQL: ``--postgres ADMIN_URL`` (default the local server as ``root``); each shape's
database is ``pes_bench_fleet_<pid>_<n>``, dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _bench
import payments
from pes_sdk_runner.config import example_config_path
from pes_sdk_runner.store import open_store

ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
PES = Path(sys.executable).parent / "pes"
TICKS = os.sysconf("SC_CLK_TCK")


# -- the acquirer, the servers ------------------------------------------------------------


def _sandbox_main() -> None:
    """``fleet.py sandbox``: one simulator (default key and secret, no webhooks of its own)."""
    from pes_sdk_sandbox.simulator import AcquirerSimulator

    sim = AcquirerSimulator().start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"URL {sim.base_url}", flush=True)
    try:
        signal.pause()
    finally:
        sim.stop()


@contextmanager
def sandbox() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "sandbox"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("URL "):
            raise SystemExit(f"the sandbox did not start (exit {proc.wait()})")
        yield line.split()[1]
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def write_config(folder: Path, store_url: str, sandbox_url: str) -> Path:
    """The example configuration: data in ``folder/data``, the store, the shared acquirer."""
    text = example_config_path().read_text(encoding="utf-8")
    edits = {
        'data = "data"': f"data = {json.dumps(str(folder / 'data'))}",
        'url = "sqlite:///pes.db"': f"url = {json.dumps(store_url)}",
        'settings = { timeout = "5" }': f'settings = {{ url = "{sandbox_url}", timeout = "5" }}',
    }
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "runner.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Serve:
    proc: subprocess.Popen[str]
    base: str


@contextmanager
def serving(config: Path, log: Path, count: int) -> Iterator[list[Serve]]:
    """``count`` real ``pes runner serve --no-daemon`` processes, each answering /healthz."""
    env = {**os.environ, **_bench.ENV}
    started: list[subprocess.Popen[str]] = []
    try:
        with open(log, "a", encoding="utf-8") as err:
            for _ in range(count):
                started.append(
                    subprocess.Popen(
                        [PES, "runner", "serve", "--config", config, "--port", "0", "--no-daemon"],
                        stdout=subprocess.PIPE,
                        stderr=err,  # a file: the JSON log lines must never block a server
                        text=True,
                        env=env,
                    )
                )
        served: list[Serve] = []
        for proc in started:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", first)
            if match is None:
                raise SystemExit(f"serve did not start: {first!r}; see {log}")
            served.append(Serve(proc, match[1]))
        for s in served:
            _healthy(s)
        yield served
    finally:
        for proc in started:
            _stop(proc)


def _healthy(s: Serve, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with suppress(OSError):
            if _bench.get(s.base, "/healthz")[0] == 200:
                return
        if s.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"serve at {s.base} never answered /healthz")
        time.sleep(0.05)


# -- the load, dealt to several servers ---------------------------------------------------


def drive_many(
    bases: Sequence[str],
    requests: Sequence[_bench.Request],
    *,
    processes: int = 2,
    connections: int = 8,
    keep_bodies: bool = False,
) -> tuple[_bench.Load, float]:
    """Each request once over ``connections`` keep-alive connections in ``processes``; the
    connections dealt round-robin to ``bases``. Also the driver's CPU seconds."""
    connections = max(1, min(connections, len(requests)))
    processes = max(1, min(processes, connections))
    per_conn = [list(requests[i::connections]) for i in range(connections)]
    # Connection i goes to bases[i % len(bases)]; each driver process holds connections of
    # one base only, so that with two bases and two processes each server has its driver.
    by_base: dict[str, list[list[_bench.Request]]] = {b: [] for b in bases}
    for i, share in enumerate(per_conn):
        by_base[bases[i % len(bases)]].append(share)
    groups: list[tuple[str, list[list[_bench.Request]]]] = []
    per_base = max(1, processes // len(bases))
    for base, shares in by_base.items():
        groups += [(base, shares[p::per_base]) for p in range(per_base) if shares[p::per_base]]
    ctx = mp.get_context("fork")
    go, opened, results = ctx.Event(), ctx.Semaphore(0), ctx.Queue()
    procs = [
        ctx.Process(target=_bench._worker, args=(base, g, None, keep_bodies, go, opened, results))
        for base, g in groups
    ]
    before = _children_cpu()
    for p in procs:
        p.start()
    for _ in procs:
        opened.acquire()
    go.set()
    total = _bench.Load()
    for _ in procs:
        total.merge(results.get())
    for p in procs:
        p.join()
    return total, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process, from /proc (0 if it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15


# -- the stores -----------------------------------------------------------------------------


@contextmanager
def pg_database(admin: str, name: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_backends(url: str) -> list[int]:
    """Server pids of the connections to ``url``'s database (but this one)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def pg_bare_commits(url: str, seconds: float) -> float:
    """Durable commits a second of one small row each, one connection: PostgreSQL's ceiling."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)")
        n = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            conn.execute("INSERT INTO bare (v) VALUES ('succeeded')")  # autocommit: one commit
            n += 1
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bare")
    return n / elapsed


# -- one shape ------------------------------------------------------------------------------


@dataclass
class Shape:
    name: str
    servers: int
    create: _bench.Load
    confirm: _bench.Load
    cpu_serve: list[float]  # seconds per process, during the confirmations
    cpu_db: float  # the PostgreSQL server processes of this database, same window
    cpu_driver: float
    succeeded: int
    credits: int
    bare: float


def measure(
    name: str, folder: Path, url: str, servers: int, sandbox_url: str, args: argparse.Namespace
) -> Shape:
    folder.mkdir()
    n = args.n
    inns = payments.set_up(url, folder / "data", args.clients)
    config = write_config(folder, url, sandbox_url)
    pg = url.startswith("postgres")
    with serving(config, folder / "serve.log", servers) as fleet:
        bases = [s.base for s in fleet]
        payments.accept_all(bases[0], inns, args.clients)
        run = uuid.uuid4().hex[:8]
        create, _ = drive_many(
            bases,
            payments.baskets(inns, args.clients, n, run),
            connections=args.connections,
            keep_bodies=True,
        )
        if create.failed:
            raise SystemExit(f"{name}: creating failed: {create.first_failure}")
        hooks = payments.webhooks(create.bodies)
        bare_for = args.bare_seconds
        bare = pg_bare_commits(url, bare_for) if pg else payments.bare_commits(folder, bare_for)
        backends = pg_backends(url) if pg else []
        before = [cpu_seconds(s.proc.pid) for s in fleet]
        db_before = sum(cpu_seconds(p) for p in backends)
        with _profiled(fleet, args.profile, name):
            confirm, driver = drive_many(bases, hooks, connections=args.connections)
        cpu = [cpu_seconds(s.proc.pid) - b for s, b in zip(fleet, before, strict=True)]
        cpu_db = sum(cpu_seconds(p) for p in backends) - db_before
        if confirm.failed:
            raise SystemExit(f"{name}: confirming failed: {confirm.first_failure}")
    succeeded, credits = payments.check(url, create.bodies)
    return Shape(name, servers, create, confirm, cpu, cpu_db, driver, succeeded, credits, bare)


@contextmanager
def _profiled(fleet: list[Serve], folder: Path | None, name: str) -> Iterator[None]:
    """With ``--profile``: py-spy samples each server while the block runs (collapsed
    stacks, one file a process), for where a confirmation's CPU goes."""
    if folder is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    folder.mkdir(parents=True, exist_ok=True)
    # --gil: only the thread holding the interpreter, i.e. where the CPU goes, not the waits
    options = ["--format", "raw", "--rate", "250", "--nonblocking", "--gil"]
    procs = [
        subprocess.Popen(
            [spy, "record", "--pid", str(s.proc.pid), *options, "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for k, s in enumerate(fleet)
        for out in [folder / f"{'-'.join(name.split())}-{k}.txt"]
    ]
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            p.wait(60)


def _per(seconds: float, n: int) -> str:
    return f"{seconds / n * 1000:.2f} ms"


def report(shapes: list[Shape], n: int, connections: int) -> None:
    print(f"machine:                   {_bench.machine()}")
    if not shapes:
        return
    print(f"payments:                  {n:,} baskets of 2 lines a shape, {connections} connections")
    for s in shapes:
        print(f"{s.name} bare commits:  {s.bare:9,.0f} /s  (one connection, baseline)")
        print(f"{s.name} create:        {payments._rate(s.create)}")
        print(f"{s.name} confirm:       {payments._rate(s.confirm)}")
        # per confirmation of the whole run: the servers' sum, then each process's share
        shares = " + ".join(_per(c, n) for c in s.cpu_serve)
        print(
            f"{s.name} CPU/confirm:   serve {_per(sum(s.cpu_serve), n)} ({shares});"
            f" database {_per(s.cpu_db, n)}; load driver {_per(s.cpu_driver, n)}"
        )
        print(f"{s.name} ratio to bare: {s.confirm.rate / s.bare:9.3f}")
        print(
            f"{s.name} check:         succeeded {s.succeeded:,} of {n:,},"
            f" ledger credits {s.credits:,} of {2 * n:,}"
        )
    by = {s.name.strip(): s for s in shapes}
    if "postgresql x1" in by and "sqlite x1" in by:
        ratio = by["postgresql x1"].confirm.rate / by["sqlite x1"].confirm.rate
        print(f"ratio pg x1 / sqlite x1:   {ratio:9.3f}")
    if "postgresql x2" in by and "postgresql x1" in by:
        ratio = by["postgresql x2"].confirm.rate / by["postgresql x1"].confirm.rate
        print(f"ratio pg x2 / pg x1:       {ratio:9.3f}")
    if "postgresql x2" in by:
        met = by["postgresql x2"].confirm.rate >= 1000
        print(f"goal pg x2 >= 1,000/s:     {'met' if met else 'missed'}")


SHAPES = {"sqlite1": ("sqlite x1    ", 1), "pg1": ("postgresql x1", 1), "pg2": ("postgresql x2", 2)}


# -- the day close on two workers (``--only closes``) -----------------------------------------


def closes_config(folder: Path, store_url: str, sandbox_url: str, n: int) -> Path:
    """:func:`write_config` with ``n`` partners made from the example's three (each its own
    ИНН, name and folders), the job engine on: a tick a second, a plan every 2 s, no grace."""
    import close_day

    path = write_config(folder, store_url, sandbox_url)
    head, *blocks = path.read_text(encoding="utf-8").split("\n[[partners]]")
    out = [head]
    for k in range(n):
        block = blocks[k % len(blocks)]
        number = close_day.inn(k)
        block = re.sub(r'^inn = "\d+"', f'inn = "{number}"', block, count=1, flags=re.M)
        block = re.sub(
            r'^name = "[^"]*"', f'name = "ООО «Партнёр {k}»"', block, count=1, flags=re.M
        )
        block = re.sub(r'folder = "(inbox|outbox)/[^"]*"', rf'folder = "\1/{number}"', block)
        out.append(block)
    text = "\n[[partners]]".join(out)
    # the engine on, whichever the example's default
    text = re.sub(r'^engine = "thread"', 'engine = "dbos"', text, count=1, flags=re.M)
    for old, new in {
        "tick = 10 ": "tick = 1 ",
        "close_grace = 60 ": "close_grace = 0 ",
        # the plan that starts the closes runs once a scan: at once, not up to a minute later
        "scan_interval = 60 ": "scan_interval = 2 ",
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def book_day(url: str, config: Any, day: dt.date, n: int) -> None:
    """``n`` paid, credited one-line payments spread over the partners' windows of ``day``,
    recorded as the processor records them (close_day.py's booking, on this store)."""
    from decimal import Decimal

    import psycopg
    from pes_sdk_runner.close import day_window
    from pes_sdk_runner.store import LedgerEntry, LedgerKind

    from pes_sdk.gateways.models import PaymentState
    from pes_sdk.gateways.processor import PaymentEntry
    from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
    from pes_sdk.period import Period

    # Set-up only, as close_day.py's unsynced store: the booking's commits are not waited
    # for (the database's default is back before the workers start).
    with psycopg.connect(url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    store = open_store(url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        zone = config.service.time_zone
        windows = [day_window(day, p.cutoff, zone) for p in config.partners]
        per = -(-n // len(config.partners))
        credits = []
        for i in range(n):
            k = i % len(config.partners)
            partner = config.partners[k]
            start, end = windows[k]
            at = start + (end - start) * ((i // len(config.partners)) + 0.5) / per
            order = uuid.UUID(int=i + 1)
            line = PaymentLine(
                partner.inn,
                f"{k:03d}{i:07d}",
                Decimal(100 + (i * 7919) % 500_000).scaleb(-2),
                service=("Отопление", "Содержание жилья", "Водоснабжение")[i % 3],
                house_id=str(uuid.UUID(int=1_000_000 + i % 5000)),
                premises=f"кв. {1 + i % 300}",
                period=Period(day.year, day.month),
            )
            entry = PaymentEntry(
                Payment(order, at, PaymentMethod.CARD, [line]),
                uuid.uuid4().hex,
                state=PaymentState.SUCCEEDED,
                gateway_payment_id=f"gw-{order.hex}",
            )
            store.add(entry)
            credits.append(
                LedgerEntry(
                    LedgerKind.CREDIT,
                    partner.inn,
                    line.amount,
                    service=line.service,
                    account=line.account,
                    order_id=order,
                    ref=f"credit:{order}:0",
                    memo=f"payment {entry.gateway_payment_id}",
                    at=at,
                )
            )
        store.ledger_append(credits)
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')


def bare_copy(url: str) -> tuple[float, int]:
    """Baseline, same data: every credit with its payment line, read by one ``COPY … TO
    STDOUT`` (what a close reads, with no settlement, file, ledger or engine)."""
    import psycopg

    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        query = (
            "COPY (SELECT l.id, l.at, l.partner_inn, l.account, l.service, l.amount, l.ref,"
            " p.method, pl.house_id, pl.premises, pl.period, pl.service_code"
            " FROM registry_credits c JOIN ledger l ON l.id = c.ledger_id"
            " JOIN payments p ON p.order_id = l.order_id"
            " JOIN payment_lines pl ON pl.order_id = l.order_id AND pl.line_no = 0"
            " ORDER BY c.partner_inn, c.at, c.ledger_id) TO STDOUT"
        )
        with cur.copy(query) as copy:
            for _ in copy.rows():
                rows += 1
        return time.perf_counter() - started, rows


def first_queued(url: str) -> dt.datetime | None:
    """When the first close was queued (the engine's record, schema ``pes_jobs``)."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT MIN(created_at) FROM pes_jobs.workflow_status"
            " WHERE workflow_uuid LIKE 'close:%'"
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return dt.datetime.fromtimestamp(row[0] / 1000, dt.UTC)


def measure_closes(folder: Path, url: str, sandbox_url: str, args: argparse.Namespace) -> str:
    """Two ``pes runner worker`` processes close yesterday for every partner: seconds from
    their start to the last registry, and from the first registry to the last."""
    from pes_sdk_runner.config import load_runner_config

    folder.mkdir()
    config_path = closes_config(folder, url, sandbox_url, args.partners)
    config = load_runner_config(config_path, env=_bench.ENV)
    day = dt.datetime.now(config.service.time_zone).date() - dt.timedelta(days=1)
    book_day(url, config, day, args.close_payments)
    inns = [p.inn for p in config.partners]
    env = {**os.environ, **_bench.ENV}
    workers: list[subprocess.Popen[str]] = []
    started = dt.datetime.now(dt.UTC)
    try:
        with open(folder / "workers.log", "a", encoding="utf-8") as err:
            for wid in ("w1", "w2"):
                workers.append(
                    subprocess.Popen(
                        [PES, "runner", "worker", "--config", config_path, "--id", wid],
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        text=True,
                        env=env,
                    )
                )
        store = open_store(url)
        try:
            deadline = time.monotonic() + args.close_patience
            while True:
                made = [r for inn in inns for r in store.payment_registries(inn) if r.day == day]
                if len(made) >= len(inns):
                    break
                if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                    raise SystemExit(f"closes: {len(made)} of {len(inns)} closed; see the log")
                time.sleep(0.2)
            carried = sum(r.count for r in made)
        finally:
            store.close()
    finally:
        for w in workers:
            _stop(w)
    first = min(r.created_at for r in made)
    last = max(r.created_at for r in made)
    total = (last - started).total_seconds()
    span = (last - first).total_seconds()
    queued = first_queued(url)
    planned = (last - queued).total_seconds() if queued is not None else float("nan")
    base, rows = bare_copy(url)
    return (
        f"{args.partners} partners, {args.close_payments:,} payments, {carried:,} in registries:"
        f" {total:.1f} s from the workers' start, {planned:.1f} s from the first close queued,"
        f" {span:.1f} s first to last registry; baseline, one COPY of the {rows:,} credits"
        f" with their lines: {base:.2f} s"
    )


def main() -> None:
    if sys.argv[1:2] == ["sandbox"]:
        _sandbox_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 payments a shape")
    parser.add_argument(
        "--only",
        default="sqlite1,pg1,pg2",
        help="shapes: sqlite1,pg1,pg2; and closes (a day closed by two workers), not by default",
    )
    parser.add_argument("--partners", type=int, default=300, help="closes: partners")
    parser.add_argument("--close-payments", type=int, default=50_000, help="closes: payments")
    parser.add_argument("--close-patience", type=float, default=600.0, help="closes: give up after")
    parser.add_argument("--postgres", default=ADMIN_URL, help="an admin URL (CREATE DATABASE)")
    parser.add_argument("--dir", default=None, help="where the SQLite files and logs go")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy each server during the confirmations; collapsed stacks to this folder",
    )
    args = parser.parse_args()
    args.n = 200 if args.quick else args.payments
    args.bare_seconds = 0.5 if args.quick else 2.0
    if args.quick:
        args.partners, args.close_payments = min(args.partners, 12), min(args.close_payments, 1000)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(wanted) - set(SHAPES) - {"closes"}
    if unknown:
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    shapes: list[Shape] = []
    closes = ""
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp, sandbox() as sandbox_url:
        for k, key in enumerate(wanted):
            folder = Path(tmp) / key
            if key == "closes":
                db = f"pes_bench_fleet_{os.getpid()}_{k}"
                with pg_database(args.postgres, db) as url:
                    closes = measure_closes(folder, url, sandbox_url, args)
                continue
            name, servers = SHAPES[key]
            with ExitStack() as stack:
                if key == "sqlite1":
                    url = f"sqlite:///{folder / 'runner.db'}"
                else:
                    db = f"pes_bench_fleet_{os.getpid()}_{k}"
                    url = stack.enter_context(pg_database(args.postgres, db))
                shapes.append(measure(name, folder, url, servers, sandbox_url, args))
    report(shapes, args.n, args.connections)
    if closes:
        print(f"day close on 2 workers:    {closes}")
    for s in shapes:
        if s.succeeded != args.n or s.credits != 2 * args.n:
            raise SystemExit(f"{s.name.strip()}: answered confirmations are missing from the store")


if __name__ == "__main__":
    main()
