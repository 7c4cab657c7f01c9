"""The simulator is as strict as ATOL's v5 document: raw requests, not through the register,
so that what it refuses is seen whatever the register would have sent."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_atol import wire
from pes_sdk_atol.samples import COMPANY, basket
from pes_sdk_atol.simulator import GROUP_CODE, LOGIN, PASSWORD, AtolSimulator

from pes_sdk.http import HttpClient, HttpResponse

SELL = f"/possystem/v5/{GROUP_CODE}/sell"


@pytest.fixture
def http(simulator: AtolSimulator) -> Iterator[HttpClient]:
    with HttpClient(simulator.endpoint, timeout=5) as client:
        yield client


def token(http: HttpClient) -> str:
    answer = http.send("POST", "/possystem/v5/getToken", json={"login": LOGIN, "pass": PASSWORD})
    assert answer.status == 200
    value = answer.json()["token"]
    assert isinstance(value, str)
    return value


def document() -> dict[str, Any]:
    made = wire.receipt_document(
        basket(), external_id="raw-1", company=COMPANY, timestamp="07.12.2026 10:15:00"
    )
    # the body as JSON values (Decimals for amounts), to be spoiled by each case
    parsed = wire.parse_json(wire.encode(made))
    assert isinstance(parsed, dict)
    return parsed


def post(http: HttpClient, body: dict[str, Any], tok: str | None) -> HttpResponse:
    # amounts marked "@…@" by amounts() lose their quotes: bare JSON numbers, written as
    # given (a third decimal included), which wire.encode would not let through
    raw = json.dumps(body, ensure_ascii=False, default=str).replace('"@', "").replace('@"', "")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if tok is not None:
        headers["Token"] = tok
    return http.send("POST", SELL, content=raw.encode(), headers=headers)


def amounts(value: Any) -> Any:
    """Decimals marked to be written as bare numbers by :func:`post`."""
    if isinstance(value, dict):
        return {k: amounts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [amounts(v) for v in value]
    if isinstance(value, Decimal):
        return f"@{value}@"
    return value


def spoiled(change: Any) -> dict[str, Any]:
    body = copy.deepcopy(document())
    change(body)
    return amounts(body)  # type: ignore[no-any-return]


def test_a_good_body_is_taken_and_a_repeat_answers_error_33(http: HttpClient) -> None:
    tok = token(http)
    first = post(http, amounts(document()), tok)
    assert first.status == 200 and first.json()["status"] == "wait"
    again = post(http, amounts(document()), tok)
    assert again.status == 400
    assert (again.json()["error"]["code"], again.json()["uuid"]) == (33, first.json()["uuid"])


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body["receipt"]["items"]
    assert isinstance(items, list)
    return items


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["receipt"].update(total=Decimal("2033.66")), "receipt.total"),
        (
            lambda b: b["receipt"]["payments"][0].update(sum=Decimal("2000.00")),
            "receipt.total",
        ),
        (lambda b: _items(b)[1].update(sum=Decimal("789.00")), "receipt.items[1].sum"),
        (lambda b: _items(b)[0].update(price=Decimal("1234.567")), "receipt.items[0].price"),
        (lambda b: _items(b)[0].update(price="1234.56"), "receipt.items[0].price"),
        (
            lambda b: _items(b)[0].update(payment_object="service"),
            "receipt.items[0].payment_object",
        ),
        (lambda b: _items(b)[0].update(measure="шт"), "receipt.items[0].measure"),
        (lambda b: _items(b)[0]["vat"].update(type="vat18"), "receipt.items[0].vat.type"),
        (lambda b: _items(b)[0].pop("supplier_info"), "receipt.items[0].supplier_info"),
        (lambda b: _items(b)[0]["supplier_info"].pop("inn"), "receipt.items[0].supplier_info.inn"),
        (lambda b: _items(b)[0].pop("agent_info"), "receipt.items[0].agent_info"),
        (
            lambda b: _items(b)[0]["agent_info"].update(type="payment_agent"),
            "receipt.items[0].agent_info.type",
        ),
        (lambda b: b["receipt"].update(client={}), "receipt.client"),
        (lambda b: b["receipt"]["company"].pop("inn"), "receipt.company.inn"),
        (lambda b: b["receipt"]["company"].update(sno="envd"), "receipt.company.sno"),
        (lambda b: b.update(timestamp="2026-12-07T10:15:00"), "timestamp"),
        (lambda b: b.update(external_id=""), "external_id"),
    ],
)
def test_a_wrong_body_is_refused_with_error_32_naming_the_field(
    http: HttpClient, simulator: AtolSimulator, change: Any, field: str
) -> None:
    answer = post(http, spoiled(change), token(http))
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == 32 and answer.json()["status"] == "fail"
    assert error["text"].endswith(f"Ошибочные поля : {field}")
    assert simulator.documents == {}


def test_tokens_group_and_content_type_are_checked(
    http: HttpClient, simulator: AtolSimulator
) -> None:
    body = amounts(document())
    assert post(http, body, None).json()["error"]["code"] == 10
    assert post(http, body, "not-a-token").status == 401
    tok = token(http)
    simulator.expire_tokens()
    assert post(http, body, tok).json()["error"]["code"] == 11
    tok = token(http)
    other = http.send(
        "POST",
        "/possystem/v5/other-group_1/sell",
        content=b"{}",
        headers={"Content-Type": "application/json", "Token": tok},
    )
    assert other.json()["error"]["code"] == 20
    plain = http.send(
        "POST", SELL, content=b"{}", headers={"Content-Type": "text/plain", "Token": tok}
    )
    assert (plain.status, plain.json()["error"]["code"]) == (415, 41)
    wrong = http.send("POST", "/possystem/v5/getToken", json={"login": LOGIN, "pass": "x"})
    assert (wrong.status, wrong.json()["error"]["code"]) == (401, 12)
    assert simulator.documents == {}
