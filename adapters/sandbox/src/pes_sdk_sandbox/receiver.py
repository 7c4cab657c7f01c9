"""A loopback HTTP endpoint that receives webhooks and hands them to a callable.

In production the service's web framework receives webhooks; this small server does the
same for the sandbox, the demo and tests: it passes the **raw** body and headers, the peer
address and the arrival time as a :class:`~pes_sdk.gateways.models.WebhookRequest` to the
handler, and answers with the status the handler returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pes_sdk.gateways.errors import IllegalTransition, WebhookRejected
from pes_sdk.gateways.models import WebhookRequest
from pes_sdk.gateways.processor import PaymentProcessor
from pes_sdk.gateways.simulation import LoopbackReceiver

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


class WebhookReceiver(LoopbackReceiver):
    """Listens on ``127.0.0.1`` and calls ``handler`` for each POST; :attr:`url` is the URL."""

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/webhooks"):
        super().__init__(handler, path=path, name="webhook-receiver")
