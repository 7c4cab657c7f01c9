"""Apple Push Notification service (APNs): the provider API over HTTP/2, as Apple documents it.

Sources (Apple Developer documentation, User Notifications): "Sending notification requests
to APNs", "Establishing a token-based connection to APNs", "Generating a remote notification"
and "Handling notification responses from APNs".

* A notification is ``POST /3/device/<device token>`` over HTTP/2 (TLS, port 443) to
  ``api.push.apple.com`` (``api.sandbox.push.apple.com`` for development builds), with the
  JSON payload as the body (at most :data:`MAX_PAYLOAD_BYTES`) and the headers
  ``authorization: bearer <provider token>``, ``apns-topic`` (the app's bundle id),
  ``apns-push-type``, ``apns-priority``, ``apns-expiration``, ``apns-id`` and
  ``apns-collapse-id``.
* The **provider token** is a JWT signed with ES256 by the team's ``.p8`` key: header
  ``{"alg": "ES256", "kid": <key id>}``, claims ``{"iss": <team id>, "iat": <now>}``. APNs
  refuses a token older than an hour (403 ``ExpiredProviderToken``) and a token replaced
  more often than every 20 minutes (429 ``TooManyProviderTokenUpdates``):
  :class:`ProviderToken` reuses one for :data:`TOKEN_LIFETIME` seconds.
* The answer is 200 with the ``apns-id`` header, or a status with ``{"reason": …}`` (and
  ``"timestamp"`` for 410): :func:`error_for` maps it to the kit's channel errors.

The payload (:func:`build_payload`) carries what a :class:`~pes_sdk.notifications.Notification`
has beyond the standard ``aps`` dictionary as custom keys; the README lists them for app
developers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
    key_uuid,
)

__all__ = [
    "CONFIGURATION_REASONS",
    "DEAD_REASONS",
    "ENDPOINTS",
    "MAX_PAYLOAD_BYTES",
    "MIN_TOKEN_REFRESH",
    "TOKEN_LIFETIME",
    "ApnsConfigurationError",
    "ApnsDeadToken",
    "ApnsPayloadTooLarge",
    "ProviderToken",
    "apns_id",
    "build_headers",
    "build_payload",
    "category_for",
    "encode_payload",
    "error_for",
    "is_device_token",
]

#: The provider API's hosts, by environment (port 443, HTTP/2 only).
ENDPOINTS: Mapping[str, str] = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
#: The largest payload APNs takes for a regular remote notification, in bytes.
MAX_PAYLOAD_BYTES = 4096
#: A provider token is reused this long, in seconds: under APNs' hour, with a margin for
#: clocks that differ, and well over its 20 minutes between refreshes.
TOKEN_LIFETIME = 50 * 60
#: APNs answers 429 TooManyProviderTokenUpdates to tokens replaced more often than this.
MIN_TOKEN_REFRESH = 20 * 60
#: Reasons that say the device token is gone for good: the runner deletes it.
DEAD_REASONS = frozenset({"BadDeviceToken", "Unregistered", "ExpiredToken"})
#: Reasons that say the sender is misconfigured (key, team, topic, endpoint), not the
#: recipient: no device token is to blame and every message would fail alike.
CONFIGURATION_REASONS = frozenset(
    {
        "InvalidProviderToken",
        "MissingProviderToken",
        "UnrelatedKeyIdInToken",
        "BadCertificate",
        "BadCertificateEnvironment",
        "Forbidden",
        "MissingTopic",
        "BadTopic",
        "TopicDisallowed",
        "BadPath",
        "MethodNotAllowed",
    }
)

# Device tokens are hexadecimal (64 digits today; Apple warns the length may change). Only
# hex is let into the request path: anything else could change the path or the query.
_DEVICE_TOKEN = re.compile(r"[0-9A-Fa-f]{16,400}")


class ApnsConfigurationError(ChannelError):
    """APNs refuses the sender, not the recipient: a wrong key, key id or team id
    (``InvalidProviderToken``), a bundle id the key may not push to (``TopicDisallowed``),
    a clock so wrong that fresh tokens are expired, an endpoint that is not APNs. Every
    message fails alike until the settings are fixed; retrying does not help."""


class ApnsPayloadTooLarge(ChannelError):
    """The payload is over :data:`MAX_PAYLOAD_BYTES` (APNs' 413 ``PayloadTooLarge``): found
    before sending. ``size`` is the payload's size in bytes."""

    def __init__(self, size: int | None, *, channel: str = "") -> None:
        self.size = size
        has = f"has {size} bytes" if size is not None else "is too large (APNs answered 413)"
        super().__init__(
            f"the payload {has}; APNs takes at most {MAX_PAYLOAD_BYTES} "
            f"(shorten the text, the title, the buttons or the data)",
            channel=channel,
            code="PayloadTooLarge",
        )


class ApnsDeadToken(DeadRecipient):
    """A device token APNs calls gone (410 ``Unregistered``, 400 ``BadDeviceToken``).

    ``unregistered_at`` is when APNs last knew it valid (410's ``timestamp``), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        code: str = "",
        unregistered_at: dt.datetime | None = None,
    ) -> None:
        self.unregistered_at = unregistered_at
        super().__init__(message, channel=channel, code=code)


def is_device_token(value: str) -> bool:
    """Whether ``value`` looks like an APNs device token (hexadecimal digits only)."""
    return _DEVICE_TOKEN.fullmatch(value) is not None


def apns_id(notification: Notification) -> str:
    """The ``apns-id`` of ``notification``: a UUID derived from its idempotency key, so a
    resend of one key carries the same id (lowercase canonical form)."""
    return str(key_uuid(notification.key))


def category_for(prefix: str, buttons: int) -> str:
    """The ``aps.category`` of a notification with ``buttons`` buttons (``PES_LINKS_2``)."""
    return f"{prefix}_{buttons}"


def build_payload(notification: Notification, *, category: str) -> dict[str, Any]:
    """The JSON payload of ``notification``.

    ``aps.alert`` has the ``title`` (when there is one) and the ``body``; an image sets
    ``aps.mutable-content`` (the app's notification service extension downloads it) and goes
    as the custom key ``image``; buttons set ``aps.category`` to :func:`category_for`
    (``category`` is the prefix) and go as ``buttons``, a list of ``{"id", "label", "url"}``
    (ids ``button-0``…, the category's action identifiers); ``data`` goes as ``data``.
    """
    alert: dict[str, str] = {}
    if notification.title:
        alert["title"] = notification.title
    alert["body"] = notification.text
    aps: dict[str, Any] = {"alert": alert}
    payload: dict[str, Any] = {"aps": aps}
    if notification.image:
        aps["mutable-content"] = 1
        payload["image"] = notification.image
    if notification.buttons:
        aps["category"] = category_for(category, len(notification.buttons))
        payload["buttons"] = [
            {"id": f"button-{i}", "label": b.label, "url": b.url}
            for i, b in enumerate(notification.buttons)
        ]
    if notification.data:
        payload["data"] = dict(notification.data)
    return payload


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """``payload`` as compact UTF-8 JSON: Cyrillic as is (two bytes a letter, not the six of
    a ``\\u`` escape), since the 4096 bytes are counted on what is sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_headers(
    notification: Notification, *, topic: str, bearer: str, expiration: int
) -> dict[str, str]:
    """The request headers of ``notification``: a visible (``alert``) notification at
    priority 10, kept by APNs until ``expiration`` (UNIX seconds; 0: now or never)."""
    headers = {
        "authorization": f"bearer {bearer}",
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(expiration),
        "apns-id": apns_id(notification),
    }
    if notification.collapse:
        headers["apns-collapse-id"] = notification.collapse
    return headers


class ProviderToken:
    """The provider token (an ES256 JWT) of one key, reused for :data:`TOKEN_LIFETIME`.

    ``clock`` gives the time in UNIX seconds (tests move it). Thread-safe: threads sending
    at once share one token, and one refresh.
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        key_id: str,
        team_id: str,
        clock: Callable[[], float] = time.time,
        lifetime: float = TOKEN_LIFETIME,
    ) -> None:
        self._key = key
        self.key_id = key_id
        self.team_id = team_id
        self._clock = clock
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._bearer = ""
        self._issued_at = 0
        #: how many tokens were made (for tests and statistics)
        self.made = 0

    def __repr__(self) -> str:
        return f"ProviderToken(key_id={self.key_id!r}, team_id={self.team_id!r})"

    def bearer(self) -> str:
        """The current token, made anew when there is none or it is :attr:`lifetime` old."""
        with self._lock:
            now = self._clock()
            if not self._bearer or now - self._issued_at >= self.lifetime or now < self._issued_at:
                self._make(now)
            return self._bearer

    def refresh(self, stale: str) -> str:
        """A new token in place of ``stale``, which APNs called expired.

        Made once however many threads were refused with ``stale`` at once: the others get
        the one already made (APNs would answer TooManyProviderTokenUpdates otherwise).
        """
        with self._lock:
            if self._bearer == stale:
                self._make(self._clock())
            return self._bearer

    def _make(self, now: float) -> None:
        issued_at = int(now)
        self._bearer = jwt.encode(
            {"iss": self.team_id, "iat": issued_at},
            self._key,
            algorithm="ES256",
            # exactly Apple's header: alg and kid ("typ": None drops PyJWT's "JWT")
            headers={"kid": self.key_id, "typ": None},
        )
        self._issued_at = issued_at
        self.made += 1


def _reason(body: bytes) -> tuple[str, int | None]:
    try:
        answer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "", None
    if not isinstance(answer, dict):
        return "", None
    reason = answer.get("reason")
    timestamp = answer.get("timestamp")
    return (
        reason if isinstance(reason, str) else "",
        timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
    )


def error_for(
    status: int, body: bytes, *, channel: str, retry_after: float | None = None
) -> ChannelError:
    """The channel error of an APNs answer other than 200 (see the README's table).

    * 400 ``BadDeviceToken``, 410 (``Unregistered``, ``ExpiredToken``): :class:`DeadRecipient`
      (an :class:`ApnsDeadToken`: the app is gone from the device, or the token is not one;
      410's ``timestamp`` becomes its ``unregistered_at``);
    * 403 and 400 about the key, the team, the topic, and 404/405:
      :class:`ApnsConfigurationError`; 413: :class:`ApnsPayloadTooLarge`;
    * 429 (``TooManyRequests``, ``TooManyProviderTokenUpdates``) and 5xx:
      :class:`ChannelUnavailable` with the ``Retry-After`` when one came;
    * anything else (``DeviceTokenNotForTopic``, ``BadCollapseId``, …):
      :class:`RecipientRefused`.

    403 ``ExpiredProviderToken`` is the caller's to handle first (a new token, and one more
    try); here it is a configuration error: a token just made is expired only when the
    clock is wrong.
    """
    reason, timestamp = _reason(body)
    code = reason or str(status)
    said = f"APNs answered {status} {reason}".rstrip()
    if status == 410 or reason in DEAD_REASONS:
        since = None
        if timestamp is not None:
            try:
                since = dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC)
            except (OverflowError, OSError, ValueError):
                since = None  # a nonsense timestamp does not hide that the token is dead
        return ApnsDeadToken(
            f"{said}: the device token is no longer valid; delete it",
            channel=channel,
            code=code,
            unregistered_at=since,
        )
    if status == 413:
        return ApnsPayloadTooLarge(None, channel=channel)
    if status == 429 or status >= 500:
        return ChannelUnavailable(
            f"{said}: try again later", channel=channel, code=code, retry_after=retry_after
        )
    if reason == "ExpiredProviderToken":
        return ApnsConfigurationError(
            f"{said} for a token just made: is this machine's clock right?",
            channel=channel,
            code=code,
        )
    if status in (403, 404, 405) or reason in CONFIGURATION_REASONS:
        return ApnsConfigurationError(
            f"{said}: check the team id, key id, key, bundle id and endpoint",
            channel=channel,
            code=code,
        )
    return RecipientRefused(f"{said}: refused", channel=channel, code=code)
