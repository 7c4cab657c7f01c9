"""Benchmark (not a test): address look-ups per second over HTTP, 800,000 accounts loaded.

What is measured:

* **Set-up**: 800,000 personal accounts (лицевые счета) as debt registries of 8 partners
  (100,000 each), ingested with ``Store.ingest_debt_registry``: 4,000 houses of 50 flats
  (200,000 premises), each premises served by 4 of the partners. Premises are written as
  ``кв. 12``, ``12`` or ``12а``; the look-ups ask in another form (``12``, ``кв. 12``,
  ``12А``), so the premises matching key does the work. Generated deterministically.
* **Look-ups over HTTP** (the figure): ``GET /v1/services?house=…&premises=…`` with a
  client token, over ``--connections`` concurrent keep-alive connections from two other
  processes, for ``--seconds``, against the runner's API served by uvicorn in its own
  process (``_bench.py serve``). Each answer is the address's 4 services with their debts
  and what was paid since. Addresses are drawn at random (seeded) from all 200,000.
* **Baselines**, same run: ``Store.find_services`` called directly in this process for the
  same addresses (no HTTP: what the store costs), and ``GET /healthz`` on the same server
  over the same connections (what the HTTP stack costs, with a trivial store call).
* With ``--postgres`` the store is a fresh schema on the local server (dropped afterwards);
  the direct rate is also shown right after the ingest (the store analyzes ``debts``
  after a large ingest itself: without it the planner had no statistics of the new rows
  until autovacuum's ``ANALYZE``, and a look-up took 9 ms), and the rest is measured after
  an explicit ``ANALYZE`` of the whole schema.

    .venv/bin/python runner/benchmarks/lookups.py [--seconds 8] [--connections 8]
    .venv/bin/python runner/benchmarks/lookups.py --postgres     # the store on PostgreSQL
    .venv/bin/python runner/benchmarks/lookups.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import _bench
from pes_sdk_runner.store import open_store

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.premises import Premises

PARTNERS = 8
PER_PREMISES = 4  # partners serving each premises
FLATS = 50  # flats per house
PG_URL = os.environ.get("PES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def inn(n: int) -> str:
    """A valid 10-digit ИНН (check digit computed), distinct for each ``n``."""
    body = f"77{n:07d}"
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11 % 10
    return f"{body}{check}"


def house(h: int) -> str:
    return str(uuid.UUID(int=0x5EED_0000_0000_0000_0000_0000_0000_0000 + h))


def stored_premises(flat: int) -> str:
    return (f"кв. {flat}", f"{flat}", f"{flat}а")[flat % 3]


def asked_premises(flat: int) -> str:
    # another spelling of the same premises: the matching key has to bring them together
    return (f"{flat}", f"кв. {flat}", f"{flat}А")[flat % 3]


def records(partner: int, houses: int) -> Iterator[DebtRecord]:
    premises = [Premises(stored_premises(f)) for f in range(1, FLATS + 1)]
    for h in range(houses):
        if (partner - h) % PARTNERS >= PER_PREMISES:
            continue  # house h is served by partners h, h+1, h+2, h+3 (mod 8)
        guid = house(h)
        for f in range(1, FLATS + 1):
            amount = Decimal((h * 37 + f * 101) % 900_000).scaleb(-2)
            yield DebtRecord.from_checked(
                f"{partner}{h:05d}{f:03d}", guid, premises[f - 1], amount, service="ЖКУ"
            )


def load(url: str, houses: int) -> tuple[int, float]:
    """Ingest every partner's registry; return the accounts loaded and the seconds taken."""
    store = open_store(url)
    bank = BankDetails("044525225", "40702810938000000001")
    store.upsert_partners(Partner(inn(p), f"ООО «Партнёр {p}»", bank) for p in range(PARTNERS))
    started = time.perf_counter()
    count = 0
    for p in range(PARTNERS):
        result = store.ingest_debt_registry(
            inn(p), Period(2026, 11), 1, records(p, houses), sha256=f"bench-{p}"
        )
        count += result.registry.count
    elapsed = time.perf_counter() - started
    store.close()
    return count, elapsed


def addresses(houses: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(2026)
    return [
        (house(rng.randrange(houses)), asked_premises(rng.randrange(1, FLATS + 1)))
        for _ in range(n)
    ]


def direct(url: str, sample: list[tuple[str, str]], seconds: float) -> float:
    """``Store.find_services`` calls a second, in this process (no HTTP)."""
    store = open_store(url)
    try:
        for h, p in sample[:200]:  # warm the caches as the server's run is warmed
            store.find_services(h, p)
        n = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            h, p = sample[n % len(sample)]
            found = store.find_services(h, p)
            if len(found) != PER_PREMISES:
                raise SystemExit(f"{len(found)} services found at one address, not {PER_PREMISES}")
            n += 1
        return n / (time.perf_counter() - started)
    finally:
        store.close()


def analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for the run (dropped afterwards); yields the store URL."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    options = urllib.parse.quote(f"-csearch_path={schema}")
    try:
        yield f"{PG_URL}{sep}options={options}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--houses", type=int, default=4000, help="50 flats × 4 accounts each")
    parser.add_argument("--seconds", type=float, default=8.0, help="for each measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--postgres", action="store_true", help=f"the store at {PG_URL}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 accounts")
    parser.add_argument("--dir", default=None, help="where the database file goes")
    args = parser.parse_args()
    houses = 100 if args.quick else args.houses
    seconds = 0.5 if args.quick else args.seconds
    sample = addresses(houses, 5000)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        with postgres_schema() if args.postgres else _sqlite(folder) as url:
            accounts, ingest = load(url, houses)
            fresh = None
            if args.postgres:
                # Right after the ingest, as a client would meet it; then with every table
                # analyzed, as once autovacuum has been round.
                fresh = direct(url, sample, min(seconds, 2.0))
                analyze(url)
            base_direct = direct(url, sample, seconds)
            auth = _bench.AUTH
            query = urllib.parse.urlencode
            asks: list[_bench.Request] = [
                ("GET", f"/v1/services?{query({'house': h, 'premises': p})}", None, auth)
                for h, p in sample
            ]
            with _bench.server(url, folder / "data") as base:
                status, body = _bench.get(base, asks[0][1], auth)
                found = json.loads(body)["services"] if status == 200 else []
                if len(found) != PER_PREMISES:
                    raise SystemExit(f"GET /v1/services answered {status}: {body[:300]!r}")
                _bench.drive(base, asks[:500], connections=args.connections)  # warm-up
                health = _bench.drive(
                    base,
                    [("GET", "/healthz", None, {})],
                    connections=args.connections,
                    seconds=seconds,
                )
                lookups = _bench.drive(base, asks, connections=args.connections, seconds=seconds)
    for run, what in ((health, "/healthz"), (lookups, "look-ups")):
        if run.failed:
            raise SystemExit(f"{what}: {run.failed} failed, first: {run.first_failure}")
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"machine:                     {_bench.machine()}")
    print(f"accounts loaded:             {accounts:,} ({store}; ingested in {ingest:.1f} s)")
    print(f"connections:                 {args.connections}, {seconds:g} s each measurement")
    if fresh is not None:
        print(f"direct, right after ingest:  {fresh:8,.0f} /s  (the store's own ANALYZE of debts)")
    print(f"store.find_services direct:  {base_direct:8,.0f} /s  (in-process, no HTTP; baseline)")
    print(f"GET /healthz:                {_rate(health)}  (HTTP floor; baseline)")
    print(f"GET /v1/services (address):  {_rate(lookups)}")
    print(f"ratio look-ups / direct:     {lookups.rate / base_direct:8.3f}")
    print(f"ratio look-ups / healthz:    {lookups.rate / health.rate:8.3f}")


def _rate(load: _bench.Load) -> str:
    return (
        f"{load.rate:8,.0f} /s  p50 {load.percentile(50):5.2f} ms"
        f"  p99 {load.percentile(99):5.2f} ms"
    )


@contextmanager
def _sqlite(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'runner.db'}"


if __name__ == "__main__":
    main()
