"""The kit's one outbound HTTP client (исходящие HTTP-запросы): gateways, channels, partners.

Every call the kit makes to someone else's HTTP server goes through :class:`HttpClient`,
built on httpx (with HTTP/2 from the ``h2`` package). What it guarantees:

* **a timeout on every call**: ``timeout`` is required and bounds connecting, each wait for
  data, each write, and the wait for a free connection of the pool; one call may shorten or
  lengthen it, never remove it;
* **TLS always verified**, against the system's trust store (as :func:`ssl.create_default_context`
  loads it: an operator adds a CA there, or names a bundle with ``SSL_CERT_FILE``); there is
  no switch to turn verification off, only ``verify=`` an :class:`ssl.SSLContext` that
  itself verifies (a test's throwaway CA);
* **a proxy when the network needs one**: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and
  ``NO_PROXY`` from the environment (``trust_env``, on by default), or ``proxy=`` given;
* **HTTP/2** when asked for (``http2=True``) and the server offers it over TLS (APNs needs it);
  HTTP/1.1 otherwise;
* **connection reuse**: one pool per client, safe to share between threads; a kept-alive
  connection the server has closed is noticed before reuse and replaced. With HTTP/2 each
  thread that sends gets connections of its own (httpx's synchronous client mixes up the
  streams of threads that share one: encode/httpx#3072), closed when the client closes or,
  for a thread that has ended, when another thread first sends;
* **little CPU per call**: a call to the base URL goes straight to httpx's pool for it
  (httpcore's, a proxy's where one applies) with the request httpx would build, skipping
  httpx's per-call layers this client does not use (a third of a campaign's CPU); other
  URLs take ``httpx.Client.request`` (docs/http-client.md, "How a call travels");
* **typed errors, no retries**: :meth:`HttpClient.send` returns whatever status came (the
  caller reads a 4xx's error body) and raises only on transport failures,
  :class:`HttpTimeout` (no answer in time: the request may have been carried out) or
  :class:`HttpUnavailable` (refused, lost, TLS or proxy failure). Nothing is retried here:
  whether a call may be repeated is the caller's to know;
* **nothing secret in logs**: bodies and header values are never logged, a token after
  ``Bearer`` or ``vapid t=`` in any line of the HTTP stack is masked, and the URLs in
  errors and log lines lose their query strings (tokens travel there with some providers);
  a client whose paths carry personal data (APNs' device token, a Web Push endpoint) gives
  ``redact``, which rewrites the URL wherever this client or httpx shows it.

Importing this module imports httpx: import it where a client is built, not where plugins
are loaded (``tests/test_plugin_loading_cost.py``). See docs/http-client.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.cookiejar
import json as jsonlib
import logging
import math
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self

import attrs
import httpcore
import httpx

from pes_sdk import __version__
from pes_sdk.errors import PesError

__all__ = [
    "Headers",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "HttpTimeout",
    "HttpUnavailable",
    "safe_url",
]

log = logging.getLogger("pes_sdk.http")

USER_AGENT = f"pes-sdk/{__version__}"


class HttpError(PesError):
    """An HTTP call failed before any answer came (or could not be sent as built).

    ``name`` is the client's (a gateway's, a channel's); ``method`` and ``path`` say which
    call, ``path`` without its query string. No body is ever part of the message.
    """

    def __init__(self, message: str, *, name: str = "", method: str = "", path: str = "") -> None:
        self.message = message
        self.name = name
        self.method = method
        self.path = path
        super().__init__(f"{name}: {message}" if name else message)


class HttpTimeout(HttpError):
    """No answer in time. The request may have reached the server and been carried out.

    ``phase`` is httpx's: ``connect``, ``write``, ``read`` or ``pool`` (waiting for a free
    connection); only ``read`` and ``write`` can leave the outcome unknown, but a caller
    that does not care may treat all alike.
    """

    def __init__(
        self, message: str, *, name: str = "", method: str = "", path: str = "", phase: str = ""
    ) -> None:
        self.phase = phase
        super().__init__(message, name=name, method=method, path=path)


class HttpUnavailable(HttpError):
    """The server could not be reached or talked to: refused, connection lost, TLS failed
    (a certificate not trusted), the proxy refused or failed, a garbled answer."""


def _pairs(value: Iterable[tuple[str, str]]) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


class Headers(tuple[tuple[str, str], ...]):
    """Response headers: ``(name, value)`` pairs in the order received (names as sent), with
    case-insensitive lookup. Iterates, compares and unpacks as the plain tuple of pairs
    that :attr:`HttpResponse.headers` was before."""

    __slots__ = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        wanted = name.lower()
        for key, value in self:
            if key.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order."""
        wanted = name.lower()
        return [value for key, value in self if key.lower() == wanted]


@attrs.frozen
class HttpResponse:
    """An answer, whatever its status. ``http_version`` is ``HTTP/1.1`` or ``HTTP/2``."""

    status: int
    body: bytes
    headers: Headers = attrs.field(factory=Headers, converter=_pairs)
    http_version: str = "HTTP/1.1"

    def json(self) -> Any:
        """The body as JSON (UTF-8); :class:`ValueError` if it is not."""
        return jsonlib.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name)

    def retry_after(self, *, now: dt.datetime | None = None) -> float | None:
        """Seconds the server asks to wait (``Retry-After``: seconds or an HTTP date).

        None when there is no such header or it is malformed; a date already past gives
        0.0. ``now`` (aware) is for tests; the current time otherwise.
        """
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be time-zone aware")
        value = self.headers.get("Retry-After")
        if value is None:
            return None
        value = value.strip()
        if value.isascii() and value.isdigit():
            return float(int(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": HTTP dates are always GMT
            when = when.replace(tzinfo=dt.UTC)
        if now is None:
            now = dt.datetime.now(dt.UTC)
        return max(0.0, (when - now).total_seconds())


def _positive_seconds(value: object, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < math.inf  # NaN and infinity are no timeout
    ):
        raise ValueError(f"{what} must be a positive number of seconds, not {value!r}")
    return float(value)


def safe_url(url: str) -> str:
    """``url`` without user info, query string or fragment: fit for errors and logs."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _safe_path(path: str) -> str:
    if _is_absolute(path):
        return safe_url(path)
    return path.split("?", 1)[0].split("#", 1)[0]


def _is_absolute(path: str) -> bool:
    return path[:8].lower().startswith(("http://", "https://"))


def _checked_context(verify: ssl.SSLContext | None) -> ssl.SSLContext:
    if verify is None:
        # The system's store, not certifi's copy of Mozilla's: an operator whose acquirer
        # is certified by a CA Mozilla lacks (the Russian Trusted Root CA) adds it there.
        return ssl.create_default_context()
    if not isinstance(verify, ssl.SSLContext):
        raise ValueError("verify must be an ssl.SSLContext; TLS is always verified")
    if verify.verify_mode != ssl.CERT_REQUIRED or not verify.check_hostname:
        raise ValueError("verify: the SSLContext must check certificates and host names")
    return verify


class HttpClient:
    """Requests to one base URL (or absolute URLs), over a pool of reused connections.

    :param base_url: ``https://…`` (``http://`` for loopback simulators); a relative
        ``path`` of :meth:`send` is appended to it as is.
    :param timeout: seconds, required and positive (a ``bool`` is refused).
    :param name: who calls (a gateway's or channel's name), for error messages and logs.
    :param headers: sent with every request (authorisation, ``Accept``).
    :param http2: offer HTTP/2 (ALPN over TLS); HTTP/1.1 stays available.
    :param proxy: a proxy URL (``http://user:password@host:3128``) for every request; None:
        the environment's (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)
        when ``trust_env``. A given ``proxy`` applies to every host, ``NO_PROXY`` aside.
    :param trust_env: read the proxy variables from the environment.
    :param verify: an :class:`ssl.SSLContext` that verifies (a test CA's); None: the system's
        store (which honours ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` whatever ``trust_env``).
    :param redact: rewrites a URL or a path (already without its query string) before it is
        shown: in this client's errors and log lines, and in httpx's line of each request
        this client sends. For paths that carry personal data or secrets, e.g.
        ``lambda url: url.replace(token, "…")``. None: shown as they are.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        name: str = "",
        headers: Mapping[str, str] | None = None,
        http2: bool = False,
        proxy: str | None = None,
        trust_env: bool = True,
        verify: ssl.SSLContext | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.timeout = _positive_seconds(timeout, "timeout: every HTTP call needs one; it")
        self._redact = redact
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {safe_url(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.http2 = http2
        #: the context every TLS connection is verified with (it always verifies)
        self.ssl_context = _checked_context(verify)
        self._options: dict[str, Any] = {
            "headers": {"User-Agent": USER_AGENT, **(headers or {})},
            "timeout": httpx.Timeout(self.timeout),
            "verify": self.ssl_context,
            "http2": http2,
            "proxy": proxy,
            "trust_env": trust_env,
            "follow_redirects": False,  # a redirect is an answer for the caller to judge
        }
        # httpx's sync client does not keep an HTTP/2 connection's state consistent across
        # threads (encode/httpx#3072: KeyError, StreamIDTooLowError, a stream's answer lost
        # or given to another), so with HTTP/2 each thread gets a client of its own; the
        # HTTP/1.1 pool hands a connection to one request at a time and is shared.
        self._client = self._new_client()  # HTTP/1.1's, shared (unused with HTTP/2)
        self._local = threading.local()
        self._by_thread: dict[int, httpx.Client] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._lean = _LeanRoute.of(self.base_url, self._client, self.timeout)

    def _new_client(self) -> httpx.Client:
        return httpx.Client(**self._options, cookies=_NoCookies())

    def _thread_client(self) -> httpx.Client:
        """The httpx client this thread sends with: the shared one, or (HTTP/2) its own."""
        if not self.http2:
            return self._client
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None and not client.is_closed:
            return client
        # registers a thread Python did not start, so that enumerate() shows it alive
        me = threading.current_thread().ident or threading.get_ident()
        gone: list[httpx.Client] = []
        with self._lock:
            if self._closed:
                # as httpx says of a closed client; a new thread must not reopen one
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            client = self._new_client()
            # the connections of threads that ended are closed, not kept until close()
            alive = {thread.ident for thread in threading.enumerate()}
            for ident in [ident for ident in self._by_thread if ident not in alive]:
                gone.append(self._by_thread.pop(ident))
            replaced = self._by_thread.get(me)
            if replaced is not None:  # an ended thread's id taken by a new thread
                gone.append(replaced)
            self._by_thread[me] = client
        self._local.client = client
        for old in gone:
            old.close()
        return client

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection (every thread's); the client cannot send after
        this."""
        with self._lock:
            self._closed = True
            clients, self._by_thread = list(self._by_thread.values()), {}
        for client in [self._client, *clients]:
            client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request and return the answer, whatever its status.

        :param path: appended to the base URL (``/v1/payments``, ``?a=b`` or ``""``), or an
            absolute ``http(s)://`` URL for providers whose endpoint differs per call.
        :param json: a body encoded as UTF-8 JSON (Cyrillic as is, ``ensure_ascii=False``),
            sent as ``application/json; charset=utf-8`` unless ``headers`` say otherwise.
        :param content: a body as bytes (either this or ``json``).
        :param timeout: this call's timeout instead of the client's.
        :raises HttpTimeout: no answer in time (never retried: it may have been done).
        :raises HttpUnavailable: refused, connection lost, TLS or proxy failure.
        :raises HttpError: the request cannot be sent as built (e.g. a bad header value).
        """
        if json is not None and content is not None:
            raise ValueError("give json or content, not both")
        shown = _safe_path(path)
        if self._redact is not None:
            shown = self._redact(shown)
        if _is_absolute(path):
            url = path
        elif path == "" or path.startswith(("/", "?")):
            url = self.base_url + path
        else:
            raise ValueError(f"path must start with / or ? or be an http(s) URL: {shown!r}")
        seconds = self.timeout if timeout is None else _positive_seconds(timeout, "timeout")
        all_headers = dict(headers or {})
        data = content
        if json is not None:
            data = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            if not any(key.lower() == "content-type" for key in all_headers):
                all_headers["Content-Type"] = "application/json; charset=utf-8"
        where = {"name": self.name, "method": method, "path": shown}
        started = time.perf_counter()
        try:
            lean = self._lean
            pool = self._lean_pool(lean) if lean is not None and _is_plain_path(path) else None
            if lean is not None and pool is not None:
                response = self._send_lean(lean, pool, method, path, all_headers, data, seconds)
            else:
                with _redacting(self._redact):
                    answer = self._thread_client().request(
                        method,
                        url,
                        content=data,
                        headers=all_headers,
                        timeout=httpx.Timeout(seconds),
                    )
                response = HttpResponse(
                    answer.status_code,
                    answer.content,
                    tuple(
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers.raw
                    ),
                    answer.http_version,
                )
        except httpx.TimeoutException as exc:
            phase = _TIMEOUT_PHASES.get(type(exc), "")
            raise HttpTimeout(
                f"{method} {shown}: no answer within {seconds}s ({phase or 'timeout'})",
                phase=phase,
                **where,
            ) from exc
        except httpx.LocalProtocolError as exc:
            # The text may quote the offending header value (a token): only the type shows.
            raise HttpError(
                f"{method} {shown}: the request cannot be sent ({type(exc).__name__})", **where
            ) from exc
        except httpx.ProxyError as exc:
            raise HttpUnavailable(f"{method} {shown}: proxy failed: {exc}", **where) from exc
        except (httpx.RequestError, ssl.SSLError) as exc:
            raise HttpUnavailable(
                f"{method} {shown}: {type(exc).__name__}: {exc}", **where
            ) from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %s: %d %s in %.0f ms",
                self.name or "http",
                method,
                shown,
                response.status,
                response.http_version,
                (time.perf_counter() - started) * 1000,
            )
        return response

    def _lean_pool(self, lean: _LeanRoute) -> httpcore.ConnectionPool | None:
        """The httpcore pool this thread's httpx client sends the base URL's requests
        through (its own, or the proxy's that ``proxy=`` or the environment names for the
        host), or None when this httpx keeps it elsewhere (then httpx's whole way)."""
        client = self._thread_client()
        if client.is_closed:  # as httpx says of a closed client
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        known: tuple[httpx.Client, httpcore.ConnectionPool | None] | None = getattr(
            self._local, "pool", None
        )
        if known is not None and known[0] is client:
            return known[1]
        pool: httpcore.ConnectionPool | None = None
        try:
            # httpx's own choice of transport for the URL (private, read-only: checked)
            transport = client._transport_for_url(lean.url)
            found = (
                getattr(transport, "_pool", None)
                if type(transport) is httpx.HTTPTransport
                else None
            )
            pool = found if isinstance(found, httpcore.ConnectionPool) else None
        except AttributeError:
            pass
        self._local.pool = (client, pool)
        return pool

    def _send_lean(
        self,
        lean: _LeanRoute,
        pool: httpcore.ConnectionPool,
        method: str,
        path: str,
        headers: Mapping[str, str],
        data: bytes | None,
        seconds: float,
    ) -> HttpResponse:
        """One request to the base URL straight through httpx's connection pool (httpcore):
        the request httpx would send, without its per-call layers (URL parsing, header
        merging, cookies, auth and redirect handling, response wrapping) that this client
        does not use and that cost a third of a request's CPU. Raises httpx's errors."""
        method = method.upper()
        request = httpcore.Request(
            method,
            httpcore.URL(
                scheme=lean.scheme, host=lean.host, port=lean.port, target=lean.target(path)
            ),
            headers=lean.headers(method, headers, data),
            content=data or b"",
            extensions={"timeout": lean.timeouts(seconds)},
        )
        with _httpx_errors():
            answer = pool.handle_request(request)
            try:
                body = answer.read()
            finally:
                answer.close()
        raw = answer.headers
        version = answer.extensions.get("http_version", b"HTTP/1.1").decode("ascii")
        if any(k.lower() == b"content-encoding" for k, _ in raw):
            # compressed (the server took httpx's Accept-Encoding): httpx's decoders
            body = httpx.Response(answer.status, headers=raw, stream=httpx.ByteStream(body)).read()
        if _httpx_log.isEnabledFor(logging.INFO):
            # httpx's own line of each request, which operators may rely on; redacted by
            # _NoSecretsInLogs as httpx's is
            previous = getattr(_SENDING, "redact", None)
            _SENDING.redact = self._redact
            try:
                _httpx_log.info(
                    'HTTP Request: %s %s "%s %d %s"',
                    method,
                    self.base_url + path,
                    version,
                    answer.status,
                    _reason(answer),
                )
            finally:
                _SENDING.redact = previous
        return HttpResponse(
            answer.status,
            body,
            Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw),
            version,
        )


_httpx_log = logging.getLogger("httpx")
# httpcore's errors as httpx raises them (its HTTPCORE_EXC_MAP): callers read the httpx
# error behind an HttpError (SMSC: a ConnectError means no SMS can have gone out)
_AS_HTTPX: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Raises httpcore's errors as the httpx errors httpx itself would raise for them
    (the most specific one; the httpcore error as its cause)."""
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            mapped = _AS_HTTPX.get(kind)
            if mapped is not None:
                raise mapped(str(exc)) from exc
        raise


# A relative path sent as is: the characters httpx leaves as they are in a path and a query,
# percent escapes well formed, and no dot segment (httpx would resolve it). Any other path
# takes httpx's whole way, which quotes and normalises it.
_PLAIN_PATH = re.compile(r"(?:[A-Za-z0-9\-_~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2}|\.(?<!/\.))*")


def _reason(answer: httpcore.Response) -> str:
    """The reason phrase as httpx's ``Response.reason_phrase`` gives it."""
    phrase = answer.extensions.get("reason_phrase")
    if isinstance(phrase, bytes):
        return phrase.decode("ascii", errors="ignore")
    return httpx.codes.get_reason_phrase(answer.status)


def _is_plain_path(path: str) -> bool:
    """Whether ``path`` is relative to the base URL and goes as it is (see _PLAIN_PATH)."""
    return path[:1] in ("", "/", "?") and _PLAIN_PATH.fullmatch(path) is not None


@attrs.frozen
class _LeanRoute:
    """What :meth:`HttpClient._send_lean` needs of the base URL, worked out once."""

    scheme: bytes
    host: bytes
    port: int | None
    netloc: bytes
    prefix: bytes  # the base URL's path, without its trailing slash
    url: httpx.URL  # the base URL, as httpx's mounts (proxies) match it
    defaults: tuple[tuple[bytes, bytes], ...]  # httpx's and the client's headers
    default_timeouts: Mapping[str, float]

    @classmethod
    def of(cls, base_url: str, client: httpx.Client, timeout: float) -> _LeanRoute | None:
        """The route, or None when the base URL needs what only httpx's whole way does
        (user info: basic auth; a query or fragment of its own; a path httpx rewrites)."""
        url = httpx.URL(base_url)
        parts = urllib.parse.urlsplit(base_url)
        if "@" in parts.netloc or parts.query or parts.fragment or "#" in base_url:
            return None
        if not _is_plain_path(parts.path) or url.raw_path != (parts.path or "/").encode():
            return None
        return cls(
            scheme=url.raw_scheme,
            host=url.raw_host,
            port=url.port,
            netloc=url.netloc,
            prefix=url.raw_path.rstrip(b"/"),
            url=url,
            defaults=tuple(client.headers.raw),
            default_timeouts=_phases(timeout),
        )

    def target(self, path: str) -> bytes:
        """The request target of ``base_url + path`` (a plain relative path)."""
        target = self.prefix + path.encode("ascii")
        return target if target.startswith(b"/") else b"/" + target

    def headers(
        self, method: str, given: Mapping[str, str], data: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        """The headers httpx would send: Host, its defaults and the client's, this call's
        (replacing those of the same name), the body's length."""
        sent: dict[bytes, tuple[bytes, bytes]] = {}
        for name, value in self.defaults:
            sent[name.lower()] = (name, value)
        for key, text in given.items():
            name = key.encode("ascii")
            sent[name.lower()] = (name, text.encode("ascii"))
        first = [] if b"host" in sent else [(b"Host", self.netloc)]
        if b"content-length" not in sent and b"transfer-encoding" not in sent:
            if data:
                sent[b"content-length"] = (b"Content-Length", str(len(data)).encode("ascii"))
            elif method in ("POST", "PUT", "PATCH"):
                first.append((b"Content-Length", b"0"))  # where httpx puts it
        return first + list(sent.values())

    def timeouts(self, seconds: float) -> Mapping[str, float]:
        if seconds == self.default_timeouts["read"]:
            return self.default_timeouts
        return _phases(seconds)


def _phases(seconds: float) -> dict[str, float]:
    """httpcore's timeouts: ``seconds`` for each phase, as ``httpx.Timeout(seconds)``."""
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that keeps nothing: calls are stateless, as with the kit's first transport.

    httpx would otherwise send a provider's ``Set-Cookie`` back on later calls (to any
    path of that host), state nobody asked for that may carry a session across clients.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        pass


_TIMEOUT_PHASES: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


# The redactor of the client sending in this thread: httpx logs a request in the thread
# that sends it (the kit's client is synchronous), so the filter knows whose URL it is.
_SENDING = threading.local()


@contextlib.contextmanager
def _redacting(redact: Callable[[str], str] | None) -> Iterator[None]:
    """Makes ``redact`` this thread's redactor while a request is sent."""
    previous = getattr(_SENDING, "redact", None)
    _SENDING.redact = redact
    try:
        yield
    finally:
        _SENDING.redact = previous


# a token after "Bearer " (OAuth2, APNs' JWT, RuStore's) or "vapid t=" (Web Push)
_CREDENTIAL = re.compile(r"(?i)(\bbearer |\bvapid t=)[A-Za-z0-9._~+/=-]+")


class _NoSecretsInLogs(logging.Filter):
    """Keeps query strings, header values and credentials out of the HTTP stack's logs.

    httpx logs every request's full URL at INFO (``HTTP Request: POST https://…?token=…``),
    httpcore every answer's headers at DEBUG, and over HTTP/2 hpack every header it encodes
    or decodes (``authorization: bearer …``, an APNs device token in ``:path``): an operator
    who turns logging up must not find tokens there. httpx's URL also goes through the
    ``redact`` of the client sending it, and a token after ``Bearer`` or ``vapid t=`` in any
    other line is masked (no line of today's stack carries one; a newer one's might). The
    records are rewritten, never dropped; nothing else is changed.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("hpack"):
            record.msg = "hpack: header block (headers not logged)"
            record.args = ()
        elif record.name == "httpx" and isinstance(record.args, tuple) and len(record.args) > 1:
            args = list(record.args)
            url = safe_url(str(args[1]))
            redact: Callable[[str], str] | None = getattr(_SENDING, "redact", None)
            args[1] = url if redact is None else redact(url)
            record.args = tuple(args)
        elif isinstance(record.msg, str) and record.msg.startswith(
            "receive_response_headers.complete"
        ):
            record.msg = "receive_response_headers.complete (headers not logged)"
            record.args = ()
        else:
            try:
                text = record.getMessage()
            except Exception:  # a broken record is the logging module's to report, not ours
                return True
            masked = _CREDENTIAL.sub(r"\1…", text)
            if masked != text:
                record.msg = masked
                record.args = ()
        return True


_FILTER = _NoSecretsInLogs()
# A filter on a parent logger does not see its children's records: each logger gets it.
for _name in (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack.hpack",
    "hpack.table",
):
    logging.getLogger(_name).addFilter(_FILTER)
