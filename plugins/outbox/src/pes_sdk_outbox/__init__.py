"""pes-sdk-outbox: the sandbox notification channel, each message a JSON line in a file.

The ``outbox`` factory comes through the ``pes_notification_channels`` hook; the runner
uses it as its embedded default for login codes (``<data folder>/outbox/sms.jsonl``).
"""

from pes_sdk_outbox.channel import KINDS, OutboxChannel, read_outbox
from pes_sdk_outbox.plugin import OutboxFactory

__all__ = ["KINDS", "OutboxChannel", "OutboxFactory", "read_outbox"]
