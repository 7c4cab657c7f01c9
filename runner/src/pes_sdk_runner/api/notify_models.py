"""The bodies of the notifications' endpoints (:mod:`pes_sdk_runner.api.devices`)."""

from __future__ import annotations

import datetime as dt

import attrs

from pes_sdk_runner.store.notify import Device, MessageEvent

__all__ = [
    "MAX_APP_LENGTH",
    "MAX_TOKEN_LENGTH",
    "DeviceRequest",
    "DeviceView",
    "MessageEventRequest",
]

#: The longest push token taken (a Web Push subscription's JSON is the longest, ~500).
MAX_TOKEN_LENGTH = 4096
#: The longest app id (a bundle or package name).
MAX_APP_LENGTH = 200


@attrs.frozen
class DeviceRequest:
    """A client app's push registration."""

    provider: str  #: fcm, apns, rustore or webpush
    token: str  #: the provider's token (a Web Push subscription as JSON text)
    app: str  #: the app's bundle or package id
    client_id: str = ""  #: an app's client (a cabinet's session names its own)
    time_zone: str | None = None  #: the phone's IANA zone: quiet hours are the client's


@attrs.frozen
class DeviceView:
    """A registered device (its token is not repeated)."""

    id: int
    provider: str
    app: str
    time_zone: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime

    @classmethod
    def of(cls, d: Device) -> DeviceView:
        return cls(d.id, d.provider, d.app, d.time_zone, d.created_at, d.last_seen_at)


@attrs.frozen
class MessageEventRequest:
    """What the app saw of a message (its id is the push's data ``pes_message``)."""

    event: MessageEvent
    client_id: str = ""
    #: clicked: the button's index, 0-based; None: the notification itself
    button: int | None = None
    #: when it happened (an app offline reports later); not after now, default now
    at: dt.datetime | None = None
