"""The YooKassa (ЮKassa) API v3 adapter: a :class:`~pes_sdk.gateways.PaymentGateway` over HTTP.

* **auth**: HTTP Basic ``shopId:secretKey`` on every call; the secret never reaches an error
  message or a log.
* **idempotency**: every POST carries ``Idempotence-Key`` (the processor's stored key); the
  same key with the same body returns the same object. After a timeout,
  :meth:`YooKassaGateway.find_payment` looks for our order id in ``metadata`` among recent
  payments; if it finds nothing the processor creates again with the same key, which is
  safe for the same reason.
* **webhooks are not signed**: :meth:`YooKassaGateway.parse_webhook` accepts a notification
  only from an allowed source network, then re-fetches the payment (``GET
  /v3/payments/{id}``) and returns the **fetched** snapshot: the notification is only a
  hint. A forged or replayed notification can therefore only repeat what is true now.
* **receipts (54-ФЗ)**: ``receipt.items`` with ``agent_type = payment_agent`` and the
  ``supplier`` (name, ИНН, phone) per paid service, the fee as the service's own item; VAT
  rates mapped to ``vat_code`` 1..12. ``receipt.customer`` (tag 1008) is the client's
  :attr:`Receipt.customer_email` / ``customer_phone``, else the shop's ``receipt_customer``.
  ЮKassa refuses a receipt with neither (``receipt.customer`` is required with a receipt), so
  a receipt with no contact at all is not sent: the payment goes without one rather than be
  refused (a shop where ЮKassa requires receipts then needs ``receipt_customer``).
* **saved methods (автоплатёж)**: a payment created with :attr:`CreateOptions.save_method`
  sends ``save_payment_method: true``; once paid, its ``payment_method`` has ``saved: true``
  and the method's ``id`` (:attr:`GatewayPayment.saved_method`).
  :meth:`YooKassaGateway.charge_saved` creates a payment with ``payment_method_id`` and no
  confirmation, under the charge's ``Idempotence-Key``; a declined one is ``canceled`` with
  ``cancellation_details.reason``, mapped to :class:`Decline` by
  :data:`~pes_sdk_yookassa.protocol.DECLINES`. ЮKassa has no call to delete a saved method:
  :meth:`~pes_sdk.gateways.contract.PaymentGateway.forget_method` is False (the service
  stops using it, as ЮKassa's "Отключение автоплатежа" says).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    GatewayUnavailable,
    UnknownPayment,
    WebhookRejected,
)
from pes_sdk.gateways.http import HttpResponse, HttpTransport
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
from pes_sdk.models.receipts import Receipt, ReceiptPosition
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk_yookassa.protocol import (
    API_URL,
    CANCELLED_REASONS,
    DECLINES,
    DEFAULT_WEBHOOK_NETWORKS,
    IDEMPOTENCE_HEADER,
    MAX_DESCRIPTION,
    METHOD_TYPES,
    VAT_CODES,
    Networks,
    basic_auth,
)

__all__ = ["YooKassaGateway", "receipt_json", "refund_receipt"]

NAME = "yookassa"
CURRENCY = "RUB"
#: our order id travels in the payment's metadata (ЮKassa returns it in every snapshot)
ORDER_KEY = "order_id"
#: what the payment is to autopay, in its metadata: ``save`` (the client agreed to keep the
#: method: only such a payment reports one) or ``charge`` (a charge without the client)
AUTOPAY_KEY = "autopay"
_METHODS_BACK = {v: k for k, v in METHOD_TYPES.items()}
_CLIENT_ERRORS = tuple(range(400, 500))


class YooKassaGateway(PaymentGateway):
    """One shop (магазин) at ЮKassa.

    :param shop_id: ``shopId``.
    :param secret_key: the shop's secret key (``live_…`` / ``test_…``).
    :param base_url: the API root (``https://api.yookassa.ru/v3``; a simulator's URL in tests).
    :param timeout: seconds for every call (connect and each read).
    :param webhook_networks: CIDRs notifications may come from (default: ЮKassa's published
        list). The peer address is :attr:`WebhookRequest.remote_addr`: behind a reverse proxy
        the service must put the real peer there (this adapter trusts no forwarded header).
    :param receipt_for: builds the 54-ФЗ receipt of a basket when
        :attr:`CreateOptions.receipt` is not given (e.g. ``lambda p: Receipt.for_payment(p,
        suppliers, fee_vat=ReceiptVat.VAT22)``); None: no receipt unless the options carry one.
    :param refund_receipt_for: builds the receipt of a refund (see :func:`refund_receipt`).
    :param receipt_customer: ``receipt.customer`` (``{"email": …}`` or ``{"phone": …}``)
        of a receipt that names no contact of the client's (:attr:`Receipt.customer_email`,
        ``customer_phone``): ЮKassa requires one with a receipt, so this is the service's
        own mailbox. Without either, no receipt is sent.
    :param tax_system_code: ``receipt.tax_system_code`` (1..6), if the shop needs it.
    :param lookup_window: how far back :meth:`find_payment` looks (idempotence keys live 24 h).
    :param lookup_pages: / :param lookup_page_size: at most how many list pages of how many
        payments (ЮKassa allows up to 100) :meth:`find_payment` reads.
    """

    name = NAME
    capabilities = GatewayCapabilities(
        methods=frozenset(PaymentMethod),
        partial_refunds=True,
        # notifications carry neither a signature nor a signed time: authenticity is the
        # source network plus a re-fetch of the payment (see parse_webhook)
        signed_webhooks=False,
        webhook_timestamps=False,
        lookup_by_order=True,
        # ЮKassa cancels only waiting_for_capture payments; a pending one-stage payment
        # cannot be cancelled by the merchant (it expires): cancel_payment is refused
        cancel_pending=False,
        # a refund takes its receipt (the refunded part of the payment's positions), sent
        # when the service gives refund_receipt_for (its book knows the payment's receipt)
        refund_receipts=True,
        # save_payment_method, then payment_method_id without confirmation
        recurring=True,
        # ЮKassa has no call to delete a saved method: the service stops using it
        unbind=False,
    )

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        *,
        base_url: str = API_URL,
        timeout: float = 10.0,
        webhook_networks: Iterable[str] = DEFAULT_WEBHOOK_NETWORKS,
        receipt_for: Callable[[Payment], Receipt | None] | None = None,
        refund_receipt_for: Callable[[RefundRequest], Receipt | None] | None = None,
        receipt_customer: Mapping[str, str] | None = None,
        tax_system_code: int | None = None,
        lookup_window: dt.timedelta = dt.timedelta(hours=24),
        lookup_pages: int = 20,
        lookup_page_size: int = 100,
    ) -> None:
        self._http = HttpTransport(
            base_url,
            timeout=timeout,
            gateway=NAME,
            headers={
                "Authorization": basic_auth(shop_id, secret_key),
                "Accept": "application/json",
            },
        )
        self.shop_id = shop_id
        self.webhook_networks = Networks(webhook_networks)
        self._receipt_for = receipt_for
        self._refund_receipt_for = refund_receipt_for
        self._customer = dict(receipt_customer) if receipt_customer else None
        self._tax_system_code = tax_system_code
        self._lookup_window = lookup_window
        self._lookup_pages = lookup_pages
        self._page_size = lookup_page_size

    def __repr__(self) -> str:  # never the secret
        return f"YooKassaGateway(shop_id={self.shop_id!r}, base_url={self._http.base_url!r})"

    @property
    def timeout(self) -> float:
        return self._http.timeout

    # -- calls ---------------------------------------------------------------------------

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        method_type = METHOD_TYPES[payment.method]
        confirmation: dict[str, str]
        if payment.method is PaymentMethod.SBP:
            # the QR payload (confirmation_data) comes from ЮKassa and is opaque to us
            confirmation = {"type": "qr"}
        else:
            confirmation = {"type": "redirect", "return_url": options.return_url}
        body: dict[str, Any] = {
            "amount": _money(payment.total),
            "capture": True,  # one stage: no waiting_for_capture, the money is taken at once
            "confirmation": confirmation,
            "payment_method_data": {"type": method_type},
            "metadata": {ORDER_KEY: str(payment.payment_id)},
        }
        if options.save_method:
            # the customer_key stays with the service: ЮKassa keeps no customer for a saved
            # method, and the method's id is all a charge needs
            body["save_payment_method"] = True
            body["metadata"][AUTOPAY_KEY] = "save"
        self._describe(body, payment, options.description, options.receipt)
        answer = self._call("POST", "/payments", body, options.idempotency_key)
        return self._snapshot(answer)

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        """``POST /v3/payments`` with ``payment_method_id``, ``capture: true`` and no
        confirmation: ЮKassa charges the saved method at once (or answers ``pending`` and
        tells later). The charge's ``Idempotence-Key`` makes a repeat within ЮKassa's 24 h
        return the same payment (after a timeout the processor asks :meth:`find_payment`
        first); the charge's ``payment.succeeded`` / ``payment.canceled`` notification
        gives the processor its id long before the key is forgotten."""
        if method.gateway != NAME:
            raise GatewayRefused(f"a {method.gateway} method is not ЮKassa's", gateway=NAME)
        body: dict[str, Any] = {
            "amount": _money(payment.total),
            "capture": True,
            "payment_method_id": method.method_id,
            "metadata": {ORDER_KEY: str(payment.payment_id), AUTOPAY_KEY: "charge"},
        }
        self._describe(body, payment, options.description, options.receipt)
        answer = self._call("POST", "/payments", body, options.idempotency_key)
        return self._snapshot(answer)

    def _describe(
        self, body: dict[str, Any], payment: Payment, description: str, receipt: Receipt | None
    ) -> None:
        """The ``description`` and the 54-ФЗ ``receipt`` of a payment's body."""
        if description:
            body["description"] = description[:MAX_DESCRIPTION]
        if receipt is None and self._receipt_for is not None:
            receipt = self._receipt_for(payment)
        if receipt is not None and (receipt.has_contact or self._customer):
            body["receipt"] = receipt_json(receipt, self._customer, self._tax_system_code)

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        return self._snapshot(self._call("GET", f"/payments/{_quote(gateway_payment_id)}"))

    def find_payment(self, order_id: uuid.UUID, idempotency_key: str) -> GatewayPayment | None:
        # ЮKassa cannot filter by metadata: list the recent payments and match our order id
        since = dt.datetime.now(dt.UTC) - self._lookup_window
        params = {
            "created_at.gte": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "limit": str(self._page_size),
        }
        for _page in range(self._lookup_pages):
            answer = self._call("GET", "/payments?" + urllib.parse.urlencode(params))
            for item in answer.get("items", []):
                if (item.get("metadata") or {}).get(ORDER_KEY) == str(order_id):
                    return self._snapshot(item)
            cursor = answer.get("next_cursor")
            if not cursor:
                return None
            params["cursor"] = str(cursor)
        return None

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        # ЮKassa cancels only payments in waiting_for_capture; with capture=true a pending
        # payment cannot be cancelled by the merchant (it expires): the API says invalid_request
        path = f"/payments/{_quote(gateway_payment_id)}/cancel"
        return self._snapshot(self._call("POST", path, {}, idempotency_key))

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        body: dict[str, Any] = {
            "payment_id": request.gateway_payment_id,
            "amount": _money(request.amount),
        }
        if self._refund_receipt_for is not None:
            receipt = self._refund_receipt_for(request)
            if receipt is not None and (receipt.has_contact or self._customer):
                body["receipt"] = receipt_json(receipt, self._customer, self._tax_system_code)
        answer = self._call("POST", "/refunds", body, idempotency_key)
        status = answer.get("status")
        if status == "pending":
            # not final yet: look again; still pending means "retry later" (same key)
            answer = self._call("GET", f"/refunds/{_quote(str(answer['id']))}")
            status = answer.get("status")
            if status == "pending":
                raise GatewayUnavailable("the refund is still pending", gateway=NAME)
        if status != "succeeded":
            reason = (answer.get("cancellation_details") or {}).get("reason", status)
            raise GatewayRefused(f"refund {answer.get('id')} {status}: {reason}", gateway=NAME)
        payment = self.get_payment(request.gateway_payment_id)
        return RefundResult(str(answer["id"]), _value(answer["amount"]), payment)

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        """Accept a notification from an allowed network, then trust only a re-fetch.

        The body is read for the object's id alone; the snapshot returned is what
        ``GET /v3/payments/{id}`` says now. Events other than a payment's or a refund's are
        acknowledged with no event (so ЮKassa stops resending them).
        """
        if request.remote_addr not in self.webhook_networks:
            raise WebhookRejected(
                "source", "the sender is not in the allowed networks", gateway=NAME
            )
        try:
            data = json.loads(request.body.decode("utf-8"))
            if data.get("type") != "notification":
                raise ValueError("not a notification")
            event = str(data["event"])
            obj = data["object"]
            if event.startswith("payment."):
                payment_id = str(obj["id"])
            elif event.startswith("refund."):
                payment_id = str(obj["payment_id"])
            else:
                return []
            object_id = str(obj["id"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected("malformed", type(exc).__name__, gateway=NAME) from None
        try:
            snapshot = self.get_payment(payment_id)
        except UnknownPayment:
            raise WebhookRejected(
                "unknown-payment", "ЮKassa has no such payment", gateway=NAME
            ) from None
        except GatewayRefused as exc:
            if exc.status == 400:  # an id ЮKassa cannot even parse
                raise WebhookRejected("malformed", exc.message, gateway=NAME) from None
            raise  # e.g. our credentials: answer 5xx so that ЮKassa sends it again later
        # unavailable or timed out: propagates, the service answers 5xx, ЮKassa resends
        return [GatewayEvent(event_id=f"{event}:{object_id}", payment=snapshot)]

    def close(self) -> None:
        self._http.close()

    # -- helpers -------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, key: str | None = None
    ) -> Any:
        headers = {IDEMPOTENCE_HEADER: key} if key is not None else None
        response = self._http.request(
            method,
            path,
            json_body=body if method == "POST" else None,
            headers=headers,
            ok_statuses=_CLIENT_ERRORS,
        )
        if response.status == 202:
            # "being processed": the documented answer is to repeat with the same key
            raise GatewayUnavailable(f"{method} {path}: still processing", gateway=NAME, status=202)
        if response.status >= 400:
            raise _error(method, path, response)
        try:
            return response.json()
        except ValueError:
            raise GatewayUnavailable(f"{method} {path}: not JSON", gateway=NAME) from None

    def _snapshot(self, data: Any) -> GatewayPayment:
        try:
            return _snapshot(data)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise GatewayError(
                f"unexpected payment object: {type(exc).__name__}: {exc}", gateway=NAME
            ) from None


def _error(method: str, path: str, response: HttpResponse) -> GatewayError:
    """A ЮKassa error object (``{"type": "error", "code", "description", "parameter"}``)."""
    try:
        data = response.json()
        code = str(data.get("code", ""))
        text = str(data.get("description", ""))[:200]
        parameter = data.get("parameter")
    except (ValueError, AttributeError):
        code, text, parameter = "", "", None
    where = f" ({parameter})" if parameter else ""
    message = f"{method} {path}: HTTP {response.status} {code}: {text}{where}"
    if response.status == 404:
        return UnknownPayment(message, gateway=NAME)
    if response.status == 429:
        # rate limited: nothing was done, a later retry with the same key is safe
        return GatewayUnavailable(message, gateway=NAME, status=429)
    return GatewayRefused(message, gateway=NAME, status=response.status)


def _snapshot(data: dict[str, Any]) -> GatewayPayment:
    amount = _value(data["amount"])
    refunded = _value(data["refunded_amount"]) if data.get("refunded_amount") else ZERO
    status = str(data["status"])
    if status in ("pending", "waiting_for_capture"):
        # waiting_for_capture cannot arise with capture=true; should it, it is not paid yet
        state = PaymentState.PENDING
    elif status == "succeeded":
        if refunded == ZERO:
            state = PaymentState.SUCCEEDED
        elif refunded == amount:
            state = PaymentState.REFUNDED
        else:
            state = PaymentState.PARTIALLY_REFUNDED
    elif status == "canceled":
        reason = (data.get("cancellation_details") or {}).get("reason")
        state = PaymentState.CANCELLED if reason in CANCELLED_REASONS else PaymentState.FAILED
    else:
        raise ValueError(f"unknown status {status!r}")
    metadata = data.get("metadata") or {}
    if ORDER_KEY not in metadata:
        raise UnknownPayment(f"payment {data.get('id')} is not one of ours", gateway=NAME)
    autopay = metadata.get(AUTOPAY_KEY)
    conf = data.get("confirmation") or {}
    confirmation = None
    if autopay == "charge":
        pass  # nobody is there to confirm a charge: it is decided, or expires, without them
    elif conf.get("type") == "redirect" and conf.get("confirmation_url"):
        confirmation = Confirmation(ConfirmationKind.REDIRECT, url=str(conf["confirmation_url"]))
    elif conf.get("type") == "qr" and conf.get("confirmation_data"):
        confirmation = Confirmation(ConfirmationKind.QR, qr_payload=str(conf["confirmation_data"]))
    method_data = data.get("payment_method") or {}
    method_type = method_data.get("type")
    decline, decline_code = None, ""
    if status == "canceled":
        decline_code = str((data.get("cancellation_details") or {}).get("reason") or "")
        if state is PaymentState.FAILED:
            decline = DECLINES.get(decline_code, Decline.OTHER)
    saved = None
    # only a payment the client agreed to save on reports the method: a charge shows the
    # same saved method, and a method saved on ЮKassa's page without that is not ours to use
    if autopay == "save" and method_data.get("saved") is True and method_data.get("id"):
        saved = SavedMethod(NAME, str(method_data["id"]), title=_title(method_data))
    return GatewayPayment(
        gateway=NAME,
        gateway_payment_id=str(data["id"]),
        order_id=uuid.UUID(str(metadata[ORDER_KEY])),
        state=state,
        amount=amount,
        refunded=refunded,
        method=_METHODS_BACK.get(str(method_type)),
        confirmation=confirmation,
        paid_at=_captured_at(data) if state.is_paid else None,
        saved_method=saved,
        decline=decline,
        decline_code=decline_code,
    )


def _title(method: dict[str, Any]) -> str:
    """What the client knows the saved method by: ЮKassa's ``title`` (``"Bank card *4477"``)
    when it shows at most four digits, else ``"*"`` and ``card.last4``; never ``first6``."""
    title = str(method.get("title") or "").strip()
    if title and sum(ch.isdigit() for ch in title) <= 4:
        return title
    last4 = str((method.get("card") or {}).get("last4") or "")
    if len(last4) == 4 and last4.isdigit():
        return f"*{last4}"
    return ""


def _captured_at(data: dict[str, Any]) -> dt.datetime | None:
    """``captured_at``: when ЮKassa captured the payment (UTC, ISO 8601), if it says."""
    value = data.get("captured_at")
    if not value:
        return None
    # Python 3.11 reads the "Z" and the milliseconds ЮKassa writes.
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # the API documents UTC; a bare time is taken as that
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _money(value: Decimal) -> dict[str, str]:
    return {"value": str(to_amount(value)), "currency": CURRENCY}


def _value(money: Any) -> Decimal:
    if money.get("currency") != CURRENCY:
        raise ValueError(f"currency {money.get('currency')!r}, not {CURRENCY}")
    return to_amount(str(money["value"]))


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def receipt_json(
    receipt: Receipt, customer: Mapping[str, str] | None = None, tax_system_code: int | None = None
) -> dict[str, Any]:
    """The ``receipt`` object of a payment or a refund, from a 54-ФЗ :class:`Receipt`.

    ``receipt.customer`` is the receipt's own contact (the client's) when it has one, else
    ``customer`` (the shop's fixed one)."""
    out: dict[str, Any] = {"items": [_item(p) for p in receipt.positions]}
    if receipt.has_contact:
        out["customer"] = _customer(receipt)
    elif customer:
        out["customer"] = dict(customer)
    if tax_system_code is not None:
        out["tax_system_code"] = tax_system_code
    return out


def _customer(receipt: Receipt) -> dict[str, str]:
    out: dict[str, str] = {}
    if receipt.customer_email:
        out["email"] = receipt.customer_email
    if receipt.customer_phone:
        # ЮKassa: "в формате ITU-T E.164, например 79000000000": the digits, no plus
        out["phone"] = receipt.customer_phone.lstrip("+")
    return out


def _item(position: ReceiptPosition) -> dict[str, Any]:
    item: dict[str, Any] = {
        "description": position.name[:MAX_DESCRIPTION],
        "quantity": str(position.quantity),
        # ЮKassa's item amount is the price of one unit
        "amount": _money(position.amount),
        "vat_code": VAT_CODES[position.vat],
        "payment_subject": position.subject,
        "payment_mode": position.mode,
    }
    if position.agent is not None and position.supplier is not None:
        supplier: dict[str, str] = {"name": position.supplier.name, "inn": position.supplier.inn}
        if position.supplier.phones:
            # ЮKassa takes one phone, ITU-T E.164 digits without the plus (unverified)
            supplier["phone"] = position.supplier.phones[0].lstrip("+")
        item["agent_type"] = position.agent.value
        item["supplier"] = supplier
    return item


def refund_receipt(payment: Payment, receipt: Receipt, request: RefundRequest) -> Receipt:
    """The receipt of a refund: the refunded part of each line's positions.

    ``receipt`` is the payment's (one position per line, in order, then the fees, as
    :meth:`Receipt.for_payment` builds it). A line's refund goes to its service position
    first, any rest to the fee position. Use it in ``refund_receipt_for`` with the
    service's book, e.g. ``lambda r: refund_receipt(payment_of(r), receipt_of(r), r)``.
    """
    positions = list(receipt.positions)
    if len(positions) < len(payment.lines):
        raise ValueError("the receipt has fewer positions than the payment has lines")
    fee_position = positions[len(payment.lines)] if len(positions) > len(payment.lines) else None
    out: list[ReceiptPosition] = []
    fee_back = ZERO
    for part in request.lines:
        line = payment.lines[part.index]
        service_back = min(part.amount, line.amount)
        base = positions[part.index]
        out.append(
            ReceiptPosition(
                name=base.name,
                amount=service_back,
                vat=base.vat,
                agent=base.agent,
                supplier=base.supplier,
                subject=base.subject,
                mode=base.mode,
            )
        )
        fee_back += part.amount - service_back
    if fee_back > 0:
        if fee_position is None:
            raise ValueError("a refund beyond the lines' amounts needs the receipt's fee position")
        out.append(
            ReceiptPosition(
                name=fee_position.name,
                amount=fee_back,
                vat=fee_position.vat,
                subject=fee_position.subject,
                mode=fee_position.mode,
            )
        )
    # the refund's receipt goes where the payment's went
    return Receipt(
        out, customer_email=receipt.customer_email, customer_phone=receipt.customer_phone
    )
