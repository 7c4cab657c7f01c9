"""The kit's one outbound HTTP client (pes_sdk.http) against real servers on loopback.

Every server here is real: the standard library's for plain HTTP, hypercorn over TLS with a
throwaway CA (trustme) for HTTPS and HTTP/2, raw sockets where a server must misbehave
(accept and never answer, close a kept-alive connection), and proxy.py, a real forwarding
proxy run as its own process, for the proxy path: what is checked is that bytes really
travel through a proxy the way an operator's network makes them, which a mock cannot show.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import logging
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpcore
import httpx
import hypercorn.asyncio
import hypercorn.config
import pes_sdk_sandbox as sandbox
import pytest
import trustme

from pes_sdk.errors import PesError
from pes_sdk.gateways import CreateOptions, PaymentState, new_idempotency_key
from pes_sdk.gateways.errors import GatewayTimeout, GatewayUnavailable
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.simulation import LoopbackServer, SimulatorHandler
from pes_sdk.http import (
    Headers,
    HttpClient,
    HttpError,
    HttpResponse,
    HttpTimeout,
    HttpUnavailable,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own proxy settings must not route these loopback calls anywhere.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


# -- a plain HTTP server ----------------------------------------------------------------


class _Handler(SimulatorHandler):
    """``/echo`` answers the request's body; ``/status/N`` answers N with a small body."""

    def _dispatch(self, method: str) -> None:
        body = self._body()
        path, _, query = self.path.partition("?")
        if path == "/echo":
            self._send(
                200,
                body,
                self.headers.get("Content-Type") or "application/octet-stream",
                **{
                    "X-Method": method,
                    "X-Query": query,
                    "X-User-Agent": self.headers.get("User-Agent", ""),
                    "Set-Cookie": "session=cookie-secret-1",
                    "X-Cookie": self.headers.get("Cookie", ""),
                },
            )
        elif path == "/headers":  # what arrived: the target and the headers, in order
            seen = {"target": self.path, "headers": [[k, v] for k, v in self.headers.items()]}
            self._send(200, json.dumps(seen).encode(), "application/json")
        elif path == "/gzip":  # compressed when the client says it takes gzip
            text = json.dumps({"сжато": True}, ensure_ascii=False).encode()
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                packed = gzip.compress(text)
                self._send(200, packed, "application/json", **{"Content-Encoding": "gzip"})
            else:
                self._send(200, text, "application/json")
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            extra = {"Retry-After": "7"} if status in (429, 503) else {}
            text = json.dumps({"error": "ошибка", "status": status}, ensure_ascii=False)
            self._send(status, text.encode(), "application/json; charset=utf-8", **extra)
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture(scope="module")
def plain() -> Iterator[str]:
    with LoopbackServer(_Handler, name="http-client-test") as server:
        yield server.root_url


def test_status_is_passed_through_with_its_body(plain: str) -> None:
    with HttpClient(plain, timeout=5, name="partner") as client:
        for status in (200, 201, 404, 409, 429, 500, 503):
            response = client.send("GET", f"/status/{status}")
            assert response.status == status
            assert response.json()["error"] == "ошибка"  # a 4xx's body is readable
        assert client.send("GET", "/status/429").retry_after() == 7.0


def test_cyrillic_json_travels_as_utf8_and_back(plain: str) -> None:
    data = {"адрес": "г. Москва, ул. Ленина, д. 1", "сумма": "1272.26"}
    with HttpClient(plain, timeout=5) as client:
        response = client.send("POST", "/echo", json=data)
    assert response.json() == data
    # on the wire: UTF-8 as is, not \\u escapes, and declared as such
    assert response.body == json.dumps(data, ensure_ascii=False).encode("utf-8")
    assert "Ленина".encode() in response.body
    assert response.header("x-method") == "POST"
    assert response.header("Content-Type") == "application/json; charset=utf-8"


def test_headers_are_pairs_with_case_insensitive_lookup(plain: str) -> None:
    with HttpClient(plain, timeout=5) as client:
        response = client.send("GET", "/echo?x=1", headers={"X-Extra": "1"})
    assert isinstance(response.headers, tuple) and isinstance(response.headers, Headers)
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in response.headers)
    assert dict(response.headers)["X-Query"] == "x=1"  # names as the server sent them
    assert response.headers.get("x-query") == response.headers.get("X-QUERY") == "x=1"
    assert response.headers.get_all("set-cookie") == ["session=cookie-secret-1"]
    assert response.headers.get("No-Such") is None
    assert (response.header("X-User-Agent") or "").startswith("pes-sdk/")
    assert response.http_version == "HTTP/1.1"
    # built by hand as before: a tuple of pairs converts
    made = HttpResponse(200, b"{}", (("Retry-After", "3"),))
    assert made.headers == (("Retry-After", "3"),) and made.retry_after() == 3.0


def test_a_call_to_the_base_url_goes_to_the_pool_as_httpx_itself_sends_it(plain: str) -> None:
    # A call to the base URL skips httpx's per-call layers (a third of a request's CPU in a
    # campaign) and goes straight to httpx's own connection pool; what reaches the server
    # must be what httpx sends (an absolute URL still takes httpx's whole way).
    call = {"x-client": "this call's", "Authorization": "Bearer t"}
    with HttpClient(plain + "/", timeout=5, headers={"X-Client": "the client's"}) as client:
        for method, path, body in [
            ("POST", "/headers?a=1&b=%2F", {"n": "№1"}),
            ("POST", "/headers", None),  # no body: Content-Length 0, as httpx says
            ("GET", "/headers?x=1", None),
        ]:
            lean = client.send(method, path, json=body, headers=call)
            pool = client._local.pool[1]
            assert pool is client._client._transport._pool  # httpx's own pool: the lean way
            whole = client.send(method, plain + path, json=body, headers=call)
            assert lean.json() == whole.json()
            assert lean.http_version == whole.http_version == "HTTP/1.1"
        sent = dict(lean.json()["headers"])
        assert sent["x-client"] == "this call's" and "X-Client" not in sent
    # a base URL with a path of its own: the path is appended to it
    with HttpClient(f"{plain}/echo", timeout=5) as client:
        assert client.send("GET", "?q=1").header("X-Query") == "q=1"
        assert client._local.pool[1] is not None
    # a compressed answer is decoded, as httpx decodes it
    with HttpClient(plain, timeout=5) as client:
        assert client.send("GET", "/gzip").json() == {"сжато": True}
        assert client._local.pool[1] is not None


def test_cookies_are_not_kept_between_calls(plain: str) -> None:
    with HttpClient(plain, timeout=5) as client:
        first = client.send("GET", "/echo")
        assert first.header("Set-Cookie") == "session=cookie-secret-1"
        assert client.send("GET", "/echo").header("X-Cookie") == ""  # not sent back


def test_a_relative_path_must_start_with_a_slash_or_a_query(plain: str) -> None:
    with HttpClient(plain, timeout=5) as client:
        with pytest.raises(ValueError, match="path"):
            client.send("GET", "echo")
        with pytest.raises(ValueError, match="path"):
            client.send("GET", "ftp://example.org/")
        # an absolute URL goes where it says, whatever the base
        assert client.send("GET", f"{plain}/status/204").status == 204
    with HttpClient("http://127.0.0.1:9/unused", timeout=5) as elsewhere:
        assert elsewhere.send("GET", f"{plain}/status/202").status == 202


def test_a_timeout_is_required_and_positive() -> None:
    for bad in (0, -1, None, True, False, "5", float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout"):
            HttpClient("http://127.0.0.1:9", timeout=bad)  # type: ignore[arg-type]
    for url in ("ftp://example.org", "example.org", "http://"):
        with pytest.raises(ValueError, match="URL"):
            HttpClient(url, timeout=1)
    with HttpClient("http://127.0.0.1:9", timeout=1) as client:
        with pytest.raises(ValueError, match="timeout"):
            client.send("GET", "/", timeout=0)
        with pytest.raises(ValueError, match="json or content"):
            client.send("POST", "/", json={}, content=b"")


# -- transport failures ---------------------------------------------------------------


class _SilentServer:
    """Accepts connections and reads requests, and never answers: a hung partner.

    Counts the requests that arrived, so that a test can tell none was sent twice.
    """

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self._peers: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._step(0.05)
        self._step(0)  # what is already queued counts too

    def _step(self, wait: float) -> None:
        ready, _, _ = select.select([self.sock, *self._peers], [], [], wait)
        for sock in ready:
            if sock is self.sock:
                peer, _ = self.sock.accept()
                self._peers.append(peer)
            else:
                data = sock.recv(65536)
                self.requests += data.count(b"HTTP/1.1\r\n")
                if not data:
                    self._peers.remove(sock)
                    sock.close()

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        for peer in self._peers:
            peer.close()
        self.sock.close()
        return self.requests


def test_no_answer_is_a_timeout_and_is_never_retried() -> None:
    server = _SilentServer()
    try:
        with (
            HttpClient(server.url, timeout=5, name="partner") as client,
            pytest.raises(HttpTimeout) as caught,
        ):
            client.send("POST", "/pay?token=q-secret", json={"a": 1}, timeout=0.3)
    finally:
        requests = server.close()
    assert caught.value.phase == "read"
    assert caught.value.name == "partner" and caught.value.method == "POST"
    assert caught.value.path == "/pay"
    assert "q-secret" not in str(caught.value)
    assert isinstance(caught.value, HttpError) and isinstance(caught.value, PesError)
    assert requests == 1  # sent once: a timeout is never retried (it may have been done)


def test_a_refused_connection_is_unavailable() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound, then closed: nothing listens there now
    with (
        HttpClient(f"http://127.0.0.1:{port}", timeout=2, name="partner") as client,
        pytest.raises(HttpUnavailable, match="ConnectError") as caught,
    ):
        client.send("GET", "/v1?secret=1")
    assert caught.value.path == "/v1" and "secret" not in str(caught.value)
    # httpx's error behind it, whichever way the call went: SMSC reads a ConnectError as
    # "no SMS can have gone out"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


class _ClosingServer:
    """Answers one request per connection as HTTP/1.1 keep-alive, then closes it anyway:
    what a server does to a connection it has kept idle long enough."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                peer, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with peer:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += peer.recv(65536)
                peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                peer.shutdown(socket.SHUT_RDWR)
            self.closed.set()


def test_a_kept_alive_connection_the_server_closed_is_replaced() -> None:
    server = _ClosingServer()
    try:
        with HttpClient(server.url, timeout=5) as client:
            assert client.send("GET", "/one").status == 200
            assert server.closed.wait(5)
            # the pooled connection is dead; the next call must not fail on it
            assert client.send("POST", "/two", json={"n": 2}).status == 200
    finally:
        server.sock.close()
    assert server.connections == 2


def test_one_client_serves_many_threads(plain: str) -> None:
    failures: list[BaseException] = []
    with HttpClient(plain, timeout=5) as client:

        def work(n: int) -> None:
            try:
                for i in range(20):
                    body = {"thread": n, "i": i}
                    assert client.send("POST", "/echo", json=body).json() == body
            except BaseException as exc:  # collected: an assert in a thread is lost
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


# -- Retry-After ------------------------------------------------------------------------


def test_retry_after_in_seconds_and_as_a_date() -> None:
    now = dt.datetime(2026, 12, 7, 10, 0, 0, tzinfo=dt.UTC)

    def after(value: str) -> float | None:
        return HttpResponse(429, b"", (("retry-after", value),)).retry_after(now=now)

    assert after("120") == 120.0
    assert after(" 0 ") == 0.0
    assert after("Mon, 07 Dec 2026 10:01:30 GMT") == 90.0
    assert after("Mon, 07 Dec 2026 09:00:00 GMT") == 0.0  # already past
    for bad in ("-5", "1.5", "soon", "", "٣"):
        assert after(bad) is None
    assert HttpResponse(429, b"").retry_after() is None
    with pytest.raises(ValueError, match="aware"):
        HttpResponse(429, b"", (("Retry-After", "1"),)).retry_after(now=dt.datetime(2026, 1, 1))


# -- logs -------------------------------------------------------------------------------


def test_no_body_token_or_query_reaches_the_logs(
    plain: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ("Bearer tok-secret-1", "тайна-тела", "q-secret-1", "cookie-secret-1")
    headers = {"Authorization": "Bearer tok-secret-1"}
    with HttpClient(plain, timeout=5, name="partner", headers=headers) as client:
        response = client.send("POST", "/echo?token=q-secret-1", json={"text": "тайна-тела"})
        assert response.status == 200 and "тайна-тела".encode() in response.body
    text = caplog.text
    for secret in secrets:
        assert secret not in text
    # something was logged (httpx's request line, httpcore's trace, ours), minus the secrets
    assert f"HTTP Request: POST {plain}/echo " in text
    assert "receive_response_headers.complete (headers not logged)" in text
    assert "partner POST /echo: 200 HTTP/1.1" in text


def test_redact_hides_a_path_in_logs_and_errors(
    plain: str, caplog: pytest.LogCaptureFixture
) -> None:
    # APNs' device token, a Web Push endpoint: personal data in the path itself
    caplog.set_level(logging.DEBUG)
    token = "0d1e2v3i4c5e6t7o8k9e0n"

    def redact(url: str) -> str:
        return url.replace(token, "…")

    with HttpClient(plain, timeout=5, name="push", redact=redact) as client:
        assert client.send("POST", f"/echo/{token}").status == 404
        assert client.send("POST", f"{plain}/echo/{token}?q=1").status == 404
    with HttpClient(plain, timeout=5, name="other") as client:  # its own, unredacted
        assert client.send("POST", "/echo/visible").status == 404
    assert token not in caplog.text
    assert "push POST /echo/…: 404" in caplog.text
    assert f"HTTP Request: POST {plain}/echo/… " in caplog.text
    assert f"HTTP Request: POST {plain}/echo/visible " in caplog.text
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with (
        HttpClient(f"http://127.0.0.1:{port}", timeout=2, redact=redact) as client,
        pytest.raises(HttpUnavailable) as caught,
    ):
        client.send("POST", f"/3/device/{token}")
    assert caught.value.path == "/3/device/…" and token not in str(caught.value)


@pytest.mark.parametrize(
    "line", ["vapid t=eyJ0.eyJh.c2ln, k=BKey", "authorization: Bearer eyJ0.eyJh.c2ln"]
)
def test_a_credential_in_an_http_log_line_is_masked(
    line: str, caplog: pytest.LogCaptureFixture
) -> None:
    # no line of today's HTTP stack carries the Authorization value; one that did (a
    # proxy's or a newer httpx's debug line) must not show the token
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpcore.http11").debug("sent %s", line)
    assert "eyJ0" not in caplog.text
    assert "vapid t=…, k=BKey" in caplog.text or "authorization: Bearer …" in caplog.text


# -- TLS and HTTP/2 (hypercorn, a throwaway CA) -------------------------------------------


# the bodies the TLS server was sent, each counted (its one event loop thread counts)
_RECEIVED: Counter[str] = Counter()


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    _RECEIVED[body.decode()] += 1
    answer = {"http_version": scope["http_version"], "path": scope["path"], "body": body.decode()}
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


class _TlsServer:
    """hypercorn on 127.0.0.1 over TLS, offering h2 and http/1.1, in a thread of its own."""

    def __init__(self, certfile: Path, keyfile: Path) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = hypercorn.config.Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.certfile, config.keyfile = str(certfile), str(keyfile)
        config.errorlog = logging.getLogger("tests.hypercorn")  # not stderr
        # hypercorn ends a connection after 1,000 requests by default: a failure of many
        # requests on one connection must be the client's, not that limit
        config.keep_alive_max_requests = 2**31
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "hypercorn did not start"
        _wait_for_port(self.port)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._ready.set()
            await hypercorn.asyncio.serve(_asgi, self._config, shutdown_trigger=self._stop.wait)

        self._loop.run_until_complete(main())
        self._loop.close()

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls(ca: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``https://127.0.0.1:<port>``; the certificate names 127.0.0.1 only (not localhost)."""
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    server = _TlsServer(certfile, keyfile)
    yield f"https://127.0.0.1:{server.port}"
    server.close()


def trusting(ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_tls_is_verified_an_unknown_ca_is_refused(tls: str, ca: Any) -> None:
    with (
        HttpClient(tls, timeout=5, name="acquirer") as client,
        pytest.raises(HttpUnavailable, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.send("GET", "/")
    with HttpClient(tls, timeout=5, verify=trusting(ca)) as client:
        assert client.send("GET", "/x").json()["path"] == "/x"
    # the name is checked too: the certificate is for 127.0.0.1, not for localhost
    port = tls.rsplit(":", 1)[1]
    with (
        HttpClient(f"https://localhost:{port}", timeout=5, verify=trusting(ca)) as client,
        pytest.raises(HttpUnavailable, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.send("GET", "/")


def test_an_operator_adds_a_ca_with_ssl_cert_file(
    tls: str, ca: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with HttpClient(tls, timeout=5) as client:  # the system's store, as the env names it
        assert client.send("GET", "/").status == 200


def test_verification_cannot_be_switched_off() -> None:
    lax = ssl.create_default_context()
    lax.check_hostname = False
    for verify in (lax, False, "none"):
        with pytest.raises(ValueError, match="verify"):
            HttpClient("https://127.0.0.1:9", timeout=1, verify=verify)  # type: ignore[arg-type]
    unchecked = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unchecked.check_hostname = False
    unchecked.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="verify"):
        HttpClient("https://127.0.0.1:9", timeout=1, verify=unchecked)


def test_no_header_value_reaches_the_logs_over_http2(
    tls: str, ca: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # hpack logs each header it encodes at DEBUG: the bearer token of FCM, APNs' JWT.
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": "Bearer h2-secret-1"}
    with HttpClient(tls, timeout=5, http2=True, verify=trusting(ca), headers=headers) as client:
        assert client.send("POST", "/echo", json={}).http_version == "HTTP/2"
    assert "h2-secret-1" not in caplog.text
    assert "hpack: header block (headers not logged)" in caplog.text


def test_http2_when_asked_for(tls: str, ca: Any) -> None:
    with HttpClient(tls, timeout=5, http2=True, verify=trusting(ca)) as client:
        response = client.send("POST", "/3/device/abc", json={"aps": {"alert": "Начислено"}})
        assert response.http_version == "HTTP/2"
        assert response.json()["http_version"] == "2"  # the server saw HTTP/2 too
        assert json.loads(response.json()["body"]) == {"aps": {"alert": "Начислено"}}
    with HttpClient(tls, timeout=5, verify=trusting(ca)) as client:
        assert client.send("GET", "/").http_version == "HTTP/1.1"


def test_threads_sharing_a_client_over_http2_each_get_their_own_answer(tls: str, ca: Any) -> None:
    # encode/httpx#3072: threads sharing one sync HTTP/2 connection mix its streams up
    # (KeyError, StreamIDTooLowError, a connection torn down, an answer lost or handed to
    # another request), as the notification channels did with 2 batches sending at once.
    # The race is a matter of timing: thousands of requests make it show on the old code
    # in most runs (a passing run there proves nothing; this one never fails when fixed).
    run, threads_, each = uuid.uuid4().hex, 32, 100
    failures: list[BaseException] = []
    answered: Counter[str] = Counter()
    answered_lock = threading.Lock()

    def work(client: HttpClient, n: int) -> None:
        try:
            for i in range(each):
                body = json.dumps({"run": run, "thread": n, "i": i})
                response = client.send("POST", f"/3/device/{n}", content=body.encode())
                assert response.http_version == "HTTP/2"
                assert response.json()["body"] == body  # its own answer, no other's
                with answered_lock:
                    answered[body] += 1
        except BaseException as exc:  # collected: an assert in a thread is lost
            failures.append(exc)

    with HttpClient(tls, timeout=10, http2=True, verify=trusting(ca)) as client:
        threads = [threading.Thread(target=work, args=(client, n)) for n in range(threads_)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    sent = {
        json.dumps({"run": run, "thread": n, "i": i}) for n in range(threads_) for i in range(each)
    }
    assert set(answered) == sent and set(answered.values()) == {1}
    received = {body: count for body, count in _RECEIVED.items() if run in body}
    assert received == dict.fromkeys(sent, 1)  # each request reached the server exactly once


def test_http2_connections_are_per_thread_and_all_closed(tls: str, ca: Any) -> None:
    client = HttpClient(tls, timeout=5, http2=True, verify=trusting(ca))
    assert client.send("GET", "/main").http_version == "HTTP/2"
    ended = threading.Thread(target=client.send, args=("GET", "/ended"))
    ended.start()
    ended.join()
    assert len(client._by_thread) == 2
    outsider: list[Any] = []

    def later() -> None:
        client.send("GET", "/later")
        outsider.append(client._local.client)

    # a thread sending after another ended closes the ended one's connections
    (dead,) = [c for ident, c in client._by_thread.items() if ident != threading.get_ident()]
    thread = threading.Thread(target=later)
    thread.start()
    thread.join()
    assert dead.is_closed
    clients = list(client._by_thread.values())
    assert len(clients) == 2 and outsider[0] in clients
    client.close()
    assert all(c.is_closed for c in clients)
    with pytest.raises(RuntimeError, match="closed"):
        client.send("GET", "/after")  # this thread's own, closed
    refused: list[BaseException] = []

    def new_thread() -> None:
        try:
            client.send("GET", "/after")
        except BaseException as exc:
            refused.append(exc)

    thread = threading.Thread(target=new_thread)
    thread.start()
    thread.join()
    assert len(refused) == 1 and isinstance(refused[0], RuntimeError)  # nothing reopened


# -- through a real proxy (proxy.py, its own process) -------------------------------------


class _Proxy:
    """proxy.py on a free loopback port, its log (one access line per connection) in a file."""

    def __init__(self, folder: Path) -> None:
        port_file, self.log = folder / "proxy.port", folder / "proxy.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-acceptors",
                "1",
                "--num-workers",
                "1",
                "--log-level",
                "INFO",
                "--log-file",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_for_port(self.port)

    def count(self, line: str) -> int:
        """How many lines of the proxy's access log hold ``line``."""
        if not self.log.exists():
            return 0
        return sum(line in one for one in self.log.read_text(errors="replace").splitlines())

    def saw(self, line: str, *, before: int = 0, within: float = 15) -> bool:
        """Whether the access log gets more than ``before`` lines with ``line`` (a line is
        written when the proxied connection closes, so this waits a little)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.count(line) > before:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Proxy]:
    running = _Proxy(tmp_path_factory.mktemp("proxy"))
    yield running
    running.close()


def _dead_port() -> int:
    sock = socket.create_server(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def test_https_proxy_from_the_environment_carries_the_call(
    tls: str, ca: Any, proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    seen = f"CONNECT {tls.removeprefix('https://')}"
    before = proxy.count(seen)
    with HttpClient(tls, timeout=10, http2=True, verify=trusting(ca)) as client:
        response = client.send("POST", "/through", json={"n": 1})
        # the call to the base URL went straight to the proxy's pool that httpx chose
        assert isinstance(client._local.pool[1], httpcore.HTTPProxy)
    assert response.status == 200
    assert response.http_version == "HTTP/2"  # HTTP/2 inside the tunnel: APNs behind a proxy
    assert proxy.saw(seen, before=before)


def test_no_proxy_keeps_the_call_direct(tls: str, ca: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The proxy named is dead: a call that went through it would fail.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_dead_port()}")
    with (
        HttpClient(tls, timeout=5, verify=trusting(ca)) as client,
        pytest.raises(HttpUnavailable),
    ):
        client.send("GET", "/")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with HttpClient(tls, timeout=5, verify=trusting(ca)) as client:
        assert client.send("GET", "/").status == 200
    # trust_env=False ignores the environment altogether
    monkeypatch.delenv("NO_PROXY")
    with HttpClient(tls, timeout=5, verify=trusting(ca), trust_env=False) as client:
        assert client.send("GET", "/").status == 200


def test_a_proxy_given_explicitly(tls: str, ca: Any, proxy: _Proxy) -> None:
    seen = f"CONNECT {tls.removeprefix('https://')}"
    before = proxy.count(seen)
    with HttpClient(tls, timeout=10, verify=trusting(ca), proxy=proxy.url) as client:
        assert client.send("GET", "/explicit").json()["path"] == "/explicit"
    assert proxy.saw(seen, before=before)


def test_a_failing_proxy_is_unavailable(tls: str, ca: Any) -> None:
    dead = f"http://127.0.0.1:{_dead_port()}"
    with (
        HttpClient(tls, timeout=5, verify=trusting(ca), proxy=dead) as client,
        pytest.raises(HttpUnavailable),
    ):
        client.send("GET", "/")


def test_a_gateway_reaches_its_acquirer_through_the_proxy(
    proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        PaymentMethod.CARD,
        [PaymentLine("7707083893", "0001", Decimal("1272.26"), service="Вывоз ТКО")],
    )
    options = CreateOptions(new_idempotency_key(), "https://service.example/return")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # the simulator speaks plain HTTP
    with sandbox.AcquirerSimulator(seed=5) as sim:
        gateway = sandbox.SandboxGateway.for_simulator(sim, timeout=10)
        try:
            created = gateway.create_payment(payment, options)
            assert gateway.get_payment(created.gateway_payment_id).state is PaymentState.PENDING
        finally:
            gateway.close()
        where = sim.base_url.removeprefix("http://")
        assert proxy.saw(f"POST {where}/v1/payments")
        # the proxy is really on the path: with a dead one named, the same call fails
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_dead_port()}")
        gateway = sandbox.SandboxGateway.for_simulator(sim, timeout=5)
        with pytest.raises(GatewayUnavailable):
            gateway.get_payment(created.gateway_payment_id)
        gateway.close()


# -- the gateways' transport on the client ------------------------------------------------


def test_gateway_transport_maps_transport_failures() -> None:
    server = _SilentServer()
    try:
        transport = HttpTransport(server.url, timeout=0.3, gateway="sandbox")
        with pytest.raises(GatewayTimeout, match="no answer within"):
            transport.request("GET", "/v1/payments?order_id=1")
        transport.close()
    finally:
        server.close()
    transport = HttpTransport(f"http://127.0.0.1:{_dead_port()}", timeout=1, gateway="sandbox")
    with pytest.raises(GatewayUnavailable):
        transport.request("GET", "/v1")
    transport.close()
    transport.close()  # closing twice is harmless


def test_gateway_transport_reopens_after_close(plain: str) -> None:
    transport = HttpTransport(plain, timeout=5, gateway="sandbox")
    assert transport.request("GET", "/status/200").status == 200
    transport.close()
    assert transport.request("GET", "/status/200").status == 200  # as the old one did
    transport.close()
