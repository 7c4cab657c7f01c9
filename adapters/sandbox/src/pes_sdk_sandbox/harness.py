"""Drives the sandbox acquirer's side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` (structurally:
this package does not depend on the suite). Webhooks go over real HTTP to a
:class:`~pes_sdk_sandbox.receiver.WebhookReceiver` that records them.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk_sandbox.client import SandboxGateway
from pes_sdk_sandbox.receiver import WebhookReceiver
from pes_sdk_sandbox.simulator import AcquirerSimulator, Switches

__all__ = ["SandboxHarness"]


class SandboxHarness:
    """A simulator, a recording webhook receiver and a gateway, started together."""

    def __init__(self, *, timeout: float = 2.0, switches: Switches | None = None) -> None:
        self._lock = threading.Lock()
        self._captured: list[WebhookRequest] = []
        self.receiver = WebhookReceiver(self._record)
        self.simulator = AcquirerSimulator(switches=switches, seed=1)
        self._gateway: SandboxGateway | None = None
        self._timeout = timeout

    def _record(self, request: WebhookRequest) -> int:
        with self._lock:
            self._captured.append(request)
        return 200

    def start(self) -> SandboxHarness:
        self.receiver.start()
        self.simulator.webhook_url = self.receiver.url
        self.simulator.start()
        self._gateway = SandboxGateway.for_simulator(self.simulator, timeout=self._timeout)
        return self

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
        self.simulator.stop()
        self.receiver.stop()

    def __enter__(self) -> SandboxHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the GatewayHarness methods ------------------------------------------------------

    @property
    def gateway(self) -> SandboxGateway:
        assert self._gateway is not None, "start the harness first"
        return self._gateway

    def _press(self, payment: GatewayPayment, action: str) -> None:
        # through the confirmation page, as a client's browser would
        url = f"{self.simulator.base_url}/pay/{urllib.parse.quote(payment.gateway_payment_id)}"
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
