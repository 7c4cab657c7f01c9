"""Crash safety: the real runner killed with SIGKILL at named points, restarted, checked.

Each test runs a real ``pes runner`` command (``scan``, ``close-day``, ``serve``) as a
subprocess with ``PES_RUNNER_CRASH_AT`` naming a point of
:data:`pes_sdk_runner.crashpoints.CRASH_POINTS`, sees it die of SIGKILL (return code -9),
looks at what the death left, runs the command again without the variable and checks:

* no payment lost or doubled: each paid basket has exactly one ledger credit per line, and
  the credits (plus the clients' fees) add up to what the acquirer says it captured;
* no partial file under a final name: every file of ``outbox/`` and ``transfers/`` reads
  strictly with its format, its control totals hold, and it is byte for byte the file of
  an uninterrupted run; a leftover is only ever a hidden ``.NAME.*.part`` temporary file;
* gapless registry numbers 1..n per partner, and one delivery per registry, acknowledged;
* ingest: the registry is active once with all its rows, the file is in ``processed/``
  once with its report and quarantined rows, the inbox holds nothing else, and the same
  file again is a duplicate.

Stores: a SQLite file and a fresh PostgreSQL schema (``store_url`` in conftest.py).
See docs/runner-crash-safety.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pes_sdk_runner
import pytest
from api_harness import press_pay
from example_inputs import (
    DAY,
    HOUSE,
    PERIOD,
    TEPLOSET,
    UK_DOM,
    VODOKANAL,
    basket_lines,
    book,
    paid_entry,
    receive_debts,
    write_sber_debts,
)
from pes_sdk_runner.close import day_window
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.crashpoints import CRASH_POINTS, ENV_VAR
from pes_sdk_runner.store import DeliveryStatus, SqlStore, open_store
from pes_sdk_runner.store.base import LedgerKind, PaymentRegistryInfo
from runner_proc import (
    SANDBOX_API_KEY,
    SANDBOX_WEBHOOK_SECRET,
    config_of,
    killed,
    pes_runner,
    serving,
    write_config,
)

from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import StatementEntry
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

NEXT = DAY + dt.timedelta(days=1)
TEMP = re.compile(r"^\.(?P<final>.+)\.[^.]+\.part$")  # pes_sdk.files.atomic_path's names

#: Each point with the hit to die at; the day close runs the partners in the configuration's
#: order (УК Дом, Водоканал, Теплосеть), so ``@2`` reaches the second file or partner.
INGEST_POINTS = [
    "ingest.mid-registry",
    "ingest.stored",
    "ingest.report-written",
    "ingest.half-moved",
]
PAYMENT_POINTS = [
    "payment.paid-before-commit@2",
    "payment.paid-committed@2",
    "payment.webhook-applied@2",
]
CLOSE_POINTS = [
    "close.number-recorded",
    "close.number-recorded@2",
    "close.file-temp-written",  # УК Дом's transfer order
    "close.file-temp-written@2",  # УК Дом's registry
    "close.transfer-written",
    "close.registry-written",
    "close.registry-written@3",  # Теплосеть, after two partners were closed whole
    "close.ledger-booked",
    "deliver.recorded",
    "deliver.recorded@3",
]
DELIVERY_POINTS = ["deliver.accepted", "deliver.recorded"]  # through an adapter channel
#: notifications: test_notify_jobs.py kills real workers at these
NOTIFY_POINTS = ["notify.sent-not-recorded", "notify.recorded"]
#: Points run on PostgreSQL as well as SQLite: every payment and delivery point, and each
#: close and ingest point once (its ``@N`` variants and the ingest's file-system points add
#: nothing a database would change, and the file stays under a minute).
ON_POSTGRES = {
    "ingest.mid-registry",
    "close.number-recorded",
    "close.file-temp-written",
    "close.transfer-written",
    "close.registry-written",
    "close.ledger-booked",
    "deliver.recorded",
}


def on_stores(points: list[str]) -> list[tuple[str, str]]:
    """(point, store) pairs for ``store_url`` (conftest.py): SQLite always, PostgreSQL some."""
    return [(p, "sqlite") for p in points] + [(p, "postgresql") for p in points if p in ON_POSTGRES]


# -- the inputs -------------------------------------------------------------------------------

#: (order number, partner, local day, hour, minute, line amounts): the same in every run.
BASKETS = [
    (1, UK_DOM, DAY, 9, 30, ("1000.00", "234.56")),
    (2, UK_DOM, DAY, 19, 59, ("99.99",)),
    (3, TEPLOSET, DAY, 12, 0, ("500.00",)),
    (4, UK_DOM, DAY, 20, 0, ("10.01",)),  # at the cut-off: УК Дом's next day
    (5, VODOKANAL, NEXT, 11, 0, ("77.70", "0.30")),
]
#: Registries per partner after closing DAY and NEXT (Водоканал's empty DAY has one too: its
#: debt registry came in on DAY, so it is served from then).
REGISTRIES = {UK_DOM: 2, VODOKANAL: 2, TEPLOSET: 1}


def _entry(n: int, inn: str, at: dt.datetime, amounts: tuple[str, ...]) -> PaymentEntry:
    return paid_entry(at, basket_lines(inn, amounts, account=f"10{n}"), n)


def book_baskets(config: RunnerConfig) -> None:
    """The paid baskets, credited at their (past) times, as the processor records them."""
    if config.store.sqlite_path is not None:
        config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        zone = config.service.time_zone
        receive_debts(store, VODOKANAL, dt.datetime.combine(DAY, dt.time(8), tzinfo=zone))
        for n, inn, day, hh, mm, amounts in BASKETS:
            at = dt.datetime.combine(day, dt.time(hh, mm), tzinfo=zone).astimezone(dt.UTC)
            book(store, _entry(n, inn, at, amounts))
    finally:
        store.close()


def close(
    path: Path, day: dt.date, *, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    return pes_runner(["close-day", "--config", str(path), "--date", f"{day}"], crash_at=crash_at)


def files_of(data: Path) -> tuple[dict[str, bytes], list[str]]:
    """The files of ``outbox/`` and ``transfers/``: final names with bytes, temporary names."""
    final: dict[str, bytes] = {}
    temp: list[str] = []
    for sub in ("outbox", "transfers"):
        for p in sorted((data / sub).rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(data).as_posix()
            if TEMP.match(p.name):
                temp.append(rel)
            else:
                final[rel] = p.read_bytes()
    return final, temp


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of an uninterrupted close of DAY then NEXT, on a store of its own."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_config(folder)
    book_baskets(config_of(path))
    for day in (DAY, NEXT):
        done = close(path, day)
        assert done.returncode == 0, done.stderr
    final, temp = files_of(folder / "data")
    assert temp == []
    return final


# -- checks -----------------------------------------------------------------------------------


@pytest.fixture
def opened() -> Iterator[list[SqlStore]]:
    stores: list[SqlStore] = []
    yield stores
    for s in stores:
        s.close()


def store_of(config: RunnerConfig, opened: list[SqlStore]) -> SqlStore:
    store = open_store(config.store.url)
    opened.append(store)
    return store


def check_files(config: RunnerConfig, store: SqlStore, final: dict[str, bytes]) -> None:
    """Every final file reads strictly with its format and agrees with the store."""
    host = get_host()
    data = config.service.data
    registries = {
        (p.inn, r.number): r for p in config.partners for r in store.payment_registries(p.inn)
    }
    by_id = {r.id: r for r in registries.values()}
    formats = {
        str(p.channel.folder.relative_to(data).as_posix()): p.channel.format
        for p in config.partners
        if p.channel.folder is not None
    }
    partners = {
        str(p.channel.folder.relative_to(data).as_posix()): p.inn
        for p in config.partners
        if p.channel.folder is not None
    }
    orders = 0
    for rel in final:
        path = data / rel
        folder = path.parent.relative_to(data).as_posix()
        if folder == "transfers":
            number, amount = _order_of(path)
            assert amount == by_id[number].transfer, rel
            orders += 1
            continue
        fmt_name = formats[folder]
        assert fmt_name is not None
        with host.format(fmt_name).open(path) as reader:  # strict: control totals checked
            number = reader.header.number  # from the file's name or head
            records = [r for r in reader if isinstance(r, PaymentRecord)]
            control = reader.header.control  # a footer's totals are read last
        assert control is not None, rel
        assert control.count == len(records), rel
        paid = sum((r.amount for r in records), Decimal(0))
        assert control.sums["amount"] == paid, rel
        if number is None:  # a format without it: the runner's name <ИНН>_<ГГГГММДД>_<N>
            named = re.search(r"_(\d+)\.[a-z]+$", path.name)
            assert named is not None, rel
            number = int(named[1])
        info = registries[(partners[folder], number)]
        assert (info.count, info.amount) == (len(records), paid), rel
        assert sum((r.fee for r in records), Decimal(0)) == info.fee, rel
    assert orders == sum(1 for r in registries.values() if r.transfer > 0 and _orders(config, r))


def _order_of(path: Path) -> tuple[int, Decimal]:
    """A transfer order's number (the registry's store id) and sum, read whole.

    The formats read bank statements, not orders: 1c-clientbank's reader takes the
    document section as a statement entry; a 1c-directbank PayDocRu is plain XML.
    """
    if path.suffix == ".xml":
        ns = "{http://directbank.1c.ru/XMLSchema}"
        data = ElementTree.parse(path).getroot().find(f"{ns}Data")
        assert data is not None, path
        return int(data.findtext(f"{ns}DocNo") or ""), Decimal(data.findtext(f"{ns}Sum") or "")
    with get_host().format("1c-clientbank").open(path) as reader:
        [entry] = [e for e in reader if isinstance(e, StatementEntry)]
    return int(entry.doc_number), entry.amount


def _orders(config: RunnerConfig, info: PaymentRegistryInfo) -> bool:
    return any(p.inn == info.partner_inn and p.transfer_format for p in config.partners)


def check_ledger_and_numbers(config: RunnerConfig, store: SqlStore) -> None:
    """Credits once per line; fees and transfers once per registry; numbers 1..n."""
    credits = store.ledger_entries(kind=LedgerKind.CREDIT)
    expected = {
        f"credit:{uuid.UUID(int=n)}:{i}": Decimal(a)
        for n, _, _, _, _, amounts in BASKETS
        for i, a in enumerate(amounts)
    }
    assert {e.ref: e.amount for e in credits} == expected
    assert len(credits) == len(expected)
    deliveries = store.deliveries()
    for p in config.partners:
        registries = store.payment_registries(p.inn)
        assert [r.number for r in registries] == list(range(1, REGISTRIES[p.inn] + 1))
        for r in registries:
            own = [e for e in store.ledger_entries(p.inn) if e.registry_id == r.id]
            assert len({e.ref for e in own}) == len(own)
            fees = sum((e.amount for e in own if e.kind is LedgerKind.FEE), Decimal(0))
            moved = sum((e.amount for e in own if e.kind is LedgerKind.TRANSFER), Decimal(0))
            assert (fees, moved) == (r.fee, r.transfer)
            mine = [d for d in deliveries if d.registry_id == r.id]
            assert [d.status for d in mine] == [DeliveryStatus.ACKNOWLEDGED]


# -- day close and delivery ---------------------------------------------------------------------


@pytest.mark.parametrize(("point", "store_url"), on_stores(CLOSE_POINTS), indirect=["store_url"])
def test_a_day_close_killed_at_a_point_is_completed_by_the_rerun_byte_for_byte(
    point: str,
    store_url: str,
    tmp_path: Path,
    reference: dict[str, bytes],
    opened: list[SqlStore],
) -> None:
    path = write_config(tmp_path, store_url)
    config = config_of(path)
    book_baskets(config)

    crashed = close(path, DAY, crash_at=point)

    assert killed(crashed), (crashed.returncode, crashed.stderr)
    final, temp = files_of(tmp_path / "data")
    # Whatever the moment, a file under its final name is the whole file.
    for rel, body in final.items():
        assert body == reference[rel], rel
    # A leftover is a hidden temporary file beside the name it was heading for.
    for rel in temp:
        m = TEMP.match(Path(rel).name)
        assert m is not None
        assert (Path(rel).parent / m["final"]).as_posix() in reference, rel
    if point.startswith("close.file-temp-written"):
        assert len(temp) == 1

    again = close(path, DAY)
    assert again.returncode == 0, again.stderr
    following = close(path, NEXT)
    assert following.returncode == 0, following.stderr

    final, left = files_of(tmp_path / "data")
    assert final == reference  # the same names and the same bytes as an uninterrupted run
    # Temporaries are not removed (a concurrent closer may be writing one): hidden ``.part``
    # names that no reader of the folder takes; docs/runner-crash-safety.md says so.
    assert left == temp
    store = store_of(config, opened)
    check_files(config, store, final)
    check_ledger_and_numbers(config, store)


@pytest.mark.parametrize("point", ["close.number-recorded", "close.registry-written"])
def test_closing_the_next_day_finishes_a_close_cut_short(
    point: str, tmp_path: Path, reference: dict[str, bytes], opened: list[SqlStore]
) -> None:
    # The operator does not re-run the crashed day but closes the next one: the crashed
    # day's registry (its number already taken) must still be written and delivered.
    path = write_config(tmp_path)
    config = config_of(path)
    book_baskets(config)
    assert killed(close(path, DAY, crash_at=point))

    following = close(path, NEXT)
    assert following.returncode == 0, following.stderr
    store = store_of(config, opened)
    zone = config.service.time_zone
    for p in config.partners:
        # The crash came at the first partner: DAY was open for every partner with payments.
        start, end = day_window(DAY, p.cutoff, zone)
        if store.ledger_totals(p.inn, since=start, until=end).credits > 0:
            assert f"{p.inn}: closing {DAY:%Y-%m-%d} first" in following.stdout

    final, _temp = files_of(tmp_path / "data")
    check_files(config, store, final)
    # Every credit is in exactly one registry, and numbers are gapless in day order.
    deliveries = {d.registry_id: d.status for d in store.deliveries()}
    for p in config.partners:
        registries = sorted(store.payment_registries(p.inn), key=lambda r: r.day)
        assert [r.number for r in registries] == list(range(1, len(registries) + 1))
        assert all(deliveries[r.id] is DeliveryStatus.ACKNOWLEDGED for r in registries)
        credited = store.ledger_totals(p.inn).credits
        assert sum((r.amount for r in registries), Decimal(0)) == credited


@pytest.mark.parametrize("point", DELIVERY_POINTS)
def test_a_delivery_killed_after_the_partner_accepted_is_not_accepted_twice(
    point: str,
    store_url: str,
    tmp_path: Path,
    reference: dict[str, bytes],
    opened: list[SqlStore],
) -> None:
    from pes_sdk_soap_billing.server import MemoryBillingStore, ReferenceServer

    with ReferenceServer(MemoryBillingStore([TEPLOSET])) as billing:
        channel = (
            'channel = { kind = "outbox", folder = "outbox/teploset", format = "pes-payments" }'
        )
        soap = f'channel = {{ kind = "soap-billing", settings = {{ url = "{billing.url}" }} }}'
        path = write_config(tmp_path, store_url, {channel: soap})
        config = config_of(path)
        book_baskets(config)
        args = ["close-day", "--config", str(path), "--date", f"{DAY}", "--partner", TEPLOSET]

        crashed = pes_runner(args, crash_at=point)

        assert killed(crashed), (crashed.returncode, crashed.stderr)
        assert billing.store.acceptance_log == [(TEPLOSET, 1)]  # the partner has it
        store = store_of(config, opened)
        [open_] = store.deliveries()
        if point == "deliver.accepted":
            assert (open_.status, open_.attempts) == (DeliveryStatus.PENDING, 0)  # not told
        else:
            assert (open_.status, open_.attempts) == (DeliveryStatus.DELIVERED, 1)  # no ack

        again = pes_runner(args)

        assert again.returncode == 0, again.stderr
        # Sent again, answered ALREADY_ACCEPTED: the partner still holds one registry № 1.
        assert billing.app.calls("SubmitPaymentRegistry") == 2
        assert billing.store.acceptance_log == [(TEPLOSET, 1)]
        assert billing.store.accepted(TEPLOSET) == {1: (1, Decimal("500.00"))}
    [done] = store.deliveries()
    assert done.status is DeliveryStatus.ACKNOWLEDGED
    assert done.attempts == (1 if point == "deliver.accepted" else 2)
    # The service's own copy is the file an outbox partner would have had.
    final, temp = files_of(tmp_path / "data")
    assert temp == []
    [(rel, body)] = final.items()
    assert rel == f"outbox/{TEPLOSET}/{Path(_teploset(reference)).name}"
    assert body == reference[_teploset(reference)]


def _teploset(reference: dict[str, bytes]) -> str:
    [rel] = [r for r in reference if r.startswith("outbox/teploset/")]
    return rel


# -- ingest -----------------------------------------------------------------------------------

#: Two batches of the store's 5000 rows, and one row quarantined for its bad house GUID.
INGEST_ROWS = 6000


def write_big_sber(folder: Path, number: int) -> tuple[Path, Decimal]:
    """A sber-debts registry of INGEST_ROWS good rows and one bad one; the good rows' total."""
    records = [
        DebtRecord(
            f"{7000000 + i}",
            HOUSE,
            Premises(f"кв. {i % 300 + 1}"),
            Decimal(i % 5000 + 1).scaleb(-2),
            PERIOD,
            "Отопление",
        )
        for i in range(INGEST_ROWS)
    ]
    total = sum((r.amount for r in records), Decimal(0))
    path = write_sber_debts(folder, number, records)
    # The footer counts and sums what was sent, the bad row too (else the file is refused).
    lines = path.read_bytes().split(b"\r\n")
    [foot] = [i for i, ln in enumerate(lines) if ln.startswith(b"=")]
    bad = "6999999;not-a-guid;кв. 5;12,00;102026;Отопление".encode("cp1251")
    sent = f"{total + Decimal('12.00'):.2f}".replace(".", ",")
    lines[foot] = f"={INGEST_ROWS + 1};{sent}".encode("ascii")
    path.write_bytes(b"\r\n".join([lines[0], bad, *lines[1:]]))
    return path, total


@pytest.mark.parametrize(("point", "store_url"), on_stores(INGEST_POINTS), indirect=["store_url"])
def test_an_ingest_killed_at_a_point_ends_with_the_registry_once_and_the_file_processed(
    point: str, store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    path = write_config(tmp_path, store_url)
    config = config_of(path)
    inbox = tmp_path / "data" / "inbox" / "uk-dom"
    src, total = write_big_sber(inbox, 3)
    body = src.read_bytes()
    scan = ["scan", "--config", str(path)]

    crashed = pes_runner(scan, crash_at=point)

    assert killed(crashed), (crashed.returncode, crashed.stderr)
    store = store_of(config, opened)
    stored = store.debt_registries(UK_DOM)
    if point == "ingest.mid-registry":
        assert stored == []  # the batch written before the crash was never committed
    else:
        assert [(r.number, r.active, r.count) for r in stored] == [(3, True, INGEST_ROWS)]

    again = pes_runner(scan)

    assert again.returncode == 0, again.stderr
    outcome = "activated" if point == "ingest.mid-registry" else "duplicate"
    assert f"{UK_DOM} {src.name}: {outcome}; № 3" in again.stdout
    [info] = store.debt_registries(UK_DOM)
    assert (info.number, info.active, info.count, info.total) == (3, True, INGEST_ROWS, total)
    for account in ("7000000", "7004999", "7005000", f"{7000000 + INGEST_ROWS - 1}"):
        assert len(store.find_by_account(UK_DOM, account)) == 1, account  # neither lost nor doubled
    # The inbox holds its processed/ and rejected/ folders (made at start) and nothing
    # else: no file left half-moved.
    assert sorted(p.name for p in inbox.iterdir()) == ["processed", "rejected"]
    processed = inbox / "processed"
    report = processed / f"{src.name}.report.json"
    rejects = processed / f"{src.name}.rejects.csv"
    assert sorted(p.name for p in processed.iterdir()) == sorted(
        [src.name, report.name, rejects.name]
    )
    assert (processed / src.name).read_bytes() == body
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["sha256"] == hashlib.sha256(body).hexdigest()
    assert (doc["records"], doc["rejected"], doc["registry"]["number"]) == (INGEST_ROWS, 1, 3)
    assert "6999999" in rejects.read_text(encoding="utf-8")

    assert pes_runner(scan).stdout == "nothing to ingest\n"
    shutil.copyfile(processed / src.name, src)  # the same file dropped again
    repeat = pes_runner(scan)
    assert repeat.returncode == 0, repeat.stderr
    assert f"{src.name}: duplicate; № 3" in repeat.stdout
    assert len(store.debt_registries(UK_DOM)) == 1


@pytest.mark.parametrize("point", ["ingest.report-written", "ingest.half-moved"])
def test_a_refused_file_killed_on_its_way_to_rejected_ends_there_once(
    point: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    path = write_config(tmp_path)
    config = config_of(path)
    inbox = tmp_path / "data" / "inbox" / "vodokanal"
    inbox.mkdir(parents=True)
    src = inbox / "debts.csv"  # pes-debts needs the number in the name or header: refused
    record = DebtRecord("2001", HOUSE, Premises("кв. 1"), Decimal("10.00"), PERIOD)
    get_host().format("pes-debts").write(src, RegistryHeader(kind=RegistryKind.DEBTS), [record])
    body = src.read_bytes()
    scan = ["scan", "--config", str(path)]

    crashed = pes_runner(scan, crash_at=point)

    assert killed(crashed), (crashed.returncode, crashed.stderr)
    again = pes_runner(scan)
    assert again.returncode == 1, again.stderr  # a refusal is exit 1, as the first time
    assert f"{VODOKANAL} debts.csv: refused" in again.stdout
    assert sorted(p.name for p in inbox.iterdir()) == ["processed", "rejected"]
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["debts.csv", "debts.csv.report.json"]
    assert (rejected / "debts.csv").read_bytes() == body
    doc = json.loads((rejected / "debts.csv.report.json").read_text(encoding="utf-8"))
    assert doc["outcome"] == "refused" and doc["sha256"] == hashlib.sha256(body).hexdigest()
    assert store_of(config, opened).debt_registries(VODOKANAL) == []
    assert pes_runner(scan).stdout == "nothing to ingest\n"


# -- payment confirmation ---------------------------------------------------------------------


@pytest.mark.parametrize("point", PAYMENT_POINTS)
def test_a_payment_confirmation_killed_at_a_point_is_credited_once_after_restart(
    point: str, store_url: str, tmp_path: Path, opened: list[SqlStore]
) -> None:
    from pes_sdk_sandbox.simulator import AcquirerSimulator

    # The acquirer is its own server: it outlives the runner, as a real one would.
    sim = AcquirerSimulator(
        api_key=SANDBOX_API_KEY, webhook_secret=SANDBOX_WEBHOOK_SECRET.encode()
    ).start()
    try:
        settings = (
            f'settings = {{ url = "{sim.base_url}", timeout = "5" }}\n'
            'secrets_env = { api_key = "PES_SANDBOX_API_KEY",'
            ' webhook_secret = "PES_SANDBOX_WEBHOOK_SECRET" }'
        )
        path = write_config(tmp_path, store_url, {'settings = { timeout = "5" }': settings})
        config = config_of(path)
        if config.store.sqlite_path is not None:
            config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = store_of(config, opened)
        store.upsert_partners(p.partner for p in config.partners)
        debts = [
            DebtRecord("2001", HOUSE, Premises("кв. 1"), Decimal("900.00"), PERIOD, "Отопление"),
            DebtRecord("2002", HOUSE, Premises("кв. 1"), Decimal("80.00"), PERIOD, "Содержание"),
        ]
        store.ingest_debt_registry(UK_DOM, PERIOD, 1, debts, sha256="crash-debts")
        baskets = {
            "basket-a": [("2001", "Отопление", "100.00"), ("2002", "Содержание", "50.50")],
            "basket-b": [("2001", "Отопление", "250.00"), ("2002", "Содержание", "29.50")],
        }
        hook = config.http.webhook_path
        log = tmp_path / "serve.log"
        orders: dict[str, str] = {}

        with serving(path, log, crash_at=point) as runner:
            for account, service in (("2001", "Отопление"), ("2002", "Содержание")):
                accept = {"client_id": "u1", "partner_inn": UK_DOM, "account": account}
                status, _ = runner.call("POST", "/v1/acceptances", accept | {"service": service})
                assert status == 200
            pages: dict[str, str] = {}
            for key, lines in baskets.items():
                basket = {
                    "client_id": "u1",
                    "return_url": "https://app.example/back",
                    "lines": [
                        {"partner_inn": UK_DOM, "account": a, "service": s, "amount": v}
                        for a, s, v in lines
                    ],
                }
                status, view = runner.call(
                    "POST", "/v1/payments", basket, headers={"Idempotency-Key": key}
                )
                assert status == 200, view
                orders[key] = view["order_id"]
                pages[key] = view["confirmation"]["url"]
            # The "pending" webhooks of the creates go nowhere: the point counts paid news only.
            assert sim.flush()
            sim.webhook_url = runner.base + hook

            press_pay(pages["basket-a"])
            deadline = time.monotonic() + 20
            while (
                runner.call("GET", f"/v1/payments/{orders['basket-a']}")[1]["state"] != "succeeded"
            ):
                assert time.monotonic() < deadline, "basket A was never confirmed"
                time.sleep(0.05)
            press_pay(pages["basket-b"])  # its webhook kills the runner at the point

            assert runner.wait_killed(), log.read_text(encoding="utf-8")

        assert sim.flush()  # the acquirer gave up on the dead runner's webhook
        assert sim.report().succeeded == 2
        before = store.get(uuid.UUID(orders["basket-b"]))
        assert before is not None
        b_credits = [
            e for e in store.ledger_entries(UK_DOM) if str(e.order_id) == orders["basket-b"]
        ]
        if point.startswith("payment.paid-before-commit"):
            # The transaction died with the process: neither the paid state nor a credit.
            assert before.state is PaymentState.PENDING and b_credits == []
        else:
            # Committed before the answer: paid and credited, once, in one transaction.
            assert before.state is PaymentState.SUCCEEDED and len(b_credits) == 2

        with serving(path, log) as runner:
            sim.webhook_url = runner.base + hook
            # The acquirer's answer is lost with the process; polling is the backstop.
            for key in baskets:
                status, view = runner.call("GET", f"/v1/payments/{orders[key]}?refresh=1")
                assert (status, view["state"]) == (200, "succeeded"), view
            # And a late redelivery of the same news changes nothing.
            status, view = runner.call("GET", f"/v1/payments/{orders['basket-b']}?refresh=1")
            assert view["state"] == "succeeded"

        report = sim.report()
        credits = store.ledger_entries(UK_DOM, kind=LedgerKind.CREDIT)
        fees = Decimal(0)
        for key, lines in baskets.items():
            entry = store.get(uuid.UUID(orders[key]))
            assert entry is not None and entry.state is PaymentState.SUCCEEDED
            mine = sorted(
                (e for e in credits if str(e.order_id) == orders[key]), key=lambda e: e.ref or ""
            )
            assert [e.ref for e in mine] == [f"credit:{orders[key]}:{i}" for i in range(len(lines))]
            assert [e.amount for e in mine] == [Decimal(v) for _, _, v in lines]
            fees += sum((ln.client_fee for ln in entry.payment.lines), Decimal(0))
        assert len(credits) == 4
        paid = sum((e.amount for e in credits), Decimal(0))
        assert paid + fees == report.captured
        assert store.ledger_totals(UK_DOM).credits == paid
    finally:
        sim.stop()


# -- the points themselves ----------------------------------------------------------------------


def test_every_crash_point_is_placed_once_listed_and_tested() -> None:
    names = {p.name for p in CRASH_POINTS}
    tested = {
        p.partition("@")[0]
        for p in (
            *INGEST_POINTS,
            *PAYMENT_POINTS,
            *CLOSE_POINTS,
            *DELIVERY_POINTS,
            *NOTIFY_POINTS,
            "campaign.page-written",  # test_campaigns_jobs.py
        )
    }
    assert tested == names
    assert len(names) == len(CRASH_POINTS)
    source = Path(pes_sdk_runner.__file__).parent
    placed: list[str] = []
    for py in sorted(source.rglob("*.py")):
        if py.name == "crashpoints.py":
            continue
        text = py.read_text(encoding="utf-8")
        calls = re.findall(r"\bcrashpoint\((.*?)\)", text)
        for arg in calls:
            m = re.fullmatch(r'"([^"]+)"', arg.strip())
            assert m is not None, f"{py}: crashpoint({arg}) does not name its point literally"
            placed.append(m[1])
    assert sorted(placed) == sorted(names)  # every listed point placed, once; none unlisted


def test_a_crash_point_kills_on_its_nth_pass_and_only_there(tmp_path: Path) -> None:
    script = (
        "from pes_sdk_runner.crashpoints import crashpoint\n"
        "for i in range(3):\n"
        "    crashpoint('close.ledger-booked')\n"
        "    crashpoint('close.number-recorded')\n"
        "    print(i, flush=True)\n"
    )

    def run(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        if value is not None:
            env[ENV_VAR] = value
        return subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30
        )

    second = run("close.number-recorded@2")
    assert killed(second) and second.stdout == "0\n"
    first = run("close.ledger-booked")
    assert killed(first) and first.stdout == ""
    untouched = run(None)
    assert untouched.returncode == 0 and untouched.stdout == "0\n1\n2\n"
    never = run("close.ledger-booked@9")
    assert never.returncode == 0 and never.stdout == "0\n1\n2\n"

    from pes_sdk_runner.crashpoints import crashpoint

    with pytest.raises(ValueError, match="unknown crash point"):
        crashpoint("close.no-such-point")
