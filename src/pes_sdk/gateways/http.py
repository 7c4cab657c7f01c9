"""A small HTTP client for gateway adapters: one per gateway, a timeout on every call.

Built on :mod:`http.client` so the core needs no HTTP library. What it guarantees:

* every request has a timeout (there is no way to make one without): ``timeout`` bounds
  connecting and each wait for data;
* TLS is always verified with the system's default context; there is no switch to turn
  verification off;
* connections are kept alive and reused, one per thread (no new session per request);
* failures become the gateway errors: a timeout :class:`GatewayTimeout`, a 5xx or a broken
  connection :class:`GatewayUnavailable`, a 4xx :class:`GatewayRefused`.

Nothing is logged: bodies may hold data that must not reach logs.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from pes_sdk.gateways.errors import GatewayRefused, GatewayTimeout, GatewayUnavailable

__all__ = ["HttpResponse", "HttpTransport"]


@attrs.frozen
class HttpResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class HttpTransport:
    """Requests to one base URL, with a timeout, over reused connections.

    :param base_url: ``https://…`` (or ``http://`` for loopback simulators).
    :param timeout: seconds, required and positive.
    :param gateway: name used in error messages.
    :param headers: sent with every request (e.g. authorisation).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        gateway: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError("every gateway call needs a positive timeout in seconds")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.gateway = gateway
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = dict(headers or {})
        self._local = threading.local()
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=self._ssl
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            self._local.used = False
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.used = False

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
        data = body
        all_headers = {**self._headers, **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            all_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        # A kept-alive connection the server has closed fails on first use: that one case is
        # retried once on a fresh connection; a timeout never is (the request may have run).
        for _attempt in (1, 2):
            conn = self._connection()
            reused = getattr(self._local, "used", False)
            try:
                conn.request(method, self._prefix + path or "/", body=data, headers=all_headers)
                raw = conn.getresponse()
                payload = raw.read()
            except TimeoutError as exc:
                self.close()
                raise GatewayTimeout(
                    f"{method} {path}: no answer within {self.timeout}s", gateway=self.gateway
                ) from exc
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if not reused:
                    raise GatewayUnavailable(
                        f"{method} {path}: connection lost ({type(exc).__name__})",
                        gateway=self.gateway,
                    ) from exc
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise GatewayUnavailable(
                    f"{method} {path}: {type(exc).__name__}: {exc}", gateway=self.gateway
                ) from exc
            self._local.used = True
            if raw.will_close:
                self.close()
            response = HttpResponse(raw.status, payload, tuple(raw.getheaders()))
            break
        else:  # pragma: no cover - the loop always breaks or raises
            raise AssertionError("unreachable")
        if 200 <= response.status < 300 or response.status in ok_statuses:
            return response
        text = response.body[:200].decode("utf-8", "replace")
        if response.status >= 500:
            raise GatewayUnavailable(
                f"{method} {path}: HTTP {response.status}",
                gateway=self.gateway,
                status=response.status,
            )
        raise GatewayRefused(
            f"{method} {path}: HTTP {response.status}: {text}",
            gateway=self.gateway,
            status=response.status,
        )
