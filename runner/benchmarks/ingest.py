"""Benchmark (not a test): ingest a 1,000,000-row debt registry into the store.

Each run measures the store's ingest beside a baseline of the same run: what the database
itself costs for the same rows, ready-made, in one transaction into a table of the same
shape with the same indexes and constraints (the store's own migrations make both).

* ``--store sqlite`` (the default; issue 7's target, within 2x): the baseline is a bare
  ``executemany`` into a fresh SQLite file.
* ``--store postgresql[=ADMIN_URL]`` (issue 16's target, within 2x): the baseline is a bare
  ``COPY debts (…) FROM STDIN`` of the tuples (psycopg's ``write_row``, one ``COPY``). Two
  fresh databases are created on the server at ADMIN_URL (default the local server as
  ``root``), one for each, and dropped afterwards; a ``CHECKPOINT`` before each timed part
  starts both with no dirty pages of the other.

The store's figure is ``Store.ingest_debt_registry`` reading ``DebtRecord`` objects from a
generator: kopecks, premises matching keys, batching, the registry rule, the control totals,
and on PostgreSQL the ``ANALYZE`` of ``debts`` after a large ingest. The store runs first,
so the peak RSS printed after it is the store's own (the baseline holds every tuple in
memory at once; the ingest streams). Both loads are checked afterwards: every row in the
table, with the registry's control total.

    .venv/bin/python runner/benchmarks/ingest.py [--rows 1000000] [--dir /tmp]
    .venv/bin/python runner/benchmarks/ingest.py --store postgresql
    .venv/bin/python runner/benchmarks/ingest.py --store postgresql=postgresql://root@host/postgres
    .venv/bin/python runner/benchmarks/ingest.py --quick [--store postgresql]   # 20,000 rows
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import _bench
from pes_sdk_runner.store import open_store

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.premises import Premises, matching_key

INN = "7707083893"
#: The server the PostgreSQL figures come from: an admin URL, to create databases.
ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
#: Columns of ``debts`` both loads fill, in the order of the baseline's tuples.
COLUMNS = (
    "registry_id",
    "partner_inn",
    "account",
    "service",
    "house_id",
    "premises",
    "premises_key",
    "amount",
    "period",
    "service_code",
)


def records(n: int) -> Iterator[DebtRecord]:
    houses = [str(uuid.UUID(int=i + 1)) for i in range(5000)]
    flats = [Premises(f"кв. {i}") for i in range(1, 301)]
    for i in range(n):
        yield DebtRecord.from_checked(
            f"{i:010d}", houses[i % 5000], flats[(i // 5000) % 300], Decimal(i % 500000).scaleb(-2)
        )


def expected_total(n: int) -> int:
    """The control total of :func:`records` in kopecks."""
    return sum(i % 500000 for i in range(n))


def tuples(registry_id: int, n: int) -> list[tuple[Any, ...]]:
    """The rows of :func:`records` as ready-made tuples of :data:`COLUMNS`."""
    return [
        (
            registry_id,
            INN,
            r.account,
            r.service,
            r.house_id,
            r.premises.text,
            matching_key(r.premises.text),
            int(r.amount.scaleb(2)),
            None,
            r.service_code,
        )
        for r in records(n)
    ]


def partner() -> Partner:
    return Partner(INN, "ООО «УК»", BankDetails("044525225", "40702810938000000001"))


def prepared(url: str) -> int:
    """The store's schema at ``url``, a partner and an empty registry: its id."""
    store = open_store(url)  # the same tables, indexes, constraints (and SQLite's pragmas)
    try:
        store.upsert_partners([partner()])
        return store.ingest_debt_registry(INN, Period(2026, 10), 1, [], sha256="x").registry.id
    finally:
        store.close()


@dataclass
class Timed:
    """What one timed part took."""

    seconds: float = 0.0
    #: CPU of this process (the client: Python, psycopg; SQLite's work too)
    cpu: float = 0.0
    #: CPU of the PostgreSQL server process that did the load (None on SQLite)
    server_cpu: float | None = None


@contextmanager
def timed(server_pid: int | None) -> Iterator[Timed]:
    out = Timed()
    server = cpu_seconds(server_pid) if server_pid is not None else 0.0
    cpu = time.process_time()
    started = time.perf_counter()
    yield out
    out.seconds = time.perf_counter() - started
    out.cpu = time.process_time() - cpu
    if server_pid is not None:
        out.server_cpu = cpu_seconds(server_pid) - server


def store_ingest(url: str, n: int) -> tuple[Timed, int]:
    """What ``Store.ingest_debt_registry`` takes for ``n`` records; the registry's id."""
    store = open_store(url)
    try:
        store.upsert_partners([partner()])
        checkpoint(url)
        with timed(backend_of_store(url)) as took:
            result = store.ingest_debt_registry(INN, Period(2026, 11), 1, records(n), sha256="y")
    finally:
        store.close()
    if (result.registry.count, int(result.registry.total.scaleb(2))) != (n, expected_total(n)):
        raise SystemExit(f"the store's registry says {result.registry}, not {n} rows")
    return took, result.registry.id


def sqlite_baseline(url: str, n: int) -> tuple[Timed, int]:
    """A bare executemany of the same rows (tuples made beforehand) into the same schema."""
    registry_id = prepared(url)
    rows = tuples(registry_id, n)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    marks = ", ".join("?" for _ in COLUMNS)
    with timed(None) as took:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO debts ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
        conn.execute("COMMIT")
    conn.close()
    return took, registry_id


def postgres_baseline(url: str, n: int) -> tuple[Timed, int]:
    """A bare ``COPY … FROM STDIN`` of the same rows (tuples made beforehand), one
    transaction, into the same schema."""
    import psycopg

    registry_id = prepared(url)
    rows = tuples(registry_id, n)
    checkpoint(url)
    with (
        psycopg.connect(url, autocommit=True, connect_timeout=10) as conn,
        timed(conn.info.backend_pid) as took,
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(f"COPY debts ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return took, registry_id


def backend_of_store(url: str) -> int | None:
    """The server process of the one connection a store has open to ``url``'s database
    (None on SQLite): the benchmark's databases are its own, so it is the only other."""
    if not url.startswith("postgres"):
        return None
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    if len(pids) != 1:
        raise SystemExit(f"expected the store's one connection to its database, found {pids}")
    return int(pids[0][0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def checkpoint(url: str) -> None:
    """On PostgreSQL, write out the dirty pages before a timed part (superuser, or
    ``pg_checkpoint``): neither part pays for the other's."""
    if not url.startswith("postgres"):
        return
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CHECKPOINT")


def loaded(url: str, registry_id: int) -> tuple[int, int]:
    """Rows of ``registry_id`` in ``debts`` and their sum in kopecks, read back."""
    query = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM debts WHERE registry_id = "
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(query + "%s", (registry_id,)).fetchone()
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as lite:
            row = lite.execute(query + "?", (registry_id,)).fetchone()
        lite.close()
    assert row is not None
    return int(row[0]), int(row[1])


@contextmanager
def pg_database(admin: str, name: str) -> Iterator[str]:
    """A fresh database on ``admin``'s server (dropped afterwards); yields its URL."""
    import psycopg

    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def sqlite_file(folder: Path, name: str) -> Iterator[str]:
    yield f"sqlite:///{folder / name}.db"


def figures(took: Timed, n: int) -> str:
    line = f"{took.seconds:7.2f} s  ({n / took.seconds:9,.0f} rows/s); CPU {took.cpu:.2f} s here"
    if took.server_cpu is not None:
        line += f", {took.server_cpu:.2f} s in PostgreSQL"
    return line


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--store",
        default="sqlite",
        metavar="sqlite|postgresql[=ADMIN_URL]",
        help=f"the database (PostgreSQL: an admin URL to create databases, {ADMIN_URL})",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 rows")
    parser.add_argument("--dir", default=None, help="where the SQLite files go")
    args = parser.parse_args()
    kind, _, admin = args.store.partition("=")
    if kind not in ("sqlite", "postgresql"):
        parser.error(f"--store sqlite or postgresql[=URL], not {args.store!r}")
    # 20,000: past the store's threshold for refreshing statistics after an ingest
    n = 20_000 if args.quick else args.rows
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    before = _bench.machine()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:

        def make(name: str) -> AbstractContextManager[str]:
            if kind == "postgresql":
                return pg_database(admin or ADMIN_URL, f"bench_ingest_{name}_{tag}")
            return sqlite_file(Path(tmp), name)

        baseline = postgres_baseline if kind == "postgresql" else sqlite_baseline
        what = "bare COPY (write_row)" if kind == "postgresql" else "bare executemany"
        with make("store") as url:
            ours, ours_id = store_ingest(url, n)
            rss = peak_rss_mb()
            ours_check = loaded(url, ours_id)
        with make("baseline") as url:
            base, base_id = baseline(url, n)
            base_check = loaded(url, base_id)
    expected = (n, expected_total(n))
    if ours_check != expected or base_check != expected:
        raise SystemExit(
            f"rows, kopecks: store {ours_check}, baseline {base_check}, not {expected}"
        )
    print(f"machine before:            {before}")
    print(f"machine after:             {_bench.machine()}")
    print(f"store:                     {'PostgreSQL' if kind == 'postgresql' else 'SQLite'}")
    print(f"rows:                      {n:,}")
    print(f"{what + ':':<27}{figures(base, n)}")
    print(f"store.ingest_debt_registry:{figures(ours, n)}")
    print(f"peak RSS after the store:  {rss:7.0f} MB")
    print(f"ratio (target <= 2.0):     {ours.seconds / base.seconds:7.2f}")
    print(f"check:                     {n:,} rows and their total in each table")


if __name__ == "__main__":
    main()
