"""Autopay (автоплатёж) for client apps: the client's consents, their charges, and
cancelling one (``/v1/autopay…``).

Called as every client endpoint is: an app's token with its ``client_id`` (a query
parameter here), or a cabinet's session (its own client). A client sees and cancels only
its own consents; another's answers 404, as one that does not exist. Connecting autopay
is part of paying: ``autopay`` in ``POST /v1/payments``. The work is
:class:`~pes_sdk_runner.usecases.ClientUseCases`' (the cabinet's Автоплатёж page calls
the same).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from pes_sdk_runner.api.app import ApiError, _Api, _only, _run
from pes_sdk_runner.api.autopay_models import (
    AutopayCancelView,
    AutopayChargesView,
    AutopayChargeView,
    ConsentsView,
    ConsentView,
)

__all__ = ["endpoints"]


def _consent_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["consent_id"])
    except ValueError:
        raise ApiError(404, "not-found", "no such autopay", "consent_id") from None


def endpoints(api: _Api) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
    """The routes of this module, bound to ``api``."""

    async def client_of(request: Request) -> str:
        caller = await api.client(request)
        _only(request, "client_id")
        return api.client_key(caller, request.query_params.get("client_id", ""))

    def consents(client: str) -> ConsentsView:
        return ConsentsView(
            tuple(
                ConsentView.of(api.clients.autopay_history(client, c.consent_id))
                for c in api.clients.autopay_of(client)
            )
        )

    async def listing(request: Request) -> Response:
        client = await client_of(request)
        return api.json(await _run(consents, client))

    async def charges(request: Request) -> Response:
        client = await client_of(request)
        found = await _run(api.clients.autopay_charges, client)
        return api.json(AutopayChargesView(tuple(AutopayChargeView.of(c) for c in found)))

    async def cancel(request: Request) -> Response:
        client = await client_of(request)
        consent_id = _consent_id(request)

        def run() -> AutopayCancelView:
            done = api.clients.cancel_autopay(client, consent_id)
            return AutopayCancelView(
                ConsentView.of(api.clients.autopay_history(client, consent_id)),
                tuple(AutopayChargeView.of(c) for c in done.stopped),
                tuple(AutopayChargeView.of(c) for c in done.in_progress),
            )

        return api.json(await _run(run))

    return [
        ("/v1/autopay", listing, "GET"),
        ("/v1/autopay/charges", charges, "GET"),
        ("/v1/autopay/{consent_id}/cancel", cancel, "POST"),
    ]
