"""A local acquirer simulator: a real HTTP server on loopback, with switches for bad days.

Why :mod:`http.server` (a ``ThreadingHTTPServer`` in a thread) rather than an ASGI app: the
sandbox is the kit's embedded default, so it must run wherever the core runs with nothing
else installed, start in milliseconds inside a test, and stay on ``127.0.0.1``. It speaks
HTTP/1.1 with keep-alive, which is all a client needs to behave as it would with a real
acquirer.

The API (JSON, ``Authorization: Bearer <api key>``; every POST takes an ``Idempotence-Key``
and a repeat with the same key returns the first answer)::

    POST /v1/payments                 create: {order_id, amount, method, return_url,
                                      receipt: {items, customer: {email, phone}},
                                      save_payment_method, customer_key}
    POST /v1/charges                  charge a saved method without the client:
                                      {order_id, amount, payment_method_id, customer_key,
                                      description, receipt}
    POST /v1/payment_methods/{id}/forget   unbind a saved method {customer_key}
    GET  /v1/payment_methods/{id}     a saved method: {id, customer_key, title, status}
    GET  /v1/payments/{id}            status
    GET  /v1/payments?order_id=…      lookup by the merchant's order id
    POST /v1/payments/{id}/cancel     cancel while pending
    POST /v1/payments/{id}/refunds    refund {amount, lines}
    GET  /v1/report                   what the acquirer holds: counts and sums
    GET  /pay/{id}, POST /pay/{id}    the confirmation page (pay / decline buttons)
    GET  /qr/{token}                  where an СБП QR payload points (the same page)
    POST /_sandbox/switches           change the switches (JSON), for out-of-process use

Webhooks are POSTed to ``webhook_url`` with ``X-Sandbox-Timestamp`` (unix seconds) and
``X-Sandbox-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + raw body>``. Each carries the
payment's snapshot at the moment of the event. Delivery is at least once: a 5xx or a broken
connection is retried a few times, and the switches can duplicate, reorder, delay or drop
webhooks. No card data exists here at all: the confirmation page has two buttons.

Saved methods (автоплатёж). A payment created with ``save_payment_method: true`` and a
``customer_key`` (the merchant's opaque id of the client) saves the method once paid: its
snapshot (status and webhook) then has ``payment_method: {id, saved: true, title,
customer_key}``, where ``id`` is an opaque handle (``pm_…``) and ``title`` the masked card
(``"Card *4242"``, the last four digits made up here: the page asks for no card). A payment
created without it never has a saved ``payment_method``. ``POST /v1/charges`` charges a saved
method at once, with no confirmation: the answer is the charge's snapshot, ``succeeded`` or
``failed`` with ``decline: {code}``; webhooks follow as for payments. One charge per
``Idempotence-Key`` and per ``order_id`` (the same order asked again, with any key, gets the
charge it already has; with another method or amount, 409). A method the acquirer does not
hold for that ``customer_key`` (never issued, forgotten, another client's) is refused: 422
``{"error", "code": "payment_method_not_found"}``, nothing charged. Decline codes:
``insufficient_funds`` (no money, a limit), ``card_expired`` and ``permission_revoked``
(the card or the permission is gone), ``issuer_declined`` (no reason given).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from pes_sdk.gateways.errors import GatewayError
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.signing import signature_header
from pes_sdk.gateways.simulation import (
    LoopbackSimulator,
    Outcome,
    SimulatorHandler,
    confirmation_page,
)
from pes_sdk.money import ZERO, amount

__all__ = ["AcquirerReport", "AcquirerSimulator", "SandboxError", "Switches"]

TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
SIGNATURE_HEADER = "X-Sandbox-Signature"
CLIENT_ERRORS = tuple(range(400, 500))


@attrs.define
class Switches:
    """How badly the simulated acquirer behaves. Rates are probabilities in 0..1.

    Change them at any time (``sim.switches.api_error_rate = 0.1``) or through
    ``POST /_sandbox/switches``. The ``*_next`` counters act on the next N API calls.
    """

    #: answer 500 without doing anything
    api_error_rate: float = 0.0
    #: do the work, then answer 500 (the answer is "lost": a retry must not repeat the work)
    lost_answer_rate: float = 0.0
    #: answer only after ``api_delay`` seconds (beyond the client's timeout: a timeout)
    slow_rate: float = 0.0
    api_delay: float = 0.0
    #: send a webhook twice
    webhook_duplicate_rate: float = 0.0
    #: hold a webhook back and send it after later ones
    webhook_reorder_rate: float = 0.0
    #: never send a webhook
    webhook_drop_rate: float = 0.0
    #: wait before sending each webhook
    webhook_delay: float = 0.0
    fail_next: int = 0
    #: refuse the next N refunds with a 4xx, as an acquirer does when the shop's balance
    #: cannot cover them (nothing is given back)
    refuse_refunds_next: int = 0
    #: refuse the next N payment creations with a 4xx, as an acquirer does for a shop it
    #: has blocked or an amount above its limits (no payment is made)
    refuse_payments_next: int = 0
    lose_next: int = 0
    stall_next: int = 0
    #: decline the next charges of live saved methods with these codes, one each, in order
    #: (``insufficient_funds``, ``card_expired``, ``permission_revoked``, ``issuer_declined``)
    decline_charges: list[str] = attrs.Factory(list)
    #: decline the charges of these orders with their codes, whichever comes first (tests
    #: where several workers race for "the next" charge name the ones to decline)
    decline_orders: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class AcquirerReport:
    """What the acquirer says it holds: the reconciliation side of a credit ledger."""

    payments: int
    succeeded: int
    captured: Decimal  #: paid by clients (payments that reached a paid state)
    refunded: Decimal  #: given back
    webhooks_sent: int
    webhooks_dropped: int
    webhooks_duplicated: int
    webhooks_reordered: int

    @property
    def net(self) -> Decimal:
        return self.captured - self.refunded


#: the decline codes of charges, and what each says (README, "Saved methods")
DECLINE_CODES = {
    "insufficient_funds": "not enough money on the card, or a limit of the card",
    "card_expired": "the card expired or was blocked (lost, stolen)",
    "permission_revoked": "the client withdrew the permission to charge it at the bank",
    "issuer_declined": "the issuer said no and gave no reason",
}


@attrs.define
class _Method:
    """A saved method: the acquirer's handle of a card it may charge without the client."""

    id: str
    customer_key: str
    title: str
    #: ``active``; ``revoked`` / ``expired`` (the bank's side: charges are declined);
    #: ``forgotten`` (unbound by the merchant: unknown from then on)
    status: str = "active"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "saved": True,
            "title": self.title,
            "customer_key": self.customer_key,
        }


@attrs.define
class _Payment:
    id: str
    order_id: str
    amount: Decimal
    method: str
    return_url: str
    qr_token: str
    status: str = "pending"
    refunded: Decimal = ZERO
    lines: list[dict[str, Any]] = attrs.Factory(list)
    #: when the money was captured (unix seconds), once paid
    paid_at: float | None = None
    #: the receipt's contact (tag 1008): where the receipt would be sent
    customer: dict[str, str] = attrs.Factory(dict)
    description: str = ""
    #: "payment" (the client confirms) or "charge" (a saved method, without the client)
    kind: str = "payment"
    #: the client agreed to autopay on this payment: save its method once paid
    save_method: bool = False
    customer_key: str = ""
    #: the saved method: the one this payment saved, or the one a charge took money from
    saved: _Method | None = None
    #: why a charge was declined (one of :data:`DECLINE_CODES`)
    decline_code: str = ""

    def snapshot(self, base_url: str) -> dict[str, Any]:
        out = self._snapshot(base_url)
        if self.kind == "charge":
            out["kind"] = "charge"
        if self.save_method:
            out["save_payment_method"] = True
        if self.saved is not None:
            out["payment_method"] = self.saved.public()
        if self.decline_code:
            out["decline"] = {"code": self.decline_code}
        return out

    def _snapshot(self, base_url: str) -> dict[str, Any]:
        confirmation: dict[str, str] | None
        if self.kind == "charge":
            confirmation = None  # nobody is asked: the money is taken at once
        elif self.method == "sbp":
            # opaque to the client: the real thing would be https://qr.nspk.ru/…
            confirmation = {"type": "qr", "payload": f"{base_url}/qr/{self.qr_token}"}
        else:
            confirmation = {"type": "redirect", "url": f"{base_url}/pay/{self.id}"}
        return {
            "id": self.id,
            "order_id": self.order_id,
            "status": self.status,
            "amount": str(self.amount),
            "refunded": str(self.refunded),
            "method": self.method,
            "confirmation": confirmation,
            # the capture time, UTC, ISO 8601: the day a bank statement shows the payment on
            "paid_at": (
                utc_from_timestamp(self.paid_at).isoformat() if self.paid_at is not None else None
            ),
            # where the 54-ФЗ receipt is sent, so tests can read it back ({} when nowhere)
            "receipt": {"customer": dict(self.customer)},
        }


class SandboxError(GatewayError):
    """The simulated acquirer refused a request; ``status`` is the HTTP status it answers."""

    def __init__(self, status: int, message: str, *, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message, gateway="sandbox")


class _MethodNotFound(SandboxError):
    def __init__(self) -> None:
        super().__init__(
            422, "no such payment method for this customer", code="payment_method_not_found"
        )


_PAID = ("succeeded", "partially_refunded", "refunded")


class AcquirerSimulator(LoopbackSimulator[Switches, bytes]):
    """The sandbox acquirer, listening on ``127.0.0.1`` (a free port unless one is given).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    :param api_key: what clients must send as ``Authorization: Bearer …``.
    :param webhook_secret: the HMAC key of webhook signatures.
    :param webhook_url: where webhooks go; None keeps them unsent (set it later).
    :param seed: seeds the switches' randomness, for reproducible chaos.
    """

    transport_name = "sandbox-webhooks"

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        webhook_secret: bytes = b"sandbox-secret",
        webhook_url: str | None = None,
        port: int = 0,
        seed: int | None = None,
        switches: Switches | None = None,
        webhook_workers: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.clock = clock
        super().__init__(
            _make_handler(self),
            switches=switches or Switches(),
            port=port,
            seed=seed,
            webhook_workers=webhook_workers,
            name="sandbox-acquirer",
            worker_name="sandbox-webhooks",
        )
        self._payments: dict[str, _Payment] = {}
        self._by_order: dict[str, list[str]] = {}
        self._by_token: dict[str, str] = {}
        self._refunds: dict[str, Decimal] = {}
        self._methods: dict[str, _Method] = {}

    # -- the acquirer's side, driven in-process ------------------------------------------

    def _get(self, payment_id: str) -> _Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise SandboxError(404, f"no payment {payment_id}")
        return payment

    def approve(self, payment_id: str, *, at: dt.datetime | None = None) -> None:
        """The client paid (what the page's "pay" button does).

        ``at``: when the money was captured (aware); the simulator's clock by default.
        """
        if at is not None and at.tzinfo is None:
            raise ValueError("at must carry a time zone")
        self._finish(payment_id, "succeeded", at.timestamp() if at is not None else None)

    def decline(self, payment_id: str) -> None:
        """The issuer declined (what the page's "decline" button does)."""
        self._finish(payment_id, "failed")

    def expire(self, payment_id: str) -> None:
        """The client never confirmed: the payment is cancelled."""
        self._finish(payment_id, "cancelled")

    def _finish(self, payment_id: str, status: str, paid_at: float | None = None) -> None:
        with self._lock:
            payment = self._get(payment_id)
            if payment.status != "pending":
                raise SandboxError(409, f"payment {payment_id} is {payment.status}, not pending")
            payment.status = status
            if status == "succeeded":
                payment.paid_at = paid_at if paid_at is not None else self.clock()
                if payment.save_method:
                    payment.saved = self._save_method(payment.customer_key)
            self._emit(f"payment.{status}", payment)

    def _save_method(self, customer_key: str) -> _Method:
        # the page asks for no card: the last four digits are made up, as a test card's
        last4 = f"{self._rng.randrange(10000):04d}"
        method = _Method(f"pm_{secrets.token_hex(12)}", customer_key, f"Card *{last4}")
        self._methods[method.id] = method
        return method

    def status(self, payment_id: str) -> str:
        with self._lock:
            return self._get(payment_id).status

    def payments_for(self, order_id: uuid.UUID | str) -> list[str]:
        """The acquirer's payment ids created for one merchant order."""
        with self._lock:
            return list(self._by_order.get(str(order_id), ()))

    def report(self) -> AcquirerReport:
        with self._lock:
            paid = [p for p in self._payments.values() if p.status in _PAID]
            return AcquirerReport(
                payments=len(self._payments),
                succeeded=len(paid),
                captured=sum((p.amount for p in paid), ZERO),
                refunded=sum((p.refunded for p in paid), ZERO),
                webhooks_sent=self.webhooks_sent,
                webhooks_dropped=self.webhooks_dropped,
                webhooks_duplicated=self.webhooks_duplicated,
                webhooks_reordered=self.webhooks_reordered,
            )

    # -- saved methods, driven in-process ------------------------------------------------

    def method_status(self, method_id: str) -> str | None:
        """``active``, ``revoked``, ``expired`` or ``forgotten``; None: never issued."""
        with self._lock:
            method = self._methods.get(method_id)
            return None if method is None else method.status

    def revoke_method(self, method_id: str, *, status: str = "revoked") -> None:
        """The bank's side ends the method: the client withdrew the permission
        (``revoked``) or the card expired or was blocked (``expired``). Charges of it are
        declined from then on (``permission_revoked`` / ``card_expired``)."""
        if status not in ("revoked", "expired"):
            raise ValueError("a method is revoked or expired")
        with self._lock:
            method = self._methods.get(method_id)
            if method is None:
                raise SandboxError(404, f"no payment method {method_id}")
            if method.status == "active":
                method.status = status

    def taken_from(self, method_id: str) -> Decimal:
        """The sum the charges of ``method_id`` took (declined ones not)."""
        with self._lock:
            return sum((self._payments[i].amount for i in self.charges_of(method_id)), ZERO)

    def charges_of(self, method_id: str) -> list[str]:
        """The ids of the charges that took money from ``method_id`` (declined ones not)."""
        with self._lock:
            return [
                p.id
                for p in self._payments.values()
                if p.kind == "charge"
                and p.saved is not None
                and p.saved.id == method_id
                and p.status in _PAID
            ]

    def pending_ids(self) -> list[str]:
        with self._lock:
            return [p.id for p in self._payments.values() if p.status == "pending"]

    # -- the API -------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            order_id = str(uuid.UUID(str(body["order_id"])))
            value = amount(str(body["amount"]))
            method = str(body.get("method", "card"))
            return_url = str(body.get("return_url", ""))
            lines = list(body.get("receipt", {}).get("items", []))
            customer = _customer(body.get("receipt", {}).get("customer"))
            save_method = body.get("save_payment_method", False)
            customer_key = _customer_key(body.get("customer_key"))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SandboxError(400, f"bad payment request: {exc}") from None
        if value <= 0 or method not in ("card", "sberpay", "sbp"):
            raise SandboxError(400, "bad amount or method")
        if save_method not in (True, False):
            raise SandboxError(400, "save_payment_method is a boolean")
        if save_method and (method != "card" or not customer_key):
            # only a card is kept here, and always for someone
            raise SandboxError(400, "save_payment_method needs a card and a customer_key")
        if lines and sum((amount(str(i["amount"])) for i in lines), ZERO) != value:
            raise SandboxError(400, "receipt items do not sum to the amount")
        with self._lock:
            if self.switches.refuse_payments_next > 0:
                self.switches.refuse_payments_next -= 1
                raise SandboxError(422, "the shop may not take this payment")
            payment = _Payment(
                id=f"sbx_{secrets.token_hex(12)}",
                order_id=order_id,
                amount=value,
                method=method,
                return_url=return_url,
                qr_token=secrets.token_urlsafe(16),
                lines=lines,
                customer=customer,
                description=str(body.get("description") or ""),
                save_method=save_method,
                customer_key=customer_key,
            )
            self._payments[payment.id] = payment
            self._by_order.setdefault(order_id, []).append(payment.id)
            self._by_token[payment.qr_token] = payment.id
            self._emit("payment.pending", payment)
            return payment.snapshot(self.base_url)

    def _charge(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            order_id = str(uuid.UUID(str(body["order_id"])))
            value = amount(str(body["amount"]))
            method_id = str(body["payment_method_id"])
            customer_key = _customer_key(body.get("customer_key"))
            lines = list(body.get("receipt", {}).get("items", []))
            customer = _customer(body.get("receipt", {}).get("customer"))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SandboxError(400, f"bad charge request: {exc}") from None
        if value <= 0:
            raise SandboxError(400, "bad amount")
        if lines and sum((amount(str(i["amount"])) for i in lines), ZERO) != value:
            raise SandboxError(400, "receipt items do not sum to the amount")
        with self._lock:
            existing = [self._payments[i] for i in self._by_order.get(order_id, ())]
            if existing:
                # one charge per order, whatever the key: a retry that lost its key (a
                # crash between booking and asking) still finds the charge it made
                first = existing[0]
                if (
                    first.kind == "charge"
                    and first.amount == value
                    and first.saved is not None
                    and first.saved.id == method_id
                ):
                    return first.snapshot(self.base_url)
                raise SandboxError(409, f"order {order_id} already has a payment")
            method = self._methods.get(method_id)
            if (
                method is None
                or method.status == "forgotten"
                or method.customer_key != customer_key
            ):
                # another client's method reads as unknown: its existence is not told
                raise _MethodNotFound()
            # a card the bank has ended is declined before its issuer is asked; the
            # switch's declines are the issuer's answers for live cards
            code = ""
            if method.status == "revoked":
                code = "permission_revoked"
            elif method.status == "expired":
                code = "card_expired"
            elif str(order_id) in self.switches.decline_orders:
                code = self.switches.decline_orders[str(order_id)]
            elif self.switches.decline_charges:
                code = self.switches.decline_charges.pop(0)
            if code and code not in DECLINE_CODES:
                raise SandboxError(400, f"unknown decline code {code!r}")
            payment = _Payment(
                id=f"sbx_{secrets.token_hex(12)}",
                order_id=order_id,
                amount=value,
                method="card",
                return_url="",
                qr_token=secrets.token_urlsafe(16),
                lines=lines,
                customer=customer,
                description=str(body.get("description") or ""),
                kind="charge",
                customer_key=customer_key,
                saved=method,
                status="failed" if code else "succeeded",
                decline_code=code,
                paid_at=None if code else self.clock(),
            )
            self._payments[payment.id] = payment
            self._by_order.setdefault(order_id, []).append(payment.id)
            self._by_token[payment.qr_token] = payment.id
            self._emit(f"payment.{payment.status}", payment)
            return payment.snapshot(self.base_url)

    def _method(self, method_id: str) -> dict[str, Any]:
        with self._lock:
            method = self._methods.get(method_id)
            if method is None or method.status == "forgotten":
                raise _MethodNotFound()
            return {**method.public(), "status": method.status}

    def _forget(self, method_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            customer_key = _customer_key(body.get("customer_key"))
        except ValueError as exc:
            raise SandboxError(400, f"bad request: {exc}") from None
        with self._lock:
            method = self._methods.get(method_id)
            if method is None or method.status == "forgotten":
                raise _MethodNotFound()
            if method.customer_key != customer_key:
                raise _MethodNotFound()
            method.status = "forgotten"
            return {"id": method.id, "status": "forgotten"}

    def _refund(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            value = amount(str(body["amount"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise SandboxError(400, f"bad refund request: {exc}") from None
        with self._lock:
            payment = self._get(payment_id)
            if payment.status not in ("succeeded", "partially_refunded"):
                raise SandboxError(409, f"payment is {payment.status}: nothing to refund")
            if self.switches.refuse_refunds_next > 0:
                self.switches.refuse_refunds_next -= 1
                raise SandboxError(422, "the shop's balance does not cover the refund")
            if value <= 0 or payment.refunded + value > payment.amount:
                raise SandboxError(409, "refund exceeds what is left")
            payment.refunded += value
            payment.status = (
                "refunded" if payment.refunded == payment.amount else "partially_refunded"
            )
            refund_id = f"sbr_{secrets.token_hex(8)}"
            self._refunds[refund_id] = value
            self._emit(f"payment.{payment.status}", payment)
            return {
                "refund_id": refund_id,
                "amount": str(value),
                "payment": payment.snapshot(self.base_url),
            }

    def _cancel(self, payment_id: str) -> dict[str, Any]:
        with self._lock:
            self._finish(payment_id, "cancelled")
            return self._payments[payment_id].snapshot(self.base_url)

    def handle_api(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: Any
    ) -> tuple[int, bytes]:
        """Route one authenticated API call; return (status, JSON body)."""
        auth = headers.get("Authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {self.api_key}".encode()):
            return 401, b'{"error": "unauthorised"}'
        fail, lose, stall = self._take_next()
        self._stall(stall)
        if self._fails(fail):
            return 500, b'{"error": "simulated failure"}'
        key = headers.get("Idempotence-Key")
        if method == "POST":
            if not key:
                return 400, b'{"error": "Idempotence-Key is required"}'
            status, answer = self._once(
                key,
                method.encode() + path.encode() + body,
                lambda: self._route(method, path, query, body),
                lambda: (422, b'{"error": "Idempotence-Key reused for another request"}'),
            )
        else:
            status, answer = self._route(method, path, query, body)
        if self._loses(lose):
            return 500, b'{"error": "simulated failure after the work was done"}'
        return status, answer

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, bytes]:
        parts = [p for p in path.split("/") if p]
        try:
            data: dict[str, Any] = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise SandboxError(400, "a JSON object is expected")
            if method == "POST" and parts == ["v1", "payments"]:
                result: Any = self._create(data)
            elif method == "GET" and parts == ["v1", "payments"]:
                order = query.get("order_id", [""])[0]
                with self._lock:
                    ids = self._by_order.get(order, [])
                    result = {"items": [self._payments[i].snapshot(self.base_url) for i in ids]}
            elif method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payments"]:
                with self._lock:
                    result = self._get(parts[2]).snapshot(self.base_url)
            elif method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                result = self._cancel(parts[2])
            elif method == "POST" and len(parts) == 4 and parts[3] == "refunds":
                result = self._refund(parts[2], data)
            elif method == "POST" and parts == ["v1", "charges"]:
                result = self._charge(data)
            elif method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "payment_methods"]:
                result = self._method(parts[2])
            elif (
                method == "POST"
                and len(parts) == 4
                and parts[:2] == ["v1", "payment_methods"]
                and parts[3] == "forget"
            ):
                result = self._forget(parts[2], data)
            elif method == "GET" and parts == ["v1", "report"]:
                rep = self.report()
                result = {k: str(v) for k, v in attrs.asdict(rep).items()}
            else:
                raise SandboxError(404, f"no route {method} {path}")
        except SandboxError as exc:
            answer: dict[str, str] = {"error": exc.message}
            if exc.code:
                answer["code"] = exc.code
            return exc.status, json.dumps(answer).encode()
        except json.JSONDecodeError:
            return 400, b'{"error": "body is not JSON"}'
        return 200, json.dumps(result, ensure_ascii=False).encode()

    # -- the confirmation page -----------------------------------------------------------

    def page(self, payment_id: str) -> str:
        with self._lock:
            p = self._get(payment_id)
            status, total, method = p.status, p.amount, p.method
            receipt_to = ", ".join(p.customer[k] for k in ("email", "phone") if k in p.customer)
        return confirmation_page(
            title="Sandbox acquirer",
            heading="Песочница эквайера / Sandbox acquirer",
            method=method,
            total=str(total),
            status=status,
            receipt_to=receipt_to,
        )

    def receipt_customer(self, payment_id: str) -> dict[str, str]:
        """Where the payment's receipt is sent: ``{"email": …, "phone": …}``, ``{}`` if nowhere."""
        with self._lock:
            return dict(self._get(payment_id).customer)

    def receipt_items(self, payment_id: str) -> list[dict[str, Any]]:
        """The payment's ``receipt.items`` as sent (``[]`` when it came without)."""
        with self._lock:
            return [dict(item) for item in self._get(payment_id).lines]

    def description_of(self, payment_id: str) -> str:
        """The payment's ``description`` as sent."""
        with self._lock:
            return self._get(payment_id).description

    def confirm_from_page(self, payment_id: str, action: str) -> str:
        """Apply a button of the page; return where to send the browser."""
        self._press_button(payment_id, action, SandboxError(400, f"unknown action {action!r}"))
        with self._lock:
            return self._payments[payment_id].return_url or f"{self.base_url}/pay/{payment_id}"

    def payment_for_token(self, token: str) -> str:
        with self._lock:
            payment_id = self._by_token.get(token)
        if payment_id is None:
            raise SandboxError(404, "unknown QR")
        return payment_id

    # -- webhooks ------------------------------------------------------------------------

    def _emit(self, event_type: str, payment: _Payment) -> None:
        # the snapshot is taken now, under the lock: a late delivery carries old news
        body = json.dumps(
            {
                "event_id": f"sbe_{secrets.token_hex(8)}",
                "type": event_type,
                "payment": payment.snapshot(self.base_url),
            },
            ensure_ascii=False,
        ).encode()
        self._enqueue(body)

    def _target(self, item: bytes) -> str | None:
        return self.webhook_url

    def _send_once(self, transport: HttpTransport, body: bytes) -> Outcome:
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(self.webhook_secret, timestamp, body),
        }
        # a 4xx is the receiver's final word (it refused the webhook): no retry
        transport.request("POST", "", body=body, headers=headers, ok_statuses=CLIENT_ERRORS)
        return "sent"

    # -- switches over HTTP --------------------------------------------------------------

    def set_switches(self, values: dict[str, Any]) -> None:
        """Set switches by name (unknown names are refused)."""
        names = {f.name for f in attrs.fields(Switches)}
        unknown = set(values) - names
        if unknown:
            raise SandboxError(400, f"unknown switches: {sorted(unknown)}")
        with self._lock:
            for name, value in values.items():
                setattr(self.switches, name, value)


def _make_handler(sim: AcquirerSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(SimulatorHandler):
        server_version = "pes-sandbox-acquirer"

        def _dispatch(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            body = self._body()
            parts = [p for p in url.path.split("/") if p]
            try:
                if parts[:1] == ["v1"]:
                    status, answer = sim.handle_api(method, url.path, query, body, self.headers)
                    self._send(status, answer, "application/json; charset=utf-8")
                elif parts[:1] in (["pay"], ["qr"]) and len(parts) == 2:
                    pid = parts[1] if parts[0] == "pay" else sim.payment_for_token(parts[1])
                    if method == "GET":
                        page = sim.page(pid).encode()
                        self._send(200, page, "text/html; charset=utf-8")
                    else:
                        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
                        target = sim.confirm_from_page(pid, form.get("action", [""])[0])
                        self._send(303, b"", "text/plain", Location=target)
                elif parts == ["_sandbox", "switches"] and method == "POST":
                    sim.set_switches(json.loads(body or b"{}"))
                    self._send(200, b"{}", "application/json")
                else:
                    raise SandboxError(404, "not found")
            except SandboxError as exc:
                text = json.dumps({"error": exc.message}).encode()
                self._send(exc.status, text, "application/json; charset=utf-8")
            except (ValueError, json.JSONDecodeError) as exc:
                text = json.dumps({"error": str(exc)}).encode()
                self._send(HTTPStatus.BAD_REQUEST, text, "application/json; charset=utf-8")

    return Handler


def _customer(value: Any) -> dict[str, str]:
    """The receipt's ``customer``: optional, but when given, an ``email`` with an ``@`` in a
    dotted domain and/or a ``phone`` in E.164, at least one (as ЮKassa's ``receipt.customer``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("receipt.customer is an object")
    out: dict[str, str] = {}
    for key, pattern in (("email", _EMAIL), ("phone", _PHONE)):
        given = value.get(key)
        if given is None:
            continue
        if not isinstance(given, str) or not pattern.fullmatch(given):
            raise ValueError(f"receipt.customer.{key} is not valid")
        out[key] = given
    if not out:
        raise ValueError("receipt.customer needs an email or a phone")
    return out


def _customer_key(value: Any) -> str:
    """The merchant's opaque id of a client: up to 64 printable ASCII characters."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _CUSTOMER_KEY.fullmatch(value):
        raise ValueError("customer_key is 1 to 64 printable ASCII characters")
    return value


_CUSTOMER_KEY = re.compile(r"[!-~]{1,64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+[1-9][0-9]{7,14}")


def utc_from_timestamp(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)
