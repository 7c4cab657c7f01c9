"""Notification channels: how the service reaches a person (a login code by SMS, …).

* :mod:`~pes_sdk.notifications.contract`: :class:`Notification`, :class:`SendResult`,
  :class:`NotificationChannel` (one provider's protocol) and
  :class:`NotificationChannelFactory` (what the ``pes_notification_channels`` hook returns);
* :mod:`~pes_sdk.notifications.errors`: the typed errors, and which may be retried
  (:class:`DeadRecipient`: a dead push token or an unknown mailbox, to delete);
* :mod:`~pes_sdk.notifications.keys`: :class:`SentKeys`, a channel's guard against handing
  one idempotency key over twice;
* :mod:`~pes_sdk.notifications.retry`: :func:`send_with_retries`, bounded retries that
  honour the provider's ``retry_after``;
* :mod:`~pes_sdk.notifications.settings`: :class:`~pes_sdk.notifications.settings.ChannelSettings`,
  the checks every channel factory makes of its settings;
* :mod:`~pes_sdk.notifications.simulation`: the base of the providers' loopback simulators
  (imported by tests and harnesses only: it loads an HTTP server).

The kit's default channel is ``outbox`` (distribution ``pes-sdk-outbox``), which appends
each message as a JSON line to a file; ``email`` (``pes-sdk-email``) sends over SMTP. See
docs/notifications.md and docs/hooks.md.
"""

from pes_sdk.notifications.contract import (
    BUTTON_COUNT_KEY,
    KINDS,
    MAX_BUTTONS,
    MAX_COLLAPSE_BYTES,
    MAX_KEY_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_TITLE_LENGTH,
    Button,
    Notification,
    NotificationChannel,
    NotificationChannelFactory,
    SendResult,
    button_data,
    button_keys,
    check_https_url,
    key_uuid,
)
from pes_sdk.notifications.errors import (
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    RecipientRefused,
    UnknownChannel,
    WrongKind,
)
from pes_sdk.notifications.keys import SentKeys
from pes_sdk.notifications.retry import send_with_retries

__all__ = [
    "BUTTON_COUNT_KEY",
    "KINDS",
    "MAX_BUTTONS",
    "MAX_COLLAPSE_BYTES",
    "MAX_KEY_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_TITLE_LENGTH",
    "Button",
    "ChannelError",
    "ChannelUnavailable",
    "DeadRecipient",
    "Notification",
    "NotificationChannel",
    "NotificationChannelFactory",
    "RecipientRefused",
    "SendResult",
    "SentKeys",
    "UnknownChannel",
    "WrongKind",
    "button_data",
    "button_keys",
    "check_https_url",
    "key_uuid",
    "send_with_retries",
]
