"""A local ЮKassa (API v3) simulator: a real HTTP server on loopback, with switches for bad days.

The same design as the sandbox acquirer (stdlib :mod:`http.server` in a thread, HTTP/1.1
keep-alive, nothing beyond the core), speaking ЮKassa's protocol::

    POST /v3/payments                  create (amount, capture, confirmation, payment_method_data,
                                       metadata, receipt, save_payment_method), or charge a
                                       saved method (payment_method_id, no confirmation);
                                       Idempotence-Key required
    GET  /v3/payments                  list, newest first (created_at.gte, limit, cursor)
    GET  /v3/payments/{id}             the payment object
    POST /v3/payments/{id}/cancel      only from waiting_for_capture; Idempotence-Key
    POST /v3/refunds                   refund {payment_id, amount, receipt}; Idempotence-Key
    GET  /v3/refunds/{id}              the refund object
    GET  /checkout/{id}, POST …        the confirmation page (pay / decline; no card fields)
    GET  /qr/{token}                   where the opaque СБП payload points (the same page)

Rules enforced as ЮKassa documents them: HTTP Basic ``shopId:secretKey`` (401
``invalid_credentials``); every POST needs ``Idempotence-Key`` (at most 64 characters); the
same key with the same body returns the first answer, with another body it is refused (400
``invalid_request``, parameter ``Idempotence-Key``: the exact code is unverified); amounts
are ``{"value": "1272.26", "currency": "RUB"}``; errors are ``{"type": "error", "id", "code",
"description", "parameter"}``. With ``receipts_required`` a receipt (items summing to the
amount, and a customer contact) is demanded, as for a shop with 54-ФЗ through ЮKassa.

Saved methods (автоплатежи, "Привязка платежного средства во время платежа"): a payment
created with ``save_payment_method: true`` keeps its method once it succeeds; from then on its
``payment_method`` shows ``saved: true``, ``status: active``, the method's ``id``, a ``title``
(``"Bank card *4477"``) and, for a card, ``card`` (``first6``, ``last4``, expiry, type). A
payment with ``payment_method_id`` charges that method without the client and is decided at
once: ``succeeded``, or ``canceled`` with ``cancellation_details`` (a queued decline, or the
reason the method stopped working: ``permission_revoked``, ``card_expired``). An id the shop
never saved is refused (400 ``invalid_request``, parameter ``payment_method_id``). ЮKassa has
no call to delete a saved method; :meth:`YooKassaSimulator.revoke_method` plays the client
withdrawing the permission (or the card expiring) on the acquirer's side.

Notifications are POSTed to ``webhook_url`` as ``{"type": "notification", "event", "object"}``
with the object as it was at the event, **unsigned** (as ЮKassa's are), from 127.0.0.1,
at least once (retried on non-2xx), and the switches can duplicate, reorder, delay or drop
them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
import secrets
import urllib.parse
import uuid
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from pes_sdk.gateways.errors import GatewayError
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.simulation import (
    LoopbackSimulator,
    Outcome,
    SimulatorHandler,
    confirmation_page,
)
from pes_sdk.money import ZERO
from pes_sdk_yookassa.protocol import (
    IDEMPOTENCE_HEADER,
    MAX_IDEMPOTENCE_KEY,
    METHOD_TYPES,
    SAVABLE_TYPES,
    VAT_CODES,
)

__all__ = ["SimulatorError", "Switches", "YooKassaSimulator"]

_CLIENT_ERRORS = tuple(range(400, 500))
_TYPES = frozenset(METHOD_TYPES.values())
_VAT_CODES = frozenset(VAT_CODES.values())
#: what the simulator takes as ``receipt.customer``: an address with a dotted domain, and
#: the phone's E.164 digits without the plus
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"[1-9][0-9]{6,14}")
#: ``payment_subject`` (tag 1212) and ``payment_mode`` (tag 1214) values, required for
#: ФФД 1.05 and later (the ones a service's receipt can have; ЮKassa lists more subjects)
_SUBJECTS = frozenset({"commodity", "service", "payment", "agent_commission", "another"})
_MODES = frozenset(
    {"full_prepayment", "partial_prepayment", "advance", "full_payment", "partial_payment"}
)
#: ``receipt.items[].agent_type`` values (tag 1222 by name; платёжный агент is
#: ``payment_agent``)
_AGENT_TYPES = frozenset(
    {
        "banking_payment_agent",
        "banking_payment_subagent",
        "payment_agent",
        "payment_subagent",
        "attorney",
        "commissioner",
        "agent",
    }
)


@attrs.define
class Switches:
    """How badly the simulated ЮKassa behaves. Rates are probabilities in 0..1."""

    #: answer 500 internal_server_error without doing anything
    api_error_rate: float = 0.0
    #: do the work, then answer 500 (the answer is "lost")
    lost_answer_rate: float = 0.0
    #: answer only after ``api_delay`` seconds (beyond the client's timeout: a timeout)
    slow_rate: float = 0.0
    api_delay: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_delay: float = 0.0
    fail_next: int = 0
    lose_next: int = 0
    stall_next: int = 0
    #: answer the next N calls 429 too_many_requests (nothing done)
    throttle_next: int = 0
    #: the next N refunds end ``canceled`` (``cancellation_details``: ``yoo_money``,
    #: ``insufficient_funds``: the shop's incoming payments do not cover them); nothing is
    #: given back. ЮKassa answers such a refund 200 with the refund object, not an error.
    refuse_refunds_next: int = 0
    #: the next N refunds are answered ``pending`` and stay so (also when read again)
    #: until :meth:`YooKassaSimulator.finish_pending_refunds`: the money goes back then
    pend_refunds_next: int = 0
    #: the next N charges of a saved method are answered ``pending`` (as when ЮKassa waits
    #: for the receipt first) and decided by :meth:`YooKassaSimulator.finish_pending_charges`
    pend_charges_next: int = 0


class SimulatorError(GatewayError):
    """An error answer of the simulated API: HTTP ``status`` and ЮKassa's ``code``."""

    def __init__(
        self, status: int, code: str, description: str, parameter: str | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.parameter = parameter
        super().__init__(f"{status} {code}: {description}", gateway="yookassa-simulator")

    def body(self) -> bytes:
        data: dict[str, str] = {
            "type": "error",
            "id": str(uuid.uuid4()),
            "code": self.code,
            "description": self.description,
        }
        if self.parameter:
            data["parameter"] = self.parameter
        return json.dumps(data, ensure_ascii=False).encode()


def _bad(description: str, parameter: str | None = None) -> SimulatorError:
    return SimulatorError(400, "invalid_request", description, parameter)


def _money(value: Decimal) -> dict[str, str]:
    return {"value": str(value), "currency": "RUB"}


def _parse_money(data: Any, parameter: str) -> Decimal:
    try:
        if data["currency"] != "RUB":
            raise _bad("only RUB is accepted here", f"{parameter}.currency")
        value = Decimal(str(data["value"]))
    except (KeyError, TypeError, InvalidOperation):
        raise _bad("an amount is {value, currency}", parameter) from None
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise _bad("an amount is positive, with at most two decimals", f"{parameter}.value")
    return value.quantize(Decimal("0.01"))


def _now() -> str:
    return _iso(dt.datetime.now(dt.UTC))


def _iso(moment: dt.datetime) -> str:
    """ЮKassa's times: UTC, ISO 8601 with milliseconds and ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: the card the confirmation page "pays" with (it has no card fields): first6, last4, expiry
#: month and year, type; ЮKassa returns these in ``payment_method.card``
TEST_CARD = ("555555", "4477", "12", "2030", "MasterCard")
#: ``payment_method.title`` of a saved method per type (a card's is "Bank card *<last4>")
_TITLES = {"sberbank": "SberPay", "sbp": "СБП"}


@attrs.define
class _Method:
    """A payment method the shop saved: what ``payment_method`` shows, and whether it works."""

    id: str
    type: str
    title: str
    card: dict[str, str] | None
    #: ``cancellation_details.reason`` every charge gets once the method stopped working
    #: (the client withdrew the permission, the card expired); None: it works
    gone: str | None = None

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "saved": True,
            "status": "active" if self.gone is None else "inactive",
            "title": self.title,
        }
        if self.card is not None:
            out["card"] = dict(self.card)
        return out


def _method_id() -> str:
    return f"{secrets.token_hex(4)}-000f-5000-9000-{secrets.token_hex(6)}"


@attrs.define
class _Payment:
    id: str
    amount: Decimal
    method_type: str
    confirmation: dict[str, str]
    metadata: dict[str, str]
    created_at: str
    seq: int
    description: str = ""
    status: str = "pending"
    refunded: Decimal = ZERO
    cancellation: dict[str, str] | None = None
    receipt: dict[str, Any] | None = None
    #: ЮKassa's ``captured_at`` (UTC, ISO 8601), set when the payment succeeds
    captured_at: str | None = None
    #: ``payment_method.id``: the method this payment is paid with (saved or not)
    method_id: str = attrs.Factory(_method_id)
    #: created with ``save_payment_method: true``
    save_method: bool = False
    #: the saved method this payment used or saved (``payment_method`` shows it)
    saved: _Method | None = None
    #: a charge made with ``payment_method_id`` (no confirmation)
    charge: bool = False
    #: ``payment_method.card`` of a paid card payment that saved nothing
    card: dict[str, str] | None = None

    def method_view(self) -> dict[str, Any]:
        if self.saved is not None:
            return self.saved.view()
        # not saved (yet): "pending" while a save is asked for and the client has not paid
        # (the status values are unverified)
        status = "pending" if self.save_method and self.status == "pending" else "inactive"
        out: dict[str, Any] = {
            "type": self.method_type,
            "id": self.method_id,
            "saved": False,
            "status": status,
        }
        if self.card is not None:
            out["card"] = dict(self.card)
        return out

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "paid": self.status in ("succeeded", "waiting_for_capture"),
            "amount": _money(self.amount),
            "created_at": self.created_at,
            "description": self.description,
            "metadata": dict(self.metadata),
            "payment_method": self.method_view(),
            "recipient": {"account_id": "000000", "gateway_id": "000000"},
            "refundable": self.status == "succeeded" and self.refunded < self.amount,
            "test": True,
        }
        if self.status == "pending" and self.confirmation:  # a charge has none
            out["confirmation"] = dict(self.confirmation)
        if self.status == "succeeded":
            out["refunded_amount"] = _money(self.refunded)
            if self.captured_at is not None:
                out["captured_at"] = self.captured_at
        if self.cancellation is not None:
            out["cancellation_details"] = dict(self.cancellation)
        if self.receipt is not None:
            out["receipt_registration"] = "pending"
        return out


class YooKassaSimulator(LoopbackSimulator[Switches, bytes]):
    """ЮKassa on ``127.0.0.1`` (a free port unless one is given); :attr:`base_url` ends in /v3.

    :param shop_id: / :param secret_key: the Basic credentials clients must send.
    :param webhook_url: where notifications go; None keeps them unsent (set it later).
    :param receipts_required: demand a 54-ФЗ receipt with every payment and refund.
    :param recurring: the shop may save methods and charge them (ЮKassa enables autopayments
        per shop; without it ``save_payment_method`` / ``payment_method_id`` are refused 403
        ``forbidden``, the exact answer unverified).
    :param seed: seeds the switches' randomness, for reproducible chaos.
    """

    transport_name = "yookassa-webhooks"

    def __init__(
        self,
        *,
        shop_id: str = "100500",
        secret_key: str = "test_simulator_secret",
        webhook_url: str | None = None,
        receipts_required: bool = False,
        recurring: bool = True,
        port: int = 0,
        seed: int | None = None,
        switches: Switches | None = None,
        webhook_workers: int = 4,
    ) -> None:
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.webhook_url = webhook_url
        self.receipts_required = receipts_required
        self.recurring = recurring
        super().__init__(
            _make_handler(self),
            switches=switches or Switches(),
            port=port,
            seed=seed,
            webhook_workers=webhook_workers,
            name="yookassa-simulator",
            worker_name="yookassa-webhooks",
        )
        self._payments: dict[str, _Payment] = {}
        self._refunds: dict[str, dict[str, Any]] = {}
        #: each refund's ``receipt`` as sent, by refund id (the API does not answer it back)
        self._refund_receipts: dict[str, dict[str, Any]] = {}
        #: refunds answered pending: (refund id, amount, receipt), finished on demand
        self._pending_refunds: list[tuple[str, Decimal, dict[str, Any] | None]] = []
        self._by_token: dict[str, str] = {}
        self._seq = 0
        #: saved methods by ``payment_method.id``
        self._methods: dict[str, _Method] = {}
        #: ``cancellation_details.reason`` of the next charges to decline, in order
        self._declines: list[str] = []
        #: charges answered pending (``pend_charges_next``), decided on demand
        self._pending_charges: list[str] = []
        #: every authenticated request that reached the API: (method, path, Idempotence-Key)
        self.calls: list[tuple[str, str, str | None]] = []
        #: the same requests with their JSON bodies as sent (None: no body, or not JSON)
        self.requests: list[tuple[str, str, Any]] = []

    @property
    def base_url(self) -> str:
        """The API root, as ``https://api.yookassa.ru/v3`` is for the real service."""
        return f"{self.root_url}/v3"

    # -- the acquirer's side, driven in-process ------------------------------------------

    def _get(self, payment_id: str) -> _Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise SimulatorError(404, "not_found", f"payment {payment_id} not found")
        return payment

    def approve(self, payment_id: str, *, at: dt.datetime | None = None) -> None:
        """The client confirmed and paid: ``pending → succeeded`` (capture=true).

        ``at``: the capture time (aware) the payment then shows as ``captured_at``; now
        by default.
        """
        with self._lock:
            payment = self._pending(payment_id)
            if payment.charge:
                raise _bad(f"payment {payment_id} is a charge: it has no client to approve")
            card = None
            if payment.method_type == "bank_card":
                first6, last4, month, year, kind = TEST_CARD
                card = {
                    "first6": first6,
                    "last4": last4,
                    "expiry_month": month,
                    "expiry_year": year,
                    "card_type": kind,
                    "issuer_country": "RU",
                }
            if payment.save_method:
                # saved once paid: the payment.succeeded notification already shows it
                title = f"Bank card *{card['last4']}" if card else _TITLES[payment.method_type]
                method = _Method(payment.method_id, payment.method_type, title, card)
                self._methods[method.id] = method
                payment.saved = method
            else:
                payment.card = card
            payment.status = "succeeded"
            payment.captured_at = _now() if at is None else _iso(at)
            self._emit("payment.succeeded", payment.view())

    def decline(self, payment_id: str, reason: str = "general_decline") -> None:
        """The issuer or ЮKassa declined: ``canceled`` with ``reason``."""
        party = "payment_network" if reason != "fraud_suspected" else "yoo_money"
        self._cancel_with(payment_id, party, reason)

    def expire(self, payment_id: str) -> None:
        """The client never confirmed: ``canceled``, ``expired_on_confirmation``."""
        self._cancel_with(payment_id, "yoo_money", "expired_on_confirmation")

    def _pending(self, payment_id: str) -> _Payment:
        payment = self._get(payment_id)
        if payment.status != "pending":
            raise _bad(f"payment {payment_id} is {payment.status}, not pending")
        return payment

    def _cancel_with(self, payment_id: str, party: str, reason: str) -> None:
        with self._lock:
            payment = self._pending(payment_id)
            payment.status = "canceled"
            payment.cancellation = {"party": party, "reason": reason}
            self._emit("payment.canceled", payment.view())

    def payment(self, payment_id: str) -> dict[str, Any]:
        """The payment object as the API returns it."""
        with self._lock:
            return self._get(payment_id).view()

    def receipt_of(self, payment_id: str) -> dict[str, Any] | None:
        """The ``receipt`` the payment was created with (``customer`` included), as sent."""
        with self._lock:
            receipt = self._get(payment_id).receipt
            return json.loads(json.dumps(receipt)) if receipt is not None else None

    def refund_receipt_of(self, refund_id: str) -> dict[str, Any] | None:
        """The ``receipt`` a refund was made with, as sent; None without one (or no refund)."""
        with self._lock:
            receipt = self._refund_receipts.get(refund_id)
            return json.loads(json.dumps(receipt)) if receipt is not None else None

    def description_of(self, payment_id: str) -> str:
        """The payment's ``description``, as sent (``""`` without one)."""
        with self._lock:
            return self._get(payment_id).description

    def payments_for(self, order_id: uuid.UUID | str) -> list[str]:
        """ЮKassa payment ids whose ``metadata.order_id`` is our order id."""
        with self._lock:
            return [
                p.id for p in self._payments.values() if p.metadata.get("order_id") == str(order_id)
            ]

    # -- saved methods, the acquirer's side ----------------------------------------------

    def method(self, method_id: str) -> dict[str, Any] | None:
        """The saved method as a payment shows it (``status`` ``active`` while it can be
        charged); None: the shop never saved such a method."""
        with self._lock:
            method = self._methods.get(method_id)
            return method.view() if method is not None else None

    def revoke_method(self, method_id: str, reason: str = "permission_revoked") -> None:
        """The method stops working: every later charge is ``canceled`` with ``reason``
        (``permission_revoked``: the client withdrew the permission for autopayments, at
        ЮKassa or the bank; ``card_expired``; ``payment_method_restricted``)."""
        with self._lock:
            method = self._methods.get(method_id)
            if method is None:
                raise SimulatorError(404, "not_found", f"payment method {method_id} not found")
            method.gone = reason

    def decline_next_charge(self, reason: str = "insufficient_funds") -> None:
        """The next charge of a saved method is ``canceled`` with ``reason`` (queued)."""
        with self._lock:
            self._declines.append(reason)

    def charges_of(self, method_id: str) -> list[str]:
        """Ids of the charges of ``method_id`` that took the money (``succeeded``)."""
        with self._lock:
            return [
                p.id
                for p in self._payments.values()
                if p.charge and p.saved is not None and p.saved.id == method_id
                if p.status == "succeeded"
            ]

    def taken_from(self, method_id: str) -> Decimal:
        """The sum the charges of ``method_id`` took (``succeeded`` ones), by ЮKassa's books."""
        with self._lock:
            return sum((self._payments[p].amount for p in self.charges_of(method_id)), ZERO)

    def finish_pending_charges(self) -> None:
        """Every charge answered ``pending`` is decided now (and notified)."""
        with self._lock:
            for payment_id in self._pending_charges:
                self._decide_charge(self._payments[payment_id])
            self._pending_charges.clear()

    def totals(self) -> tuple[Decimal, Decimal]:
        """(captured, refunded) over every paid payment: the reconciliation side."""
        with self._lock:
            paid = [p for p in self._payments.values() if p.status == "succeeded"]
            return sum((p.amount for p in paid), ZERO), sum((p.refunded for p in paid), ZERO)

    # -- the API -------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        value = _parse_money(body.get("amount"), "amount")
        if body.get("capture") is not True:
            # this simulator speaks the one-stage flow the adapter uses
            raise _bad("only capture=true is simulated", "capture")
        save = body.get("save_payment_method", False)
        if save not in (True, False, "true", "false"):
            raise _bad("save_payment_method is a boolean", "save_payment_method")
        save = save in (True, "true")
        if (save or "payment_method_id" in body) and not self.recurring:
            raise SimulatorError(403, "forbidden", "autopayments are not enabled for this shop")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 16:
            raise _bad("metadata is an object of at most 16 keys", "metadata")
        description = str(body.get("description", ""))
        if len(description) > 128:
            raise _bad("description is at most 128 characters", "description")
        if "payment_method_id" in body:
            if "payment_method_data" in body:
                raise _bad(
                    "payment_method_id and payment_method_data are mutually exclusive",
                    "payment_method_data",
                )
            if save:
                raise _bad("a saved method is saved already", "save_payment_method")
            receipt = self._check_receipt(body.get("receipt"), value)
            method_id = str(body["payment_method_id"])
            return self._charge(method_id, value, metadata, description, receipt)
        method_type = (body.get("payment_method_data") or {}).get("type")
        if method_type not in _TYPES:
            raise _bad("unsupported payment method", "payment_method_data.type")
        if save and method_type not in SAVABLE_TYPES:
            raise _bad("this payment method cannot be saved", "save_payment_method")
        conf = body.get("confirmation") or {}
        receipt = self._check_receipt(body.get("receipt"), value)
        with self._lock:
            self._seq += 1
            payment_id = f"{secrets.token_hex(4)}-000f-5000-a000-{secrets.token_hex(6)}"
            if conf.get("type") == "redirect":
                if not str(conf.get("return_url", "")).startswith(("https://", "http://")):
                    raise _bad("a redirect needs return_url", "confirmation.return_url")
                confirmation = {
                    "type": "redirect",
                    "confirmation_url": f"{self.root_url}/checkout/{payment_id}",
                    "return_url": str(conf["return_url"]),
                }
            elif conf.get("type") == "qr":
                if method_type == "bank_card":
                    raise _bad("a card payment has no QR confirmation", "confirmation.type")
                token = secrets.token_urlsafe(16)
                self._by_token[token] = payment_id
                # opaque to the merchant; the real one is https://qr.nspk.ru/… for СБП
                confirmation = {"type": "qr", "confirmation_data": f"{self.root_url}/qr/{token}"}
            else:
                raise _bad("confirmation.type must be redirect or qr", "confirmation.type")
            payment = _Payment(
                id=payment_id,
                amount=value,
                method_type=str(method_type),
                confirmation=confirmation,
                metadata={str(k): str(v) for k, v in metadata.items()},
                created_at=_now(),
                seq=self._seq,
                description=description,
                receipt=receipt,
                save_method=save,
            )
            self._payments[payment_id] = payment
            return payment.view()

    def _charge(
        self,
        method_id: str,
        value: Decimal,
        metadata: dict[str, Any],
        description: str,
        receipt: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """A payment with ``payment_method_id``: no confirmation, decided at once."""
        with self._lock:
            method = self._methods.get(method_id)
            if method is None:
                # the exact answer to an unknown id is unverified
                raise _bad(f"payment method {method_id} is not saved", "payment_method_id")
            self._seq += 1
            payment = _Payment(
                id=f"{secrets.token_hex(4)}-000f-5000-a000-{secrets.token_hex(6)}",
                amount=value,
                method_type=method.type,
                confirmation={},
                metadata={str(k): str(v) for k, v in metadata.items()},
                created_at=_now(),
                seq=self._seq,
                description=description,
                receipt=receipt,
                method_id=method.id,
                saved=method,
                charge=True,
            )
            self._payments[payment.id] = payment
            if self.switches.pend_charges_next > 0:
                self.switches.pend_charges_next -= 1
                self._pending_charges.append(payment.id)
            else:
                self._decide_charge(payment)
            return payment.view()

    def _decide_charge(self, payment: _Payment) -> None:
        assert payment.saved is not None
        reason = payment.saved.gone
        if reason is None and self._declines:
            reason = self._declines.pop(0)
        if reason is None:
            payment.status = "succeeded"
            payment.captured_at = _now()
            self._emit("payment.succeeded", payment.view())
            return
        payment.status = "canceled"
        # who decided is not what the adapter reads (it maps the reason); ЮKassa itself
        # knows a withdrawn permission, the issuer the rest
        revoked = reason in ("permission_revoked", "fraud_suspected")
        party = "yoo_money" if revoked else "payment_network"
        payment.cancellation = {"party": party, "reason": reason}
        self._emit("payment.canceled", payment.view())

    def _check_receipt(self, receipt: Any, total: Decimal) -> dict[str, Any] | None:
        if receipt is None:
            if self.receipts_required:
                raise _bad("receipt is required for this shop (54-ФЗ)", "receipt")
            return None
        if not isinstance(receipt, dict) or not receipt.get("items"):
            raise _bad("receipt.items is required", "receipt.items")
        customer = receipt.get("customer") or {}
        if not isinstance(customer, dict) or not (customer.get("email") or customer.get("phone")):
            raise _bad("receipt.customer needs an email or a phone", "receipt.customer")
        email, phone = customer.get("email"), customer.get("phone")
        if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
            raise _bad("receipt.customer.email is not an e-mail address", "receipt.customer.email")
        # "в формате ITU-T E.164, например 79000000000"
        if phone is not None and not (isinstance(phone, str) and _PHONE.fullmatch(phone)):
            raise _bad("receipt.customer.phone is E.164 digits", "receipt.customer.phone")
        items_total = ZERO
        for i, item in enumerate(receipt["items"]):
            where = f"receipt.items[{i}]"
            price = _parse_money(item.get("amount"), f"{where}.amount")
            try:
                quantity = Decimal(str(item["quantity"]))
            except (KeyError, InvalidOperation):
                raise _bad("quantity is required", f"{where}.quantity") from None
            if item.get("vat_code") not in _VAT_CODES:
                raise _bad("vat_code is 1..12", f"{where}.vat_code")
            if not str(item.get("description", "")).strip():
                raise _bad("description is required", f"{where}.description")
            if item.get("payment_subject") not in _SUBJECTS:
                raise _bad("payment_subject is required", f"{where}.payment_subject")
            if item.get("payment_mode") not in _MODES:
                raise _bad("payment_mode is required", f"{where}.payment_mode")
            if "agent_type" in item:
                if item["agent_type"] not in _AGENT_TYPES:
                    raise _bad("agent_type is not a known agent type", f"{where}.agent_type")
                supplier = item.get("supplier") or {}
                if not supplier.get("inn") or not supplier.get("name"):
                    raise _bad("an agent item names its supplier", f"{where}.supplier")
                phone = supplier.get("phone")
                if phone is not None and not (isinstance(phone, str) and _PHONE.fullmatch(phone)):
                    raise _bad("supplier.phone is E.164 digits", f"{where}.supplier.phone")
            items_total += price * quantity
        if items_total.quantize(Decimal("0.01")) != total:
            raise _bad("receipt items do not add up to the amount", "receipt.items")
        return dict(receipt)

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        if not 1 <= limit <= 100:
            raise _bad("limit is 1..100", "limit")
        since = query.get("created_at.gte", [""])[0]
        cursor = query.get("cursor", [""])[0]
        with self._lock:
            items = sorted(self._payments.values(), key=lambda p: -p.seq)
            if since:
                items = [p for p in items if p.created_at >= since]
            if cursor:
                try:
                    below = int(base64.urlsafe_b64decode(cursor.encode()).decode())
                except ValueError:
                    raise _bad("bad cursor", "cursor") from None
                items = [p for p in items if p.seq < below]
            page = items[:limit]
            out: dict[str, Any] = {"type": "list", "items": [p.view() for p in page]}
            if len(items) > limit:
                out["next_cursor"] = base64.urlsafe_b64encode(str(page[-1].seq).encode()).decode()
            return out

    def _cancel(self, payment_id: str) -> dict[str, Any]:
        with self._lock:
            payment = self._get(payment_id)
            if payment.status != "waiting_for_capture":
                raise _bad(
                    f"payment is in {payment.status} status, only waiting_for_capture "
                    "can be canceled",
                    "payment_id",
                )
            payment.status = "canceled"
            payment.cancellation = {"party": "merchant", "reason": "canceled_by_merchant"}
            self._emit("payment.canceled", payment.view())
            return payment.view()

    def _refund(self, body: dict[str, Any]) -> dict[str, Any]:
        payment_id = str(body.get("payment_id", ""))
        value = _parse_money(body.get("amount"), "amount")
        receipt = self._check_receipt(body.get("receipt"), value)
        with self._lock:
            payment = self._get(payment_id)
            if payment.status != "succeeded":
                raise _bad(f"payment is {payment.status}: nothing to refund", "payment_id")
            if payment.refunded + value > payment.amount:
                raise _bad("the refund exceeds what is left of the payment", "amount")
            refund: dict[str, Any] = {
                "id": f"{secrets.token_hex(4)}-0015-5000-8000-{secrets.token_hex(6)}",
                "payment_id": payment_id,
                "status": "succeeded",
                "amount": _money(value),
                "created_at": _now(),
            }
            if self.switches.refuse_refunds_next > 0:
                # refused: the refund object exists, canceled, and no money moved; ЮKassa
                # sends no notification for a canceled refund
                self.switches.refuse_refunds_next -= 1
                refund["status"] = "canceled"
                refund["cancellation_details"] = {
                    "party": "yoo_money",
                    "reason": "insufficient_funds",
                }
                self._refunds[refund["id"]] = refund
                return dict(refund)
            if self.switches.pend_refunds_next > 0:
                self.switches.pend_refunds_next -= 1
                refund["status"] = "pending"
                self._refunds[refund["id"]] = refund
                self._pending_refunds.append((refund["id"], value, receipt))
                return dict(refund)
            payment.refunded += value
            if receipt is not None:
                refund["receipt_registration"] = "pending"
                self._refund_receipts[refund["id"]] = receipt
            self._refunds[refund["id"]] = refund
            self._emit("refund.succeeded", refund)
            return dict(refund)

    def finish_pending_refunds(self) -> None:
        """Every refund answered ``pending`` succeeds now: the money goes back."""
        with self._lock:
            for refund_id, value, receipt in self._pending_refunds:
                refund = self._refunds[refund_id]
                self._payments[refund["payment_id"]].refunded += value
                refund["status"] = "succeeded"
                if receipt is not None:
                    refund["receipt_registration"] = "pending"
                    self._refund_receipts[refund_id] = receipt
                self._emit("refund.succeeded", dict(refund))
            self._pending_refunds.clear()

    def _authorised(self, headers: Any) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode(
            "ascii"
        )
        given = str(headers.get("Authorization", ""))
        return hmac.compare_digest(given.encode(), expected.encode())

    def handle_api(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> tuple[int, bytes]:
        """Route one API call; return (status, JSON body)."""
        if not self._authorised(headers):
            err = SimulatorError(
                401, "invalid_credentials", "Authentication by given credentials failed"
            )
            return 401, err.body()
        key = headers.get(IDEMPOTENCE_HEADER)
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = None
        with self._lock:
            self.calls.append((method, path, key))
            self.requests.append((method, path, sent))
        sw = self.switches
        with self._lock:
            throttle = sw.throttle_next > 0
            sw.throttle_next -= throttle
            fail, lose, stall = self._take_next(blocked=throttle)
        self._stall(stall)
        if throttle:
            return 429, SimulatorError(429, "too_many_requests", "Too many requests").body()
        internal = SimulatorError(500, "internal_server_error", "Internal server error").body()
        if self._fails(fail):
            return 500, internal
        if method == "POST":
            if not key:
                return 400, _bad("Idempotence key is required", IDEMPOTENCE_HEADER).body()
            if len(key) > MAX_IDEMPOTENCE_KEY:
                return 400, _bad("Idempotence key is too long", IDEMPOTENCE_HEADER).body()
            conflict = _bad("Idempotence key duplicated with another request", IDEMPOTENCE_HEADER)
            status, answer = self._once(
                key,
                method.encode() + path.encode() + body,
                lambda: self._route(method, path, query, body),
                lambda: (400, conflict.body()),
            )
        else:
            status, answer = self._route(method, path, query, body)
        if self._loses(lose):
            return 500, internal
        return status, answer

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, bytes]:
        parts = [p for p in path.split("/") if p][1:]  # after "v3"
        try:
            try:
                data: Any = json.loads(body) if body else {}
            except ValueError:
                raise _bad("the body is not JSON") from None
            if not isinstance(data, dict):
                raise _bad("a JSON object is expected")
            if method == "POST" and parts == ["payments"]:
                result: Any = self._create(data)
            elif method == "GET" and parts == ["payments"]:
                result = self._list(query)
            elif method == "GET" and len(parts) == 2 and parts[0] == "payments":
                with self._lock:
                    result = self._get(parts[1]).view()
            elif method == "POST" and len(parts) == 3 and parts[::2] == ["payments", "cancel"]:
                result = self._cancel(parts[1])
            elif method == "POST" and parts == ["refunds"]:
                result = self._refund(data)
            elif method == "GET" and len(parts) == 2 and parts[0] == "refunds":
                with self._lock:
                    refund = self._refunds.get(parts[1])
                if refund is None:
                    raise SimulatorError(404, "not_found", f"refund {parts[1]} not found")
                result = dict(refund)
            else:
                raise SimulatorError(404, "not_found", f"no resource {method} {path}")
        except SimulatorError as exc:
            return exc.status, exc.body()
        return 200, json.dumps(result, ensure_ascii=False).encode()

    # -- the confirmation page -----------------------------------------------------------

    def page(self, payment_id: str) -> str:
        with self._lock:
            p = self._get(payment_id)
            status, total, method = p.status, p.amount, p.method_type
        return confirmation_page(
            title="ЮKassa simulator",
            heading="Симулятор ЮKassa / YooKassa simulator",
            method=method,
            total=str(total),
            status=status,
        )

    def confirm_from_page(self, payment_id: str, action: str) -> str:
        """Apply a button of the page; return where to send the browser."""
        self._press_button(payment_id, action, _bad(f"unknown action {action!r}"))
        with self._lock:
            conf = self._payments[payment_id].confirmation
        return conf.get("return_url") or f"{self.root_url}/checkout/{payment_id}"

    def payment_for_token(self, token: str) -> str:
        with self._lock:
            payment_id = self._by_token.get(token)
        if payment_id is None:
            raise SimulatorError(404, "not_found", "unknown QR")
        return payment_id

    # -- notifications -------------------------------------------------------------------

    def _emit(self, event: str, obj: dict[str, Any]) -> None:
        # the object is taken now, under the lock: a late delivery carries old news
        body = json.dumps(
            {"type": "notification", "event": event, "object": obj}, ensure_ascii=False
        ).encode()
        self._enqueue(body)

    def _target(self, item: bytes) -> str | None:
        return self.webhook_url

    def _send_once(self, transport: HttpTransport, body: bytes) -> Outcome:
        # no signature: ЮKassa's notifications carry none
        response = transport.request(
            "POST",
            "",
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            ok_statuses=_CLIENT_ERRORS,
        )
        # ЮKassa resends until it gets a 200; the simulator gives up after a few
        return "retry" if response.status >= 400 else "sent"


def _make_handler(sim: YooKassaSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(SimulatorHandler):
        server_version = "pes-yookassa-simulator"

        def _dispatch(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            body = self._body()
            parts = [p for p in url.path.split("/") if p]
            json_type = "application/json; charset=utf-8"
            try:
                if parts[:1] == ["v3"]:
                    status, answer = sim.handle_api(method, url.path, query, body, self.headers)
                    self._send(status, answer, json_type)
                elif parts[:1] in (["checkout"], ["qr"]) and len(parts) == 2:
                    pid = parts[1] if parts[0] == "checkout" else sim.payment_for_token(parts[1])
                    if method == "GET":
                        self._send(200, sim.page(pid).encode(), "text/html; charset=utf-8")
                    else:
                        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
                        target = sim.confirm_from_page(pid, form.get("action", [""])[0])
                        self._send(303, b"", "text/plain", Location=target)
                else:
                    raise SimulatorError(404, "not_found", "not found")
            except SimulatorError as exc:
                self._send(exc.status, exc.body(), json_type)

    return Handler
