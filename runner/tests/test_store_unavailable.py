"""The store's database away: a typed error in bounded time, a 503 from the API, no 500.

A PostgreSQL server that accepts the TCP connection and never answers (a host half-dead
in a failover, a black-holed address) must not hang a connect: the store's connections
have a connect timeout (``pes_sdk_runner.store.dialect.CONNECT_TIMEOUT`` unless the URL
sets ``connect_timeout``), and the failure is :class:`StoreUnavailable`. A session the
server dropped (a restart, ``pg_terminate_backend``) fails the call that meets it with the
same error, which the API answers ``503 store-unreachable`` with ``Retry-After``; the next
call reconnects. The whole restart under a paying fleet is test_failover.py.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from api_harness import accept, basket, serve
from cabinet_web import WebClient, serve_cabinet
from pes_sdk_runner.store import SqlStore, StoreUnavailable, open_store
from pes_sdk_runner.store import dialect as dialect_module

#: How long a connect may take before the test calls it hung (the timeouts tried are 2 s).
GUARD = 60.0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on loopback where connections are accepted and never answered: not a double
    of PostgreSQL, the part of a dead server that makes a client wait."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def hold() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # kept open, never written to

    thread = threading.Thread(target=hold, name="silent-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            conn.close()


def _outcome(url: str) -> BaseException | None:
    """What opening a store at ``url`` raised (None: it opened); fails if it hangs."""
    got: list[BaseException | None] = []

    def attempt() -> None:
        try:
            open_store(url).close()
        except BaseException as exc:
            got.append(exc)
        else:
            got.append(None)

    thread = threading.Thread(target=attempt, daemon=True)  # left behind if it hangs
    thread.start()
    thread.join(GUARD)
    assert got, f"opening {url} still waits after {GUARD} s: no connect timeout"
    return got[0]


def test_a_connect_to_a_server_that_never_answers_fails_with_the_typed_error(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default timeout (the URL sets none), made short for the test.
    monkeypatch.setattr(dialect_module, "CONNECT_TIMEOUT", 2)
    got = _outcome(f"postgresql://postgres@127.0.0.1:{silent_server}/test")
    assert isinstance(got, StoreUnavailable), repr(got)
    assert f"port {silent_server}" in str(got) or "timeout" in str(got), str(got)


def test_the_urls_own_connect_timeout_is_kept(silent_server: int) -> None:
    got = _outcome(f"postgresql://postgres@127.0.0.1:{silent_server}/test?connect_timeout=2")
    assert isinstance(got, StoreUnavailable), repr(got)


def test_a_refused_connection_is_the_typed_error_too() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    got = _outcome(f"postgresql://postgres@127.0.0.1:{port}/test")  # nothing listens now
    assert isinstance(got, StoreUnavailable), repr(got)


def test_a_dropped_session_is_a_503_to_retry_and_the_next_call_reconnects(
    pg_url: str, tmp_path: Path
) -> None:
    with serve(pg_url, tmp_path) as r:
        inn = r.inns[0]
        assert accept(r, inn, "Отопление").status == 200
        body = basket(r, (0, "100.00"))
        key = {"Idempotency-Key": "dropped-session-1"}
        _drop_session(pg_url, r.store)
        answer = r.call("POST", "/v1/payments", body, headers=key)
        assert answer.status == 503, answer.body
        assert answer.json["error"] == "store-unreachable", answer.json
        assert int(answer.headers["retry-after"]) > 0
        # The retry, same key: the store reconnected, the payment is made once.
        again = r.call("POST", "/v1/payments", body, headers=key)
        assert again.status == 200, again.body
        assert r.call("POST", "/v1/payments", body, headers=key).json == again.json
        assert r.call("GET", "/healthz").status == 200


def _drop_session(url: str, store: SqlStore) -> None:
    """End the store's session from another one, as a server restart or failover does."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))


def test_a_dropped_session_fails_the_call_that_meets_it_with_the_typed_error(
    pg_url: str,
) -> None:
    store = open_store(pg_url)
    try:
        ttl = dt.timedelta(seconds=30)
        # A write: its BEGIN is the first statement to meet the ended session.
        _drop_session(pg_url, store)
        with pytest.raises(StoreUnavailable):
            store.take_lease("failover", "me", ttl)
        assert store.take_lease("failover", "me", ttl).owner == "me"  # reconnected
        # A read.
        _drop_session(pg_url, store)
        with pytest.raises(StoreUnavailable):
            store.lease("failover")
        lease = store.lease("failover")
        assert lease is not None and lease.owner == "me"
    finally:
        store.close()


def test_a_cabinet_page_that_meets_a_dropped_session_is_a_503_page(
    pg_url: str, tmp_path: Path
) -> None:
    with serve_cabinet(pg_url, tmp_path) as r:
        c = WebClient(r.base)
        c.login(r)
        assert c.get("/cabinet/accounts").status == 200
        _drop_session(pg_url, r.store)
        page = c.get("/cabinet/accounts")  # the session's look-up meets it
        assert page.status == 503, page.text[:500]
        assert "Сервис временно недоступен" in page.text
        assert int(page.headers["retry-after"]) > 0
        assert c.get("/cabinet/accounts").status == 200
