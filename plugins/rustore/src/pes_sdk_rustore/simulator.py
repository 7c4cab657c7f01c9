"""RuStore Push's ``messages:send``, simulated on loopback.

:class:`RuStoreSimulator` is a real HTTP server on ``127.0.0.1`` (built on
:mod:`pes_sdk.notifications.simulation`) answering ``POST /v1/projects/{project}/messages:send``
as RuStore's "Sending push notifications (API)" page describes the request:

* ``Authorization: Bearer <service token>``: another token answers 401 ``UNAUTHENTICATED``,
  another project 403 ``PERMISSION_DENIED``;
* the body: ``validate_only`` and ``message`` with ``token``, ``data`` (string → string),
  ``notification`` (``title``, ``body``, ``image``) and ``android`` (``ttl`` as a duration
  such as ``"3.5s"``; ``notification`` with ``title``, ``body``, ``icon``, ``color`` as
  ``#rrggbb``, ``image``, ``channel_id``, ``click_action``, ``click_action_type`` 0 or 1).
  Anything else (an unknown field, a wrong type, no token) answers 400
  ``INVALID_ARGUMENT``: the simulator is stricter than RuStore may be, so that the channel
  sends nothing RuStore does not document;
* a token :meth:`~RuStoreSimulator.unregister` ed answers 404 ``NOT_FOUND``; an accepted
  message is recorded (:attr:`RuStoreSimulator.messages`) and answered ``{}``.

RuStore's page does not document its error answers: the simulator answers them in the
``{"error": {"code", "message", "status"}}`` shape of FCM HTTP v1, whose drop-in
replacement RuStore's API is designed to be. Faults on demand (:data:`FAULTS`,
:meth:`~RuStoreSimulator.fail_next`) and a stall that never answers until
:meth:`~RuStoreSimulator.heal`. :class:`RuStoreHarness` puts a channel in front of it for
the conformance suite.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from pes_sdk.gateways.simulation import SimulatorHandler
from pes_sdk.notifications.simulation import STALL, ProviderHarness, ProviderSimulator
from pes_sdk_rustore.channel import RuStoreChannel

__all__ = ["FAULTS", "SERVICE_TOKEN", "RuStoreHarness", "RuStoreSimulator", "push_token"]

PROJECT_ID = "pes-rustore-demo"
#: the service token the simulator expects (a test value, not a real RuStore token)
SERVICE_TOKEN = "rs-sim-8Jc2vQ0xYb7WkT4nLp1sRz6mHd3fGa9e"
_SEND_PATH = re.compile(r"/v1/projects/([^/]+)/messages:send")
_DURATION = re.compile(r"\d{1,10}(\.\d{1,9})?s")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")

#: fault → (HTTP status, status, message)
FAULTS: dict[str, tuple[int, str, str]] = {
    "not-found": (404, "NOT_FOUND", "Requested entity was not found."),
    "invalid-argument": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "throttled": (429, "RESOURCE_EXHAUSTED", "Too many requests"),
    "unavailable": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "internal": (500, "INTERNAL", "Internal error encountered."),
    "unauthenticated": (401, "UNAUTHENTICATED", "Invalid service token"),
    "permission-denied": (403, "PERMISSION_DENIED", "Permission denied"),
}

_S, _B, _I, _MAP = "string", "bool", "int", "map"
_SCHEMA: dict[str, dict[str, str]] = {
    "Request": {"validate_only": _B, "message": "Message"},
    "Message": {
        "token": _S,
        "data": _MAP,
        "notification": "Notification",
        "android": "Android",
    },
    "Notification": {"title": _S, "body": _S, "image": _S},
    "Android": {"ttl": "Duration", "notification": "AndroidNotification"},
    "AndroidNotification": {
        "title": _S,
        "body": _S,
        "icon": _S,
        "color": "Color",
        "image": _S,
        "channel_id": _S,
        "click_action": _S,
        "click_action_type": "ClickActionType",
    },
}


def push_token(n: int) -> str:
    """A RuStore push token for tests (the same ``n``, the same token)."""
    return f"rs{n:04d}" + f"{n:08d}".encode().hex() * 8


class _Invalid(Exception):
    pass


def _check(value: object, kind: str, where: str) -> None:
    ok = True
    if kind == _S:
        ok = isinstance(value, str)
    elif kind == _B:
        ok = isinstance(value, bool)
    elif kind == _MAP:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif kind == "Duration":
        ok = isinstance(value, str) and _DURATION.fullmatch(value) is not None
    elif kind == "Color":
        ok = isinstance(value, str) and _COLOR.fullmatch(value) is not None
    elif kind == "ClickActionType":
        ok = not isinstance(value, bool) and value in (0, 1)
    else:
        if not isinstance(value, dict):
            raise _Invalid(f"{where}: an object is expected")
        fields = _SCHEMA[kind]
        for name, item in value.items():
            if name not in fields:
                raise _Invalid(f"{where}: unknown field {name!r}")
            _check(item, fields[name], f"{where}.{name}")
    if not ok:
        raise _Invalid(f"{where}: invalid value")


class _Handler(SimulatorHandler):
    sim: RuStoreSimulator

    def _error(self, fault: str, retry_after: int | None = None, message: str = "") -> None:
        status, rpc, text = FAULTS[fault]
        body = json.dumps(
            {"error": {"code": status, "message": message or text, "status": rpc}},
            ensure_ascii=False,
        ).encode("utf-8")
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._send(status, body, "application/json; charset=utf-8", **extra)

    def _dispatch(self, method: str) -> None:
        sim = self.sim
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        match = _SEND_PATH.fullmatch(path)
        if method != "POST" or not match:
            self._send(404, b"404 page not found", "text/plain; charset=utf-8")
            return
        sim.count_request()
        if self.headers.get("Authorization", "") != f"Bearer {sim.service_token}":
            self._error("unauthenticated")
            return
        if urllib.parse.unquote(match.group(1)) != sim.project_id:
            self._error("permission-denied")
            return
        fault, retry_after = sim.next_fault()
        if fault == STALL:
            self.close_connection = True  # never answered, as a stalled server
            return
        if fault is not None:
            self._error(fault, retry_after)
            return
        try:
            request = json.loads(body.decode("utf-8"))
            _check(request, "Request", "")
            message = request.get("message")
            if not isinstance(message, dict) or not message.get("token"):
                raise _Invalid("message.token: required")
        except (UnicodeDecodeError, ValueError):
            self._error("invalid-argument", message="invalid JSON")
            return
        except _Invalid as invalid:
            self._error("invalid-argument", message=str(invalid))
            return
        dead = sim.fault_for(message["token"])
        if dead is not None:
            self._error(dead)
            return
        if not request.get("validate_only"):
            sim.record(message, body)
        self._send(200, b"{}", "application/json; charset=utf-8")


class RuStoreSimulator(ProviderSimulator[dict[str, Any]]):
    """RuStore Push's ``messages:send`` on ``127.0.0.1``.

    :attr:`messages` are the ``message`` objects of the accepted requests, as parsed;
    :attr:`raw` their bodies.
    """

    def __init__(
        self, *, project_id: str = PROJECT_ID, service_token: str = SERVICE_TOKEN, port: int = 0
    ) -> None:
        super().__init__(_Handler, faults=FAULTS, port=port, name="rustore-simulator")
        self.project_id = project_id
        self.service_token = service_token

    def unregister(self, token: str) -> None:
        """From now on, ``token`` answers 404 ``NOT_FOUND``."""
        self.fail_for(token, "not-found")


_ANSWERS = {
    "refused": "invalid-argument",
    "dead": "not-found",
    "throttled": "throttled",
    "unavailable": "unavailable",
    "stall": STALL,
}


class RuStoreHarness(ProviderHarness[RuStoreSimulator, RuStoreChannel]):
    """A RuStore channel configured against a fresh :class:`RuStoreSimulator` (see
    :class:`pes_sdk_conformance.notifications.ChannelHarness`). The service token is put in
    the environment variable ``env`` while the harness lives, as an operator would."""

    answers = _ANSWERS
    secrets = (SERVICE_TOKEN,)

    def __init__(
        self,
        *,
        timeout: float = 1.0,
        env: str = "PES_TEST_RUSTORE_TOKEN",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        from pes_sdk_rustore.plugin import RuStoreFactory

        super().__init__()
        self.timeout = timeout
        self.recipient = push_token(1)
        self.simulator = RuStoreSimulator().start()
        self.set_env(env, SERVICE_TOKEN)
        self.settings = {
            "project_id": self.simulator.project_id,
            "service_token_env": env,
            "endpoint": self.simulator.endpoint,
            "timeout": str(timeout),
            **(settings or {}),
        }
        self.channel = RuStoreFactory().create(self.settings)
