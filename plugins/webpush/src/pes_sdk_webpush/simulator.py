"""A Web Push service on loopback, and the browser side of its subscriptions.

:class:`WebPushSimulator` is a real HTTP server on ``127.0.0.1`` (built on
:mod:`pes_sdk.notifications.simulation`) that plays both ends a test needs:

* **the browser**: :meth:`~WebPushSimulator.subscribe` does what
  ``pushManager.subscribe()`` does: it makes a P-256 key pair and a 16-byte auth secret
  for a new subscription, keeps the private half, and returns the PushSubscription JSON
  (``JSON.stringify(subscription)``) with an endpoint on this server;
* **the push service**: ``POST /push/<id>`` is checked as RFC 8030, 8291 and 8292 ask.
  The VAPID token is verified independently of the library that made it: ES256 signature
  with the ``k`` key, ``aud`` this server's origin, ``exp`` in the future and at most 24
  hours ahead, ``sub`` a ``mailto:`` or ``https:`` contact, and ``k`` the key the
  subscription was made with when one was given (401 / 403 otherwise, as FCM answers).
  ``TTL`` is required, ``Urgency`` and ``Topic`` are checked when present (400), the body
  is at most 4096 bytes (413) and is **decrypted** with the subscription's private key
  (RFC 8291: one ``aes128gcm`` record, the sender's key in the header; 400 if it does not
  decrypt). The plaintext is recorded (:attr:`WebPushSimulator.messages`): tests compare
  what the browser would read with what was sent, which proves the encryption, not just
  the bytes. Accepted: ``201 Created`` with ``Location`` (the message's URL) and ``TTL``.
  A message of the same ``Topic`` as an undelivered one replaces it
  (:meth:`~WebPushSimulator.inbox`).

Faults on demand (:meth:`~WebPushSimulator.fail_next`, :meth:`~WebPushSimulator.fail_always`,
see :data:`FAULTS`): 410 and 404 (a dead subscription), 429 with ``Retry-After``, 503, 400,
401, 403, 413, and a stall that never answers until :meth:`~WebPushSimulator.heal`.
:meth:`~WebPushSimulator.unsubscribe` makes a subscription answer 410 for good.
:class:`WebPushHarness` puts a channel in front of it for the conformance suite.

It is a simulator, not a push service: messages go nowhere and nothing is delivered.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pes_sdk.gateways.simulation import SimulatorHandler
from pes_sdk.notifications.simulation import STALL, ProviderHarness, ProviderSimulator
from pes_sdk_webpush.channel import WebPushChannel
from pes_sdk_webpush.protocol import (
    MAX_BODY_BYTES,
    MAX_TOKEN_LIFETIME,
    URGENCIES,
    b64url,
    b64url_decode,
    check_subject,
)

__all__ = [
    "FAULTS",
    "STALL",
    "PushMessage",
    "WebPushHarness",
    "WebPushSimulator",
    "write_vapid_key",
]

#: fault → the HTTP status the push service answers
FAULTS: dict[str, int] = {
    "gone": 410,  # the subscription expired or the browser unsubscribed
    "not-found": 404,  # a subscription the service does not know (any more)
    "throttled": 429,
    "unavailable": 503,
    "bad-request": 400,
    "unauthorized": 401,  # the VAPID token refused
    "forbidden": 403,  # the VAPID key is not the subscription's
    "too-large": 413,
}

_PATH = "/push/"


@attrs.frozen
class PushMessage:
    """A message the simulated push service accepted, decrypted as the browser would."""

    #: the simulator's id of the subscription (the endpoint's last segment)
    subscription: str
    #: what the browser's service worker gets (``event.data.text()``)
    plaintext: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    #: the VAPID token's claims and its ``k``
    claims: Mapping[str, Any]
    vapid_key: str
    #: the encrypted body, as it travelled
    body: bytes = attrs.field(repr=False)
    #: the accepted message's URL (the ``Location`` answered)
    location: str

    def json(self) -> Any:
        """The plaintext as JSON (what the service worker's ``event.data.json()`` gives)."""
        return json.loads(self.plaintext.decode("utf-8"))


@attrs.define
class _Subscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey = attrs.field(repr=False)
    auth: bytes = attrs.field(repr=False)
    json: str = attrs.field(repr=False)
    application_server_key: str | None
    gone: bool = False


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _verify_vapid(header: str, *, audience: str, now: float) -> tuple[dict[str, Any], str, str]:
    """(claims, k, token) of a valid ``Authorization: vapid t=…, k=…``; :class:`_Refused`
    401 otherwise. Checked with ``cryptography`` alone, not the library that signed."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise _Refused(401, "the Authorization scheme is not vapid")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            params[name.strip().lower()] = value.strip()
    token, k = params.get("t", ""), params.get("k", "")
    try:
        key_bytes = b64url_decode(k)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes)
    except ValueError:
        raise _Refused(401, "k is not a P-256 public key") from None
    pieces = token.split(".")
    if len(pieces) != 3:
        raise _Refused(401, "t is not a JWT")
    try:
        jose = json.loads(b64url_decode(pieces[0]))
        claims = json.loads(b64url_decode(pieces[1]))
        signature = b64url_decode(pieces[2])
    except ValueError:
        raise _Refused(401, "t is not a JWT") from None
    if not isinstance(jose, dict) or jose.get("alg") != "ES256":
        raise _Refused(401, "the JWT is not ES256")
    if len(signature) != 64:
        raise _Refused(401, "the ES256 signature is not 64 bytes")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{pieces[0]}.{pieces[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _Refused(401, "the JWT's signature does not verify with k") from None
    if not isinstance(claims, dict):
        raise _Refused(401, "the JWT's claims are not an object")
    if claims.get("aud") != audience:
        raise _Refused(401, "aud is not this push service's origin")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise _Refused(401, "exp is missing or not a whole number")
    if exp <= now:
        raise _Refused(401, "the token has expired")
    if exp > now + MAX_TOKEN_LIFETIME:
        raise _Refused(401, "exp is more than 24 hours ahead")
    sub = claims.get("sub")
    try:
        check_subject(sub if isinstance(sub, str) else "")
    except ValueError:
        raise _Refused(401, "sub is not a mailto: or https: contact") from None
    return claims, k, token


def _decrypt(body: bytes, subscription: _Subscription) -> bytes:
    """The plaintext of an ``aes128gcm`` body, as the browser decrypts it (RFC 8291)."""
    import http_ece  # type: ignore[import-untyped]  # no type hints shipped

    if len(body) < 21:
        raise _Refused(400, "the body has no aes128gcm header")
    record_size = int.from_bytes(body[16:20], "big")
    id_length = body[20]
    if id_length != 65:
        raise _Refused(400, "the key id is not the sender's 65-byte P-256 key (RFC 8291 §4)")
    if len(body) - 21 - id_length > record_size:
        raise _Refused(400, "more than one record (RFC 8291 §4: one record)")
    try:
        plaintext: bytes = http_ece.decrypt(
            body,
            private_key=subscription.private_key,
            auth_secret=subscription.auth,
            version="aes128gcm",
        )
    except Exception:  # http_ece's own error, or a bad key or tag from cryptography
        raise _Refused(400, "the body does not decrypt with the subscription's keys") from None
    return plaintext


class _Handler(SimulatorHandler):
    sim: WebPushSimulator

    def _answer(self, status: int, payload: Mapping[str, Any] | None = None, **extra: str) -> None:
        body = json.dumps(payload or {}, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json", **extra)

    def _dispatch(self, method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        if method != "POST" or not path.startswith(_PATH):
            self._answer(404, {"code": 404, "error": "Not Found"})
            return
        sim = self.sim
        sim.count_request()
        fault, retry_after = sim.next_fault()
        if fault == STALL:
            self.close_connection = True  # never answered, as a stalled service
            return
        if fault is not None:
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            self._answer(FAULTS[fault], {"code": FAULTS[fault], "error": fault}, **extra)
            return
        try:
            message = sim._accept(path[len(_PATH) :], self.headers, body)
        except _Refused as refused:
            self._answer(refused.status, {"code": refused.status, "message": refused.reason})
            return
        self._answer(201, None, Location=message.location, TTL=str(message.ttl))


class WebPushSimulator(ProviderSimulator[PushMessage]):
    """A push service on ``127.0.0.1`` with the browsers' side of its subscriptions.

    :param clock: UNIX seconds for checking the VAPID tokens' ``exp`` (tests move it).
    """

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(_Handler, faults=FAULTS, port=port, name="webpush-simulator")
        self._clock = clock
        self._lock = threading.Lock()
        self._subscriptions: dict[str, _Subscription] = {}
        #: every VAPID token presented (valid or not): credentials, for leak checks
        self.tokens: list[str] = []
        #: why each refused request was refused (no subscription or key in it)
        self.refusals: list[str] = []

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: the ``aud`` a VAPID token for this service needs."""
        return self.root_url

    # -- the browser's side --------------------------------------------------------------

    def subscribe(self, application_server_key: str | None = None) -> str:
        """A new subscription's JSON, as the browser gives it to the page.

        ``application_server_key``: the VAPID public key the page subscribed with; the
        service then takes messages for it only with tokens of that key (403 otherwise).
        """
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        sub_id = secrets.token_urlsafe(32)
        public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        text = json.dumps(
            {
                "endpoint": f"{self.root_url}{_PATH}{sub_id}",
                "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
            }
        )
        with self._lock:
            self._subscriptions[sub_id] = _Subscription(
                sub_id, private_key, auth, text, application_server_key
            )
        return text

    def subscription_id(self, subscription: str) -> str:
        """The simulator's id of a subscription (its JSON), for :meth:`inbox` and
        :attr:`PushMessage.subscription`."""
        endpoint = json.loads(subscription)["endpoint"]
        return str(urllib.parse.urlsplit(endpoint).path[len(_PATH) :])

    def unsubscribe(self, subscription: str) -> None:
        """The browser dropped ``subscription``: from now on it answers 410 Gone."""
        with self._lock:
            self._subscriptions[self.subscription_id(subscription)].gone = True

    def inbox(self, subscription: str) -> list[PushMessage]:
        """The messages the browser would get when it comes online: a message of a topic
        replaces an earlier one of the same topic (RFC 8030 §5.4)."""
        sub_id = self.subscription_id(subscription)
        kept: list[PushMessage] = []
        with self._lock:
            for message in self.messages:
                if message.subscription != sub_id:
                    continue
                if message.topic is not None:
                    kept = [m for m in kept if m.topic != message.topic]
                kept.append(message)
        return kept

    # -- the push service ----------------------------------------------------------------

    def _accept(self, sub_id: str, headers: Any, body: bytes) -> PushMessage:
        with self._lock:
            subscription = self._subscriptions.get(sub_id)
        try:
            if subscription is None:
                raise _Refused(404, "no such subscription")
            if subscription.gone:
                raise _Refused(410, "the subscription has expired or was unsubscribed")
            authorization = headers.get("Authorization") or ""
            claims, k = self._verify(authorization)
            if subscription.application_server_key not in (None, k):
                raise _Refused(403, "the VAPID key is not the one the subscription was made with")
            ttl_text = headers.get("TTL")
            if ttl_text is None or not ttl_text.isdigit():
                raise _Refused(400, "TTL is missing or not whole seconds")
            urgency = headers.get("Urgency")
            if urgency is not None and urgency not in URGENCIES:
                raise _Refused(400, "Urgency is not one of RFC 8030's")
            topic = headers.get("Topic")
            if topic is not None and not _topic_ok(topic):
                raise _Refused(400, "Topic is over 32 characters or outside base64url")
            if len(body) > MAX_BODY_BYTES:
                raise _Refused(413, "the body is over 4096 bytes")
            if body and (headers.get("Content-Encoding") or "").lower() != "aes128gcm":
                raise _Refused(400, "Content-Encoding is not aes128gcm")
            plaintext = _decrypt(body, subscription) if body else b""
        except _Refused as refused:
            with self._lock:
                self.refusals.append(refused.reason)
            raise
        message = PushMessage(
            subscription=sub_id,
            plaintext=plaintext,
            ttl=int(ttl_text),
            urgency=urgency,
            topic=topic,
            claims=claims,
            vapid_key=k,
            body=body,
            location=f"{self.root_url}/m/{uuid.uuid4()}",
        )
        self.record(message)
        return message

    def _verify(self, authorization: str) -> tuple[dict[str, Any], str]:
        token = ""
        if "t=" in authorization:
            token = authorization.split("t=", 1)[1].split(",", 1)[0].strip()
        if token:
            with self._lock:
                self.tokens.append(token)
        claims, k, _ = _verify_vapid(authorization, audience=self.origin, now=self._clock())
        return claims, k


def _topic_ok(topic: str) -> bool:
    return 0 < len(topic) <= 32 and all(c.isascii() and (c.isalnum() or c in "-_") for c in topic)


def write_vapid_key(path: Path) -> Path:
    """A new VAPID private key (P-256, PKCS#8 PEM) at ``path``, mode 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


# -- the conformance harness ---------------------------------------------------------------

#: the conformance family's answers → this simulator's faults
_ANSWERS = {
    "refused": "bad-request",
    "dead": "gone",
    "throttled": "throttled",
    "unavailable": "unavailable",
    "stall": STALL,
}


class WebPushHarness(ProviderHarness[WebPushSimulator, WebPushChannel]):
    """A Web Push channel configured against a fresh :class:`WebPushSimulator`, with one
    subscription made for its VAPID key (see
    :class:`pes_sdk_conformance.notifications.ChannelHarness`)."""

    answers = _ANSWERS

    def __init__(
        self,
        folder: Path,
        *,
        timeout: float = 1.0,
        settings: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from pes_sdk_webpush.plugin import WebPushFactory

        super().__init__()
        self.timeout = timeout
        self.simulator = WebPushSimulator(clock=clock).start()
        self.key_file = write_vapid_key(folder / "vapid-private.pem")
        self.settings = {
            "vapid_key_file": str(self.key_file),
            "subject": "mailto:push-admin@zhkh-oplata.ru",
            "timeout": str(timeout),
            "allow_loopback_http": "true",
            **(settings or {}),
        }
        self.channel = WebPushFactory().create(self.settings)
        self.recipient = self.simulator.subscribe(self.channel.vapid_public_key)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The VAPID private key (whole and by line), the subscription's endpoint, path and
        keys (personal: they identify and open one browser), and every token sent."""
        pem = self.key_file.read_text(encoding="ascii")
        lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        sub = json.loads(self.recipient)
        path = urllib.parse.urlsplit(sub["endpoint"]).path
        return (
            pem,
            *lines,
            sub["endpoint"],
            path,
            sub["keys"]["p256dh"],
            sub["keys"]["auth"],
            *self.simulator.tokens,
        )
