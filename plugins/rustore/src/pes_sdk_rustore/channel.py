"""The RuStore channel: one ``push`` notification, one ``messages:send`` of RuStore Push.

RuStore's push service (VK Push, "vkpns") reaches Android phones without Google's
services, common in Russia. Its API is designed as a drop-in replacement for FCM HTTP v1
(RuStore's "Sending push notifications (API)" page): ``POST {endpoint}/v1/projects/
{project_id}/messages:send`` with ``Authorization: Bearer <service token>`` (from the
RuStore Console: the app → Push notifications → Projects) and the body
:func:`build_message` makes::

    {"message": {
        "token": "<the device's RuStore push token>",
        "notification": {"title": "…", "body": "…", "image": "https://…"},
        "data": {"campaign": "42", "button_1_label": "Оплатить", "button_1_url": "https://…"},
        "android": {"notification": {"image": "https://…"}}}}

Only the fields RuStore documents are sent (``message.token``, ``data``, ``notification``
``title``/``body``/``image``, ``android.ttl`` and ``android.notification``): RuStore has no
collapse key, so ``collapse`` is not sent. Buttons travel as data keys, as with FCM (see
the README).

How answers map (RuStore's page documents the request, not its error answers; the error
body is read as FCM's ``{"error": {"code", "message", "status"}}``, which the drop-in design
implies, and the mapping is chosen so that no token is deleted on a doubtful answer):

* 404 with a JSON error body: :class:`DeadRecipient` (the token is unknown to RuStore);
  a 404 without one (a proxy's page, a wrong URL): :class:`ChannelError`;
* 400: :class:`RecipientRefused` (the message or the token refused; never taken as dead);
* 401, 403: :class:`ChannelError` (the service token or the project id is wrong; a static
  token, so no repeat can help);
* 429 and 5xx: :class:`ChannelUnavailable` with the ``Retry-After`` given;
* no answer within ``timeout``, a connection refused or lost: :class:`ChannelUnavailable`.

Errors carry RuStore's status and HTTP code, never its message text, the token or the
service token.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from typing import Any

import attrs

from pes_sdk.http import HttpClient, HttpError, HttpResponse
from pes_sdk.notifications import (
    BUTTON_COUNT_KEY,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    SentKeys,
    button_data,
    button_keys,
    key_uuid,
)

__all__ = [
    "BUTTON_COUNT_KEY",
    "DEFAULT_ENDPOINT",
    "KINDS",
    "RuStoreChannel",
    "RuStoreSettings",
    "build_message",
    "button_keys",
]

log = logging.getLogger(__name__)

#: What the channel carries.
KINDS: tuple[str, ...] = ("push",)
#: RuStore Push's API host.
DEFAULT_ENDPOINT = "https://vkpns.rustore.ru"


def build_message(notification: Notification) -> dict[str, Any]:
    """The ``messages:send`` body of ``notification`` (a ``push``), as RuStore documents it.

    ValueError for a data key the buttons reserve (``button_…``).
    """
    shown: dict[str, Any] = {"body": notification.text}
    if notification.title:
        shown = {"title": notification.title, **shown}
    if notification.image:
        shown["image"] = notification.image
    message: dict[str, Any] = {"token": notification.to, "notification": shown}
    data = button_data(notification)
    if data:
        message["data"] = data
    if notification.image:
        message["android"] = {"notification": {"image": notification.image}}
    return {"message": message}


@attrs.frozen
class RuStoreSettings:
    """How the channel reaches RuStore (see :class:`~pes_sdk_rustore.RuStoreFactory`)."""

    project_id: str
    service_token: str = attrs.field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0


class RuStoreChannel(NotificationChannel):
    """Sends each ``push`` notification as one RuStore Push message. Thread-safe."""

    name = "rustore"
    kinds = KINDS
    # HttpClient gives each sending thread HTTP/2 connections of its own (encode/httpx#3072)
    concurrent_sends = True

    def __init__(
        self,
        settings: RuStoreSettings,
        *,
        sent: SentKeys | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self._client = client or HttpClient(
            settings.endpoint, timeout=settings.timeout, name=self.name, http2=True
        )
        project = urllib.parse.quote(settings.project_id, safe="")
        self._path = f"/v1/projects/{project}/messages:send"
        self._sent = sent if sent is not None else SentKeys()

    def __repr__(self) -> str:
        return f"RuStoreChannel(project {self.settings.project_id!r}, {self.settings.endpoint})"

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        return self._sent.send_once(notification.key, lambda: self._deliver(notification))

    def _deliver(self, notification: Notification) -> SendResult:
        try:
            body = build_message(notification)
        except ValueError as exc:
            raise ChannelError(str(exc), channel=self.name, code="data") from None
        try:
            answer = self._client.send(
                "POST",
                self._path,
                json=body,
                headers={"Authorization": f"Bearer {self.settings.service_token}"},
            )
        except HttpError as exc:
            raise ChannelUnavailable.from_http_error(
                exc, "RuStore", channel=self.name, timeout=self.timeout
            ) from None
        if answer.status != 200:
            raise self._error(answer)
        # RuStore documents no message id in its answer: the channel's own, from the key
        message_id = f"rustore-{key_uuid(notification.key)}"
        try:
            name = answer.json().get("name")
            if isinstance(name, str) and name:
                message_id = name.rpartition("/")[2] or message_id
        except (ValueError, AttributeError):
            pass
        log.debug("rustore: message %s accepted", message_id)
        return SendResult(message_id, dt.datetime.now(dt.UTC))

    def _error(self, answer: HttpResponse) -> ChannelError:
        status = _status(answer)
        code = status or str(answer.status)
        what = f"RuStore answered {answer.status} {status}".rstrip()
        where = {"channel": self.name, "code": code}
        if answer.status == 429 or answer.status >= 500:
            return ChannelUnavailable(what, retry_after=answer.retry_after(), **where)
        if answer.status == 404 and status:
            return DeadRecipient(f"{what}: the push token is unknown", **where)
        if answer.status == 400:
            return RecipientRefused(f"{what}: RuStore refuses the message", **where)
        return ChannelError(f"{what}: check the project id and the service token", **where)


def _status(answer: HttpResponse) -> str:
    """The ``error.status`` of a JSON error answer ("NOT_FOUND"), or ""."""
    try:
        payload = answer.json()
    except ValueError:
        return ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        status = error.get("status")
        if isinstance(status, str) and status.replace("_", "").isalnum() and len(status) < 40:
            return status
        if isinstance(error.get("code"), int):
            return str(error["code"])
    return ""
