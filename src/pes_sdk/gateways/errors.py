"""The errors of payment gateways, under :class:`pes_sdk.errors.PesError`.

Which error a call raises tells the caller what it may do next:

* :class:`GatewayUnavailable` (a 5xx answer, a refused or broken connection): the request
  may or may not have been carried out. Retry it **with the same idempotency key**.
* :class:`GatewayTimeout`: no answer in time; the outcome is unknown. Ask for the status
  before creating anything again.
* :class:`GatewayRefused` (a 4xx answer): the acquirer said no. Retrying cannot help.
* :class:`WebhookRejected`: a notification is not authentic, too old, or about a payment
  we do not know. Answer it with a 4xx and credit nothing.
* :class:`IllegalTransition`: the state machine refuses the move (e.g. failed → succeeded).
"""

from __future__ import annotations

from pes_sdk.errors import PesError

__all__ = [
    "GatewayError",
    "GatewayRefused",
    "GatewayTimeout",
    "GatewayUnavailable",
    "IllegalTransition",
    "InvalidRefund",
    "UnknownPayment",
    "WebhookRejected",
]


class GatewayError(PesError):
    """Something about a payment gateway went wrong. ``gateway`` names it when known."""

    def __init__(self, message: str, *, gateway: str = "") -> None:
        self.message = message
        self.gateway = gateway
        super().__init__(f"{gateway}: {message}" if gateway else message)


class GatewayUnavailable(GatewayError):
    """The acquirer answered 5xx or could not be reached: safe to retry with the same key."""

    def __init__(self, message: str, *, gateway: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(message, gateway=gateway)


class GatewayTimeout(GatewayError):
    """No answer within the timeout: the request may have been carried out. Ask the status."""


class GatewayRefused(GatewayError):
    """The acquirer refused the request (4xx): bad data, bad credentials, wrong state."""

    def __init__(self, message: str, *, gateway: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(message, gateway=gateway)


class UnknownPayment(GatewayError):
    """No payment with that id, at the acquirer or in the service's own book."""


class InvalidRefund(GatewayError):
    """A refund asks for more than is left to refund, or for a line the payment lacks."""


class IllegalTransition(GatewayError):
    """A move the payment state machine does not allow, e.g. ``failed → succeeded``."""

    def __init__(self, current: str, target: str, *, gateway: str = "") -> None:
        self.current = current
        self.target = target
        super().__init__(f"illegal payment state move {current} → {target}", gateway=gateway)


class WebhookRejected(GatewayError):
    """A webhook (notification) refused: ``reason`` is one of :attr:`REASONS`."""

    REASONS = ("signature", "stale", "unknown-payment", "malformed", "source")

    def __init__(self, reason: str, message: str, *, gateway: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown webhook rejection reason {reason!r}")
        self.reason = reason
        super().__init__(f"webhook rejected ({reason}): {message}", gateway=gateway)
