"""The T-Bank gateway adapter: internet acquiring API v2 over HTTPS, signed with ``Token``.

How the contract maps onto the protocol (see docs/gateway-tbank.md):

* **create**: ``CheckOrder`` by our ``OrderId`` first (T-Bank has no idempotency header: the
  merchant's ``OrderId``, our :attr:`~pes_sdk.models.Payment.payment_id`, is the key), then
  ``Init`` only when the terminal holds no live payment for it; an ``Init`` refused as a
  duplicate ``OrderId`` is answered from ``CheckOrder`` too. СБП adds ``GetQr`` (PAYLOAD):
  the payload is the acquirer's, passed on untouched.
* **after a timeout**: :meth:`find_payment` asks ``CheckOrder`` and ``GetState``, never a
  second ``Init``.
* **cancel / refund**: ``Cancel`` (whole, or ``Amount`` for a part, with the ``Receipt`` of
  the refunded lines); ``ExternalRequestId`` carries the refund's idempotency key.
* **refunded sums**: ``Cancel`` answers carry ``OriginalAmount`` / ``NewAmount``; ``GetState``
  answers and notifications document neither, so a ``PARTIAL_REFUNDED`` without them reads
  the refunds this gateway made itself (see docs/gateway-tbank.md).
* **notifications**: the root scalars' ``Token`` is checked in constant time; the service
  answers HTTP 200 with the body :data:`NOTIFICATION_ANSWER` (``OK``). Card fields of a
  notification (``Pan``, ``ExpDate``, ``CardId``) are signed, never kept.
* **saved methods** (автоплатёж): a payment created with ``save_method`` is a parent
  payment (``Recurrent=Y``, ``CustomerKey``, ``DATA.OperationInitiatorType=1``); its
  notifications from ``AUTHORIZED`` on carry ``RebillId``: the
  :class:`~pes_sdk.gateways.models.SavedMethod` (``method_id`` = RebillId, ``customer_key``
  = CustomerKey, ``title`` = the masked ``Pan``'s last four digits). :meth:`charge_saved`
  is ``Init`` of the charge's order (``DATA.OperationInitiatorType=R``, merchant-initiated)
  and ``Charge`` of its ``PaymentId`` with the RebillId; ``CheckOrder`` first, so a repeat,
  or a retry after a crash between the two calls, charges the same ``PaymentId``, which
  T-Bank charges once; ``GetCardList`` before, so that only an active card of the
  method's ``CustomerKey`` is charged. Declines map to :class:`~pes_sdk.gateways.models.Decline` by
  :data:`DECLINE_CODES`. :meth:`forget_method` is ``GetCardList`` (the card with that
  RebillId) and ``RemoveCard``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    InvalidRefund,
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
from pes_sdk.money import amount as to_amount
from pes_sdk_tbank.token import make_token, verify_token

__all__ = [
    "DECLINE_CODES",
    "INVALID_REFUND_CODES",
    "NOTIFICATION_ANSWER",
    "REFUSED_REFUND_CODES",
    "STATUS_MAP",
    "VAT_CODES",
    "TBankGateway",
    "TBankRefused",
    "TBankUnclear",
    "from_kopecks",
    "to_kopecks",
]

NAME = "tbank"
DEFAULT_URL = "https://securepay.tinkoff.ru"
#: what the merchant answers a notification it accepted (HTTP 200, this body)
NOTIFICATION_ANSWER = b"OK"

S = PaymentState
#: T-Bank statuses → the SDK's states. Intermediate ones are pending; ``AUTHORIZED`` is a
#: hold (two-stage payments) and stays pending until ``CONFIRMED``; ``REFUNDING`` happens to
#: a paid payment, so it reads as paid with nothing refunded yet.
STATUS_MAP: dict[str, PaymentState] = {
    "NEW": S.PENDING,
    "FORM_SHOWED": S.PENDING,
    "AUTHORIZING": S.PENDING,
    "3DS_CHECKING": S.PENDING,
    "3DS_CHECKED": S.PENDING,
    "AUTHORIZED": S.PENDING,
    "CONFIRMING": S.PENDING,
    "REVERSING": S.PENDING,
    "PARTIAL_REVERSED": S.PENDING,
    "CONFIRMED": S.SUCCEEDED,
    "REFUNDING": S.SUCCEEDED,
    "PARTIAL_REFUNDED": S.PARTIALLY_REFUNDED,
    "REFUNDED": S.REFUNDED,
    "REJECTED": S.FAILED,
    "AUTH_FAIL": S.FAILED,
    "CANCELED": S.CANCELLED,
    "REVERSED": S.CANCELLED,
    "DEADLINE_EXPIRED": S.CANCELLED,
}

#: ReceiptVat → ``Receipt.Items[].Tax``. ``vat22`` / ``vat122`` (from 2026) are not verified
#: against the public documentation: override with ``vat_codes`` if the terminal differs.
VAT_CODES: dict[ReceiptVat, str] = {
    ReceiptVat.NONE: "none",
    ReceiptVat.VAT0: "vat0",
    ReceiptVat.VAT5: "vat5",
    ReceiptVat.VAT7: "vat7",
    ReceiptVat.VAT10: "vat10",
    ReceiptVat.VAT20: "vat20",
    ReceiptVat.VAT22: "vat22",
    ReceiptVat.VAT5_105: "vat105",
    ReceiptVat.VAT7_107: "vat107",
    ReceiptVat.VAT10_110: "vat110",
    ReceiptVat.VAT20_120: "vat120",
    ReceiptVat.VAT22_122: "vat122",
}

#: ``ErrorCode``\ s of an ``Init`` refused for an ``OrderId`` already used: 20 is the error
#: table's «Ошибка повторного идентификатора заказа»; 8 («Неверный статус транзакции») was
#: this adapter's earlier guess and stays, because reading a refusal as a duplicate only
#: asks ``CheckOrder`` for a live payment of the order and raises the refusal if there is none.
DUPLICATE_ORDER_CODES: tuple[str, ...] = ("20", "8")

#: ``ErrorCode``\ s of a refund (``Cancel`` with ``Amount``) the acquirer refused: nothing was
#: given back and the same refund may be asked again later. From the error table of the
#: acquiring API (developer.tbank.ru/eacq/intro/errors/error-codes, read through a public
#: copy of it): 4 the payment's status cannot be changed, 8 wrong transaction status, 79 no
#: refund to a foreign card, 202 terminal blocked, 204/205 wrong token or terminal, 3002 the
#: shop's balance does not cover the cancel, 3029/3030 НСПК's hourly/daily limit of СБП
#: refund attempts.
REFUSED_REFUND_CODES: tuple[str, ...] = (
    "4",
    "8",
    "79",
    "202",
    "204",
    "205",
    "3002",
    "3029",
    "3030",
)
#: ``ErrorCode``\ s of a refund request that was wrong on our side (a receipt that does not
#: add up, or is empty): nothing was given back; asking the same again cannot succeed. 308,
#: 309 and 334 are in the error table; see ``amount_exceeded_codes`` for a refund of more
#: than is left.
INVALID_REFUND_CODES: tuple[str, ...] = ("308", "309", "334")

#: ``ErrorCode`` of a declined payment (a ``Charge`` answered ``Success: false`` with
#: ``Status: REJECTED``, or a ``REJECTED`` notification) → why, in the terms autopay acts on.
#: From the error table (developer.tbank.ru/eacq/intro/errors/error-codes, read through a
#: public copy). Any other code of a decline is :attr:`Decline.OTHER` (e.g. 1004/1059/1063
#: the issuer finds it suspicious, 1005 declined by the issuer, 99 try later).
DECLINE_CODES: dict[str, Decline] = {
    # not enough money, or a limit of the card: a later attempt may go through
    "103": Decline.FUNDS,  # «Недостаточно средств на счете»
    "116": Decline.FUNDS,  # «Недостаточно средств на карте»
    "1051": Decline.FUNDS,  # «Недостаточно средств на карте»
    "1013": Decline.FUNDS,  # the amount is over the card's limit
    "1061": Decline.FUNDS,  # the client's limit of payments by the card
    "1065": Decline.FUNDS,
    "1075": Decline.FUNDS,  # the card's payments for the day are used up
    # the saved card cannot be charged again: the client must link a card anew
    "104": Decline.METHOD_GONE,  # «Ошибка выполнения рекуррента» (a RebillId not active)
    "107": Decline.METHOD_GONE,  # «Неверно введен CardId» (no such bound card)
    "252": Decline.METHOD_GONE,  # «Срок действия карты истек»
    "1014": Decline.METHOD_GONE,  # «Карта недействительна»
    "1015": Decline.METHOD_GONE,  # «Неверный номер карты»
    "1033": Decline.METHOD_GONE,  # «Истек срок действия карты»
    "1041": Decline.METHOD_GONE,  # «Карта утеряна»
    "1054": Decline.METHOD_GONE,  # «Истек срок действия карты»
    "1057": Decline.METHOD_GONE,  # the client barred such operations for the card
    "1058": Decline.METHOD_GONE,
}

#: ``DATA.OperationInitiatorType`` (the API's table «Передача признака инициатора
#: операции»): the parent payment saves the card at the client's own payment (CIT
#: Credential-Captured, with ``Recurrent=Y``); an autopay charge is merchant-initiated with
#: the saved card and no fixed schedule (MIT COF Recurring: the table names utility bills)
INITIATOR_PARENT = "1"
INITIATOR_RECURRING = "R"

#: AgentType → ``AgentData.AgentSign``
AGENT_SIGNS: dict[AgentType, str] = {AgentType.PAYMENT_AGENT: "paying_agent"}


def _is_card_of(card: Mapping[str, Any], method: SavedMethod) -> bool:
    """An active card of GetCardList holding the method's RebillId."""
    return str(card.get("RebillId", "")) == method.method_id and card.get("Status") != "D"


class TBankRefused(GatewayRefused):
    """T-Bank answered ``Success: false``; ``error_code`` is its ``ErrorCode``."""

    def __init__(self, message: str, *, error_code: str) -> None:
        self.error_code = error_code
        super().__init__(message, gateway=NAME, status=200)


class TBankUnclear(GatewayError):
    """A refund answered with an ``ErrorCode`` that does not say whether money went back.

    Not a :class:`GatewayRefused`: the processor keeps the refund pending under its key, and
    asking again with the same key (``ExternalRequestId``) finishes or settles it.
    """

    def __init__(self, message: str, *, error_code: str) -> None:
        self.error_code = error_code
        super().__init__(message, gateway=NAME)


def to_kopecks(value: Decimal) -> int:
    """Rubles (two places) → integer kopecks, exactly."""
    kopecks = to_amount(value) * 100
    if kopecks != kopecks.to_integral_value():
        raise ValueError(f"{value} is not a whole number of kopecks")
    return int(kopecks)


def from_kopecks(value: Any) -> Decimal:
    """Integer kopecks (a number or its digits) → rubles with two places."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"kopecks must be an integer, not {value!r}")
    return to_amount(Decimal(int(value)) / 100)


class TBankGateway(PaymentGateway):
    """One T-Bank terminal.

    :param terminal_key: ``TerminalKey`` from the merchant's cabinet.
    :param password: the terminal password (signs requests; never sent, never logged).
    :param base_url: the API's root (``https://securepay.tinkoff.ru``; the test terminal's
        URL, or a simulator's on loopback).
    :param notification_url: where T-Bank POSTs notifications (``NotificationURL``).
    :param timeout: seconds for every call.
    :param taxation: ``Receipt.Taxation`` (``osn``, ``usn_income``, …).
    :param receipt_email: ``Receipt.Email`` of a receipt that names no contact of the
        client's (:attr:`Receipt.customer_email` / ``customer_phone`` go first): the
        service's own mailbox. T-Bank refuses a ``Receipt`` with neither ``Email`` nor
        ``Phone``, so without a contact from either no ``Receipt`` is sent.
    :param fee_vat: the VAT rate of the client-fee position when the receipt is derived.
    :param not_found_codes: ``ErrorCode`` values that mean "no such payment / order".
    :param duplicate_order_codes: ``ErrorCode`` values of an ``Init`` refused for a used
        ``OrderId``.
    :param amount_exceeded_codes: ``ErrorCode`` values of a refund larger than what is left
        (→ :class:`InvalidRefund`). The default, 330, is not confirmed by the error table.
    :param invalid_refund_codes: other ``ErrorCode`` values of a refund request wrong on our
        side (→ :class:`InvalidRefund`).
    :param refused_refund_codes: ``ErrorCode`` values of a refund the acquirer refused
        (→ :class:`TBankRefused`). A refund answered with any other code raises
        :class:`TBankUnclear` and stays pending.
    :param decline_codes: ``ErrorCode`` → :class:`Decline` of a declined payment, on top of
        :data:`DECLINE_CODES`; an unlisted code is :attr:`Decline.OTHER`.
    :param unknown_customer_codes: ``ErrorCode`` values of ``GetCardList`` / ``RemoveCard``
        meaning the ``CustomerKey`` holds nothing (503 «CustomerKey не найден»).
    """

    name = NAME
    capabilities = GatewayCapabilities(
        # SberPay is offered on T-Bank's payment form where the terminal has it switched on
        methods=frozenset(PaymentMethod),
        partial_refunds=True,
        signed_webhooks=True,
        # a notification carries no signed time: no replay window applies (see the docs)
        webhook_timestamps=False,
        lookup_by_order=True,
        # Recurrent=Y / RebillId / Charge; RemoveCard unbinds a card of a CustomerKey
        recurring=True,
        unbind=True,
    )

    def __init__(
        self,
        *,
        terminal_key: str,
        password: str,
        base_url: str = DEFAULT_URL,
        notification_url: str | None = None,
        timeout: float = 10.0,
        taxation: str = "usn_income",
        receipt_email: str | None = None,
        receipt_phone: str | None = None,
        fee_vat: ReceiptVat = ReceiptVat.NONE,
        vat_codes: Mapping[ReceiptVat, str] | None = None,
        not_found_codes: tuple[str, ...] = ("7",),
        duplicate_order_codes: tuple[str, ...] = DUPLICATE_ORDER_CODES,
        amount_exceeded_codes: tuple[str, ...] = ("330",),
        invalid_refund_codes: tuple[str, ...] = INVALID_REFUND_CODES,
        refused_refund_codes: tuple[str, ...] = REFUSED_REFUND_CODES,
        decline_codes: Mapping[str, Decline] | None = None,
        unknown_customer_codes: tuple[str, ...] = ("503",),
    ) -> None:
        if not terminal_key or not password:
            raise ValueError("a T-Bank gateway needs a TerminalKey and its password")
        self._http = HttpTransport(
            base_url, timeout=timeout, gateway=NAME, headers={"Accept": "application/json"}
        )
        self._terminal_key = terminal_key
        self._password = password
        self.notification_url = notification_url
        self.taxation = taxation
        self.receipt_email = receipt_email
        self.receipt_phone = receipt_phone
        self.fee_vat = fee_vat
        self.vat_codes = {**VAT_CODES, **(vat_codes or {})}
        self._not_found = not_found_codes
        self._duplicate = duplicate_order_codes
        self._exceeded = amount_exceeded_codes
        self._invalid_refund = invalid_refund_codes
        self._refused_refund = refused_refund_codes
        self._declines = {**DECLINE_CODES, **(decline_codes or {})}
        self._unknown_customer = unknown_customer_codes
        # orders whose charge this gateway began (Init asked) and did not see answered: a
        # NEW payment of theirs is a Charge still to make, not a payment to report
        self._charging: set[uuid.UUID] = set()
        # PaymentId → {ExternalRequestId: kopecks}: the refunds this gateway made, for answers
        # that say PARTIAL_REFUNDED without the sums (GetState, notifications)
        self._refunds: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the password stays out of reprs and tracebacks
        return f"TBankGateway(terminal_key={self._terminal_key!r}, url={self._http.base_url!r})"

    @property
    def timeout(self) -> float:
        return self._http.timeout

    # -- calls ---------------------------------------------------------------------------

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        existing = self._live_for_order(payment.payment_id)
        if existing is None:
            body: dict[str, Any] = {
                "Amount": to_kopecks(payment.total),
                "OrderId": str(payment.payment_id),
                "Description": (options.description or "Оплата услуг ЖКХ")[:140],
                "SuccessURL": options.return_url,
                "FailURL": options.return_url,
                "PayType": "O",  # one-stage: CONFIRMED without a separate Confirm
            }
            if self.notification_url:
                body["NotificationURL"] = self.notification_url
            if options.save_method:
                # the parent payment of autopay: the card is saved for this customer and the
                # notifications tell its RebillId
                body["Recurrent"] = "Y"
                body["CustomerKey"] = options.customer_key
                body["DATA"] = {"OperationInitiatorType": INITIATOR_PARENT}
            receipt = self._receipt(payment, options.receipt)
            if receipt is not None:
                body["Receipt"] = receipt
            try:
                answer = self._call("Init", body)
            except TBankRefused as exc:
                if exc.error_code not in self._duplicate:
                    raise
                existing = self._live_for_order(payment.payment_id)
                if existing is None:
                    raise
            else:
                state = self._snapshot(answer, order_fallback=payment.payment_id)
                url = answer.get("PaymentURL")
                return self._with_confirmation(state, payment.method, url)
        return self._with_confirmation(existing, payment.method, None)

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        answer = self._call("GetState", {"PaymentId": gateway_payment_id}, lookup=True)
        snapshot = self._snapshot(answer)
        if snapshot.state is S.FAILED and snapshot.decline is None:
            # GetState's ErrorCode is the request's; the decline's own is in CheckOrder
            for entry in self._order_payments(snapshot.order_id):
                if str(entry.get("PaymentId")) == snapshot.gateway_payment_id:
                    return self._declined(snapshot, entry.get("ErrorCode"))
        return snapshot

    def find_payment(self, order_id: uuid.UUID, idempotency_key: str) -> GatewayPayment | None:
        if order_id in self._charging:
            entries = self._order_payments(order_id)
            if all(str(e.get("Status")) == "NEW" for e in entries):
                # a charge whose Init or Charge went unanswered: nothing is charged yet, and
                # charge_saved (asked again) charges that same PaymentId, once
                return None
        return self._live_for_order(order_id, any_status=True)

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        """``Init`` of the order, then ``Charge`` of its ``PaymentId`` with the RebillId.

        ``CheckOrder`` first: a payment of the order past ``NEW`` is the charge made before
        (answered as it stands: paid, declined or pending), a ``NEW`` one is an ``Init``
        whose ``Charge`` was not made or not answered, charged now. T-Bank charges one
        ``PaymentId`` once (a second ``Charge`` is refused for its status), so neither a
        repeat nor a retry after a lost answer, a timeout or a crash between the two calls
        takes the money twice.
        """
        if method.gateway != NAME:
            raise GatewayRefused(f"a {method.gateway} method is not T-Bank's", gateway=NAME)
        if not method.customer_key:
            raise GatewayRefused("a T-Bank saved method names its CustomerKey", gateway=NAME)
        order = payment.payment_id
        with self._lock:
            self._charging.add(order)
        try:
            payment_id = self._charge_target(payment, method, options)
        except GatewayRefused:
            self._charged(order)
            raise
        if isinstance(payment_id, GatewayPayment):
            self._charged(order)
            return payment_id
        # a timeout or a lost answer raises here and leaves the order "charging": the
        # processor's find_payment then answers None, and asks charge_saved again
        answer = self._post("Charge", {"PaymentId": payment_id, "RebillId": method.method_id})
        if not isinstance(answer, dict):
            raise GatewayError("Charge: the answer is not a JSON object", gateway=NAME)
        if answer.get("Success") is True and str(answer.get("ErrorCode", "0")) == "0":
            self._charged(order)
            return self._snapshot(answer, order_fallback=order)
        if answer.get("Status") is not None and answer.get("PaymentId") is not None:
            # declined by the issuer (or for the card): the payment is REJECTED, with the code
            self._charged(order)
            return self._snapshot(answer, order_fallback=order)
        # the request itself refused (the payment's status, a blocked Charge, …): what is
        # the payment now? charged by an earlier, unanswered Charge, or not at all
        for entry in self._order_payments(order):
            if str(entry.get("PaymentId")) == payment_id and str(entry.get("Status")) != "NEW":
                self._charged(order)
                return self.get_payment(payment_id)
        self._charged(order)
        raise self._refusal("Charge", answer)

    def forget_method(self, method: SavedMethod) -> bool:
        """``RemoveCard`` of the customer's card that has this RebillId (``GetCardList``
        finds its ``CardId``); True when none is left active, a repeat included."""
        if method.gateway != NAME or not method.customer_key:
            return True  # T-Bank holds no such method
        for _ in range(2):
            active = [c for c in self._cards(method.customer_key) if _is_card_of(c, method)]
            if not active:
                return True
            for card in active:
                try:
                    self._call(
                        "RemoveCard",
                        {"CustomerKey": method.customer_key, "CardId": str(card["CardId"])},
                    )
                except TBankRefused:
                    continue  # removed meanwhile? the list read again decides
        if any(_is_card_of(c, method) for c in self._cards(method.customer_key)):
            raise GatewayError("RemoveCard left the card active", gateway=NAME)
        return True

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        try:
            answer = self._call("Cancel", {"PaymentId": gateway_payment_id}, lookup=True)
        except TBankRefused:
            # A repeat (after a lost answer, or a second cancel) finds the payment CANCELED
            # already, which T-Bank refuses as a wrong status: that is the outcome asked for.
            snapshot = self.get_payment(gateway_payment_id)
            if snapshot.state is S.CANCELLED:
                return snapshot
            raise
        return self._cancelled(answer, gateway_payment_id)

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        body: dict[str, Any] = {
            "PaymentId": request.gateway_payment_id,
            "Amount": to_kopecks(request.amount),
            # T-Bank's Cancel has no idempotency header: the refund's key travels here
            "ExternalRequestId": idempotency_key,
        }
        receipt = self._refund_receipt(request)
        if receipt is not None:
            body["Receipt"] = receipt
        try:
            answer = self._call("Cancel", body, lookup=True)
        except TBankRefused as exc:
            # Only a documented refusal may free the refund's key: the processor then forgets
            # the request. A code not known to be a refusal may hide a refund that went
            # through, so it stays pending and is asked again under the same key.
            if exc.error_code in self._exceeded or exc.error_code in self._invalid_refund:
                raise InvalidRefund(exc.message, gateway=NAME) from None
            if exc.error_code in self._refused_refund:
                raise
            raise TBankUnclear(exc.message, error_code=exc.error_code) from None
        with self._lock:  # keyed by the refund's key: a repeated answer is not counted twice
            made = self._refunds.setdefault(request.gateway_payment_id, {})
            made[idempotency_key] = to_kopecks(request.amount)
        snapshot = self._cancelled(answer, request.gateway_payment_id)
        return RefundResult(idempotency_key, request.amount, snapshot)

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected("malformed", "body is not JSON", gateway=NAME) from None
        if not isinstance(data, dict) or "Token" not in data:
            raise WebhookRejected("signature", "no Token in the notification", gateway=NAME)
        try:
            genuine = verify_token(data, self._password)
        except TypeError:
            genuine = False
        if not genuine:
            raise WebhookRejected("signature", "Token does not match", gateway=NAME)
        if data.get("TerminalKey") != self._terminal_key:
            raise WebhookRejected("signature", "notification for another terminal", gateway=NAME)
        try:
            snapshot = self._snapshot(data)
            refunded = to_kopecks(snapshot.refunded)
            event_id = f"{snapshot.gateway_payment_id}:{data['Status']}:{refunded}"
        except (KeyError, ValueError, TypeError, GatewayError) as exc:
            raise WebhookRejected("malformed", type(exc).__name__, gateway=NAME) from None
        return [GatewayEvent(event_id=event_id, payment=snapshot, signed_at=None)]

    def close(self) -> None:
        self._http.close()

    # -- helpers -------------------------------------------------------------------------

    def _post(self, method: str, params: dict[str, Any]) -> Any:
        """One signed call; the parsed answer as it is (an object, or GetCardList's array)."""
        body = {"TerminalKey": self._terminal_key, **params}
        body["Token"] = make_token(body, self._password)
        return self._http.request("POST", f"/v2/{method}", json_body=body).json()

    def _call(self, method: str, params: dict[str, Any], *, lookup: bool = False) -> Any:
        answer = self._post(method, params)
        if not isinstance(answer, dict):
            raise GatewayError(f"{method}: the answer is not a JSON object", gateway=NAME)
        if answer.get("Success") is True and str(answer.get("ErrorCode", "0")) == "0":
            return answer
        error = self._refusal(method, answer)
        if lookup and error.error_code in self._not_found:
            raise UnknownPayment(error.message, gateway=NAME)
        raise error

    @staticmethod
    def _refusal(method: str, answer: Mapping[str, Any]) -> TBankRefused:
        code = str(answer.get("ErrorCode", ""))
        text = (
            f"{method}: ErrorCode {code}: {answer.get('Message', '')} {answer.get('Details', '')}"
        )
        return TBankRefused(text.strip(), error_code=code)

    def _order_payments(self, order_id: uuid.UUID) -> list[dict[str, Any]]:
        """``CheckOrder``'s payments of the order (none: an empty list)."""
        try:
            answer = self._call("CheckOrder", {"OrderId": str(order_id)}, lookup=True)
        except UnknownPayment:
            return []
        return [p for p in answer.get("Payments") or [] if isinstance(p, dict)]

    def _charge_target(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> str | GatewayPayment:
        """The ``PaymentId`` to ``Charge`` for the order: a ``NEW`` one of an earlier
        ``Init``, or a new ``Init``'s; or the order's payment past ``NEW`` (the charge was
        made before: never another one)."""
        for _ in range(2):
            entries = self._order_payments(payment.payment_id)
            for entry in entries:
                if str(entry.get("Status")) != "NEW":
                    return self.get_payment(str(entry["PaymentId"]))
            # Charge names the RebillId alone: that the card is this customer's, and still
            # bound, is checked here, before anything is asked of it
            self._require_card(method)
            if entries:
                target = str(entries[-1]["PaymentId"])
                told = entries[-1].get("Amount")  # optional in CheckOrder's answer
                begun = self.get_payment(target).amount if told is None else from_kopecks(told)
                if begun != payment.total:
                    raise GatewayRefused(
                        f"order {payment.payment_id} was begun at T-Bank with another amount",
                        gateway=NAME,
                    )
                return target
            try:
                answer = self._call("Init", self._charge_init(payment, method, options))
            except TBankRefused as exc:
                if exc.error_code not in self._duplicate:
                    raise
                continue  # another process's Init came first: CheckOrder finds it
            return str(answer["PaymentId"])
        raise GatewayError(
            f"order {payment.payment_id}: Init refused as a duplicate, CheckOrder finds none",
            gateway=NAME,
        )

    def _charge_init(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> dict[str, Any]:
        """The charge's ``Init``: no client, no pages (no SuccessURL / FailURL); one-stage,
        so that ``Charge`` ends ``CONFIRMED``; the receipt as for any payment."""
        body: dict[str, Any] = {
            "Amount": to_kopecks(payment.total),
            "OrderId": str(payment.payment_id),
            "Description": (options.description or "Автоплатёж за услуги ЖКХ")[:140],
            "PayType": "O",
            "CustomerKey": method.customer_key,
            "DATA": {"OperationInitiatorType": INITIATOR_RECURRING},
        }
        if self.notification_url:
            body["NotificationURL"] = self.notification_url
        receipt = self._receipt(payment, options.receipt)
        if receipt is not None:
            body["Receipt"] = receipt
        return body

    def _require_card(self, method: SavedMethod) -> None:
        """GatewayRefused unless the method's ``CustomerKey`` holds an active card with its
        RebillId (``GetCardList``): a removed card, a RebillId never issued, or one of
        another customer is charged by no ``Charge``."""
        if not any(_is_card_of(c, method) for c in self._cards(method.customer_key)):
            raise GatewayRefused(
                "T-Bank holds no active card with this RebillId for the CustomerKey",
                gateway=NAME,
            )

    def _charged(self, order: uuid.UUID) -> None:
        with self._lock:
            self._charging.discard(order)

    def _cards(self, customer_key: str) -> list[dict[str, Any]]:
        """``GetCardList`` of the customer: a bare array of cards (an object on error)."""
        answer = self._post("GetCardList", {"CustomerKey": customer_key})
        if isinstance(answer, dict) and isinstance(answer.get("Cards"), list):
            answer = answer["Cards"]  # an object wrapping the list is read too
        if isinstance(answer, list):
            return [c for c in answer if isinstance(c, dict)]
        if not isinstance(answer, dict):
            raise GatewayError("GetCardList: the answer is not a list of cards", gateway=NAME)
        if answer.get("Success") is True and str(answer.get("ErrorCode", "0")) == "0":
            return []
        error = self._refusal("GetCardList", answer)
        if error.error_code in self._unknown_customer:
            return []
        raise error

    def _declined(self, snapshot: GatewayPayment, code: Any) -> GatewayPayment:
        text = "" if code is None else str(code)
        if text in ("", "0"):
            return snapshot
        return attrs.evolve(
            snapshot, decline=self._declines.get(text, Decline.OTHER), decline_code=text
        )

    def _live_for_order(
        self, order_id: uuid.UUID, *, any_status: bool = False
    ) -> GatewayPayment | None:
        try:
            answer = self._call("CheckOrder", {"OrderId": str(order_id)}, lookup=True)
        except UnknownPayment:
            return None
        payments = [p for p in answer.get("Payments") or [] if isinstance(p, dict)]
        if not any_status:
            # a failed or cancelled attempt does not block a new one… but T-Bank would still
            # refuse its OrderId when uniqueness is on; that refusal surfaces as GatewayRefused
            payments = [
                p
                for p in payments
                if STATUS_MAP.get(str(p.get("Status"))) not in (S.FAILED, S.CANCELLED)
            ]
        if not payments:
            return None
        return self.get_payment(str(payments[-1]["PaymentId"]))

    def _saved_method(self, data: Mapping[str, Any]) -> SavedMethod | None:
        """The method a parent payment's notification tells: ``RebillId`` and the
        ``CustomerKey``, titled by the masked ``Pan``'s last four digits (nothing more)."""
        rebill, customer = data.get("RebillId"), data.get("CustomerKey")
        if rebill is None or str(rebill) in ("", "0") or not customer:
            return None
        pan = str(data.get("Pan") or "")
        tail = pan[-4:]
        title = f"*{tail}" if len(tail) == 4 and tail.isdigit() else ""
        return SavedMethod(NAME, str(rebill), str(customer), title)

    def _with_confirmation(
        self, state: GatewayPayment, method: PaymentMethod, url: Any
    ) -> GatewayPayment:
        if state.state is not S.PENDING:
            return state
        if method is PaymentMethod.SBP:
            qr = self._call("GetQr", {"PaymentId": state.gateway_payment_id, "DataType": "PAYLOAD"})
            confirmation = Confirmation(ConfirmationKind.QR, qr_payload=str(qr["Data"]))
        elif isinstance(url, str) and url:
            confirmation = Confirmation(ConfirmationKind.REDIRECT, url=url)
        else:
            # the PaymentURL of an earlier Init is not given again: the service keeps the one
            # it stored, or cancels and starts a new payment
            return state
        return GatewayPayment(
            gateway=NAME,
            gateway_payment_id=state.gateway_payment_id,
            order_id=state.order_id,
            state=state.state,
            amount=state.amount,
            refunded=state.refunded,
            method=method,
            confirmation=confirmation,
        )

    def _snapshot(
        self, data: Mapping[str, Any], *, order_fallback: uuid.UUID | None = None
    ) -> GatewayPayment:
        status = str(data.get("Status", ""))
        state = STATUS_MAP.get(status)
        if state is None:
            raise GatewayError(f"unknown T-Bank status {status!r}", gateway=NAME)
        order = data.get("OrderId")
        order_id = uuid.UUID(str(order)) if order is not None else order_fallback
        if order_id is None:
            raise GatewayError("the answer names no OrderId", gateway=NAME)
        original = data.get("OriginalAmount", data.get("Amount"))
        if original is None:
            raise GatewayError("the answer carries no Amount", gateway=NAME)
        total = from_kopecks(original)
        payment_id = str(data["PaymentId"])
        refunded = Decimal("0.00")
        if state is S.REFUNDED:
            refunded = total
        elif state is S.PARTIALLY_REFUNDED:
            refunded = self._partly_refunded(payment_id, total, data.get("NewAmount"))
            if not refunded:
                # Refunded, but by how much neither the answer nor this gateway knows (a
                # refund made elsewhere, or before a restart): read as paid. The processor's
                # book never moves back for it, so it keeps the kit's own refunds.
                state = S.SUCCEEDED
        decline: Decline | None = None
        code = str(data.get("ErrorCode", "0"))
        if state is S.FAILED and code not in ("", "0"):
            decline = self._declines.get(code, Decline.OTHER)
        return GatewayPayment(
            gateway=NAME,
            gateway_payment_id=payment_id,
            order_id=order_id,
            state=state,
            amount=total,
            refunded=refunded,
            # a declined payment saved nothing, whatever fields it carries
            saved_method=None if state is S.FAILED else self._saved_method(data),
            decline=decline,
            decline_code=code if decline is not None else "",
        )

    def _cancelled(self, answer: Mapping[str, Any], payment_id: str) -> GatewayPayment:
        """The snapshot after ``Cancel``: from its answer, or from ``GetState`` when the
        answer carries no amount at all (``OriginalAmount`` is the documented one)."""
        if answer.get("OriginalAmount") is None and answer.get("Amount") is None:
            return self.get_payment(payment_id)
        return self._snapshot(answer)

    def _partly_refunded(self, payment_id: str, total: Decimal, new_amount: Any) -> Decimal:
        """The refunded part of a PARTIAL_REFUNDED payment, or zero when it is not known.

        ``NewAmount`` (what is left) when the answer carries it, as ``Cancel`` answers do;
        otherwise the sum of this gateway's own refunds of the payment. A value that is not a
        part of ``total`` is not believed.
        """
        if new_amount is not None:
            told = total - from_kopecks(new_amount)
            if Decimal("0.00") < told < total:
                return told
        with self._lock:
            made = from_kopecks(sum(self._refunds.get(payment_id, {}).values()))
        return made if made < total else Decimal("0.00")

    def _receipt(self, payment: Payment, receipt: Receipt | None) -> dict[str, Any] | None:
        contact = self._contact(receipt)
        if not contact:
            return None
        if receipt is not None:
            items = [self._item(p) for p in receipt.positions]
        else:
            items = []
            for line in payment.lines:
                items.append(
                    {
                        "Name": (line.service or "Оплата услуг ЖКХ")[:128],
                        "Price": to_kopecks(line.amount),
                        "Quantity": 1,
                        "Amount": to_kopecks(line.amount),
                        "Tax": self.vat_codes[ReceiptVat.NONE],
                        "PaymentMethod": "full_payment",
                        "PaymentObject": "service",
                        "AgentData": {"AgentSign": AGENT_SIGNS[AgentType.PAYMENT_AGENT]},
                        "SupplierInfo": {"Inn": line.partner_inn},
                    }
                )
            fees = sum((ln.client_fee for ln in payment.lines), Decimal("0.00"))
            if fees:
                items.append(self._fee_item(fees))
        return self._receipt_body(items, contact)

    def _contact(self, receipt: Receipt | None) -> dict[str, str]:
        """``Email`` / ``Phone`` (tag 1008): the client's from the receipt, else the
        service's own; T-Bank's examples write the phone with its plus."""
        if receipt is not None and receipt.has_contact:
            email, phone = receipt.customer_email, receipt.customer_phone
        else:
            email, phone = self.receipt_email, self.receipt_phone
        contact: dict[str, str] = {}
        if email:
            contact["Email"] = email
        if phone:
            contact["Phone"] = phone
        return contact

    def _receipt_body(self, items: list[dict[str, Any]], contact: dict[str, str]) -> dict[str, Any]:
        return {"Taxation": self.taxation, "Items": items, **contact}

    def _fee_item(self, value: Decimal) -> dict[str, Any]:
        return {
            "Name": "Вознаграждение платёжного агента",
            "Price": to_kopecks(value),
            "Quantity": 1,
            "Amount": to_kopecks(value),
            "Tax": self.vat_codes[self.fee_vat],
            "PaymentMethod": "full_payment",
            "PaymentObject": "service",
        }

    def _item(self, position: ReceiptPosition) -> dict[str, Any]:
        item: dict[str, Any] = {
            "Name": position.name[:128],
            "Price": to_kopecks(position.amount),
            "Quantity": position.quantity,
            "Amount": to_kopecks(position.amount * position.quantity),
            "Tax": self.vat_codes[position.vat],
            "PaymentMethod": position.mode,
            "PaymentObject": position.subject,
        }
        if position.agent is not None and position.supplier is not None:
            supplier = position.supplier
            item["AgentData"] = {"AgentSign": AGENT_SIGNS[position.agent]}
            info: dict[str, Any] = {"Inn": supplier.inn, "Name": supplier.name}
            if supplier.phones:
                info["Phones"] = list(supplier.phones)
            item["SupplierInfo"] = info
        return item

    def _refund_receipt(self, request: RefundRequest) -> dict[str, Any] | None:
        # a RefundRequest names lines by index only: the items carry the sums per line; the
        # agent data of the original positions is not at hand here (see docs: unverified);
        # nor is the client's contact: the refund's receipt goes to the service's own
        contact = self._contact(None)
        if not contact:
            return None
        items = [
            {
                "Name": f"Возврат по позиции {line.index + 1}",
                "Price": to_kopecks(line.amount),
                "Quantity": 1,
                "Amount": to_kopecks(line.amount),
                "Tax": self.vat_codes[ReceiptVat.NONE],
                "PaymentMethod": "full_payment",
                "PaymentObject": "service",
            }
            for line in request.lines
        ]
        return self._receipt_body(items, contact)
