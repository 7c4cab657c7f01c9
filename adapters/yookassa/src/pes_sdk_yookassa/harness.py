"""Drives the simulated ЮKassa's side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` (structurally:
this package does not depend on the suite). Notifications go over real HTTP to a loopback
receiver that records them with their peer address (127.0.0.1); the gateway under test
allows exactly that network (``127.0.0.1/32``) instead of ЮKassa's published ones.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk_yookassa.client import YooKassaGateway
from pes_sdk_yookassa.simulator import Switches, YooKassaSimulator

__all__ = ["LOOPBACK_NETWORKS", "WebhookReceiver", "YooKassaHarness"]

#: what the tests allow as the notification source (the simulator sends from loopback)
LOOPBACK_NETWORKS = ("127.0.0.1/32",)


class WebhookReceiver:
    """Listens on ``127.0.0.1`` and calls ``handler`` for each POST; :attr:`url` is the URL.

    The handler gets the raw body, the headers and the peer address as a
    :class:`WebhookRequest` and returns the HTTP status to answer.
    """

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/yookassa"):
        self.handler = handler
        self.path = path
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> WebhookReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="yookassa-receiver",
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

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            status = 404
            if path == receiver.path:
                status = receiver.handler(
                    WebhookRequest(
                        body=body,
                        headers=list(self.headers.items()),
                        query=query,
                        remote_addr=self.client_address[0],
                    )
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class YooKassaHarness:
    """A simulator, a recording receiver and a gateway allowing loopback, started together."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        switches: Switches | None = None,
        receipts_required: bool = False,
        webhook_networks: Iterable[str] = LOOPBACK_NETWORKS,
        **gateway_options: Any,
    ) -> None:
        self._lock = threading.Lock()
        self._captured: list[WebhookRequest] = []
        self.receiver = WebhookReceiver(self._record)
        self.simulator = YooKassaSimulator(
            switches=switches, seed=1, receipts_required=receipts_required
        )
        self._gateway: YooKassaGateway | None = None
        self._timeout = timeout
        self._networks = tuple(webhook_networks)
        self._options = gateway_options

    def _record(self, request: WebhookRequest) -> int:
        with self._lock:
            self._captured.append(request)
        return 200

    def start(self) -> YooKassaHarness:
        self.receiver.start()
        self.simulator.webhook_url = self.receiver.url
        self.simulator.start()
        self._gateway = YooKassaGateway(
            self.simulator.shop_id,
            self.simulator.secret_key,
            base_url=self.simulator.base_url,
            timeout=self._timeout,
            webhook_networks=self._networks,
            **self._options,
        )
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
        self.simulator.stop()
        self.receiver.stop()

    def __enter__(self) -> YooKassaHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the GatewayHarness methods ------------------------------------------------------

    @property
    def gateway(self) -> YooKassaGateway:
        assert self._gateway is not None, "start the harness first"
        return self._gateway

    def _press(self, payment: GatewayPayment, action: str) -> None:
        # through the confirmation page, as a client's browser would
        pid = urllib.parse.quote(payment.gateway_payment_id, safe="")
        url = f"{self.simulator.root_url}/checkout/{pid}"
        data = urllib.parse.urlencode({"action": action}).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request, timeout=self._timeout).close()
        except urllib.error.HTTPError as exc:  # the 303 to the return URL
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

    def forge_webhook(
        self, event: str, payment_id: str, *, remote_addr: str = "127.0.0.1"
    ) -> WebhookRequest:
        """A notification nobody at ЮKassa sent: the body claims the payment ``succeeded``.

        It comes from an allowed address, as a forger inside the network (or a spoofed
        source) would; the adapter must still trust only the re-fetched payment.
        """
        obj = dict(self.simulator.payment(payment_id))
        obj.update(status="succeeded", paid=True)
        body = json.dumps({"type": "notification", "event": event, "object": obj}).encode()
        return WebhookRequest(
            body=body, headers=[("Content-Type", "application/json")], remote_addr=remote_addr
        )

    def lose_next_answer(self) -> bool:
        self.simulator.switches.lose_next += 1
        return True

    def time_out_next_answer(self) -> bool:
        self.simulator.switches.stall_next += 1
        self.simulator.switches.api_delay = self.gateway.timeout + 0.3
        return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
