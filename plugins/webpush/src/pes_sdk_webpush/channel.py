"""The Web Push channel: pushes to the cabinet in a browser (RFC 8030, 8291, 8292).

Each ``push`` notification is one ``POST`` to the push service URL of the browser's
subscription (its ``endpoint``), with the payload encrypted for that browser and a VAPID
token. All requests go through one :class:`pes_sdk.http.HttpClient` (proxies, timeouts,
verified TLS), whatever the endpoint's host: FCM for Chrome, Mozilla's autopush for
Firefox, Apple's for Safari, WNS for Edge.

The subscription is personal data (152-ФЗ): its endpoint identifies one browser of one
person, its keys open the messages to it. Nothing here logs it or puts it in an error, and
the client's ``redact`` (:func:`_hide_endpoint`) keeps the endpoint's path out of the lines
the HTTP stack itself logs (the kit's client and httpx name the URL; a VAPID token after
``vapid t=`` the kit's client masks).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import time
import urllib.parse
from collections.abc import Callable

import attrs
from cryptography.hazmat.primitives.asymmetric import ec

from pes_sdk.http import HttpClient, HttpError, HttpResponse
from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    SendResult,
    SentKeys,
    key_uuid,
)
from pes_sdk_webpush.protocol import (
    MAX_PAYLOAD_BYTES,
    URGENCIES,
    InvalidSubscription,
    Subscription,
    VapidSigner,
    WebPushPayloadTooLarge,
    build_payload,
    encode_payload,
    encrypt,
    error_for,
    is_public,
    parse_subscription,
    resolve_host,
    topic_for,
)

__all__ = ["KINDS", "WebPushChannel", "WebPushSettings"]

log = logging.getLogger(__name__)

#: What Web Push carries: pushes.
KINDS: tuple[str, ...] = ("push",)


@attrs.frozen
class WebPushSettings:
    """What a :class:`WebPushChannel` needs; :class:`~pes_sdk_webpush.WebPushFactory` builds
    it from a configuration's strings. The key is left out of the ``repr``."""

    #: the VAPID key pair's private half (P-256)
    key: ec.EllipticCurvePrivateKey = attrs.field(repr=False)
    #: the VAPID contact (``sub``): ``mailto:…`` or an ``https:`` URL
    subject: str
    #: seconds the push service keeps a message the browser cannot take yet (``TTL``)
    ttl: int = 86400
    #: the ``Urgency`` of every message (RFC 8030 §5.3)
    urgency: str = "normal"
    #: seconds for each request (connecting, each wait for data)
    timeout: float = 10.0
    #: take ``http://`` endpoints on loopback (the simulator; never in production)
    allow_loopback_http: bool = False
    #: UNSAFE: take endpoints whose host is, or resolves to, a loopback, private or
    #: link-local address (a sandbox whose push simulator is on the local network; tests).
    #: A subscription comes from a browser, that is from anyone: with this on, it can make
    #: the service POST into its own network. Never in production.
    allow_private_endpoints: bool = False

    def __attrs_post_init__(self) -> None:
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency is one of {', '.join(URGENCIES)}, not {self.urgency!r}")
        if not 0 <= self.ttl <= 2_419_200:
            raise ValueError(f"ttl is whole seconds from 0 to 4 weeks, not {self.ttl}")


class WebPushChannel(NotificationChannel):
    """Sends ``push`` notifications to browsers' push subscriptions. Thread-safe.

    ``notification.to`` is the browser's PushSubscription JSON, as the cabinet's page got it
    from ``registration.pushManager.subscribe(...)`` (``JSON.stringify(subscription)``).
    :attr:`vapid_public_key` is what that page passes as ``applicationServerKey``.

    ``clock`` gives UNIX seconds for the VAPID tokens' ``exp`` (tests move it); building the
    channel touches no network.
    """

    name = "webpush"
    kinds = KINDS

    def __init__(
        self,
        settings: WebPushSettings,
        *,
        clock: Callable[[], float] | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self.vapid = VapidSigner(settings.key, settings.subject, clock=clock or time.time)
        # The base URL is never used: every endpoint is absolute. HTTP/2 where the push
        # service offers it, so that a campaign shares one connection per service.
        self._http = client or HttpClient(
            "https://push.invalid",
            timeout=settings.timeout,
            name=self.name,
            http2=True,
            redact=_hide_endpoint,
        )
        self._sent = SentKeys()

    @property
    def vapid_public_key(self) -> str:
        """The VAPID public key (65-byte P-256 point, URL-safe base64 without padding).

        The cabinet's page gives it to ``pushManager.subscribe({userVisibleOnly: true,
        applicationServerKey: <this>})``; push services then take messages for that
        subscription only with tokens of this key (FCM answers 403 otherwise).
        """
        return self.vapid.public_key

    def __repr__(self) -> str:
        return (
            f"WebPushChannel(vapid_public_key={self.vapid_public_key!r}, "
            f"subject={self.settings.subject!r}, ttl={self.settings.ttl})"
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def send(self, notification: Notification) -> SendResult:
        """Encrypt ``notification`` for its subscription and hand it to the push service,
        once per key.

        :raises InvalidSubscription: ``to`` is not a usable subscription (a
            :class:`~pes_sdk.notifications.DeadRecipient`: delete it), its endpoint's host
            name among them resolving to a non-public address, before any request;
        :raises WebPushPayloadTooLarge: the payload is over 4096 bytes encrypted, before
            any request (or the push service answered 413);
        :raises DeadRecipient: 404 or 410, the subscription expired or was dropped;
        :raises ChannelUnavailable: 429 (with ``retry_after``), 5xx, no answer in time
            (nor a resolution of the endpoint's host name);
        :raises WebPushConfigurationError: 401 or 403, a VAPID problem (no subscription
            is to be deleted for it);
        :raises RecipientRefused: 400.
        """
        self.check_kind(notification)
        subscription = parse_subscription(
            notification.to,
            allow_loopback_http=self.settings.allow_loopback_http,
            allow_private_endpoints=self.settings.allow_private_endpoints,
        )
        plaintext = encode_payload(build_payload(notification))
        if len(plaintext) > MAX_PAYLOAD_BYTES:
            raise WebPushPayloadTooLarge(len(plaintext), channel=self.name)
        return self._sent.send_once(
            notification.key, lambda: self._deliver(notification, subscription, plaintext)
        )

    def _deliver(
        self, notification: Notification, subscription: Subscription, plaintext: bytes
    ) -> SendResult:
        headers = {
            "TTL": str(self.settings.ttl),
            "Urgency": self.settings.urgency,
            "Topic": topic_for(notification),
            "Content-Type": "application/octet-stream",
            "Content-Encoding": "aes128gcm",
            "Authorization": self.vapid.header(subscription.origin),
        }
        body = encrypt(plaintext, subscription)
        # Resolved last, just before the request: the shorter the time between the check
        # and the connection, the less a DNS answer can change in between.
        self._check_resolved(subscription.endpoint)
        response = self._post(subscription.endpoint, body, headers)
        if 200 <= response.status < 300:
            # RFC 8030 §5: 201 with the message's URL; some services answer 200 or 202
            # without one, and the key's UUID stands in
            message_id = response.header("Location") or f"webpush:{key_uuid(notification.key)}"
            log.debug("%s: accepted (%d)", self.name, response.status)
            return SendResult(message_id, dt.datetime.now(dt.UTC))
        error = error_for(response.status, channel=self.name, retry_after=response.retry_after())
        log.info("%s: not accepted: %d", self.name, response.status)
        raise error

    def _check_resolved(self, endpoint: str) -> None:
        """Refuse an endpoint whose host name resolves to a non-public address.

        A literal address was judged with the subscription (:func:`parse_subscription`);
        a name is resolved here, with the channel's timeout, and every address it has must
        be public (:func:`is_public`), or loopback under ``allow_loopback_http``.

        Limit (DNS rebinding): :class:`pes_sdk.http.HttpClient` resolves the name again
        when it connects and tells neither the address it connected to nor takes one to
        connect to, so a name whose answer turns private in the moment between this check
        and that connection (a TTL of 0), or a pooled connection opened before, is not
        caught here; only the network's egress rules stop that. A name that does not
        resolve here is left to the request, which then fails the same way (or goes
        through a proxy that resolves names itself and applies its own rules).
        """
        settings = self.settings
        if settings.allow_private_endpoints:
            return
        parts = urllib.parse.urlsplit(endpoint)
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return  # a literal address: already judged by parse_subscription
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            addresses = resolve_host(host, port, timeout=self.timeout)
        except TimeoutError:
            raise ChannelUnavailable(
                f"the push service's host name did not resolve within {self.timeout}s",
                channel=self.name,
                code="timeout",
            ) from None
        except OSError:
            return
        for address in addresses:
            if not (is_public(address) or (settings.allow_loopback_http and address.is_loopback)):
                raise InvalidSubscription(
                    "the endpoint's host name resolves to a loopback, private or link-local "
                    "address",
                    channel=self.name,
                )

    def _post(self, endpoint: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        failure: ChannelError | None = None
        try:
            return self._http.send("POST", endpoint, content=body, headers=headers)
        except HttpError as exc:
            failure = ChannelUnavailable.from_http_error(
                exc, "the push service", channel=self.name, timeout=self.timeout, code="unreachable"
            )
        # raised outside the handler, so that the HTTP error (and the URL in it) is not
        # chained as this one's context
        raise failure


def _hide_endpoint(url: str) -> str:
    """``url`` with its path replaced by ``/…``: a push service's origin is no one's, the
    path of a subscription's endpoint names one browser."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and parts.netloc:
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/…", "", ""))
    return "/…"
