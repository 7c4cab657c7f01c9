"""The example configuration's partners and the inputs the runner takes for them.

Shared by the tests that run the example configuration (``config/example.toml``): the
partners' ИНН, a debt registry file in the sber-debts format as УК Дом sends it, and paid
baskets put in the store the way the payment processor records them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.store import SqlStore

from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

#: УК Дом: sber-debts in, sber-payments out, 1.36 %, 1c-clientbank orders, cut-off 20:00,
#: no empty registries.
UK_DOM = "5003012349"
UK_DOM_ACCOUNT = "40702810200000005678"
#: Водоканал: pes-debts in, pes-payments out, subscription, 1c-directbank orders, cut-off
#: 18:00, empty registries on.
VODOKANAL = "7720123457"
#: Теплосеть: pes-debts in, pes-payments out, 1.2 %, no transfer orders, cut-off 21:30.
TEPLOSET = "5904123453"
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
PERIOD = Period(2026, 10)
DAY = dt.date(2026, 10, 20)  # long over by any real clock running these tests


def local(config: RunnerConfig, day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    """That wall-clock time of ``day`` in the service's time zone."""
    return dt.datetime.combine(day, dt.time(hh, mm, ss), tzinfo=config.service.time_zone)


def debt(account: str, amount: str) -> DebtRecord:
    """A PERIOD debt for Отопление at кв. 12А of HOUSE."""
    return DebtRecord(account, HOUSE, Premises("кв. 12А"), Decimal(amount), PERIOD, "Отопление")


def write_sber_debts(
    folder: Path,
    number: int,
    records: Sequence[DebtRecord],
    *,
    inn: str = UK_DOM,
    account: str = UK_DOM_ACCOUNT,
    period: Period = PERIOD,
) -> Path:
    """A sber-debts registry in ``folder`` under the format's own name (it carries the number)."""
    fmt = get_host().format("sber-debts")
    header = RegistryHeader(
        kind=RegistryKind.DEBTS,
        partner_inn=inn,
        partner_account=account,
        period=period,
        number=number,
    )
    name = fmt.filename(header)
    assert name is not None
    folder.mkdir(parents=True, exist_ok=True)
    fmt.write(folder / name, header, records)
    return folder / name


def basket_lines(
    inn: str,
    amounts: Sequence[str],
    *,
    account: str = "100",
    service: str = "Отопление",
    premises: str = "кв. 12А",
    period: Period = PERIOD,
) -> list[PaymentLine]:
    """One line per amount to ``inn``, on accounts ``account`` + the line's index."""
    return [
        PaymentLine(
            inn,
            f"{account}{i}",
            Decimal(a),
            service=service,
            house_id=HOUSE,
            premises=Premises(premises),
            period=period,
        )
        for i, a in enumerate(amounts)
    ]


def paid_entry(at: dt.datetime, lines: Sequence[PaymentLine], n: int | None = None) -> PaymentEntry:
    """A basket paid by card at ``at``, succeeded at the acquirer.

    With ``n``, its ids are fixed (order ``UUID(int=n)``, key ``key-n``, acquirer's
    ``gw-n``), so that two runs make the same payments; otherwise they are random.
    """
    order = uuid.uuid4() if n is None else uuid.UUID(int=n)
    return PaymentEntry(
        Payment(order, at, PaymentMethod.CARD, list(lines)),
        uuid.uuid4().hex if n is None else f"key-{n}",
        state=PaymentState.SUCCEEDED,
        gateway_payment_id=f"gw-{order.hex[:8]}" if n is None else f"gw-{n}",
    )


def book(store: SqlStore, entry: PaymentEntry) -> None:
    """Record the payment and credit it at its time, as the processor does."""
    store.add(entry)
    store.credit_payment(entry, at=entry.payment.created_at.astimezone(dt.UTC))


def pay_basket(
    store: SqlStore,
    inn: str,
    at: dt.datetime,
    *amounts: str,
    account: str = "100",
    service: str = "Отопление",
    period: Period = PERIOD,
) -> PaymentEntry:
    """A basket of ``amounts`` to ``inn`` paid at ``at`` and booked (see :func:`book`)."""
    entry = paid_entry(
        at, basket_lines(inn, amounts, account=account, service=service, period=period)
    )
    book(store, entry)
    return entry


def receive_debts(
    store: SqlStore, inn: str, at: dt.datetime, *records: DebtRecord, number: int = 1
) -> None:
    """A PERIOD debt registry of ``inn`` received at ``at``: the partner is served from then."""
    rows = records or (debt("0012345", "1500.00"),)
    digest = hashlib.sha256(f"{inn}:{number}:{rows!r}".encode()).hexdigest()
    store.ingest_debt_registry(inn, PERIOD, number, rows, sha256=digest, received_at=at)
