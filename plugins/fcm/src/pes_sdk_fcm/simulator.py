"""FCM HTTP v1 and Google's OAuth2 token endpoint, simulated on loopback.

:class:`FcmSimulator` is a real HTTP server on ``127.0.0.1`` (built on
:mod:`pes_sdk.notifications.simulation`) that answers as the two Google services the channel
talks to:

* ``POST /token``: the JWT bearer grant. It checks the assertion as Google does: RS256
  signed by the service account's key (the simulator made the key and keeps the public
  half), ``iss`` the account's ``client_email``, ``scope`` FCM's, ``aud`` this ``token_uri``,
  ``iat``/``exp`` present, at most an hour apart and not ended; it answers an access token
  good for ``token_lifetime`` seconds, or ``400 invalid_grant`` / ``invalid_scope``;
* ``POST /v1/projects/{project}/messages:send``: checks the access token (401
  ``UNAUTHENTICATED`` if unknown, ended or revoked), the project (403), then the body as
  FCM's proto3 JSON parser does: an unknown field, a wrong type, a bad ``ttl`` or
  ``priority``, no or two targets, a reserved data key, a payload over 4096 bytes: 400
  ``INVALID_ARGUMENT`` with a ``google.rpc.BadRequest`` detail naming the field. A token not
  shaped as FCM's gives 400 with the ``FcmError`` ``INVALID_ARGUMENT``; an unregistered one
  404 ``UNREGISTERED``. An accepted message is recorded (:attr:`FcmSimulator.messages`) and
  answered ``{"name": "projects/…/messages/…"}``.

Faults on demand (:meth:`FcmSimulator.fail_next`, :meth:`~FcmSimulator.fail_always`, see
:data:`FAULTS`): FCM's documented error answers, a throttle with ``Retry-After``, and a
stall that never answers until :meth:`~FcmSimulator.heal`. :class:`FcmHarness` puts a
channel in front of it for the conformance suite's notification channel family.

The error bodies follow FCM's documented samples (firebase.google.com/docs/cloud-messaging/
error-codes and the ErrorCode reference). It is a simulator, not FCM: messages go nowhere,
and the payload size is counted over ``notification`` and ``data`` only.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pes_sdk.gateways.simulation import SimulatorHandler
from pes_sdk.notifications.simulation import STALL, ProviderHarness, ProviderSimulator
from pes_sdk_fcm.auth import GRANT_TYPE, SCOPE, TOKEN_LIFETIME

__all__ = [
    "FAULTS",
    "FcmHarness",
    "FcmSimulator",
    "device_token",
]

PROJECT_ID = "pes-push-demo"
CLIENT_EMAIL = f"pes-push@{PROJECT_ID}.iam.gserviceaccount.com"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# FCM's registration tokens: about 160 characters of URL-safe base64 and a colon
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{8,}:[A-Za-z0-9_\-]{20,4096}")
_DURATION = re.compile(r"\d{1,10}(\.\d{1,9})?s")
_SEND_PATH = re.compile(r"/v1/projects/([^/]+)/messages:send")
MAX_PAYLOAD = 4096

#: fault → (HTTP status, google.rpc status, message, FcmError errorCode or None,
#: BadRequest field or None), as FCM's documentation shows them
FAULTS: dict[str, tuple[int, str, str, str | None, str | None]] = {
    "unregistered": (404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED", None),
    "invalid-token": (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
        None,
    ),
    "invalid-argument": (
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        "INVALID_ARGUMENT",
        "message.android.ttl",
    ),
    "sender-id-mismatch": (
        403,
        "PERMISSION_DENIED",
        "SenderId mismatch",
        "SENDER_ID_MISMATCH",
        None,
    ),
    "third-party-auth": (
        401,
        "UNAUTHENTICATED",
        "Auth error from APNS or Web Push Service",
        "THIRD_PARTY_AUTH_ERROR",
        None,
    ),
    "quota": (
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'",
        "QUOTA_EXCEEDED",
        None,
    ),
    "unavailable": (
        503,
        "UNAVAILABLE",
        "The service is currently unavailable.",
        "UNAVAILABLE",
        None,
    ),
    "internal": (500, "INTERNAL", "Internal error encountered.", "INTERNAL", None),
    "unauthenticated": (
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
        None,
        None,
    ),
}


def device_token(n: int) -> str:
    """A registration token shaped as FCM's (the same ``n``, the same token)."""
    seed = f"{n:08d}".encode().hex()
    body = (seed * 12)[:140]
    return f"dK{n:06d}x:APA91b{body}"


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    # one key per process: generating RSA keys is slow, and every harness needs one
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- the message schema, as FCM's proto3 JSON parser knows it ----------------------------

_S, _B, _I, _MAP, _STRUCT, _LIST = "string", "bool", "int", "map", "struct", "list"
_SCHEMA: dict[str, dict[str, str]] = {
    "SendMessageRequest": {"validate_only": _B, "message": "Message"},
    "Message": {
        "name": _S,
        "data": _MAP,
        "notification": "Notification",
        "android": "AndroidConfig",
        "webpush": "WebpushConfig",
        "apns": "ApnsConfig",
        "fcm_options": "FcmOptions",
        "token": _S,
        "topic": _S,
        "condition": _S,
    },
    "Notification": {"title": _S, "body": _S, "image": _S},
    "AndroidConfig": {
        "collapse_key": _S,
        "priority": "AndroidMessagePriority",
        "ttl": "Duration",
        "restricted_package_name": _S,
        "data": _MAP,
        "notification": "AndroidNotification",
        "fcm_options": "AndroidFcmOptions",
        "direct_boot_ok": _B,
    },
    "AndroidNotification": {
        **{
            k: _S
            for k in (
                "title",
                "body",
                "icon",
                "color",
                "sound",
                "tag",
                "click_action",
                "body_loc_key",
                "title_loc_key",
                "channel_id",
                "ticker",
                "event_time",
                "notification_priority",
                "visibility",
                "image",
                "proxy",
            )
        },
        **{
            k: _B
            for k in (
                "sticky",
                "local_only",
                "default_sound",
                "default_vibrate_timings",
                "default_light_settings",
                "bypass_proxy_notification",
            )
        },
        "body_loc_args": _LIST,
        "title_loc_args": _LIST,
        "vibrate_timings": _LIST,
        "notification_count": _I,
        "light_settings": _STRUCT,
    },
    "AndroidFcmOptions": {"analytics_label": _S},
    "ApnsConfig": {
        "headers": _MAP,
        "payload": _STRUCT,
        "fcm_options": "ApnsFcmOptions",
        "live_activity_token": _S,
    },
    "ApnsFcmOptions": {"analytics_label": _S, "image": _S},
    "WebpushConfig": {
        "headers": _MAP,
        "data": _MAP,
        "notification": _STRUCT,
        "fcm_options": "WebpushFcmOptions",
    },
    "WebpushFcmOptions": {"link": _S, "analytics_label": _S},
    "FcmOptions": {"analytics_label": _S},
}
_ENUMS = {"AndroidMessagePriority": ("NORMAL", "HIGH")}


def _snake(name: str) -> str:
    # proto3 JSON takes both the field's name and its lowerCamelCase form
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class _Invalid(Exception):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


def _check(value: object, kind: str, where: str) -> None:
    if kind == _S:
        if not isinstance(value, str):
            raise _Invalid(where, f"Invalid value at '{where}' (TYPE_STRING)")
    elif kind == _B:
        if not isinstance(value, bool):
            raise _Invalid(where, f"Invalid value at '{where}' (TYPE_BOOL)")
    elif kind == _I:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(where, f"Invalid value at '{where}' (TYPE_INT32)")
    elif kind == _MAP:
        if not isinstance(value, dict):
            raise _Invalid(where, f"Invalid value at '{where}' (map)")
        for i, (k, v) in enumerate(value.items()):
            if not isinstance(v, str):
                raise _Invalid(f"{where}[{i}].value", f"Invalid value at '{where}[{i}].value'")
            del k
    elif kind == _STRUCT:
        if not isinstance(value, dict):
            raise _Invalid(
                where, f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Struct)"
            )
    elif kind == _LIST:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Invalid(where, f"Invalid value at '{where}' (TYPE_STRING)")
    elif kind == "Duration":
        if not isinstance(value, str) or not _DURATION.fullmatch(value):
            raise _Invalid(
                where, f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.Duration)"
            )
        if float(value[:-1]) > 2_419_200:  # four weeks, FCM's longest ttl
            raise _Invalid(where, "The TTL must be at most four weeks")
    elif kind in _ENUMS:
        if value not in _ENUMS[kind]:
            raise _Invalid(where, f"Invalid value at '{where}' (type.googleapis.com/{kind})")
    else:
        _check_object(value, kind, where)


def _check_object(value: object, kind: str, where: str) -> None:
    if not isinstance(value, dict):
        raise _Invalid(where, f"Invalid value at '{where}' ({kind})")
    fields = _SCHEMA[kind]
    seen: set[str] = set()
    for name, item in value.items():
        field = _snake(name)
        if field not in fields or field in seen:
            raise _Invalid(
                where,
                f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': "
                "Cannot find field.",
            )
        seen.add(field)
        _check(item, fields[field], f"{where}.{field}" if where else field)


def _payload_size(message: Mapping[str, Any]) -> int:
    size = 0
    for part in ("notification", "data"):
        for k, v in (message.get(part) or {}).items():
            size += len(k.encode()) + len(str(v).encode())
    return size


def _validate(request: Mapping[str, Any]) -> dict[str, Any]:
    """The ``message`` of a valid request; :class:`_Invalid` as FCM would answer."""
    _check_object(request, "SendMessageRequest", "")
    message = request.get("message")
    if not isinstance(message, dict):
        raise _Invalid("message", "Request contains an invalid argument.")
    message = {_snake(k): v for k, v in message.items()}
    targets = [t for t in ("token", "topic", "condition") if message.get(t)]
    if not targets:
        raise _Invalid("message", "Recipient of the message is not set.")
    if len(targets) > 1:
        raise _Invalid("message", "Only one of token, topic or condition may be set.")
    for key in message.get("data") or {}:
        if key in ("from", "gcm", "message_type") or key.startswith("google"):
            raise _Invalid("message.data", f"Invalid data payload key: {key}")
    if _payload_size(message) > MAX_PAYLOAD:
        raise _Invalid("message", "Message is too big")
    return message


# -- the protocol, whatever carries it ------------------------------------------------------

#: An answer: status, JSON body, extra headers. None: no answer (a stall), the connection
#: is closed.
_Answer = tuple[int, bytes, dict[str, str]]


def _json(status: int, payload: object, **headers: str) -> _Answer:
    return status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers


def _error(
    status: int,
    rpc_status: str,
    message: str,
    details: list[dict[str, Any]],
    retry_after: int | None = None,
) -> _Answer:
    error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    if details:
        error["details"] = details
    extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return _json(status, {"error": error}, **extra)


def _fcm_error(fault: str, retry_after: int | None = None) -> _Answer:
    status, rpc_status, message, fcm_code, field = FAULTS[fault]
    details: list[dict[str, Any]] = []
    if fcm_code is not None:
        details.append({"@type": _FCM_ERROR, "errorCode": fcm_code})
    if field is not None:
        details.append(
            {
                "@type": _BAD_REQUEST,
                "fieldViolations": [{"field": field, "description": message}],
            }
        )
    return _error(status, rpc_status, message, details, retry_after)


def _grant_error(description: str) -> _Answer:
    return _json(400, {"error": "invalid_grant", "error_description": description})


def _exchange(
    sim: FcmSimulator, method: str, target: str, authorization: str, body: bytes
) -> _Answer | None:
    """The answer to one request (``target``: its path and query)."""
    path = urllib.parse.urlsplit(target).path
    if method == "POST" and path == "/token":
        return _token(sim, body)
    match = _SEND_PATH.fullmatch(path)
    if method == "POST" and match:
        return _messages_send(sim, urllib.parse.unquote(match.group(1)), authorization, body)
    return _json(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})


def _token(sim: FcmSimulator, body: bytes) -> _Answer:
    """The OAuth2 JWT bearer grant."""
    with sim._lock:
        sim.token_exchanges += 1
    form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
    grant = form.get("grant_type", [""])[0]
    assertion = form.get("assertion", [""])[0]
    if grant != GRANT_TYPE:
        return _json(
            400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        )
    try:
        claims = jwt.decode(
            assertion,
            _key().public_key(),
            algorithms=["RS256"],
            audience=sim.token_uri,
            issuer=CLIENT_EMAIL,
            options={"require": ["iss", "aud", "iat", "exp", "scope"]},
        )
    except jwt.InvalidSignatureError:
        return _grant_error("Invalid JWT Signature.")
    except jwt.PyJWTError as exc:
        return _grant_error(f"Invalid JWT: {type(exc).__name__}")
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
        return _grant_error("Invalid JWT: iat and exp must be integers")
    if claims["exp"] - claims["iat"] > TOKEN_LIFETIME:
        return _grant_error("Invalid JWT: Token must be a short-lived token (60 minutes)")
    if claims["iat"] > time.time() + 60:
        return _grant_error("Invalid JWT: Token used too early")
    if SCOPE not in str(claims["scope"]).split():
        return _json(400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope"})
    token = "ya29.sim-" + secrets.token_urlsafe(48)
    with sim._lock:
        sim._tokens[token] = time.monotonic() + sim.token_lifetime
        sim.issued_tokens.append(token)
    return _json(
        200, {"access_token": token, "expires_in": sim.token_lifetime, "token_type": "Bearer"}
    )


def _messages_send(
    sim: FcmSimulator, project: str, authorization: str, body: bytes
) -> _Answer | None:
    sim.count_request()
    token = authorization[7:] if authorization.startswith("Bearer ") else ""
    with sim._lock:
        ends = sim._tokens.get(token)
    if ends is None or time.monotonic() >= ends:
        return _fcm_error("unauthenticated")
    if project != sim.project_id:
        return _error(
            403,
            "PERMISSION_DENIED",
            f"Permission 'cloudmessaging.messages.create' denied on resource "
            f"'//cloudresourcemanager.googleapis.com/projects/{project}' "
            "(or it may not exist).",
            [],
        )
    fault, retry_after = sim.next_fault()
    if fault == STALL:
        return None  # never answered, as a stalled server
    if fault is not None:
        return _fcm_error(fault, retry_after)
    try:
        request = json.loads(body.decode("utf-8"))
        message = _validate(request)
    except (UnicodeDecodeError, ValueError):
        return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", [])
    except _Invalid as invalid:
        violation = {"field": invalid.field, "description": invalid.description}
        return _error(
            400,
            "INVALID_ARGUMENT",
            invalid.description,
            [{"@type": _BAD_REQUEST, "fieldViolations": [violation]}],
        )
    target = message.get("token")
    if isinstance(target, str):
        if not _TOKEN_SHAPE.fullmatch(target):
            return _fcm_error("invalid-token")
        dead = sim.fault_for(target)
        if dead is not None:
            return _fcm_error(dead)
    number = next(sim._ids)
    if not request.get("validate_only"):
        sim.accept(message, body)
    return _json(200, {"name": f"projects/{project}/messages/0:{number}%{secrets.token_hex(8)}"})


# -- HTTP/1.1 (http.server) ----------------------------------------------------------------


class _Handler(SimulatorHandler):
    sim: FcmSimulator

    def _dispatch(self, method: str) -> None:
        body = self._body()
        answer = _exchange(self.sim, method, self.path, self.headers.get("Authorization", ""), body)
        with self.sim._lock:
            self.sim.http_versions["1.1"] = self.sim.http_versions.get("1.1", 0) + 1
        if answer is None:
            self.close_connection = True
            return
        status, payload, headers = answer
        self._send(status, payload, "application/json; charset=UTF-8", **headers)


# -- HTTP/2 and HTTP/1.1 over TLS (hypercorn) ---------------------------------------------

# The server's own logging stays quiet: nothing of the simulator may name a recipient.
_SERVER_LOG = logging.getLogger("pes_sdk_fcm.simulator.server")
_SERVER_LOG.propagate = False
_SERVER_LOG.addHandler(logging.NullHandler())


class _TlsServer:
    """FCM as Google serves it: TLS, HTTP/2 offered by ALPN (HTTP/1.1 too), on a port of
    its own, with a certificate of a throwaway CA (trustme) written to ``folder``."""

    def __init__(self, sim: FcmSimulator, folder: Path) -> None:
        import hypercorn.config
        import trustme

        self.sim = sim
        ca = trustme.CA()
        certificate = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = folder / "fcm-simulator-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert_file, key_file = folder / "fcm-server.pem", folder / "fcm-server.key"
        certificate.cert_chain_pems[0].write_to_path(str(cert_file))
        certificate.private_key_pem.write_to_path(str(key_file))
        sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        config = hypercorn.config.Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.certfile, config.keyfile = str(cert_file), str(key_file)
        config.errorlog = _SERVER_LOG
        config.graceful_timeout = 1.0
        # FCM takes many streams on one connection; hypercorn's default is 100 too
        config.h2_max_concurrent_streams = 100
        # hypercorn closes a connection after 1,000 requests (GOAWAY); Google's front ends
        # keep one far longer, and a campaign sends hundreds of thousands on it
        config.keep_alive_max_requests = 2**31
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fcm-simulator-tls", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the FCM simulator's TLS server did not start")
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def _run(self) -> None:
        import hypercorn.asyncio

        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._ready.set()
            await hypercorn.asyncio.serve(
                self._app,  # type: ignore[arg-type]
                self._config,
                shutdown_trigger=self._stop.wait,
            )

        self._loop.run_until_complete(main())
        self._loop.close()

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
        authorization = ""
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
        target = scope["path"] + (
            "?" + scope["query_string"].decode() if scope["query_string"] else ""
        )
        sim = self.sim
        with sim._lock:
            version = str(scope["http_version"])
            sim.http_versions[version] = sim.http_versions.get(version, 0) + 1
        if sim.quiet():
            # No fault armed, so nothing here waits: answered on the loop, at no thread's
            # cost. (A stall armed between this check and the answer would hold the loop
            # until heal(); tests arm faults before they send.)
            answer = _exchange(sim, scope["method"], target, authorization, body)
        else:  # a stall waits for heal(): in a thread, the loop serves the others meanwhile
            answer = await asyncio.get_running_loop().run_in_executor(
                None, _exchange, sim, scope["method"], target, authorization, body
            )
        if answer is None:
            # a stalled request, healed: never answered (hypercorn ends the stream with its
            # own error); its client gave up at its timeout long before
            raise _Unanswered
        status, payload, headers = answer
        raw = [(b"content-type", b"application/json; charset=UTF-8")]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})


class _Unanswered(Exception):
    """A request the simulator never answers (hypercorn resets its stream)."""


class FcmSimulator(ProviderSimulator[dict[str, Any]]):
    """FCM HTTP v1 and Google's token endpoint on ``127.0.0.1``.

    :attr:`messages` are the ``message`` objects of the accepted requests, as parsed;
    :attr:`raw` their bodies; :attr:`requests` counts ``messages:send`` calls,
    :attr:`accepted` the messages accepted, :attr:`http_versions` the requests by HTTP
    version (``"1.1"``, ``"2"``).

    :param project_id: the Firebase project it serves.
    :param token_lifetime: seconds an access token is good for (Google: 3600).
    :param tls_folder: serve as Google does, over TLS with HTTP/2 offered by ALPN (HTTP/1.1
        too), with a throwaway CA whose certificate goes to this folder (:attr:`ca_file`,
        the channel's ``ca_file`` setting); :attr:`endpoint` is then ``https://…``. None:
        plain HTTP/1.1 on loopback. Needs the ``simulator`` extra (hypercorn, trustme).
    :param keep: keep each accepted message (:attr:`messages`, :attr:`raw`); False only
        counts them (a benchmark of hundreds of thousands of messages).
    """

    def __init__(
        self,
        *,
        project_id: str = PROJECT_ID,
        token_lifetime: int = 3599,
        port: int = 0,
        tls_folder: Path | None = None,
        keep: bool = True,
    ) -> None:
        super().__init__(_Handler, faults=FAULTS, port=port, name="fcm-simulator")
        self.project_id = project_id
        self.token_lifetime = token_lifetime
        self.keep = keep
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1_700_000_000_000_000)
        #: every access token issued (the harness's secrets)
        self.issued_tokens: list[str] = []
        self.token_exchanges = 0
        #: messages accepted (kept or not)
        self.accepted = 0
        #: requests by HTTP version ("1.1", "2")
        self.http_versions: dict[str, int] = {}
        self._tls = _TlsServer(self, Path(tls_folder)) if tls_folder is not None else None
        #: the throwaway CA's certificate (PEM) when serving TLS, else None
        self.ca_file: Path | None = self._tls.ca_file if self._tls is not None else None

    def start(self) -> Self:
        super().start()
        if self._tls is not None:
            self._tls.start()
        return self

    def stop(self) -> None:
        self.heal()
        if self._tls is not None:
            self._tls.stop()
        super().stop()

    @property
    def endpoint(self) -> str:
        """The channel's ``endpoint`` setting: ``https://127.0.0.1:<port>`` when serving
        TLS, else ``http://127.0.0.1:<port>``."""
        if self._tls is not None:
            return f"https://127.0.0.1:{self._tls.port}"
        return self.root_url

    @property
    def token_uri(self) -> str:
        """The service account key's ``token_uri``."""
        return self.endpoint + "/token"

    def accept(self, message: dict[str, Any], raw: bytes) -> None:
        """Count an accepted message, and keep it unless told not to."""
        with self._lock:
            self.accepted += 1
        if self.keep:
            self.record(message, raw)

    def quiet(self) -> bool:
        """Whether no fault is armed (no request has to wait for :meth:`heal`)."""
        with self._state:
            return not self._next and self._always is None

    def service_account(self) -> dict[str, str]:
        """A service account's JSON key (as Google's console gives it) for this simulator."""
        pem = (
            _key()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode("ascii")
        )
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "5f3c1a7e0b9d4c2a8e6f1b3d5a7c9e0f2b4d6a8c",
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "104857600000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def write_service_account(self, path: Path) -> Path:
        """Write :meth:`service_account` to ``path`` (mode 0600, as a key file should be)."""
        path.write_text(json.dumps(self.service_account(), indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    # -- switches ------------------------------------------------------------------------

    def unregister(self, token: str) -> None:
        """From now on, ``token`` answers 404 ``UNREGISTERED`` (the app was removed)."""
        self.fail_for(token, "unregistered")

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (answers 401)."""
        with self._lock:
            self._tokens.clear()


# -- the conformance harness ---------------------------------------------------------------

#: the conformance family's answers → this simulator's faults
_ANSWERS = {
    "refused": "invalid-argument",
    "dead": "unregistered",
    "throttled": "quota",
    "unavailable": "unavailable",
    "stall": STALL,
}


class FcmHarness(ProviderHarness[FcmSimulator, Any]):
    """An FCM channel configured against a fresh :class:`FcmSimulator` (see
    :class:`pes_sdk_conformance.notifications.ChannelHarness`); ``tls``: over TLS and
    HTTP/2, as FCM itself."""

    answers = _ANSWERS

    def __init__(
        self,
        folder: Path,
        *,
        timeout: float = 1.0,
        token_lifetime: int = 3599,
        settings: Mapping[str, str] | None = None,
        build: Callable[[Mapping[str, str]], Any] | None = None,
        tls: bool = False,
    ) -> None:
        from pes_sdk_fcm.plugin import FcmFactory

        super().__init__()
        self.timeout = timeout
        self.recipient = device_token(1)
        self.simulator = FcmSimulator(
            token_lifetime=token_lifetime, tls_folder=folder if tls else None
        ).start()
        self.key_file = self.simulator.write_service_account(folder / "fcm-service-account.json")
        self.settings = {
            "service_account_file": str(self.key_file),
            "endpoint": self.simulator.endpoint,
            "timeout": str(timeout),
            **({"ca_file": str(self.simulator.ca_file)} if self.simulator.ca_file else {}),
            **(settings or {}),
        }
        self.channel = (build or FcmFactory().create)(self.settings)

    @property
    def secrets(self) -> tuple[str, ...]:
        pem = self.simulator.service_account()["private_key"]
        lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        return (pem, *lines[:3], *self.simulator.issued_tokens)
