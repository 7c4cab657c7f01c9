"""The cabinet over the JSON API (mobile apps): login by phone through the real sandbox
SMS outbox, session tokens on the client endpoints scoped to the cabinet's accounts, and
the /v1/me endpoints; on SQLite and PostgreSQL. The rules themselves (limits, expiry) are
tested without HTTP in test_cabinet.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import ACCOUNT, CLIENT, HOUSE, OPERATOR, Running, accept, basket, serve
from pes_sdk_runner.config import AdapterSettings, CabinetConfig, RunnerConfig

PHONE = "+79161234567"


def with_cabinet(tmp_path: Path, **changes: Any) -> Any:
    def change(config: RunnerConfig) -> RunnerConfig:
        sms = AdapterSettings({"path": str(tmp_path / "outbox" / "sms.jsonl")})
        cabinet = CabinetConfig("c" * 32, sms=sms, **changes)
        return attrs.evolve(config, cabinet=cabinet)

    return change


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path, change=with_cabinet(tmp_path)) as r:
        yield r


def sms(r: Running) -> list[dict[str, Any]]:
    path = Path(r.config.cabinet.sms.settings["path"])  # type: ignore[union-attr]
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def login(r: Running, phone: str = PHONE) -> str:
    started = r.call("POST", "/v1/login", {"phone": phone}, token=None)
    assert started.status == 202, started.json
    code = re.search(r"\d{6}", sms(r)[-1]["text"])
    assert code is not None
    body = {"attempt": started.json["attempt"], "code": code.group(0)}
    confirmed = r.call("POST", "/v1/login/confirm", body, token=None)
    assert confirmed.status == 200, confirmed.json
    return str(confirmed.json["token"])


def link(r: Running, token: str, inn: str, premises: str = "кв. 12а", due: str = "3001.00") -> Any:
    body = {"partner_inn": inn, "account": ACCOUNT, "premises": premises, "amount_due": due}
    return r.call("POST", "/v1/me/accounts", body, token=token)


def test_login_by_phone_through_the_sms_outbox(running: Running) -> None:
    r = running
    started = r.call("POST", "/v1/login", {"phone": "8 (916) 123-45-67"}, token=None)
    assert started.status == 202
    assert set(started.json) == {"attempt", "expires_at"}
    (message,) = sms(r)
    assert message["to"] == PHONE
    assert re.fullmatch(r"Код для входа: \d{6}\. Никому не сообщайте его\.", message["text"])
    wrong = r.call(
        "POST", "/v1/login/confirm", {"attempt": started.json["attempt"], "code": "x"}, token=None
    )
    assert (wrong.status, wrong.json["error"]) == (422, "code-refused")
    token = login(r)
    me = r.call("GET", "/v1/me/accounts", token=token)
    assert (me.status, me.json) == (200, {"accounts": []})
    bad = r.call("POST", "/v1/login", {"phone": "+375 29 123 45 67"}, token=None)
    assert (bad.status, bad.json["error"], bad.json["field"]) == (422, "invalid-phone", "phone")


def test_known_and_unknown_phones_get_the_same_answer_and_limits_say_when(
    running: Running,
) -> None:
    r = running
    login(r)  # PHONE has a cabinet now
    known = r.call("POST", "/v1/login", {"phone": PHONE}, token=None)
    unknown = r.call("POST", "/v1/login", {"phone": "+79160000000"}, token=None)
    assert known.status == unknown.status == 202
    assert set(known.json) == set(unknown.json)
    assert len(known.json["attempt"]) == len(unknown.json["attempt"])
    assert known.headers.get("content-length") == unknown.headers.get("content-length")
    r.call("POST", "/v1/login", {"phone": PHONE}, token=None)  # the third in ten minutes
    limited = r.call("POST", "/v1/login", {"phone": PHONE}, token=None)
    assert (limited.status, limited.json["error"]) == (429, "too-many-requests")
    assert 0 < int(limited.headers["retry-after"]) <= 600


def test_a_session_acts_for_its_cabinet_on_the_client_endpoints(running: Running) -> None:
    r = running
    token = login(r)
    # Nothing is linked: nothing at the address, on the account, or to tick.
    at = r.call("GET", f"/v1/services?house={HOUSE}&premises=12%D0%90", token=token)
    assert (at.status, at.json["error"]) == (404, "not-found")
    on = r.call("GET", f"/v1/services?partner={r.inns[0]}&account={ACCOUNT}", token=token)
    assert on.status == 404
    body = {"partner_inn": r.inns[0], "account": ACCOUNT}
    assert r.call("POST", "/v1/acceptances", body, token=token).status == 404
    refused = link(r, token, r.inns[0], premises="13")
    missing = r.call(
        "POST",
        "/v1/me/accounts",
        {"partner_inn": r.inns[0], "account": "999999", "premises": "12а", "amount_due": "3001.00"},
        token=token,
    )
    assert refused.status == missing.status == 422
    assert refused.json == missing.json and refused.json["error"] == "link-refused"
    linked = link(r, token, r.inns[0])
    assert linked.status == 201, linked.json
    assert r.call("GET", "/v1/me/accounts", token=token).json["accounts"][0]["account"] == ACCOUNT
    at = r.call("GET", f"/v1/services?house={HOUSE}&premises=12%D0%90", token=token)
    assert at.status == 200
    # Every partner's services at the address, not only the linked partner's.
    assert {s["partner_inn"] for s in at.json["services"]} == set(r.inns)
    # No client_id: the session names the client.
    accepted = r.call("POST", "/v1/acceptances", {"partner_inn": r.inns[1], "account": ACCOUNT},
                      token=token)  # fmt: skip
    assert accepted.status == 200, accepted.json
    basket = {
        "return_url": "https://cabinet.example/paid",
        "lines": [{"partner_inn": r.inns[1], "account": ACCOUNT, "service": "Отопление",
                   "amount": "100.00"}],
    }  # fmt: skip
    paid = r.call("POST", "/v1/payments", basket, token=token, headers={"Idempotency-Key": "k1"})
    assert paid.status == 200, paid.json
    order = paid.json["order_id"]
    assert r.call("GET", f"/v1/payments/{order}", token=token).status == 200
    # Another cabinet, the app, and nobody do not see it.
    other = login(r, "+79160000000")
    assert r.call("GET", f"/v1/payments/{order}", token=other).status == 404
    assert r.call("GET", f"/v1/payments/{order}", token=CLIENT).status == 404
    # Ticked at the address but not linked: its readings are not this cabinet's to see.
    readings = f"/v1/readings?partner={r.inns[1]}&account={ACCOUNT}"
    assert r.call("GET", readings, token=token).status == 404
    assert r.call("GET", readings, token=other).status == 404
    # A session token is no operator's, and an app token no cabinet's.
    assert r.call("GET", "/v1/operator/deliveries", token=token).status == 401
    assert r.call("GET", "/v1/me/accounts", token=CLIENT).status == 403
    assert r.call("GET", "/v1/me/accounts", token=OPERATOR).status == 403
    # The app's own clients are as before.
    app = r.call("POST", "/v1/acceptances", {"partner_inn": r.inns[1], "account": ACCOUNT},
                 token=CLIENT)  # fmt: skip
    assert (app.status, app.json["field"]) == (422, "client_id")


def test_an_account_linked_through_the_api_is_ticked_and_paid_without_a_tick(
    running: Running,
) -> None:
    # Linking proves the account is the client's, through the API as through the pages:
    # an app's client pays the account it just linked without a separate acceptance.
    r = running
    token = login(r)
    assert link(r, token, r.inns[0]).status == 201
    basket = {
        "return_url": "https://cabinet.example/paid",
        "lines": [{"partner_inn": r.inns[0], "account": ACCOUNT, "service": service,
                   "amount": "100.00"} for service in ("Отопление", "Электроэнергия")],
    }  # fmt: skip
    paid = r.call("POST", "/v1/payments", basket, token=token, headers={"Idempotency-Key": "k1"})
    assert paid.status == 200, paid.json
    readings = f"/v1/readings?partner={r.inns[0]}&account={ACCOUNT}"
    assert r.call("GET", readings, token=token).status == 200
    # Only the linked account is ticked: another partner's at the address is not.
    other = {**basket, "lines": [{**basket["lines"][0], "partner_inn": r.inns[1]}]}
    refused = r.call("POST", "/v1/payments", other, token=token, headers={"Idempotency-Key": "k2"})
    assert (refused.status, refused.json["error"]) == (422, "not-accepted")


def _reading(inn: str, value: str, day: str) -> dict[str, Any]:
    reading = {"account": ACCOUNT, "meter_number": "Э-0042", "meter_type": 2, "values": [value],
               "taken_on": day, "service": "Электроэнергия"}  # fmt: skip
    return {"partner_inn": inn, "reading": reading}


def test_readings_are_seen_and_sent_only_on_linked_accounts(running: Running) -> None:
    # An account's readings are its history: every cabinet that linked the account (a
    # family sharing a flat) sees every reading on it, none naming who sent it. A cabinet
    # that only ticked a service found at its address has not proved the account its own:
    # it neither reads the history nor sends a reading (whose refusal quotes the last).
    r = running
    first = login(r)
    assert link(r, first, r.inns[0]).status == 201
    sent = r.call("POST", "/v1/readings", _reading(r.inns[0], "1200", "2026-11-20"), token=first)
    assert sent.status == 200, sent.json
    second = login(r, "+79160000000")
    assert link(r, second, r.inns[0]).status == 201
    mine = f"/v1/readings?partner={r.inns[0]}&account={ACCOUNT}"
    seen = r.call("GET", mine, token=second)
    assert seen.status == 200
    (shown,) = seen.json["readings"]
    assert shown["reading"]["values"] == ["1200"]
    assert not {"client_id", "client"} & set(shown)
    # The first cabinet ticks another partner's service at its address: payable, yet its
    # account's readings stay closed to it, as listing and as sending.
    tick = {"partner_inn": r.inns[1], "account": ACCOUNT, "service": "Отопление"}
    assert r.call("POST", "/v1/acceptances", tick, token=first).status == 200
    theirs = f"/v1/readings?partner={r.inns[1]}&account={ACCOUNT}"
    listed = r.call("GET", theirs, token=first)
    assert (listed.status, listed.json["field"]) == (404, "account")
    refused = r.call("POST", "/v1/readings", _reading(r.inns[1], "1", "2026-11-20"), token=first)
    assert (refused.status, refused.json["field"]) == (404, "reading.account")
    assert r.store.readings(r.inns[1], ACCOUNT) == []
    # An app is trusted with the accounts its clients accepted: it sees the history too.
    assert accept(r, r.inns[0]).status == 200
    app = r.call("GET", f"{mine}&client_id=user-1")
    assert [x["reading"]["values"] for x in app.json["readings"]] == [["1200"]]


def test_payments_are_read_by_their_owner_only(running: Running) -> None:
    # A trusted app reads the payments it made (any of its clients'), a cabinet only its
    # own: the other side's order ids answer 404 exactly as unknown ones do.
    r = running
    assert accept(r, r.inns[0]).status == 200
    app = r.call("POST", "/v1/payments", basket(r, (0, "10.00")), headers={"Idempotency-Key": "a"})
    assert app.status == 200, app.json
    token = login(r)
    assert link(r, token, r.inns[0]).status == 201
    body = {**basket(r, (0, "20.00")), "client_id": ""}
    mine = r.call("POST", "/v1/payments", body, token=token, headers={"Idempotency-Key": "a"})
    assert mine.status == 200, mine.json
    assert mine.json["order_id"] != app.json["order_id"]  # one key, two owners: two orders
    unknown = r.call("GET", "/v1/payments/" + "0" * 32, token=token)
    for order, reader in ((app, token), (mine, CLIENT)):
        seen = r.call("GET", f"/v1/payments/{order.json['order_id']}", token=reader)
        assert (seen.status, seen.json) == (404, unknown.json)
    for order, reader in ((app, CLIENT), (mine, token)):
        assert r.call("GET", f"/v1/payments/{order.json['order_id']}", token=reader).status == 200


def test_unlink_logout_and_delete(running: Running) -> None:
    r = running
    token = login(r)
    assert link(r, token, r.inns[0]).status == 201
    path = f"/v1/me/accounts/{r.inns[0]}/{ACCOUNT}"
    assert r.call("DELETE", path, token=token).status == 204
    assert r.call("DELETE", path, token=token).status == 404
    assert r.call("POST", "/v1/logout", token=token).status == 204
    assert r.call("GET", "/v1/me/accounts", token=token).status == 401
    assert r.call("POST", "/v1/logout", token=token).status == 401
    token = login(r)
    assert r.store.cabinet_by_phone(PHONE) is not None
    assert r.call("DELETE", "/v1/me", token=token).status == 204
    assert r.store.cabinet_by_phone(PHONE) is None
    assert r.call("GET", "/v1/me/accounts", token=token).status == 401


def test_without_a_cabinet_the_login_endpoints_say_so(store_url: str, tmp_path: Path) -> None:
    with serve(store_url, tmp_path) as r:
        answer = r.call("POST", "/v1/login", {"phone": PHONE}, token=None)
        assert (answer.status, answer.json["error"]) == (404, "cabinet-disabled")
        assert r.call("GET", "/v1/me/accounts", token=CLIENT).status == 404
        # A token unknown to a runner without cabinets is just unknown.
        assert r.call("GET", "/v1/payments/" + "0" * 32, token="x" * 43).status == 401
