"""Entry point of the outbox: the ``outbox`` factory for ``pes_notification_channels``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import hookimpl
from pes_sdk_outbox.channel import KINDS, OutboxChannel

__all__ = ["OutboxFactory", "pes_notification_channels"]


@attrs.frozen
class OutboxFactory:
    """Builds outbox channels.

    Settings: ``path`` (required), the JSON Lines file every message is appended to (the
    runner passes ``<data folder>/outbox/sms.jsonl``); its folders are made at the first
    message. Building a channel touches nothing but a ``stat`` of the path.
    """

    name: str = "outbox"
    description: str = "sandbox: appends each message as a JSON line to a file"
    kinds: tuple[str, ...] = KINDS

    def create(self, settings: Mapping[str, str]) -> OutboxChannel:
        raw = settings.get("path", "")
        if not raw.strip():
            raise ConfigError(
                "the outbox notification channel needs the setting 'path': "
                "the JSON Lines file messages are appended to"
            )
        path = Path(raw)
        if path.is_dir():
            raise ConfigError(f"outbox path {raw!r} is a folder; give the file to append to")
        return OutboxChannel(path, kinds=self.kinds)


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The outbox, the kit's default notification channel."""
    return [OutboxFactory()]
