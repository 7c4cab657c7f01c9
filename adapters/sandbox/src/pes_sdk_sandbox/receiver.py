"""A loopback HTTP endpoint that receives webhooks and hands them to a callable.

In production the service's web framework receives webhooks; this small server does the
same for the sandbox, the demo and tests: it passes the **raw** body and headers, the peer
address and the arrival time as a :class:`~pes_sdk.gateways.models.WebhookRequest` to the
handler, and answers with the status the handler returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pes_sdk.gateways.errors import IllegalTransition, WebhookRejected
from pes_sdk.gateways.models import WebhookRequest
from pes_sdk.gateways.processor import PaymentProcessor

__all__ = ["WebhookReceiver", "processor_handler"]

log = logging.getLogger("pes_sdk_sandbox")


def processor_handler(processor: PaymentProcessor) -> Callable[[WebhookRequest], int]:
    """A handler that applies webhooks through ``processor``.

    200 when applied (also for a duplicate or an older event: the acquirer need not resend);
    400 when refused (bad signature, stale, unknown payment: never credited); 409 for an
    illegal move; 500 otherwise, so that the acquirer tries again.
    """

    def handle(request: WebhookRequest) -> int:
        try:
            processor.handle_webhook(request)
        except WebhookRejected as exc:
            log.warning("webhook refused: %s", exc.reason)
            return 400
        except IllegalTransition as exc:
            log.error("webhook with an illegal move: %s", exc)
            return 409
        except Exception:
            log.exception("webhook failed")
            return 500
        return 200

    return handle


class WebhookReceiver:
    """Listens on ``127.0.0.1`` and calls ``handler`` for each POST; :attr:`url` is the URL."""

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/webhooks"):
        self.handler = handler
        self.path = path
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
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
                name="webhook-receiver",
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


def _make_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # headers and body are written separately: without this, Nagle and delayed ACKs
        # add ~40 ms to every kept-alive exchange
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            if path != receiver.path:
                status = 404
            else:
                request = WebhookRequest(
                    body=body,
                    headers=list(self.headers.items()),
                    query=query,
                    remote_addr=self.client_address[0],
                )
                status = receiver.handler(request)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
