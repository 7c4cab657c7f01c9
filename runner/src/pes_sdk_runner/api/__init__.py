"""The runner's HTTP API (ASGI): client, gateway webhook, operator and service endpoints.

``create_app(store, config, host, processor)`` returns the application; see
:mod:`pes_sdk_runner.api.app` for the endpoints and why Starlette,
:mod:`pes_sdk_runner.api.openapi` for the OpenAPI document and
:mod:`pes_sdk_runner.api.metrics` for the Prometheus counters and
:func:`make_server` for a uvicorn server with its access log (queries carry accounts) off.
"""

from pes_sdk_runner.api.app import ApiError, create_app, mask_account
from pes_sdk_runner.api.metrics import Metrics
from pes_sdk_runner.api.openapi import OPERATIONS, openapi_document
from pes_sdk_runner.api.server import make_server

__all__ = [
    "OPERATIONS",
    "ApiError",
    "Metrics",
    "create_app",
    "make_server",
    "mask_account",
    "openapi_document",
]
