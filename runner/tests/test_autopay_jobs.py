"""Autopay's chaos test (issue 18): consents over two periods, charged by worker processes
on the job engine while a chaos thread SIGKILLs them at random.

Real parts: ``pes runner worker`` processes on a scratch PostgreSQL schema (``pg_url``);
the sandbox acquirer as a loopback server of its own that every process talks to (its
webhooks go nowhere: every one of them is lost, and the workflows learn each charge's fate
by asking); the outbox channel. The notices were sent two days before (the test moves the
planning back, not the workers' clocks): every charge is due when the workers start.

The consents fall in groups by number: most are charged for both periods; some are
cancelled after their notice; some have a limit under the amount due; some clients no
channel reaches (their notice never went out); some cards the bank revoked; some cards
the issuer declines at a charge's first attempt, and a few at every attempt. A charge's
pause before its next attempt (an hour at least) is cut short by the test, which moves the
deferred round's time back, as it moves the notices' (the workers' clocks stay real). At
the end: every charge ended as its group says, after the attempts its group says; every
paying consent charged exactly once per period, nothing taken from the others; the
ledger's credits equal the acquirer's takings; and each charge's client told of it once
of each kind (coming; then paid, or not). The seed is printed; ``PES_AUTOPAY_SEED``
replays one.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from example_inputs import UK_DOM
from pes_sdk_runner.api import processor_for
from pes_sdk_runner.autopay import (
    Autopay,
    attempt_of,
    charge_id_of,
    customer_key_of,
    request_consent,
)
from pes_sdk_runner.notify import Sender, close_queue_clients
from pes_sdk_runner.store import SqlStore, open_store
from pes_sdk_runner.store.autopay import (
    Charge,
    ChargeState,
    Consent,
    ConsentRule,
    consent_id_of,
)
from pes_sdk_runner.store.base import LedgerKind
from pes_sdk_runner.triggers import Triggers, autopay_source
from pes_sdk_sandbox import SandboxGateway
from pes_sdk_sandbox.simulator import AcquirerSimulator
from runner_proc import (
    SANDBOX_API_KEY,
    SANDBOX_WEBHOOK_SECRET,
    config_of,
    wait_started,
    worker,
    write_config,
)

from pes_sdk.gateways.models import PaymentState
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

pytestmark = pytest.mark.slow

CONSENTS = int(os.environ.get("PES_AUTOPAY_CONSENTS", "1000"))
#: How long the workers may take to end every charge.
PATIENCE = float(os.environ.get("PES_AUTOPAY_PATIENCE", "420"))
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
NOV, DEC = Period(2026, 11), Period(2026, 12)
NORMAL, CANCELLED, OVER_LIMIT, UNREACHABLE, REVOKED, DECLINED_ONCE, DECLINED = (
    "normal",
    "cancelled",
    "over_limit",
    "unreachable",
    "revoked",
    "declined_once",  # the first attempt of each charge declined, the second paid
    "declined",  # every attempt declined: the charge fails after its attempts
)


def group(n: int) -> str:
    if n % 50 == 1:
        return DECLINED
    return {1: DECLINED_ONCE, 3: CANCELLED, 5: OVER_LIMIT, 7: UNREACHABLE, 9: REVOKED}.get(
        n % 10, NORMAL
    )


def client(n: int) -> str:
    return f"app:c{n:04d}"


def account(n: int) -> str:
    return f"A{n:05d}"


def registry(store: SqlStore, period: Period, number: int, at: dt.datetime) -> None:
    records = [
        DebtRecord(
            account(n),
            HOUSE,
            Premises(f"кв. {n + 1}"),
            Decimal("900.00") + Decimal(n) / 100 + (Decimal("650.00") if period == DEC else 0),
            service="Содержание жилья",
        )
        for n in range(CONSENTS)
    ]
    store.ingest_debt_registry(UK_DOM, period, number, records, sha256=f"r{number}", received_at=at)


@contextmanager
def acquirer() -> Iterator[AcquirerSimulator]:
    sim = AcquirerSimulator(
        api_key=SANDBOX_API_KEY, webhook_secret=SANDBOX_WEBHOOK_SECRET.encode(), seed=7
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


def _stuck(store: SqlStore, left: list[uuid.UUID]) -> str:
    """Where the unfinished charges stand, and the engine's workflows: for the failure."""
    states = Counter(str(c.state) if (c := store.charge(x)) else "?" for x in left)
    first = store.charge(left[0])
    notice = (
        [(m.status, m.reason) for m in store.messages(autopay_source("upcoming", str(left[0])))]
        if first is not None
        else []
    )
    schema = re.search(r"search_path=(\w+)", urllib.parse.unquote(store.url))
    assert schema is not None
    with store._read() as cur:  # the engine's own table, in the schema beside the store's
        rows = store._x(
            cur,
            f"SELECT name, status, COUNT(*) FROM {schema[1]}_jobs.workflow_status"
            " GROUP BY name, status",
        ).fetchall()
    return f"charges {dict(states)}; first {first}, its notice {notice}; workflows {rows}"


def told(store: SqlStore, charge: Charge) -> dict[str, int]:
    """How many of each notice of the charge were written for its client (its one
    reachable channel, or the one row skipped as ``no-contact``): whether sent yet is the
    notify workflows' business, and may wait for quiet hours."""
    return {
        name: len(store.messages(autopay_source(name, str(charge.charge_id))))
        for name in ("upcoming", "done", "failed")
    }


def pauses_over(store: SqlStore) -> None:
    """Cut short the pause before each declined charge's next attempt (an hour at least):
    its next round may run now. The round's time is moved, not the workers' clocks; the
    round itself is queued by the tick's sweep, as after a real pause."""
    now = dt.datetime.now(dt.UTC)
    with store._tx() as cur:
        store._x(
            cur,
            "UPDATE autopay_charges SET next_at = ? WHERE state = ? AND next_attempt > attempts"
            " AND next_at > ?",
            (store.dialect.ts_in(now), str(ChargeState.CHARGING), store.dialect.ts_in(now)),
        )


def test_consents_over_two_periods_are_charged_once_each_under_sigkills(
    tmp_path: Path, pg_url: str
) -> None:
    seed = int(os.environ.get("PES_AUTOPAY_SEED") or random.SystemRandom().randrange(10**9))
    print(f"PES_AUTOPAY_SEED={seed}")
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    with ExitStack() as stack:
        sim = stack.enter_context(acquirer())
        settings = (
            f'settings = {{ url = "{sim.base_url}", timeout = "5" }}\n'
            'secrets_env = { api_key = "PES_SANDBOX_API_KEY",'
            ' webhook_secret = "PES_SANDBOX_WEBHOOK_SECRET" }'
        )
        path = write_config(
            tmp_path,
            pg_url,
            {'settings = { timeout = "5" }': settings},
            daemon="tick = 1\nscan_interval = 2",
        )
        # a day's notice: the charges planned two and three days back are all due
        path.write_text(
            path.read_text(encoding="utf-8") + "\n[autopay]\nnotice_days = 1\n", encoding="utf-8"
        )
        config = config_of(path)
        store = open_store(config.store.url)
        stack.callback(store.close)
        stack.callback(close_queue_clients)
        store.upsert_partners(p.partner for p in config.partners)
        gateway = SandboxGateway.for_simulator(sim, timeout=10.0)
        stack.callback(gateway.close)

        # November's registry, then each client's first payment with autopay ticked
        registry(store, NOV, 1, now - dt.timedelta(days=5))
        for n in range(CONSENTS):
            if group(n) != UNREACHABLE:
                store.set_contact(client(n), phone=f"+79160{n:06d}")

        def connect(n: int) -> Consent:
            mine = open_store(config.store.url)
            try:
                order = uuid.uuid4()
                request_consent(
                    mine, config, order_id=order, client_id=client(n), partner_inn=UK_DOM,
                    account=account(n), rule=ConsentRule.ON_REGISTRY, day=None,
                    limit=Decimal("1.00") if group(n) == OVER_LIMIT else Decimal("5000.00"),
                    now=now - dt.timedelta(days=4),
                )  # fmt: skip
                line = PaymentLine(UK_DOM, account(n), Decimal("1.00"), service="Содержание жилья")
                first = processor_for(gateway, mine)
                entry = first.start(
                    Payment(order, now - dt.timedelta(days=4), PaymentMethod.CARD, [line]),
                    return_url="https://pay.example/back",
                    customer_key=customer_key_of(client(n)),
                )
                assert entry.gateway_payment_id is not None
                sim.approve(entry.gateway_payment_id)
                assert first.refresh(order).entry.state is PaymentState.SUCCEEDED
                consent = mine.consent(consent_id_of(order))
                assert consent is not None
                return consent
            finally:
                mine.close()

        with ThreadPoolExecutor(8) as pool:
            consents = list(pool.map(connect, range(CONSENTS)))
        attempts = config.autopay.attempts
        for n, c in enumerate(consents):
            if group(n) == REVOKED:
                sim.revoke_method(c.method.method_id)
            declined = {DECLINED_ONCE: 1, DECLINED: attempts}.get(group(n), 0)
            for period in (NOV, DEC):
                charge_id = charge_id_of(c.consent_id, str(period))
                sim.switches.decline_orders.update(
                    (str(attempt_of(charge_id, a)[0]), "insufficient_funds")
                    for a in range(1, declined + 1)
                )

        # Each period planned and its notices sent two days back (the charge is due a day
        # after its notice went out): the workers find every charge due.
        sender = Sender(config, get_host())
        stack.callback(sender.close)

        def plan(period: Period, at: dt.datetime) -> None:
            def send(_source: str, ids: list[int]) -> None:
                sender.send_batch(store, ids, "test", now=lambda: at)

            charges = Autopay(store, config, Triggers(store, config, enqueue=send)).plan_registry(
                UK_DOM, period, at
            )
            # The channel stamps a notice with the moment it took it (now); the test moved
            # the planning back, so it moves the stamps back with it.
            with store._tx() as cur:
                for c in charges:
                    store._x(
                        cur,
                        "UPDATE messages SET sent_at = ? WHERE source = ? AND status = 'sent'",
                        (store.dialect.ts_in(at), autopay_source("upcoming", str(c.charge_id))),
                    )

        plan(NOV, now - dt.timedelta(days=3))
        registry(store, DEC, 2, now - dt.timedelta(days=2, hours=12))
        plan(DEC, now - dt.timedelta(days=2))
        for n, c in enumerate(consents):
            if group(n) == CANCELLED:
                store.cancel_consent(c.consent_id, now - dt.timedelta(days=1))

        # The workers, and a chaos thread killing one at random and starting it again
        procs: dict[str, subprocess.Popen[str]] = {}
        stop = threading.Event()
        lock = threading.Lock()

        def start(wid: str) -> None:
            cm = worker(path, tmp_path, wid)
            procs[wid] = stack.enter_context(cm)

        for wid in ("w1", "w2"):
            start(wid)
        for wid in ("w1", "w2"):
            wait_started(tmp_path, wid, procs[wid], 120)
        kills = Counter[str]()

        def chaos() -> None:
            while not stop.wait(rng.uniform(1.5, 4.0)):
                wid = rng.choice(sorted(procs))
                with lock:
                    procs[wid].send_signal(signal.SIGKILL)
                    procs[wid].wait(timeout=10)
                    kills[wid] += 1
                    start(wid)

        thread = threading.Thread(target=chaos, daemon=True)
        thread.start()
        deadline = time.monotonic() + PATIENCE
        chaos_until = time.monotonic() + 30
        try:
            while True:
                if time.monotonic() > chaos_until:
                    stop.set()
                pauses_over(store)
                left = store.unfinished_charges(now + dt.timedelta(days=30))
                if not left:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"{len(left)} charges not ended in time: {_stuck(store, left)}")
                time.sleep(1.0)
        finally:
            stop.set()
            thread.join(timeout=30)
        print(f"kills: {dict(kills)}")

    # -- the invariants ---------------------------------------------------------------------
    store = open_store(config.store.url)
    try:
        expected = {
            NORMAL: ChargeState.PAID,
            CANCELLED: ChargeState.CANCELLED,
            OVER_LIMIT: ChargeState.OVER_LIMIT,
            UNREACHABLE: ChargeState.FAILED,
            REVOKED: ChargeState.FAILED,
            DECLINED_ONCE: ChargeState.PAID,
            DECLINED: ChargeState.FAILED,
        }
        #: the attempts a charge of each group makes (none: not sent to the acquirer)
        tries = {NORMAL: 1, REVOKED: 1, DECLINED_ONCE: 2, DECLINED: attempts}
        paying = (NORMAL, DECLINED_ONCE)
        taken = Decimal(0)
        autopay_orders: set[uuid.UUID] = set()
        for n, c in enumerate(consents):
            charges = [x for x in store.charges_of(c.client_id) if x.consent_id == c.consent_id]
            assert sorted(x.period for x in charges) == [str(NOV), str(DEC)], n
            assert {x.state for x in charges} == {expected[group(n)]}, (n, group(n), charges)
            charged = sim.charges_of(c.method.method_id)
            assert len(charged) == (2 if group(n) in paying else 0), (n, group(n), charged)
            taken += sim.taken_from(c.method.method_id)
            for x in charges:
                assert x.attempts == tries.get(group(n), 0), (n, group(n), x)
                if group(n) == UNREACHABLE:
                    assert x.reason == "notice not sent"
                if group(n) == DECLINED:
                    assert x.reason == f"declined {attempts} times", (n, x)
                assert told(store, x) == {
                    "upcoming": 1,
                    "done": 1 if group(n) in paying else 0,
                    "failed": 1 if group(n) in (OVER_LIMIT, REVOKED, DECLINED) else 0,
                }, (n, group(n), x)
                for a in range(1, x.attempts + 1):
                    autopay_orders.add(attempt_of(x.charge_id, a)[0])
        credits = sum(
            (
                e.amount
                for e in store.ledger_entries(kind=LedgerKind.CREDIT)
                if e.order_id in autopay_orders
            ),
            Decimal(0),
        )
        assert credits == taken, "the ledger credits exactly what the acquirer took"
    finally:
        store.close()
