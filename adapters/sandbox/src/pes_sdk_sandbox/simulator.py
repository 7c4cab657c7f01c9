"""A local acquirer simulator: a real HTTP server on loopback, with switches for bad days.

Why :mod:`http.server` (a ``ThreadingHTTPServer`` in a thread) rather than an ASGI app: the
sandbox is the kit's embedded default, so it must run wherever the core runs with nothing
else installed, start in milliseconds inside a test, and stay on ``127.0.0.1``. It speaks
HTTP/1.1 with keep-alive, which is all a client needs to behave as it would with a real
acquirer.

The API (JSON, ``Authorization: Bearer <api key>``; every POST takes an ``Idempotence-Key``
and a repeat with the same key returns the first answer)::

    POST /v1/payments                 create: {order_id, amount, method, return_url, …}
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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import json
import queue
import random
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from pes_sdk.gateways.errors import GatewayError
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.signing import signature_header
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
    lose_next: int = 0
    stall_next: int = 0


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

    def snapshot(self, base_url: str) -> dict[str, Any]:
        confirmation: dict[str, str]
        if self.method == "sbp":
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
        }


class SandboxError(GatewayError):
    """The simulated acquirer refused a request; ``status`` is the HTTP status it answers."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message, gateway="sandbox")


class AcquirerSimulator:
    """The sandbox acquirer, listening on ``127.0.0.1`` (a free port unless one is given).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    :param api_key: what clients must send as ``Authorization: Bearer …``.
    :param webhook_secret: the HMAC key of webhook signatures.
    :param webhook_url: where webhooks go; None keeps them unsent (set it later).
    :param seed: seeds the switches' randomness, for reproducible chaos.
    """

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
        self.switches = switches or Switches()
        self.clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._payments: dict[str, _Payment] = {}
        self._by_order: dict[str, list[str]] = {}
        self._by_token: dict[str, str] = {}
        self._keys: dict[str, tuple[str, int, bytes]] = {}
        self._refunds: dict[str, Decimal] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._held: list[bytes] = []
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._workers: list[threading.Thread] = []
        self._n_workers = webhook_workers
        self.webhooks_sent = 0
        self.webhooks_dropped = 0
        self.webhooks_duplicated = 0
        self.webhooks_reordered = 0

    # -- life ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> AcquirerSimulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sandbox-acquirer",
                daemon=True,
            )
            self._thread.start()
            for i in range(self._n_workers):
                worker = threading.Thread(
                    target=self._send_loop, name=f"sandbox-webhooks-{i}", daemon=True
                )
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

    def __enter__(self) -> AcquirerSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the acquirer's side, driven in-process ------------------------------------------

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _get(self, payment_id: str) -> _Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise SandboxError(404, f"no payment {payment_id}")
        return payment

    def approve(self, payment_id: str) -> None:
        """The client paid (what the page's "pay" button does)."""
        self._finish(payment_id, "succeeded")

    def decline(self, payment_id: str) -> None:
        """The issuer declined (what the page's "decline" button does)."""
        self._finish(payment_id, "failed")

    def expire(self, payment_id: str) -> None:
        """The client never confirmed: the payment is cancelled."""
        self._finish(payment_id, "cancelled")

    def _finish(self, payment_id: str, status: str) -> None:
        with self._lock:
            payment = self._get(payment_id)
            if payment.status != "pending":
                raise SandboxError(409, f"payment {payment_id} is {payment.status}, not pending")
            payment.status = status
            self._emit(f"payment.{status}", payment)

    def status(self, payment_id: str) -> str:
        with self._lock:
            return self._get(payment_id).status

    def payments_for(self, order_id: uuid.UUID | str) -> list[str]:
        """The acquirer's payment ids created for one merchant order."""
        with self._lock:
            return list(self._by_order.get(str(order_id), ()))

    def report(self) -> AcquirerReport:
        with self._lock:
            paid = [
                p
                for p in self._payments.values()
                if p.status in ("succeeded", "partially_refunded", "refunded")
            ]
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
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SandboxError(400, f"bad payment request: {exc}") from None
        if value <= 0 or method not in ("card", "sberpay", "sbp"):
            raise SandboxError(400, "bad amount or method")
        if lines and sum((amount(str(i["amount"])) for i in lines), ZERO) != value:
            raise SandboxError(400, "receipt items do not sum to the amount")
        with self._lock:
            payment = _Payment(
                id=f"sbx_{secrets.token_hex(12)}",
                order_id=order_id,
                amount=value,
                method=method,
                return_url=return_url,
                qr_token=secrets.token_urlsafe(16),
                lines=lines,
            )
            self._payments[payment.id] = payment
            self._by_order.setdefault(order_id, []).append(payment.id)
            self._by_token[payment.qr_token] = payment.id
            self._emit("payment.pending", payment)
            return payment.snapshot(self.base_url)

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
        sw = self.switches
        with self._lock:
            fail = sw.fail_next > 0
            lose = not fail and sw.lose_next > 0
            stall = sw.stall_next > 0
            sw.fail_next -= fail
            sw.lose_next -= lose
            sw.stall_next -= stall
        if stall or self._chance(sw.slow_rate):
            time.sleep(sw.api_delay)
        if fail or self._chance(sw.api_error_rate):
            return 500, b'{"error": "simulated failure"}'
        key = headers.get("Idempotence-Key")
        if method == "POST":
            if not key:
                return 400, b'{"error": "Idempotence-Key is required"}'
            fingerprint = hashlib.sha256(method.encode() + path.encode() + body).hexdigest()
            with self._lock:  # the check and the work are one step: no twin can slip in
                seen = self._keys.get(key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        return 422, b'{"error": "Idempotence-Key reused for another request"}'
                    status, answer = seen[1], seen[2]
                else:
                    status, answer = self._route(method, path, query, body)
                    if status < 500:
                        self._keys[key] = (fingerprint, status, answer)
        else:
            status, answer = self._route(method, path, query, body)
        if lose or self._chance(sw.lost_answer_rate):
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
            elif method == "GET" and parts == ["v1", "report"]:
                rep = self.report()
                result = {k: str(v) for k, v in attrs.asdict(rep).items()}
            else:
                raise SandboxError(404, f"no route {method} {path}")
        except SandboxError as exc:
            return exc.status, json.dumps({"error": exc.message}).encode()
        except json.JSONDecodeError:
            return 400, b'{"error": "body is not JSON"}'
        return 200, json.dumps(result, ensure_ascii=False).encode()

    # -- the confirmation page -----------------------------------------------------------

    def page(self, payment_id: str) -> str:
        with self._lock:
            p = self._get(payment_id)
            status, total, method = p.status, p.amount, p.method
        esc = html.escape
        buttons = (
            '<form method="post"><button name="action" value="pay">Оплатить / Pay</button> '
            '<button name="action" value="decline">Отклонить / Decline</button></form>'
            if status == "pending"
            else f"<p>Статус / status: <b>{esc(status)}</b></p>"
        )
        return (
            '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
            "<title>Sandbox acquirer</title></head><body>"
            f"<h1>Песочница эквайера / Sandbox acquirer</h1><p>{esc(method)}: "
            f"{esc(str(total))} ₽</p><p>No card data is asked for or kept here.</p>"
            f"{buttons}</body></html>"
        )

    def confirm_from_page(self, payment_id: str, action: str) -> str:
        """Apply a button of the page; return where to send the browser."""
        if action == "pay":
            self.approve(payment_id)
        elif action == "decline":
            self.decline(payment_id)
        else:
            raise SandboxError(400, f"unknown action {action!r}")
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
        copies = 2 if self._chance(self.switches.webhook_duplicate_rate) else 1
        with self._lock:
            self._outstanding += copies
            self.webhooks_duplicated += copies - 1
        for _ in range(copies):
            self._queue.put(body)

    def _send_loop(self) -> None:
        transport: HttpTransport | None = None
        transport_url = None
        while True:
            try:
                body = self._queue.get(timeout=0.05)
            except queue.Empty:
                body = self._take_held()
                if body is None:
                    continue
            if body is None:
                return
            if self._chance(self.switches.webhook_reorder_rate):
                with self._lock:
                    self._held.append(body)
                    self.webhooks_reordered += 1
                continue
            batch = [body]
            held = self._take_held()
            while held is not None:
                batch.append(held)
                held = self._take_held()
            for item in batch:
                if self.webhook_url != transport_url:
                    transport_url = self.webhook_url
                    transport = (
                        HttpTransport(transport_url, timeout=5.0, gateway="sandbox-webhooks")
                        if transport_url
                        else None
                    )
                self._deliver(transport, item)
                with self._lock:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _take_held(self) -> bytes | None:
        with self._lock:
            return self._held.pop(0) if self._held else None

    def _deliver(self, transport: HttpTransport | None, body: bytes) -> None:
        if self.switches.webhook_delay:
            time.sleep(self.switches.webhook_delay)
        if transport is None or self._chance(self.switches.webhook_drop_rate):
            with self._lock:
                self.webhooks_dropped += 1
            return
        for attempt in range(3):
            timestamp = int(self.clock())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature_header(self.webhook_secret, timestamp, body),
            }
            try:
                # a 4xx is the receiver's final word (it refused the webhook): no retry
                transport.request("POST", "", body=body, headers=headers, ok_statuses=CLIENT_ERRORS)
            except GatewayError:
                time.sleep(0.01 * (attempt + 1))
                continue
            with self._lock:
                self.webhooks_sent += 1
            return
        with self._lock:
            self.webhooks_dropped += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every webhook emitted so far is sent, dropped or given up on."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

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
    class Handler(BaseHTTPRequestHandler):
        # headers and body are written separately: without this, Nagle and delayed ACKs
        # add ~40 ms to every kept-alive exchange
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive, as a real acquirer
        server_version = "pes-sandbox-acquirer"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no request logs: paths carry payment ids, bodies amounts

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
                # the client gave up waiting (its timeout): nobody is left to answer
                self.close_connection = True

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

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

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

    return Handler


def utc_from_timestamp(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)
