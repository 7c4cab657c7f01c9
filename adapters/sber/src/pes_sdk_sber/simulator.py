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

    def extended(self, lower_deposited: bool = False) -> dict[str, Any]:
        deposited = self.deposited - self.refunded if lower_deposited else self.deposited
        return {
            "errorCode": "0",
            "errorMessage": "Успешно",
            "orderNumber": self.number,
            "orderStatus": self.status,
            "actionCode": 0 if self.status != DECLINED else 2001,
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

    def approve(self, md_order: str, *, at: dt.datetime | None = None) -> None:
        """The client paid on the payment page (one-stage: deposited at once).

        ``at``: the capture time (aware), answered as ``depositedDate``; now by default.
        """
        with self._lock:
            order = self._pending(md_order)
            order.status = DEPOSITED
            order.deposited = order.amount
            moment = at.timestamp() if at is not None else time.time()
            order.deposited_ms = round(moment * 1000)
            self._emit(order, "deposited", 1)

    def decline(self, md_order: str) -> None:
        """The issuer declined the card."""
        with self._lock:
            order = self._pending(md_order)
            order.status = DECLINED
            self._emit(order, "deposited", 0)

    def expire(self, md_order: str) -> None:
        """The client never paid: declined by timeout."""
        with self._lock:
            order = self._pending(md_order)
            order.status = DECLINED
            self._emit(order, "declinedByTimeout", 1)

    def _pending(self, md_order: str) -> _Order:
        order = self._orders.get(md_order)
        if order is None:
            raise _Refused(6, "Заказ не найден")
        if order.status not in (REGISTERED, ACS):
            raise _Refused(7, "Заказ уже оплачен или отклонён")
        return order

    # -- the REST API --------------------------------------------------------------------

    def handle_api(self, method: str, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """One call to ``/payment/rest/<method>``: (HTTP status, JSON answer)."""
        with self._lock:
            self.calls.append(method)
        fail, lose, stall = self._take_next()
        self._stall(stall)
        if self._fails(fail):
            return 500, {"error": "simulated failure"}
        try:
            self._authenticate(form)
            with self._lock:  # each call is one step: no twin can slip in between
                answer = self._route(method, form)
        except _Refused as exc:
            answer = {"errorCode": str(exc.code), "errorMessage": exc.message}
        if self._loses(lose):
            return 500, {"error": "simulated failure after the work was done"}
        return 200, answer

    def _authenticate(self, form: Mapping[str, str]) -> None:
        if self.token is not None and "token" in form:
            ok = hmac.compare_digest(form["token"].encode(), self.token.encode())
        else:
            ok = hmac.compare_digest(
                form.get("userName", "").encode(), self.user_name.encode()
            ) & hmac.compare_digest(form.get("password", "").encode(), self.password.encode())
        if not ok:
            raise _Refused(5, "Доступ запрещён")

    def _route(self, method: str, form: Mapping[str, str]) -> dict[str, Any]:
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
        )
        self._orders[order.id] = order
        self._by_number[number] = order.id
        return {"orderId": order.id, "formUrl": self.form_url_template.format(order_id=order.id)}

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

        def _form(self) -> dict[str, str]:
            raw = self._body()
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
