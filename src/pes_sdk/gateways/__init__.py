"""Payment gateways: the contract adapters implement, the state machine, and the processor.

* :mod:`~pes_sdk.gateways.contract`: :class:`PaymentGateway` (one acquirer's protocol) and
  :class:`GatewayFactory` (what the ``pes_payment_gateways`` hook returns);
* :mod:`~pes_sdk.gateways.models`: snapshots, confirmations, refunds, webhooks;
* :mod:`~pes_sdk.gateways.state`: the payment state machine;
* :mod:`~pes_sdk.gateways.processor`: :class:`PaymentProcessor`, the service's book of
  payments: idempotent creates, retries with a stop, webhooks, polling, crediting once;
* :mod:`~pes_sdk.gateways.signing` and :mod:`~pes_sdk.gateways.http`: HMAC webhook
  signatures and an HTTP client with a timeout on every call, for adapters.

See docs/gateways.md.
"""

from pes_sdk.gateways.contract import GatewayFactory, PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    IllegalTransition,
    InvalidRefund,
    UnknownPayment,
    WebhookRejected,
)
from pes_sdk.gateways.models import (
    ChargeOptions,
    Confirmation,
    ConfirmationKind,
    CreateOptions,
    Decline,
    GatewayCapabilities,
    GatewayEvent,
    GatewayPayment,
    PaymentState,
    RefundLine,
    RefundRequest,
    RefundResult,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.gateways.processor import (
    Applied,
    MemoryPaymentStore,
    PaymentEntry,
    PaymentProcessor,
    PaymentStore,
    RetryPolicy,
    new_idempotency_key,
)
from pes_sdk.gateways.state import TRANSITIONS, Move, Outcome, advance, can_move, check_move

__all__ = [
    "TRANSITIONS",
    "Applied",
    "ChargeOptions",
    "Confirmation",
    "ConfirmationKind",
    "CreateOptions",
    "Decline",
    "GatewayCapabilities",
    "GatewayError",
    "GatewayEvent",
    "GatewayFactory",
    "GatewayPayment",
    "GatewayRefused",
    "GatewayTimeout",
    "GatewayUnavailable",
    "IllegalTransition",
    "InvalidRefund",
    "MemoryPaymentStore",
    "Move",
    "Outcome",
    "PaymentEntry",
    "PaymentGateway",
    "PaymentProcessor",
    "PaymentState",
    "PaymentStore",
    "RefundLine",
    "RefundRequest",
    "RefundResult",
    "RetryPolicy",
    "SavedMethod",
    "UnknownPayment",
    "WebhookRejected",
    "WebhookRequest",
    "advance",
    "can_move",
    "check_move",
    "new_idempotency_key",
]
