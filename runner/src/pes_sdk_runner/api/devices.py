"""Client devices and what apps report of their messages (notifications' endpoints).

``POST /v1/devices`` records a client app's push token (FCM, APNs, RuStore, Web Push);
``DELETE /v1/devices/{device_id}`` forgets it; ``POST /v1/messages/{message_id}/events``
records that a message was delivered, opened or clicked (the statistics read these:
providers give no delivery receipts for most channels). Called as every client endpoint
is: an app's token with its ``client_id``, or a cabinet's session (its own client). A
client sees and changes only its own devices and messages; another's answer 404, as
one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response

from pes_sdk.notifications import MAX_BUTTONS
from pes_sdk_runner.api.app import ApiError, _Api, _only, _run
from pes_sdk_runner.api.notify_models import (
    MAX_APP_LENGTH,
    MAX_TOKEN_LENGTH,
    DeviceRequest,
    DeviceView,
    MessageEventRequest,
)
from pes_sdk_runner.store.notify import PROVIDERS, MessageEvent

__all__ = ["endpoints"]


def _check_device(req: DeviceRequest) -> None:
    if req.provider not in PROVIDERS:
        raise ApiError(422, "invalid", f"provider is one of {', '.join(PROVIDERS)}", "provider")
    if not req.token.strip() or len(req.token) > MAX_TOKEN_LENGTH:
        raise ApiError(422, "invalid", f"token has 1..{MAX_TOKEN_LENGTH} characters", "token")
    if not req.app.strip() or len(req.app) > MAX_APP_LENGTH:
        raise ApiError(422, "invalid", f"app has 1..{MAX_APP_LENGTH} characters", "app")
    if req.time_zone is not None:
        try:
            ZoneInfo(req.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ApiError(
                422, "invalid", "time_zone is an IANA zone such as Europe/Moscow", "time_zone"
            ) from None


def endpoints(api: _Api) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
    """The routes of this module, bound to ``api``."""

    async def register(request: Request) -> Response:
        caller = await api.client(request)
        req = await api.body(request, DeviceRequest)
        client = api.client_key(caller, req.client_id)
        _check_device(req)
        device = await _run(
            api.store.register_device,
            client,
            req.provider,
            req.token.strip(),
            req.app.strip(),
            time_zone=req.time_zone,
        )
        return api.json(DeviceView.of(device), status=201)

    async def forget(request: Request) -> Response:
        caller = await api.client(request)
        _only(request, "client_id")
        client = api.client_key(caller, request.query_params.get("client_id", ""))
        raw = request.path_params["device_id"]
        if not raw.isdigit() or len(raw) > 18:
            raise ApiError(404, "not-found", "no such device", "device_id")
        if not await _run(api.store.delete_device, int(raw), client):
            raise ApiError(404, "not-found", "no such device", "device_id")
        return Response(status_code=204)

    async def message_event(request: Request) -> Response:
        caller = await api.client(request)
        req = await api.body(request, MessageEventRequest)
        client = api.client_key(caller, req.client_id)
        raw = request.path_params["message_id"]
        if not raw.isdigit() or len(raw) > 18:
            raise ApiError(404, "not-found", "no such message", "message_id")
        if req.button is not None and not (
            req.event is MessageEvent.CLICKED and 0 <= req.button < MAX_BUTTONS
        ):
            raise ApiError(
                422, "invalid", f"button is 0..{MAX_BUTTONS - 1}, of a click only", "button"
            )
        now = dt.datetime.now(dt.UTC)
        if req.at is not None and req.at.tzinfo is None:
            raise ApiError(422, "invalid", "at must carry its offset", "at")
        at = min(req.at, now) if req.at is not None else now  # an app's clock may run ahead
        found = await _run(
            api.store.record_message_event,
            int(raw),
            req.event,
            at,
            client_id=client,
            button=req.button,
        )
        if not found:
            raise ApiError(404, "not-found", "no such message", "message_id")
        return Response(status_code=204)

    return [
        ("/v1/devices", register, "POST"),
        ("/v1/devices/{device_id}", forget, "DELETE"),
        ("/v1/messages/{message_id}/events", message_event, "POST"),
    ]
