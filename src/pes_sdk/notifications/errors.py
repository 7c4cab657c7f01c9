"""The errors of notification channels, under :class:`pes_sdk.errors.PesError`.

Which error :meth:`~pes_sdk.notifications.NotificationChannel.send` raises tells the caller
what it may do next:

* :class:`ChannelUnavailable`: the provider could not be reached, answered 5xx, or throttled
  the sender. Temporary: the message may be sent again later (for a login code, the client
  asks again; a campaign retries with a stop).
* :class:`RecipientRefused`: the provider refuses this recipient for good (a number that
  cannot receive SMS, a dead push token, an address that bounces). Retrying cannot help;
  the next message to the same recipient fails the same way.
* :class:`WrongKind`: the channel was asked to carry a kind it does not (an e-mail given to
  an SMS gateway): a configuration mistake of the caller, never retried.

:class:`UnknownChannel` is what :meth:`pes_sdk.plugins.PluginHost.notification_channel`
raises for a name no installed plugin provides.
"""

from __future__ import annotations

from pes_sdk.errors import ConfigError, PesError

__all__ = [
    "ChannelError",
    "ChannelUnavailable",
    "RecipientRefused",
    "UnknownChannel",
    "WrongKind",
]


class ChannelError(PesError):
    """Sending a notification went wrong. ``channel`` names the channel when known.

    Messages never carry the recipient (a phone or an address is personal data): say which
    notification by its kind or the provider's message id instead.
    """

    def __init__(self, message: str, *, channel: str = "") -> None:
        self.message = message
        self.channel = channel
        super().__init__(f"{channel}: {message}" if channel else message)


class ChannelUnavailable(ChannelError):
    """The provider is unreachable, failing (5xx) or throttling: a later try may succeed.

    ``retry_after`` is the provider's hint in seconds, when it gave one.
    """

    def __init__(
        self, message: str, *, channel: str = "", retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, channel=channel)


class RecipientRefused(ChannelError):
    """The provider refuses this recipient for good: retrying the same recipient cannot help."""


class WrongKind(ChannelError):
    """The channel was asked to send a kind of notification it does not carry."""

    def __init__(self, kind: str, kinds: tuple[str, ...], *, channel: str = "") -> None:
        self.kind = kind
        self.kinds = kinds
        carries = ", ".join(kinds) or "nothing"
        super().__init__(f"cannot send {kind!r} notifications (carries {carries})", channel=channel)


class UnknownChannel(ConfigError):
    """No installed plugin provides a notification channel of that name."""
