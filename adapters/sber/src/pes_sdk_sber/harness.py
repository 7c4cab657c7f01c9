"""Drives the simulated Sber side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` (structurally:
this package does not depend on the suite). Callbacks go over real HTTP to a loopback
:class:`CallbackReceiver` that records them as received.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk_sber.client import SberGateway
from pes_sdk_sber.simulator import SberSimulator, Switches

__all__ = ["CallbackReceiver", "SberHarness"]


class CallbackReceiver:
    """A loopback endpoint for Sber callbacks (GET or POST); hands each to ``handler``."""

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/sber") -> None:
        self.handler = handler
        self.path = path
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def start(self) -> CallbackReceiver:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sber-callback-receiver",
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


def _make_handler(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
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

        do_GET = _handle
        do_POST = _handle

    return Handler


class SberHarness:
    """A simulator, a recording callback receiver and a gateway, started together."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        switches: Switches | None = None,
        callback_method: str = "GET",
    ) -> None:
        self._lock = threading.Lock()
        self._captured: list[WebhookRequest] = []
        self.receiver = CallbackReceiver(self._record)
        self.simulator = SberSimulator(switches=switches, seed=1, callback_method=callback_method)
        self._gateway: SberGateway | None = None
        self._timeout = timeout

    def _record(self, request: WebhookRequest) -> int:
        with self._lock:
            self._captured.append(request)
        return 200

    def start(self) -> SberHarness:
        self.receiver.start()
        self.simulator.callback_url = self.receiver.url
        self.simulator.start()
        self._gateway = gateway_for(self.simulator, timeout=self._timeout)
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
        self.simulator.stop()
        self.receiver.stop()

    def __enter__(self) -> SberHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def gateway(self) -> SberGateway:
        assert self._gateway is not None, "start the harness first"
        return self._gateway

    def _press(self, payment: GatewayPayment, action: str) -> None:
        # through the payment page, as the client's browser would
        url = self.simulator.form_url_template.format(
            order_id=urllib.parse.quote(payment.gateway_payment_id)
        )
        data = urllib.parse.urlencode({"action": action}).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request, timeout=self._timeout).close()
        except urllib.error.HTTPError as exc:  # the 303 to returnUrl / failUrl
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
        return self.simulator.orders_for(order_id.hex)

    def lose_next_answer(self) -> bool:
        self.simulator.switches.lose_next += 1
        return True

    def time_out_next_answer(self) -> bool:
        self.simulator.switches.stall_next += 1
        self.simulator.switches.api_delay = self.gateway.timeout + 0.3
        return True


def gateway_for(sim: SberSimulator, *, timeout: float = 5.0) -> SberGateway:
    """A gateway configured for a running simulator, with its credentials and secret."""
    return SberGateway(
        sim.rest_url,
        user_name=sim.user_name,
        password=sim.password,
        callback_secret=sim.callback_secret,
        timeout=timeout,
        form_url_template=sim.form_url_template,
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
