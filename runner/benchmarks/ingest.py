"""Benchmark (not a test): ingest a 1,000,000-row debt registry into the SQLite store.

Issue 7's target: within 2x of a bare ``executemany`` of the same rows, measured in the
same run. The baseline inserts ready-made tuples into a table of the same shape with the
same indexes in one transaction: what SQLite itself costs. The store adds what a real
ingest needs: reading DebtRecord objects, kopecks, premises matching keys, batching, the
registry rule.

    .venv/bin/python runner/benchmarks/ingest.py [--rows 1000000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from pes_sdk_runner.store import open_store

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.premises import Premises, matching_key

INN = "7707083893"


def records(n: int) -> Iterator[DebtRecord]:
    houses = [str(uuid.UUID(int=i + 1)) for i in range(5000)]
    flats = [Premises(f"кв. {i}") for i in range(1, 301)]
    for i in range(n):
        yield DebtRecord.from_checked(
            f"{i:010d}", houses[i % 5000], flats[(i // 5000) % 300], Decimal(i % 500000).scaleb(-2)
        )


def baseline(path: Path, n: int) -> float:
    """A bare executemany of the same rows (tuples made beforehand) into the same schema."""
    store = open_store(f"sqlite:///{path}")  # the same tables, indexes and pragmas
    store.upsert_partners([partner()])
    registry_id = store.ingest_debt_registry(INN, Period(2026, 10), 1, [], sha256="x").registry.id
    store.close()
    rows = [
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
        )
        for r in records(n)
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO debts (registry_id, partner_inn, account, service, house_id, premises,"
        " premises_key, amount, period) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def partner() -> Partner:
    return Partner(INN, "ООО «УК»", BankDetails("044525225", "40702810938000000001"))


def store_ingest(path: Path, n: int) -> float:
    store = open_store(f"sqlite:///{path}")
    store.upsert_partners([partner()])
    started = time.perf_counter()
    result = store.ingest_debt_registry(INN, Period(2026, 11), 1, records(n), sha256="y")
    elapsed = time.perf_counter() - started
    assert result.registry.count == n
    store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="where the database files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = baseline(Path(tmp) / "baseline.db", args.rows)
        ours = store_ingest(Path(tmp) / "store.db", args.rows)
    print(f"rows:                      {args.rows:,}")
    print(f"bare executemany:          {base:7.2f} s  ({args.rows / base:,.0f} rows/s)")
    print(f"store.ingest_debt_registry:{ours:7.2f} s  ({args.rows / ours:,.0f} rows/s)")
    print(f"ratio (target <= 2.0):     {ours / base:7.2f}")


if __name__ == "__main__":
    main()
