"""The runner's HTTP API (ASGI): client, gateway webhook, operator and service endpoints.

``create_app(store, config, host, processor)`` returns the application and
``processor_for(gateway, store)`` the processor it wants (its book in the store, whose
``put`` books credits and refunds in the ledger); see
:mod:`pes_sdk_runner.api.app` for the endpoints and why Starlette,
:mod:`pes_sdk_runner.api.openapi` for the OpenAPI document and
:mod:`pes_sdk_runner.api.metrics` for the Prometheus counters and
:func:`make_server` for a uvicorn server with its access log (queries carry accounts) off,
:func:`listen` for its listening socket (with TCP_NODELAY),
and :func:`serve_in_thread` to serve the app in a background thread on a loopback socket for
the length of a ``with`` block (the demo, tests), yielding its base URL.
"""

from pes_sdk_runner.api.app import ApiError, create_app, mask_account, processor_for
from pes_sdk_runner.api.metrics import Metrics
from pes_sdk_runner.api.openapi import OPERATIONS, openapi_document
from pes_sdk_runner.api.server import ServerStartError, listen, make_server, serve_in_thread

__all__ = [
    "OPERATIONS",
    "ApiError",
    "Metrics",
    "ServerStartError",
    "create_app",
    "listen",
    "make_server",
    "mask_account",
    "openapi_document",
    "processor_for",
    "serve_in_thread",
]
