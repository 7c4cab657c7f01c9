"""The HTTP API over real HTTP on loopback: uvicorn in a thread, a SQLite store, the sandbox.

The end-to-end test walks a client's day: find services, tick them, pay a basket, the
sandbox's client presses "pay", the sandbox's signed webhook reaches the app, and the
payment is succeeded and credited once in the ledger.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from api_harness import (
    ACCOUNT,
    ENV,
    HOUSE,
    OPERATOR,
    Answer,
    Running,
    accept,
    basket,
    press_pay,
    serve,
)
from pes_sdk_runner.api import (
    OPERATIONS,
    ServerStartError,
    make_server,
    mask_account,
    serve_in_thread,
)
from pes_sdk_runner.config import example_config_path, load_runner_config
from pes_sdk_runner.store.base import LedgerKind

from pes_sdk.gateways.signing import signature_header


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    # Two of the three partners, one with two services: the services lookup must tell
    # them apart.
    with serve(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path,
        {0: ["Содержание", "Отопление"], 2: ["Отопление"]},
    ) as running:
        yield running


def _basket(r: Running, client: str = "user-1") -> dict[str, Any]:
    return basket(r, (0, "1500.50"), (2, "100.00"), client=client)


def test_a_basket_is_found_accepted_paid_confirmed_by_webhook_and_credited_once(
    running: Running,
) -> None:
    r = running
    found = r.call("GET", f"/v1/services?house={HOUSE}&premises=" + urllib.parse.quote("12а"))
    assert found.status == 200, found.body
    services = found.json["services"]
    assert {(s["partner_inn"], s["service"]) for s in services} == {
        (r.inns[0], "Содержание"),
        (r.inns[0], "Отопление"),
        (r.inns[2], "Отопление"),
    }
    assert all(s["due"] == "1500.50" and s["premises"] for s in services)
    by_account = r.call("GET", f"/v1/services?partner={r.inns[2]}&account={ACCOUNT}")
    assert [s["service"] for s in by_account.json["services"]] == ["Отопление"]

    # Paying before the tick is refused, naming the line.
    early = r.call("POST", "/v1/payments", _basket(r), headers={"Idempotency-Key": "k-0"})
    assert early.status == 422 and early.json["error"] == "not-accepted"
    assert early.json["field"] == "lines[0]"

    first = accept(r, r.inns[0], "Отопление")
    assert first.status == 200
    assert first.json["acceptance"]["client_id"] == "user-1"
    again = accept(r, r.inns[0], "Отопление")
    assert again.json == first.json  # idempotent: the first tick is kept
    assert accept(r, r.inns[2], "Отопление").status == 200

    key = {"Idempotency-Key": str(uuid.uuid4())}
    paid = r.call("POST", "/v1/payments", _basket(r), headers=key)
    assert paid.status == 200, paid.body
    view = paid.json
    assert view["state"] == "pending"
    assert view["lines"][0]["house_id"] == HOUSE  # filled from the accepted service
    assert Decimal(view["total"]) >= Decimal("1600.50")
    retry = r.call("POST", "/v1/payments", _basket(r), headers=key)
    assert retry.status == 200 and retry.json["order_id"] == view["order_id"]
    other = _basket(r)
    other["lines"][1]["amount"] = "1.00"
    reused = r.call("POST", "/v1/payments", other, headers=key)
    assert reused.status == 409 and reused.json["field"] == "Idempotency-Key"

    press_pay(view["confirmation"]["url"])
    status = view
    for _ in range(1000):  # the webhook arrives on its own; no polling of the acquirer
        status = r.call("GET", f"/v1/payments/{view['order_id']}").json
        if status["state"] == "succeeded":
            break
        time.sleep(0.01)
    assert status["state"] == "succeeded"
    credits = [e for e in r.store.ledger_entries() if e.kind is LedgerKind.CREDIT]
    assert sorted(e.amount for e in credits) == [Decimal("100.00"), Decimal("1500.50")]
    refreshed = r.call("GET", f"/v1/payments/{view['order_id']}?refresh=true")
    assert refreshed.json["state"] == "succeeded"
    assert len([e for e in r.store.ledger_entries() if e.kind is LedgerKind.CREDIT]) == 2

    metrics = r.call("GET", "/metrics", token=None).body.decode()
    assert "pes_payments_created_total 1" in metrics
    assert "pes_payments_confirmed_total 1" in metrics
    assert 'pes_webhooks_total{result="accepted"}' in metrics
    assert 'route="/v1/payments",status="200"' in metrics
    gone = r.call("GET", f"/v1/payments/{uuid.uuid4()}")
    assert gone.status == 404


def test_auth_wants_the_right_token_for_each_side(running: Running) -> None:
    r = running
    path = f"/v1/services?partner={r.inns[0]}&account={ACCOUNT}"
    assert r.call("GET", path, token=None).status == 401
    wrong = r.call("GET", path, token="x" * 30)
    assert wrong.status == 401 and wrong.json["error"] == "unauthorized"
    assert "Bearer" in wrong.headers["www-authenticate"]
    assert r.call("GET", path, token=OPERATOR).status == 403
    assert r.call("GET", "/v1/operator/registries").status == 403
    assert r.call("GET", "/v1/operator/registries", token=None).status == 401
    assert r.call("GET", "/v1/operator/deliveries", token=OPERATOR).json == {"deliveries": []}


def test_bad_bodies_are_422_naming_the_field(running: Running) -> None:
    r = running
    key = {"Idempotency-Key": "k-1"}
    extra = _accept_body(r) | {"name": "Иванов"}
    bad = r.call("POST", "/v1/acceptances", extra)
    assert bad.status == 422 and bad.json["field"] == "name"
    missing = {k: v for k, v in _accept_body(r).items() if k != "account"}
    assert r.call("POST", "/v1/acceptances", missing).json["field"] == "account"
    basket = _basket(r)
    basket["lines"][1]["amount"] = 12.5  # a JSON number with a fraction: a float, refused
    answer = r.call("POST", "/v1/payments", basket, headers=key)
    assert answer.status == 422 and answer.json["field"] == "lines[1].amount"
    basket["lines"][1]["amount"] = "12.555"
    assert r.call("POST", "/v1/payments", basket, headers=key).json["field"] == "lines[1].amount"
    no_key = r.call("POST", "/v1/payments", _basket(r))
    assert no_key.status == 422 and no_key.json["field"] == "Idempotency-Key"
    junk = r.call("POST", "/v1/acceptances", raw=b"{not json")
    assert junk.status == 422 and junk.json["error"] == "invalid-json"
    house = r.call("GET", "/v1/services?house=nope&premises=1")
    assert house.status == 422 and house.json["field"] == "house"
    # Found by schemathesis: a partner that is no ИНН used to answer 200 with no services.
    partner = r.call("GET", "/v1/services?partner=%C3%97&account=1")
    assert partner.status == 422 and partner.json["field"] == "partner"
    account = r.call("GET", f"/v1/services?partner={r.inns[0]}&account=a%3Bb")
    assert account.status == 422 and account.json["field"] == "account"
    listing = r.call("GET", "/v1/operator/registries?partner=12", token=OPERATOR)
    assert listing.status == 422 and listing.json["field"] == "partner"
    unknown = r.call("POST", "/v1/acceptances", _accept_body(r) | {"account": "999"})
    assert unknown.status == 404
    status = r.call("GET", "/v1/operator/deliveries?status=lost", token=OPERATOR)
    assert status.status == 422 and status.json["field"] == "status"
    for answer in (bad, junk, unknown, status):
        assert set(answer.json) == {"error", "message", "field"}
        assert b"Traceback" not in answer.body


def _accept_body(r: Running) -> dict[str, str]:
    return {"client_id": "u", "partner_inn": r.inns[0], "account": ACCOUNT, "service": ""}


def _signed(body: bytes, at: float) -> dict[str, str]:
    # Signed as the sandbox signs (its default secret): authentic, whatever it says.
    stamp = int(at)
    return {
        "X-Sandbox-Timestamp": str(stamp),
        "X-Sandbox-Signature": signature_header(b"sandbox-secret", stamp, body),
    }


def test_webhooks_are_checked_by_the_gateway(running: Running) -> None:
    r = running
    path = r.config.http.webhook_path
    order = str(uuid.uuid4())
    snapshot = {
        "id": "sbp_unknown",
        "order_id": order,
        "status": "succeeded",
        "amount": "10.00",
        "refunded": "0.00",
        "method": "card",
        "confirmation": {"type": "redirect", "url": "http://127.0.0.1:1/pay/sbp_unknown"},
    }
    body = json.dumps({"event_id": "e1", "type": "payment.succeeded", "payment": snapshot})
    raw = body.encode()
    unsigned = r.call("POST", path, token=None, raw=raw)
    assert unsigned.status == 400 and unsigned.json["error"].startswith("webhook-")
    forged = r.call("POST", path, token=None, raw=raw, headers=_signed(raw + b" ", time.time()))
    assert forged.status == 400 and forged.json["error"] == "webhook-signature"
    stale = r.call("POST", path, token=None, raw=raw, headers=_signed(raw, time.time() - 3600))
    assert stale.status == 400 and stale.json["error"] == "webhook-stale"
    unknown = r.call("POST", path, token=None, raw=raw, headers=_signed(raw, time.time()))
    assert unknown.status == 404 and unknown.json["error"] == "webhook-unknown-payment"
    metrics = r.call("GET", "/metrics").body.decode()
    assert 'pes_webhooks_total{result="accepted"}' not in metrics
    assert 'pes_webhooks_total{result="unknown-payment"} 1' in metrics
    assert r.store.ledger_entries() == []


def test_operators_see_registries_and_deliveries(running: Running) -> None:
    r = running
    inn = r.inns[0]
    reg = r.store.record_payment_registry(
        inn,
        dt.date(2026, 11, 27),
        count=1,
        amount=Decimal("10.00"),
        fee=Decimal("0.14"),
        transfer=Decimal("9.86"),
    )
    r.store.open_delivery(reg.id, "outbox", "/tmp/out")
    answer = r.call("GET", f"/v1/operator/registries?partner={inn}", token=OPERATOR)
    assert answer.status == 200
    body = answer.json
    assert [d["partner_inn"] for d in body["debt_registries"]] == [inn]
    [view] = body["payment_registries"]
    assert view["registry"]["number"] == 1 and view["registry"]["transfer"] == "9.86"
    assert [d["status"] for d in view["deliveries"]] == ["pending"]
    pending = r.call("GET", "/v1/operator/deliveries?status=pending", token=OPERATOR)
    assert len(pending.json["deliveries"]) == 1


def test_health_and_openapi_cover_every_route(running: Running) -> None:
    r = running
    health = r.call("GET", "/healthz", token=None)
    assert health.status == 200 and health.json["status"] == "ok"
    assert health.json["scheduler_last_pass"] is None  # no scheduler pass yet
    # serve hands the app's metrics to its scheduler; each pass sets this gauge.
    r.app.state.api.metrics.set("pes_daemon_last_pass_timestamp_seconds", 1_795_000_000.0)
    health = r.call("GET", "/healthz", token=None)
    assert health.json["scheduler_last_pass"] == "2026-11-18T11:06:40+00:00"
    doc = r.call("GET", "/openapi.json", token=None).json
    assert doc["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    # a route's convertor ({account:path}) is not part of the document's template
    served = {
        (method, re.sub(r":\w+\}", "}", route.path))
        for route in r.app.routes
        for method in route.methods - {"HEAD"}
    }
    assert documented == served
    assert len(OPERATIONS) == len(served)
    line = doc["components"]["schemas"]["BasketLine"]
    assert line["required"] == ["partner_inn", "account", "amount"]
    assert line["additionalProperties"] is False
    assert r.call("GET", "/nowhere", token=None).json["error"] == "not-found"
    r.store.close()  # the store goes away: unhealthy, said as JSON
    down = r.call("GET", "/healthz", token=None)
    assert down.status == 503 and down.json["error"] == "store-unreachable"


def test_logs_carry_no_personal_data(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    r = running
    caplog.set_level("INFO", logger="pes_sdk_runner.api")
    accept(r, r.inns[0], "Отопление", client="Иванов Иван")
    r.call("GET", f"/v1/services?partner={r.inns[0]}&account={ACCOUNT}")
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert mask_account(ACCOUNT) in text
    assert ACCOUNT not in text and "Иванов" not in text and "12А" not in text
    assert all(json.loads(rec.getMessage())["event"] for rec in caplog.records)
    # uvicorn's access log would write the raw query (?account=...): the server has it off.
    assert make_server(r.app, r.config).config.access_log is False


def test_concurrent_retries_with_one_key_make_one_payment(running: Running) -> None:
    r = running
    accept(r, r.inns[0], "Отопление")
    accept(r, r.inns[2], "Отопление")
    key = {"Idempotency-Key": "same-key"}
    answers: list[Answer] = []

    def send() -> None:
        answers.append(r.call("POST", "/v1/payments", _basket(r), headers=key))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status for a in answers] == [200] * 6
    assert len({a.json["order_id"] for a in answers}) == 1
    assert len(list(r.store)) == 1
    metrics = r.call("GET", "/metrics").body.decode()
    assert "pes_payments_created_total 1" in metrics


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    # The smallest ASGI app: serve_in_thread serves any, not only the runner's.
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_serve_in_thread_serves_for_the_block_and_frees_the_port(tmp_path: Path) -> None:
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    with serve_in_thread(_hello, config) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "/", timeout=10) as answer:
            assert answer.read() == b"hello"
        threads = {t.name for t in threading.enumerate()}
        assert f"uvicorn {base}" in threads
    port = int(base.rsplit(":", 1)[1])
    # Stopped and joined: no thread left, and nothing listens on the port any more.
    assert f"uvicorn {base}" not in {t.name for t in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_serve_in_thread_says_so_when_the_server_cannot_start(tmp_path: Path) -> None:
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    # A datagram socket: uvicorn's thread dies at start-up, and the wait ends with it.
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    with (
        pytest.raises(ServerStartError, match="stopped while starting"),
        serve_in_thread(_hello, config, udp, start_timeout=60),
    ):
        pytest.fail("the block ran without a server")
    assert udp.fileno() == -1  # closed, as a given socket is on every way out


def test_the_listening_socket_hands_tcp_nodelay_to_its_connections() -> None:
    # Without it each answer's body waited ~40 ms for Nagle and the client's delayed ACK:
    # asyncio sets TCP_NODELAY itself only on sockets that say IPPROTO_TCP.
    from pes_sdk_runner.api import listen

    with listen() as server:
        assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with socket.create_connection(server.getsockname()[:2]):
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
