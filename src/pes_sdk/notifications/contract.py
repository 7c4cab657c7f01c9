"""The contract of a notification channel, and of the factory a plugin provides.

A **notification channel** carries short messages to a person: a one-time login code by
SMS, pushes (FCM, APNs, RuStore, Web Push) and e-mail. A channel speaks one provider's
protocol (an SMS gateway's HTTP API, SMTP, FCM) or, for tests and the demo, none at all:
the ``outbox`` channel (distribution ``pes-sdk-outbox``) appends each message as a JSON
line to a file.

A channel sends once per call and never retries on its own: the caller knows whether a
repeat is welcome (a login code is not worth a second SMS; a campaign retries with a stop,
see :func:`pes_sdk.notifications.send_with_retries`). Failures are
:mod:`pes_sdk.notifications.errors`. The recipient is personal data (a phone number, an
address, a device token under 152-ФЗ): a channel never logs it and never puts it in an
error message.

Every notification carries an idempotency ``key``: a channel hands the provider at most one
message per key where it can (:class:`~pes_sdk.notifications.SentKeys` remembers the keys a
channel object has handed over; :func:`key_uuid` gives a protocol the UUID it wants, such as
APNs ``apns-id``), and the runner never sends a key twice.

Factories are what the ``pes_notification_channels`` hook returns; building a channel from
settings must not touch the network.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import types
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from pes_sdk.notifications.errors import WrongKind

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
    "Notification",
    "NotificationChannel",
    "NotificationChannelFactory",
    "SendResult",
    "button_data",
    "button_keys",
    "check_https_url",
    "key_uuid",
]

#: The kinds of notification: how a message travels, and so what its ``to`` is.
KINDS: tuple[str, ...] = ("sms", "push", "email")
#: The longest text a notification may carry, in characters (a login code needs about 40;
#: a push or an SMS of several segments stays far below).
MAX_TEXT_LENGTH = 1000
#: The longest title (a push's title, an e-mail's subject), in characters.
MAX_TITLE_LENGTH = 200
#: At most this many buttons (links to outside pages) in one notification.
MAX_BUTTONS = 3
#: The longest label of a button, in characters (a push shows about 20).
MAX_LABEL_LENGTH = 40
#: The longest idempotency key, in characters.
MAX_KEY_LENGTH = 200
#: The longest collapse id, in UTF-8 bytes (APNs ``apns-collapse-id`` allows 64).
MAX_COLLAPSE_BYTES = 64

# Keys are derived into provider ids with uuid5 in this namespace: fixed forever, since a
# changed namespace would give a resent key a new id at the provider.
_KEY_NAMESPACE = uuid.UUID("5f0e4a3c-7b1d-5c8e-9a2f-3d6b8e1c4a70")


def _non_empty(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a notification's {attribute.name} must be a non-empty string")


def _text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _non_empty(_, attribute, value)
    if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"a notification's text has at most {MAX_TEXT_LENGTH} characters, not {len(value)}"
        )


def _kind(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _non_empty(_, attribute, value)
    if value not in KINDS:
        raise ValueError(f"a notification's kind is one of {', '.join(KINDS)}, not {value!r}")


def _one_line(what: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if len(value) > limit:
        raise ValueError(f"{what} has at most {limit} characters, not {len(value)}")
    # a line break in a title would end an e-mail header: a header injection
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{what} must be one line without control characters")


def _title(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _one_line("a notification's title", value, MAX_TITLE_LENGTH)


def check_https_url(value: object, what: str) -> str:
    """``value`` if it is an absolute ``https`` URL with a host; ValueError naming ``what``.

    No other scheme (``http``, ``javascript:``, ``data:``, an app's own scheme), no
    credentials in the URL, no whitespace or control characters.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be an https URL")
    if _SPACE_OR_CONTROL.search(value) is not None:
        raise ValueError(f"{what} must be an https URL without spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError(f"{what} is not a valid URL") from None
    if parts.scheme.lower() != "https":
        raise ValueError(f"{what} must be an https URL, not {parts.scheme or 'relative'}")
    if not parts.hostname:
        raise ValueError(f"{what} must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry credentials")
    return value


def _image(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check_https_url(value, "a notification's image")


@attrs.frozen
class Button:
    """A button of a push or an e-mail: a ``label`` and the ``https`` page it opens."""

    label: str = attrs.field()
    url: str = attrs.field()

    @label.validator
    def _check_label(self, _: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a button's label must be a non-empty string")
        _one_line("a button's label", value, MAX_LABEL_LENGTH)

    @url.validator
    def _check_url(self, _: attrs.Attribute[str], value: object) -> None:
        check_https_url(value, "a button's url")


def _to_buttons(value: Iterable[Button]) -> tuple[Button, ...]:
    return tuple(value)


def _buttons(_: object, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    if len(value) > MAX_BUTTONS:
        raise ValueError(f"a notification has at most {MAX_BUTTONS} buttons, not {len(value)}")
    for button in value:
        if not isinstance(button, Button):
            raise ValueError(f"a notification's buttons are Button objects, not {button!r}")


def _to_data(value: Mapping[str, str]) -> Mapping[str, str]:
    # a copy behind a read-only view: the caller's dict may change, the notification not
    return types.MappingProxyType(dict(value))


def _data(_: object, attribute: attrs.Attribute[Any], value: Mapping[object, object]) -> None:
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"a notification's data keys are non-empty strings, not {k!r}")
        if not isinstance(v, str):
            raise ValueError(f"a notification's data value of {k!r} must be a string")


#: A space (``str.isspace``'s, which ``\s`` of a str pattern matches) or a control character: a
#: regular expression, ten times cheaper per push than testing each character in Python.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def _token(what: str, value: object, limit: int, *, encoded: bool = False) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    size = len(value.encode("utf-8")) if encoded else len(value)
    if size > limit:
        unit = "bytes" if encoded else "characters"
        raise ValueError(f"{what} has at most {limit} {unit}, not {size}")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{what} must have no spaces or control characters")


def _key(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _token("a notification's key", value, MAX_KEY_LENGTH)


def _collapse(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _token("a notification's collapse id", value, MAX_COLLAPSE_BYTES, encoded=True)


def _new_key() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class Notification:
    """One message to one recipient.

    * ``kind`` says how it travels (one of :data:`KINDS`: ``"sms"``, ``"push"``,
      ``"email"``) and so what ``to`` is: for ``sms`` a phone number in E.164
      (``"+79161234567"``), for ``email`` an address, for ``push`` a device token (or a
      Web Push subscription). The ``repr`` leaves ``to`` out, so a logged notification
      names no person.
    * ``text``: at most :data:`MAX_TEXT_LENGTH` characters; ``title`` (a push's title, an
      e-mail's subject; ``""``: none) one line of at most :data:`MAX_TITLE_LENGTH`.
    * ``image``: an ``https`` URL of a picture (a push's big picture, an e-mail's image),
      or None; ``buttons``: at most :data:`MAX_BUTTONS` :class:`Button` s, each a label
      and an ``https`` link, nothing else. A channel shows what its protocol can (an SMS
      carries the text only) and says so in its documentation.
    * ``data``: a read-only ``str`` → ``str`` mapping for data messages (what the client
      app reads: a campaign id, the screen to open); a copy of what is given.
    * ``key``: the idempotency key of the message: the campaign or trigger, the client
      and the device, e.g. ``"campaign:42/client:1017/device:88"`` (ids, never a phone or
      an address). A channel hands the provider at most one message per key where its
      protocol allows (APNs ``apns-id``, an e-mail's ``Message-ID``, via
      :func:`key_uuid`), and the runner never sends a key twice. Without one, a random key:
      a message nobody resends (a login code).
    * ``collapse``: a collapse id (APNs ``apns-collapse-id``, FCM ``collapse_key``): a newer
      message with the same id replaces an older one not yet shown; None: none.
    """

    kind: str = attrs.field(validator=_kind)
    to: str = attrs.field(validator=_non_empty, repr=False)
    text: str = attrs.field(validator=_text)
    title: str = attrs.field(default="", validator=_title, kw_only=True)
    image: str | None = attrs.field(default=None, validator=_image, kw_only=True)
    buttons: tuple[Button, ...] = attrs.field(
        default=(), converter=_to_buttons, validator=_buttons, kw_only=True
    )
    # excluded from the hash (a mapping has none); equality still compares it
    data: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_data, validator=_data, hash=False, kw_only=True
    )
    key: str = attrs.field(factory=_new_key, validator=_key, kw_only=True)
    collapse: str | None = attrs.field(default=None, validator=_collapse, kw_only=True)


def key_uuid(key: str) -> uuid.UUID:
    """A UUID that depends on ``key`` only (UUID version 5), for protocols that want one.

    The same key gives the same UUID in every process and release: APNs ``apns-id``, an
    e-mail's ``Message-ID``. It reveals nothing of the key.
    """
    return uuid.uuid5(_KEY_NAMESPACE, key)


#: The data key that says how many buttons a push carries as data ("1" to "3"), see
#: :func:`button_data`.
BUTTON_COUNT_KEY = "button_count"


def button_keys(n: int) -> tuple[str, str]:
    """The data keys of button ``n`` (1-based): ``button_<n>_label``, ``button_<n>_url``."""
    return f"button_{n}_label", f"button_{n}_url"


def button_data(notification: Notification) -> dict[str, str]:
    """``notification.data`` with its buttons added as data keys, for push protocols that
    have no buttons of their own (FCM, RuStore): the app draws them from
    :data:`BUTTON_COUNT_KEY` and each button's :func:`button_keys`.

    ValueError for a data key of the notification's own that starts with ``button_``.
    """
    data = dict(notification.data)
    for key in data:
        if key.startswith("button_"):
            raise ValueError(f"the data key {key!r} is reserved for buttons")
    if notification.buttons:
        data[BUTTON_COUNT_KEY] = str(len(notification.buttons))
        for n, button in enumerate(notification.buttons, start=1):
            label, url = button_keys(n)
            data[label] = button.label
            data[url] = button.url
    return data


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
    #: whether :meth:`send` calls from many threads at once overlap safely (no connection
    #: state shared between threads): a sender may then keep several in flight. False: a
    #: sender calls it one message at a time
    concurrent_sends: bool = False

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
