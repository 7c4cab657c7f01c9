"""pes-sdk-email: the e-mail notification channel, over SMTP.

The ``email`` factory comes through the ``pes_notification_channels`` hook; see
:class:`~pes_sdk_email.plugin.EmailFactory` for its settings and
:mod:`pes_sdk_email.channel` for how SMTP answers map to the channel errors.
"""

from pes_sdk_email.channel import KINDS, EmailChannel, EmailSettings, build_message, message_id
from pes_sdk_email.plugin import SETTINGS, EmailFactory

__all__ = [
    "KINDS",
    "SETTINGS",
    "EmailChannel",
    "EmailFactory",
    "EmailSettings",
    "build_message",
    "message_id",
]
