"""The store decides, not a process: what several runner processes on one store do at once.

Issue 16 ("no correctness rests on a process"): in-process locks are only optimisations;
the store's unique keys, row locks and cross-process locks decide

* who books a payment for an order id (one insert wins; every loser reads its entry),
* who closes a partner-day (one closer at a time per partner, across processes: a second
  closer waits and gets the first one's registry, number and bytes),
* who hands a closed registry over to the partner (one run at a time per delivery),
* who applies the migrations of a fresh database (each once, however many start together).

The two-``serve`` tests (one Idempotency-Key, refunds) are in test_two_processes.py.
Stores: a SQLite file and a fresh PostgreSQL schema (``store_url`` in conftest.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from example_inputs import DAY, UK_DOM, VODOKANAL, basket_lines, book, paid_entry, receive_debts
from pes_sdk_runner.close import close_day, deliver_pending
from pes_sdk_runner.config import ChannelConfig, example_config_path, load_runner_config
from pes_sdk_runner.store import DeliveryInfo, DeliveryStatus, SqlStore, open_store
from pes_sdk_runner.store.migrate import known_migrations
from runner_proc import ENV, config_of, pes_runner, write_config

from pes_sdk.billing.contract import DeliveryChannel
from pes_sdk.billing.models import DeliveryReceipt
from pes_sdk.billing.models import DeliveryStatus as ChannelStatus
from pes_sdk.billing.retry import BillingRetry
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.delivery import Delivery
from pes_sdk.models.payments import Payment, PaymentMethod, PaymentRegistry
from pes_sdk.plugins import hookimpl
from pes_sdk.plugins.manager import PluginHost

NEXT = DAY + dt.timedelta(days=1)


@pytest.fixture
def opened() -> Iterator[list[SqlStore]]:
    stores: list[SqlStore] = []
    yield stores
    for s in stores:
        s.close()


# -- who books a payment ----------------------------------------------------------------------


def test_one_order_booked_at_once_by_processors_sharing_no_lock_is_booked_once(
    store_url: str, opened: list[SqlStore]
) -> None:
    """Eight processors, each with its own store connection and its own in-process lock
    (as eight processes have): the store's insert decides who books the order id, and every
    other one answers with the winner's entry (its acquirer key), none with an error."""
    first = open_store(store_url)
    opened.append(first)
    stores = [first] + [open_store(store_url, migrate=False) for _ in range(7)]
    opened.extend(stores[1:])
    processors = [PaymentProcessor(_NoGateway(), store=s) for s in stores]  # type: ignore[arg-type]
    order = uuid.uuid4()
    lines = basket_lines(UK_DOM, ("100.00", "0.50"))
    at = dt.datetime.now(dt.UTC)
    start = threading.Barrier(len(processors))

    def book_one(n: int) -> tuple[str, Payment]:
        start.wait(10)
        mine = Payment(order, at + dt.timedelta(microseconds=n), PaymentMethod.CARD, lines)
        entry = processors[n].book(mine)
        return entry.idempotency_key, entry.payment

    with ThreadPoolExecutor(len(processors)) as pool:
        answers = list(pool.map(book_one, range(len(processors))))
    assert len(set(answers)) == 1, answers  # one key, one payment (one created_at)
    booked = [e for e in first if e.order_id == order]
    assert [(e.idempotency_key, e.payment) for e in booked] == answers[:1]


class _NoGateway:
    """Booking never calls the acquirer."""


def test_a_payment_locked_on_one_connection_holds_up_every_writer_of_it_on_another(
    store_url: str, opened: list[SqlStore]
) -> None:
    """``Store.locked`` (the processor's read-modify-write of an entry: a webhook, a
    refund) locks the payment's row itself (PostgreSQL; SQLite: the write lock), so a
    write of the payment from another process waits for the block, whatever path it
    takes; an advisory lock on a key derived from the order would hold up only those who
    ask for the same key (a plain ``put`` went through at once)."""
    first = open_store(store_url)
    second = open_store(store_url, migrate=False)
    opened += [first, second]
    lines = basket_lines(UK_DOM, ("100.00",))
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
    entry = PaymentEntry(payment, "key-locked", line_refunded=(Decimal(0),))
    first.add(entry)
    written = threading.Event()

    def write() -> None:
        second.put(attrs.evolve(entry, gateway_payment_id="gw-from-another-process"))
        written.set()

    writer = threading.Thread(target=write)
    with first.locked(payment.payment_id):
        held = first.get(payment.payment_id)
        writer.start()
        assert not written.wait(0.5)  # waits for the lock holder's block to end
        assert held is not None and held.gateway_payment_id is None
    writer.join(20)
    assert written.is_set()
    after = first.get(payment.payment_id)
    assert after is not None and after.gateway_payment_id == "gw-from-another-process"


def test_two_threads_of_one_process_take_turns_on_an_exclusive_key(store: SqlStore) -> None:
    """``Store.exclusive`` excludes the threads of one process too: on SQLite the kernel's
    byte-range lock belongs to the process, so a second thread "took" it at once and its
    release dropped it under the first (two closers of a partner in one process)."""
    inside = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with store.exclusive("close:5003012349"):
            inside.set()
            release.wait(20)

    def second() -> None:
        with store.exclusive("close:5003012349"):
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(20)
    b = threading.Thread(target=second)
    b.start()
    assert not second_in.wait(0.5)  # waits for the first thread's block
    with store.exclusive("close:7720123457"):  # another key is free meanwhile
        pass
    release.set()
    a.join(20)
    b.join(20)
    assert second_in.is_set()


def test_an_exclusive_lock_is_held_while_its_block_runs_and_survives_a_dropped_session(
    store_url: str, opened: list[SqlStore]
) -> None:
    """PostgreSQL keeps the session of an ``exclusive`` block for the next one (a new one
    per lock cost ~10 ms): the lock is given back at the block's end, and a kept session
    the server dropped meanwhile (a restart, an operator's terminate) is replaced."""
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite's exclusive keeps no session: a byte-range lock of a file")
    store = open_store(store_url)
    other = open_store(store_url, migrate=False)
    opened += [store, other]
    key = f"test:{uuid.uuid4()}"  # advisory locks are the database's, not the schema's

    def free() -> bool:
        with other._read() as cur:
            got = bool(
                other._x(cur, "SELECT pg_try_advisory_lock(hashtext(?))", (key,)).fetchone()[0]
            )
            if got:
                other._x(cur, "SELECT pg_advisory_unlock(hashtext(?))", (key,))
        return got

    with store.exclusive(key):
        assert not free()
    assert free()
    kept = store.dialect._lock_sessions  # type: ignore[attr-defined]
    assert len(kept) == 1
    with other._read() as cur:
        other._x(cur, "SELECT pg_terminate_backend(?)", (kept[0].info.backend_pid,))
    with store.exclusive(key):
        assert not free()
    assert free()


# -- who closes a partner-day -----------------------------------------------------------------

#: Closers of the same days started together.
CLOSERS = 3


def _paid(n: int, inn: str, at: dt.datetime, *amounts: str) -> PaymentEntry:
    return paid_entry(at, basket_lines(inn, amounts, account=f"20{n}"), n)


def _files(data: Path) -> dict[str, bytes]:
    return {
        p.relative_to(data).as_posix(): p.read_bytes()
        for sub in ("outbox", "transfers")
        for p in sorted((data / sub).rglob("*"))
        if p.is_file() and not p.name.endswith(".part")
    }


def test_closers_of_the_same_days_at_once_get_one_result_while_late_payments_come_in(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    """Three ``pes runner close-day`` processes close the same two days at once while late
    confirmations of the first day keep coming in (a payment captured on DAY, its news
    after or during the close). Every closer succeeds with the first one's result: the
    partner's closes take turns across processes (the store's lock), so a second closer
    reads the registry recorded and its credits, never its own view of the open credits
    (which, a late credit later, differs: "closed before with other figures" on the old
    code). Numbers are gapless, each credit is in at most one registry, each file agrees
    with the store, and closing again writes the same bytes."""
    path = write_config(tmp_path, store_url)
    config = config_of(path)
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    opened.append(store)
    store.upsert_partners(p.partner for p in config.partners)
    zone = config.service.time_zone
    receive_debts(store, VODOKANAL, dt.datetime.combine(DAY, dt.time(8), tzinfo=zone))
    for n, hh in enumerate((9, 12, 15), start=1):
        at = dt.datetime.combine(DAY, dt.time(hh), tzinfo=zone)
        book(store, _paid(n, UK_DOM, at, "100.00", "20.05"))
    book(store, _paid(9, UK_DOM, dt.datetime.combine(NEXT, dt.time(10), tzinfo=zone), "7.00"))

    stop = threading.Event()
    late: list[int] = []

    def pay_late() -> None:
        # Captured on DAY at 13:00, confirmed now: open until a registry takes it.
        payer = open_store(config.store.url, migrate=False)
        try:
            n = 100
            at = dt.datetime.combine(DAY, dt.time(13), tzinfo=zone)
            while not stop.is_set():
                book(payer, _paid(n, UK_DOM, at, "1.00"))
                late.append(n)
                n += 1
                stop.wait(0.002)
        finally:
            payer.close()

    payer = threading.Thread(target=pay_late)
    payer.start()
    try:
        with ThreadPoolExecutor(CLOSERS) as pool:
            done = list(
                pool.map(
                    lambda _: pes_runner(["close-day", "--config", str(path), "--date", f"{NEXT}"]),
                    range(CLOSERS),
                )
            )
    finally:
        stop.set()
        payer.join(30)
    assert late, "no late payment came in while the days were closed"
    for proc in done:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # Each closer printed the same registry of NEXT (number, count, sums) for each partner
    # (DAY's is printed by whichever found it open: "closing … first").
    printed = [sorted(ln for ln in p.stdout.splitlines() if f"of {NEXT}," in ln) for p in done]
    assert len(printed[0]) == 2, done[0].stdout  # УК Дом and Водоканал (Теплосеть: none)
    assert all(lines == printed[0] for lines in printed), printed

    data = config.service.data
    files = _files(data)
    carried: list[int] = []
    for p in config.partners:
        registries = store.payment_registries(p.inn)
        assert [r.number for r in registries] == list(range(1, len(registries) + 1)), p.inn
        assert [r.day for r in registries] == sorted(r.day for r in registries), p.inn
        for r in registries:
            credits = store.registry_credits(r.id)
            carried += [e.id for e in credits if e.id is not None]
            assert (len(credits), sum((e.amount for e in credits), Decimal(0))) == (
                r.count,
                r.amount,
            ), (p.inn, r.number)
    assert len(carried) == len(set(carried))  # no credit in two registries
    uk = store.payment_registries(UK_DOM)
    assert [r.day for r in uk] == [DAY, NEXT]
    # One registry file per registry recorded: no closer wrote one of its own.
    assert len([n for n in files if n.startswith("outbox/")]) == sum(
        len(store.payment_registries(p.inn)) for p in config.partners
    )
    # A re-close of both days is byte-identical (and takes no number).
    again = pes_runner(["close-day", "--config", str(path), "--date", f"{NEXT}"])
    assert again.returncode == 0, again.stderr
    assert _files(data) == files
    assert [r.number for r in store.payment_registries(UK_DOM)] == [1, 2]


# -- who hands a registry over ----------------------------------------------------------------


class _Recorder:
    """A plugin that records the core event ``registry_delivered``."""

    def __init__(self) -> None:
        self.events: list[Delivery] = []

    @hookimpl
    def pes_registry_delivered(self, delivery: Delivery) -> None:
        self.events.append(delivery)


class _SlowSystem(DeliveryChannel):
    """A partner's system that takes its time to accept (until ``release``), counting the
    registries handed to it."""

    name = "partner-system"

    def __init__(self) -> None:
        self.handed: list[tuple[str, int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        self.handed.append((registry.partner_inn, registry.number))
        self.entered.set()
        self.release.wait(20)
        return DeliveryReceipt(
            registry.partner_inn,
            registry.number,
            ChannelStatus.ACCEPTED,
            f"r-{registry.number}",
            dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
            self.name,
            "partner-system",
        )


def test_two_runs_delivering_at_once_hand_a_registry_over_once(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    """Two delivery runs at once (a ``close-day`` and a worker), each on its own
    connection: the store's lock on the delivery lets one hand the registry over; the other
    waits, finds it acknowledged and leaves it. One hand-over, one attempt, one event (on
    the old code: two of each)."""
    host = PluginHost()
    recorder = _Recorder()
    host.register(recorder, name="test-recorder")
    config = load_runner_config(example_config_path(), host, env=ENV, data=tmp_path / "data")
    partners = tuple(
        attrs.evolve(p, channel=ChannelConfig(kind="partner-system")) if p.inn == UK_DOM else p
        for p in config.partners
    )
    config = attrs.evolve(config, partners=partners)
    uk = config.partner(UK_DOM)
    assert uk is not None
    first = open_store(store_url)
    second = open_store(store_url, migrate=False)
    opened += [first, second]
    first.upsert_partners(p.partner for p in config.partners)
    zone = config.service.time_zone
    book(first, _paid(1, UK_DOM, dt.datetime.combine(DAY, dt.time(10), tzinfo=zone), "10.00"))
    now = dt.datetime.now(dt.UTC)
    close_day(first, config, host, uk, DAY, now=now)
    system = _SlowSystem()
    retry = BillingRetry(attempts=1, initial_wait=0, max_wait=0, sleep=lambda _: None)
    runs: dict[str, list[DeliveryInfo]] = {}

    def run(name: str, store: SqlStore) -> None:
        runs[name] = deliver_pending(
            store, config, host, now=now, retry=retry, channels=lambda _: system
        )

    a = threading.Thread(target=run, args=("a", first))
    a.start()
    assert system.entered.wait(20)  # the first run is handing it over
    b = threading.Thread(target=run, args=("b", second))
    b.start()
    b.join(0.5)  # the second run, meanwhile, waits for it (on the old code: hands it over)
    system.release.set()
    a.join(20)
    b.join(20)
    assert system.handed == [(UK_DOM, 1)]
    assert [(d.status, d.attempts) for d in runs["a"] if d.target == UK_DOM] == [
        (DeliveryStatus.ACKNOWLEDGED, 1)
    ]
    assert [d for d in runs["b"] if d.target == UK_DOM] == []  # done by the first run
    assert [(e.partner_inn, e.number) for e in recorder.events] == [(UK_DOM, 1)]
    [delivery] = [d for d in first.deliveries() if d.target == UK_DOM]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.ACKNOWLEDGED, 1)


# -- who migrates a fresh database ------------------------------------------------------------

_OPEN = """
import sys
from pes_sdk_runner.store import open_store
store = open_store(sys.argv[1])
print(store.schema_version())
store.close()
"""


def test_processes_started_at_once_on_a_fresh_database_apply_each_migration_once(
    store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    """Six processes open (and so migrate) one fresh database at the same moment: every one
    starts, on the newest schema, and each migration was applied once (one row each in
    ``schema_migrations``, whose primary key would refuse a second)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    newest = len(known_migrations())
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == str(newest)
    store = open_store(store_url, migrate=False)
    opened.append(store)
    assert store.migrate() == []  # nothing left to apply
    with store._read() as cur:
        rows = store._x(cur, "SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [int(r[0]) for r in rows] == list(range(1, newest + 1))


# -- a connection the server dropped ------------------------------------------------------


def test_a_store_whose_connection_the_server_dropped_connects_again(
    store_url: str, open_more: Callable[[], SqlStore]
) -> None:
    """A failover or a restart of PostgreSQL drops every session: the call that meets the
    loss fails, the next ones work again, without restarting the process."""
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop the connection")
    store, other = open_more(), open_more()
    before = store.schema_version()
    with other._read() as cur:
        other._x(cur, "SELECT pg_terminate_backend(?)", (store._conn.info.backend_pid,))
    with contextlib.suppress(Exception):  # the call that meets the loss fails
        store.schema_version()
    assert store.schema_version() == before  # what /healthz asks
    with other._read() as cur:
        other._x(cur, "SELECT pg_terminate_backend(?)", (store._conn.info.backend_pid,))
    with contextlib.suppress(Exception):
        store.partners()
    assert store.partners() == other.partners()  # reads and writes
