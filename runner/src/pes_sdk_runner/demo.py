"""``pes runner demo``: one whole day of the reference runner on the embedded default.

What ``make demo`` shows (``pes demo`` runs it after the SDK walk-through):

1. the example configuration (``config/example.toml``: three partners, the sandbox
   gateway, a SQLite store) with its data folder replaced by a fresh one;
2. each partner's monthly debt registry (реестр задолженности), in the partner's own format,
   dropped into its inbox and ingested (``scan_inboxes``);
3. the HTTP API served on loopback, with the sandbox acquirer on loopback too; clients find
   every service at their address, tick them (акцепт), and pay one basket each by card,
   SberPay or СБП; the acquirer's signed webhooks confirm the payments; one client gives up
   on the acquirer's page, and one app retries a create with the same Idempotency-Key;
4. each partner's day closed at its cut-off (the demo moves its clock to the cut-off instead
   of waiting for it): payment registry (реестр оплат) and transfer order (платёжное
   поручение) written atomically, ledger entries, delivery to the outbox;
5. a summary per partner (payments, paid, commission, VAT, transfer), checked against what
   the files themselves say when read back with their formats.

Everything goes through public interfaces: the HTTP API as a client app would call it, the
formats and the gateway through the plugin host.

``pes runner demo --serve`` then keeps the runner serving on loopback, the client cabinet
(личный кабинет) on, until Ctrl-C or SIGTERM: a demo client's phone has a cabinet with the
accounts of one demo address linked, and its login codes land in the data folder's SMS
outbox (``outbox/sms.jsonl``), so a person can log in and see the payment page at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import signal
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import click

from pes_sdk.cli.common import EXIT_INVALID, host_of
from pes_sdk.cli.demo import press_pay
from pes_sdk.errors import PesError
from pes_sdk.formats.base import Policy
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.readings import MeterReading, MeterType
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, PaymentOrder, StatementEntry
from pes_sdk.money import ZERO, from_kopecks
from pes_sdk.notifications import Notification, NotificationChannel, SendResult
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost
from pes_sdk.premises import Premises
from pes_sdk_runner.config import (
    AdapterSettings,
    CabinetConfig,
    RunnerConfig,
    example_config_path,
    load_runner_config,
)
from pes_sdk_runner.store.base import LedgerKind, Store

__all__ = [
    "CABINET_PHONE",
    "DaySummary",
    "PartnerSummary",
    "demo",
    "run_demo_day",
    "serve_demo",
]

# Demo-only tokens of one client app and one operator (the configuration reads them from
# these environment variables; they are never printed).
_CLIENT_TOKEN = "demo-client-app-token-0001"
_OPERATOR_TOKEN = "demo-operator-token-0001"
_ENV = {"PES_CLIENT_TOKENS": _CLIENT_TOKEN, "PES_OPERATOR_TOKENS": _OPERATOR_TOKEN}

# Three houses in Perm (made-up ФИАС/ГАР GUIDs), premises written the way partners write them.
_HOUSES = (
    ("2c0f5b1e-6f7a-4d3e-9b8c-1a2b3c4d5e01", "ул. Ленина, 50"),
    ("2c0f5b1e-6f7a-4d3e-9b8c-1a2b3c4d5e02", "ул. Сибирская, 12"),
    ("2c0f5b1e-6f7a-4d3e-9b8c-1a2b3c4d5e03", "Комсомольский пр-т, 7"),
)
_FLATS = ("кв. 1", "кв. 12А", "кв. 15", "кв. 101", "пом. 3", "кв. 7/1")
_SERVICES = {
    "5003012349": ("Содержание жилья", "Взнос на капремонт"),
    "7720123457": ("Холодное водоснабжение", "Водоотведение"),
    "5904123453": ("Отопление",),
}
_METHODS = ("card", "sbp", "sberpay")
_RETURN_URL = "https://cabinet.example/paid"


@attrs.frozen
class PartnerSummary:
    """One partner's closed day, from the store, and what its files say when read back."""

    inn: str
    name: str
    day: dt.date
    number: int | None
    payments: int
    paid: Decimal
    commission: Decimal
    vat: Decimal
    transfer: Decimal
    registry_file: Path | None
    transfer_file: Path | None
    #: (count, paid, transfer) read back from the registry file; None without a file
    file_totals: tuple[int, Decimal, Decimal] | None
    #: the transfer order's amount read back from its file; None when its format cannot
    #: read orders back
    order_amount: Decimal | None
    #: the day's meter readings file (partners with ``readings_format``) and how many
    #: readings it holds, read back with its format
    readings_file: Path | None = None
    readings: int = 0

    @property
    def files_agree(self) -> bool:
        if self.number is None:
            return self.registry_file is None
        if self.file_totals != (self.payments, self.paid, self.transfer):
            return False
        return self.order_amount is None or self.order_amount == self.transfer


@attrs.frozen
class DaySummary:
    """What the demo day did, for the printout and for tests."""

    folder: Path
    ingested: int
    payments_created: int
    payments_paid: int
    payments_not_paid: int
    #: what the acquirer took for the partners (baskets without the clients' agent fees)
    acquirer_total: Decimal
    credited_total: Decimal
    partners: tuple[PartnerSummary, ...]
    #: the autopay step's payments (its client's first payment and the charge): credited
    #: after the day's closes, in no closed day's registry
    autopay_orders: tuple[uuid.UUID, ...] = ()

    @property
    def consistent(self) -> bool:
        """The files agree with the store, and the ledger's credits with the acquirer."""
        return self.acquirer_total == self.credited_total and all(
            p.files_agree for p in self.partners
        )


# -- the example data ---------------------------------------------------------------------


def _accounts(inn: str, house: int, flat: int) -> str:
    # Each partner numbers its own accounts; the УК's keep a leading zero.
    prefix = {"5003012349": "0", "7720123457": "77", "5904123453": "59"}[inn]
    return f"{prefix}{house + 1}{flat + 1:03d}{inn[-2:]}"


def _debts(inn: str, period: Period) -> list[DebtRecord]:
    """The partner's debts at every example address (deterministic, no personal data)."""
    records = []
    for h, (house, _street) in enumerate(_HOUSES):
        for f, flat in enumerate(_FLATS):
            account = _accounts(inn, h, f)
            for s, service in enumerate(_SERVICES[inn]):
                kopecks = 40_000 + ((h * 7 + f * 13 + s * 29 + int(inn[-3:])) % 97) * 1_117
                if (h, f, s) == (1, 2, 0):
                    kopecks = -25_000  # an advance: the client overpaid last month
                records.append(
                    DebtRecord(
                        account,
                        house,
                        Premises(flat),
                        from_kopecks(kopecks),
                        period,
                        service,
                    )
                )
    return records


def _write_registries(config: RunnerConfig, host: PluginHost, period: Period) -> list[Path]:
    written = []
    for partner in config.partners:
        assert partner.source.folder is not None and partner.format is not None
        fmt = host.format(partner.format)
        header = RegistryHeader(
            kind=RegistryKind.DEBTS,
            partner_inn=partner.inn,
            partner_account=partner.partner.bank.account,
            period=period,
            number=1,
        )
        partner.source.folder.mkdir(parents=True, exist_ok=True)
        path = partner.source.folder / (fmt.filename(header) or f"{partner.inn}-debts.txt")
        fmt.write(path, header, _debts(partner.inn, period))
        written.append(path)
    return written


# -- a client app over HTTP ---------------------------------------------------------------


@attrs.frozen
class _Http:
    base: str

    def call(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {_CLIENT_TOKEN}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@contextmanager
def _serving(store: Store, config: RunnerConfig, host: PluginHost) -> Iterator[str]:
    """The runner's API on a free loopback port, with the embedded sandbox acquirer."""
    from pes_sdk_runner.api import (
        ServerStartError,
        create_app,
        listen,
        processor_for,
        serve_in_thread,
    )

    # Bound first: the acquirer's webhook_url must name the port before the app exists.
    sock = listen()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    factory = host.gateways().get(config.gateway.name)
    if factory is None:
        sock.close()
        raise PesError(f"the payment gateway {config.gateway.name!r} is not installed")
    settings = {**config.gateway.adapter.merged(), "webhook_url": base + config.http.webhook_path}
    gateway = factory.create(settings)
    processor = processor_for(gateway, store)  # as `pes runner serve` builds it
    try:
        with serve_in_thread(create_app(store, config, host, processor), config, sock) as url:
            yield url
    except ServerStartError as exc:
        raise PesError(str(exc)) from exc
    finally:
        gateway.close()


@attrs.frozen
class _Client:
    """One client of the cabinet: an address, and what they do on the acquirer's page."""

    client_id: str
    house: int
    flat: int
    method: str
    action: str = "pay"  # or "decline": the client gives up on the acquirer's page
    part: Decimal = Decimal(1)  # the share of each due amount the client pays


_CLIENTS = (
    _Client("demo-user-1", 0, 0, "card"),
    _Client("demo-user-2", 0, 1, "sbp"),
    _Client("demo-user-3", 1, 2, "sberpay"),
    _Client("demo-user-4", 1, 3, "card", part=Decimal("0.5")),
    _Client("demo-user-5", 2, 4, "sbp"),
    _Client("demo-user-6", 2, 5, "card", action="decline"),
)


def _pay_as(http: _Http, client: _Client, say: Callable[[str], None]) -> tuple[str, str] | None:
    """The client's whole visit: find, tick, pay. Returns (order id, action) or None."""
    house, street = _HOUSES[client.house]
    flat = _FLATS[client.flat]
    query = urllib.parse.urlencode({"house": house, "premises": flat})
    status, found = http.call("GET", f"/v1/services?{query}")
    if status != 200:
        raise PesError(f"GET /v1/services answered {status}: {found}")
    services = found["services"]
    lines = []
    for s in services:
        status, answer = http.call(
            "POST",
            "/v1/acceptances",
            {
                "client_id": client.client_id,
                "partner_inn": s["partner_inn"],
                "account": s["account"],
                "service": s["service"],
            },
        )
        if status != 200:
            raise PesError(f"POST /v1/acceptances answered {status}: {answer}")
        due = Decimal(s["due"])
        amount = (due * client.part).quantize(Decimal("0.01"))
        if amount > 0:
            lines.append(
                {
                    "partner_inn": s["partner_inn"],
                    "account": s["account"],
                    "service": s["service"],
                    "amount": str(amount),
                }
            )
    partners = len({s["partner_inn"] for s in services})
    if not lines:
        say(f"   {street}, {flat}: {len(services)} services, nothing due")
        return None
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pes-demo:{client.client_id}"))
    body = {
        "client_id": client.client_id,
        "lines": lines,
        "return_url": _RETURN_URL,
        "method": client.method,
        "description": "ЖКУ",
    }
    status, payment = http.call("POST", "/v1/payments", body, {"Idempotency-Key": key})
    if status != 200:
        raise PesError(f"POST /v1/payments answered {status}: {payment}")
    total = sum((Decimal(ln["amount"]) for ln in lines), ZERO)
    say(
        f"   {street}, {flat}: {len(services)} services of {partners} partners found; "
        f"basket of {len(lines)} lines, {total} by {client.method}"
        + (" (half of each bill)" if client.part != 1 else "")
    )
    if client.client_id == "demo-user-2":
        # The app lost the answer and retries with the same key: the same order comes back.
        status, again = http.call("POST", "/v1/payments", body, {"Idempotency-Key": key})
        same = status == 200 and again["order_id"] == payment["order_id"]
        say(f"     retried with the same Idempotency-Key: same order: {same}")
    confirmation = payment.get("confirmation") or {}
    # A card or SberPay client is sent to the acquirer's page; an СБП client scans the QR
    # code, which in the sandbox opens the same page (a bank app would pay it instead).
    url = confirmation.get("url") or confirmation.get("qr_payload")
    if not url:
        raise PesError("the acquirer gave no confirmation page or QR code")
    press_pay(url, action=client.action)
    if client.action != "pay":
        say("     the client gave up on the acquirer's page")
    return payment["order_id"], client.action


def _wait_final(http: _Http, order_ids: Sequence[str]) -> dict[str, str]:
    """Each payment's final state; the webhooks usually arrive first, polling is the backstop."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(states) < len(order_ids) and time.monotonic() < deadline:
        for order_id in order_ids:
            if order_id in states:
                continue
            status, view = http.call("GET", f"/v1/payments/{order_id}")
            if status == 200 and view["state"] in ("succeeded", "canceled", "failed"):
                states[order_id] = view["state"]
        if len(states) < len(order_ids):
            time.sleep(0.05)
    for order_id in order_ids:
        if order_id not in states:
            status, view = http.call("GET", f"/v1/payments/{order_id}?refresh=1")
            states[order_id] = view.get("state", "unknown") if status == 200 else "unknown"
    return states


def _submit_reading(
    http: _Http, config: RunnerConfig, taken_on: dt.date, say: Callable[[str], None]
) -> None:
    """The first client sends the cold-water meter's reading to the water supplier."""
    partner = next(p for p in config.partners if p.readings_format)
    client = _CLIENTS[0]
    account = _accounts(partner.inn, client.house, client.flat)
    reading = {
        "account": account,
        "meter_number": "ХВС-0001",
        "meter_type": int(MeterType.COLD_WATER),
        "values": ["123.456"],
        "taken_on": taken_on.isoformat(),
        "service": _SERVICES[partner.inn][0],
    }
    status, answer = http.call(
        "POST",
        "/v1/readings",
        {"client_id": client.client_id, "partner_inn": partner.inn, "reading": reading},
    )
    if status != 200:
        raise PesError(f"POST /v1/readings answered {status}: {answer}")
    say(f"   {client.client_id} sent a cold-water meter reading to {partner.name}")


# -- closing the day ----------------------------------------------------------------------


def _read_back(host: PluginHost, name: str, path: Path) -> tuple[list[PaymentRecord], Decimal]:
    """The payment records of a registry file, and the sum of the orders in a bank file.

    A bank format reads an order file back as statement entries going out (1c-clientbank
    reads its own output so), or as payment orders.
    """
    fmt = host.format(name)
    payments: list[PaymentRecord] = []
    ordered = ZERO
    with fmt.open(path, policy=Policy.STRICT) as reader:
        for record in reader:
            if isinstance(record, PaymentRecord):
                payments.append(record)
            elif isinstance(record, PaymentOrder) or (
                isinstance(record, StatementEntry) and record.direction is Direction.OUT
            ):
                ordered += record.amount
    return payments, ordered


def _close_all(
    store: Store, config: RunnerConfig, host: PluginHost, moment: dt.datetime
) -> list[PartnerSummary]:
    from pes_sdk_runner.close import (
        DEFAULT_PAYMENTS_FORMAT,
        close_day,
        close_readings,
        day_of,
        day_window,
        deliver_pending,
    )

    zone = config.service.time_zone
    summaries = []
    ends = []
    for partner in config.partners:
        day = day_of(moment, partner.cutoff, zone)
        end = day_window(day, partner.cutoff, zone)[1]
        ends.append(end)
        closed = close_day(store, config, host, partner, day, now=end)
        readings_file = close_readings(store, config, host, partner, day, now=end)
        readings = 0
        if readings_file is not None and partner.readings_format:
            with host.format(partner.readings_format).open(readings_file) as reader:
                readings = sum(1 for r in reader if isinstance(r, MeterReading))
        totals = closed.registry.totals if closed.registry is not None else None
        file_totals = None
        order_amount = None
        if closed.registry_path is not None:
            fmt_name = partner.channel.format or DEFAULT_PAYMENTS_FORMAT
            records, _ordered = _read_back(host, fmt_name, closed.registry_path)
            file_totals = (
                len(records),
                sum((r.amount for r in records), ZERO),
                sum((r.transfer for r in records), ZERO),
            )
        if closed.transfer_path is not None and partner.transfer_format:
            try:
                _, order_amount = _read_back(host, partner.transfer_format, closed.transfer_path)
            except PesError:
                # 1c-directbank writes PayDocRu orders but reads only statements: such an
                # order is checked by the format's own tests (XSD), not read back here.
                order_amount = None
        summaries.append(
            PartnerSummary(
                partner.inn,
                partner.name,
                day,
                closed.registry.number if closed.registry is not None else None,
                totals.count if totals else 0,
                totals.amount if totals else ZERO,
                totals.commission if totals else ZERO,
                totals.vat if totals else ZERO,
                totals.transfer if totals else ZERO,
                closed.registry_path,
                closed.transfer_path,
                file_totals,
                order_amount,
                readings_file,
                readings,
            )
        )
    deliver_pending(store, config, host, now=max(ends))
    return summaries


# -- the day ------------------------------------------------------------------------------


def run_demo_day(folder: Path, host: PluginHost, say: Callable[[str], None]) -> DaySummary:
    """Run the whole demo day in ``folder`` (its data folder); print with ``say``."""
    from pes_sdk_runner.ingest import scan_inboxes
    from pes_sdk_runner.store import open_store

    config = load_runner_config(example_config_path(), host, env=_ENV, data=folder)
    zone = config.service.time_zone
    today = dt.datetime.now(zone).date()
    period = Period(today.year, today.month)
    say(f"pes runner demo: one day of the reference runner, data in {folder}")
    say(f"configuration: {example_config_path().name} (the example), time zone {zone}")

    say("")
    say(f"1. Each partner's debt registry for {period} arrives in its inbox")
    for path in _write_registries(config, host, period):
        say(f"   {path.relative_to(folder)}")
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store.url, group_commit=config.store.group_commit)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        outcomes = scan_inboxes(store, config, host)
        for out in outcomes:
            say(
                f"   {out.partner}: {out.outcome}, {out.records} records, total {out.total}"
                f"{f', {out.rejected} rejected' if out.rejected else ''}"
            )
        ingested = sum(1 for o in outcomes if o.ingested)

        say("")
        say("2. Clients pay their baskets over the HTTP API (sandbox acquirer, loopback)")
        with _serving(store, config, host) as base:
            http = _Http(base)
            for n, c in enumerate(_CLIENTS, start=1):
                # the client's phone app registers its push token, as apps do at login
                device = {"provider": "fcm", "token": f"demo-push-token-{n}", "app": "ru.demo.pay"}
                status, answer = http.call(
                    "POST", "/v1/devices", {**device, "client_id": c.client_id}
                )
                if status not in (200, 201):
                    raise PesError(f"POST /v1/devices answered {status}: {answer}")
            tried = [t for c in _CLIENTS if (t := _pay_as(http, c, say)) is not None]
            states = _wait_final(http, [order for order, _ in tried])
            _submit_reading(http, config, today, say)
        paid = [o for o, s in states.items() if s == "succeeded"]
        not_paid = [o for o, s in states.items() if s != "succeeded"]
        say(
            f"   {len(paid)} payments succeeded and were confirmed by signed webhooks; "
            f"{len(not_paid)} not paid"
        )
        entries = [e for o in paid if (e := store.get(uuid.UUID(o))) is not None]
        acquirer_total = sum((e.payment.total for e in entries), ZERO)
        agent_fees = sum((ln.client_fee for e in entries for ln in e.payment.lines), ZERO)
        credited = sum((e.amount for e in store.ledger_entries(kind=LedgerKind.CREDIT)), ZERO)
        say(
            f"   the acquirer took {acquirer_total}: {acquirer_total - agent_fees} for the "
            f"partners, {agent_fees} agent fees paid by clients (subscription plan)"
        )
        say(f"   the ledger credited the partners {credited}")

        say("")
        say("3. Each partner's day is closed at its cut-off (the demo moves its clock there)")
        moment = dt.datetime.now(dt.UTC)
        partners = _close_all(store, config, host, moment)
        for p in partners:
            cfg = next(c for c in config.partners if c.inn == p.inn)
            if p.number is None:
                say(f"   {p.inn}: no payments on {p.day:%d.%m.%Y}; no registry")
                continue
            say(
                f"   {p.inn} {p.name}: {p.day:%d.%m.%Y} (cut-off {cfg.cutoff:%H:%M}), "
                f"registry № {p.number}"
            )
            if p.registry_file is not None:
                say(f"     registry: {p.registry_file.relative_to(folder)}")
            if p.transfer_file is not None:
                say(f"     transfer order: {p.transfer_file.relative_to(folder)}")
            if p.readings_file is not None:
                say(
                    f"     meter readings: {p.readings_file.relative_to(folder)} "
                    f"({p.readings} read back)"
                )
        deliveries = store.deliveries()
        acknowledged = sum(1 for d in deliveries if d.status == "acknowledged")
        say(f"   deliveries: {acknowledged} of {len(deliveries)} acknowledged")

        say("")
        _notify(store, config, host, period, folder, say)
        say("")
        autopay_orders = _autopay(store, config, host, period, say)
    finally:
        store.close()

    summary = DaySummary(
        folder,
        ingested,
        len(tried),
        len(paid),
        len(not_paid),
        acquirer_total - agent_fees,
        credited,
        tuple(partners),
        autopay_orders,
    )
    say("")
    say("6. Summary per partner (from the store), checked against the files read back")
    say(
        f"   {'partner':<11} {'lines':>8} {'paid':>10} {'commission':>10} "
        f"{'VAT':>8} {'transfer':>10}  files"
    )
    for p in partners:
        agree = "agree" if p.files_agree else "DISAGREE"
        say(
            f"   {p.inn:<11} {p.payments:>8} {p.paid:>10} {p.commission:>10} "
            f"{p.vat:>8} {p.transfer:>10}  {agree}"
        )
    totals = [sum((getattr(p, f) for p in partners), ZERO) for f in ("paid", "commission", "vat")]
    transfer = sum((p.transfer for p in partners), ZERO)
    count = sum(p.payments for p in partners)
    say(
        f"   {'total':<11} {count:>8} {totals[0]:>10} {totals[1]:>10} {totals[2]:>8} {transfer:>10}"
    )
    say(
        "   every payment on the right account, none lost: "
        + ("yes" if summary.consistent and totals[0] == credited else "NO")
    )
    return summary


def _notify(
    store: Any,
    config: RunnerConfig,
    host: PluginHost,
    period: Period,
    folder: Path,
    say: Callable[[str], None],
) -> None:
    """Step 4: the clients are told of the new charges, and a partner's campaign goes out,
    through the configured channels (the sandbox outbox); its statistics are printed.

    The runner sends on its job engine; the demo, one process with no engine running, hands
    each batch to the same sender at once (``enqueue``)."""
    from pes_sdk_runner.campaigns import create_campaign, send_page, source_stats
    from pes_sdk_runner.notify import Sender
    from pes_sdk_runner.triggers import Triggers

    say("4. Clients are told: the new charges, and a partner's campaign (the sandbox outbox)")
    sender = Sender(config, host)
    try:

        def enqueue(source: str, ids: list[int]) -> None:
            sender.send_batch(store, ids, f"demo:{source}")

        triggers = Triggers(store, config, enqueue=enqueue)
        for partner in config.partners:
            done = triggers.new_charges(partner.inn, period)
            told = done.clients if done is not None else 0
            say(f"   {partner.inn} {partner.partner.name}: new charges told to {told} clients")
        uk = config.partners[0]
        campaign = create_campaign(
            store,
            config,
            partner_inn=uk.inn,
            kind="news",
            title="Плановое отключение горячей воды",
            text="С 15 по 17 число горячей воды не будет: промывка труб. Спасибо за терпение!",
            buttons=[("Подробнее", "https://example.ru/news/42")],
        )
        after: str | None = None
        while True:
            after, _ = send_page(store, config, campaign, after, enqueue=enqueue)
            if after is None:
                break
        stats = source_stats(
            store, campaign.source, config.service.time_zone, partner_inn=campaign.partner_inn
        )
        say(f"   campaign «{campaign.title}» of {uk.partner.name}:")
        say("   " + ", ".join(f"{name} {count}" for name, count in stats.funnel()))
        outbox = config.notifications.channel("outbox")
        if outbox is not None and "path" in outbox.adapter.settings:
            where = Path(outbox.adapter.settings["path"])
            shown = where.relative_to(folder) if where.is_relative_to(folder) else where
            say(f"   the messages: {shown} (one JSON line each)")
    finally:
        sender.close()


def _autopay(
    store: Any, config: RunnerConfig, host: PluginHost, period: Period, say: Callable[[str], None]
) -> tuple[uuid.UUID, ...]:
    """Step 5: a client connects autopay while paying; the demo's clock moves on to the
    next period's registry; the charge goes through after its notice (notice, charge and
    the 54-ФЗ receipt's lines).

    The runner charges on its job engine, round after round as the waits end; the demo,
    one process, drives the same rounds with a clock of its own (:meth:`Autopay.run`)."""
    from pes_sdk_outbox import read_outbox

    from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
    from pes_sdk_runner.api import processor_for
    from pes_sdk_runner.autopay import Autopay, attempt_of, customer_key_of, request_consent
    from pes_sdk_runner.notify import Sender, message_key
    from pes_sdk_runner.receipts import build_receipt
    from pes_sdk_runner.store.autopay import ConsentRule, consent_id_of
    from pes_sdk_runner.triggers import Triggers, autopay_source, rubles

    say("5. Autopay (автоплатёж): connected while paying, then next month charged on its own")
    uk = config.partners[0]
    # the half-paying client's account: half its bill is still due, and it is not the one
    # the cabinet's demo client (--serve) is shown with something to pay
    half = next(c for c in _CLIENTS if c.part != 1)
    account = _accounts(uk.inn, half.house, half.flat)
    client = "demo:autopay"
    store.set_contact(client, phone="+79120000077")
    factory = host.gateways()[config.gateway.name]
    gateway = factory.create(config.gateway.adapter.merged())  # the embedded sandbox
    processor = processor_for(gateway, store)
    sender = Sender(config, host)
    clock = [dt.datetime.now(dt.UTC)]
    try:
        due = [b for b in store.find_by_account(uk.inn, account) if b.due > 0]
        order = uuid.uuid4()
        request_consent(
            store,
            config,
            order_id=order,
            client_id=client,
            partner_inn=uk.inn,
            account=account,
            rule=ConsentRule.ON_REGISTRY,
            day=None,
            limit=Decimal("10000.00"),
            now=clock[0],
        )
        lines = [
            PaymentLine(uk.inn, account, b.due, service=b.service, house_id=b.house_id,
                        premises=b.premises, period=b.period)
            for b in due
        ]  # fmt: skip
        entry = processor.start(
            Payment(order, clock[0], PaymentMethod.CARD, lines),
            return_url=_RETURN_URL,
            customer_key=customer_key_of(client),
        )
        simulator = getattr(gateway, "simulator", None)
        if simulator is None or entry.gateway_payment_id is None:
            say("   (the configured gateway is not the embedded sandbox: step skipped)")
            return ()
        simulator.approve(entry.gateway_payment_id)  # the client pays on the acquirer's page
        processor.refresh(order)
        consent = store.consent(consent_id_of(order))
        if consent is None:
            raise PesError("the demo's autopay consent did not come into force")
        say(
            f"   {client} paid the rest of account {account}'s bill,"
            f" {rubles(entry.payment.total)} to {uk.partner.name}, with «Подключить"
            f" автоплатёж»: card {consent.method.title}, up to"
            f" {rubles(consent.monthly_limit)} a month"
        )
        say(f"   the consent as agreed ({consent.text_version}): «{consent.text[:72]}…»")

        nxt = period.next()
        clock[0] += dt.timedelta(days=30)
        records = _debts(uk.inn, nxt)  # the partner's whole registry of the next period
        store.ingest_debt_registry(
            uk.inn, nxt, 99, records, sha256=f"demo-autopay-{nxt}", received_at=clock[0]
        )

        def enqueue(_source: str, ids: list[int]) -> None:
            sender.send_batch(store, ids, "demo:autopay", now=lambda: clock[0])

        autopay = Autopay(store, config, Triggers(store, config, enqueue=enqueue))
        (charge,) = autopay.plan_registry(uk.inn, nxt, clock[0])
        outbox = config.notifications.channel("outbox")
        texts: dict[str, str] = {}
        if outbox is not None and "path" in outbox.adapter.settings:
            texts = {
                str(line["key"]): str(line["text"])
                for line in read_outbox(Path(outbox.adapter.settings["path"]))
            }

        def told(event_name: str) -> str:
            source = autopay_source(event_name, str(charge.charge_id))
            for m in store.messages(source):
                text = texts.get(message_key(m.source, m.client_id, m.target))
                if text is not None:
                    return text
            return "(not sent)"

        say(f"   {nxt}'s registry arrives; the notice: «{told('upcoming')}»")

        def sleep(until: dt.datetime) -> None:
            clock[0] = max(clock[0], until)

        step = autopay.run(charge.charge_id, processor, lambda: clock[0], sleep)
        texts.update(
            {
                str(line["key"]): str(line["text"])
                for line in read_outbox(Path(outbox.adapter.settings["path"]))
            }
            if outbox is not None and "path" in outbox.adapter.settings
            else {}
        )
        done = store.charge(charge.charge_id)
        paid = store.get(attempt_of(charge.charge_id, 1)[0])
        say(
            f"   {config.autopay.notice_days} days later the charge: {step.state}"
            f" ({done.attempts if done else 0} attempt), told «{told('done')}»"
        )
        if paid is not None and paid.state.is_paid:
            receipt = build_receipt(config, store.partners(), paid.payment, phone="+79120000077")
            say("   its 54-ФЗ receipt (чек), a line per service, the partner as the supplier:")
            for p in receipt.positions:
                supplier = f", supplier {p.supplier.inn}" if p.supplier is not None else ""
                agent = f"agent sign {p.agent}" if p.agent is not None else "the service's own"
                say(f"     {p.name}: {p.amount}, VAT {p.vat} ({agent}{supplier})")
        return (order, *([paid.order_id] if paid is not None else []))
    finally:
        sender.close()
        gateway.close()


# -- after the day: the cabinet served ----------------------------------------------------

#: The demo client of the cabinet (``--serve``): a made-up mobile number. Its cabinet has
#: accounts at the address of the client who gave up on the acquirer's page, whose bills
#: are still due after the day: the payment page has something to pay.
CABINET_PHONE = "+79120000006"
_CABINET_CLIENT = _CLIENTS[5]
_LOOPBACK = "127.0.0.1"


class _HandedBack(NotificationChannel):
    """The demo's own SMS channel for setting up its client's cabinet: the code comes back
    to the demo instead of landing in the outbox the person at the keyboard reads."""

    name = "demo"
    kinds = ("sms",)

    def __init__(self) -> None:
        self.texts: list[str] = []

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        self.texts.append(notification.text)
        return SendResult(f"demo-{len(self.texts)}", dt.datetime.now(dt.UTC))


def _set_up_cabinet(store: Store, config: RunnerConfig) -> list[tuple[str, str]]:
    """Log the demo client in once and link two of the accounts at its address (the УК's
    and the water supplier's), the way a client does on the accounts page (code, then each
    account proved by its premises and amount due, its services ticked); the session is
    ended at once. The third partner's service is left to be found at the address.
    Returns the linked (partner ИНН, account) pairs."""
    from pes_sdk_runner.cabinet import Cabinets

    assert config.cabinet is not None
    channel = _HandedBack()
    cabinets = Cabinets(store, config.cabinet, channel)
    sent = cabinets.login.request_code(CABINET_PHONE, _LOOPBACK)
    code = re.search(r"\d{6}", channel.texts[-1])
    assert code is not None
    issued = cabinets.login.confirm(sent.attempt, code.group(0), _LOOPBACK)
    cabinets.sessions.logout(issued.token)
    client = _CABINET_CLIENT
    linked = []
    for partner in config.partners[:2]:
        account = _accounts(partner.inn, client.house, client.flat)
        due = sum((s.debt for s in store.find_by_account(partner.inn, account)), ZERO)
        # Linking ticks the account's services too (Accounts.link), as in the pages.
        cabinets.accounts.link(issued.cabinet_id, partner.inn, account, _FLATS[client.flat], due)
        linked.append((partner.inn, account))
    return linked


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_demo(
    folder: Path, host: PluginHost, say: Callable[[str], None], *, port: int = 0
) -> None:
    """Serve the runner of the demo day in ``folder`` (API and client cabinet) on loopback
    until SIGINT or SIGTERM; print the cabinet's URL, the demo client's phone and the SMS
    outbox its login codes land in. Returns after a clean shutdown."""
    from pes_sdk_runner.api import create_app, listen, make_server, processor_for
    from pes_sdk_runner.store import open_store

    outbox = folder / "outbox" / "sms.jsonl"
    config = load_runner_config(example_config_path(), host, env=_ENV, data=folder)
    # A fresh secret for each demo: it keys the codes' and sessions' HMAC, and nothing of
    # the demo outlives it.
    cabinet = CabinetConfig(secrets.token_urlsafe(32), sms=AdapterSettings({"path": str(outbox)}))
    config = attrs.evolve(config, cabinet=cabinet)
    # SIGTERM ends the serving as Ctrl-C does: uvicorn shuts down, then raises the signal
    # again for this handler, and the KeyboardInterrupt is the normal way out.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with suppress(KeyboardInterrupt):
            try:
                sock = listen(_LOOPBACK, port)
            except OSError as exc:
                msg = f"cannot listen on {_LOOPBACK}:{port}: {exc.strerror or exc}"
                raise PesError(msg) from None
            base = f"http://{_LOOPBACK}:{sock.getsockname()[1]}"
            store = open_store(config.store.url, group_commit=config.store.group_commit)
            factory = host.gateways().get(config.gateway.name)
            if factory is None:
                sock.close()
                store.close()
                raise PesError(f"the payment gateway {config.gateway.name!r} is not installed")
            settings = {
                **config.gateway.adapter.merged(),
                "webhook_url": base + config.http.webhook_path,
            }
            gateway = factory.create(settings)
            try:
                processor = processor_for(gateway, store)
                _set_up_cabinet(store, config)
                app = create_app(store, config, host, processor)
                server = make_server(app, config, log_level="warning")
                say(f"cabinet: {base}/cabinet/")
                say(f"phone: {CABINET_PHONE}")
                say(f"sms outbox: {outbox}")
                server.run(sockets=[sock])
            finally:
                gateway.close()
                store.close()
                sock.close()
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the day's files in this folder (created if missing; must be empty). "
    "Default: a temporary folder, removed at the end.",
)
@click.option(
    "--serve",
    "serve",
    is_flag=True,
    help="After the day, keep serving the API and the client cabinet on loopback until "
    "Ctrl-C; print the cabinet's URL, a demo client's phone and the SMS outbox of its "
    "login codes.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="With --serve: listen on this port of 127.0.0.1 (0: any free one).",
)
@click.pass_context
def demo(ctx: click.Context, out: Path | None, serve: bool, port: int) -> None:
    """Run one whole day of the reference runner on the example configuration."""
    host = host_of(ctx)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise click.UsageError(f"{out} is not empty: the demo starts from nothing")
        folder, keep = out, True
    else:
        folder, keep = Path(tempfile.mkdtemp(prefix="pes-runner-demo-")), False
    try:
        summary = run_demo_day(folder.resolve(), host, click.echo)
        if serve:
            serve_demo(folder.resolve(), host, click.echo, port=port)
    except PesError as exc:
        raise click.ClickException(f"the demo day failed: {exc}") from exc
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if not keep:
        click.echo("   (a temporary folder, removed; `pes runner demo --out DIR` keeps the files)")
    if not summary.consistent:
        raise click.exceptions.Exit(EXIT_INVALID)
