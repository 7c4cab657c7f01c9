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

import functools
import itertools
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


# -- the server ----------------------------------------------------------------------------


class _Handler(SimulatorHandler):
    sim: FcmSimulator

    def _json(self, status: int, payload: object, **headers: str) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=UTF-8", **headers)

    def _dispatch(self, method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        if method == "POST" and path == "/token":
            self._token(body)
            return
        match = _SEND_PATH.fullmatch(path)
        if method == "POST" and match:
            self._messages_send(urllib.parse.unquote(match.group(1)), body)
            return
        self._json(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    # -- OAuth2 --------------------------------------------------------------------------

    def _token(self, body: bytes) -> None:
        sim = self.sim
        with sim._lock:
            sim.token_exchanges += 1
        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
        grant = form.get("grant_type", [""])[0]
        assertion = form.get("assertion", [""])[0]
        if grant != GRANT_TYPE:
            self._json(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
            return
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
            self._grant_error("Invalid JWT Signature.")
            return
        except jwt.PyJWTError as exc:
            self._grant_error(f"Invalid JWT: {type(exc).__name__}")
            return
        if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
            self._grant_error("Invalid JWT: iat and exp must be integers")
            return
        if claims["exp"] - claims["iat"] > TOKEN_LIFETIME:
            self._grant_error("Invalid JWT: Token must be a short-lived token (60 minutes)")
            return
        if claims["iat"] > time.time() + 60:
            self._grant_error("Invalid JWT: Token used too early")
            return
        if SCOPE not in str(claims["scope"]).split():
            self._json(400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope"})
            return
        token = "ya29.sim-" + secrets.token_urlsafe(48)
        with sim._lock:
            sim._tokens[token] = time.monotonic() + sim.token_lifetime
            sim.issued_tokens.append(token)
        self._json(
            200,
            {"access_token": token, "expires_in": sim.token_lifetime, "token_type": "Bearer"},
        )

    def _grant_error(self, description: str) -> None:
        self._json(400, {"error": "invalid_grant", "error_description": description})

    # -- messages:send -------------------------------------------------------------------

    def _fcm_error(self, fault: str, retry_after: int | None = None) -> None:
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
        self._error(status, rpc_status, message, details, retry_after)

    def _error(
        self,
        status: int,
        rpc_status: str,
        message: str,
        details: list[dict[str, Any]],
        retry_after: int | None = None,
    ) -> None:
        error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
        if details:
            error["details"] = details
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._json(status, {"error": error}, **extra)

    def _messages_send(self, project: str, body: bytes) -> None:
        sim = self.sim
        sim.count_request()
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with sim._lock:
            ends = sim._tokens.get(token)
        if ends is None or time.monotonic() >= ends:
            self._fcm_error("unauthenticated")
            return
        if project != sim.project_id:
            self._error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}' "
                "(or it may not exist).",
                [],
            )
            return
        fault, retry_after = sim.next_fault()
        if fault == STALL:
            self.close_connection = True  # never answered, as a stalled server
            return
        if fault is not None:
            self._fcm_error(fault, retry_after)
            return
        try:
            request = json.loads(body.decode("utf-8"))
            message = _validate(request)
        except (UnicodeDecodeError, ValueError):
            self._error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", [])
            return
        except _Invalid as invalid:
            violation = {"field": invalid.field, "description": invalid.description}
            self._error(
                400,
                "INVALID_ARGUMENT",
                invalid.description,
                [{"@type": _BAD_REQUEST, "fieldViolations": [violation]}],
            )
            return
        target = message.get("token")
        if isinstance(target, str):
            if not _TOKEN_SHAPE.fullmatch(target):
                self._fcm_error("invalid-token")
                return
            dead = sim.fault_for(target)
            if dead is not None:
                self._fcm_error(dead)
                return
        number = next(sim._ids)
        if not request.get("validate_only"):
            sim.record(message, body)
        self._json(200, {"name": f"projects/{project}/messages/0:{number}%{secrets.token_hex(8)}"})


class FcmSimulator(ProviderSimulator[dict[str, Any]]):
    """FCM HTTP v1 and Google's token endpoint on ``127.0.0.1``.

    :attr:`messages` are the ``message`` objects of the accepted requests, as parsed;
    :attr:`raw` their bodies; :attr:`requests` counts ``messages:send`` calls.

    :param project_id: the Firebase project it serves.
    :param token_lifetime: seconds an access token is good for (Google: 3600).
    """

    def __init__(
        self, *, project_id: str = PROJECT_ID, token_lifetime: int = 3599, port: int = 0
    ) -> None:
        super().__init__(_Handler, faults=FAULTS, port=port, name="fcm-simulator")
        self.project_id = project_id
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1_700_000_000_000_000)
        #: every access token issued (the harness's secrets)
        self.issued_tokens: list[str] = []
        self.token_exchanges = 0

    @property
    def token_uri(self) -> str:
        """The service account key's ``token_uri``."""
        return self.root_url + "/token"

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
    :class:`pes_sdk_conformance.notifications.ChannelHarness`)."""

    answers = _ANSWERS

    def __init__(
        self,
        folder: Path,
        *,
        timeout: float = 1.0,
        token_lifetime: int = 3599,
        settings: Mapping[str, str] | None = None,
        build: Callable[[Mapping[str, str]], Any] | None = None,
    ) -> None:
        from pes_sdk_fcm.plugin import FcmFactory

        super().__init__()
        self.timeout = timeout
        self.recipient = device_token(1)
        self.simulator = FcmSimulator(token_lifetime=token_lifetime).start()
        self.key_file = self.simulator.write_service_account(folder / "fcm-service-account.json")
        self.settings = {
            "service_account_file": str(self.key_file),
            "endpoint": self.simulator.endpoint,
            "timeout": str(timeout),
            **(settings or {}),
        }
        self.channel = (build or FcmFactory().create)(self.settings)

    @property
    def secrets(self) -> tuple[str, ...]:
        pem = self.simulator.service_account()["private_key"]
        lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        return (pem, *lines[:3], *self.simulator.issued_tokens)
