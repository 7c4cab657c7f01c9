"""A local APNs: Apple's provider API over HTTP/2 and TLS on loopback, for tests and demos.

A real server (hypercorn serving a small ASGI application, in a thread of its own) with a
certificate of a throwaway CA (trustme) that answers as APNs documents ("Handling
notification responses from APNs"):

* HTTP/2 only: a request over HTTP/1.1 gets 505 (``{"reason": "HTTP2Required"}``, the
  simulator's own word: APNs itself does not talk HTTP/1.1 at all);
* ``POST /3/device/<hex token>`` only (404 ``BadPath``, 405 ``MethodNotAllowed``, 400
  ``MissingDeviceToken`` / ``BadDeviceToken``);
* the provider token verified against the public key of the test's key pair: ES256, the
  ``kid`` of the key, ``iss`` the team, ``iat`` at most an hour old by the simulator's clock
  (403 ``MissingProviderToken``, ``InvalidProviderToken``, ``ExpiredProviderToken``), and
  a new token on one connection at most every 20 minutes (429
  ``TooManyProviderTokenUpdates``) unless the simulator called the last one expired;
* the headers: ``apns-topic`` the app's (400 ``MissingTopic``, ``TopicDisallowed``),
  ``apns-push-type`` (400 ``InvalidPushType``), ``apns-priority`` 1, 5 or 10 (400
  ``BadPriority``), ``apns-expiration`` digits (``BadExpirationDate``), ``apns-id`` a UUID
  (``BadMessageId``), ``apns-collapse-id`` at most 64 bytes (``BadCollapseId``), none twice
  (``DuplicateHeaders``);
* the payload: present (``PayloadEmpty``), at most 4096 bytes (413 ``PayloadTooLarge``), a
  JSON object with an ``aps`` dictionary, an ``alert`` one for ``apns-push-type: alert``
  (400 ``InvalidPushType``; ``BadPayload`` for what is not JSON, the simulator's word);
* 200 with the request's ``apns-id`` for the rest, recorded in :attr:`ApnsSimulator.accepted`.

Switches: :meth:`~ApnsSimulator.kill` a device token (410 ``Unregistered`` with a timestamp,
or 400 ``BadDeviceToken``), :meth:`~ApnsSimulator.expire_token_once` (403
``ExpiredProviderToken`` to the next request), and the conformance harness's
:meth:`~ApnsSimulator.fail_next` / :meth:`~ApnsSimulator.fail_always` (``refused``: 400
``DeviceTokenNotForTopic``; ``dead``: 410; ``throttled``: 429 ``TooManyRequests``;
``unavailable``: 503; ``stall``: no answer until :meth:`~ApnsSimulator.heal`).

Needs the ``simulator`` extra (``pip install pes-sdk-apns[simulator]``). The simulator
satisfies :class:`pes_sdk_conformance.notifications.ChannelHarness`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import hypercorn.asyncio
import hypercorn.config
import jwt
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pes_sdk_apns.channel import ApnsChannel
from pes_sdk_apns.plugin import ApnsFactory
from pes_sdk_apns.protocol import MAX_PAYLOAD_BYTES, MIN_TOKEN_REFRESH

__all__ = ["FAULTS", "TEAM_ID", "TOPIC", "ApnsSimulator", "ManualClock", "Received"]

TEAM_ID = "5QX8Z2K7LM"
KEY_ID = "9R4T7WQ2HB"
TOPIC = "ru.example.zhkh"
# the provider token is refused once it is this old, in seconds
TOKEN_MAX_AGE = 3600
# a token issued this far in the future (by the simulator's clock) is invalid
CLOCK_TOLERANCE = 60

#: What :meth:`ApnsSimulator.fail_next` can make the next requests answer: the conformance
#: family's answers, then APNs' own (status, reason).
FAULTS: Mapping[str, tuple[int, str]] = {
    "refused": (400, "DeviceTokenNotForTopic"),
    "dead": (410, "Unregistered"),
    "throttled": (429, "TooManyRequests"),
    "unavailable": (503, "ServiceUnavailable"),
    "bad-device-token": (400, "BadDeviceToken"),
    "internal": (500, "InternalServerError"),
    "shutdown": (503, "Shutdown"),
    "invalid-provider-token": (403, "InvalidProviderToken"),
    "payload-too-large": (413, "PayloadTooLarge"),
    "stall": (0, ""),
}

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
    }
)

# The server's own logging (hypercorn's) stays quiet: the harness contract asks that
# nothing of the simulator name a recipient in the tests' log.
_SERVER_LOG = logging.getLogger("pes_sdk_apns.simulator.server")
_SERVER_LOG.propagate = False
_SERVER_LOG.addHandler(logging.NullHandler())


class ManualClock:
    """A clock that tests move (UNIX seconds): give it to the simulator and the channel to
    test a provider token's hour without waiting for it."""

    def __init__(self, now: float = 1_796_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on."""
        self.now += seconds


@attrs.frozen
class Received:
    """A notification the simulator accepted: the device token, the request's headers
    (lower-case names), the payload as parsed, its size in bytes, and the HTTP version
    (``"2"``)."""

    token: str = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    payload: Mapping[str, Any]
    size: int
    http_version: str
    apns_id: str


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, *, retry_after: int | None = None) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"{status} {reason}")


def _free_socket() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


class ApnsSimulator:
    """APNs on ``https://127.0.0.1:<port>``, with its key pair, CA and a channel for it.

    ``folder`` receives the key (``AuthKey_<key id>.p8``) and the CA's certificate;
    ``clock`` (UNIX seconds) is what the provider tokens' age is judged by: give the
    channel's clock to move both. ``offer_http2=False`` makes a server that talks HTTP/1.1
    only, as APNs never does (the channel must notice). Use as a context manager, or
    :meth:`close`.
    """

    kind = "push"

    def __init__(
        self,
        folder: Path,
        *,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
        team_id: str = TEAM_ID,
        key_id: str = KEY_ID,
        topic: str = TOPIC,
        offer_http2: bool = True,
    ) -> None:
        self.folder = Path(folder)
        self.timeout = timeout
        self.clock = clock
        self.team_id = team_id
        self.key_id = key_id
        self.topic = topic
        #: a device token APNs would accept (64 hex digits)
        self.recipient = secrets.token_hex(32)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self._key.public_key()
        self.key_pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        self.key_file = self.folder / f"AuthKey_{key_id}.p8"
        self.key_file.write_text(self.key_pem, encoding="ascii")
        self.key_file.chmod(0o600)
        ca = trustme.CA()
        certificate = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = self.folder / "apns-simulator-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert_file, key_file = self.folder / "apns-server.pem", self.folder / "apns-server.key"
        certificate.cert_chain_pems[0].write_to_path(str(cert_file))
        certificate.private_key_pem.write_to_path(str(key_file))

        self._lock = threading.Lock()
        #: what was accepted, oldest first
        self.accepted: list[Received] = []
        #: every provider token presented, in order (repeats included)
        self.tokens_seen: list[str] = []
        #: the HTTP version of every request ("2", "1.1")
        self.http_versions: list[str] = []
        self._requests = 0
        self._faults: list[tuple[str, int | None]] = []
        self._always: tuple[str, int | None] | None = None
        self._dead: dict[str, str] = {}
        self._expire_once = False
        # per connection (client address): the last token and when it was made
        self._connection_tokens: dict[Any, tuple[str, int]] = {}
        self._refresh_invited: set[Any] = set()
        self._healed = threading.Event()
        self._channels: list[ApnsChannel] = []

        sock = _free_socket()
        self.port: int = sock.getsockname()[1]
        self.endpoint = f"https://127.0.0.1:{self.port}"
        config = hypercorn.config.Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.certfile, config.keyfile = str(cert_file), str(key_file)
        config.errorlog = _SERVER_LOG
        config.graceful_timeout = 1.0
        # hypercorn closes a connection after 1,000 requests (GOAWAY); Apple asks providers
        # to keep one open for many, and a campaign sends far more than 1,000 on it
        config.keep_alive_max_requests = 2**31
        if not offer_http2:
            # a server that is not APNs (a proxy terminating TLS, say): HTTP/1.1 only
            config.alpn_protocols = ["http/1.1"]
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="apns-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the APNs simulator did not start")
        _wait_for_port(self.port)
        self._channel: ApnsChannel | None = None
        self._channel_lock = threading.Lock()

    # -- life ------------------------------------------------------------------------------

    def __enter__(self) -> ApnsSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channels made here, end every stall, and stop the server."""
        for channel in self._channels:
            channel.close()
        self.heal()
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._ready.set()
            await hypercorn.asyncio.serve(self._app, self._config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        self._loop.run_until_complete(main())
        self._loop.close()

    # -- the channel -----------------------------------------------------------------------

    def settings(self, **overrides: str) -> dict[str, str]:
        """Factory settings for a channel against this simulator."""
        settings = {
            "team_id": self.team_id,
            "key_id": self.key_id,
            "key_file": str(self.key_file),
            "bundle_id": self.topic,
            "environment": "sandbox",
            "endpoint": self.endpoint,
            "ca_file": str(self.ca_file),
            "timeout": str(self.timeout),
        }
        settings.update(overrides)
        return {k: v for k, v in settings.items() if v != ""}

    def make_channel(
        self, *, clock: Callable[[], float] | None = None, **overrides: str
    ) -> ApnsChannel:
        """A new channel for this simulator (closed with it), on the simulator's clock
        unless given another."""
        built = ApnsFactory().create(self.settings(**overrides))
        channel = ApnsChannel(built.settings, clock=clock or self.clock)
        built.close()
        self._channels.append(channel)
        return channel

    @property
    def channel(self) -> ApnsChannel:
        """The harness's channel, made at first use with the simulator's clock."""
        # under the lock: two threads asking at once must get one channel (one SentKeys)
        with self._channel_lock:
            if self._channel is None:
                self._channel = self.make_channel()
            return self._channel

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key's text and each of its base64 lines: none may show anywhere."""
        lines = [line for line in self.key_pem.splitlines() if line and "-----" not in line]
        return (self.key_pem, *lines)

    # -- switches --------------------------------------------------------------------------

    def kill(self, token: str, reason: str = "Unregistered") -> None:
        """Answer every notification to ``token`` with 410 ``Unregistered`` (the app was
        removed) or, with ``reason="BadDeviceToken"``, 400."""
        if reason not in ("Unregistered", "BadDeviceToken", "ExpiredToken"):
            raise ValueError(
                f"a dead token answers Unregistered, ExpiredToken or BadDeviceToken, not {reason!r}"
            )
        with self._lock:
            self._dead[token] = reason

    def expire_token_once(self) -> None:
        """Answer the next request 403 ``ExpiredProviderToken``, whatever its token."""
        with self._lock:
            self._expire_once = True

    def fail_next(self, answer: str, *, times: int = 1, retry_after: int | None = None) -> bool:
        """The next ``times`` requests answer ``answer`` (see :data:`FAULTS`)."""
        if answer not in FAULTS:
            return False
        with self._lock:
            self._faults.extend([(answer, retry_after)] * times)
        if answer == "stall":
            self._healed.clear()
        return True

    def fail_always(self, answer: str, *, retry_after: int | None = None) -> bool:
        """Every request answers ``answer`` until :meth:`heal`."""
        if answer not in FAULTS:
            return False
        with self._lock:
            self._always = (answer, retry_after)
        if answer == "stall":
            self._healed.clear()
        return True

    def heal(self) -> None:
        """Answer normally again, and end every stall now."""
        with self._lock:
            self._faults.clear()
            self._always = None
        self._healed.set()

    def requests(self) -> int:
        """How many requests reached the simulator, whatever it answered."""
        with self._lock:
            return self._requests

    def received(self) -> int:
        """How many notifications were accepted."""
        with self._lock:
            return len(self.accepted)

    # -- the protocol ----------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers: list[tuple[str, str]] = [
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
        ]
        status, answer_headers, answer = 200, [], b""
        try:
            apns_id, stall = self._handle(scope, headers, body)
            if stall:
                while not self._healed.is_set():
                    await asyncio.sleep(0.02)
                raise _Refusal(503, "ServiceUnavailable")
            answer_headers.append((b"apns-id", apns_id.encode("ascii")))
        except _Refusal as refusal:
            status = refusal.status
            document: dict[str, Any] = {"reason": refusal.reason}
            if status == 410:
                document["timestamp"] = int(self.clock() * 1000)
            answer = json.dumps(document).encode("utf-8")
            answer_headers.append((b"content-type", b"application/json"))
            if refusal.retry_after is not None:
                answer_headers.append((b"retry-after", str(refusal.retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": answer_headers})
        await send({"type": "http.response.body", "body": answer})

    def _handle(
        self, scope: Mapping[str, Any], headers: list[tuple[str, str]], body: bytes
    ) -> tuple[str, bool]:
        """The accepted notification's apns-id and whether to stall; or a :class:`_Refusal`."""
        with self._lock:
            self._requests += 1
            self.http_versions.append(str(scope["http_version"]))
        if scope["http_version"] != "2":
            raise _Refusal(505, "HTTP2Required")
        if scope["method"] != "POST":
            raise _Refusal(405, "MethodNotAllowed")
        path: str = scope["path"]
        if not path.startswith("/3/device/"):
            raise _Refusal(404, "BadPath")
        token = path[len("/3/device/") :]
        if not token:
            raise _Refusal(400, "MissingDeviceToken")
        if not _HEX.fullmatch(token):
            raise _Refusal(400, "BadDeviceToken")
        names = [name for name, _ in headers if name.startswith("apns-") or name == "authorization"]
        if len(names) != len(set(names)):
            raise _Refusal(400, "DuplicateHeaders")
        values = dict(headers)
        self._authenticate(values.get("authorization", ""), scope.get("client"))
        self._check_headers(values)
        payload = self._check_payload(values, body)
        with self._lock:
            fault = self._always
            if fault is None and self._faults:
                fault = self._faults.pop(0)
            dead = self._dead.get(token)
        if fault is not None:
            answer, retry_after = fault
            if answer == "stall":
                return "", True
            status, reason = FAULTS[answer]
            raise _Refusal(status, reason, retry_after=retry_after)
        if dead is not None:
            raise _Refusal(400 if dead == "BadDeviceToken" else 410, dead)
        apns_id = values.get("apns-id") or str(uuid.uuid4())
        received = Received(
            token=token,
            headers=values,
            payload=payload,
            size=len(body),
            http_version=str(scope["http_version"]),
            apns_id=apns_id,
        )
        with self._lock:
            self.accepted.append(received)
        return apns_id, False

    def _authenticate(self, authorization: str, connection: Any) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refusal(403, "MissingProviderToken")
        token = token.strip()
        with self._lock:
            self.tokens_seen.append(token)
            if self._expire_once:
                self._expire_once = False
                self._refresh_invited.add(connection)
                raise _Refusal(403, "ExpiredProviderToken")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                # the age is judged below by the simulator's clock, not PyJWT's
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.PyJWTError:
            raise _Refusal(403, "InvalidProviderToken") from None
        if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
            raise _Refusal(403, "InvalidProviderToken")
        issued_at = claims.get("iat")
        if claims.get("iss") != self.team_id or not isinstance(issued_at, int):
            raise _Refusal(403, "InvalidProviderToken")
        now = self.clock()
        if issued_at > now + CLOCK_TOLERANCE:
            raise _Refusal(403, "InvalidProviderToken")
        if now - issued_at > TOKEN_MAX_AGE:
            with self._lock:
                self._refresh_invited.add(connection)
            raise _Refusal(403, "ExpiredProviderToken")
        with self._lock:
            previous = self._connection_tokens.get(connection)
            if previous is not None and previous[0] != token:
                invited = connection in self._refresh_invited
                if not invited and issued_at - previous[1] < MIN_TOKEN_REFRESH:
                    raise _Refusal(429, "TooManyProviderTokenUpdates")
            self._refresh_invited.discard(connection)
            self._connection_tokens[connection] = (token, issued_at)

    def _check_headers(self, values: Mapping[str, str]) -> None:
        topic = values.get("apns-topic")
        if not topic:
            raise _Refusal(400, "MissingTopic")
        if topic != self.topic:
            raise _Refusal(400, "TopicDisallowed")
        if values.get("apns-push-type") not in _PUSH_TYPES:
            raise _Refusal(400, "InvalidPushType")
        if values.get("apns-priority", "10") not in ("1", "5", "10"):
            raise _Refusal(400, "BadPriority")
        if not values.get("apns-expiration", "0").isdigit():
            raise _Refusal(400, "BadExpirationDate")
        if "apns-id" in values and not _UUID.fullmatch(values["apns-id"]):
            raise _Refusal(400, "BadMessageId")
        if len(values.get("apns-collapse-id", "").encode("latin-1")) > 64:
            raise _Refusal(400, "BadCollapseId")

    def _check_payload(self, values: Mapping[str, str], body: bytes) -> dict[str, Any]:
        if not body:
            raise _Refusal(400, "PayloadEmpty")
        if len(body) > MAX_PAYLOAD_BYTES:
            raise _Refusal(413, "PayloadTooLarge")
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            raise _Refusal(400, "BadPayload") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            raise _Refusal(400, "BadPayload")
        if values.get("apns-push-type") == "alert" and not payload["aps"].get("alert"):
            raise _Refusal(400, "InvalidPushType")
        return payload


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
