"""Serving the API with uvicorn, configured so that nothing personal reaches the logs."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from pes_sdk_runner.config.models import RunnerConfig

__all__ = ["make_server"]


def make_server(app: ASGIApp, config: RunnerConfig, *, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``config.http.host``/``port``.

    uvicorn's access log is off: it writes every request line with its query, and the
    query carries accounts and addresses (``?account=…``, ``?premises=…``). The app logs
    each request itself, by route template and status, with accounts masked. ``run()``
    serves until ``should_exit`` is set; ``run(sockets=[sock])`` serves an already bound
    socket (port 0 in tests).
    """
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.http.host,
            port=config.http.port,
            access_log=False,
            lifespan="off",
            log_level=log_level,
            server_header=False,
        )
    )
