"""Benchmark (not a test): confirmed basket payments per second over HTTP, durable commits.

Issue target: at least 1,000 confirmed payments a second on the 2-core machine, every
confirmation a durable commit (SQLite WAL; on disk before the webhook is answered).

What is measured, exactly:

* **Set-up** (not timed): a SQLite store in a temporary folder with the example
  configuration's partners and a debt registry for two of them (one account each per
  client); the runner's API served by uvicorn in another process (``_bench.py serve``)
  with the embedded sandbox acquirer; each client's two services accepted over
  ``POST /v1/acceptances``.
* **Create rate**: ``--payments`` baskets of two lines (two partners) over
  ``POST /v1/payments``, each with its own Idempotency-Key, over ``--connections``
  concurrent keep-alive connections from two other processes. A create is the whole of
  the endpoint: the basket priced, the entry written to the book (a durable commit), the
  sandbox's ``POST /v1/payments`` over loopback HTTP, the acquirer's answer written
  (a second durable commit).
* **Confirmation rate** (the figure of the target): for every basket, the acquirer's
  ``payment.succeeded`` notification, signed as the sandbox signs it (HMAC-SHA256 of
  ``"<unix seconds>." + body`` with its webhook secret, ``X-Sandbox-Signature``), POSTed
  to the runner's webhook endpoint over the same kind of connections. Each answered
  webhook is: the signature and replay window checked, the payment found in the book,
  moved to ``succeeded`` and its two ledger credits booked, in one durable commit
  (``Store.put``), then answered ``200 OK`` once that commit is on disk. Signing happens
  before the clock starts.
* **Check** (after the server stopped): every payment is ``succeeded`` in the store file
  and the ledger has exactly two credits per payment: nothing answered was lost.
* **Baseline**, same run, same filesystem, just before the confirmations: bare ``sqlite3``
  commits of one small row each, WAL, ``synchronous=FULL``, one connection, for 2 s: the
  disk's ceiling for durable commits.

    .venv/bin/python runner/benchmarks/payments.py [--payments 4000] [--connections 8]
    .venv/bin/python runner/benchmarks/payments.py --quick
    .venv/bin/python runner/benchmarks/payments.py --diagnose   # + the two runs below

The store is the runner's default: SQLite with group commit (``store.group_commit``), the
webhook answered only once its commit is on disk. ``--diagnose`` repeats the create and
confirm runs twice more, each on a fresh store: with one fsync per commit
(``group_commit = false``, ``synchronous=FULL``: the fsync inside the processor's lock),
and on a store whose commits are not synced (``synchronous=NORMAL``; not durable): the
most that any batching of fsyncs could give.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import _bench
from pes_sdk_runner.store import LedgerKind, open_store

from pes_sdk.gateways.signing import signature_header
from pes_sdk.models.debts import DebtRecord
from pes_sdk.period import Period
from pes_sdk.premises import Premises

SECRET = b"sandbox-secret"  # the embedded sandbox's webhook secret (its default)
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
SERVICE = "Отопление"
WEBHOOK = "/webhooks/sandbox"  # the example configuration's webhook path


def bare_commits(folder: Path, seconds: float) -> float:
    """Durable commits a second of one small row each: the disk's ceiling."""
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", ("succeeded",))
        conn.execute("COMMIT")
        n += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def set_up(url: str, data: Path, clients: int) -> tuple[str, str]:
    """The store: partners and two partners' debts, one account per client each."""
    store = open_store(url)
    config = _bench.runner_config(data, url)
    store.upsert_partners(p.partner for p in config.partners)
    first, second = config.partners[0].inn, config.partners[2].inn
    for n, inn in enumerate((first, second), start=1):
        records = [
            DebtRecord(
                f"{n}{k:07d}", HOUSE, Premises(f"кв. {k + 1}"), Decimal("900.00"), service=SERVICE
            )
            for k in range(clients)
        ]
        store.ingest_debt_registry(inn, Period(2026, 11), 1, records, sha256=f"bench-{n}")
    store.close()
    return first, second


def accept_all(base: str, inns: tuple[str, str], clients: int) -> None:
    requests: list[_bench.Request] = []
    for k in range(clients):
        for n, inn in enumerate(inns, start=1):
            body = {"client_id": f"c{k}", "partner_inn": inn, "account": f"{n}{k:07d}"}
            body["service"] = SERVICE
            requests.append(("POST", "/v1/acceptances", _json(body), _headers()))
    load = _bench.drive(base, requests, connections=4)
    if load.failed:
        raise SystemExit(f"accepting failed: {load.first_failure}")


def _json(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _headers(**extra: str) -> dict[str, str]:
    return {**_bench.AUTH, "Content-Type": "application/json", **extra}


def baskets(inns: tuple[str, str], clients: int, n: int, run: str) -> list[_bench.Request]:
    out: list[_bench.Request] = []
    for i in range(n):
        k = i % clients
        body = {
            "client_id": f"c{k}",
            "return_url": "https://cabinet.example/paid",
            "lines": [
                {
                    "partner_inn": inns[0],
                    "account": f"1{k:07d}",
                    "service": SERVICE,
                    "amount": f"{100 + i % 700}.{i % 100:02d}",
                },
                {
                    "partner_inn": inns[1],
                    "account": f"2{k:07d}",
                    "service": SERVICE,
                    "amount": "50.00",
                },
            ],
        }
        key = f"{run}-{i}"
        out.append(("POST", "/v1/payments", _json(body), _headers(**{"Idempotency-Key": key})))
    return out


def webhooks(created: list[tuple[int, bytes]]) -> list[_bench.Request]:
    """The sandbox's ``payment.succeeded`` notification for each created payment, signed."""
    out: list[_bench.Request] = []
    now = int(time.time())
    for i, (_status, raw) in enumerate(created):
        view = json.loads(raw)
        url = view["confirmation"]["url"]  # …/pay/<the acquirer's payment id>
        snapshot = {
            "id": url.rsplit("/", 1)[1],
            "order_id": view["order_id"],
            "status": "succeeded",
            "amount": view["total"],
            "refunded": "0.00",
            "method": view["method"],
            "confirmation": view["confirmation"],
        }
        event = {"event_id": f"bench_{i}", "type": "payment.succeeded", "payment": snapshot}
        body = _json(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Sandbox-Timestamp": str(now),
            "X-Sandbox-Signature": signature_header(SECRET, now, body),
        }
        out.append(("POST", WEBHOOK, body, headers))
    return out


def check(url: str, created: list[tuple[int, bytes]]) -> tuple[int, int]:
    """Payments succeeded and credits booked, read from the store after the server stopped."""
    store = open_store(url)
    try:
        ids = {uuid.UUID(json.loads(raw)["order_id"]) for _s, raw in created}
        succeeded = sum(1 for e in store if e.order_id in ids and str(e.state) == "succeeded")
        credits = len(store.ledger_entries(kind=LedgerKind.CREDIT))
    finally:
        store.close()
    return succeeded, credits


def measure(
    folder: Path,
    clients: int,
    n: int,
    connections: int,
    synchronous: str | None = None,
    bare_seconds: float = 0.0,
    group_commit: bool = True,
) -> tuple[_bench.Load, _bench.Load, int, int, float]:
    """Set up a store in ``folder``, serve it, create and confirm ``n`` baskets; check.

    The bare commits are measured between the creates and the confirmations, on the same
    filesystem: the disk is shared, and its rate drifts with what else runs.
    """
    url = f"sqlite:///{folder / 'runner.db'}"
    inns = set_up(url, folder / "data", clients)
    with _bench.server(
        url, folder / "data", synchronous=synchronous, group_commit=group_commit
    ) as base:
        accept_all(base, inns, clients)
        run = uuid.uuid4().hex[:8]
        create = _bench.drive(
            base, baskets(inns, clients, n, run), connections=connections, keep_bodies=True
        )
        if create.failed:
            raise SystemExit(f"creating failed: {create.first_failure}")
        hooks = webhooks(create.bodies)
        bare = bare_commits(folder, bare_seconds) if bare_seconds else 0.0
        confirm = _bench.drive(base, hooks, connections=connections)
        if confirm.failed:
            raise SystemExit(f"confirming failed: {confirm.first_failure}")
    succeeded, credits = check(url, create.bodies)
    return create, confirm, succeeded, credits, bare


def _rate(load: _bench.Load) -> str:
    return (
        f"{load.rate:9,.0f} /s  p50 {load.percentile(50):6.1f} ms"
        f"  p99 {load.percentile(99):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="repeat with one fsync per commit, and on a store whose commits are not synced",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 payments")
    parser.add_argument("--dir", default=None, help="where the database files go")
    args = parser.parse_args()
    n = 200 if args.quick else args.payments
    unsynced = per_commit = None
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        (folder / "durable").mkdir()
        create, confirm, succeeded, credits, bare = measure(
            folder / "durable", args.clients, n, args.connections, None, 0.5 if args.quick else 2
        )
        if args.diagnose:
            (folder / "per-commit").mkdir()
            per_commit = measure(
                folder / "per-commit", args.clients, n, args.connections, group_commit=False
            )
            (folder / "unsynced").mkdir()
            unsynced = measure(folder / "unsynced", args.clients, n, args.connections, "NORMAL")
    print(f"machine:                   {_bench.machine()}")
    print(f"payments:                  {n:,} baskets of 2 lines, {args.connections} connections")
    print(f"bare durable commits:      {bare:9,.0f} /s  (SQLite WAL synchronous=FULL, baseline)")
    print(f"create (POST /v1/payments):{_rate(create)}")
    print(f"confirm (signed webhooks): {_rate(confirm)}")
    print(f"ratio confirm / bare:      {confirm.rate / bare:9.3f}")
    print(f"target confirm >= 1,000/s: {'met' if confirm.rate >= 1000 else 'missed'}")
    print(f"check: succeeded {succeeded:,} of {n:,}, ledger credits {credits:,} of {2 * n:,}")
    if per_commit is not None and unsynced is not None:
        # without group commit: each commit syncs the WAL itself, inside the processor's lock
        print(f"fsync per commit create:   {_rate(per_commit[0])}")
        print(f"fsync per commit confirm:  {_rate(per_commit[1])}")
        print(f"fsync per commit check:    {per_commit[2]:,} succeeded, {per_commit[3]:,} credits")
        # what no fsync at all would give: the most any batching of fsyncs could reach
        print(f"unsynced create (diag.):   {_rate(unsynced[0])}")
        print(f"unsynced confirm (diag.):  {_rate(unsynced[1])}")
    for run in filter(None, ((create, confirm, succeeded, credits, bare), per_commit)):
        if run[2] != n or run[3] != 2 * n:
            raise SystemExit("answered confirmations are missing from the store")


if __name__ == "__main__":
    main()
