"""PostgreSQL restarted under a paying fleet (issue 16): the backstop recovers what was in flight.

Real processes on a PostgreSQL cluster of the test's own (``private_pg``: the machine's
shared server is never restarted): one ``pes runner serve`` and one ``pes runner worker``
with the job engine (``daemon.engine = "dbos"``). Client threads pay over HTTP with
Idempotency-Keys; the sandbox acquirer takes most of the payments and drops a share of its
webhooks, so that those payments are only credited when the fleet asks the acquirer about
waiting payments (the backstop). Mid-run the server is stopped (``pg_ctl stop -m fast``:
every session ended, as when a primary goes away in a failover), left down a few seconds
and started again.

Checked afterwards, with neither process restarted: every payment the acquirer took is
credited exactly once (none it did not take); credits plus fees equal the acquirer's
takings; both processes came back by themselves (``/healthz`` answers, their heartbeats
are fresh, the backstop credited payments taken after the restart: the engine's system
database pool is back); the requests the outage cut short were answered ``503
store-unreachable`` (or could not connect), never a 500; no ``internal-error`` in the logs.

The figures (outage, payments in flight, how many the backstop recovered) are printed;
docs/deployment.md quotes a run. The randomness is seeded (``PES_FAILOVER_SEED`` replays
one).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from example_inputs import HOUSE, PERIOD, UK_DOM
from http_client import request
from pes_sdk_runner.store import SqlStore, StoreUnavailable, open_store
from pes_sdk_runner.store.base import LedgerKind
from private_postgres import PrivateCluster
from runner_proc import (
    CLIENT,
    SANDBOX_API_KEY,
    SANDBOX_WEBHOOK_SECRET,
    config_of,
    serving,
    worker,
    write_config,
)

from pes_sdk.gateways.models import PaymentState
from pes_sdk.models.debts import DebtRecord
from pes_sdk.premises import Premises

pytestmark = pytest.mark.slow

#: Seconds of paying before the server is stopped, and after it is back.
BEFORE = 6.0
AFTER = 6.0
#: Seconds the server stays down (plus its own stop and start).
DOWN = 3.0
#: Seconds a client spends on the acquirer's page before paying, drawn from this range.
PAGE_TIME = (0.2, 3.0)
#: The share of webhooks the acquirer never sends: only the backstop credits those.
DROP = 0.3
CLIENT_THREADS = 3
#: How long every payment the acquirer took may take to be credited after the paying ends.
PATIENCE = 40.0
DAEMON = "\n".join(
    [
        "payment_check_interval = 1",
        "payment_check_after = 1",
        "close_concurrency = 1",
        'engine = "dbos"',
        "tick = 1",
    ]
)
ACCOUNTS = (("2001", "Отопление"), ("2002", "Содержание"))


def _events(log: Path) -> list[dict[str, Any]]:
    """The runner's JSON log lines of a process (other lines left out)."""
    found = []
    for line in log.read_text("utf-8").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def test_postgresql_restarted_mid_run_loses_no_payment_and_the_fleet_comes_back_by_itself(
    tmp_path: Path, private_pg: PrivateCluster, private_pg_url: str
) -> None:
    from pes_sdk_sandbox.simulator import AcquirerSimulator, Switches

    seed = int(os.environ.get("PES_FAILOVER_SEED") or random.SystemRandom().randrange(10**9))
    print(f"PES_FAILOVER_SEED={seed}")
    rng = random.Random(seed)
    sim = AcquirerSimulator(
        api_key=SANDBOX_API_KEY,
        webhook_secret=SANDBOX_WEBHOOK_SECRET.encode(),
        seed=seed,
        switches=Switches(webhook_drop_rate=DROP),
    ).start()
    try:
        settings = (
            f'settings = {{ url = "{sim.base_url}", timeout = "5" }}\n'
            'secrets_env = { api_key = "PES_SANDBOX_API_KEY",'
            ' webhook_secret = "PES_SANDBOX_WEBHOOK_SECRET" }'
        )
        path = write_config(
            tmp_path, private_pg_url, {'settings = { timeout = "5" }': settings}, daemon=DAEMON
        )
        config = config_of(path)
        store = open_store(config.store.url)
        try:
            store.upsert_partners(p.partner for p in config.partners)
            debts = [
                DebtRecord(a, HOUSE, Premises("кв. 1"), Decimal("90000.00"), PERIOD, s)
                for a, s in ACCOUNTS
            ]
            store.ingest_debt_registry(UK_DOM, PERIOD, 1, debts, sha256="failover")
            _run(rng, tmp_path, path, private_pg, store, sim)
        finally:
            store.close()
    finally:
        sim.stop()


def _run(
    rng: random.Random,
    tmp_path: Path,
    path: Path,
    cluster: PrivateCluster,
    store: SqlStore,
    sim: Any,
) -> None:
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "w1.log"
    with worker(path, tmp_path, "w1") as w1, serving(path, serve_log) as serve:
        sim.webhook_url = serve.base + "/webhooks/sandbox"
        for account, service in ACCOUNTS:
            accept = {"client_id": "u1", "partner_inn": UK_DOM, "account": account}
            answer = request(
                serve.base,
                "POST",
                "/v1/acceptances",
                accept | {"service": service},
                token=CLIENT,
            )
            assert answer.status == 200, answer.body
        figures = _pay_through_a_restart(rng, serve.base, cluster, store, sim)
        orders, taken, approved_at, restarted_at = figures.pop("_data")
        # This test's own store, idle through the restart: its first call meets the
        # dropped session (the typed error, the call failed), the next reconnects.
        some = uuid.UUID(next(iter(orders)))
        with pytest.raises(StoreUnavailable):
            store.get(some)
        assert store.get(some) is not None

        # Every payment the acquirer took is credited, by its webhook or the backstop.
        last_taken = max(approved_at.values())
        deadline = time.monotonic() + PATIENCE
        while unpaid := [o for o in taken if _state(store, o) is not PaymentState.SUCCEEDED]:
            assert serve.proc.poll() is None, serve_log.read_text("utf-8")[-3000:]
            assert w1.poll() is None, worker_log.read_text("utf-8")[-3000:]
            assert time.monotonic() < deadline, f"not credited: {len(unpaid)} of {len(taken)}"
            time.sleep(0.5)
        figures["all credited (s after the last payment taken)"] = round(
            time.time() - last_taken, 1
        )

        # No workflow of the engine was left hanging by the outage (a PENDING one in a
        # live process would never be recovered, and hold its queue's slot).
        jobs = f"{_schema_of(store.url)}_jobs"
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            [(hanging,)] = conn.execute(
                f"SELECT count(*) FROM {jobs}.workflow_status"
                " WHERE status IN ('PENDING', 'ENQUEUED') AND created_at < %s",
                (int(restarted_at * 1000),),
            ).fetchall()
        assert hanging == 0, f"{hanging} workflows from before the restart still unfinished"

        # Both came back by themselves: the API answers, the heartbeats are fresh.
        assert serve.health()["status"] == "ok"
        beats = {p.role: p.beat_at for p in store.processes()}
        assert set(beats) == {"serve", "worker"}, beats
        deadline = time.monotonic() + 15  # a beat every 5 s
        while min(p.beat_at.timestamp() for p in store.processes()) < restarted_at:
            assert time.monotonic() < deadline, "a process's heartbeat did not come back"
            time.sleep(0.5)
        assert serve.proc.poll() is None and w1.poll() is None
        serve.stop()
    assert w1.returncode == 0, worker_log.read_text("utf-8")[-3000:]

    events = _events(serve_log) + _events(worker_log)
    internal = [e for e in events if e.get("event") == "internal-error"]
    assert not internal, internal
    text = serve_log.read_text("utf-8")
    assert "Exception in ASGI application" not in text, text[-3000:]
    # Credited by the backstop: asked about, found paid, credited then.
    recovered = {
        e["order_id"]
        for e in events
        if e.get("event") == "daemon.payment_checked" and e.get("credited")
    }
    assert recovered <= taken
    after = {o for o in recovered if approved_at[o] > restarted_at}
    refused = [
        e
        for e in events
        if e.get("event") == "store.unavailable" and e.get("path") == "/webhooks/sandbox"
    ]
    figures |= {
        "webhooks dropped by the acquirer": sim.report().webhooks_dropped,
        "webhook deliveries answered 503": len(refused),
        "recovered by the backstop": len(recovered),
        "of them taken after the restart": len(after),
    }
    print("failover:", figures)
    # The backstop worked after the restart: the engine's system database is back.
    assert after, figures
    _check(store, sim, orders, taken)


def _schema_of(url: str) -> str:
    match = re.search(r"search_path%3D(t_[0-9a-f]+)", url)
    assert match is not None, url
    return match[1]


def _state(store: SqlStore, order: str) -> PaymentState | None:
    entry = store.get(uuid.UUID(order))
    return None if entry is None else entry.state


def _pay_through_a_restart(
    rng: random.Random, base: str, cluster: PrivateCluster, store: SqlStore, sim: Any
) -> dict[str, Any]:
    """Clients pay; the server is stopped and started again under them; the figures."""
    stop = threading.Event()
    lock = threading.Lock()
    orders: dict[str, list[Decimal]] = {}
    taken: set[str] = set()
    approved_at: dict[str, float] = {}
    answers: Counter[str] = Counter()
    problems: list[str] = []
    #: (when the client pays on the acquirer's page, its payment id, the order id)
    pages: list[tuple[float, str, str]] = []
    clients_done = threading.Event()
    answered: list[float] = []  # when each 200 came

    def pay(key: str, body: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"{key}: no answer"
            try:
                answer = request(
                    base,
                    "POST",
                    "/v1/payments",
                    body,
                    token=CLIENT,
                    headers={"Idempotency-Key": key},
                    timeout=20,
                )
            except OSError:
                with lock:
                    answers["no connection"] += 1
                time.sleep(0.2)
                continue
            code = "" if answer.status == 200 else answer.json.get("error", "")
            with lock:
                answers[f"{answer.status} {code}".strip()] += 1
            if answer.status == 200:
                with lock:
                    answered.append(time.time())
                view: dict[str, Any] = answer.json
                return view
            # The store away: a clear 503 to retry with the same key, never a 500.
            assert (answer.status, code) == (503, "store-unreachable"), (key, answer.body[:500])
            assert answer.headers.get("retry-after"), answer.headers
            time.sleep(0.2)

    def client(n: int) -> None:
        prng = random.Random(rng.random() + n)
        try:
            k = 0
            while not stop.is_set():
                k += 1
                key = f"failover-{n}-{k}"
                amounts = [Decimal(prng.randrange(100, 100000)).scaleb(-2) for _ in ACCOUNTS]
                body = {
                    "client_id": "u1",
                    "return_url": "https://app.example/back",
                    "lines": [
                        {"partner_inn": UK_DOM, "account": acc, "service": s, "amount": str(v)}
                        for (acc, s), v in zip(ACCOUNTS, amounts, strict=True)
                    ],
                }
                time.sleep(prng.uniform(0.02, 0.2))  # a client's pace, not a load test
                view = pay(key, body)
                with lock:
                    orders[view["order_id"]] = amounts
                    if prng.random() < 0.85:  # the client pays on the acquirer's page, later
                        pages.append(
                            (
                                time.monotonic() + prng.uniform(*PAGE_TIME),
                                view["confirmation"]["url"].rsplit("/", 1)[1],
                                view["order_id"],
                            )
                        )
        except BaseException as exc:
            problems.append(f"client {n}: {exc!r}")

    def acquirer() -> None:
        # Payments are taken on the acquirer's side whatever the store does: through the
        # outage too (their webhooks meet a 503, are retried a few times, then given up).
        try:
            while True:
                with lock:
                    due = [p for p in pages if p[0] <= time.monotonic()]
                    for p in due:
                        pages.remove(p)
                    done = not pages and clients_done.is_set()
                for _, payment_id, order in due:
                    sim.approve(payment_id)
                    with lock:
                        taken.add(order)
                        approved_at[order] = time.time()
                if done:
                    return
                time.sleep(0.05)
        except BaseException as exc:
            problems.append(f"acquirer: {exc!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENT_THREADS)]
    approver = threading.Thread(target=acquirer, name="acquirer")
    for t in [*threads, approver]:
        t.start()
    try:
        time.sleep(BEFORE)
        with lock:
            before = set(taken)
            on_page = len(pages)
        # In flight: taken by the acquirer, not credited in the store when it goes away.
        in_flight = {o for o in before if _state(store, o) is not PaymentState.SUCCEEDED}
        outage = cluster.restart(down=DOWN)
        restarted_at = time.time()
        with lock:
            during = set(taken) - before
        time.sleep(AFTER)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
        clients_done.set()
        approver.join(timeout=120)
    assert not problems, problems
    cut_short = sum(n for a, n in answers.items() if a != "200")
    assert cut_short, answers  # the outage was met by some request
    back = min(t for t in answered if t > restarted_at) - restarted_at
    return {
        "outage (s)": round(outage, 1),
        "first 200 after the server was back (s)": round(back, 1),
        "payments": len(orders),
        "taken": len(taken),
        "taken, not yet credited, at the stop": len(in_flight),
        "on the acquirer's page at the stop": on_page,
        "taken during the outage": len(during),
        "answers": dict(answers),
        "_data": (orders, taken, approved_at, restarted_at),
    }


def _check(store: SqlStore, sim: Any, orders: dict[str, list[Decimal]], taken: set[str]) -> None:
    """Every payment the acquirer took credited once, line by line; none it did not take;
    credits plus fees equal its takings."""
    report = sim.report()
    credits = store.ledger_entries(kind=LedgerKind.CREDIT)
    refs = Counter(e.ref for e in credits)
    assert set(refs.values()) == {1}, [r for r, n in refs.items() if n > 1]
    expected: dict[str | None, Decimal] = {}
    fees = Decimal(0)
    for order, amounts in orders.items():
        entry = store.get(uuid.UUID(order))
        assert entry is not None, order
        if order in taken:
            assert entry.state is PaymentState.SUCCEEDED, order
            expected |= {f"credit:{order}:{i}": v for i, v in enumerate(amounts)}
            fees += sum((ln.client_fee for ln in entry.payment.lines), Decimal(0))
        else:
            assert entry.state is PaymentState.PENDING, (order, entry.state)
    assert {e.ref: e.amount for e in credits} == expected
    assert report.succeeded == len(taken)
    assert sum(expected.values(), Decimal(0)) + fees == report.captured
