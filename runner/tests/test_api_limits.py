"""Bad input gets a 4xx and nothing unbounded is read: the API over real HTTP on loopback.

Issue 13 ("API: bad input gets a 4xx"): every endpoint's body is bounded while it streams
in (declared, chunked, and the anonymous webhook before its signature is checked); the
inputs that were 500s (deep JSON, a lone surrogate, a 23-digit amount, a NUL) are 422s on
both stores; amounts follow the documented syntax and configured bounds; texts are bounded,
``return_url`` is http(s), a reading's date is in a window; a 500 is logged as JSON lines.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import select
import socket
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import ACCOUNT, CLIENT, HOUSE, OPERATOR, Running, accept, basket, serve
from pes_sdk_runner.api.app import MAX_BODY_BYTES, MAX_READING_AGE_DAYS, MAX_WEBHOOK_BODY
from pes_sdk_runner.config import RunnerConfig

from pes_sdk.gateways.signing import signature_header


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


@pytest.fixture
def on_sqlite(tmp_path: Path) -> Iterator[Running]:
    # For what no store sees: the request is refused before any write.
    with serve(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as r:
        yield r


def _connect(r: Running) -> socket.socket:
    parts = urllib.parse.urlsplit(r.base)
    return socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)


def _head(path: str, *extra: str, token: str | None = CLIENT) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append("Idempotency-Key: limits")  # payments and refunds check it first
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """The status, headers and JSON body of the answer on ``sock`` (read to its end)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            fields = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:])
            fields = {k.lower(): v for k, v in fields.items()}
            if len(body) >= int(fields.get("content-length", "0")):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def _stream_chunked(r: Running, path: str, token: str | None, most: int) -> tuple[int, Any, int]:
    """POST a chunked body (no Content-Length) of up to ``most`` bytes, one 4 KB chunk at
    a time, until the server answers: its status, body and how much was sent by then."""
    chunk = b"[" * 4096
    sent = 0
    with _connect(r) as sock:
        sock.sendall(_head(path, "Transfer-Encoding: chunked", token=token))
        while sent < most:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer came while the body was still streaming
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            time.sleep(0.001)
        status, _, body = _answer(sock)
    return status, body, sent


# -- body size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "token", "limit"),
    [
        ("/v1/acceptances", CLIENT, MAX_BODY_BYTES),
        ("/v1/payments", CLIENT, MAX_BODY_BYTES),
        ("/v1/operator/payments/5b0e6f4e-2a57-4c52-9f0c-7c1d1e0a9a11/refunds", OPERATOR, 0),
        ("/webhooks/sandbox", None, MAX_WEBHOOK_BODY),
    ],
)
def test_a_body_beyond_the_limit_is_413_declared_or_streamed(
    on_sqlite: Running, path: str, token: str | None, limit: int
) -> None:
    r = on_sqlite
    limit = limit or MAX_BODY_BYTES
    # Declared: refused on the header, before a byte of the body is sent.
    with _connect(r) as sock:
        sock.sendall(_head(path, f"Content-Length: {300 * 1024 * 1024}", token=token))
        status, headers, body = _answer(sock)
    assert (status, body["error"]) == (413, "too-large"), body
    assert headers["connection"] == "close"
    # Chunked, no length: refused once the limit is passed, not after the whole body.
    status, body, sent = _stream_chunked(r, path, token, most=64 * 1024 * 1024)
    assert (status, body["error"]) == (413, "too-large"), body
    assert sent < 16 * 1024 * 1024, sent


def test_the_webhook_limit_is_small_and_comes_before_the_signature(on_sqlite: Running) -> None:
    r = on_sqlite
    path = r.config.http.webhook_path
    body = b'{"padding": "' + b"x" * MAX_WEBHOOK_BODY + b'"}'
    stamp = int(time.time())
    signed = {
        "X-Sandbox-Timestamp": str(stamp),
        "X-Sandbox-Signature": signature_header(b"sandbox-secret", stamp, body),
    }
    for headers in ({}, signed):  # anonymous, and even correctly signed
        answer = r.call("POST", path, raw=body, token=None, headers=headers)
        assert (answer.status, answer.json["error"]) == (413, "too-large"), answer.body
    # The same size is an ordinary body elsewhere (refused for what it says, not its size).
    answer = r.call("POST", "/v1/acceptances", raw=body)
    assert answer.status == 422 and answer.json["error"] != "too-large"
    # A small anonymous one still reaches the signature check.
    small = r.call("POST", path, raw=b"{}", token=None)
    assert small.status in (400, 403) and small.json["error"].startswith("webhook-")


# -- what used to be a 500 -------------------------------------------------------------------


def test_inputs_that_were_500s_are_422s(running: Running) -> None:
    r = running
    assert accept(r, r.inns[0]).status == 200
    acceptance = {"client_id": "user-1", "partner_inn": r.inns[0], "account": ACCOUNT}
    deep = '{"client_id": ' + "[" * 5000 + "]" * 5000 + "}"  # 10 KB: RecursionError once
    for raw in (deep, '{"client_id": ' + "[" * 40 + "]" * 40 + "}"):
        answer = r.call("POST", "/v1/acceptances", raw=raw.encode())
        assert (answer.status, answer.json["error"]) == (422, "invalid-json"), answer.body
        assert "nests deeper" in answer.json["message"]
    # An integer of 5,000 digits (ValueError: Python's int-from-text limit), and NaN.
    for value in ("1" * 5000, "NaN", "-Infinity"):
        raw = json.dumps(acceptance).replace(f'"{ACCOUNT}"', value).encode()
        answer = r.call("POST", "/v1/acceptances", raw=raw)
        assert (answer.status, answer.json["error"]) == (422, "invalid-json"), answer.body
    # A lone surrogate has no UTF-8: no store can write it. A NUL: PostgreSQL cannot.
    for text, name in (('"\\ud800"', "surrogate"), ('"a\\u0000b"', "NUL")):
        raw = json.dumps(acceptance).replace('"user-1"', text).encode()
        answer = r.call("POST", "/v1/acceptances", raw=raw)
        assert (answer.status, answer.json["field"]) == (422, "client_id"), (name, answer.body)
        assert name in answer.json["message"] or "surrogate" in answer.json["message"]
    # In a query too (PostgreSQL refused the NUL: a 500), and a query's text is bounded.
    for query, name in (
        (f"/v1/services?house={HOUSE}&premises=12%00", "premises"),
        (f"/v1/readings?client_id=u%00&partner={r.inns[0]}&account={ACCOUNT}", "client_id"),
        (f"/v1/services?house={HOUSE}&premises=" + "1" * 257, "premises"),
    ):
        answer = r.call("GET", query)
        assert (answer.status, answer.json["field"]) == (422, name), answer.body
    # Nothing of either was stored (SQLite took a NUL before).
    assert all("\x00" not in a.client_id for a in r.store.acceptances("user-1"))
    # 23 digits: OverflowError on SQLite, NumericValueOutOfRange on PostgreSQL before.
    key = {"Idempotency-Key": "k-23-digits"}
    answer = r.call("POST", "/v1/payments", basket(r, (0, "1" * 23)), headers=key)
    assert (answer.status, answer.json["error"]) == (422, "amount-too-large"), answer.body
    assert answer.json["field"] == "lines[0].amount"
    answer = r.call("POST", "/v1/payments", basket(r, (0, "1" * 23 + ".00")), headers=key)
    assert answer.status == 422
    # The store still answers, and the key is free for a good basket.
    paid = r.call("POST", "/v1/payments", basket(r, (0, "100.00")), headers=key)
    assert paid.status == 200, paid.body


# -- amounts ---------------------------------------------------------------------------------


def test_amounts_follow_the_documented_syntax(on_sqlite: Running) -> None:
    r = on_sqlite
    assert accept(r, r.inns[0]).status == 200
    for n, bad in enumerate(["1e2", "1E-2", " 1.00", "1.00 ", 10, 10.5, "1.000", "+1", "١٠"]):
        body = basket(r, (0, "1.00"))
        body["lines"][0]["amount"] = bad
        answer = r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": f"s{n}"})
        assert (answer.status, answer.json["field"]) == (422, "lines[0].amount"), (bad, answer)
    for n, good in enumerate(["10", "10.5", "10.50"]):
        answer = r.call(
            "POST", "/v1/payments", basket(r, (0, good)), headers={"Idempotency-Key": f"g{n}"}
        )
        assert answer.status == 200 and Decimal(answer.json["total"]) >= Decimal(good)


def _limits(line: str, total: str) -> Any:
    def change(config: RunnerConfig) -> RunnerConfig:
        http = attrs.evolve(
            config.http, max_line_amount=Decimal(line), max_basket_amount=Decimal(total)
        )
        return attrs.evolve(config, http=http)

    return change


def test_a_line_and_a_basket_have_configured_upper_bounds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with serve(url, tmp_path, change=_limits("1000.00", "1500.00")) as r:
        for i in (0, 1):
            assert accept(r, r.inns[i]).status == 200

        def pay(key: str, *lines: tuple[int, str]) -> Any:
            return r.call(
                "POST", "/v1/payments", basket(r, *lines), headers={"Idempotency-Key": key}
            )

        over = pay("a", (0, "1000.01"))
        assert (over.status, over.json["error"], over.json["field"]) == (
            422,
            "amount-too-large",
            "lines[0].amount",
        )
        assert "http.max_line_amount" in over.json["message"]
        over = pay("b", (0, "1000.00"), (1, "500.01"))
        assert (over.status, over.json["error"], over.json["field"]) == (
            422,
            "amount-too-large",
            "lines",
        )
        assert "http.max_basket_amount" in over.json["message"]
        assert pay("c", (0, "1000.00"), (1, "500.00")).status == 200


def test_refund_amounts_follow_the_syntax_too(on_sqlite: Running) -> None:
    r = on_sqlite
    order = "5b0e6f4e-2a57-4c52-9f0c-7c1d1e0a9a11"
    for bad in ("1e2", 10, "1" * 23 + "1e5"):
        answer = r.call(
            "POST",
            f"/v1/operator/payments/{order}/refunds",
            {"lines": {"0": bad}},
            token=OPERATOR,
            headers={"Idempotency-Key": "r1"},
        )
        assert answer.status == 422 and answer.json["field"] == "lines.0", answer.body


# -- texts, return_url, a reading's date -----------------------------------------------------


def test_texts_are_bounded_and_return_url_is_http(on_sqlite: Running) -> None:
    r = on_sqlite
    acceptance = {"client_id": "u" * 129, "partner_inn": r.inns[0], "account": ACCOUNT}
    answer = r.call("POST", "/v1/acceptances", acceptance)
    assert (answer.status, answer.json["error"], answer.json["field"]) == (
        422,
        "too-long",
        "client_id",
    )
    assert accept(r, r.inns[0], client="u" * 128).status == 200
    # 5 MB of client_id is not read at all: refused on its length, after one packet.
    raw = json.dumps({**acceptance, "client_id": "u" * 5_000_000}).encode()
    with _connect(r) as sock:
        sock.sendall(_head("/v1/acceptances", f"Content-Length: {len(raw)}") + raw[:1024])
        status, _, body = _answer(sock)
    assert (status, body["error"]) == (413, "too-large")
    assert accept(r, r.inns[0]).status == 200
    cases: list[tuple[str, Any, str]] = [
        ("return_url", "javascript:alert(1)", "invalid"),
        ("return_url", "data:text/html,<b>", "invalid"),
        ("return_url", "ftp://cabinet.example/", "invalid"),
        ("return_url", "https:///no-host", "invalid"),
        ("return_url", "https://cabinet.example/" + "p" * 2048, "too-long"),
        ("description", "d" * 129, "too-long"),
    ]
    for n, (name, value, code) in enumerate(cases):
        body = {**basket(r, (0, "10.00")), name: value}
        answer = r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": f"t{n}"})
        assert (answer.status, answer.json["error"], answer.json["field"]) == (422, code, name)
    body = {**basket(r, (0, "10.00")), "return_url": "http://cabinet.example/paid?x=1"}
    assert r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": "ok"}).status == 200


def test_a_reading_is_taken_within_the_window(running: Running) -> None:
    r = running
    accept(r, r.inns[0], "Электроэнергия")
    today = dt.datetime.now(dt.UTC).date()

    def post(taken_on: dt.date, value: str) -> Any:
        reading = {
            "account": ACCOUNT,
            "meter_number": "Э-0042",
            "meter_type": 2,
            "values": [value],
            "taken_on": taken_on.isoformat(),
            "service": "Электроэнергия",
        }
        body = {"client_id": "user-1", "partner_inn": r.inns[0], "reading": reading}
        return r.call("POST", "/v1/readings", body)

    for old in (dt.date(1900, 1, 1), today - dt.timedelta(days=MAX_READING_AGE_DAYS + 1)):
        answer = post(old, "1")
        assert (answer.status, answer.json["field"]) == (422, "reading.taken_on"), answer.body
    oldest = post(today - dt.timedelta(days=MAX_READING_AGE_DAYS), "1")
    assert oldest.status == 200, oldest.body
    assert post(today, "2").status == 200


# -- logs ------------------------------------------------------------------------------------


def test_a_500_is_logged_as_json_lines_at_error(
    on_sqlite: Running, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    r = on_sqlite
    caplog.set_level(logging.INFO, logger="pes_sdk_runner.api")
    capsys.readouterr()
    r.store.close()  # every query now fails inside the app: a real internal error
    answer = r.call("GET", f"/v1/services?house={HOUSE}&premises=12")
    assert (answer.status, answer.json["error"]) == (500, "internal")
    time.sleep(0.2)  # uvicorn logs after the answer is sent
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    uvicorn = [x for x in lines if x["logger"].startswith("uvicorn")]
    assert uvicorn and all(x["level"] == "ERROR" for x in uvicorn), err
    assert all(x["error"] == "ProgrammingError" for x in uvicorn), err
    internal = [rec for rec in caplog.records if '"internal-error"' in rec.getMessage()]
    assert [rec.levelno for rec in internal] == [logging.ERROR]


# -- a payment the acquirer refuses ----------------------------------------------------------


def test_a_payment_the_acquirer_refuses_at_creation_ends_failed(running: Running) -> None:
    r = running
    assert accept(r, r.inns[0]).status == 200
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    sim.switches.refuse_payments_next = 1
    key = {"Idempotency-Key": "refused"}
    refused = r.call("POST", "/v1/payments", basket(r, (0, "100.00")), headers=key)
    assert (refused.status, refused.json["error"]) == (502, "gateway-error"), refused.body
    (entry,) = list(r.store)
    assert entry.state.value == "failed" and entry.gateway_payment_id is None
    shown = r.call("GET", f"/v1/payments/{entry.order_id}")
    assert (shown.status, shown.json["state"]) == (200, "failed")
    # The same key again: the same answer, and the acquirer is not asked again.
    again = r.call("POST", "/v1/payments", basket(r, (0, "100.00")), headers=key)
    assert (again.status, again.json["error"]) == (502, "gateway-error")
    assert sim.report().payments == 0
    # A new key pays.
    paid = r.call(
        "POST", "/v1/payments", basket(r, (0, "100.00")), headers={"Idempotency-Key": "n"}
    )
    assert (paid.status, paid.json["state"]) == (200, "pending")
