"""Serving the API with uvicorn, configured so that nothing personal reaches the logs.

:func:`make_server` makes the server that ``pes runner serve`` runs in its main thread;
:func:`serve_in_thread` runs one in a background thread on a loopback socket, for whoever
needs the API inside its own process for a while (``pes runner demo``, the tests).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.logs import uvicorn_log_config

__all__ = ["ServerStartError", "listen", "make_server", "serve_in_thread"]


class ServerStartError(RuntimeError):
    """The server of :func:`serve_in_thread` did not start (its thread says why, in the log)."""


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket for the server (port 0: any free one), with TCP_NODELAY.

    asyncio sets TCP_NODELAY on accepted connections only when the listening socket says
    IPPROTO_TCP, which ``socket.create_server`` does not; without it each answer's body
    waited ~40 ms for Nagle and the client's delayed ACK (uvicorn writes the head and the
    body apart: docs/performance.md). Accepted sockets inherit the option.
    """
    sock = socket.create_server((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def make_server(app: ASGIApp, config: RunnerConfig, *, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``config.http.host``/``port``.

    uvicorn's access log is off: it writes every request line with its query, and the
    query carries accounts and addresses (``?account=…``, ``?premises=…``). The app logs
    each request itself, by route template and status, with accounts masked. uvicorn's own
    lines (a failed request: "Exception in ASGI application") are JSON lines on stderr too,
    the exception by its type only (:func:`~pes_sdk_runner.logs.uvicorn_log_config`). ``run()``
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
            log_config=uvicorn_log_config(log_level),
            server_header=False,
        )
    )


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    config: RunnerConfig,
    sock: socket.socket | None = None,
    *,
    log_level: str = "warning",
    start_timeout: float = 10.0,
) -> Iterator[str]:
    """Serve ``app`` (a :func:`make_server` server) in a daemon thread; yield its base URL.

    ``sock`` is a bound listening socket to serve; without one, a free port of 127.0.0.1 is
    bound. Pass your own when something must know the URL before the app exists: the
    payment gateway's ``webhook_url`` points at the app, and the app holds the gateway.
    ``config.http.host``/``port`` are not used: the socket decides.

    The block runs only once the server accepts connections; if it has not started within
    ``start_timeout`` seconds (or its thread died trying), :class:`ServerStartError` is
    raised. On leaving, however the block ends, the server is told to exit, its thread is
    joined and the socket (given or not) is closed.

    Example::

        with serve_in_thread(create_app(store, config, host, processor), config) as base:
            urllib.request.urlopen(base + "/healthz")
    """
    if sock is None:
        sock = listen()
    host, port = sock.getsockname()[:2]
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    server = make_server(app, config, log_level=log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn {base}", daemon=True
    )
    thread.start()
    try:
        # uvicorn has no start event to wait on: its ``started`` flag is polled, and a thread
        # that dies (uvicorn exits on a startup failure) ends the wait at once.
        deadline = time.monotonic() + start_timeout
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            raise ServerStartError(
                f"the runner's API did not start on {base} within {start_timeout:g} s"
                if thread.is_alive()
                else f"the runner's API on {base} stopped while starting"
            )
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
