"""The FCM channel: one ``push`` notification, one ``messages:send`` of FCM HTTP v1.

``POST {endpoint}/v1/projects/{project_id}/messages:send`` with an OAuth2 access token (see
:mod:`pes_sdk_fcm.auth`) and the body :func:`build_message` makes::

    {"message": {
        "token": "<the device's registration token>",
        "notification": {"title": "…", "body": "…", "image": "https://…"},
        "data": {"campaign": "42", "button_1_label": "Оплатить", "button_1_url": "https://…"},
        "android": {"collapse_key": "…", "notification": {"image": "https://…"}},
        "apns": {"headers": {"apns-collapse-id": "…"},
                 "payload": {"aps": {"mutable-content": 1}},
                 "fcm_options": {"image": "https://…"}}}}

FCM has no buttons of its own: each button travels as two data keys, ``button_<n>_label``
and ``button_<n>_url`` (n = 1, 2, 3), with ``button_count``; the app draws them (see the
README). Empty parts are left out. FCM answers ``{"name": "projects/…/messages/<id>"}``.

How FCM's answers map to the channel's errors (FCM's ErrorCode reference, and the
``details[]`` entry of type ``google.firebase.fcm.v1.FcmError``, read as the Admin SDK
does):

* 404 ``UNREGISTERED``: :class:`DeadRecipient` (delete the token);
* 400 ``INVALID_ARGUMENT`` about the token (a ``BadRequest`` field violation of
  ``message.token``, or FCM's "not a valid FCM registration token"): :class:`DeadRecipient`,
  as FCM's token management guide asks; about anything else: :class:`RecipientRefused`;
* 403 ``SENDER_ID_MISMATCH`` (the token belongs to another project): :class:`RecipientRefused`;
* 429 ``QUOTA_EXCEEDED``, 503 ``UNAVAILABLE``, 500 ``INTERNAL`` and other 5xx:
  :class:`ChannelUnavailable` with FCM's ``Retry-After``;
* 401 ``UNAUTHENTICATED``: the access token is fetched anew and the message sent once more
  (FCM took nothing); a second 401 is a :class:`ChannelError`;
* ``THIRD_PARTY_AUTH_ERROR`` / ``APNS_AUTH_ERROR``, 403 ``PERMISSION_DENIED``, a 404 without
  ``UNREGISTERED`` (a wrong project id), other 4xx: :class:`ChannelError` (the settings
  need a person; no token is deleted for them).

Errors carry FCM's code and the names of the fields it complained of, never its message
text, the token or the access token.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
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
)
from pes_sdk_fcm.auth import AccessTokens, ServiceAccount

__all__ = [
    "BUTTON_COUNT_KEY",
    "DEFAULT_ENDPOINT",
    "KINDS",
    "RESERVED_DATA_KEYS",
    "FcmChannel",
    "FcmSettings",
    "build_message",
    "button_keys",
]

log = logging.getLogger(__name__)

#: What the channel carries.
KINDS: tuple[str, ...] = ("push",)
#: FCM's API host.
DEFAULT_ENDPOINT = "https://fcm.googleapis.com"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# FCM refuses data keys it uses itself: "from", "gcm", anything starting with "google"
# (ErrorCode reference, "Invalid data key"); "message_type" is FCM's too.
RESERVED_DATA_KEYS = ("from", "gcm", "message_type")
_INVALID_TOKEN_TEXT = re.compile(r"registration token", re.IGNORECASE)


def _data(notification: Notification) -> dict[str, str]:
    for key in notification.data:
        if key in RESERVED_DATA_KEYS or key.startswith("google"):
            raise ValueError(f"the data key {key!r} is reserved by FCM")
    return button_data(notification)


def build_message(notification: Notification) -> dict[str, Any]:
    """The ``messages:send`` body of ``notification`` (a ``push``), as FCM HTTP v1 wants it.

    ValueError for data keys FCM or the buttons reserve (``from``, ``gcm``, ``google…``,
    ``message_type``, ``button_…``).
    """
    shown: dict[str, Any] = {"body": notification.text}
    if notification.title:
        shown = {"title": notification.title, **shown}
    if notification.image:
        shown["image"] = notification.image
    message: dict[str, Any] = {"token": notification.to, "notification": shown}
    data = _data(notification)
    if data:
        message["data"] = data
    android: dict[str, Any] = {}
    if notification.collapse:
        android["collapse_key"] = notification.collapse
    if notification.image:
        android["notification"] = {"image": notification.image}
    if android:
        message["android"] = android
    apns: dict[str, Any] = {}
    if notification.collapse:
        apns["headers"] = {"apns-collapse-id": notification.collapse}
    if notification.image:
        # iOS shows an image only through a notification service extension, which runs
        # for pushes marked mutable
        apns["payload"] = {"aps": {"mutable-content": 1}}
        apns["fcm_options"] = {"image": notification.image}
    if apns:
        message["apns"] = apns
    return {"message": message}


@attrs.frozen
class FcmSettings:
    """How the channel reaches FCM (see :class:`~pes_sdk_fcm.FcmFactory`)."""

    account: ServiceAccount
    project_id: str
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0
    #: the CA bundle to verify the endpoint with instead of the system's (a test CA)
    ca_file: Path | None = None


class FcmChannel(NotificationChannel):
    """Sends each ``push`` notification as one FCM HTTP v1 message. Thread-safe."""

    name = "fcm"
    kinds = KINDS
    concurrent_sends = True  # HttpClient: HTTP/2 connections per thread

    def __init__(
        self,
        settings: FcmSettings,
        *,
        sent: SentKeys | None = None,
        client: HttpClient | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self._context = None
        if client is None and settings.ca_file is not None:
            self._context = ssl.create_default_context(cafile=str(settings.ca_file))
        # One client for the access tokens and the sends, from any number of threads: with
        # HTTP/2 it gives each sending thread connections of its own (httpx's sync client
        # mixes up the streams of threads sharing one: encode/httpx#3072).
        self._client = client or self._new_client()
        extra = {"monotonic": monotonic} if monotonic is not None else {}
        self.tokens = AccessTokens(settings.account, self._client, channel=self.name, **extra)
        self._path = (
            f"/v1/projects/{urllib.parse.quote(settings.project_id, safe='')}/messages:send"
        )
        self._sent = sent if sent is not None else SentKeys()

    def __repr__(self) -> str:
        return f"FcmChannel(project {self.settings.project_id!r}, {self.settings.endpoint})"

    def _new_client(self) -> HttpClient:
        # HTTP/2 where FCM offers it (ALPN over TLS, as fcm.googleapis.com does)
        return HttpClient(
            self.settings.endpoint,
            timeout=self.settings.timeout,
            name=self.name,
            http2=True,
            verify=self._context,
        )

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        return self._sent.send_once(notification.key, lambda: self._deliver(notification))

    # -- one message ---------------------------------------------------------------------

    def _deliver(self, notification: Notification) -> SendResult:
        try:
            body = build_message(notification)
        except ValueError as exc:
            raise ChannelError(str(exc), channel=self.name, code="data") from None
        token = self.tokens.get()
        answer = self._post(body, token)
        if answer.status == 401 and _parse_error(answer)[1] not in _NOT_OURS:
            # FCM took nothing: the token ended early or was revoked. One new token, one
            # more try; a second 401 means the service account itself is refused.
            self.tokens.invalidate(token)
            answer = self._post(body, self.tokens.get())
        if answer.status != 200:
            raise self._error(answer)
        message_id = ""
        try:
            name = answer.json().get("name", "")
            message_id = name.rpartition("/")[2] if isinstance(name, str) else ""
        except (ValueError, AttributeError):
            pass
        if not message_id:
            # accepted (200) without the documented name: keep the acceptance, say so
            log.warning("fcm: a message was accepted without a message name")
            message_id = f"fcm-accepted-{notification.key}"
        log.debug("fcm: message %s accepted", message_id)
        return SendResult(message_id, dt.datetime.now(dt.UTC))

    def _post(self, body: Mapping[str, Any], token: str) -> HttpResponse:
        try:
            return self._client.send(
                "POST",
                self._path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
        except HttpError as exc:
            raise ChannelUnavailable.from_http_error(
                exc, "FCM", channel=self.name, timeout=self.timeout
            ) from None

    def _error(self, answer: HttpResponse) -> ChannelError:
        status, fcm_code, fields, text = _parse_error(answer)
        code = fcm_code or status or str(answer.status)
        what = f"FCM answered {answer.status} {code}"
        if fields:
            what += f" (fields: {', '.join(fields)})"
        if fcm_code == "UNREGISTERED":
            return DeadRecipient(f"{what}: the token is no longer registered", **self._c(code))
        if answer.status == 429 or answer.status >= 500 or fcm_code in _LATER:
            return ChannelUnavailable(what, retry_after=answer.retry_after(), **self._c(code))
        if answer.status == 400 and (
            "message.token" in fields
            or (fcm_code == "INVALID_ARGUMENT" and _INVALID_TOKEN_TEXT.search(text) is not None)
        ):
            return DeadRecipient(f"{what}: not a valid registration token", **self._c(code))
        if fcm_code == "SENDER_ID_MISMATCH":
            return RecipientRefused(f"{what}: the token belongs to another sender", **self._c(code))
        if answer.status == 400 and fcm_code in ("", "INVALID_ARGUMENT"):
            return RecipientRefused(f"{what}: FCM refuses the message", **self._c(code))
        # 401 twice, 403, a 404 without UNREGISTERED (a wrong project), APNs credentials
        return ChannelError(f"{what}: check the FCM settings and credentials", **self._c(code))

    def _c(self, code: str) -> dict[str, str]:
        return {"channel": self.name, "code": code}


_LATER = ("QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL")
# 401s about APNs' or Web Push's credentials (kept in the Firebase project), not the token
_NOT_OURS = ("THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR")


def _parse_error(answer: HttpResponse) -> tuple[str, str, list[str], str]:
    """(status, FcmError errorCode, fields violated, message text) of an error answer; empty
    parts when the body is not Google's error JSON (a proxy's HTML page)."""
    try:
        payload = answer.json()
    except ValueError:
        return "", "", [], ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", "", [], ""
    status = error.get("status") if isinstance(error.get("status"), str) else ""
    text = error.get("message") if isinstance(error.get("message"), str) else ""
    fcm_code = ""
    fields: list[str] = []
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == _FCM_ERROR and isinstance(detail.get("errorCode"), str):
            fcm_code = fcm_code or detail["errorCode"]
        elif detail.get("@type") == _BAD_REQUEST:
            for violation in detail.get("fieldViolations") or []:
                field = violation.get("field") if isinstance(violation, dict) else None
                # a field path ("message.data[0].value"), never the value itself
                if isinstance(field, str) and re.fullmatch(r"[\w.\[\]]{1,100}", field):
                    fields.append(field)
    return str(status), fcm_code, fields, str(text)
