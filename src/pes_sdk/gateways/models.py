"""Value objects of the gateway contract: small, frozen, free of card and personal data.

Nothing here holds a card number, a name, a phone or an address: a gateway payment is known
by its ids, its amounts and its state. The basket itself is :class:`pes_sdk.models.Payment`.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.models.payments import Payment, PaymentMethod
from pes_sdk.models.receipts import Receipt
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount

__all__ = [
    "ChargeOptions",
    "Confirmation",
    "ConfirmationKind",
    "CreateOptions",
    "Decline",
    "GatewayCapabilities",
    "GatewayEvent",
    "GatewayPayment",
    "PaymentState",
    "RefundLine",
    "RefundRequest",
    "RefundResult",
    "SavedMethod",
    "WebhookRequest",
]


class PaymentState(enum.StrEnum):
    """Where a gateway payment stands. See :mod:`pes_sdk.gateways.state` for the moves."""

    CREATED = "created"  #: stored by the service, not (yet) known to be at the acquirer
    PENDING = "pending"  #: at the acquirer, waiting for the client to confirm
    SUCCEEDED = "succeeded"  #: paid: the money is the service's
    FAILED = "failed"  #: declined or errored: no money moved
    CANCELLED = "cancelled"  #: cancelled or expired before it was paid
    PARTIALLY_REFUNDED = "partially_refunded"  #: paid, then a part given back
    REFUNDED = "refunded"  #: paid, then all given back

    @property
    def is_final(self) -> bool:
        """A final state ends the payment flow (a paid payment may still be refunded)."""
        return self not in (PaymentState.CREATED, PaymentState.PENDING)

    @property
    def is_paid(self) -> bool:
        """The client's money reached the service (refunds are separate movements)."""
        return self in (
            PaymentState.SUCCEEDED,
            PaymentState.PARTIALLY_REFUNDED,
            PaymentState.REFUNDED,
        )


class ConfirmationKind(enum.StrEnum):
    REDIRECT = "redirect"  #: send the client's browser to ``url``
    QR = "qr"  #: show ``qr_payload`` as a QR code (СБП); opaque, issued by the acquirer


@attrs.frozen
class Confirmation:
    """What to show the client so that they confirm the payment.

    For СБП the ``qr_payload`` (e.g. ``https://qr.nspk.ru/…``) comes from the acquirer and is
    passed on as is: the SDK never builds or edits one.
    """

    kind: ConfirmationKind
    url: str | None = None
    qr_payload: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is ConfirmationKind.REDIRECT and not self.url:
            raise ValueError("a redirect confirmation needs a url")
        if self.kind is ConfirmationKind.QR and not self.qr_payload:
            raise ValueError("a QR confirmation needs the acquirer's qr_payload")


class Decline(enum.StrEnum):
    """Why an acquirer declined a charge of a saved method, in the terms autopay acts on.

    Each adapter maps its protocol's codes here (docs/gateways.md, "Saved methods"): the
    acquirer's own code stays in :attr:`GatewayPayment.decline_code` for the operator.
    """

    #: not enough money, or a limit of the card: a later attempt may go through
    FUNDS = "funds"
    #: the method cannot be charged again (expired, blocked, lost, the client withdrew the
    #: permission at the acquirer or the bank): no retry helps, the client must link anew
    METHOD_GONE = "method_gone"
    #: anything else (the issuer said no without a reason, an antifraud rule): retry a
    #: bounded number of times
    OTHER = "other"


@attrs.frozen
class SavedMethod:
    """A payment method the acquirer keeps for charges without the client (автоплатёж).

    Learned from the first payment made with :attr:`CreateOptions.save_method` (the
    snapshot's :attr:`GatewayPayment.saved_method`) and kept by the service with the
    client's consent. It holds no card data: ``method_id`` is the acquirer's handle (ЮKassa
    ``payment_method.id``, Т-Банк ``RebillId``, Сбербанк ``bindingId``), ``customer_key``
    the customer it belongs to where the protocol keeps one (Т-Банк ``CustomerKey``,
    Сбербанк ``clientId``), ``title`` what the client recognises it by (a masked card,
    ``"*4444"``: the last four digits at most).
    """

    gateway: str
    method_id: str
    customer_key: str = ""
    title: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.method_id:
            raise ValueError("a saved method has the acquirer's id")
        digits = sum(ch.isdigit() for ch in self.title)
        if digits > 4:
            raise ValueError("a saved method's title shows at most four digits of a card")


def _aware(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise ValueError(f"{attribute.name} must carry a time zone")


@attrs.frozen
class GatewayPayment:
    """The acquirer's view of one payment at one moment (a snapshot).

    ``order_id`` is the service's own :attr:`pes_sdk.models.Payment.payment_id`;
    ``gateway_payment_id`` is the acquirer's id. ``refunded`` is the total given back so far.
    ``paid_at`` is when the acquirer captured the money (списание), as its answer states it
    (ЮKassa ``captured_at``, Сбербанк ``depositedDate``, the sandbox's ``paid_at``): the
    moment a bank statement shows, which decides the partner-day the payment belongs to.
    None while the payment is not paid, and where the protocol tells no such time (Т-Банк):
    the processor then takes the moment the service learned it (docs/gateways.md).
    """

    gateway: str
    gateway_payment_id: str
    order_id: uuid.UUID
    state: PaymentState
    amount: Decimal = attrs.field(converter=to_amount)
    refunded: Decimal = attrs.field(default=ZERO, converter=to_amount)
    method: PaymentMethod | None = None
    confirmation: Confirmation | None = None
    paid_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    #: the method the acquirer saved for later charges, once it tells (a payment created
    #: with :attr:`CreateOptions.save_method`); None otherwise
    saved_method: SavedMethod | None = None
    #: why a charge (or a payment) was declined, for a ``failed`` or ``cancelled`` one
    #: where the protocol tells; :attr:`decline_code` is the acquirer's own code
    decline: Decline | None = None
    decline_code: str = ""

    def __attrs_post_init__(self) -> None:
        if self.decline is not None and self.state not in (
            PaymentState.FAILED,
            PaymentState.CANCELLED,
        ):
            raise ValueError(f"a {self.state} payment has no decline")
        if not self.gateway_payment_id:
            raise ValueError("a gateway payment has an id")
        if self.amount <= 0:
            raise ValueError(f"a payment amount must be positive, not {self.amount}")
        if not ZERO <= self.refunded <= self.amount:
            raise ValueError(f"refunded {self.refunded} must be within 0..{self.amount}")
        partial = self.state is PaymentState.PARTIALLY_REFUNDED
        if (self.refunded > 0) != (partial or self.state is PaymentState.REFUNDED):
            raise ValueError(f"a {self.state} payment cannot have refunded {self.refunded}")
        if partial and self.refunded == self.amount:
            raise ValueError("a partially refunded payment has something left")
        if self.state is PaymentState.REFUNDED and self.refunded != self.amount:
            raise ValueError("a refunded payment has given back its whole amount")


@attrs.frozen
class GatewayEvent:
    """A verified webhook, normalised: the payment's snapshot as the acquirer reported it.

    ``event_id`` is the acquirer's id of the notification when it has one (used only to
    recognise exact repeats); ``signed_at`` is the time the acquirer signed it, when the
    protocol carries a signed time (the replay window is checked against it).
    """

    event_id: str
    payment: GatewayPayment
    signed_at: dt.datetime | None = attrs.field(default=None, validator=_aware)


def _header_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.frozen
class WebhookRequest:
    """An incoming HTTP notification as received, before any check.

    ``body`` is the raw bytes (signatures are over them, never over re-encoded JSON);
    header names are compared case-insensitively; ``remote_addr`` is the peer address (some
    acquirers, YooKassa among them, are recognised by their source network).
    """

    body: bytes
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_header_pairs)
    query: str = ""
    remote_addr: str | None = None
    received_at: dt.datetime = attrs.field(factory=_now, validator=_aware)

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@attrs.frozen
class CreateOptions:
    """How to create one gateway payment.

    ``idempotency_key`` is made once, stored before the first attempt and sent on every
    retry, so the acquirer creates the payment once however often the request is repeated.
    """

    idempotency_key: str
    return_url: str
    description: str = ""
    #: the 54-ФЗ receipt, passed to the acquirer's receipt fields where it has them
    receipt: Receipt | None = None
    #: ask the acquirer to keep the method for charges without the client (the client
    #: agreed to autopay on this payment); needs :attr:`GatewayCapabilities.recurring`
    save_method: bool = False
    #: the service's opaque, stable id of the client at the acquirer (Т-Банк
    #: ``CustomerKey``, Сбербанк ``clientId``): never a phone, an e-mail or a name
    customer_key: str = ""

    def __attrs_post_init__(self) -> None:
        if not 8 <= len(self.idempotency_key) <= 64:
            raise ValueError("an idempotency key has 8 to 64 characters")
        if self.save_method and not self.customer_key:
            raise ValueError("saving a method needs the client's customer_key")


@attrs.frozen
class ChargeOptions:
    """How to charge a saved method once (one autopay charge).

    ``idempotency_key`` derives from what the charge is for (the consent and the period),
    so every retry, in any process, after any crash, asks for the same charge; the
    service's order id (:attr:`pes_sdk.models.Payment.payment_id`) derives from it too.
    """

    idempotency_key: str
    description: str = ""
    receipt: Receipt | None = None

    def __attrs_post_init__(self) -> None:
        if not 8 <= len(self.idempotency_key) <= 64:
            raise ValueError("an idempotency key has 8 to 64 characters")


@attrs.frozen
class RefundLine:
    """The part of one basket line to give back: ``index`` into ``Payment.lines``."""

    index: int = attrs.field(validator=attrs.validators.ge(0))
    amount: Decimal = attrs.field(converter=to_amount)

    def __attrs_post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"a refund line must be positive, not {self.amount}")


def _refund_lines(value: Any) -> tuple[RefundLine, ...]:
    return tuple(value)


@attrs.frozen
class RefundRequest:
    """A refund of one payment: its lines (for receipts), summing to :attr:`amount`."""

    gateway_payment_id: str
    lines: tuple[RefundLine, ...] = attrs.field(converter=_refund_lines)

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise ValueError("a refund has at least one line")
        indices = [ln.index for ln in self.lines]
        if len(set(indices)) != len(indices):
            raise ValueError("a refund names each line at most once")

    @property
    def amount(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)

    @classmethod
    def full(cls, payment: Payment, gateway_payment_id: str) -> RefundRequest:
        """Every line with its client fee: the whole payment."""
        return cls.for_lines(payment, gateway_payment_id, range(len(payment.lines)))

    @classmethod
    def for_lines(
        cls,
        payment: Payment,
        gateway_payment_id: str,
        lines: Mapping[int, Decimal] | range | list[int] | tuple[int, ...],
    ) -> RefundRequest:
        """Refund some lines: indices (the whole line with its fee) or ``{index: amount}``."""
        parts = dict(lines) if isinstance(lines, Mapping) else dict.fromkeys(lines)
        out = []
        for index, value in parts.items():
            if not 0 <= index < len(payment.lines):
                raise ValueError(f"the payment has no line {index}")
            line = payment.lines[index]
            out.append(RefundLine(index, line.amount + line.client_fee if value is None else value))
        return cls(gateway_payment_id, out)


@attrs.frozen
class RefundResult:
    """A refund the acquirer accepted, and the payment's snapshot after it."""

    refund_id: str
    amount: Decimal = attrs.field(converter=to_amount)
    payment: GatewayPayment


@attrs.frozen
class GatewayCapabilities:
    """What a gateway can do; the conformance suite skips what it cannot, saying why."""

    methods: frozenset[PaymentMethod] = attrs.field(converter=frozenset)
    #: refunds of part of a payment (per line or any amount)
    partial_refunds: bool = True
    #: webhooks carry a signature over their content (YooKassa's do not)
    signed_webhooks: bool = True
    #: webhooks carry a signed timestamp, so a replay window applies
    webhook_timestamps: bool = True
    #: a payment can be looked up by the service's own order id
    lookup_by_order: bool = True
    #: the merchant can cancel a payment the client has not paid yet (ЮKassa cannot cancel
    #: a pending one-stage payment: it expires); without it ``cancel_payment`` of a pending
    #: payment raises :class:`~pes_sdk.gateways.errors.GatewayRefused` and changes nothing
    cancel_pending: bool = True
    #: the protocol carries :attr:`CreateOptions.receipt` to the acquirer (54-ФЗ positions
    #: with the agent sign and the supplier, the buyer's contact); without it the receipt is
    #: made elsewhere (the service's own cloud register) and the adapter ignores it
    receipts: bool = True
    #: the gateway sends a partial refund's receipt: the refunded part of each line's
    #: position (agent sign, supplier) and of the fee, to the payment's buyer (ЮKassa with
    #: ``refund_receipt_for``); without it a refund's receipt, if any, is made elsewhere
    refund_receipts: bool = False
    #: saved methods: :attr:`CreateOptions.save_method` keeps the method of a paid payment
    #: and :meth:`~pes_sdk.gateways.contract.PaymentGateway.charge_saved` charges it
    #: without the client (ЮKassa ``payment_method_id``, Т-Банк ``Charge`` by
    #: ``RebillId``, Сбербанк binding payments)
    recurring: bool = False
    #: the acquirer can be asked to forget a saved method
    #: (:meth:`~pes_sdk.gateways.contract.PaymentGateway.forget_method`); without it the
    #: service only stops using it (ЮKassa has no such call)
    unbind: bool = False
