"""Billing sources and delivery channels: the contract partner-exchange adapters implement.

* :mod:`~pes_sdk.billing.contract`: :class:`BillingSource` (debt registries from a
  partner), :class:`DeliveryChannel` (payment registries and readings to a partner), their
  factories (what the ``pes_billing_sources`` / ``pes_delivery_channels`` hooks return) and
  :func:`verify_complete`;
* :mod:`~pes_sdk.billing.models`: receipts of deliveries;
* :mod:`~pes_sdk.billing.errors`: the typed errors, and which of them may be retried;
* :mod:`~pes_sdk.billing.retry`: :class:`BillingRetry`, bounded jittered retries.
"""

from pes_sdk.billing.contract import (
    BillingSource,
    BillingSourceFactory,
    DeliveryChannel,
    DeliveryChannelFactory,
    verify_complete,
)
from pes_sdk.billing.errors import (
    RETRYABLE,
    BillingError,
    BillingFault,
    BillingProtocolError,
    BillingTimeout,
    BillingUnavailable,
    ControlTotalsMismatch,
    PagingError,
    RecordsRefused,
    RegistryConflict,
)
from pes_sdk.billing.models import (
    ChannelCapabilities,
    DeliveryReceipt,
    DeliveryStatus,
    ReadingsReceipt,
    RecordOutcome,
    RecordStatus,
    RejectedReading,
)
from pes_sdk.billing.retry import BillingRetry

__all__ = [
    "RETRYABLE",
    "BillingError",
    "BillingFault",
    "BillingProtocolError",
    "BillingRetry",
    "BillingSource",
    "BillingSourceFactory",
    "BillingTimeout",
    "BillingUnavailable",
    "ChannelCapabilities",
    "ControlTotalsMismatch",
    "DeliveryChannel",
    "DeliveryChannelFactory",
    "DeliveryReceipt",
    "DeliveryStatus",
    "PagingError",
    "ReadingsReceipt",
    "RecordOutcome",
    "RecordStatus",
    "RecordsRefused",
    "RegistryConflict",
    "RejectedReading",
    "verify_complete",
]
