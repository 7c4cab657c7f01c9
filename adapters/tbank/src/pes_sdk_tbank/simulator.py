"""A local simulator of T-Bank internet acquiring API v2: a real HTTP server on loopback.

It speaks the documented shape (developer.tbank.ru, eacq): every method is ``POST
/v2/<Method>`` with a JSON body carrying ``TerminalKey`` and ``Token`` (see
:mod:`pes_sdk_tbank.token`); every answer is HTTP 200 with ``Success`` / ``ErrorCode`` /
``Message`` / ``Details`` (an error is ``Success: false``), except the failures the switches
inject (HTTP 5xx, lost answers, timeouts)::

    POST /v2/Init         TerminalKey, Amount (kopecks), OrderId, Description, NotificationURL,
                          SuccessURL, Receipt{Items[…AgentData, SupplierInfo]} → NEW, PaymentURL
    POST /v2/GetState     PaymentId → Status, Amount
    POST /v2/GetQr        PaymentId, DataType PAYLOAD | IMAGE → Data (СБП; opaque)
    POST /v2/Cancel       PaymentId, Amount (part), Receipt, ExternalRequestId → Status,
                          OriginalAmount, NewAmount
    POST /v2/CheckOrder   OrderId → Payments[{PaymentId, Amount, Status, …}]
    GET|POST /new/{id}    the payment form (pay / decline buttons; no card data)

Notifications are POSTed to the payment's ``NotificationURL`` with the root scalars of the
payment and a ``Token`` made by the same rule; T-Bank treats a notification as delivered only
when the answer is HTTP 200 with the body ``OK``, and sends it again otherwise.

Choices the public documentation leaves open are marked *simulator choice* below and in
docs/gateway-tbank.md: the error codes for "not found" and "duplicate OrderId", and
``OriginalAmount`` / ``NewAmount`` in GetState answers and notifications of refunded payments.
"""

from __future__ import annotations

import base64
import html
import json
import queue
import random
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from pes_sdk.gateways.errors import GatewayError
from pes_sdk.gateways.http import HttpTransport
from pes_sdk_tbank.token import make_token, verify_token

__all__ = ["ErrorCodes", "TBankReport", "TBankSimulator", "TBankSwitches"]


class ErrorCodes:
    """The ``ErrorCode`` values the simulator answers with (strings, as T-Bank sends them)."""

    OK = "0"
    #: *simulator choice*: no payment / no order with that id
    NOT_FOUND = "7"
    #: *simulator choice*: an OrderId already used on this terminal (uniqueness switched on)
    DUPLICATE_ORDER = "8"
    #: *simulator choice*: a request the simulator cannot read (missing/invalid field)
    INVALID = "9"
    #: the token or the TerminalKey/password pair is wrong
    BAD_TOKEN = "204"
    #: *simulator choice*: the operation is not allowed in the payment's status
    BAD_STATUS = "4"
    #: *simulator choice*: a refund larger than what is left
    AMOUNT_EXCEEDED = "5"


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
    #: when set (e.g. ``"Init"``), the ``*_next`` counters count only calls of that method
    only_method: str = ""
    #: refuse a second Init with an OrderId already used (as a terminal may be set up)
    unique_order_ids: bool = True


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

    @property
    def refunded(self) -> int:
        return 0 if self.new_amount is None else self.amount - self.new_amount


class _Refused(Exception):
    def __init__(self, code: str, message: str, details: str = "") -> None:
        self.code, self.message, self.details = code, message, details
        super().__init__(message)


class TBankSimulator:
    """T-Bank's acquiring API on ``127.0.0.1`` (a free port unless one is given).

    :param terminal_key: the ``TerminalKey`` requests must carry.
    :param password: the terminal password tokens are made with.
    """

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
        self.switches = switches or TBankSwitches()
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._payments: dict[int, _Payment] = {}
        self._by_order: dict[str, list[int]] = {}
        self._cancels: dict[str, tuple[str, dict[str, Any]]] = {}  # ExternalRequestId
        self._next_id = 3_000_000_000 + self._rng.randrange(1_000_000)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._held: list[tuple[str, bytes]] = []
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._workers: list[threading.Thread] = []
        self._n_workers = webhook_workers
        #: every request body seen, parsed (for protocol tests); tokens included
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.webhooks_sent = 0
        self.webhooks_dropped = 0
        self.webhooks_duplicated = 0
        self.webhooks_reordered = 0

    # -- life ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> TBankSimulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="tbank-simulator",
                daemon=True,
            )
            self._thread.start()
            for i in range(self._n_workers):
                worker = threading.Thread(target=self._send_loop, name=f"tbank-hooks-{i}")
                worker.daemon = True
                worker.start()
                self._workers.append(worker)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()
        self._workers.clear()

    def __enter__(self) -> TBankSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the acquirer's side, driven in-process ------------------------------------------

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _get(self, payment_id: Any) -> _Payment:
        try:
            payment = self._payments.get(int(str(payment_id)))
        except ValueError:
            payment = None
        if payment is None:
            raise _Refused(ErrorCodes.NOT_FOUND, "Платёж не найден", f"PaymentId {payment_id}")
        return payment

    def approve(self, payment_id: int | str) -> None:
        """The client paid (one-stage): AUTHORIZED, then CONFIRMED, each notified."""
        with self._lock:
            payment = self._get(payment_id)
            self._require(payment, _UNPAID)
            for status in ("AUTHORIZED", "CONFIRMED"):
                payment.status = status
                self._notify(payment, success=True)

    def decline(self, payment_id: int | str) -> None:
        """The issuer declined: REJECTED, notified with ``Success: false``."""
        with self._lock:
            payment = self._get(payment_id)
            self._require(payment, _UNPAID)
            payment.status = "REJECTED"
            self._notify(payment, success=False, error_code="1051")

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
            counted = not sw.only_method or sw.only_method == method
            fail = counted and sw.fail_next > 0
            lose = counted and not fail and sw.lose_next > 0
            stall = counted and sw.stall_next > 0
            sw.fail_next -= fail
            sw.lose_next -= lose
            sw.stall_next -= stall
        if stall or self._chance(sw.slow_rate):
            time.sleep(sw.api_delay)
        if fail or self._chance(sw.api_error_rate):
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
        if lose or self._chance(sw.lost_answer_rate):
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

    def _call(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
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
        }
        handler = handlers.get(method)
        try:
            if handler is None:
                raise _Refused(ErrorCodes.INVALID, "Метод не найден", method)
            with self._lock:  # check and work in one step: no twin slips in
                result = handler(data)
        except _Refused as exc:
            return self._error(exc.code, exc.message, exc.details)
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
        if payment.new_amount is not None:
            # simulator choice: the refunded sum travels as Cancel's OriginalAmount/NewAmount
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
            "OriginalAmount": payment.amount,
            "NewAmount": payment_left if payment.new_amount is not None else 0,
        }
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
                "ErrorCode": "0",
            }
            for p in (self._payments[i] for i in ids)
        ]
        return {"OrderId": order_id, "Payments": payments}

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
        if action == "pay":
            self.approve(payment_id)
        elif action == "decline":
            self.decline(payment_id)
        else:
            raise _Refused(ErrorCodes.INVALID, "unknown action", action)
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
            # masked card data, as the real notification carries (the adapter drops them)
            "CardId": 900000001,
            "Pan": "430000******0777",
            "ExpDate": "1230",
        }
        if payment.new_amount is not None:
            body["OriginalAmount"] = payment.amount
            body["NewAmount"] = payment.new_amount
        body["Token"] = make_token(body, self.password)
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        copies = 2 if self._chance(self.switches.webhook_duplicate_rate) else 1
        with self._lock:
            self._outstanding += copies
            self.webhooks_duplicated += copies - 1
        for _ in range(copies):
            self._queue.put((payment.notification_url, raw))

    def _send_loop(self) -> None:
        transports: dict[str, HttpTransport] = {}
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                item = self._take_held()
                if item is None:
                    continue
            if item is None:
                return
            if self._chance(self.switches.webhook_reorder_rate):
                with self._lock:
                    self._held.append(item)
                    self.webhooks_reordered += 1
                continue
            batch = [item]
            while (held := self._take_held()) is not None:
                batch.append(held)
            for url, raw in batch:
                transport = transports.get(url)
                if transport is None:
                    transport = HttpTransport(url, timeout=5.0, gateway="tbank-notifications")
                    transports[url] = transport
                self._deliver(transport, raw)
                with self._lock:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _take_held(self) -> tuple[str, bytes] | None:
        with self._lock:
            return self._held.pop(0) if self._held else None

    def _deliver(self, transport: HttpTransport, raw: bytes) -> None:
        if self._chance(self.switches.webhook_drop_rate):
            with self._lock:
                self.webhooks_dropped += 1
            return
        headers = {"Content-Type": "application/json; charset=utf-8"}
        for attempt in range(3):
            try:
                answer = transport.request(
                    "POST", "", body=raw, headers=headers, ok_statuses=tuple(range(400, 500))
                )
            except GatewayError:
                time.sleep(0.01 * (attempt + 1))
                continue
            if answer.status == 200 and answer.body.strip() == b"OK":
                with self._lock:
                    self.webhooks_sent += 1
                return
            if 400 <= answer.status < 500:
                break  # the merchant refused it: its final word
            time.sleep(0.01 * (attempt + 1))  # 200 without "OK": T-Bank sends it again
        with self._lock:
            self.webhooks_dropped += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every notification emitted so far is delivered or given up on."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def _check_receipt(receipt: Any, amount: int) -> None:
    """What T-Bank checks of a 54-ФЗ receipt: items present, each consistent, summing up."""
    if not isinstance(receipt, Mapping):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt: an object")
    items = receipt.get("Items")
    if not isinstance(items, list) or not items:
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt.Items: non-empty")
    if not receipt.get("Email") and not receipt.get("Phone"):
        raise _Refused(ErrorCodes.INVALID, "Неверные параметры", "Receipt: Email or Phone")
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
        total += value
    if total != amount:
        raise _Refused(
            ErrorCodes.INVALID, "Неверные параметры", f"Items sum {total} != Amount {amount}"
        )


def _make_handler(sim: TBankSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # headers and body go separately: avoid ~40 ms stalls
        protocol_version = "HTTP/1.1"
        server_version = "pes-tbank-simulator"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no request logs: bodies carry amounts and order ids

        def _send(self, status: int, body: bytes, content_type: str, **extra: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped waiting (its timeout)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self, verb: str) -> None:
            path = urllib.parse.urlsplit(self.path).path
            parts = [p for p in path.split("/") if p]
            body = self._body()
            try:
                if verb == "POST" and len(parts) == 2 and parts[0] == "v2":
                    status, answer = sim.handle_api(parts[1], body)
                    ctype = "application/json" if status == 200 else "text/html"
                    self._send(status, answer, ctype)
                elif len(parts) == 2 and parts[0] == "new":
                    if verb == "GET":
                        self._send(200, sim.form(parts[1]).encode(), "text/html; charset=utf-8")
                    else:
                        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
                        target = sim.press(parts[1], form.get("action", [""])[0])
                        self._send(303, b"", "text/plain", Location=target)
                else:
                    self._send(404, b"not found", "text/plain")
            except _Refused as exc:
                self._send(400, exc.message.encode(), "text/plain; charset=utf-8")

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

    return Handler
