"""The contract of a notification channel, and of the factory a plugin provides.

A **notification channel** carries short messages to a person: a one-time login code by
SMS today; pushes and e-mail later (the notifications issue). A channel speaks one
provider's protocol (an SMS gateway's HTTP API, SMTP, FCM) or, for tests and the demo, none
at all: the ``outbox`` channel (distribution ``pes-sdk-outbox``) appends each message as a
JSON line to a file.

A channel sends once per call and never retries on its own: the caller knows whether a
repeat is welcome (a login code is not worth a second SMS; a campaign retries with a stop).
Failures are :mod:`pes_sdk.notifications.errors`. The recipient is personal data (a phone
number under 152-ФЗ): a channel never logs it and never puts it in an error message.

Factories are what the ``pes_notification_channels`` hook returns; building a channel from
settings must not touch the network.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from pes_sdk.notifications.errors import WrongKind

__all__ = [
    "MAX_TEXT_LENGTH",
    "Notification",
    "NotificationChannel",
    "NotificationChannelFactory",
    "SendResult",
]

#: The longest text a notification may carry, in characters (a login code needs about 40;
#: a push or an SMS of several segments stays far below).
MAX_TEXT_LENGTH = 1000


def _non_empty(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a notification's {attribute.name} must be a non-empty string")


def _text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _non_empty(_, attribute, value)
    if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"a notification's text has at most {MAX_TEXT_LENGTH} characters, not {len(value)}"
        )


@attrs.frozen
class Notification:
    """One message to one recipient.

    ``kind`` says how it travels (``"sms"``; ``"push"`` and ``"email"`` later) and so what
    ``to`` is: for ``sms`` a phone number in E.164 (``"+79161234567"``), for ``email`` an
    address, for ``push`` a device token. ``text`` is at most :data:`MAX_TEXT_LENGTH`
    characters. The ``repr`` leaves ``to`` out, so a logged notification names no person.
    """

    kind: str = attrs.field(validator=_non_empty)
    to: str = attrs.field(validator=_non_empty, repr=False)
    text: str = attrs.field(validator=_text)


def _aware_utc(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a datetime with a time zone")


def _to_utc(value: dt.datetime) -> dt.datetime:
    # naive times are refused by the validator, which runs after this converter
    return value.astimezone(dt.UTC) if value.utcoffset() is not None else value


@attrs.frozen
class SendResult:
    """What a channel answers for a notification it handed over.

    ``message_id`` is the provider's id of the message (or the channel's own, when the
    provider gives none); ``accepted_at`` when the provider took it, in UTC. Accepted is
    not delivered: most providers report delivery later, if at all.
    """

    message_id: str = attrs.field(validator=_non_empty)
    accepted_at: dt.datetime = attrs.field(converter=_to_utc, validator=_aware_utc)


class NotificationChannel(abc.ABC):
    """One configured channel: a provider's protocol, with its settings and credentials."""

    #: the channel's name, as its factory is registered (``outbox``, …)
    name: str
    #: the kinds of notification it carries (``("sms",)``, …)
    kinds: tuple[str, ...]

    @abc.abstractmethod
    def send(self, notification: Notification) -> SendResult:
        """Hand ``notification`` to the provider, once.

        Raises :class:`~pes_sdk.notifications.WrongKind` for a kind not in :attr:`kinds`
        (see :meth:`check_kind`), :class:`~pes_sdk.notifications.ChannelUnavailable` when a
        later try may succeed, :class:`~pes_sdk.notifications.RecipientRefused` when it
        cannot for this recipient.
        """

    def check_kind(self, notification: Notification) -> None:
        """Raise :class:`~pes_sdk.notifications.WrongKind` unless this channel carries it."""
        if notification.kind not in self.kinds:
            raise WrongKind(notification.kind, tuple(self.kinds), channel=self.name)

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release connections or files."""


@runtime_checkable
class NotificationChannelFactory(Protocol):
    """What the ``pes_notification_channels`` hook returns: builds channels from settings."""

    @property
    def name(self) -> str:
        """The channel's name, unique across plugins."""
        ...

    @property
    def description(self) -> str:
        """One line for listings."""
        ...

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of notification the channels it builds carry."""
        ...

    def create(self, settings: Mapping[str, str]) -> NotificationChannel:
        """A channel configured by ``settings`` (endpoint, credentials, a file's path);
        :class:`~pes_sdk.errors.ConfigError` when one is missing or wrong. Touches no
        network."""
        ...
