"""Notification channels: how the service reaches a person (a login code by SMS, …).

* :mod:`~pes_sdk.notifications.contract`: :class:`Notification`, :class:`SendResult`,
  :class:`NotificationChannel` (one provider's protocol) and
  :class:`NotificationChannelFactory` (what the ``pes_notification_channels`` hook returns);
* :mod:`~pes_sdk.notifications.errors`: the typed errors, and which may be retried.

The kit's default channel is ``outbox`` (distribution ``pes-sdk-outbox``), which appends
each message as a JSON line to a file. See docs/hooks.md.
"""

from pes_sdk.notifications.contract import (
    MAX_TEXT_LENGTH,
    Notification,
    NotificationChannel,
    NotificationChannelFactory,
    SendResult,
)
from pes_sdk.notifications.errors import (
    ChannelError,
    ChannelUnavailable,
    RecipientRefused,
    UnknownChannel,
    WrongKind,
)

__all__ = [
    "MAX_TEXT_LENGTH",
    "ChannelError",
    "ChannelUnavailable",
    "Notification",
    "NotificationChannel",
    "NotificationChannelFactory",
    "RecipientRefused",
    "SendResult",
    "UnknownChannel",
    "WrongKind",
]
