"""Value objects of the ГИС ЖКХ exchange: what is sent, and the typed results.

Inputs are built from the SDK's models (:class:`~pes_sdk.models.PaymentRecord`,
:class:`~pes_sdk.models.Payment`, :class:`~pes_sdk.models.MeterReading`); every amount
leaves as whole kopecks and comes back as a two-place :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from pes_sdk import identifiers
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import Payment, PaymentRecord
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk_gis_zhkh.ids import ORDER_ID_LENGTH, order_id

__all__ = [
    "TAG_ELS",
    "TAG_PAYMENT_DOCUMENT_GUID",
    "TAG_PAYMENT_DOCUMENT_ID",
    "TAG_SERVICE_GUID",
    "TAG_SERVICE_ID",
    "BatchResult",
    "CancellationNotice",
    "ChargeDocument",
    "ItemError",
    "ItemResult",
    "ItemStatus",
    "LookupResult",
    "PaymentDetails",
    "PaymentNotice",
    "Recipient",
    "SendReport",
    "from_kopecks",
    "to_kopecks",
]

#: Registry tags (``KEY:value`` fields of a payment record) read for the short form.
TAG_SERVICE_ID = "GIS_SERVICE_ID"  #: ИЖКУ, 13 characters
TAG_SERVICE_GUID = "GIS_SERVICE_GUID"  #: ServiceIDGUID
TAG_PAYMENT_DOCUMENT_ID = "GIS_PD_ID"  #: ИПД, 18 characters
TAG_PAYMENT_DOCUMENT_GUID = "GIS_PD_GUID"  #: PaymentDocumentGUID
TAG_ELS = "ELS"  #: ЕЛС, 10 characters

#: ГИС ЖКХ dates are Moscow dates; Moscow keeps UTC+3 all year since 2014.
MOSCOW = dt.timezone(dt.timedelta(hours=3), "MSK")


def to_kopecks(value: Decimal) -> int:
    """Whole kopecks of a two-place amount (``12.34`` → ``1234``); floats are refused."""
    return int(to_amount(value) * 100)


def from_kopecks(value: int | Decimal | str) -> Decimal:
    """A two-place amount from kopecks as ГИС ЖКХ sends them (``MoneyKopeckType``)."""
    return to_amount(Decimal(value) / 100)


def _order_id(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) != ORDER_ID_LENGTH:
        raise ValueError(f"an OrderID has exactly {ORDER_ID_LENGTH} characters, not {len(value)}")


def _len(n: int) -> Callable[[object, attrs.Attribute[str | None], str | None], None]:
    def check(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and len(value) != n:
            raise ValueError(f"{attribute.name} has exactly {n} characters, not {len(value)}")

    return check


def _opt_guid(value: str | None) -> str | None:
    return None if value in (None, "") else identifiers.check_guid(str(value))


@attrs.frozen
class Recipient:
    """The payee (получатель платежа) of the full form: a partner and its bank account."""

    inn: str
    name: str
    bank_name: str
    bik: str
    account: str
    kpp: str | None = None
    corr_account: str | None = None

    @classmethod
    def from_partner(cls, partner: Partner) -> Recipient:
        """The recipient of a partner from ``PARTNERS.toml`` (bank name required)."""
        if not partner.bank.bank_name:
            raise ValueError(f"partner {partner.inn}: bank.name is required by ГИС ЖКХ")
        return cls(
            inn=partner.inn,
            name=partner.name,
            bank_name=partner.bank.bank_name,
            bik=partner.bank.bik,
            account=partner.bank.account,
            kpp=partner.kpp,
            corr_account=partner.bank.corr_account or None,
        )


@attrs.frozen(kw_only=True)
class PaymentNotice:
    """One «Извещение о принятии к исполнению распоряжения»: one paid line.

    The full form needs ``recipient``; the short form (п. 139) needs ``service_id`` with
    ``service_guid``, or ``payment_document_id`` with ``payment_document_guid``.
    """

    order_id: str = attrs.field(validator=_order_id)
    order_date: dt.date
    amount_kopecks: int = attrs.field(validator=attrs.validators.ge(0))
    account: str | None = None
    period: Period | None = None
    purpose: str | None = None
    recipient: Recipient | None = None
    els: str | None = attrs.field(default=None, validator=_len(10))
    service_id: str | None = attrs.field(default=None, validator=_len(13))
    service_guid: str | None = attrs.field(default=None, converter=_opt_guid)
    payment_document_id: str | None = attrs.field(default=None, validator=_len(18))
    payment_document_guid: str | None = attrs.field(default=None, converter=_opt_guid)

    @classmethod
    def from_record(
        cls, record: PaymentRecord, recipient: Recipient | None = None
    ) -> PaymentNotice:
        """The notice of a payment registry line; its OrderID is :func:`order_id` of it.

        Short-form identifiers come from the record's tags (``GIS_SERVICE_ID``,
        ``GIS_SERVICE_GUID``, ``GIS_PD_ID``, ``GIS_PD_GUID``, ``ELS``).
        """
        tags = dict(record.tags)
        return cls(
            order_id=order_id(record.operation_id, record.account, record.service),
            order_date=record.paid_at.astimezone(MOSCOW).date(),
            amount_kopecks=to_kopecks(record.amount),
            account=record.account,
            period=record.period,
            purpose=record.service or None,
            recipient=recipient,
            els=tags.get(TAG_ELS) or None,
            service_id=tags.get(TAG_SERVICE_ID) or None,
            service_guid=tags.get(TAG_SERVICE_GUID) or None,
            payment_document_id=tags.get(TAG_PAYMENT_DOCUMENT_ID) or None,
            payment_document_guid=tags.get(TAG_PAYMENT_DOCUMENT_GUID) or None,
        )

    @classmethod
    def from_payment(
        cls, payment: Payment, recipients: Mapping[str, Recipient]
    ) -> list[PaymentNotice]:
        """One notice per line of a basket payment; ``recipients`` maps partner ИНН → payee.

        A line's OrderID is :func:`order_id` of ``str(payment.payment_id)``, the line's
        account and service: the same as :meth:`from_record` gives when the registry's
        ``operation_id`` is the payment id.
        """
        day = payment.created_at.astimezone(MOSCOW).date()
        return [
            cls(
                order_id=order_id(str(payment.payment_id), line.account, line.service),
                order_date=day,
                amount_kopecks=to_kopecks(line.amount),
                account=line.account,
                period=line.period,
                purpose=line.service or None,
                recipient=recipients.get(line.partner_inn),
            )
            for line in payment.lines
        ]


@attrs.frozen(kw_only=True)
class CancellationNotice:
    """One «Извещение об аннулировании извещения»: a refund of a reported line."""

    order_id: str = attrs.field(validator=_order_id)
    cancelled_on: dt.date
    comment: str | None = None

    @classmethod
    def from_record(
        cls, record: PaymentRecord, cancelled_on: dt.date, comment: str | None = None
    ) -> CancellationNotice:
        """The cancellation of the notice :meth:`PaymentNotice.from_record` made."""
        return cls(
            order_id=order_id(record.operation_id, record.account, record.service),
            cancelled_on=cancelled_on,
            comment=comment,
        )


class ItemStatus(enum.StrEnum):
    """What became of one item of a message."""

    ACCEPTED = "accepted"  #: ГИС ЖКХ took it (GUID, UniqueNumber)
    ALREADY_REPORTED = "already_reported"  #: ГИС ЖКХ knew this OrderID already: not counted twice
    REFUSED = "refused"  #: ГИС ЖКХ refused it; see ``errors``
    NOT_SENT = "not_sent"  #: the adapter did not send it (duplicate input, no device GUID, …)


@attrs.frozen
class ItemError:
    """One error code and text of ГИС ЖКХ (``ErrorCode``, ``Description``)."""

    code: str
    description: str


@attrs.frozen
class ItemResult:
    """The outcome of one item; ``key`` is the OrderID, or the meter number for readings."""

    key: str
    transport_guid: str
    status: ItemStatus
    guid: str | None = None
    unique_number: str | None = None
    errors: tuple[ItemError, ...] = ()


@attrs.frozen
class BatchResult:
    """One message: our ``requester_message_guid``, ГИС ЖКХ's ``message_guid``, its items."""

    operation: str
    requester_message_guid: str
    message_guid: str
    items: tuple[ItemResult, ...]


@attrs.frozen
class SendReport:
    """Everything one send did: its messages and the items never sent."""

    batches: tuple[BatchResult, ...]
    not_sent: tuple[ItemResult, ...] = ()

    @property
    def items(self) -> tuple[ItemResult, ...]:
        return tuple(i for b in self.batches for i in b.items) + self.not_sent

    def count(self, status: ItemStatus) -> int:
        return sum(1 for i in self.items if i.status is status)

    @property
    def ok(self) -> bool:
        """True when every item was accepted now or before."""
        return all(
            i.status in (ItemStatus.ACCEPTED, ItemStatus.ALREADY_REPORTED) for i in self.items
        )


@attrs.frozen
class PaymentDetails:
    """What one payee of a payment document is owed (``PaymentInformationForAggregator``)."""

    recipient_inn: str | None
    recipient_kpp: str | None
    recipient_name: str | None
    bank_name: str | None
    bik: str | None
    account: str | None  #: the payee's р/с (operatingAccountNumber)
    amount_due: Decimal | None  #: Reminder: due for the period
    debt_or_advance: Decimal | None  #: negative is an advance
    total: Decimal | None  #: TotalWithDebtAndAdvance
    account_number: str | None  #: the client's ЛС with this payee
    service_id: str | None  #: ИЖКУ
    error: ItemError | None = None


@attrs.frozen
class ChargeDocument:
    """One payment document (платёжный документ) ГИС ЖКХ knows for the address or account."""

    payment_document_id: str | None  #: ИПД
    payment_document_number: str | None
    els: str | None
    account_number: str | None
    service_id: str | None
    period: Period | None
    payment_document_guid: str | None
    address: str | None
    executor_inn: str | None
    executor_name: str | None
    amount_due: Decimal
    debt: Decimal | None
    total: Decimal | None
    purpose: str | None
    payments: tuple[PaymentDetails, ...]
    error: ItemError | None = None


@attrs.frozen
class LookupResult:
    """What ``exportForPaymentAggregator`` found (maybe nothing)."""

    message_guid: str
    documents: tuple[ChargeDocument, ...]

    @property
    def total_due(self) -> Decimal:
        return to_amount(sum((d.amount_due for d in self.documents), Decimal(0)))
