"""The HTTP client of gateway adapters: :class:`pes_sdk.http.HttpClient` with gateway errors.

One per gateway, a timeout on every call. It adds to the kit's client (see
:mod:`pes_sdk.http` for what that guarantees: verified TLS, the environment's proxy,
connection reuse, nothing secret in logs) the answer a gateway adapter wants:

* a 2xx (or one of ``ok_statuses``) answer is returned;
* failures become the gateway errors: a timeout :class:`GatewayTimeout`, a 5xx or a broken
  connection :class:`GatewayUnavailable`, a 4xx :class:`GatewayRefused`.

Nothing is logged: bodies may hold data that must not reach logs.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping
from typing import Any

from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
)
from pes_sdk.http import HttpClient, HttpError, HttpResponse, HttpTimeout, HttpUnavailable

__all__ = ["HttpResponse", "HttpTransport"]


class HttpTransport:
    """Requests to one base URL, with a timeout, over reused connections.

    :param base_url: ``https://…`` (or ``http://`` for loopback simulators).
    :param timeout: seconds, required and positive.
    :param gateway: name used in error messages.
    :param headers: sent with every request (e.g. authorisation).
    :param proxy, trust_env, verify, http2: as :class:`pes_sdk.http.HttpClient` takes them
        (by default the environment's proxy and the system's trust store).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        gateway: str = "",
        headers: Mapping[str, str] | None = None,
        http2: bool = False,
        proxy: str | None = None,
        trust_env: bool = True,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError("every gateway call needs a positive timeout in seconds")
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "name": gateway,
            "headers": dict(headers or {}),
            "http2": http2,
            "proxy": proxy,
            "trust_env": trust_env,
            "verify": verify,
        }
        self._client: HttpClient | None = HttpClient(base_url, **self._options)
        self.base_url = self._client.base_url
        self.timeout = self._client.timeout
        #: the context TLS connections are verified with (the same after a reopening)
        self.ssl_context = self._client.ssl_context
        self._options["verify"] = self.ssl_context
        self.gateway = gateway
        self._lock = threading.Lock()

    def _current(self) -> HttpClient:
        with self._lock:
            if self._client is None:  # closed before: a new pool, as the old one reopened
                self._client = HttpClient(self.base_url, **self._options)
            return self._client

    def close(self) -> None:
        """Close the pooled connections; a later request opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> HttpResponse:
        """Send one request; return the response of a 2xx (or an ``ok_statuses``) answer."""
        try:
            response = self._current().send(
                method, path, json=json_body, content=body, headers=headers
            )
        except HttpTimeout as exc:
            raise GatewayTimeout(exc.message, gateway=self.gateway) from exc
        except HttpUnavailable as exc:
            raise GatewayUnavailable(exc.message, gateway=self.gateway) from exc
        except HttpError as exc:
            raise GatewayError(exc.message, gateway=self.gateway) from exc
        if 200 <= response.status < 300 or response.status in ok_statuses:
            return response
        shown = path.split("?", 1)[0]
        text = response.body[:200].decode("utf-8", "replace")
        if response.status >= 500:
            raise GatewayUnavailable(
                f"{method} {shown}: HTTP {response.status}",
                gateway=self.gateway,
                status=response.status,
            )
        raise GatewayRefused(
            f"{method} {shown}: HTTP {response.status}: {text}",
            gateway=self.gateway,
            status=response.status,
        )
