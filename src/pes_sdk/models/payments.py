"""Payments: a client's basket payment, and the daily payment registry (реестр оплат)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from decimal import Decimal

import attrs

from pes_sdk.i18n import tr
from pes_sdk.models._fields import optional_guid, tags_converter, valid_account, valid_inn
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk.premises import Premises

__all__ = [
    "Payment",
    "PaymentLine",
    "PaymentMethod",
    "PaymentRecord",
    "PaymentRegistry",
    "PaymentTotals",
]


def _premises(value: Premises | str) -> Premises:
    return value if isinstance(value, Premises) else Premises(value)


# Named converters (not bare ``tuple``): type checkers then accept any iterable of lines.
def _lines(value: Iterable[PaymentLine]) -> tuple[PaymentLine, ...]:
    return tuple(value)


def _payment_records(value: Iterable[PaymentRecord]) -> tuple[PaymentRecord, ...]:
    return tuple(value)


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    SBERPAY = "sberpay"
    SBP = "sbp"  #: Система быстрых платежей


@attrs.frozen
class PaymentLine:
    """One partner service ticked in a client's basket.

    ``service`` and ``service_code`` are the service's name and code as the partner's debt
    registry gave them (:class:`~pes_sdk.models.debts.DebtRecord`): the payment registry
    carries them back so that the partner books the line to that service.
    """

    partner_inn: str = attrs.field(validator=valid_inn)
    account: str = attrs.field(validator=valid_account)
    amount: Decimal = attrs.field(converter=to_amount)
    service: str = ""
    house_id: str | None = attrs.field(default=None, converter=optional_guid)
    premises: Premises = attrs.field(default=Premises(""), converter=_premises)
    period: Period | None = None
    #: agent fee the client pays on top, if any
    client_fee: Decimal = attrs.field(default=ZERO, converter=to_amount)
    service_code: str = ""  #: the partner's code of the service, when its registry gives one

    def __attrs_post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(tr("a paid line must be positive, not {amount}", amount=self.amount))
        if self.client_fee < 0:
            raise ValueError(tr("a client fee cannot be negative"))


@attrs.frozen
class Payment:
    """One gateway payment for a whole basket: the lines plus the client's fees."""

    payment_id: uuid.UUID
    created_at: dt.datetime
    method: PaymentMethod
    lines: tuple[PaymentLine, ...] = attrs.field(converter=_lines)

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise ValueError(tr("a payment has at least one line"))
        if self.created_at.tzinfo is None:
            raise ValueError("a payment's created_at must carry a time zone")

    @property
    def total(self) -> Decimal:
        """What the client is charged: every line and every client fee."""
        return sum((ln.amount + ln.client_fee for ln in self.lines), ZERO)


@attrs.frozen
class PaymentRecord:
    """One paid service in a partner's daily payment registry.

    ``fee`` is what the service withholds from this line (commission with VAT), so
    ``amount == transfer + fee``. ``service`` (name) and ``service_code`` (code) say which
    of the account's services the line paid, as the partner's debt registry named it; a
    partner books a partial payment to that service (капремонт is accounted apart by law).
    """

    paid_at: dt.datetime
    operation_id: str
    account: str = attrs.field(validator=valid_account)
    amount: Decimal = attrs.field(converter=to_amount)
    transfer: Decimal = attrs.field(converter=to_amount)
    fee: Decimal = attrs.field(converter=to_amount)
    house_id: str | None = attrs.field(default=None, converter=optional_guid)
    premises: Premises = attrs.field(default=Premises(""), converter=_premises)
    period: Period | None = None
    service: str = ""
    channel: str = ""  #: where the client paid (app, cabinet, terminal, …)
    tags: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=tags_converter)
    service_code: str = ""  #: the partner's code of the service, when its registry gives one

    def __attrs_post_init__(self) -> None:
        if self.transfer + self.fee != self.amount:
            raise ValueError(
                tr(
                    "transfer {transfer} + fee {fee} must equal amount {amount}",
                    transfer=self.transfer,
                    fee=self.fee,
                    amount=self.amount,
                )
            )


@attrs.frozen
class PaymentTotals:
    """Totals of a payment registry. ``commission`` is net of VAT; both are withheld."""

    count: int
    amount: Decimal = attrs.field(converter=to_amount)
    commission: Decimal = attrs.field(converter=to_amount)
    vat: Decimal = attrs.field(converter=to_amount)
    transfer: Decimal = attrs.field(converter=to_amount)

    def __attrs_post_init__(self) -> None:
        if self.transfer + self.commission + self.vat != self.amount:
            raise ValueError(tr("transfer + commission + VAT must equal the amount paid"))

    @property
    def fee(self) -> Decimal:
        return self.commission + self.vat


@attrs.frozen
class PaymentRegistry:
    """The payments to one partner on one day, numbered without gaps per partner."""

    partner_inn: str = attrs.field(validator=valid_inn)
    date: dt.date = attrs.field(validator=attrs.validators.instance_of(dt.date))
    number: int = attrs.field(validator=attrs.validators.ge(1))
    records: tuple[PaymentRecord, ...] = attrs.field(converter=_payment_records)
    totals: PaymentTotals

    def __attrs_post_init__(self) -> None:
        recs = self.records
        if self.totals.count != len(recs):
            raise ValueError(
                tr(
                    "totals count {expected} != {count} records",
                    expected=self.totals.count,
                    count=len(recs),
                )
            )
        for name in ("amount", "transfer"):
            got = sum((getattr(r, name) for r in recs), ZERO)
            if got != getattr(self.totals, name):
                raise ValueError(
                    tr(
                        "records' {name} sum to {got}, totals say {expected}",
                        name=name,
                        got=got,
                        expected=getattr(self.totals, name),
                    )
                )
        fees = sum((r.fee for r in recs), ZERO)
        if fees != self.totals.fee:
            raise ValueError(
                tr(
                    "records' fees sum to {fees}, totals say {expected}",
                    fees=fees,
                    expected=self.totals.fee,
                )
            )
