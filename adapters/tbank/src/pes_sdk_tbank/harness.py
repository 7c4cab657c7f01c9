"""Drives the simulated T-Bank side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` (structurally:
this package does not depend on the suite). Notifications go over real HTTP to a small
loopback receiver that records them and answers ``OK``, as a merchant must.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pes_sdk.gateways.errors import IllegalTransition, WebhookRejected
from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk.gateways.processor import PaymentProcessor
from pes_sdk_tbank.client import NOTIFICATION_ANSWER, TBankGateway
from pes_sdk_tbank.simulator import TBankSimulator, TBankSwitches

__all__ = ["NotificationReceiver", "TBankHarness", "notification_handler"]

log = logging.getLogger("pes_sdk_tbank")
PATH = "/tbank/notifications"


def notification_handler(
    processor: PaymentProcessor,
) -> Callable[[WebhookRequest], tuple[int, bytes]]:
    """A receiver handler that applies notifications through ``processor``.

    ``200 OK`` when applied (also a duplicate or an older one: T-Bank need not resend);
    400 when refused (bad Token, unknown payment: never credited); 409 for an illegal move;
    500 otherwise, so that T-Bank sends it again.
    """

    def handle(request: WebhookRequest) -> tuple[int, bytes]:
        try:
            processor.handle_webhook(request)
        except WebhookRejected as exc:
            log.warning("T-Bank notification refused: %s", exc.reason)
            return 400, b"REJECTED"
        except IllegalTransition as exc:
            log.error("T-Bank notification with an illegal move: %s", exc)
            return 409, b"CONFLICT"
        except Exception:
            log.exception("T-Bank notification failed")
            return 500, b"ERROR"
        return 200, NOTIFICATION_ANSWER

    return handle


class NotificationReceiver:
    """Listens on ``127.0.0.1``; each POST goes to ``handler``, whose (status, body) answers it."""

    def __init__(self, handler: Callable[[WebhookRequest], tuple[int, bytes]]) -> None:
        self.handler = handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def __enter__(self) -> NotificationReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> NotificationReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="tbank-receiver",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()


def _receiver_handler(receiver: NotificationReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            if path != PATH:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = WebhookRequest(
                body=body,
                headers=list(self.headers.items()),
                query=query,
                remote_addr=self.client_address[0],
            )
            status, answer = receiver.handler(request)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


class TBankHarness:
    """A simulator, a recording notification receiver and a gateway, started together."""

    def __init__(self, *, timeout: float = 2.0, switches: TBankSwitches | None = None) -> None:
        self._lock = threading.Lock()
        self._captured: list[WebhookRequest] = []
        self.receiver = NotificationReceiver(self._record)
        self.simulator = TBankSimulator(switches=switches, seed=1)
        self._gateway: TBankGateway | None = None
        self._timeout = timeout

    def _record(self, request: WebhookRequest) -> tuple[int, bytes]:
        with self._lock:
            self._captured.append(request)
        return 200, NOTIFICATION_ANSWER

    def start(self) -> TBankHarness:
        self.receiver.start()
        self.simulator.start()
        self._gateway = TBankGateway(
            terminal_key=self.simulator.terminal_key,
            password=self.simulator.password,
            base_url=self.simulator.base_url,
            notification_url=self.receiver.url,
            timeout=self._timeout,
            receipt_email="receipts@service.example",
        )
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
        self.simulator.stop()
        self.receiver.stop()

    def __enter__(self) -> TBankHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the GatewayHarness methods ------------------------------------------------------

    @property
    def gateway(self) -> TBankGateway:
        assert self._gateway is not None, "start the harness first"
        return self._gateway

    def _press(self, payment: GatewayPayment, action: str) -> None:
        # through the payment form, as the client's browser would
        pid = urllib.parse.quote(payment.gateway_payment_id)
        url = f"{self.simulator.base_url}/new/{pid}"
        data = urllib.parse.urlencode({"action": action}).encode()
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(urllib.request.Request(url, data=data), timeout=self._timeout).close()
        except urllib.error.HTTPError as exc:  # the 303 to SuccessURL
            if exc.code != 303:
                raise

    def approve(self, payment: GatewayPayment) -> None:
        self._press(payment, "pay")

    def decline(self, payment: GatewayPayment) -> None:
        self._press(payment, "decline")

    def webhooks(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._captured)

    def settle(self) -> None:
        self.simulator.flush()

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return len(self.simulator.payments_for(order_id))

    def lose_next_answer(self) -> bool:
        # the Init's answer, not the CheckOrder's before it
        self.simulator.switches.only_method = "Init"
        self.simulator.switches.lose_next += 1
        return True

    def time_out_next_answer(self) -> bool:
        # the Init itself times out (a create first asks CheckOrder, which answers at once)
        self.simulator.switches.only_method = "Init"
        self.simulator.switches.stall_next += 1
        self.simulator.switches.api_delay = self.gateway.timeout + 0.3
        return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
