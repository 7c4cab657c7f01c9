"""The APNs channel: pushes to iPhones over HTTP/2 with a provider token (ES256 JWT).

One :class:`ApnsChannel` holds one HTTP/2 client (:class:`pes_sdk.http.HttpClient`: a
connection per sending thread, many requests multiplexed on it, as Apple asks) and one
:class:`~pes_sdk_apns.protocol.ProviderToken`. It sends once per call and never retries on
its own, but for the one case APNs invites: 403 ``ExpiredProviderToken`` means the request
was not accepted, so the token is made anew and the request sent once more. 400
``BadDeviceToken`` is a dead token only once APNs has accepted a notification from the
channel: before, it may mean the wrong environment (sandbox or production), and a
:class:`~pes_sdk.notifications.RecipientRefused` keeps the runner from deleting tokens.

The device token is personal data (152-ФЗ) and travels in the request path. Nothing here
logs it or puts it in an error, and the client's ``redact`` (:func:`_hide_device_token`)
keeps it out of the lines the HTTP stack itself logs (the kit's client and httpx name the
path; hpack's header lines and a provider token after ``bearer`` the kit's client blanks).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from pes_sdk.http import HttpClient, HttpError, HttpResponse
from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    SentKeys,
)
from pes_sdk_apns.protocol import (
    MAX_PAYLOAD_BYTES,
    ApnsConfigurationError,
    ApnsDeadToken,
    ApnsPayloadTooLarge,
    ProviderToken,
    apns_id,
    build_headers,
    build_payload,
    encode_payload,
    error_for,
    is_device_token,
)

__all__ = ["KINDS", "ApnsChannel", "ApnsSettings"]

log = logging.getLogger(__name__)

#: What APNs carries: pushes.
KINDS: tuple[str, ...] = ("push",)


@attrs.frozen
class ApnsSettings:
    """What an :class:`ApnsChannel` needs; :class:`~pes_sdk_apns.ApnsFactory` builds it
    from a configuration's strings. The key is left out of the ``repr``."""

    #: the Apple Developer team id (10 characters): the token's ``iss``
    team_id: str
    #: the id of the APNs key (10 characters): the token's ``kid``
    key_id: str
    #: the key itself (the ``.p8`` file's P-256 private key)
    key: ec.EllipticCurvePrivateKey = attrs.field(repr=False)
    #: the app's bundle id: ``apns-topic``
    topic: str
    #: ``https://api.push.apple.com``, the sandbox's, or a simulator's
    endpoint: str
    #: seconds for each request (connecting, each wait for data)
    timeout: float = 10.0
    #: seconds APNs keeps an undelivered notification (``apns-expiration``); 0: now or never
    ttl: int = 86400
    #: the prefix of ``aps.category`` for notifications with buttons (``PES_LINKS_2``)
    category: str = "PES_LINKS"
    #: the CA bundle to verify the endpoint with instead of the system's (a test CA)
    ca_file: Path | None = None


class ApnsChannel(NotificationChannel):
    """Sends ``push`` notifications through APNs. Thread-safe.

    ``clock`` gives UNIX seconds for the provider token's age and ``apns-expiration``
    (tests move it); building the channel touches no network.
    """

    name = "apns"
    kinds = KINDS
    # HttpClient gives each sending thread HTTP/2 connections of its own (encode/httpx#3072)
    concurrent_sends = True

    def __init__(self, settings: ApnsSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self.token = ProviderToken(
            settings.key, key_id=settings.key_id, team_id=settings.team_id, clock=clock
        )
        context = None
        if settings.ca_file is not None:
            context = ssl.create_default_context(cafile=str(settings.ca_file))
        self._http = HttpClient(
            settings.endpoint,
            timeout=settings.timeout,
            name=self.name,
            http2=True,
            verify=context,
            redact=_hide_device_token,
        )
        self._sent = SentKeys()
        # APNs answers BadDeviceToken to every token of the other environment (sandbox vs
        # production): until this endpoint has accepted a notification, proving the
        # environment right, such an answer is no proof that a token is dead.
        self._accepted_once = False

    def __repr__(self) -> str:
        return (
            f"ApnsChannel(endpoint={self.settings.endpoint!r}, topic={self.settings.topic!r}, "
            f"team_id={self.settings.team_id!r}, key_id={self.settings.key_id!r})"
        )

    def close(self) -> None:
        """Close the HTTP/2 connections."""
        self._http.close()

    def send(self, notification: Notification) -> SendResult:
        """Hand ``notification`` to APNs, once per key (see the module and README for the
        errors: :class:`~pes_sdk_apns.ApnsDeadToken` is the runner's cue to delete the
        token)."""
        self.check_kind(notification)
        if not is_device_token(notification.to):
            # APNs would answer 400 BadDeviceToken; found here, without a request
            raise ApnsDeadToken(
                "not an APNs device token (hexadecimal digits expected); delete it",
                channel=self.name,
                code="BadDeviceToken",
            )
        body = encode_payload(build_payload(notification, category=self.settings.category))
        if len(body) > MAX_PAYLOAD_BYTES:
            raise ApnsPayloadTooLarge(len(body), channel=self.name)
        return self._sent.send_once(notification.key, lambda: self._deliver(notification, body))

    def _deliver(self, notification: Notification, body: bytes) -> SendResult:
        bearer = self.token.bearer()
        response = self._post(notification, body, bearer)
        if response.status == 403 and _reason(response) == "ExpiredProviderToken":
            # not accepted, so sending again cannot double it; a second refusal of a token
            # just made is a wrong clock, which error_for says
            log.info("%s: the provider token expired at APNs; made a new one", self.name)
            response = self._post(notification, body, self.token.refresh(bearer))
        if response.http_version != "HTTP/2":
            raise ApnsConfigurationError(
                f"the endpoint answered over {response.http_version}; APNs speaks HTTP/2 "
                f"only (is a proxy or another server in the way?)",
                channel=self.name,
            )
        if response.status == 200:
            self._accepted_once = True
            message_id = response.header("apns-id") or apns_id(notification)
            log.debug("%s: accepted as %s", self.name, message_id)
            return SendResult(message_id, dt.datetime.now(dt.UTC))
        error = error_for(
            response.status, response.body, channel=self.name, retry_after=response.retry_after()
        )
        if error.code == "BadDeviceToken" and not self._accepted_once:
            # refused, not dead: the runner keeps the token (a wrong environment would
            # otherwise have it delete every iOS device, one BadDeviceToken at a time)
            error = RecipientRefused(
                "APNs answered 400 BadDeviceToken before accepting any notification from "
                "this channel: the token may be dead, or the channel's environment may be "
                f"wrong ({self.settings.endpoint} for tokens of the other one: sandbox for "
                "development builds of the app, production for the App Store's); the token "
                "is kept until a notification is accepted here",
                channel=self.name,
                code="BadDeviceToken",
            )
        log.info("%s: not accepted: %s %s", self.name, response.status, error.code)
        raise error

    def _post(self, notification: Notification, body: bytes, bearer: str) -> HttpResponse:
        expiration = int(self._clock()) + self.settings.ttl if self.settings.ttl > 0 else 0
        headers = build_headers(
            notification, topic=self.settings.topic, bearer=bearer, expiration=expiration
        )
        failure: ChannelError | None = None
        try:
            return self._http.send(
                "POST", f"/3/device/{notification.to}", content=body, headers=headers
            )
        except HttpError as exc:
            failure = ChannelUnavailable.from_http_error(
                exc, "APNs", channel=self.name, timeout=self.settings.timeout, code="unreachable"
            )
        # raised outside the handler, so that the HTTP error (and the path in it) is not
        # chained as this one's context
        raise failure


def _reason(response: HttpResponse) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    reason = answer.get("reason") if isinstance(answer, dict) else None
    return reason if isinstance(reason, str) else ""


_DEVICE_PATH = re.compile(r"(/3/device/)[^\s'\"?#)>,]+")


def _hide_device_token(url: str) -> str:
    """``url`` with the device token of ``/3/device/<token>`` replaced by ``…``."""
    return _DEVICE_PATH.sub(r"\1…", url)
