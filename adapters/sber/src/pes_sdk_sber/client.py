"""The Sber acquiring adapter (Сбербанк интернет-эквайринг, REST API ``/payment/rest/``).

Calls are form-encoded ``POST``\\ s carrying ``userName`` / ``password`` (or ``token``); the
answer is JSON, an error being ``errorCode`` ≠ 0 with ``errorMessage`` (HTTP 200 all the
same). How the contract maps onto it:

* **create**: ``register.do`` with ``orderNumber`` = our payment id (32 hex characters):
  the acquirer keeps ``orderNumber`` unique per merchant, which is its idempotency
  mechanism. A repeat answers ``errorCode`` 1; the adapter then finds the existing order
  with ``getOrderStatusExtended.do`` by ``orderNumber`` instead of registering again. For
  СБП the QR payload comes from ``sbp/c2b/qr/dynamic/get.do`` and is passed on as is.
* **status**: ``getOrderStatusExtended.do``; ``orderStatus`` 0 registered, 1 held, 2
  deposited, 3 reversed, 4 refunded, 5 ACS, 6 declined (see :func:`state_of`).
* **cancel**: ``decline.do``, the request for an unpaid order (it ends Reversed, orderStatus
  3); ``reverse.do`` is for a paid order and is refused on an unpaid one. **refund**:
  ``refund.do`` with ``refundItems`` per line and ``expectedDepositedAmount`` so a repeated
  request cannot refund twice.
* **callbacks**: the checksum is verified (:mod:`.checksums`); the callback is only a hint,
  so the snapshot returned is the acquirer's answer to ``getOrderStatusExtended.do``.
* **saved methods** (связки, автоплатёж): a payment created with ``save_method`` is
  registered with ``clientId`` (the customer key) and the ``jsonParams``
  ``recurringFrequency`` / ``recurringExpiry`` that make its binding one for recurring
  charges; once paid, ``getOrderStatusExtended.do`` answers ``bindingInfo`` (the
  :class:`SavedMethod`: ``bindingId``, ``clientId``, the last four digits of
  ``cardAuthInfo.maskedPan``). A charge is one ``recurrentPayment.do`` (``orderNumber`` =
  the charge's order id, ``bindingId``, ``amount``): one call, so no crash can fall between
  a registration and a payment; a repeat is refused as a used ``orderNumber`` and the
  adapter returns the order that number already has. A decline's ``actionCode`` maps to
  :class:`Decline` (:data:`DECLINE_CODES`). ``unBindCard.do`` forgets a binding;
  :meth:`SberGateway.bindings` lists a client's (``getBindings.do``).

Nothing is logged; card data never reaches the service (the client pays on Sber's page).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    UnknownPayment,
    WebhookRejected,
)
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.models import (
    ChargeOptions,
    Confirmation,
    ConfirmationKind,
    CreateOptions,
    Decline,
    GatewayCapabilities,
    GatewayEvent,
    GatewayPayment,
    PaymentState,
    RefundRequest,
    RefundResult,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.models.payments import Payment, PaymentMethod
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, ReceiptVat
from pes_sdk_sber.checksums import verify_checksum

__all__ = [
    "DECLINE_CODES",
    "DEFAULT_TAX_TYPES",
    "SberError",
    "SberGateway",
    "decline_of",
    "kopecks",
    "state_of",
]

NAME = "sber"

#: ``tax.taxType`` of an orderBundle position, by VAT rate (Sber's documented codes for
#: 0, 10, 20 % and none; 10/110 and 20/120 are 4 and 7). Rates without a code here (5, 7
#: and 22 %) must be given through ``tax_types``: their codes are not verified.
DEFAULT_TAX_TYPES: Mapping[ReceiptVat, int] = {
    ReceiptVat.NONE: 0,
    ReceiptVat.VAT0: 1,
    ReceiptVat.VAT10: 2,
    ReceiptVat.VAT10_110: 4,
    ReceiptVat.VAT20: 6,
    ReceiptVat.VAT20_120: 7,
}
#: ``paymentMethod`` (tag 1214) and ``paymentObject`` (tag 1212) attribute codes: the tag's
#: own values (11 агентское вознаграждение; 12 is another subject)
PAYMENT_METHODS = {"full_prepayment": "1", "prepayment": "2", "advance": "3", "full_payment": "4"}
PAYMENT_OBJECTS = {"commodity": "1", "service": "4", "payment": "10", "agent_commission": "11"}
#: ``agent_info.type`` is Sber's own list, numbered 1 to 7 (1 банковский платёжный агент,
#: 2 банковский платёжный субагент, 3 платёжный агент, 4 платёжный субагент, 5 поверенный,
#: 6 комиссионер, 7 иной агент), not tag 1222's bit value (платёжный агент = 4 there,
#: :data:`~pes_sdk.models.receipts.TAG_1222_PAYMENT_AGENT`): 4 here would be a subagent.
AGENT_TYPES = {AgentType.PAYMENT_AGENT: "3"}
#: register.do's errorCode for an orderNumber already used
DUPLICATE_ORDER = "1"
UNKNOWN_ORDER = "6"
#: getBindings.do / unBindCard.do: no such (active) binding, or none for the client
NO_BINDING = "2"
RECURRENT = "recurrentPayment.do"
#: the ``jsonParams`` that mark a first payment whose binding may be charged by
#: ``recurrentPayment.do``; getOrderStatusExtended.do answers them in merchantOrderParams
RECURRING_PARAMS = ("recurringFrequency", "recurringExpiry")

#: ``actionCode`` of a declined order (Sber's table of answer codes) → why, in the terms
#: autopay acts on; a code not listed is :attr:`Decline.OTHER` (the operator sees the code).
#: FUNDS: 116 not enough money, 121 over the card's amount limit, 123 over its count
#: limit (a later attempt may pass). METHOD_GONE: 100 the issuer bars internet payments on
#: the card, 101 the card expired, 104 the account is restricted, 208 the card is lost
#: (linking the same card again cannot help).
DECLINE_CODES: Mapping[int, Decline] = {
    116: Decline.FUNDS,
    121: Decline.FUNDS,
    123: Decline.FUNDS,
    100: Decline.METHOD_GONE,
    101: Decline.METHOD_GONE,
    104: Decline.METHOD_GONE,
    208: Decline.METHOD_GONE,
}


def decline_of(action_code: int) -> Decline:
    """The :class:`Decline` of a declined order's ``actionCode`` (:data:`DECLINE_CODES`)."""
    return DECLINE_CODES.get(action_code, Decline.OTHER)


class SberError(GatewayRefused):
    """The acquirer answered an ``errorCode``; ``code`` and the method are kept."""

    def __init__(self, method: str, code: str, message: str) -> None:
        self.code = code
        self.method = method
        super().__init__(f"{method}: errorCode {code}: {message[:200]}", gateway=NAME)


def kopecks(value: Decimal) -> int:
    """Roubles (two places) as whole kopecks; the API counts in minor units."""
    minor = value * 100
    if minor != minor.to_integral_value():
        raise ValueError(f"{value} has more than two decimal places")
    return int(minor)


def _roubles(value: Any) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def _deposited_at(answer: Mapping[str, Any]) -> dt.datetime | None:
    """When the order was paid: ``depositedDate``, else ``authDateTime`` (unix milliseconds).

    getOrderStatusExtended.do: ``depositedDate`` is the date and time the order was paid
    (оплаты / завершения оплаты), ``authDateTime`` that of its authorisation — the same
    moment in a one-stage payment. None when the answer has neither.
    """
    for key in ("depositedDate", "authDateTime"):
        value = answer.get(key)
        if value not in (None, "", 0):
            return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    return None


def state_of(order_status: int, refunded: Decimal, amount: Decimal) -> PaymentState:
    """Map ``orderStatus`` (and the refunded part of the order's ``amount``) to a state.

    A hold (1) is not the service's money yet and the adapter registers one-stage payments,
    so it reads as pending; 5 (ACS, 3-D Secure under way) too. 4 is set by any refund, so
    whether a refund was partial comes from ``refundedAmount < amount``: the order's amount,
    not ``depositedAmount``, which a bank may lower by what it refunded (then a refund of
    more than half would read as full).
    """
    if order_status in (0, 1, 5):
        return PaymentState.PENDING
    if order_status == 3:
        return PaymentState.CANCELLED
    if order_status == 6:
        return PaymentState.FAILED
    if order_status in (2, 4):
        if refunded <= 0:
            return PaymentState.SUCCEEDED
        if refunded < amount:
            return PaymentState.PARTIALLY_REFUNDED
        return PaymentState.REFUNDED
    raise GatewayError(f"unknown orderStatus {order_status}", gateway=NAME)


class SberGateway(PaymentGateway):
    """One merchant's connection to Sber acquiring.

    :param base_url: up to and including ``/payment/rest`` (e.g.
        ``https://securepayments.sberbank.ru/payment/rest``; the test server is another).
    :param user_name: / :param password: the API login (``…-api``); or :param token:.
    :param callback_secret: the symmetric key callback checksums are made with.
    :param timeout: seconds for every call.
    :param form_url_template: the payment page of an order, ``{order_id}`` standing for
        ``mdOrder``; used only to show a page again when an order was found rather than
        registered (``register.do``'s ``formUrl`` is used otherwise). Unverified.
    :param tax_types: VAT rate → ``taxType`` code, over :data:`DEFAULT_TAX_TYPES`.
    :param refund_guard: send ``expectedDepositedAmount`` with refunds (see the docs).
    :param recurring_frequency: ``jsonParams.recurringFrequency`` of a first payment that
        saves the card: the least number of days between two charges (1..28). Autopay
        charges monthly but retries a decline days later, so 1 by default.
    :param recurring_expiry: ``jsonParams.recurringExpiry``, the last day charges may be
        made (a consent has no end date of its own: far ahead by default).
    """

    name = NAME
    capabilities = GatewayCapabilities(
        methods=frozenset(PaymentMethod),
        partial_refunds=True,
        signed_webhooks=True,
        # the checksum covers no time: there is no replay window to check; callbacks are
        # only hints, each answered by a fresh status query
        webhook_timestamps=False,
        lookup_by_order=True,
        # bindings charged by recurrentPayment.do; unBindCard.do deactivates one
        recurring=True,
        unbind=True,
    )

    def __init__(
        self,
        base_url: str,
        *,
        user_name: str | None = None,
        password: str | None = None,
        token: str | None = None,
        callback_secret: bytes,
        timeout: float = 10.0,
        form_url_template: str | None = None,
        tax_types: Mapping[ReceiptVat, int] | None = None,
        refund_guard: bool = True,
        qr_size: int = 300,
        recurring_frequency: int = 1,
        recurring_expiry: dt.date = dt.date(2099, 12, 31),
    ) -> None:
        if not 1 <= recurring_frequency <= 28:
            raise ConfigError("sber: recurring_frequency is a number of days, 1 to 28")
        if token:
            self._auth = {"token": token}
        elif user_name and password:
            self._auth = {"userName": user_name, "password": password}
        else:
            raise ConfigError("sber: give user_name and password, or token")
        if not callback_secret:
            raise ConfigError("sber: callback_secret must not be empty")
        self._http = HttpTransport(
            base_url, timeout=timeout, gateway=NAME, headers={"Accept": "application/json"}
        )
        self._secret = callback_secret
        self._form_url_template = form_url_template
        self._tax_types = {**DEFAULT_TAX_TYPES, **(tax_types or {})}
        self._refund_guard = refund_guard
        self._qr_size = qr_size
        self._recurring = {
            "recurringFrequency": str(recurring_frequency),
            "recurringExpiry": recurring_expiry.strftime("%Y%m%d"),
        }
        # refund key → the refundable amount (kopecks) it was first sent against
        self._refund_expect: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def timeout(self) -> float:
        return self._http.timeout

    # -- the wire ------------------------------------------------------------------------

    def _call(
        self, method: str, params: Mapping[str, str], *, allow: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """POST one form to ``/<method>``; raise the typed error of an ``errorCode``."""
        body = urllib.parse.urlencode({**self._auth, **params}).encode("utf-8")
        response = self._http.request(
            "POST",
            f"/{method}",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            answer = response.json()
        except ValueError:
            raise GatewayError(f"{method}: the answer is not JSON", gateway=NAME) from None
        if not isinstance(answer, dict):
            raise GatewayError(f"{method}: the answer is not an object", gateway=NAME)
        code = str(answer.get("errorCode", "0"))
        if code != "0" and code not in allow:
            message = str(answer.get("errorMessage", ""))
            if code == UNKNOWN_ORDER:
                raise UnknownPayment(f"{method}: {message[:200]}", gateway=NAME)
            raise SberError(method, code, message)
        return answer

    def _call_json(self, method: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST one JSON body (recurrentPayment.do takes JSON); the answer as it is."""
        response = self._http.request("POST", f"/{method}", json_body={**self._auth, **payload})
        try:
            answer = response.json()
        except ValueError:
            raise GatewayError(f"{method}: the answer is not JSON", gateway=NAME) from None
        if not isinstance(answer, dict):
            raise GatewayError(f"{method}: the answer is not an object", gateway=NAME)
        return answer

    def _status(self, params: Mapping[str, str]) -> dict[str, Any]:
        return self._call("getOrderStatusExtended.do", params)

    def _snapshot(self, answer: Mapping[str, Any], md_order: str | None) -> GatewayPayment:
        try:
            if md_order is None:
                md_order = next(
                    str(a["value"]) for a in answer.get("attributes", []) if a["name"] == "mdOrder"
                )
            amount = _roubles(answer["amount"])
            info = answer.get("paymentAmountInfo") or {}
            refunded = _roubles(info.get("refundedAmount", 0))
            state = state_of(int(answer["orderStatus"]), refunded, amount)
            decline: Decline | None = None
            decline_code = ""
            if state is PaymentState.FAILED:
                code = int(answer.get("actionCode") or 0)
                if code:
                    decline, decline_code = decline_of(code), str(code)
            return GatewayPayment(
                gateway=NAME,
                gateway_payment_id=md_order,
                order_id=uuid.UUID(hex=str(answer["orderNumber"])),
                state=state,
                amount=amount,
                refunded=refunded if state.is_paid else Decimal("0.00"),
                confirmation=self._page(md_order) if state is PaymentState.PENDING else None,
                paid_at=_deposited_at(answer) if state.is_paid else None,
                saved_method=_saved_method(answer) if state.is_paid else None,
                decline=decline,
                decline_code=decline_code,
            )
        except (KeyError, ValueError, TypeError, StopIteration) as exc:
            raise GatewayError(
                f"getOrderStatusExtended.do: unexpected answer ({type(exc).__name__})",
                gateway=NAME,
            ) from None

    def _page(self, md_order: str) -> Confirmation | None:
        if not self._form_url_template:
            return None
        url = self._form_url_template.format(order_id=urllib.parse.quote(md_order, safe=""))
        return Confirmation(ConfirmationKind.REDIRECT, url=url)

    # -- the contract --------------------------------------------------------------------

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        params = {
            "orderNumber": payment.payment_id.hex,
            "amount": str(kopecks(payment.total)),
            "currency": "643",
            "returnUrl": options.return_url,
            "failUrl": options.return_url,
            "language": "ru",
        }
        if options.description:
            params["description"] = options.description[:598]
        if options.receipt is not None:
            params["orderBundle"] = json.dumps(
                order_bundle(options.receipt, self._tax_types), ensure_ascii=False
            )
        if options.save_method:
            if payment.method is not PaymentMethod.CARD:
                raise GatewayRefused(
                    f"sber binds cards only, not {payment.method}: nothing was registered",
                    gateway=NAME,
                )
            # the client the binding is made for, and the marks that make it one for
            # charges without the client (recurrentPayment.do)
            params["clientId"] = options.customer_key
            params["jsonParams"] = json.dumps(self._recurring)
        answer = self._call("register.do", params, allow=(DUPLICATE_ORDER,))
        if str(answer.get("errorCode", "0")) == DUPLICATE_ORDER:
            # registered before (a lost answer, a retry): find it, never register again
            try:
                snapshot = self._snapshot(
                    self._status({"orderNumber": params["orderNumber"]}), None
                )
            except UnknownPayment:
                raise SberError(
                    "register.do", DUPLICATE_ORDER, str(answer.get("errorMessage", ""))
                ) from None
        else:
            md_order = str(answer["orderId"])
            snapshot = GatewayPayment(
                gateway=NAME,
                gateway_payment_id=md_order,
                order_id=payment.payment_id,
                state=PaymentState.PENDING,
                amount=payment.total,
                confirmation=Confirmation(ConfirmationKind.REDIRECT, url=str(answer["formUrl"])),
            )
        if payment.method is PaymentMethod.SBP and snapshot.state is PaymentState.PENDING:
            qr = self._call(
                "sbp/c2b/qr/dynamic/get.do",
                {
                    "mdOrder": snapshot.gateway_payment_id,
                    "qrHeight": str(self._qr_size),
                    "qrWidth": str(self._qr_size),
                    "qrFormat": "matrix",
                },
            )
            confirmation = Confirmation(ConfirmationKind.QR, qr_payload=str(qr["payload"]))
            snapshot = _with(snapshot, confirmation=confirmation, method=PaymentMethod.SBP)
        else:
            snapshot = _with(snapshot, method=payment.method)
        return snapshot

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        """One ``recurrentPayment.do``: register and pay ``payment`` by the binding at once.

        ``orderNumber`` is the charge's order id (derived from the consent and the period),
        unique per merchant at the acquirer: a repeat, after a lost answer or a crash, is
        refused as a used number and charges nothing, and the order that number has is
        returned instead. The snapshot is the acquirer's ``getOrderStatusExtended.do``
        answer for that number (deposited, or declined with its ``actionCode``), whichever
        way ``recurrentPayment.do`` itself tells a decline. A request refused with no
        order made (an unknown, inactive or non-recurring binding) raises
        :class:`SberError`. ``recurrentPayment.do`` names no client, so the binding is
        first checked to be one of ``method.customer_key``'s (``getBindings.do``): another
        client's is refused (:class:`GatewayRefused`) with nothing charged.
        """
        if method.gateway != NAME:
            raise GatewayRefused(f"a {method.gateway} method is not a sber binding", gateway=NAME)
        number = payment.payment_id.hex
        body: dict[str, Any] = {
            "orderNumber": number,
            "bindingId": method.method_id,
            "amount": kopecks(payment.total),
            "currency": "643",
            "language": "ru",
        }
        if options.description:
            body["description"] = options.description[:512]
        if options.receipt is not None:
            body["orderBundle"] = order_bundle(options.receipt, self._tax_types)
        if not self._owns(method):
            # recurrentPayment.do names no client: a binding of another clientId would be
            # charged. Only a repeat of a charge already made (the binding unbound since)
            # may go on, to return that order.
            found = self.find_payment(payment.payment_id, options.idempotency_key)
            if found is None:
                raise GatewayRefused(
                    f"binding is not one of client {method.customer_key!r}: nothing charged",
                    gateway=NAME,
                )
            return self._same_charge(found, payment)
        answer = self._call_json(RECURRENT, body)
        try:
            snapshot = self._snapshot(self._status({"orderNumber": number}), None)
        except UnknownPayment:
            error = answer.get("error")
            if not isinstance(error, dict):
                error = {}
            raise SberError(
                RECURRENT,
                str(error.get("code", "?")),
                str(error.get("message") or error.get("description") or ""),
            ) from None
        return self._same_charge(snapshot, payment)

    def _same_charge(self, snapshot: GatewayPayment, payment: Payment) -> GatewayPayment:
        if snapshot.amount != payment.total:
            raise GatewayError(
                f"order {payment.payment_id.hex} is at the acquirer for {snapshot.amount}, "
                f"not {payment.total}",
                gateway=NAME,
            )
        return _with(snapshot, method=PaymentMethod.CARD)

    def _owns(self, method: SavedMethod) -> bool:
        """Whether the binding is one of ``method.customer_key``'s, expired cards included
        (their charge is the issuer's to decline, as gone)."""
        if not method.customer_key:
            return False
        held = self._bindings(method.customer_key, show_expired=True)
        return any(m.method_id == method.method_id for m in held)

    def forget_method(self, method: SavedMethod) -> bool:
        """``unBindCard.do``: the binding is deactivated (a repeat finds it inactive)."""
        if method.gateway != NAME:
            raise GatewayRefused(f"a {method.gateway} method is not a sber binding", gateway=NAME)
        self._call("unBindCard.do", {"bindingId": method.method_id}, allow=(NO_BINDING,))
        return True

    def bindings(self, customer_key: str) -> list[SavedMethod]:
        """The client's active bindings with unexpired cards (``getBindings.do``)."""
        return self._bindings(customer_key, show_expired=False)

    def _bindings(self, customer_key: str, *, show_expired: bool) -> list[SavedMethod]:
        params = {"clientId": customer_key, "showExpired": "true" if show_expired else "false"}
        answer = self._call("getBindings.do", params, allow=(NO_BINDING,))
        if str(answer.get("errorCode", "0")) == NO_BINDING:
            return []
        try:
            return [
                SavedMethod(NAME, str(b["bindingId"]), customer_key, _title(b.get("maskedPan")))
                for b in answer.get("bindings") or []
            ]
        except (KeyError, TypeError, ValueError):
            raise GatewayError("getBindings.do: unexpected answer", gateway=NAME) from None

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        return self._snapshot(self._status({"orderId": gateway_payment_id}), gateway_payment_id)

    def find_payment(self, order_id: uuid.UUID, idempotency_key: str) -> GatewayPayment | None:
        try:
            return self._snapshot(self._status({"orderNumber": order_id.hex}), None)
        except UnknownPayment:
            return None

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        try:
            # decline.do, not reverse.do: the order is unpaid, and reverse.do undoes a payment
            self._call("decline.do", {"orderId": gateway_payment_id, "language": "ru"})
        except SberError:
            # a repeat after a lost answer finds it reversed already: that is the outcome
            snapshot = self.get_payment(gateway_payment_id)
            if snapshot.state is PaymentState.CANCELLED:
                return snapshot
            raise
        return self.get_payment(gateway_payment_id)

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        gid = request.gateway_payment_id
        amount = kopecks(request.amount)
        params = {
            "orderId": gid,
            "amount": str(amount),
            "refundItems": json.dumps(
                {
                    "items": [
                        # positions are numbered from 1 in the order of the basket's lines
                        {"positionId": str(ln.index + 1), "itemAmount": kopecks(ln.amount)}
                        for ln in request.lines
                    ]
                }
            ),
        }
        expected: int | None = None
        if self._refund_guard:
            with self._lock:
                expected = self._refund_expect.get(idempotency_key)
            if expected is None:
                before = self.get_payment(gid)
                expected = kopecks(before.amount - before.refunded)
                with self._lock:
                    expected = self._refund_expect.setdefault(idempotency_key, expected)
            params["expectedDepositedAmount"] = str(expected)
        try:
            self._call("refund.do", params)
        except SberError:
            after = self.get_payment(gid)
            # the same request already went through (its answer was lost): done, not twice
            if expected is None or kopecks(after.amount - after.refunded) != expected - amount:
                raise
        else:
            after = self.get_payment(gid)
        with self._lock:
            self._refund_expect.pop(idempotency_key, None)
        return RefundResult(f"{gid}:{idempotency_key}", request.amount, after)

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        params = callback_params(request)
        verify_checksum(self._secret, params, gateway=NAME)
        md_order, number = params.get("mdOrder"), params.get("orderNumber")
        if not md_order or not number:
            raise WebhookRejected("malformed", "mdOrder or orderNumber missing", gateway=NAME)
        try:
            snapshot = self.get_payment(md_order)  # the callback is a hint: ask the acquirer
        except UnknownPayment:
            raise WebhookRejected(
                "unknown-payment", "the acquirer does not know the order", gateway=NAME
            ) from None
        if snapshot.order_id.hex != number.lower():
            raise WebhookRejected("malformed", "mdOrder and orderNumber disagree", gateway=NAME)
        event_id = f"{md_order}:{params.get('operation', '')}:{params.get('status', '')}"
        if params.get("operation") == "refunded":
            # A callback names no refund: two partial refunds of one order send the same
            # fields. The refunded total as the acquirer now reports it tells them apart.
            event_id += f":{kopecks(snapshot.refunded)}"
        return [GatewayEvent(event_id=event_id, payment=snapshot)]

    def close(self) -> None:
        self._http.close()


def callback_params(request: WebhookRequest) -> dict[str, str]:
    """The parameters of a callback: the query string, plus a form-encoded POST body.

    A parameter given twice is refused: which copy was signed would be ambiguous.
    """
    pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
    if request.body:
        ctype = (request.header("Content-Type") or "").lower()
        if "json" in ctype:
            raise WebhookRejected("malformed", "a JSON callback is not supported", gateway=NAME)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("malformed", "body is not UTF-8", gateway=NAME) from None
        pairs += urllib.parse.parse_qsl(text, keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise WebhookRejected("malformed", f"parameter {key} given twice", gateway=NAME)
        params[key] = value
    return params


def order_bundle(receipt: Receipt, tax_types: Mapping[ReceiptVat, int]) -> dict[str, Any]:
    """The ``orderBundle`` of ``register.do`` (54-ФЗ): one ``cartItems`` item per position.

    Positions are numbered from 1; a basket's lines come first, in order, so a per-line
    refund names ``positionId`` = line index + 1. The agent sign and the supplier go in
    ``itemAttributes`` (``agent_info.type``, ``supplier_info.name/inn/phones``). The buyer's
    contact (tag 1008) goes in ``customerDetails.email`` / ``phone``; a receipt without one
    is still sent, as Sber's ``customerDetails`` is optional (its positions also carry the
    per-line refunds).
    """
    bundle: dict[str, Any] = {
        "cartItems": {
            "items": [_item(n, p, tax_types) for n, p in enumerate(receipt.positions, start=1)]
        }
    }
    customer: dict[str, str] = {}
    if receipt.customer_email:
        customer["email"] = receipt.customer_email
    if receipt.customer_phone:
        # the digits, as Sber's own shop modules send it (its documented pattern
        # ``(+7|7|8)?`` and ten digits takes them for a Russian number; unverified for others)
        customer["phone"] = receipt.customer_phone.lstrip("+")
    if customer:
        bundle["customerDetails"] = customer
    return bundle


def _item(n: int, position: ReceiptPosition, tax_types: Mapping[ReceiptVat, int]) -> dict[str, Any]:
    if position.vat not in tax_types:
        raise ConfigError(f"sber: no taxType code for VAT rate {position.vat}; set tax_types")
    try:
        attributes = [
            {"name": "paymentMethod", "value": PAYMENT_METHODS[position.mode]},
            {"name": "paymentObject", "value": PAYMENT_OBJECTS[position.subject]},
        ]
    except KeyError as exc:
        raise ConfigError(f"sber: no code for receipt value {exc.args[0]!r}") from None
    if position.agent is not None and position.supplier is not None:
        supplier = position.supplier
        attributes += [
            {"name": "agent_info.type", "value": AGENT_TYPES[position.agent]},
            {"name": "supplier_info.name", "value": supplier.name},
            {"name": "supplier_info.inn", "value": supplier.inn},
        ]
        if supplier.phones:
            attributes.append({"name": "supplier_info.phones", "value": ",".join(supplier.phones)})
    return {
        "positionId": str(n),
        "name": position.name[:100],
        "quantity": {"value": position.quantity, "measure": "шт"},
        "itemAmount": kopecks(position.amount * position.quantity),
        "itemPrice": kopecks(position.amount),
        "itemCode": str(n),
        "tax": {"taxType": tax_types[position.vat]},
        "itemAttributes": {"attributes": attributes},
    }


def _title(masked_pan: Any) -> str:
    """``*1234`` from a masked card number (``220220**1234``): never more of it."""
    digits = [ch for ch in str(masked_pan or "") if ch.isdigit()]
    return "*" + "".join(digits[-4:]) if len(digits) >= 4 else ""


def _saved_method(answer: Mapping[str, Any]) -> SavedMethod | None:
    """The binding a paid first payment made, from ``bindingInfo``; None for any other
    order (one without the recurring ``merchantOrderParams``: a payment the client did not
    agree to autopay on, or a charge by a binding, which saves nothing new)."""
    info = answer.get("bindingInfo") or {}
    params = {str(p.get("name")) for p in answer.get("merchantOrderParams") or []}
    if not info.get("bindingId") or not all(k in params for k in RECURRING_PARAMS):
        return None
    card = answer.get("cardAuthInfo") or {}
    return SavedMethod(
        NAME, str(info["bindingId"]), str(info.get("clientId") or ""), _title(card.get("maskedPan"))
    )


def _with(snapshot: GatewayPayment, **changes: Any) -> GatewayPayment:
    return attrs.evolve(snapshot, **changes)
