"""A local simulator of T-Bank internet acquiring API v2: a real HTTP server on loopback.

It speaks the documented shape (developer.tbank.ru, eacq): every method is ``POST
/v2/<Method>`` with a JSON body carrying ``TerminalKey`` and ``Token`` (see
:mod:`pes_sdk_tbank.token`); every answer is HTTP 200 with ``Success`` / ``ErrorCode`` /
``Message`` / ``Details`` (an error is ``Success: false``), except the failures the switches
inject (HTTP 5xx, lost answers, timeouts)::

    POST /v2/Init         TerminalKey, Amount (kopecks), OrderId, Description, NotificationURL,
                          SuccessURL, Receipt{Items[…AgentData, SupplierInfo]} → NEW, PaymentURL
    POST /v2/GetState     PaymentId → Status, Amount (the payment's, refunds or not)
    POST /v2/GetQr        PaymentId, DataType PAYLOAD | IMAGE → Data (СБП; opaque)
    POST /v2/Cancel       PaymentId, Amount (part), Receipt, ExternalRequestId → Status,
                          OriginalAmount, NewAmount
    POST /v2/CheckOrder   OrderId → Payments[{PaymentId, Amount, Status, Success, ErrorCode}]
    POST /v2/Charge       PaymentId (a NEW payment of an Init), RebillId → Status CONFIRMED
                          (AUTHORIZED for PayType T) or, declined, ``Success: false``,
                          ErrorCode, Status REJECTED
    POST /v2/GetCardList  CustomerKey → a JSON **array** of cards [{CardId, Pan (masked),
                          Status A | D, RebillId, CardType, ExpDate}]
    POST /v2/RemoveCard   CustomerKey, CardId → Status D
    GET|POST /new/{id}    the payment form (pay / decline buttons; no card data)

Saved cards (автоплатёж, "Рекуррентный платёж"): the parent payment's ``Init`` carries
``Recurrent=Y`` and ``CustomerKey`` (and ``DATA.OperationInitiatorType`` ``1``, CIT
Credential-Captured); once the client pays, the card is bound to the ``CustomerKey`` and
the notifications from ``AUTHORIZED`` on carry ``RebillId``, ``CustomerKey``, ``CardId`` and
the masked ``Pan``. A later charge is an ``Init`` of a new order (``DATA.OperationInitiatorType``
``R``, merchant-initiated, no schedule) and a ``Charge`` of its ``PaymentId`` with the
``RebillId``: one ``PaymentId`` is charged once, a second ``Charge`` of it is refused for the
payment's status. ``OperationInitiatorType`` values that contradict ``Recurrent`` / a
``Charge`` are refused with 1126, as the API describes.

Notifications are POSTed to the payment's ``NotificationURL`` with the root scalars of the
payment and a ``Token`` made by the same rule; T-Bank treats a notification as delivered only
when the answer is HTTP 200 with the body ``OK``, and sends it again otherwise.

Choices the public documentation leaves open are marked *simulator choice* below and in
docs/gateway-tbank.md: the error codes for "not found" and "duplicate OrderId", and what
``Amount`` a GetState answer gives after a partial refund (the payment's). As documented,
``OriginalAmount`` / ``NewAmount`` come only in Cancel answers; switches put them into GetState
answers and notifications too (``refund_sums_in_state``) or take them out of Cancel answers
(``refund_sums_in_cancel``), for an adapter that must cope with either.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.simulation import LoopbackSimulator, Outcome, SimulatorHandler
from pes_sdk_tbank.token import make_token, verify_token

__all__ = ["ErrorCodes", "TBankReport", "TBankSimulator", "TBankSwitches"]


class ErrorCodes:
    """The ``ErrorCode`` values the simulator answers with (strings, as T-Bank sends them)."""

    OK = "0"
    #: *simulator choice*: no payment / no order with that id
    NOT_FOUND = "7"
    #: an OrderId already used on this terminal (uniqueness switched on): the error table's
    #: 20, «Ошибка повторного идентификатора заказа»
    DUPLICATE_ORDER = "20"
    #: *simulator choice*: a request the simulator cannot read (missing/invalid field)
    INVALID = "9"
    #: the token or the TerminalKey/password pair is wrong
    BAD_TOKEN = "204"
    #: *simulator choice*: the operation is not allowed in the payment's status
    BAD_STATUS = "4"
    #: a refund larger than what is left: 330 is named for ``Cancel`` by a public summary of
    #: the error table but is not in the table itself (unverified)
    AMOUNT_EXCEEDED = "330"
    #: the refund refused: the shop's balance does not cover the cancel (the error table's
    #: 3002, «Недостаточный баланс счёта для отмены»)
    REFUND_REFUSED = "3002"
    #: ``OperationInitiatorType`` that does not fit ``Recurrent`` or the ``RebillId`` of a
    #: ``Charge`` (the API's «несопоставимые значения rebillId или Recurrent»)
    INITIATOR_MISMATCH = "1126"
    #: a ``CustomerKey`` the terminal does not know (the error table's 503, «CustomerKey не
    #: найден»), for GetCardList / RemoveCard
    CUSTOMER_NOT_FOUND = "503"
    #: a ``CardId`` not bound to the customer (the error table's 107, «Неверно введен CardId»)
    CARD_NOT_FOUND = "107"
    #: *simulator choice*: a ``Charge`` with a ``RebillId`` the terminal never issued or whose
    #: card was removed: the payment is REJECTED with the error table's 104, «Ошибка
    #: выполнения рекуррента»
    REBILL_INACTIVE = "104"
    #: the issuer's declines a ``Charge`` may end in (the error table): not enough money,
    #: the card expired, the issuer declined without a reason
    INSUFFICIENT_FUNDS = "1051"
    CARD_EXPIRED = "1054"
    ISSUER_DECLINED = "1005"


#: ``AgentData.AgentSign`` values (tag 1222 by name; платёжный агент is ``paying_agent``)
AGENT_SIGNS = frozenset(
    {
        "bank_paying_agent",
        "bank_paying_subagent",
        "paying_agent",
        "paying_subagent",
        "attorney",
        "commission_agent",
        "another",
    }
)

#: T-Bank statuses a payment may be refunded or cancelled from, and what Cancel makes of them
_PAID = ("CONFIRMED", "PARTIAL_REFUNDED")
_UNPAID = ("NEW", "FORM_SHOWED")


@attrs.define
class TBankSwitches:
    """How badly the simulated acquirer behaves; rates are probabilities in 0..1."""

    api_error_rate: float = 0.0  #: answer HTTP 503 without doing anything
    lost_answer_rate: float = 0.0  #: do the work, then answer HTTP 503 (answer lost)
    slow_rate: float = 0.0  #: answer after ``api_delay`` seconds
    api_delay: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhook_drop_rate: float = 0.0
    fail_next: int = 0
    lose_next: int = 0
    stall_next: int = 0
    #: when set (e.g. ``"Init"``, or ``"Init|Cancel"``), the ``*_next`` counters count only
    #: calls of those methods
    only_method: str = ""
    #: refuse a second Init with an OrderId already used (as a terminal may be set up)
    unique_order_ids: bool = True
    #: also put OriginalAmount / NewAmount into GetState answers and notifications of a
    #: refunded payment (not documented for them)
    refund_sums_in_state: bool = False
    #: put OriginalAmount / NewAmount into Cancel answers (documented); off: leave them out
    refund_sums_in_cancel: bool = True
    #: refuse the next N refunds (a Cancel of a paid payment) with ``Success: false``,
    #: :attr:`ErrorCodes.REFUND_REFUSED`; nothing is given back
    refuse_refunds_next: int = 0
    #: the ``ErrorCode`` those refusals carry (tests set others, e.g. one the adapter does
    #: not know)
    refuse_refunds_code: str = ErrorCodes.REFUND_REFUSED


@attrs.frozen
class TBankReport:
    """What the simulated acquirer holds: the reconciliation side of a credit ledger."""

    payments: int
    paid: int  #: payments that reached CONFIRMED (and maybe were refunded since)
    captured: int  #: kopecks paid by clients
    refunded: int  #: kopecks given back
    webhooks_sent: int
    webhooks_dropped: int
    webhooks_duplicated: int
    webhooks_reordered: int


@attrs.define
class _Card:
    """A card bound to a CustomerKey (no card data: a masked PAN only)."""

    card_id: int
    customer_key: str
    pan: str  # masked, as T-Bank shows it: 430000******0777
    exp_date: str  # MMYY
    rebill_id: str | None = None
    status: str = "A"  # A active, D removed
    #: the issuer's ErrorCode for every Charge of it (the card expired, the client barred
    #: such operations): set by :meth:`TBankSimulator.revoke_card`
    revoked_code: str | None = None


@attrs.define
class _Payment:
    id: int
    order_id: str
    amount: int  # kopecks
    notification_url: str | None
    success_url: str
    qr_token: str
    status: str = "NEW"
    new_amount: int | None = None  # after refunds
    receipt: dict[str, Any] | None = None
    description: str = ""
    pay_type: str = "O"
    #: ``CustomerKey`` of the Init (the card gets bound to it once paid)
    customer_key: str | None = None
    #: ``Recurrent=Y``: a parent payment, whose card gets a RebillId
    recurrent: bool = False
    #: ``DATA.OperationInitiatorType`` of the Init, if sent
    initiator: str | None = None
    #: the card the client paid with (bound cards: CustomerKey given)
    card: _Card | None = None
    #: the RebillId a Charge took the money with
    charged_with: str | None = None
    #: the decline's ErrorCode (REJECTED), as notifications and CheckOrder tell it
    error_code: str = "0"

    @property
    def refunded(self) -> int:
        return 0 if self.new_amount is None else self.amount - self.new_amount


class _Refused(Exception):
    def __init__(self, code: str, message: str, details: str = "") -> None:
        self.code, self.message, self.details = code, message, details
        super().__init__(message)


class TBankSimulator(LoopbackSimulator[TBankSwitches, tuple[str, bytes]]):
    """T-Bank's acquiring API on ``127.0.0.1`` (a free port unless one is given).

    :param terminal_key: the ``TerminalKey`` requests must carry.
    :param password: the terminal password tokens are made with.
    """

    transport_name = "tbank-notifications"

    def __init__(
        self,
        *,
        terminal_key: str = "1700000000000DEMO",
        password: str = "sim-password-1",
        port: int = 0,
        seed: int | None = None,
        switches: TBankSwitches | None = None,
        webhook_workers: int = 2,
    ) -> None:
        self.terminal_key = terminal_key
        self.password = password
        super().__init__(
            _make_handler(self),
            switches=switches or TBankSwitches(),
            port=port,
            seed=seed,
            webhook_workers=webhook_workers,
            name="tbank-simulator",
            worker_name="tbank-hooks",
        )
        self._payments: dict[int, _Payment] = {}
        self._by_order: dict[str, list[int]] = {}
        self._cancels: dict[str, tuple[str, dict[str, Any]]] = {}  # ExternalRequestId
        self._next_id = 3_000_000_000 + self._rng.randrange(1_000_000)
        self._cards: dict[str, list[_Card]] = {}  # CustomerKey → its bound cards
        self._next_card = 70_000_000 + self._rng.randrange(1_000_000)
        self._next_rebill = 1_700_000_000 + self._rng.randrange(1_000_000)
        # ErrorCodes the issuer declines the next Charges with (decline_next_charge)
        self._charge_declines: list[str] = []
        #: every request body seen, parsed (for protocol tests); tokens included
        self.requests: list[tuple[str, dict[str, Any]]] = []

    # -- the acquirer's side, driven in-process ------------------------------------------

    def _get(self, payment_id: Any) -> _Payment:
        try:
            payment = self._payments.get(int(str(payment_id)))
        except ValueError:
            payment = None
        if payment is None:
            raise _Refused(ErrorCodes.NOT_FOUND, "Платёж не найден", f"PaymentId {payment_id}")
        return payment

    def approve(self, payment_id: int | str) -> None:
        """The client paid (one-stage): AUTHORIZED, then CONFIRMED, each notified.

        A payment whose Init named a ``CustomerKey`` binds the client's card to it; a
        parent payment (``Recurrent=Y``) gives the card a ``RebillId``, told in the
        notifications from AUTHORIZED on.
        """
        with self._lock:
            payment = self._get(payment_id)
            self._require(payment, _UNPAID)
            if payment.customer_key is not None:
                payment.card = self._bind_card(payment.customer_key, payment.recurrent)
            for status in ("AUTHORIZED", "CONFIRMED"):
                payment.status = status
                self._notify(payment, success=True)

    def _bind_card(self, customer_key: str, recurrent: bool) -> _Card:
        self._next_card += 1 + self._rng.randrange(5)
        rebill = None
        if recurrent:
            self._next_rebill += 1 + self._rng.randrange(5)
            rebill = str(self._next_rebill)
        card = _Card(
            card_id=self._next_card,
            customer_key=customer_key,
            pan=f"430000******{self._rng.randrange(10_000):04d}",
            exp_date="1230",
            rebill_id=rebill,
        )
        self._cards.setdefault(customer_key, []).append(card)
        return card

    def _card_by_rebill(self, rebill_id: Any) -> _Card | None:
        wanted = str(rebill_id)
        for cards in self._cards.values():
            for card in cards:
                if card.rebill_id == wanted:
                    return card
        return None

    # -- saved cards, driven by the tests ------------------------------------------------

    def card_active(self, rebill_id: str) -> bool:
        """Whether a card with this RebillId is bound (status A) and chargeable."""
        with self._lock:
            card = self._card_by_rebill(rebill_id)
            return card is not None and card.status == "A" and card.revoked_code is None

    def revoke_card(self, rebill_id: str, error_code: str = ErrorCodes.CARD_EXPIRED) -> bool:
        """The card can no more be charged (it expired, the client barred such operations at
        the issuer): every later Charge is REJECTED with ``error_code``. False: no such card."""
        with self._lock:
            card = self._card_by_rebill(rebill_id)
            if card is None:
                return False
            card.revoked_code = error_code
            return True

    def decline_next_charge(self, error_code: str = ErrorCodes.INSUFFICIENT_FUNDS) -> None:
        """The issuer declines the next Charge (of any card) with ``error_code``."""
        with self._lock:
            self._charge_declines.append(error_code)

    def charges_with(self, rebill_id: str) -> int:
        """How many payments a Charge with this RebillId paid (declined ones not counted)."""
        with self._lock:
            return sum(
                1
                for p in self._payments.values()
                if p.charged_with == str(rebill_id) and p.status in (*_PAID, "REFUNDED")
            )

    def taken_with(self, rebill_id: str) -> int:
        """Kopecks the Charges with this RebillId took (declined ones not)."""
        with self._lock:
            return sum(
                p.amount
                for p in self._payments.values()
                if p.charged_with == str(rebill_id) and p.status in (*_PAID, "REFUNDED")
            )

    def cards_of(self, customer_key: str) -> list[dict[str, Any]]:
        """The customer's cards as GetCardList answers them (removed ones included)."""
        with self._lock:
            return [_card_answer(c) for c in self._cards.get(customer_key, ())]

    def decline(self, payment_id: int | str) -> None:
        """The issuer declined: REJECTED, notified with ``Success: false``."""
        with self._lock:
            payment = self._get(payment_id)
            self._require(payment, _UNPAID)
            payment.status = "REJECTED"
            payment.error_code = ErrorCodes.INSUFFICIENT_FUNDS
            self._notify(payment, success=False, error_code=payment.error_code)

    def expire(self, payment_id: int | str) -> None:
        """The payment's lifetime ran out before the client paid: DEADLINE_EXPIRED."""
        with self._lock:
            payment = self._get(payment_id)
            self._require(payment, _UNPAID)
            payment.status = "DEADLINE_EXPIRED"
            self._notify(payment, success=False, error_code="0")

    def status(self, payment_id: int | str) -> str:
        with self._lock:
            return self._get(payment_id).status

    def payments_for(self, order_id: uuid.UUID | str) -> list[int]:
        """The PaymentIds created for one merchant OrderId."""
        with self._lock:
            return list(self._by_order.get(str(order_id), ()))

    def report(self) -> TBankReport:
        with self._lock:
            paid = [p for p in self._payments.values() if p.status in (*_PAID, "REFUNDED")]
            return TBankReport(
                payments=len(self._payments),
                paid=len(paid),
                captured=sum(p.amount for p in paid),
                refunded=sum(p.refunded for p in paid),
                webhooks_sent=self.webhooks_sent,
                webhooks_dropped=self.webhooks_dropped,
                webhooks_duplicated=self.webhooks_duplicated,
                webhooks_reordered=self.webhooks_reordered,
            )

    def receipt_of(self, payment_id: int | str) -> dict[str, Any] | None:
        with self._lock:
            return self._get(payment_id).receipt

    def description_of(self, payment_id: int | str) -> str:
        """The ``Description`` of the payment's ``Init``, as sent."""
        with self._lock:
            return self._get(payment_id).description

    @staticmethod
    def _require(payment: _Payment, allowed: tuple[str, ...]) -> None:
        if payment.status not in allowed:
            raise _Refused(
                ErrorCodes.BAD_STATUS,
                "Неверный статус транзакции",
                f"{payment.status} is not one of {', '.join(allowed)}",
            )

    # -- the API -------------------------------------------------------------------------

    def handle_api(self, method: str, body: bytes) -> tuple[int, bytes]:
        """One API call: (HTTP status, JSON body). Switches act before and after the work."""
        sw = self.switches
        with self._lock:
            counted = not sw.only_method or method in sw.only_method.split("|")
            fail, lose, stall = self._take_next(counted=counted)
        self._stall(stall)
        if self._fails(fail):
            return 503, b"<html><body>503 Service Temporarily Unavailable</body></html>"
        try:
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            answer = self._error(ErrorCodes.INVALID, "Неверные параметры", "body is not JSON")
        else:
            with self._lock:
                self.requests.append((method, data))
            answer = self._call(method, data)
        if self._loses(lose):
            return 502, b"<html><body>502 Bad Gateway</body></html>"
        return 200, json.dumps(answer, ensure_ascii=False).encode("utf-8")

    def _error(self, code: str, message: str, details: str = "") -> dict[str, Any]:
        return {
            "Success": False,
            "ErrorCode": code,
            "Message": message,
            "Details": details,
            "TerminalKey": self.terminal_key,
        }

    def _call(self, method: str, data: dict[str, Any]) -> Any:
        if data.get("TerminalKey") != self.terminal_key or not verify_token(data, self.password):
            return self._error(
                ErrorCodes.BAD_TOKEN,
                "Неверные параметры.",
                "Неверный токен. Проверьте пару TerminalKey/SecretKey.",
            )
        handlers = {
            "Init": self._init,
            "GetState": self._get_state,
            "GetQr": self._get_qr,
            "Cancel": self._cancel,
            "CheckOrder": self._check_order,
            "Charge": self._charge,
            "GetCardList": self._get_card_list,
            "RemoveCard": self._remove_card,
        }
        handler = handlers.get(method)
        try:
            if handler is None:
                raise _Refused(ErrorCodes.INVALID, "Метод не найден", method)
            with self._lock:  # check and work in one step: no twin slips in
                result = handler(data)
        except _Refused as exc:
            return self._error(exc.code, exc.message, exc.details)
        if isinstance(result, _Raw):
            return result.answer
        return {
            "Success": True,
            "ErrorCode": ErrorCodes.OK,
            "TerminalKey": self.terminal_key,
            **result,
        }

    def _init(self, data: dict[str, Any]) -> dict[str, Any]:
        amount = data.get("Amount")
        order_id = data.get("OrderId")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Amount: positive kopecks")
        if not isinstance(order_id, str) or not 0 < len(order_id) <= 36:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "OrderId: 1..36 characters")
        receipt = data.get("Receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
        customer_key = data.get("CustomerKey")
        if customer_key is not None and (
            not isinstance(customer_key, str) or not 0 < len(customer_key) <= 36
        ):
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "CustomerKey: 1..36")
        recurrent = data.get("Recurrent") == "Y"
        if recurrent and customer_key is None:
            raise _Refused(
                ErrorCodes.INVALID, "Неверные параметры", "CustomerKey: required with Recurrent"
            )
        extra = data.get("DATA")
        if extra is not None and not isinstance(extra, Mapping):
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "DATA: an object")
        initiator = None if extra is None else extra.get("OperationInitiatorType")
        if initiator is not None:
            initiator = str(initiator)
            if initiator not in _INITIATORS:
                raise _Refused(
                    ErrorCodes.INVALID, "Неверные параметры", "DATA.OperationInitiatorType"
                )
            # the table of "Передача признака инициатора операции": only 1 (CIT
            # Credential-Captured) saves a card, so only 1 goes with Recurrent=Y
            if recurrent != (initiator == "1"):
                raise _Refused(
                    ErrorCodes.INITIATOR_MISMATCH,
                    "Несопоставимые значения rebillId или Recurrent с OperationInitiatorType",
                    f"Recurrent={data.get('Recurrent')} OperationInitiatorType={initiator}",
                )
        if self.switches.unique_order_ids and self._by_order.get(order_id):
            raise _Refused(ErrorCodes.DUPLICATE_ORDER, "Повторный OrderId", order_id)
        self._next_id += 1 + self._rng.randrange(7)
        payment = _Payment(
            id=self._next_id,
            order_id=order_id,
            amount=amount,
            notification_url=data.get("NotificationURL"),
            success_url=str(data.get("SuccessURL") or ""),
            qr_token=secrets.token_hex(16).upper(),
            receipt=receipt,
            description=str(data.get("Description") or ""),
            pay_type="T" if data.get("PayType") == "T" else "O",
            customer_key=customer_key,
            recurrent=recurrent,
            initiator=initiator,
        )
        self._payments[payment.id] = payment
        self._by_order.setdefault(order_id, []).append(payment.id)
        return {
            "Status": payment.status,
            "PaymentId": str(payment.id),
            "OrderId": order_id,
            "Amount": amount,
            "PaymentURL": f"{self.base_url}/new/{payment.id}",
        }

    def _state(self, payment: _Payment) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": payment.status,
            "PaymentId": str(payment.id),
            "OrderId": payment.order_id,
            "Amount": payment.amount,
        }
        if payment.new_amount is not None and self.switches.refund_sums_in_state:
            out["OriginalAmount"] = payment.amount
            out["NewAmount"] = payment.new_amount
        return out

    def _get_state(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._state(self._get(data.get("PaymentId")))

    def _get_qr(self, data: dict[str, Any]) -> dict[str, Any]:
        payment = self._get(data.get("PaymentId"))
        self._require(payment, _UNPAID)
        kind = data.get("DataType", "PAYLOAD")
        # what the real acquirer returns is issued by НСПК; the client passes it on as is
        payload = f"https://qr.nspk.ru/{payment.qr_token}?type=02&bank=100000000004&crc=0A1B"
        if kind == "PAYLOAD":
            qr = payload
        elif kind == "IMAGE":
            svg = (
                f'<svg xmlns="http://www.w3.org/2000/svg"><text>{html.escape(payload)}</text></svg>'
            )
            qr = base64.b64encode(svg.encode()).decode("ascii")
        else:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "DataType: PAYLOAD or IMAGE")
        return {"OrderId": payment.order_id, "PaymentId": payment.id, "Data": qr}

    def _cancel(self, data: dict[str, Any]) -> dict[str, Any]:
        external = data.get("ExternalRequestId")
        fingerprint = json.dumps(
            {k: v for k, v in data.items() if k != "Token"}, sort_keys=True, ensure_ascii=False
        )
        if isinstance(external, str) and external in self._cancels:
            seen, answer = self._cancels[external]
            if seen != fingerprint:
                raise _Refused(ErrorCodes.INVALID, "Повторный ExternalRequestId", external)
            return answer
        payment = self._get(data.get("PaymentId"))
        amount = data.get("Amount")
        original_left = payment.amount if payment.new_amount is None else payment.new_amount
        if payment.status in _UNPAID:
            payment.status = "CANCELED"  # Amount is ignored: an unpaid payment ends whole
            payment_left = payment.amount
            self._notify(payment, success=True)
        elif payment.status == "AUTHORIZED":
            payment.status = "REVERSED"
            payment_left = payment.amount
            self._notify(payment, success=True)
        elif payment.status in _PAID:
            value = original_left if amount is None else amount
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Amount: kopecks")
            if value > original_left:
                raise _Refused(
                    ErrorCodes.AMOUNT_EXCEEDED,
                    "Сумма отмены больше суммы платежа",
                    f"{value} > {original_left}",
                )
            receipt = data.get("Receipt")
            if receipt is not None:
                _check_receipt(receipt, value)
            if self.switches.refuse_refunds_next > 0:
                # not kept under its ExternalRequestId: a refusal is not an operation
                self.switches.refuse_refunds_next -= 1
                raise _Refused(
                    self.switches.refuse_refunds_code,
                    "Недостаточный баланс счёта для отмены",
                    str(payment.id),
                )
            payment.new_amount = original_left - value
            payment.status = "REFUNDED" if payment.new_amount == 0 else "PARTIAL_REFUNDED"
            payment_left = payment.new_amount
            self._notify(payment, success=True)
        else:
            raise _Refused(ErrorCodes.BAD_STATUS, "Неверный статус транзакции", f"{payment.status}")
        answer = {
            "Status": payment.status,
            "PaymentId": str(payment.id),
            "OrderId": payment.order_id,
        }
        if self.switches.refund_sums_in_cancel:
            answer["OriginalAmount"] = payment.amount
            answer["NewAmount"] = payment_left if payment.new_amount is not None else 0
        if isinstance(external, str):
            answer["ExternalRequestId"] = external
            self._cancels[external] = (fingerprint, answer)
        return answer

    def _check_order(self, data: dict[str, Any]) -> dict[str, Any]:
        order_id = str(data.get("OrderId", ""))
        ids = self._by_order.get(order_id)
        if not ids:
            raise _Refused(ErrorCodes.NOT_FOUND, "Заказ не найден", order_id)
        payments = [
            {
                "PaymentId": str(p.id),
                "Amount": p.amount,
                "Status": p.status,
                "Success": p.status not in ("REJECTED",),
                # a declined payment's own code (the issuer's), as the notification told it
                "ErrorCode": p.error_code,
            }
            for p in (self._payments[i] for i in ids)
        ]
        return {"OrderId": order_id, "Payments": payments}

    # -- saved cards ---------------------------------------------------------------------

    def _charge(self, data: dict[str, Any]) -> Any:
        payment = self._get(data.get("PaymentId"))
        rebill = data.get("RebillId")
        if rebill is None or str(rebill) == "":
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "RebillId: required")
        if payment.initiator in ("0", "1"):
            # 0 and 1 are the client's own payments: a Charge (a RebillId) contradicts them
            raise _Refused(
                ErrorCodes.INITIATOR_MISMATCH,
                "Несопоставимые значения rebillId или Recurrent с OperationInitiatorType",
                f"OperationInitiatorType={payment.initiator}",
            )
        if payment.recurrent:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "a parent payment")
        # one PaymentId is charged once: a repeat finds it past NEW
        self._require(payment, ("NEW",))
        card = self._card_by_rebill(rebill)
        if card is None or card.status != "A":
            code = ErrorCodes.REBILL_INACTIVE
        elif card.revoked_code is not None:
            code = card.revoked_code
        elif self._charge_declines:
            code = self._charge_declines.pop(0)
        else:
            code = ErrorCodes.OK
        if card is not None:
            payment.card = card
        if code != ErrorCodes.OK:
            payment.status = "REJECTED"
            payment.error_code = code
            self._notify(payment, success=False, error_code=code)
            answer = self._error(code, "Платеж отклонен", "")
            answer.update(_charge_answer(payment))
            return _Raw(answer)
        payment.charged_with = str(rebill)
        payment.status = "AUTHORIZED"
        self._notify(payment, success=True)
        if payment.pay_type == "O":
            payment.status = "CONFIRMED"
            self._notify(payment, success=True)
        return _charge_answer(payment)

    def _customer(self, data: dict[str, Any]) -> tuple[str, list[_Card]]:
        key = data.get("CustomerKey")
        if not isinstance(key, str) or not key:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "CustomerKey: required")
        cards = self._cards.get(key)
        if cards is None:
            raise _Refused(ErrorCodes.CUSTOMER_NOT_FOUND, "CustomerKey не найден", key)
        return key, cards

    def _get_card_list(self, data: dict[str, Any]) -> Any:
        _, cards = self._customer(data)
        # the documented answer is a bare JSON array, not the usual object
        return _Raw([_card_answer(c) for c in cards])

    def _remove_card(self, data: dict[str, Any]) -> dict[str, Any]:
        key, cards = self._customer(data)
        wanted = str(data.get("CardId", ""))
        card = next((c for c in cards if str(c.card_id) == wanted), None)
        if card is None:
            raise _Refused(
                ErrorCodes.CARD_NOT_FOUND,
                "Неверно введен CardId. Проверьте, что такая карта была ранее привязана",
                wanted,
            )
        # *simulator choice*: removing a removed card answers the same (status D)
        card.status = "D"
        return {"CustomerKey": key, "CardId": str(card.card_id), "Status": "D", "CardType": 0}

    # -- the payment form ----------------------------------------------------------------

    def form(self, payment_id: str) -> str:
        with self._lock:
            p = self._get(payment_id)
            if p.status == "NEW":
                p.status = "FORM_SHOWED"
            status, total = p.status, p.amount
        buttons = (
            '<form method="post"><button name="action" value="pay">Оплатить</button> '
            '<button name="action" value="decline">Отклонить</button></form>'
            if status in _UNPAID
            else f"<p>Статус: <b>{html.escape(status)}</b></p>"
        )
        return (
            '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>T-Bank '
            f"simulator</title></head><body><h1>Оплата {total // 100},{total % 100:02d} ₽</h1>"
            f"<p>Симулятор: данные карты не запрашиваются.</p>{buttons}</body></html>"
        )

    def press(self, payment_id: str, action: str) -> str:
        """A button of the form; returns where the browser goes next (SuccessURL)."""
        self._press_button(
            payment_id, action, _Refused(ErrorCodes.INVALID, "unknown action", action)
        )
        with self._lock:
            return self._get(payment_id).success_url or f"{self.base_url}/new/{payment_id}"

    # -- notifications -------------------------------------------------------------------

    def _notify(self, payment: _Payment, *, success: bool, error_code: str = "0") -> None:
        if not payment.notification_url:
            return
        body: dict[str, Any] = {
            "TerminalKey": self.terminal_key,
            "OrderId": payment.order_id,
            "Success": success,
            "Status": payment.status,
            "PaymentId": payment.id,  # a number in notifications, a string in answers
            "ErrorCode": error_code,
            "Amount": payment.amount,
            # masked card data, as the real notification carries (numbers, not strings,
            # for PaymentId, CardId and RebillId)
            "CardId": 900000001,
            "Pan": "430000******0777",
            "ExpDate": "1230",
        }
        card = payment.card
        if card is not None:
            body["CardId"] = card.card_id
            body["Pan"] = card.pan
            body["ExpDate"] = card.exp_date
        if payment.customer_key is not None:
            body["CustomerKey"] = payment.customer_key
        if (
            payment.recurrent
            and card is not None
            and card.rebill_id is not None
            and payment.status not in ("NEW", "FORM_SHOWED", "REJECTED")
        ):
            # the parent payment's notifications from AUTHORIZED on tell the RebillId
            body["RebillId"] = int(card.rebill_id)
        if payment.new_amount is not None and self.switches.refund_sums_in_state:
            body["OriginalAmount"] = payment.amount
            body["NewAmount"] = payment.new_amount
        body["Token"] = make_token(body, self.password)
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._enqueue((payment.notification_url, raw))

    def _target(self, item: tuple[str, bytes]) -> str | None:
        return item[0]

    def _send_once(self, transport: HttpTransport, item: tuple[str, bytes]) -> Outcome:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        answer = transport.request(
            "POST", "", body=item[1], headers=headers, ok_statuses=tuple(range(400, 500))
        )
        if answer.status == 200 and answer.body.strip() == b"OK":
            return "sent"
        if 400 <= answer.status < 500:
            return "refused"  # the merchant refused it: its final word
        return "retry"  # 200 without "OK": T-Bank sends it again


#: ``DATA.OperationInitiatorType`` values: 0 CIT without saving, 1 CIT saving the card
#: (with Recurrent=Y), 2 CIT with a saved card, R merchant-initiated without a schedule
#: (utilities), I merchant-initiated by a schedule (instalments)
_INITIATORS = frozenset({"0", "1", "2", "R", "I"})


class _Raw:
    """A handler's whole answer, sent as it is (a bare array, a declined Charge)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer


def _charge_answer(payment: _Payment) -> dict[str, Any]:
    return {
        "Status": payment.status,
        "PaymentId": str(payment.id),
        "OrderId": payment.order_id,
        "Amount": payment.amount,
    }


def _card_answer(card: _Card) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "CardId": str(card.card_id),
        "Pan": card.pan,
        "Status": card.status,
        "CardType": 0,
        "ExpDate": card.exp_date,
    }
    if card.rebill_id is not None:
        answer["RebillId"] = card.rebill_id
    return answer


#: what the simulator takes as ``Receipt.Email`` (at most 64 characters) and ``Receipt.Phone``
#: (T-Bank's examples: ``+79031234567``)
_EMAIL = re.compile(r"(?=.{3,64}$)[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9]{7,15}")


def _check_receipt(receipt: Any, amount: int) -> None:
    """What T-Bank checks of a 54-ФЗ receipt: items present, each consistent, summing up."""
    if not isinstance(receipt, Mapping):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt: an object")
    items = receipt.get("Items")
    if not isinstance(items, list) or not items:
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt.Items: non-empty")
    if not receipt.get("Email") and not receipt.get("Phone"):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt: Email or Phone")
    email, phone = receipt.get("Email"), receipt.get("Phone")
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt.Email")
    if phone is not None and not (isinstance(phone, str) and _PHONE.fullmatch(phone)):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt.Phone")
    if not receipt.get("Taxation"):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt.Taxation")
    total = 0
    for n, item in enumerate(items):
        try:
            name, price, qty, value, tax = (
                item["Name"],
                item["Price"],
                item["Quantity"],
                item["Amount"],
                item["Tax"],
            )
        except (KeyError, TypeError):
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", f"Items[{n}]") from None
        if not name or not isinstance(value, int) or price * qty != value or not tax:
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", f"Items[{n}] inconsistent")
        if "AgentData" in item and not item.get("SupplierInfo", {}).get("Inn"):
            raise _Refused(ErrorCodes.INVALID, "Неверные параметры", f"Items[{n}].SupplierInfo")
        if "AgentData" in item and item["AgentData"].get("AgentSign") not in AGENT_SIGNS:
            raise _Refused(
                ErrorCodes.INVALID, "Неверные параметры", f"Items[{n}].AgentData.AgentSign"
            )
        total += value
    if total != amount:
        raise _Refused(
            ErrorCodes.INVALID, "Неверные параметры", f"Items sum {total} != Amount {amount}"
        )


def _make_handler(sim: TBankSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(SimulatorHandler):
        server_version = "pes-tbank-simulator"

        def _dispatch(self, method: str) -> None:
            path = urllib.parse.urlsplit(self.path).path
            parts = [p for p in path.split("/") if p]
            body = self._body()
            try:
                if method == "POST" and len(parts) == 2 and parts[0] == "v2":
                    status, answer = sim.handle_api(parts[1], body)
                    ctype = "application/json" if status == 200 else "text/html"
                    self._send(status, answer, ctype)
                elif len(parts) == 2 and parts[0] == "new":
                    if method == "GET":
                        self._send(200, sim.form(parts[1]).encode(), "text/html; charset=utf-8")
                    else:
                        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
                        target = sim.press(parts[1], form.get("action", [""])[0])
                        self._send(303, b"", "text/plain", Location=target)
                else:
                    self._send(404, b"not found", "text/plain")
            except _Refused as exc:
                self._send(400, exc.message.encode(), "text/plain; charset=utf-8")

    return Handler
