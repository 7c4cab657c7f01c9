"""The errors of notification channels, under :class:`pes_sdk.errors.PesError`.

Which error :meth:`~pes_sdk.notifications.NotificationChannel.send` raises tells the caller
what it may do next:

* :class:`ChannelUnavailable`: the provider could not be reached, answered 5xx, or throttled
  the sender. Temporary: the message may be sent again later (for a login code, the client
  asks again; a campaign retries with a stop).
* :class:`RecipientRefused`: the provider refuses this recipient for good (a number that
  cannot receive SMS, an address the server refuses). Retrying cannot help; the next
  message to the same recipient fails the same way.
* :class:`DeadRecipient`, a :class:`RecipientRefused`: the recipient no longer exists (a
  push token the provider unregistered: FCM ``UNREGISTERED``, APNs 410 or
  ``BadDeviceToken``; a mailbox unknown: SMTP 550 "user unknown"). The caller deletes the
  token or the address at once, rather than counting failures.
* :class:`WrongKind`: the channel was asked to carry a kind it does not (an e-mail given to
  an SMS gateway): a configuration mistake of the caller, never retried.

:class:`UnknownChannel` is what :meth:`pes_sdk.plugins.PluginHost.notification_channel`
raises for a name no installed plugin provides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pes_sdk.errors import ConfigError, PesError

if TYPE_CHECKING:  # pes_sdk.http imports httpx: not when plugins are loaded
    from pes_sdk.http import HttpError

__all__ = [
    "ChannelError",
    "ChannelUnavailable",
    "DeadRecipient",
    "RecipientRefused",
    "UnknownChannel",
    "WrongKind",
]


class ChannelError(PesError):
    """Sending a notification went wrong. ``channel`` names the channel when known.

    ``code`` is the provider's own word for the failure when it gave one
    (``"UNREGISTERED"``, ``"BadDeviceToken"``, ``"550 5.1.1"``, ``"QUOTA_EXCEEDED"``): what
    statistics count as the reason a message failed. Messages never carry the recipient (a
    phone or an address is personal data): say which notification by its kind or the
    provider's message id instead.
    """

    def __init__(self, message: str, *, channel: str = "", code: str = "") -> None:
        self.message = message
        self.channel = channel
        self.code = code
        super().__init__(f"{channel}: {message}" if channel else message)


class ChannelUnavailable(ChannelError):
    """The provider is unreachable, failing (5xx) or throttling: a later try may succeed.

    ``retry_after`` is the provider's hint in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, channel=channel, code=code)

    @classmethod
    def from_http_error(
        cls,
        error: HttpError,
        provider: str,
        *,
        channel: str,
        timeout: float,
        code: str = "connection",
    ) -> ChannelUnavailable:
        """The failure of a call to ``provider`` that got no answer, from the kit's HTTP
        client's ``error``: no answer within ``timeout`` seconds (code ``timeout``), or no
        connection (code ``code``: refused, lost, TLS or proxy failure).

        Only the error's type and timeout phase are kept, never its text (which names the
        URL): raise the result ``from None``, or outside the ``except`` block, so that the
        HTTP error is not chained to it either.
        """
        from pes_sdk.http import HttpTimeout  # already loaded: the error came from it

        if isinstance(error, HttpTimeout):
            return cls(
                f"{provider} did not answer within {timeout:g} s ({error.phase or 'timeout'})",
                channel=channel,
                code="timeout",
            )
        return cls(
            f"{provider} cannot be reached ({type(error).__name__})", channel=channel, code=code
        )


class RecipientRefused(ChannelError):
    """The provider refuses this recipient for good: retrying the same recipient cannot help."""


class DeadRecipient(RecipientRefused):
    """The recipient no longer exists: a push token unregistered (FCM ``UNREGISTERED``, APNs
    410 ``Unregistered`` or 400 ``BadDeviceToken``), a mailbox unknown (SMTP 550).

    A :class:`RecipientRefused`, so code that only tells "for good" from "later" keeps
    working; the runner tells this one apart and deletes the device token (or the address)
    at the first one, as FCM and APNs ask of senders.
    """


class WrongKind(ChannelError):
    """The channel was asked to send a kind of notification it does not carry."""

    def __init__(self, kind: str, kinds: tuple[str, ...], *, channel: str = "") -> None:
        self.kind = kind
        self.kinds = kinds
        carries = ", ".join(kinds) or "nothing"
        super().__init__(f"cannot send {kind!r} notifications (carries {carries})", channel=channel)


class UnknownChannel(ConfigError):
    """No installed plugin provides a notification channel of that name."""
