"""Two real ``pes runner serve`` processes on one store (the documented scale-out set-up).

* The same Idempotency-Key and body sent to both at once get one answer, every time: the
  store decides who books the order id, and the other process answers with its entry
  (issue 13: 10 × 502 "in the book with other lines" and 4 × 500 UniqueViolation out of
  400 before). One payment in the store, one order at the acquirer; the key with another
  basket is 409 at either process. Issue 16: 400 requests.
* Refunds: one key at both processes refunds once; refunds with their own keys take turns
  in the store and never give back more than was paid.
* One scheduler per store: a second ``serve`` with the scheduler on is refused, naming the
  holder of the store's scheduler lease; once a killed holder's lease expires, a new one
  takes over.

Stores: a SQLite file (several processes on one file are supported: WAL, one writer at a
time) and a fresh PostgreSQL schema (``store_url`` in conftest.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_harness import press_pay
from example_inputs import HOUSE, PERIOD, UK_DOM
from pes_sdk_runner.store import SqlStore, open_store
from runner_proc import (
    ENV,
    PES,
    SANDBOX_API_KEY,
    SANDBOX_WEBHOOK_SECRET,
    config_of,
    serving,
    write_config,
)

from pes_sdk.models.debts import DebtRecord
from pes_sdk.premises import Premises

#: Requests with one key and body, split across the two processes (issue 16: 400).
REQUESTS = 400
BASKET = {
    "client_id": "u1",
    "return_url": "https://app.example/back",
    "lines": [
        {"partner_inn": UK_DOM, "account": "2001", "service": "Отопление", "amount": "100.00"},
        {"partner_inn": UK_DOM, "account": "2002", "service": "Содержание", "amount": "50.50"},
    ],
}


@pytest.fixture
def opened() -> Iterator[list[SqlStore]]:
    stores: list[SqlStore] = []
    yield stores
    for s in stores:
        s.close()


def _scheduler_lease(store_url: str) -> str:
    """The [daemon] of the scheduler-lease tests: one ``serve`` with background work per
    store. On SQLite the job engine (the default) holds that lease as the thread did; on
    PostgreSQL the engine lets any number of processes take part (runner/tests/test_jobs.py),
    so there the lease is the scheduler thread's (``engine = "thread"``)."""
    thread = "" if store_url.startswith("sqlite") else '\nengine = "thread"'
    return f"lease_ttl = {TTL}{thread}"


def _setup(tmp_path: Path, store_url: str, sim_url: str, daemon: str = "") -> tuple[Path, str]:
    settings = (
        f'settings = {{ url = "{sim_url}", timeout = "5" }}\n'
        'secrets_env = { api_key = "PES_SANDBOX_API_KEY",'
        ' webhook_secret = "PES_SANDBOX_WEBHOOK_SECRET" }'
    )
    path = write_config(
        tmp_path, store_url, {'settings = { timeout = "5" }': settings}, daemon=daemon
    )
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return path, config.store.url


@contextlib.contextmanager
def _two_processes(
    tmp_path: Path, store_url: str, opened: list[SqlStore]
) -> Iterator[tuple[Any, Path, SqlStore, Any, Any]]:
    """The sandbox acquirer, and two real `serve` processes on one fresh store (the second
    with --no-daemon) where client u1 has ticked both of УК Дом's services at HOUSE."""
    from pes_sdk_sandbox.simulator import AcquirerSimulator

    sim = AcquirerSimulator(
        api_key=SANDBOX_API_KEY, webhook_secret=SANDBOX_WEBHOOK_SECRET.encode()
    ).start()
    try:
        path, url = _setup(tmp_path, store_url, sim.base_url)
        store = open_store(url)
        opened.append(store)
        store.upsert_partners(p.partner for p in config_of(path).partners)
        debts = [
            DebtRecord("2001", HOUSE, Premises("кв. 1"), Decimal("900.00"), PERIOD, "Отопление"),
            DebtRecord("2002", HOUSE, Premises("кв. 1"), Decimal("80.00"), PERIOD, "Содержание"),
        ]
        store.ingest_debt_registry(UK_DOM, PERIOD, 1, debts, sha256="two-processes")
        with (
            serving(path, tmp_path / "a.log") as a,
            serving(path, tmp_path / "b.log", "--no-daemon") as b,
        ):
            for account, service in (("2001", "Отопление"), ("2002", "Содержание")):
                accept = {"client_id": "u1", "partner_inn": UK_DOM, "account": account}
                status, _ = a.call("POST", "/v1/acceptances", accept | {"service": service})
                assert status == 200
            yield sim, path, store, a, b
    finally:
        sim.stop()


def test_one_key_sent_to_two_processes_at_once_gets_one_answer_and_one_payment(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    with _two_processes(tmp_path, store_url, opened) as (sim, _, store, a, b):
        key = {"Idempotency-Key": f"same-{uuid.uuid4()}"}

        def pay(n: int) -> tuple[int, str]:
            status, view = (a, b)[n % 2].call("POST", "/v1/payments", BASKET, headers=key)
            return status, json.dumps(view, sort_keys=True)

        with ThreadPoolExecutor(16) as pool:
            answers = Counter(pool.map(pay, range(REQUESTS)))
        a_log, b_log = a.log.read_text("utf-8"), b.log.read_text("utf-8")
        # Every answer is the first one: 200 with the same order, created once.
        assert len(answers) == 1, (answers.most_common(4), a_log[-3000:], b_log[-3000:])
        (status, body), count = answers.most_common(1)[0]
        assert (status, count) == (200, REQUESTS), body
        view = json.loads(body)
        assert view["state"] == "pending" and view["total"] == "150.50"
        entries = list(store)
        assert [str(e.order_id) for e in entries] == [view["order_id"]]
        assert len(sim.payments_for(view["order_id"])) == 1
        assert sim.report().payments == 1
        created = [
            ln
            for ln in (a_log + b_log).splitlines()
            if ln.startswith("{") and json.loads(ln).get("event") == "payment.created"
        ]
        assert len(created) == 1
        # The key with another basket, at either process: the documented 409, nothing booked.
        other = {**BASKET, "lines": BASKET["lines"][:1]}
        for proc in (a, b):
            status, refused = proc.call("POST", "/v1/payments", other, headers=key)
            assert (status, refused["error"]) == (409, "idempotency-key-reused"), refused
        assert [str(e.order_id) for e in store] == [view["order_id"]]
        assert sim.report().payments == 1


# -- one scheduler per store ------------------------------------------------------------------

#: The scheduler lease's time to live in these tests (renewed every third of it).
TTL = 2.0


def _serve_once(path: Path) -> subprocess.CompletedProcess[str]:
    """``serve`` with the scheduler on, expected to stop by itself (refused)."""
    import os

    return subprocess.run(
        [str(PES), "runner", "serve", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=60,
        check=False,
    )


def test_a_second_scheduler_is_refused_naming_the_holder_and_takes_over_once_it_is_gone(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    from pes_sdk_runner.lease import SCHEDULER

    path, url = _setup(
        tmp_path, store_url, "http://127.0.0.1:9", daemon=_scheduler_lease(store_url)
    )
    store = open_store(url)
    opened.append(store)
    with serving(path, tmp_path / "a.log") as a:
        lease = store.lease(SCHEDULER)
        assert lease is not None and f"pid {a.proc.pid} " in lease.owner
        time.sleep(TTL * 1.5)  # past the first expiry: the holder renews it
        refused = _serve_once(path)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "another scheduler runs on this store" in refused.stderr
        assert f"pid {a.proc.pid} " in refused.stderr  # the holder, by host and pid
        assert "Traceback" not in refused.stderr
        # The API-only process of the documented set-up is not refused.
        with serving(path, tmp_path / "b.log", "--no-daemon") as b:
            assert b.call("GET", "/healthz")[0] == 200
        a.stop(signal.SIGKILL)  # dies holding the lease: nothing gives it up
    held = store.lease(SCHEDULER)
    assert held is not None and f"pid {a.proc.pid} " in held.owner
    # A restart on the same host (a service manager's) sees the holder's pid gone: at once.
    with serving(path, tmp_path / "c.log") as c:
        taken = store.lease(SCHEDULER)
        assert taken is not None and f"pid {c.proc.pid} " in taken.owner
        out, log = c.stop()
    assert "scheduler stopped" in out or "background work stopped" in out, log
    assert store.lease(SCHEDULER) is None  # a stopped scheduler gives its lease up


def test_a_scheduler_of_another_host_is_waited_out_until_its_lease_expires(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    """Whether a holder on another host lives cannot be told: its lease must expire."""
    from pes_sdk_runner.lease import SCHEDULER

    path, url = _setup(
        tmp_path, store_url, "http://127.0.0.1:9", daemon=_scheduler_lease(store_url)
    )
    store = open_store(url)
    opened.append(store)
    other = "db-2.example pid 4242 (0badcafe)"  # as a runner there writes it, then dies
    held = store.take_lease(SCHEDULER, other, dt.timedelta(seconds=TTL * 2))
    assert held.owner == other
    refused = _serve_once(path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert other in refused.stderr and "daemon.lease_ttl" in refused.stderr
    time.sleep(max((held.expires_at - _utc_now()).total_seconds(), 0) + 0.2)
    with serving(path, tmp_path / "c.log") as c:
        taken = store.lease(SCHEDULER)
        assert taken is not None and f"pid {c.proc.pid} " in taken.owner


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("lines", [{"0": "40.00"}, None], ids=["part", "whole"])
def test_one_refund_key_sent_to_two_processes_at_once_refunds_once(
    lines: dict[str, str] | None, store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    from pes_sdk_runner.store import LedgerKind
    from runner_proc import OPERATOR

    with _two_processes(tmp_path, store_url, opened) as (sim, path, store, a, b):
        status, view = a.call("POST", "/v1/payments", BASKET, headers={"Idempotency-Key": "p"})
        assert status == 200, view
        order = view["order_id"]
        assert sim.flush()
        sim.webhook_url = a.base + config_of(path).http.webhook_path
        press_pay(view["confirmation"]["url"])
        deadline = time.monotonic() + 20
        while a.call("GET", f"/v1/payments/{order}")[1]["state"] != "succeeded":
            assert time.monotonic() < deadline, "the payment was never confirmed"
            time.sleep(0.05)
        key = {"Idempotency-Key": "refund-1"}

        def refund(n: int) -> tuple[int, str]:
            status, view = (a, b)[n % 2].call(
                "POST",
                f"/v1/operator/payments/{order}/refunds",
                {"lines": lines},
                token=OPERATOR,
                headers=key,
            )
            return status, json.dumps(view, sort_keys=True)

        with ThreadPoolExecutor(16) as pool:
            answers = Counter(pool.map(refund, range(REQUESTS // 4)))
        logs = a.log.read_text("utf-8")[-3000:] + b.log.read_text("utf-8")[-3000:]
        assert len(answers) == 1, (answers.most_common(4), logs)
        (status, body), _ = answers.most_common(1)[0]
        assert status == 200, body
        view = json.loads(body)
        assert view["refund_no"] == 1
        entry = store.get(uuid.UUID(order))
        assert entry is not None and entry.refund_count == 1 and entry.pending_refund is None
        assert sim.report().refunded == Decimal(view["refunded"]) == entry.refunded
        refunds = store.ledger_entries(UK_DOM, kind=LedgerKind.REFUND)
        given = Decimal("40.00") if lines else Decimal("150.50")
        assert sum((e.amount for e in refunds), Decimal(0)) == given


def _paid(sim: Any, path: Path, a: Any) -> str:
    """BASKET paid through the sandbox's page, confirmed by its webhook to ``a``."""
    status, view = a.call("POST", "/v1/payments", BASKET, headers={"Idempotency-Key": "p"})
    assert status == 200, view
    order = str(view["order_id"])
    assert sim.flush()
    sim.webhook_url = a.base + config_of(path).http.webhook_path
    press_pay(view["confirmation"]["url"])
    deadline = time.monotonic() + 20
    while a.call("GET", f"/v1/payments/{order}")[1]["state"] != "succeeded":
        assert time.monotonic() < deadline, "the payment was never confirmed"
        time.sleep(0.05)
    return order


def test_refunds_with_their_own_keys_at_two_processes_never_give_back_more_than_was_paid(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    """Eight operators' refunds of 40.00 of the 100.00 line, each with its own key, sent
    at once to both processes: the store decides who refunds (one refund of the payment at
    a time, the amount left read under its lock), so two are made and the others are
    refused as exceeding what is left; the acquirer and the ledger gave back 80.00."""
    from pes_sdk_runner.store import LedgerKind
    from runner_proc import OPERATOR

    with _two_processes(tmp_path, store_url, opened) as (sim, path, store, a, b):
        order = _paid(sim, path, a)

        def refund(n: int) -> tuple[int, str]:
            status, view = (a, b)[n % 2].call(
                "POST",
                f"/v1/operator/payments/{order}/refunds",
                {"lines": {"0": "40.00"}},
                token=OPERATOR,
                headers={"Idempotency-Key": f"refund-{n}"},
            )
            return status, view.get("error") or view["refund_no"]

        with ThreadPoolExecutor(8) as pool:
            answers = Counter(pool.map(refund, range(8)))
        made = sorted(no for (status, no), _ in answers.items() if status == 200)
        assert made == [1, 2], answers
        assert answers[(200, 1)] == answers[(200, 2)] == 1
        assert set(answers) - {(200, 1), (200, 2)} == {(422, "refund-exceeds")}, answers
        entry = store.get(uuid.UUID(order))
        assert entry is not None and entry.refund_count == 2 and entry.pending_refund is None
        assert entry.line_refunded[0] == entry.refunded == Decimal("80.00")
        assert sim.report().refunded == Decimal("80.00")
        refunds = store.ledger_entries(UK_DOM, kind=LedgerKind.REFUND)
        assert sum((e.amount for e in refunds), Decimal(0)) == Decimal("80.00")


_HOLDER = """
import sys, time
from pes_sdk_runner.store import open_store
store = open_store(sys.argv[1], migrate=False)
with store.exclusive(sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_refund_waits_while_another_process_refunds_the_payment_and_not_after_its_death(
    store_url: str, tmp_path: Path
) -> None:
    """Refunds of one payment take turns across processes: the store's lock on the payment
    is held by a process (as the API holds it while the acquirer answers a refund); a
    refund asked meanwhile of another process waits for it, and goes on once that process
    dies (SIGKILL: the lock is the kernel's or the database session's, never left behind)."""
    import sys
    import threading

    from api_harness import OPERATOR, accept, basket, serve

    with serve(store_url, tmp_path) as r:
        accept(r, r.inns[0], "Отопление")
        body = basket(r, (0, "500.00"))
        view = r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": "pay"}).json
        order = view["order_id"]
        paid = r.store.get(uuid.UUID(order))
        assert paid is not None and paid.gateway_payment_id is not None
        r.gateway.simulator.approve(paid.gateway_payment_id)  # type: ignore[attr-defined]
        assert r.call("GET", f"/v1/payments/{order}?refresh=true").json["state"] == "succeeded"

        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, store_url, f"refund:{order}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            answers: list[tuple[int, object]] = []

            def refund() -> None:
                answer = r.call(
                    "POST",
                    f"/v1/operator/payments/{order}/refunds",
                    {"lines": {"0": "100.00"}},
                    token=OPERATOR,
                    headers={"Idempotency-Key": "refund-1"},
                )
                answers.append((answer.status, answer.json))

            asking = threading.Thread(target=refund)
            asking.start()
            asking.join(1.5)
            assert asking.is_alive() and answers == []  # waiting for the other process
            entry = r.store.get(uuid.UUID(order))
            assert entry is not None and entry.pending_refund is None and entry.refunded == 0
            holder.send_signal(signal.SIGKILL)
            asking.join(20)
            assert not asking.is_alive()
        finally:
            holder.kill()
            holder.wait(10)
            if holder.stdout is not None:
                holder.stdout.close()
        assert [(s, v["refund_no"], v["refunded"]) for s, v in answers] == [  # type: ignore[index]
            (200, 1, "100.00")
        ]
        assert r.gateway.simulator.report().refunded == Decimal("100.00")  # type: ignore[attr-defined]


def test_a_scheduler_whose_lease_was_taken_is_told_and_gives_nothing_up(
    store_url: str, opened: list[SqlStore]
) -> None:
    """A holder that could not renew in time (the store away longer than the lease lasts)
    and finds another owner holding it stops its scheduler (``on_lost``)."""
    import threading

    from pes_sdk_runner.lease import SCHEDULER, SchedulerLease

    store = open_store(store_url)
    opened.append(store)
    lost = threading.Event()
    lease = SchedulerLease(store_url, 0.3, on_lost=lost.set)
    assert lease.acquire().owner == lease.owner
    thief = "db-2.example pid 1 (feedf00d)"
    ttl = dt.timedelta(seconds=60)
    assert store.take_lease(SCHEDULER, thief, ttl, replacing=lease.owner).owner == thief
    assert lost.wait(5)
    lease.release()
    held = store.lease(SCHEDULER)
    assert held is not None and held.owner == thief  # not the loser's to give up
