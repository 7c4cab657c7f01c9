"""A loopback simulator of Sber acquiring's REST API (``/payment/rest/``) and its callbacks.

A real HTTP server on ``127.0.0.1`` (stdlib :mod:`http.server` in a thread, as the sandbox
does), speaking the protocol the adapter speaks:

* form-encoded ``POST`` to ``/payment/rest/<method>.do``, authenticated by ``userName`` and
  ``password`` (or ``token``) in the form; answers are JSON with HTTP 200, errors as
  ``errorCode`` / ``errorMessage`` (1 duplicate ``orderNumber``, 4 a missing or bad
  parameter, 5 access denied, 6 unknown order, 7 wrong state or amount);
* ``register.do`` (amount in kopecks, ``orderBundle`` checked to sum to the amount),
  ``getOrderStatusExtended.do`` (by ``orderId`` or ``orderNumber``), ``refund.do`` (with
  ``refundItems`` and ``expectedDepositedAmount``), ``decline.do`` (an unpaid order to
  Reversed), ``reverse.do`` (a paid, unrefunded order, once; refused on an unpaid one) and
  the СБП ``sbp/c2b/qr/dynamic/get.do``;
* bindings (связки): an order registered with ``clientId`` and paid on the page binds the
  card to that client; ``jsonParams`` ``recurringFrequency`` / ``recurringExpiry`` make the
  binding one for recurring charges. ``getOrderStatusExtended.do`` then answers
  ``bindingInfo`` {clientId, bindingId}, ``cardAuthInfo.maskedPan`` and the order's
  ``merchantOrderParams``; ``recurrentPayment.do`` (a JSON body) charges a recurring binding
  without the client, once per ``orderNumber``; ``getBindings.do`` lists a client's active,
  unexpired bindings; ``unBindCard.do`` deactivates one;
* a payment page at ``formUrl`` with pay / decline buttons (no card data anywhere);
* callbacks to ``callback_url`` by GET (or POST, form-encoded) with ``mdOrder``,
  ``orderNumber``, ``operation``, ``status`` and ``checksum`` (see :mod:`.checksums`).

:class:`Switches` inject 5xx answers, lost answers (work done, then 5xx), answers slower
than the client's timeout, refused refunds, and duplicated, reordered or dropped callbacks; and
``lower_deposited_on_refund`` makes ``depositedAmount`` drop by what was refunded, as a bank
may report it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import json
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.simulation import LoopbackSimulator, Outcome, SimulatorHandler
from pes_sdk_sber.checksums import checksum

__all__ = ["REST_PREFIX", "SberSimulator", "Switches"]

REST_PREFIX = "/payment/rest"
PAGE_PATH = "/payment/merchants/sim/payment_ru.html"

#: orderStatus codes of getOrderStatusExtended.do
REGISTERED, HOLD, DEPOSITED, REVERSED, REFUNDED, ACS, DECLINED = range(7)
#: actionCode of an order the client let lapse or the issuer declined on the page (the
#: simulator's single choice: Sber's table has many), and of an expired card
PAGE_DECLINE = 2001
EXPIRED_CARD = 101
#: the actionCode descriptions the simulator answers (``actionCodeDescription``)
_ACTION_TEXT = {
    0: "Платёж успешно проведён",
    101: "Истёк срок действия карты",
    116: "Недостаточно средств",
    2001: "Операция отклонена",
}
#: the ``jsonParams`` of a first payment that make its binding one for recurring charges
RECURRING_PARAMS = ("recurringFrequency", "recurringExpiry")
_STATE_NAMES = {
    REGISTERED: "CREATED",
    HOLD: "APPROVED",
    DEPOSITED: "DEPOSITED",
    REVERSED: "REVERSED",
    REFUNDED: "REFUNDED",
    ACS: "CREATED",
    DECLINED: "DECLINED",
}


@attrs.define
class Switches:
    """How badly the simulated acquirer behaves; rates are probabilities in 0..1."""

    api_error_rate: float = 0.0  #: answer 500 without doing anything
    lost_answer_rate: float = 0.0  #: do the work, then answer 500
    slow_rate: float = 0.0  #: wait ``api_delay`` before working (a client timeout)
    api_delay: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_reorder_rate: float = 0.0
    callback_drop_rate: float = 0.0
    fail_next: int = 0
    lose_next: int = 0
    stall_next: int = 0
    #: report ``depositedAmount`` less what was refunded (some banks do); off: it stays the
    #: captured amount. ``amount`` and ``refundedAmount`` are the same either way.
    lower_deposited_on_refund: bool = False
    #: refuse the next N ``refund.do`` calls with ``errorCode`` 7 (the bank declines the
    #: refund; the exact message is unverified); nothing is given back
    refuse_refunds_next: int = 0
    #: the issuer declines the next ``recurrentPayment.do`` charges with these
    #: ``actionCode`` values, one each, in order (116 insufficient funds, 101 expired card…)
    decline_charges_next: list[int] = attrs.Factory(list)
    #: lose the answer of the next call of each method named (work done, then 500), e.g.
    #: ``["recurrentPayment.do"]`` whatever calls come before it
    lose_method_next: list[str] = attrs.Factory(list)


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@attrs.define
class _Order:
    id: str
    number: str
    amount: int  # kopecks
    return_url: str
    fail_url: str
    positions: dict[str, int]
    #: each position's itemAttributes as registered: {positionId: {name: value}}
    attributes: dict[str, dict[str, str]] = attrs.Factory(dict)
    status: int = REGISTERED
    deposited: int = 0
    refunded: int = 0
    qr_id: str = ""
    created_ms: int = 0
    #: when the money was captured (unix milliseconds), once deposited
    deposited_ms: int | None = None
    #: the orderBundle's customerDetails (the receipt's contact), as registered
    customer: dict[str, str] = attrs.Factory(dict)
    #: the whole orderBundle as registered (None: the order had none)
    bundle: dict[str, Any] | None = None
    description: str = ""
    #: register.do's ``clientId`` (the binding's owner), "" without one
    client_id: str = ""
    #: register.do's ``jsonParams``, answered as ``merchantOrderParams``
    json_params: dict[str, str] = attrs.Factory(dict)
    #: the binding the order was paid with, or created by paying it
    binding: _Binding | None = None
    #: recurrentPayment.do made it (a charge without the client)
    recurrent: bool = False
    action_code: int = 0

    def extended(self, lower_deposited: bool = False) -> dict[str, Any]:
        deposited = self.deposited - self.refunded if lower_deposited else self.deposited
        extra: dict[str, Any] = {}
        if self.json_params:
            extra["merchantOrderParams"] = [
                {"name": k, "value": v} for k, v in self.json_params.items()
            ]
        if self.binding is not None:
            # what the card is known by, never the card itself
            extra["cardAuthInfo"] = {
                "maskedPan": self.binding.masked_pan,
                "expiration": self.binding.expiry,
                "paymentSystem": "MIR",
            }
            if self.client_id:
                extra["bindingInfo"] = {
                    "clientId": self.client_id,
                    "bindingId": self.binding.id,
                }
        return {
            "errorCode": "0",
            "errorMessage": "Успешно",
            "orderNumber": self.number,
            "orderStatus": self.status,
            "actionCode": self.action_code,
            "actionCodeDescription": _ACTION_TEXT.get(self.action_code, ""),
            **extra,
            "amount": self.amount,
            "currency": "643",
            "date": self.created_ms,
            # one-stage: authorised and deposited at once (unix milliseconds, as "date")
            **(
                {"authDateTime": self.deposited_ms, "depositedDate": self.deposited_ms}
                if self.deposited_ms is not None
                else {}
            ),
            "attributes": [{"name": "mdOrder", "value": self.id}],
            "paymentAmountInfo": {
                "paymentState": _STATE_NAMES[self.status],
                "approvedAmount": self.deposited,
                "depositedAmount": deposited,
                "refundedAmount": self.refunded,
            },
        }


@attrs.define
class _Binding:
    """A card bound to a client (связка): no card data beyond the masked number."""

    id: str
    client_id: str
    masked_pan: str
    expiry: str  # YYYYMM, the card's
    #: made by a first payment with the recurring jsonParams: recurrentPayment.do may use it
    recurring: bool
    active: bool = True
    #: recurrentPayment.do charges that went through, and what they took (kopecks)
    charges: int = 0
    taken: int = 0

    def expired(self, today: dt.date) -> bool:
        return int(self.expiry) < today.year * 100 + today.month


class SberSimulator(LoopbackSimulator[Switches, dict[str, str]]):
    """The simulated acquirer. Use as a context manager, or :meth:`start` / :meth:`stop`.

    :param user_name: / :param password: the API credentials (form fields);
    :param token: an alternative credential (form field ``token``), if not None;
    :param callback_secret: the HMAC key of callback checksums;
    :param callback_url: where callbacks go (None: not sent); ``callback_method`` GET/POST.
    """

    duplicate_switch = "callback_duplicate_rate"
    reorder_switch = "callback_reorder_rate"
    drop_switch = "callback_drop_rate"
    delay_switch = None
    send_held_with_next = False  # a held callback waits until the outbox is idle
    transport_name = "sber-callbacks"

    def __init__(
        self,
        *,
        user_name: str = "sim-api",
        password: str = "sim-password",
        token: str | None = None,
        callback_secret: bytes = b"sim-callback-secret",
        callback_url: str | None = None,
        callback_method: str = "GET",
        switches: Switches | None = None,
        seed: int | None = None,
    ) -> None:
        if callback_method not in ("GET", "POST"):
            raise ValueError("callbacks are sent by GET or POST")
        self.user_name = user_name
        self.password = password
        self.token = token
        self.callback_secret = callback_secret
        self.callback_url = callback_url
        self.callback_method = callback_method
        super().__init__(
            _make_handler(self),
            switches=switches or Switches(),
            seed=seed,
            name="sber-simulator",
            worker_name="sber-callbacks",
        )
        self._orders: dict[str, _Order] = {}
        self._by_number: dict[str, str] = {}
        self._bindings: dict[str, _Binding] = {}
        self._cards = 0
        #: the JSON bodies of every ``recurrentPayment.do`` call, credentials removed, for
        #: tests of the fields on the wire
        self.recurrent_requests: list[dict[str, Any]] = []
        #: the forms of every ``register.do`` call, credentials removed
        self.register_requests: list[dict[str, str]] = []
        #: every API call by method name, for tests (e.g. no second register.do)
        self.calls: list[str] = []

    @property
    def callbacks_sent(self) -> int:
        return self.webhooks_sent

    @property
    def callbacks_dropped(self) -> int:
        return self.webhooks_dropped

    @property
    def callbacks_duplicated(self) -> int:
        return self.webhooks_duplicated

    @property
    def callbacks_reordered(self) -> int:
        return self.webhooks_reordered

    @property
    def rest_url(self) -> str:
        """What the adapter is configured with: ``<base>/payment/rest``."""
        return self.base_url + REST_PREFIX

    @property
    def form_url_template(self) -> str:
        """The payment page of an order, ``{order_id}`` standing for its ``mdOrder``."""
        return f"{self.base_url}{PAGE_PATH}?mdOrder={{order_id}}"

    # -- the acquirer's side, in-process -------------------------------------------------

    def orders_for(self, order_number: str) -> int:
        """How many orders carry ``order_number`` (0 or 1: it is unique per merchant)."""
        with self._lock:
            return 1 if order_number in self._by_number else 0

    def order_status(self, md_order: str) -> int:
        with self._lock:
            return self._orders[md_order].status

    def extended(self, md_order: str) -> dict[str, Any]:
        """What ``getOrderStatusExtended.do`` answers for an order (no auth, in-process)."""
        with self._lock:
            return self._orders[md_order].extended(self.switches.lower_deposited_on_refund)

    def positions(self, md_order: str) -> dict[str, int]:
        """The registered orderBundle positions of an order: {positionId: kopecks}."""
        with self._lock:
            return dict(self._orders[md_order].positions)

    def item_attributes(self, md_order: str) -> dict[str, dict[str, str]]:
        """The registered positions' ``itemAttributes``: {positionId: {name: value}}."""
        with self._lock:
            return {k: dict(v) for k, v in self._orders[md_order].attributes.items()}

    def customer_details(self, md_order: str) -> dict[str, str]:
        """The registered orderBundle's ``customerDetails`` (``{}`` when it had none)."""
        with self._lock:
            return dict(self._orders[md_order].customer)

    def order_bundle(self, md_order: str) -> dict[str, Any] | None:
        """The order's ``orderBundle`` as registered (None when it had none)."""
        with self._lock:
            bundle = self._orders[md_order].bundle
            return json.loads(json.dumps(bundle)) if bundle is not None else None

    def description_of(self, md_order: str) -> str:
        """The order's ``description`` as registered (``""`` without one)."""
        with self._lock:
            return self._orders[md_order].description

    def binding_charges(self, binding_id: str) -> int:
        """How many recurrentPayment.do charges of a binding went through."""
        with self._lock:
            binding = self._bindings.get(binding_id)
            return binding.charges if binding is not None else 0

    def binding_taken(self, binding_id: str) -> int:
        """What recurrentPayment.do charges of a binding took, in kopecks."""
        with self._lock:
            binding = self._bindings.get(binding_id)
            return binding.taken if binding is not None else 0

    def binding_usable(self, binding_id: str) -> bool:
        """Whether the binding exists, is active and its card has not expired."""
        with self._lock:
            binding = self._bindings.get(binding_id)
            return binding is not None and binding.active and not binding.expired(_today())

    def expire_card(self, binding_id: str) -> None:
        """The bound card expires (its expiry moves to last month): the issuer declines
        charges with actionCode 101, and getBindings.do no longer lists it."""
        with self._lock:
            binding = self._bindings[binding_id]
            today = _today()
            month = today.year * 12 + today.month - 2  # last month, 0-based months
            binding.expiry = f"{month // 12:04d}{month % 12 + 1:02d}"

    def approve(self, md_order: str, *, at: dt.datetime | None = None) -> None:
        """The client paid on the payment page (one-stage: deposited at once).

        ``at``: the capture time (aware), answered as ``depositedDate``; now by default.
        An order registered with ``clientId`` binds the card to the client.
        """
        with self._lock:
            order = self._pending(md_order)
            order.status = DEPOSITED
            order.deposited = order.amount
            moment = at.timestamp() if at is not None else time.time()
            order.deposited_ms = round(moment * 1000)
            order.binding = self._new_card(order)
            self._emit(order, "deposited", 1)

    def _new_card(self, order: _Order) -> _Binding:
        """The card the client paid with on the page; bound when the order has a client."""
        self._cards += 1
        today = _today()
        binding = _Binding(
            id=str(uuid.uuid4()),
            client_id=order.client_id,
            # a test card's masked number: the first six and the last four digits
            masked_pan=f"220220**{(4400 + self._cards) % 10000:04d}",
            expiry=f"{today.year + 3:04d}{today.month:02d}",
            recurring=all(order.json_params.get(k) for k in RECURRING_PARAMS),
        )
        if order.client_id:
            self._bindings[binding.id] = binding
        return binding

    def decline(self, md_order: str) -> None:
        """The issuer declined the card."""
        with self._lock:
            order = self._pending(md_order)
            order.status = DECLINED
            order.action_code = PAGE_DECLINE
            self._emit(order, "deposited", 0)

    def expire(self, md_order: str) -> None:
        """The client never paid: declined by timeout."""
        with self._lock:
            order = self._pending(md_order)
            order.status = DECLINED
            order.action_code = PAGE_DECLINE
            self._emit(order, "declinedByTimeout", 1)

    def _pending(self, md_order: str) -> _Order:
        order = self._orders.get(md_order)
        if order is None:
            raise _Refused(6, "Заказ не найден")
        if order.status not in (REGISTERED, ACS):
            raise _Refused(7, "Заказ уже оплачен или отклонён")
        return order

    # -- the REST API --------------------------------------------------------------------

    def handle_api(self, method: str, form: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """One call to ``/payment/rest/<method>``: (HTTP status, JSON answer).

        ``form`` is the form, or for ``recurrentPayment.do`` the JSON body's object.
        """
        with self._lock:
            self.calls.append(method)
        fail, lose, stall = self._take_next()
        with self._lock:
            if method in self.switches.lose_method_next:
                self.switches.lose_method_next.remove(method)
                lose = True
        self._stall(stall)
        if self._fails(fail):
            return 500, {"error": "simulated failure"}
        try:
            self._authenticate(form)
            with self._lock:  # each call is one step: no twin can slip in between
                answer = self._route(method, form)
        except _Refused as exc:
            if method == RECURRENT:
                # recurrentPayment.do tells an error in its own shape
                error = {"code": str(exc.code), "message": exc.message}
                answer = {"success": False, "error": {**error, "description": exc.message}}
            else:
                answer = {"errorCode": str(exc.code), "errorMessage": exc.message}
        if self._loses(lose):
            return 500, {"error": "simulated failure after the work was done"}
        return 200, answer

    def _authenticate(self, form: Mapping[str, Any]) -> None:
        if self.token is not None and "token" in form:
            ok = hmac.compare_digest(str(form["token"]).encode(), self.token.encode())
        else:
            ok = hmac.compare_digest(
                str(form.get("userName", "")).encode(), self.user_name.encode()
            ) & hmac.compare_digest(str(form.get("password", "")).encode(), self.password.encode())
        if not ok:
            raise _Refused(5, "Доступ запрещён")

    def _route(self, method: str, form: Mapping[str, Any]) -> dict[str, Any]:
        if method == RECURRENT:
            return self._recurrent(form)
        if method == "getBindings.do":
            return self._get_bindings(form)
        if method == "unBindCard.do":
            return self._unbind(form)
        if method == "register.do":
            return self._register(form)
        if method == "getOrderStatusExtended.do":
            return self._find(form).extended(self.switches.lower_deposited_on_refund)
        if method == "refund.do":
            return self._refund(form)
        if method == "decline.do":
            return self._decline(form)
        if method == "reverse.do":
            return self._reverse(form)
        if method == "sbp/c2b/qr/dynamic/get.do":
            return self._qr(form)
        raise _Refused(4, f"Неизвестный метод {method}")

    def _find(self, form: Mapping[str, str]) -> _Order:
        md_order = form.get("orderId") or self._by_number.get(form.get("orderNumber", ""), "")
        if not form.get("orderId") and not form.get("orderNumber"):
            raise _Refused(4, "Не указан orderId или orderNumber")
        order = self._orders.get(md_order)
        if order is None:
            raise _Refused(6, "Заказ не найден")
        return order

    def _register(self, form: Mapping[str, str]) -> dict[str, Any]:
        number = form.get("orderNumber", "")
        if not number or len(number) > 32:
            raise _Refused(4, "Неверный номер заказа")
        amount = _kopecks(form.get("amount"), "amount")
        if amount <= 0:
            raise _Refused(4, "Сумма заказа должна быть положительной")
        if not form.get("returnUrl"):
            raise _Refused(4, "Не указан returnUrl")
        if form.get("currency", "643") != "643":
            raise _Refused(3, "Неизвестная валюта")
        positions, attributes = _bundle_positions(form.get("orderBundle"), amount)
        customer = _bundle_customer(form.get("orderBundle"))
        json_params = _json_params(form.get("jsonParams"))
        client_id = form.get("clientId", "")
        if len(client_id) > 255:
            raise _Refused(4, "Неверный clientId")
        if any(k in json_params for k in RECURRING_PARAMS):
            _check_recurring(json_params, client_id)
        self.register_requests.append(_without_credentials(form))
        if number in self._by_number:
            raise _Refused(1, "Заказ с таким номером уже обработан")
        order = _Order(
            id=str(uuid.uuid4()),
            number=number,
            amount=amount,
            return_url=form["returnUrl"],
            fail_url=form.get("failUrl", form["returnUrl"]),
            positions=positions,
            attributes=attributes,
            customer=customer,
            bundle=json.loads(form["orderBundle"]) if form.get("orderBundle") else None,
            description=form.get("description", ""),
            created_ms=int(time.time() * 1000),
            client_id=client_id,
            json_params=json_params,
        )
        self._orders[order.id] = order
        self._by_number[number] = order.id
        return {"orderId": order.id, "formUrl": self.form_url_template.format(order_id=order.id)}

    def _recurrent(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """recurrentPayment.do: one charge of a recurring binding, without the client.

        The order is registered and paid in one step; the issuer's answer is the order's
        state (deposited, or declined with its actionCode). ``orderNumber`` is unique per
        merchant here as in register.do, so a repeat registers nothing and charges nothing.
        """
        self.recurrent_requests.append(_without_credentials(body))
        if not body.get("_json"):
            raise _Refused(4, "Тело запроса должно быть в формате JSON")
        number = str(body.get("orderNumber") or "")
        if not number or len(number) > 32:
            raise _Refused(4, "Неверный номер заказа")
        raw_amount = body.get("amount")
        if not isinstance(raw_amount, int) or isinstance(raw_amount, bool) or raw_amount <= 0:
            raise _Refused(4, "Неверное значение amount")
        if str(body.get("currency", "643")) != "643":
            raise _Refused(4, "Неизвестная валюта")
        binding_id = str(body.get("bindingId") or "")
        if not binding_id:
            raise _Refused(4, "Не указан bindingId")
        if number in self._by_number:
            raise _Refused(1, "Заказ с таким номером уже обработан")
        binding = self._bindings.get(binding_id)
        if binding is None or not binding.active:
            raise _Refused(2, "Связка не найдена или неактивна")
        if not binding.recurring:
            raise _Refused(4, "Связка не предназначена для рекуррентных платежей")
        order = _Order(
            id=str(uuid.uuid4()),
            number=number,
            amount=raw_amount,
            return_url="",
            fail_url="",
            positions={},
            description=str(body.get("description", "")),
            created_ms=int(time.time() * 1000),
            client_id=binding.client_id,
            binding=binding,
            recurrent=True,
        )
        self._orders[order.id] = order
        self._by_number[number] = order.id
        if self.switches.decline_charges_next:
            order.action_code = self.switches.decline_charges_next.pop(0)
        elif binding.expired(_today()):
            order.action_code = EXPIRED_CARD
        if order.action_code:
            order.status = DECLINED
            self._emit(order, "deposited", 0)
        else:
            order.status = DEPOSITED
            order.deposited = order.amount
            order.deposited_ms = round(time.time() * 1000)
            binding.charges += 1
            binding.taken += order.amount
            self._emit(order, "deposited", 1)
        # the request was processed: whether the issuer paid is the order's state
        return {
            "success": True,
            "data": {"orderId": order.id},
            "orderStatus": order.extended(self.switches.lower_deposited_on_refund),
        }

    def _get_bindings(self, form: Mapping[str, Any]) -> dict[str, Any]:
        client_id = str(form.get("clientId") or "")
        if not client_id:
            raise _Refused(4, "Не указан clientId")
        show_expired = str(form.get("showExpired", "false")).lower() == "true"
        today = _today()
        found = [
            {"bindingId": b.id, "maskedPan": b.masked_pan, "expiryDate": b.expiry}
            for b in self._bindings.values()
            if b.client_id == client_id and b.active and (show_expired or not b.expired(today))
        ]
        if not found:
            raise _Refused(2, "Информация не найдена")
        return {"errorCode": "0", "errorMessage": "Успешно", "bindings": found}

    def _unbind(self, form: Mapping[str, Any]) -> dict[str, Any]:
        binding = self._bindings.get(str(form.get("bindingId") or ""))
        if binding is None or not binding.active:
            raise _Refused(2, "Связка не найдена или уже неактивна")
        binding.active = False
        return {"errorCode": "0", "errorMessage": "Успешно"}

    def _refund(self, form: Mapping[str, str]) -> dict[str, Any]:
        order = self._find({"orderId": form.get("orderId", "") or "-"})
        amount = _kopecks(form.get("amount"), "amount")
        if order.status not in (DEPOSITED, REFUNDED):
            raise _Refused(7, "Платёж должен быть в корректном состоянии")
        left = order.deposited - order.refunded
        expected = form.get("expectedDepositedAmount")
        if expected is not None and _kopecks(expected, "expectedDepositedAmount") != left:
            raise _Refused(7, "Сумма к возврату изменилась (expectedDepositedAmount)")
        if amount <= 0 or amount > left:
            raise _Refused(7, "Сумма возврата превышает сумму списания")
        if self.switches.refuse_refunds_next > 0:
            self.switches.refuse_refunds_next -= 1
            raise _Refused(7, "Возврат отклонён банком")
        items = form.get("refundItems")
        if items:
            try:
                parts = json.loads(items)["items"]
                total = sum(int(p["itemAmount"]) for p in parts)
                ids = {str(p["positionId"]) for p in parts}
            except (ValueError, KeyError, TypeError):
                raise _Refused(4, "Неверный формат refundItems") from None
            if total != amount:
                raise _Refused(4, "Сумма позиций возврата не равна сумме возврата")
            if order.positions and not ids <= set(order.positions):
                raise _Refused(4, "Позиция возврата не найдена в корзине заказа")
        order.refunded += amount
        order.status = REFUNDED
        self._emit(order, "refunded", 1)
        return {"errorCode": "0", "errorMessage": "Успешно"}

    def _decline(self, form: Mapping[str, str]) -> dict[str, Any]:
        # decline.do ends an order nobody has paid (orderId or orderNumber); a paid, held,
        # reversed or declined one is in the wrong state for it
        order = self._find(form)
        if order.status not in (REGISTERED, ACS):
            raise _Refused(7, "Отклонение невозможно: заказ в неверном состоянии")
        order.status = REVERSED
        self._emit(order, "reversed", 1)  # the callback's operation name is unverified
        return {"errorCode": "0", "errorMessage": "Успешно"}

    def _reverse(self, form: Mapping[str, str]) -> dict[str, Any]:
        # reverse.do undoes a payment: a two-stage hold, or a one-stage deposit nothing was
        # refunded from (the bank's same-day limit is not modelled), once; an unpaid order
        # is declined with decline.do instead
        order = self._find({"orderId": form.get("orderId", "") or "-"})
        if order.status not in (HOLD, DEPOSITED):
            raise _Refused(7, "Отмена невозможна: заказ в неверном состоянии")
        order.status = REVERSED
        self._emit(order, "reversed", 1)
        return {"errorCode": "0", "errorMessage": "Успешно"}

    def _qr(self, form: Mapping[str, str]) -> dict[str, Any]:
        order = self._find({"orderId": form.get("mdOrder", "") or "-"})
        if order.status not in (REGISTERED, ACS):
            raise _Refused(7, "Заказ не ожидает оплаты")
        if not order.qr_id:
            order.qr_id = "AS" + secrets.token_hex(14).upper()
        # opaque to the merchant (the real one is https://qr.nspk.ru/…): here it opens the page
        payload = self.form_url_template.format(order_id=order.id) + "&qrId=" + order.qr_id
        return {"errorCode": "0", "qrId": order.qr_id, "payload": payload, "qrStatus": "STARTED"}

    # -- the payment page ----------------------------------------------------------------

    def page(self, md_order: str) -> str:
        with self._lock:
            order = self._orders.get(md_order)
            if order is None:
                raise _Refused(6, "Заказ не найден")
            status, total = order.status, order.amount
        buttons = (
            '<form method="post"><button name="action" value="pay">Оплатить</button> '
            '<button name="action" value="decline">Отклонить</button></form>'
            if status in (REGISTERED, ACS)
            else f"<p>orderStatus {status}</p>"
        )
        return (
            '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Sber simulator'
            f"</title></head><body><p>{html.escape(f'{total / 100:.2f}')} ₽</p>"
            f"<p>No card data is asked for or kept here.</p>{buttons}</body></html>"
        )

    def press(self, md_order: str, action: str) -> str:
        """A button of the page; returns the URL the browser is sent to."""
        self._press_button(md_order, action, _Refused(4, "unknown action"))
        with self._lock:
            order = self._orders[md_order]
            return order.return_url if order.status == DEPOSITED else order.fail_url

    # -- callbacks -----------------------------------------------------------------------

    def callback_params(self, order: _Order, operation: str, status: int) -> dict[str, str]:
        params = {
            "mdOrder": order.id,
            "orderNumber": order.number,
            "operation": operation,
            "status": str(status),
        }
        params["checksum"] = checksum(self.callback_secret, params)
        return params

    def _emit(self, order: _Order, operation: str, status: int) -> None:
        params = self.callback_params(order, operation, status)
        self._enqueue(params)

    def _target(self, item: dict[str, str]) -> str | None:
        return self.callback_url

    def _send_once(self, transport: HttpTransport, params: dict[str, str]) -> Outcome:
        query = urllib.parse.urlencode(params)
        if self.callback_method == "GET":
            transport.request("GET", "?" + query, ok_statuses=tuple(range(400, 500)))
        else:
            transport.request(
                "POST",
                "",
                body=query.encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                ok_statuses=tuple(range(400, 500)),
            )
        return "sent"


RECURRENT = "recurrentPayment.do"
_CREDENTIALS = frozenset({"userName", "password", "token", "_json"})


def _today() -> dt.date:
    # the acquirer's calendar (Moscow), not the host's
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=3))).date()


def _without_credentials(form: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k not in _CREDENTIALS}


def _json_params(raw: str | None) -> dict[str, str]:
    """register.do's ``jsonParams``: a JSON object of strings (``{}`` without one)."""
    if not raw:
        return {}
    try:
        params = json.loads(raw)
    except ValueError:
        raise _Refused(4, "Неверный формат jsonParams") from None
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise _Refused(4, "Неверный формат jsonParams")
    return {str(k): v for k, v in params.items()}


def _check_recurring(params: Mapping[str, str], client_id: str) -> None:
    """A first payment for recurring charges: both fields, a day count, a date, a client."""
    frequency, expiry = (params.get(k, "") for k in RECURRING_PARAMS)
    if not client_id:
        raise _Refused(4, "Для рекуррентного платежа требуется clientId")
    if not (frequency.isdigit() and 1 <= int(frequency) <= 28):
        raise _Refused(4, "Неверное значение recurringFrequency")
    try:
        dt.datetime.strptime(expiry, "%Y%m%d")
    except ValueError:
        raise _Refused(4, "Неверное значение recurringExpiry") from None


def _kopecks(value: str | None, name: str) -> int:
    if value is None or not value.isascii() or not value.isdigit():
        raise _Refused(4, f"Неверное значение {name}")
    return int(value)


#: the codes an itemAttributes value may take: ``paymentMethod`` (tag 1214) 1..7,
#: ``paymentObject`` (tag 1212) 1..33, ``agent_info.type`` Sber's own list 1..7 (3 платёжный
#: агент; not tag 1222's bit value)
_ATTRIBUTE_CODES = {
    "paymentMethod": range(1, 8),
    "paymentObject": range(1, 34),
    "agent_info.type": range(1, 8),
}


def _bundle_positions(
    raw: str | None, amount: int
) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    """The positions of an ``orderBundle``: {positionId: itemAmount}, summing to ``amount``,
    and each position's ``itemAttributes``."""
    if not raw:
        return {}, {}
    try:
        items = json.loads(raw)["cartItems"]["items"]
        positions = {str(i["positionId"]): int(i["itemAmount"]) for i in items}
        attributes: dict[str, dict[str, str]] = {}
        for item in items:
            if not item["name"] or "taxType" not in item["tax"]:
                raise ValueError("name and tax.taxType are required")
            these = {a["name"]: str(a["value"]) for a in item["itemAttributes"]["attributes"]}
            for name, codes in _ATTRIBUTE_CODES.items():
                if name in these and not (these[name].isdigit() and int(these[name]) in codes):
                    raise ValueError(f"{name} {these[name]!r} is not a known code")
            if "agent_info.type" in these and "supplier_info.inn" not in these:
                raise ValueError("an agent position names its supplier")
            attributes[str(item["positionId"])] = these
    except (ValueError, KeyError, TypeError) as exc:
        raise _Refused(4, f"Неверный формат orderBundle: {exc}") from None
    if len(positions) != len(items) or sum(positions.values()) != amount:
        raise _Refused(4, "Сумма позиций корзины не равна сумме заказа")
    return positions, attributes


#: what the simulator takes in ``customerDetails``: an address with a dotted domain, and a
#: phone as digits (Sber documents ``(+7|7|8)?`` and ten digits; others are let through)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9]{10,15}")


def _bundle_customer(raw: str | None) -> dict[str, str]:
    """The ``customerDetails`` of an orderBundle: optional (the receipt then has no contact
    from the shop), but an address or phone given must be one."""
    if not raw:
        return {}
    try:
        details = json.loads(raw).get("customerDetails") or {}
    except (ValueError, AttributeError):
        return {}  # _bundle_positions refused it already
    if not isinstance(details, dict):
        raise _Refused(4, "Неверный формат orderBundle: customerDetails")
    out: dict[str, str] = {}
    for key, pattern in (("email", _EMAIL), ("phone", _PHONE)):
        value = details.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _Refused(4, f"Неверный формат orderBundle: customerDetails.{key}")
        out[key] = value
    return out


def _make_handler(sim: SberSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(SimulatorHandler):
        server_version = "pes-sber-simulator"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no request logs: forms carry credentials

        def _form(self) -> dict[str, Any]:
            raw = self._body()
            if "json" in (self.headers.get("Content-Type") or "").lower():
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                # "_json" marks the body's type for the methods that need one
                return {**body, "_json": True} if isinstance(body, dict) else {"_json": True}
            return dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))

        def _dispatch(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            form = self._form() if method == "POST" else {}
            query = dict(urllib.parse.parse_qsl(url.query))
            try:
                if url.path.startswith(REST_PREFIX + "/") and method == "POST":
                    status, answer = sim.handle_api(url.path[len(REST_PREFIX) + 1 :], form)
                    body = json.dumps(answer, ensure_ascii=False).encode()
                    self._send(status, body, "application/json; charset=utf-8")
                elif url.path == PAGE_PATH and method == "GET":
                    page = sim.page(query.get("mdOrder", "")).encode()
                    self._send(200, page, "text/html; charset=utf-8")
                elif url.path == PAGE_PATH:
                    target = sim.press(query.get("mdOrder", ""), form.get("action", ""))
                    self._send(303, b"", "text/plain", Location=target)
                else:
                    self._send(404, b"not found", "text/plain")
            except _Refused as exc:
                text = json.dumps({"errorCode": str(exc.code), "errorMessage": exc.message})
                self._send(400, text.encode(), "application/json; charset=utf-8")

    return Handler
