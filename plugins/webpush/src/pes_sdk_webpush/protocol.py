"""Web Push as the standards define it: the subscription, the payload, its encryption, VAPID.

* **RFC 8030** (Generic Event Delivery Using HTTP Push): one ``POST`` of the encrypted
  message to the subscription's ``endpoint`` (an absolute URL of the browser's push
  service), with ``TTL`` (seconds the service keeps an undelivered message; required),
  ``Urgency`` (``very-low`` … ``high``) and ``Topic`` (a newer message of the same topic
  replaces an undelivered older one: at most 32 characters of the URL-safe base64
  alphabet). ``201 Created`` with the message's URL in ``Location`` means accepted.
* **RFC 8291** (Message Encryption for Web Push) over **RFC 8188** (``aes128gcm``): an
  ephemeral P-256 key per message, ECDH with the browser's ``p256dh`` key, HKDF keyed
  with the browser's 16-byte ``auth`` secret; one record, the whole body at most 4096
  bytes. :mod:`http_ece` does the record layer.
* **RFC 8292** (VAPID): ``Authorization: vapid t=<JWT>, k=<public key>``, the JWT ES256
  with ``aud`` the push service's origin, ``exp`` at most 24 hours ahead and ``sub`` a
  ``mailto:`` or ``https:`` contact. :mod:`py_vapid` signs it.

pywebpush bundles the two libraries with its own HTTP sending (requests, aiohttp); the kit
sends through :class:`pes_sdk.http.HttpClient` (one client: proxies, timeouts, no secrets
in logs), so it uses the two libraries directly, as pywebpush does underneath.

The subscription is personal data: the endpoint identifies one browser of one person. No
function here puts it, or its keys, in an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    RecipientRefused,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOPIC_LENGTH",
    "PAYLOAD_VERSION",
    "URGENCIES",
    "InvalidSubscription",
    "Subscription",
    "VapidSigner",
    "WebPushConfigurationError",
    "WebPushPayloadTooLarge",
    "b64url",
    "b64url_decode",
    "build_payload",
    "check_subject",
    "encode_payload",
    "encrypt",
    "error_for",
    "is_public",
    "parse_subscription",
    "resolve_host",
    "topic_for",
    "vapid_public_key",
]

#: The largest encrypted body every push service takes (RFC 8030 §7.2, RFC 8291 §4).
MAX_BODY_BYTES = 4096
# aes128gcm header: salt 16 + record size 4 + key id length 1 + the sender's key 65
_HEADER_BYTES = 86
#: The largest payload (the JSON, before encryption): 4096 less the header (86 bytes),
#: the record's padding delimiter (1) and the AEAD tag (16).
MAX_PAYLOAD_BYTES = MAX_BODY_BYTES - _HEADER_BYTES - 1 - 16
#: RFC 8030 §5.4: a topic is at most 32 characters of the URL-safe base64 alphabet.
MAX_TOPIC_LENGTH = 32
#: RFC 8030 §5.3, least urgent first.
URGENCIES = ("very-low", "low", "normal", "high")
#: The ``v`` of the payload: what a service worker checks before reading the rest.
PAYLOAD_VERSION = 1
#: RFC 8292 §2: a token's ``exp`` is at most this far ahead of the request.
MAX_TOKEN_LIFETIME = 24 * 3600
#: The longest subscription JSON accepted (browsers give about 400 characters).
MAX_SUBSCRIPTION_LENGTH = 8192

_B64URL = re.compile(r"[A-Za-z0-9_\-+/]*={0,2}")


class InvalidSubscription(DeadRecipient):
    """The recipient is not a usable PushSubscription: not its JSON, an endpoint that is
    not ``https`` (or loopback ``http`` where allowed), keys of the wrong length or not on
    the curve. Found before any request; it will never work, so the caller deletes it."""

    def __init__(self, problem: str, *, channel: str = "") -> None:
        super().__init__(
            f"not a usable Web Push subscription: {problem}",
            channel=channel,
            code="InvalidSubscription",
        )


class WebPushPayloadTooLarge(RecipientRefused):
    """The message is over what a push service takes (4096 bytes encrypted; the JSON at
    most :data:`MAX_PAYLOAD_BYTES`), found before sending, or the push service answered
    413. ``size`` is the JSON's size in bytes when known."""

    def __init__(self, size: int | None, *, channel: str = "") -> None:
        self.size = size
        has = f"has {size} bytes" if size is not None else "is too large (413 Payload Too Large)"
        super().__init__(
            f"the payload {has}; Web Push takes at most {MAX_PAYLOAD_BYTES} bytes of JSON "
            f"(shorten the text, the title, the buttons or the data)",
            channel=channel,
            code="PayloadTooLarge",
        )


class WebPushConfigurationError(ChannelError):
    """The push service refuses the sender, not the subscription: the VAPID token (401),
    the VAPID key the subscription was not made with (403), a contact it refuses. Every
    message fails alike until the settings are fixed; no subscription is to be deleted."""


# -- base64url -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """``data`` in URL-safe base64 without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object) -> bytes:
    """Bytes of URL-safe base64 with or without padding (``+``/``/`` taken too, as some
    browsers' older JSON had them). :class:`ValueError` if it is not base64."""
    if not isinstance(text, str) or not text.isascii() or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    core = text.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


# -- the subscription ------------------------------------------------------------------------


@attrs.frozen
class Subscription:
    """A browser's PushSubscription, checked. Nothing of it shows in the ``repr``."""

    #: the push service's URL for this browser (personal: it identifies the browser)
    endpoint: str = attrs.field(repr=False)
    #: the browser's P-256 public key, 65 bytes (uncompressed point)
    p256dh: bytes = attrs.field(repr=False)
    #: the browser's authentication secret, 16 bytes
    auth: bytes = attrs.field(repr=False)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the endpoint: the VAPID token's ``aud``."""
        parts = urllib.parse.urlsplit(self.endpoint)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: Address) -> bool:
    """Whether ``address`` is one a push service can have: global unicast.

    Not loopback, private (RFC 1918, ``fc00::/7``), link-local (``169.254/16``, where cloud
    metadata services answer, and ``fe80::/10``), shared (``100.64/10``), unspecified,
    reserved, documentation or multicast. An IPv4 address carried in IPv6 (mapped,
    ``::ffff:127.0.0.1``; 6to4, ``2002:7f00:1::``; NAT64's well-known prefix,
    ``64:ff9b::7f00:1``) is judged as the IPv4 address it leads to.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_global and not address.is_multicast


#: NAT64's well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def resolve_host(
    host: str,
    port: int,
    *,
    timeout: float,
    getaddrinfo: Callable[..., list[Any]] | None = None,
) -> list[Address]:
    """Every address ``host`` resolves to for a TCP connection to ``port``.

    ``socket.getaddrinfo`` takes no timeout, so it runs in a daemon thread that is waited
    for ``timeout`` seconds: :class:`TimeoutError` after that (the thread is left to the
    resolver's own limits; being a daemon, it holds up no exit). :class:`OSError`
    (``socket.gaierror``) when the name does not resolve. ``getaddrinfo``: the resolver,
    :func:`socket.getaddrinfo` (looked up at each call) when None.
    """
    resolve = getaddrinfo or socket.getaddrinfo
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(resolve(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name="webpush-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"the host did not resolve within {timeout}s")
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    addresses: list[Address] = []
    for *_, sockaddr in outcome[0]:
        # An IPv6 sockaddr may carry a zone (fe80::1%eth0): the address is before the %.
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _check_endpoint(
    endpoint: object, *, allow_loopback_http: bool, allow_private_endpoints: bool = False
) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("'endpoint' must be a URL")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in endpoint):
        raise ValueError("the endpoint has spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError("the endpoint is not a valid URL") from None
    host = parts.hostname or ""
    if not host:
        raise ValueError("the endpoint names no host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError("the endpoint carries credentials or a fragment")
    scheme = parts.scheme.lower()
    loopback = _is_loopback(host)
    if scheme == "http":
        if not (allow_loopback_http and loopback):
            raise ValueError(
                "the endpoint is http; push services are https "
                "(http on loopback only with the setting allow_loopback_http, for tests)"
            )
        return endpoint
    if scheme != "https":
        raise ValueError(f"the endpoint's scheme is {scheme or 'missing'}, not https")
    # The endpoint comes from a browser, that is from anyone: it must not make the service
    # POST to its own network (server-side request forgery).
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if allow_private_endpoints or (allow_loopback_http and loopback):
        return endpoint
    if loopback or (address is not None and not is_public(address)):
        raise ValueError("the endpoint's host is a loopback or private address")
    return endpoint


def parse_subscription(
    text: str, *, allow_loopback_http: bool = False, allow_private_endpoints: bool = False
) -> Subscription:
    """The PushSubscription JSON a browser gives (``subscription.toJSON()``)::

        {"endpoint": "https://fcm.googleapis.com/fcm/send/…", "expirationTime": null,
         "keys": {"p256dh": "<65 bytes, base64url>", "auth": "<16 bytes, base64url>"}}

    checked: an ``https`` endpoint (not a loopback or private address, unless
    ``allow_private_endpoints``), or loopback ``http`` when ``allow_loopback_http`` (the
    simulator); ``p256dh`` a point of P-256; ``auth`` 16 bytes. :class:`InvalidSubscription`
    otherwise, saying what is wrong (never the values). A host *name* is not resolved here:
    the channel resolves it just before sending (:func:`resolve_host`).
    """
    try:
        if not isinstance(text, str) or len(text) > MAX_SUBSCRIPTION_LENGTH:
            raise ValueError(f"not a JSON text of at most {MAX_SUBSCRIPTION_LENGTH} characters")
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        endpoint = _check_endpoint(
            data.get("endpoint"),
            allow_loopback_http=allow_loopback_http,
            allow_private_endpoints=allow_private_endpoints,
        )
        keys = data.get("keys")
        if not isinstance(keys, dict):
            raise ValueError("no 'keys' object")
        try:
            p256dh = b64url_decode(keys.get("p256dh"))
        except ValueError:
            raise ValueError("'keys.p256dh' is not base64url") from None
        if len(p256dh) != 65 or p256dh[0] != 4:
            raise ValueError(
                f"'keys.p256dh' is {len(p256dh)} bytes, not the 65 of an uncompressed P-256 point"
            )
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
        except ValueError:
            raise ValueError("'keys.p256dh' is not a point of P-256") from None
        try:
            auth = b64url_decode(keys.get("auth"))
        except ValueError:
            raise ValueError("'keys.auth' is not base64url") from None
        if len(auth) != 16:
            raise ValueError(f"'keys.auth' is {len(auth)} bytes, not 16")
    except ValueError as exc:
        raise InvalidSubscription(str(exc)) from None
    return Subscription(endpoint, p256dh, auth)


# -- the payload -----------------------------------------------------------------------------


def build_payload(notification: Notification) -> dict[str, Any]:
    """What the cabinet's service worker receives (see the README, "The payload")::

        {"v": 1, "title": "…", "body": "…", "tag": "<collapse, or the key>",
         "key": "<the idempotency key>", "image": "https://…",
         "actions": [{"action": "button-1", "title": "Оплатить", "url": "https://…"}],
         "data": {"campaign": "42"}}

    ``image``, ``actions`` and ``data`` only when there are any; ``title`` may be empty
    (the service worker shows the service's name then).
    """
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "title": notification.title,
        "body": notification.text,
        "tag": notification.collapse or notification.key,
        "key": notification.key,
    }
    if notification.image:
        payload["image"] = notification.image
    if notification.buttons:
        payload["actions"] = [
            {"action": f"button-{n}", "title": button.label, "url": button.url}
            for n, button in enumerate(notification.buttons, start=1)
        ]
    if notification.data:
        payload["data"] = dict(notification.data)
    return payload


def encode_payload(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, Cyrillic as is (two bytes a letter, not six of ``\\uXXXX``)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def topic_for(notification: Notification) -> str:
    """The ``Topic`` of ``notification``: its collapse id, or else its key, hashed into 32
    characters of the URL-safe base64 alphabet (RFC 8030 §5.4).

    The same key (or collapse id) gives the same topic in every process, so a resend of a
    key whose answer was lost replaces the copy the push service still holds rather than
    adding a second; a collapse id groups messages that replace one another. The hash
    reveals nothing of the key (which names a client) to the push service.
    """
    source = f"collapse:{notification.collapse}" if notification.collapse else notification.key
    # 43 characters of base64url for 32 bytes; the first 32 keep 192 bits
    return b64url(hashlib.sha256(source.encode("utf-8")).digest())[:MAX_TOPIC_LENGTH]


# -- encryption (RFC 8291) -------------------------------------------------------------------


def encrypt(plaintext: bytes, subscription: Subscription) -> bytes:
    """``plaintext`` encrypted for ``subscription`` (``aes128gcm``, one record).

    A new P-256 key and salt for every message (RFC 8291 §3.4); the sender's public key is
    the record header's key id, as the browser expects.
    """
    import http_ece  # type: ignore[import-untyped]  # no type hints shipped

    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=sender,
        dh=subscription.p256dh,
        auth_secret=subscription.auth,
        version="aes128gcm",
        rs=MAX_BODY_BYTES,
    )
    return body


# -- VAPID (RFC 8292) ------------------------------------------------------------------------


def vapid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The VAPID public key as the browser wants it for ``pushManager.subscribe`` (its
    ``applicationServerKey``) and the ``k`` parameter carries it: the uncompressed P-256
    point, 65 bytes, URL-safe base64 without padding."""
    return b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


_MAILTO = re.compile(r"mailto:[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def check_subject(subject: str) -> str:
    """``subject`` if it is a contact RFC 8292 §2.1 allows: ``mailto:`` an address, or an
    ``https:`` URL; :class:`ValueError` otherwise."""
    if _MAILTO.fullmatch(subject):
        return subject
    if subject.lower().startswith("https://"):
        parts = urllib.parse.urlsplit(subject)
        if parts.hostname and parts.username is None and not any(c.isspace() for c in subject):
            return subject
    raise ValueError("a mailto: address or an https: URL")


class VapidSigner:
    """Makes the ``Authorization`` header for one push service origin after another.

    One token per origin (``aud``) is kept and reused until less than an hour of it is
    left: a campaign to many browsers of one push service signs about twice a day, not once
    a message. Tokens live ``lifetime`` seconds (12 hours by default; RFC 8292 allows 24).
    Thread-safe. ``clock`` gives UNIX seconds (tests move it).
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        subject: str,
        *,
        lifetime: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 3600 < lifetime <= MAX_TOKEN_LIFETIME:
            raise ValueError("a VAPID token lives more than an hour and at most 24 hours")
        self.subject = check_subject(subject)
        self.public_key = vapid_public_key(key)
        self.lifetime = lifetime
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, int]] = {}

    def __repr__(self) -> str:
        return f"VapidSigner(public_key={self.public_key!r}, subject={self.subject!r})"

    def header(self, audience: str) -> str:
        """``vapid t=<JWT>, k=<public key>`` for the push service at ``audience``."""
        now = int(self._clock())
        with self._lock:
            kept = self._tokens.get(audience)
            if kept is None or kept[1] - now < 3600:
                kept = (self._sign(audience, now + self.lifetime), now + self.lifetime)
                self._tokens[audience] = kept
        return f"vapid t={kept[0]}, k={self.public_key}"

    def _sign(self, audience: str, expires: int) -> str:
        from py_vapid import Vapid02  # type: ignore[import-untyped]  # no type hints shipped

        # "no-strict": the contact is checked here (check_subject), py_vapid's own check
        # would refuse an https: contact with a path, which RFC 8292 allows
        signer = Vapid02(private_key=self._key, conf={"no-strict": True})
        header = signer.sign({"aud": audience, "exp": expires, "sub": self.subject})
        # "vapid t=<jwt>,k=<key>": the token is what is kept; the key is known
        value: str = header["Authorization"]
        token = value.split("t=", 1)[1].split(",", 1)[0]
        return token


# -- answers ---------------------------------------------------------------------------------


def error_for(status: int, *, channel: str, retry_after: float | None) -> ChannelError:
    """The error of a push service's answer other than 2xx (RFC 8030 §5, RFC 8292 §4, and
    the big push services' documented answers: FCM, Mozilla autopush, Apple, WNS)."""
    code = str(status)
    if status in (404, 410):
        return DeadRecipient(
            f"the push service answered {status}: the subscription expired or the browser "
            f"unsubscribed; delete it",
            channel=channel,
            code=code,
        )
    if status == 413:
        return WebPushPayloadTooLarge(None, channel=channel)
    if status == 429:
        return ChannelUnavailable(
            "the push service is throttling (429 Too Many Requests)",
            channel=channel,
            code=code,
            retry_after=retry_after,
        )
    if status >= 500:
        return ChannelUnavailable(
            f"the push service is failing ({status})",
            channel=channel,
            code=code,
            retry_after=retry_after,
        )
    if status in (401, 403):
        return WebPushConfigurationError(
            f"the push service refuses the sender ({status}): the VAPID key or contact, or a "
            f"subscription made with another VAPID key; check the settings (no subscription "
            f"is deleted for this)",
            channel=channel,
            code=code,
        )
    if status == 400:
        return RecipientRefused(
            "the push service refuses the message (400 Bad Request)", channel=channel, code=code
        )
    return ChannelError(f"the push service answered {status}", channel=channel, code=code)
