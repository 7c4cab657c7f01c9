"""The sandbox gateway adapter: the client side of the simulator's API, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from typing import Any

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import GatewayRefused, UnknownPayment, WebhookRejected
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
from pes_sdk.gateways.processor import new_idempotency_key
from pes_sdk.gateways.signing import verify
from pes_sdk.models.payments import Payment, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptPosition
from pes_sdk_sandbox.simulator import SIGNATURE_HEADER, TIMESTAMP_HEADER, AcquirerSimulator

__all__ = ["SandboxGateway"]

NAME = "sandbox"


class SandboxGateway(PaymentGateway):
    """Talks to an :class:`~pes_sdk_sandbox.simulator.AcquirerSimulator` over HTTP.

    :param base_url: the simulator's URL (``sim.base_url``).
    :param api_key: sent as ``Authorization: Bearer …``.
    :param webhook_secret: the HMAC key webhooks are checked with.
    :param timeout: seconds for every call (connect and each read).
    :param owned: a simulator this gateway started and stops on :meth:`close`.
    """

    name = NAME
    capabilities = GatewayCapabilities(
        methods=frozenset(PaymentMethod),
        partial_refunds=True,
        signed_webhooks=True,
        webhook_timestamps=True,
        lookup_by_order=True,
        recurring=True,
        unbind=True,
    )

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        webhook_secret: bytes,
        timeout: float = 5.0,
        owned: AcquirerSimulator | None = None,
    ) -> None:
        self._http = HttpTransport(
            base_url,
            timeout=timeout,
            gateway=NAME,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )
        self._secret = webhook_secret
        self._owned = owned

    @classmethod
    def for_simulator(cls, sim: AcquirerSimulator, *, timeout: float = 5.0) -> SandboxGateway:
        """A gateway for a running simulator, with its key and secret."""
        return cls(
            sim.base_url, api_key=sim.api_key, webhook_secret=sim.webhook_secret, timeout=timeout
        )

    @property
    def timeout(self) -> float:
        return self._http.timeout

    @property
    def simulator(self) -> AcquirerSimulator | None:
        """The embedded simulator, when this gateway started one."""
        return self._owned

    # -- calls ---------------------------------------------------------------------------

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        body: dict[str, Any] = {
            "order_id": str(payment.payment_id),
            "amount": str(payment.total),
            "currency": "RUB",
            "method": payment.method.value,
            "return_url": options.return_url,
            "description": options.description,
            # 54-ФЗ positions: one per paid service (agent sign "payment agent", supplier's
            # ИНН), the client's fee as the service's own position; the client's contact
            # (tag 1008) only when the receipt names one.
            "receipt": _receipt(payment, options.receipt),
        }
        if options.save_method:
            # the client agreed to autopay on this payment: the acquirer keeps the card
            body["save_payment_method"] = True
            body["customer_key"] = options.customer_key
        answer = self._post("/v1/payments", body, options.idempotency_key)
        return self._snapshot(answer)

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        if method.gateway != NAME:
            raise GatewayRefused(f"a {method.gateway} method is not the sandbox's", gateway=NAME)
        body: dict[str, Any] = {
            # one charge per order id at the acquirer, whatever the key: the order id
            # derives from the consent and the period as the key does
            "order_id": str(payment.payment_id),
            "amount": str(payment.total),
            "currency": "RUB",
            "payment_method_id": method.method_id,
            "customer_key": method.customer_key,
            "description": options.description,
            "receipt": _receipt(payment, options.receipt),
        }
        answer = self._post("/v1/charges", body, options.idempotency_key)
        return self._snapshot(answer)

    def forget_method(self, method: SavedMethod) -> bool:
        path = f"/v1/payment_methods/{urllib.parse.quote(method.method_id, safe='')}/forget"
        response = self._http.request(
            "POST",
            path,
            json_body={"customer_key": method.customer_key},
            # forgetting is idempotent by itself (a repeat finds nothing): a fresh key each
            headers={"Idempotence-Key": new_idempotency_key()},
            ok_statuses=(422,),
        )
        if response.status == 422 and response.json().get("code") != METHOD_NOT_FOUND:
            raise GatewayRefused(f"forget: {response.json().get('error')}", gateway=NAME)
        # 422 payment_method_not_found: not held (any more) for this customer, nothing left
        return True

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        path = f"/v1/payments/{urllib.parse.quote(gateway_payment_id, safe='')}"
        try:
            answer = self._http.request("GET", path).json()
        except GatewayRefused as exc:
            if exc.status == 404:
                raise UnknownPayment(f"no payment {gateway_payment_id}", gateway=NAME) from None
            raise
        return self._snapshot(answer)

    def find_payment(self, order_id: uuid.UUID, idempotency_key: str) -> GatewayPayment | None:
        query = urllib.parse.urlencode({"order_id": str(order_id)})
        items = self._http.request("GET", f"/v1/payments?{query}").json()["items"]
        return self._snapshot(items[0]) if items else None

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        path = f"/v1/payments/{urllib.parse.quote(gateway_payment_id, safe='')}/cancel"
        return self._snapshot(self._post(path, {}, idempotency_key))

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        path = f"/v1/payments/{urllib.parse.quote(request.gateway_payment_id, safe='')}/refunds"
        body = {
            "amount": str(request.amount),
            "lines": [{"index": ln.index, "amount": str(ln.amount)} for ln in request.lines],
        }
        answer = self._post(path, body, idempotency_key)
        return RefundResult(
            str(answer["refund_id"]), answer["amount"], self._snapshot(answer["payment"])
        )

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        timestamp = verify(
            self._secret,
            request.header(TIMESTAMP_HEADER),
            request.header(SIGNATURE_HEADER),
            request.body,
        )
        try:
            data = json.loads(request.body.decode("utf-8"))
            event = GatewayEvent(
                event_id=str(data["event_id"]),
                payment=self._snapshot(data["payment"]),
                signed_at=dt.datetime.fromtimestamp(timestamp, dt.UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("malformed", f"{type(exc).__name__}", gateway=NAME) from None
        return [event]

    def close(self) -> None:
        self._http.close()
        if self._owned is not None:
            self._owned.stop()
            self._owned = None

    # -- helpers -------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], key: str) -> Any:
        return self._http.request(
            "POST", path, json_body=body, headers={"Idempotence-Key": key}
        ).json()

    def _snapshot(self, data: dict[str, Any]) -> GatewayPayment:
        state = PaymentState(str(data["status"]))
        saved = None
        pm = data.get("payment_method")
        # the method is reported only for a payment the client agreed to save it on (a
        # charge names the method it took money from, which is no news)
        if data.get("save_payment_method") is True and isinstance(pm, dict) and pm.get("saved"):
            saved = SavedMethod(
                NAME, str(pm["id"]), str(pm.get("customer_key") or ""), str(pm.get("title", ""))
            )
        decline, decline_code = None, ""
        if state in (PaymentState.FAILED, PaymentState.CANCELLED) and data.get("decline"):
            decline_code = str(data["decline"]["code"])
            decline = DECLINES.get(decline_code, Decline.OTHER)
        conf = data.get("confirmation") or {}
        confirmation = None
        if conf.get("type") == "qr":
            confirmation = Confirmation(ConfirmationKind.QR, qr_payload=str(conf["payload"]))
        elif conf.get("type") == "redirect":
            confirmation = Confirmation(ConfirmationKind.REDIRECT, url=str(conf["url"]))
        return GatewayPayment(
            gateway=NAME,
            gateway_payment_id=str(data["id"]),
            order_id=uuid.UUID(str(data["order_id"])),
            state=state,
            amount=str(data["amount"]),
            refunded=str(data.get("refunded", "0.00")),
            method=PaymentMethod(str(data["method"])) if data.get("method") else None,
            confirmation=confirmation,
            paid_at=_utc(data.get("paid_at")),
            saved_method=saved,
            decline=decline,
            decline_code=decline_code,
        )


#: the sandbox's decline codes in the terms autopay acts on (an unknown code: OTHER)
DECLINES = {
    "insufficient_funds": Decline.FUNDS,
    "card_expired": Decline.METHOD_GONE,
    "permission_revoked": Decline.METHOD_GONE,
    "issuer_declined": Decline.OTHER,
}
#: the code of a 422 for a method the acquirer does not hold for the customer
METHOD_NOT_FOUND = "payment_method_not_found"


def _utc(value: Any) -> dt.datetime | None:
    """The capture time of a snapshot (ISO 8601 with its offset), or None."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"paid_at {value!r} carries no offset")
    return moment.astimezone(dt.UTC)


def _receipt(payment: Payment, receipt: Receipt | None) -> dict[str, Any]:
    out: dict[str, Any] = {"items": _receipt_items(payment, receipt)}
    if receipt is not None and receipt.has_contact:
        customer = {}
        if receipt.customer_email:
            customer["email"] = receipt.customer_email
        if receipt.customer_phone:
            customer["phone"] = receipt.customer_phone
        out["customer"] = customer
    return out


def _receipt_items(payment: Payment, receipt: Receipt | None) -> list[dict[str, str]]:
    if receipt is not None:
        return [_position(p) for p in receipt.positions]
    items = []
    for line in payment.lines:
        items.append(
            {
                "name": line.service or "ЖКУ",
                "amount": str(line.amount),
                "agent_type": "payment_agent",
                "supplier_inn": line.partner_inn,
            }
        )
        if line.client_fee:
            items.append({"name": "Вознаграждение агента", "amount": str(line.client_fee)})
    return items


def _position(position: ReceiptPosition) -> dict[str, str]:
    item = {
        "name": position.name,
        "amount": str(position.amount * position.quantity),
        "vat": position.vat.value,
    }
    if position.agent is not None and position.supplier is not None:
        item["agent_type"] = position.agent.value
        item["supplier_inn"] = position.supplier.inn
        item["supplier_name"] = position.supplier.name
        item["supplier_phones"] = ",".join(position.supplier.phones)
    return item
