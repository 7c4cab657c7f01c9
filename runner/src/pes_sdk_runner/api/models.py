"""The small attrs models of the HTTP API's requests and responses.

There is no second model layer: the SDK's own models (:class:`~pes_sdk.models.payments.PaymentLine`,
:class:`~pes_sdk.gateways.models.Confirmation`) and the store's values
(:class:`~pes_sdk_runner.store.base.Acceptance`, :class:`~pes_sdk_runner.store.base.DeliveryInfo`,
…) travel as they are, (un)structured by :func:`pes_sdk.serialization.make_converter` with
extra keys forbidden. The classes here only wrap them where a request carries something
no model has (the app's client id, a return URL) or a response adds a derived figure
(a service's ``balance`` and ``due``). A meter reading travels as the core's
:class:`~pes_sdk.models.readings.MeterReading`; its photo's bytes come beside it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs

from pes_sdk.gateways.models import Confirmation, PaymentState
from pes_sdk.models.payments import PaymentLine, PaymentMethod
from pes_sdk.models.readings import MeterReading
from pes_sdk.period import Period
from pes_sdk_runner.store.base import (
    Acceptance,
    DebtRegistryInfo,
    DecreaseReason,
    DeliveryInfo,
    PaymentRegistryInfo,
    ServiceBalance,
    StoredReading,
)
from pes_sdk_runner.usecases import AutopayTerms, BasketLine  # use case inputs, sent as they are

__all__ = [
    "AcceptanceRequest",
    "AcceptanceView",
    "AutopayTerms",
    "BasketLine",
    "BillView",
    "BillsView",
    "ConfirmRequest",
    "DeliveriesView",
    "ErrorView",
    "HealthView",
    "LinkRequest",
    "LinkedAccountView",
    "LinkedAccountsView",
    "LoginRequest",
    "LoginStarted",
    "PaymentRegistryView",
    "PaymentRequest",
    "PaymentView",
    "QrBillView",
    "QrResolveRequest",
    "ReadingRecorded",
    "ReadingRequest",
    "ReadingView",
    "ReadingsView",
    "RefundBody",
    "RefundView",
    "RegistriesView",
    "ServiceView",
    "ServicesView",
    "SessionView",
]


@attrs.frozen
class ErrorView:
    """Every error answer: a stable ``error`` code, a message, and the field at fault."""

    error: str
    message: str
    field: str | None = None


@attrs.frozen
class HealthView:
    """``ok`` when the store answers. ``scheduler_last_pass`` is when the scheduler of
    ``pes runner serve`` last ran a pass (None without one): alert when it lags."""

    status: str
    schema_version: int
    scheduler_last_pass: dt.datetime | None = None


@attrs.frozen
class ServiceView:
    """One partner service at an address or on an account, with what is left to pay.

    ``service`` is the service's name, the key a basket line names it by; ``service_code``
    the partner's code of it (код услуги), ``""`` when its debt registry gives none.
    """

    partner_inn: str
    account: str
    service: str
    house_id: str | None  #: None: the registry gave no address (found by account only)
    premises: str
    debt: Decimal
    paid: Decimal
    balance: Decimal
    due: Decimal
    registry_period: Period
    registry_number: int
    period: Period | None = None
    service_code: str = ""

    @classmethod
    def of(cls, s: ServiceBalance) -> ServiceView:
        return cls(
            s.partner_inn,
            s.account,
            s.service,
            s.house_id,
            s.premises,
            s.debt,
            s.paid,
            s.balance,
            s.due,
            s.registry_period,
            s.registry_number,
            s.period,
            s.service_code,
        )


@attrs.frozen
class ServicesView:
    services: tuple[ServiceView, ...]


@attrs.frozen
class QrResolveRequest:
    """The text of a bill's payment QR code (ГОСТ Р 56042-2014: ``ST0001…``), as the
    app's camera read it; at most 4096 characters.

    ``client_id`` is the app's own id of the client who asks, as in the other requests:
    the QR limits count each client apart (an app that names none is counted by the
    address it calls from). A cabinet's session names its client itself."""

    text: str
    client_id: str = attrs.field(default="", kw_only=True)


@attrs.frozen
class QrBillView:
    """What a bill's QR code pays (``POST /v1/qr/resolve``): the served partner's account,
    its services, and the basket ``lines`` to offer (the code's ``Sum`` spread over the
    services, each due in turn, an overpayment on the first; without ``Sum``, the dues),
    ready for ``POST /v1/payments`` once the client has ticked them. ``amount`` is their
    total; ``sum`` the code's own, null when it has none."""

    partner_inn: str
    partner_name: str
    account: str
    services: tuple[ServiceView, ...]
    lines: tuple[BasketLine, ...]
    amount: Decimal
    sum: Decimal | None


@attrs.frozen
class AcceptanceRequest:
    """The client's tick (галочка-акцепт) on a partner service.

    ``client_id`` is the app's own opaque id of its user (never a name); the runner keeps
    it under the app's token, so two apps cannot see each other's clients. A cabinet's
    session token names its client itself: ``client_id`` is then left out (and ignored).
    """

    partner_inn: str
    account: str
    service: str = ""
    client_id: str = attrs.field(default="", kw_only=True)


@attrs.frozen
class AcceptanceView:
    acceptance: Acceptance


@attrs.frozen
class PaymentRequest:
    """A basket payment. The ``Idempotency-Key`` header makes a retry return the same one."""

    lines: tuple[BasketLine, ...]
    return_url: str
    method: PaymentMethod = PaymentMethod.CARD
    description: str = ""
    client_id: str = attrs.field(default="", kw_only=True)  #: not with a session token
    #: where the acquirer sends the client's 54-ФЗ receipt (tag 1008); kept nowhere else
    receipt_email: str | None = attrs.field(default=None, kw_only=True)
    #: the client agrees to autopay (автоплатёж) by this payment: the acquirer saves the
    #: card, and the consent comes into force when the payment is paid
    autopay: AutopayTerms | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class PaymentView:
    """A payment as the app sees it: its state, total and what to show the client."""

    order_id: uuid.UUID
    state: PaymentState
    total: Decimal
    created_at: dt.datetime
    method: PaymentMethod
    lines: tuple[PaymentLine, ...]
    confirmation: Confirmation | None = None


@attrs.frozen
class PaymentRegistryView:
    registry: PaymentRegistryInfo
    deliveries: tuple[DeliveryInfo, ...]


@attrs.frozen
class RegistriesView:
    debt_registries: tuple[DebtRegistryInfo, ...]
    payment_registries: tuple[PaymentRegistryView, ...]


@attrs.frozen
class DeliveriesView:
    deliveries: tuple[DeliveryInfo, ...]


@attrs.frozen
class RefundBody:
    """An operator's refund (возврат): ``{"lines": {"0": "100.00"}}``, or ``null`` for all.

    Keys are basket line indices (as strings: JSON keys), values the amounts to give back.
    ``lines`` must be present: a whole-payment refund is asked for explicitly.
    """

    lines: dict[str, Decimal] | None


@attrs.frozen
class RefundView:
    """A payment after a refund: what was given back in all, and per basket line."""

    order_id: uuid.UUID
    state: PaymentState
    total: Decimal
    refunded: Decimal
    line_refunded: tuple[Decimal, ...]
    refund_no: int  #: the payment's refund this request became (1, 2, …)


@attrs.frozen
class ReadingRequest:
    """A client's meter reading (показание прибора учёта) on an accepted partner account.

    ``photo`` is the picture's bytes in base64 (JPEG or PNG); the runner keeps them and
    fills ``reading.photo`` with their hash, so ``reading.photo`` is not sent. ``decrease``
    says why a value is below the meter's previous one (else such a reading is refused).
    """

    partner_inn: str
    reading: MeterReading
    photo: str | None = None
    decrease: DecreaseReason | None = None
    client_id: str = attrs.field(default="", kw_only=True)  #: not with a session token


@attrs.frozen
class ReadingView:
    """A recorded reading, without who sent it. ``superseded``: corrected by a later one."""

    id: int
    partner_inn: str
    reading: MeterReading
    received_at: dt.datetime
    decrease: DecreaseReason | None = None
    superseded: bool = False

    @classmethod
    def of(cls, r: StoredReading) -> ReadingView:
        return cls(r.id, r.partner_inn, r.reading, r.received_at, r.decrease, r.superseded)


@attrs.frozen
class ReadingRecorded:
    """The answer to a new reading; ``new`` is false for a repeat of one already recorded."""

    reading: ReadingView
    new: bool


@attrs.frozen
class ReadingsView:
    readings: tuple[ReadingView, ...]


# -- monthly bills (квитанции) ------------------------------------------------------------------


@attrs.frozen
class BillView:
    """A monthly bill of an account the client may see. ``ready`` false: not made yet
    (формируется). ``url``: where its PDF is (GET with the same token), when ready."""

    partner_inn: str
    account: str
    period: Period
    ready: bool
    url: str | None = None


@attrs.frozen
class BillsView:
    """Each account's bills, its newest period first."""

    bills: tuple[BillView, ...]


# -- the client cabinet: login by phone and linked accounts ------------------------------------


@attrs.frozen
class LoginRequest:
    """A phone number, written any way a person writes it (``8 (916) 123-45-67``)."""

    phone: str


@attrs.frozen
class LoginStarted:
    """A code went to the phone (or not: the answer is the same); confirm it with
    ``attempt`` before ``expires_at``."""

    attempt: str
    expires_at: dt.datetime


@attrs.frozen
class ConfirmRequest:
    attempt: str
    code: str


@attrs.frozen
class SessionView:
    """A session's Bearer token, shown once; it ends at ``expires_at`` at the latest (or
    once unused for the idle timeout, or at logout)."""

    token: str
    expires_at: dt.datetime


@attrs.frozen
class LinkRequest:
    """An account to link, proved by its premises and the amount due on its latest bill."""

    partner_inn: str
    account: str
    premises: str
    amount_due: Decimal


@attrs.frozen
class LinkedAccountView:
    partner_inn: str
    account: str
    linked_at: dt.datetime


@attrs.frozen
class LinkedAccountsView:
    accounts: tuple[LinkedAccountView, ...]
