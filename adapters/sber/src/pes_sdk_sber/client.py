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
    Confirmation,
    ConfirmationKind,
    CreateOptions,
    GatewayCapabilities,
    GatewayEvent,
    GatewayPayment,
    PaymentState,
    RefundRequest,
    RefundResult,
    WebhookRequest,
)
from pes_sdk.models.payments import Payment, PaymentMethod
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, ReceiptVat
from pes_sdk_sber.checksums import verify_checksum

__all__ = ["DEFAULT_TAX_TYPES", "SberError", "SberGateway", "kopecks", "state_of"]

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
    ) -> None:
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
            return GatewayPayment(
                gateway=NAME,
                gateway_payment_id=md_order,
                order_id=uuid.UUID(hex=str(answer["orderNumber"])),
                state=state,
                amount=amount,
                refunded=refunded if state.is_paid else Decimal("0.00"),
                confirmation=self._page(md_order) if state is PaymentState.PENDING else None,
                paid_at=_deposited_at(answer) if state.is_paid else None,
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


def _with(snapshot: GatewayPayment, **changes: Any) -> GatewayPayment:
    return attrs.evolve(snapshot, **changes)
