"""Value objects of the ГИС ЖКХ exchange: what is sent, and the typed results.

Inputs are built from the SDK's models (:class:`~pes_sdk.models.PaymentRecord`,
:class:`~pes_sdk.models.Payment`, :class:`~pes_sdk.models.MeterReading`); every amount
leaves as whole kopecks and comes back as a two-place :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs

from pes_sdk import identifiers
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import Payment, PaymentMethod, PaymentRecord
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk.partners_file import DEFAULT_TIME_ZONE
from pes_sdk.period import Period
from pes_sdk_gis_zhkh.ids import ORDER_ID_LENGTH, order_id

__all__ = [
    "ONLINE_CHANNELS",
    "SERVICE_TIME_ZONE",
    "TAG_ELS",
    "TAG_PAYMENT_DOCUMENT_GUID",
    "TAG_PAYMENT_DOCUMENT_ID",
    "TAG_SERVICE_GUID",
    "TAG_SERVICE_ID",
    "BatchResult",
    "CancellationNotice",
    "ChargeDocument",
    "Executor",
    "ItemError",
    "ItemResult",
    "ItemStatus",
    "LookupResult",
    "PaymentDetails",
    "PaymentNotice",
    "Recipient",
    "SendReport",
    "ServiceInfo",
    "from_kopecks",
    "is_online",
    "order_date_of",
    "to_kopecks",
]

#: Registry tags (``KEY:value`` fields of a payment record) read for the short form.
TAG_SERVICE_ID = "GIS_SERVICE_ID"  #: ИЖКУ, 13 characters
TAG_SERVICE_GUID = "GIS_SERVICE_GUID"  #: ServiceIDGUID
TAG_PAYMENT_DOCUMENT_ID = "GIS_PD_ID"  #: ИПД, 18 characters
TAG_PAYMENT_DOCUMENT_GUID = "GIS_PD_GUID"  #: PaymentDocumentGUID
TAG_ELS = "ELS"  #: ЕЛС, 10 characters

#: The service's zone when none is configured (``service.time_zone`` of PARTNERS.toml).
SERVICE_TIME_ZONE = ZoneInfo(DEFAULT_TIME_ZONE)

#: Payment channels (``PaymentRecord.channel``, compared without case) that are online
#: payments: the kit's own gateway methods and the usual names of an app, a personal
#: cabinet or an online bank. ``online_channels`` in ``GIS.toml`` replaces the set.
ONLINE_CHANNELS = frozenset(
    {*(m.value for m in PaymentMethod), "app", "cabinet", "кабинет", "online", "web", "сбол"}
)


def order_date_of(moment: dt.datetime, time_zone: dt.tzinfo = SERVICE_TIME_ZONE) -> dt.date:
    """The date of an order (``OrderDate``): the day the service accepted the payment.

    It is the service's calendar day, as its registry and its bank statement date the
    payment. A time without a zone is already a wall time of the service's zone (that is
    how the kit's registries write it), so its own date is the answer; it is never read in
    the host's zone. A time with a zone is converted to ``time_zone`` first.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.date()
    return moment.astimezone(time_zone).date()


def is_online(channel: str, online_channels: Collection[str] = ONLINE_CHANNELS) -> bool:
    """Whether a record's payment channel is an online payment (``OnlinePayment``)."""
    wanted = channel.strip().casefold()
    return bool(wanted) and any(wanted == c.strip().casefold() for c in online_channels)


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
    ``online`` sends ``OnlinePayment`` (признак онлайн-оплаты); the schema fixes that
    element to ``true``, so a payment not made online is told by leaving it out.
    """

    order_id: str = attrs.field(validator=_order_id)
    order_date: dt.date = attrs.field(validator=attrs.validators.instance_of(dt.date))
    amount_kopecks: int = attrs.field(validator=attrs.validators.ge(0))
    online: bool = False
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
        cls,
        record: PaymentRecord,
        recipient: Recipient | None = None,
        *,
        time_zone: dt.tzinfo = SERVICE_TIME_ZONE,
        online_channels: Collection[str] = ONLINE_CHANNELS,
    ) -> PaymentNotice:
        """The notice of a payment registry line; its OrderID is :func:`order_id` of it.

        ``OrderDate`` is :func:`order_date_of` of ``paid_at`` in ``time_zone`` (the service's);
        ``online`` says whether ``record.channel`` is one of ``online_channels``.
        Short-form identifiers come from the record's tags (``GIS_SERVICE_ID``,
        ``GIS_SERVICE_GUID``, ``GIS_PD_ID``, ``GIS_PD_GUID``, ``ELS``).
        """
        tags = dict(record.tags)
        return cls(
            order_id=order_id(record.operation_id, record.account, record.service),
            order_date=order_date_of(record.paid_at, time_zone),
            amount_kopecks=to_kopecks(record.amount),
            online=is_online(record.channel, online_channels),
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
        cls,
        payment: Payment,
        recipients: Mapping[str, Recipient],
        *,
        time_zone: dt.tzinfo = SERVICE_TIME_ZONE,
    ) -> list[PaymentNotice]:
        """One notice per line of a basket payment; ``recipients`` maps partner ИНН → payee.

        A line's OrderID is :func:`order_id` of ``str(payment.payment_id)``, the line's
        account and service: the same as :meth:`from_record` gives when the registry's
        ``operation_id`` is the payment id. A basket is paid through the gateway (card,
        SberPay, SBP), so every notice is an online payment.
        """
        day = order_date_of(payment.created_at, time_zone)
        return [
            cls(
                order_id=order_id(str(payment.payment_id), line.account, line.service),
                order_date=day,
                amount_kopecks=to_kopecks(line.amount),
                online=True,
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
    """One payee's bank details and amounts (``PaymentInformationForAggregator``).

    ``error`` is ГИС ЖКХ's ``ErrorMessage`` for this payee: its details cannot be used, and
    nothing is to be paid to it (:attr:`payable` is False). The amounts are absent in a
    service answer (:class:`ServiceInfo`), which states none.
    """

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
    corr_account: str | None = None  #: the bank's к/с (CorrespondentBankAccount)
    #: IsCapitalRepair: these details take capital repair (капремонт) payments only
    capital_repair: bool = False
    payment_information_guid: str | None = None  #: PaymentInformationGuid

    @property
    def payable(self) -> bool:
        """False when ГИС ЖКХ answered this payee with an error."""
        return self.error is None


@attrs.frozen(kw_only=True)
class Executor:
    """The executor (исполнитель: УК, РСО) of a document or a service (``ExecutorInformation``).

    ``kpp`` is None for an individual entrepreneur (``Entpr``), whose ``name`` is the
    full name; ``payees`` are its payment details, one per bank account.
    """

    inn: str | None
    name: str | None
    kpp: str | None = None
    mailing_address: str | None = None
    payees: tuple[PaymentDetails, ...] = ()


@attrs.frozen(kw_only=True)
class ChargeDocument:
    """One payment document (платёжный документ) ГИС ЖКХ knows for the address or account.

    A document ГИС ЖКХ answered with an error (``ErrorMessage``, e.g. "Платёжный документ
    отозван": revoked) is not :attr:`payable`: its amounts are shown, never offered for
    payment. What the client owes on it is :attr:`owed`, as ГИС ЖКХ states it.
    """

    payment_document_id: str | None  #: ИПД
    payment_document_number: str | None
    els: str | None
    account_number: str | None
    service_id: str | None  #: ИЖКУ
    period: Period | None
    payment_document_guid: str | None
    #: every premises address of the consumer (``address_string``), in order
    addresses: tuple[str, ...]
    executor: Executor
    amount_due: Decimal  #: Reminder: charged for the period by the whole document
    debt: Decimal | None  #: Debt: debt of earlier periods
    total: Decimal | None  #: TotalWithDebtAndAdvance: to pay, debt and advance included
    purpose: str | None
    service_name: str | None  #: PDServiceName
    error: ItemError | None = None

    @property
    def address(self) -> str | None:
        """The first address (most documents have one)."""
        return self.addresses[0] if self.addresses else None

    @property
    def payments(self) -> tuple[PaymentDetails, ...]:
        """The payees of the document (the executor's payment details)."""
        return self.executor.payees

    @property
    def executor_inn(self) -> str | None:
        return self.executor.inn

    @property
    def executor_name(self) -> str | None:
        return self.executor.name

    @property
    def payable(self) -> bool:
        """False when ГИС ЖКХ answered the document with an error (revoked, …)."""
        return self.error is None

    @property
    def owed(self) -> Decimal:
        """What the client owes on the document as ГИС ЖКХ states it.

        ``TotalWithDebtAndAdvance``; when ГИС ЖКХ gives no total, the period's charge plus
        the debt. Negative is an advance (the client overpaid).
        """
        if self.total is not None:
            return self.total
        return to_amount(self.amount_due + (self.debt or ZERO))

    @property
    def to_pay(self) -> Decimal:
        """What may be offered for payment: :attr:`owed`, never below zero, and zero when
        the document is not payable."""
        return max(self.owed, ZERO) if self.payable else ZERO


@attrs.frozen(kw_only=True)
class ServiceInfo:
    """A service (ИЖКУ) with no charges (``ServiceForAggregator``): payable, amount unstated.

    ГИС ЖКХ answers so when it holds no payment document for the account: the client can
    still pay the service, with an amount of their own, to these payees.
    """

    els: str
    account_number: str | None
    service_id: str  #: ИЖКУ
    service_guid: str  #: ServiceIDGuid
    executor: Executor
    purpose: str | None = None
    service_name: str | None = None  #: PDServiceName


@attrs.frozen
class LookupResult:
    """What ``exportForPaymentAggregator`` found (maybe nothing).

    ГИС ЖКХ answers either with charges (``documents``) or, when there are none, with the
    services (``services``) that can be paid.
    """

    message_guid: str
    documents: tuple[ChargeDocument, ...]
    services: tuple[ServiceInfo, ...] = ()

    @property
    def total_due(self) -> Decimal:
        """What the client owes over every payable document (:attr:`ChargeDocument.to_pay`).

        An advance on one document does not pay another (they may have other payees), and
        a document with an error counts nothing.
        """
        return to_amount(sum((d.to_pay for d in self.documents), ZERO))
