"""Autopay (автоплатёж) in the JSON API for apps (issue 18): ``autopay`` on a payment, the
client's consents and charges, and cancelling one, each scoped to the app's client.

Real parts: the runner's app over loopback HTTP on SQLite and PostgreSQL (``store_url``),
the sandbox acquirer's simulator (it saves the card and sends the webhook), the store's
autopay tables. Charges are planned straight in the store (test_autopay.py drives the
planning and charging itself).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import ACCOUNT, CLIENT, OTHER_APP, Running, accept, basket, press_pay, serve
from pes_sdk_runner.autopay import charge_id_of, customer_key_of
from pes_sdk_runner.store.autopay import Charge, ChargeState, Consent
from pes_sdk_runner.usecases import order_id_of

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


def scoped(r: Running, client: str = "user-1", token: str = CLIENT) -> str:
    return str(r.app.state.api.scoped(token, client))


def app_of(r: Running, token: str = CLIENT) -> str:
    return str(r.app.state.api.app_id(token))


def pay(r: Running, key: str, autopay: dict[str, Any] | None, *lines: tuple[int, str]) -> Any:
    body = basket(r, *(lines or ((0, "1000.00"),)))
    if autopay is not None:
        body["autopay"] = autopay
    return r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": key})


def connect(r: Running, autopay: dict[str, Any] | None = None) -> Consent:
    """user-1 pays partner 0 with autopay and approves it at the acquirer: the consent."""
    accept(r, r.inns[0])
    answer = pay(r, str(uuid.uuid4()), autopay or {"rule": "on_registry", "limit": "5000.00"})
    assert answer.status == 200, answer.body
    press_pay(answer.json["confirmation"]["url"])
    for _ in range(200):
        found = r.store.consents_of(scoped(r))
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError("the consent never came into force")


def plan(r: Running, consent: Consent, period: str, charging: bool = False) -> Charge:
    charge = Charge(
        charge_id_of(consent.consent_id, period),
        consent.consent_id,
        consent.version,
        consent.client_id,
        consent.partner_inn,
        consent.account,
        period,
        Decimal("1530.45"),
        NOW - dt.timedelta(days=3),
        NOW,
    )
    stored, _ = r.store.plan_charge(charge)
    if charging:
        claimed = r.store.claim_charge(stored.charge_id, NOW)
        assert claimed is not None
        return claimed
    return stored


def test_a_payment_with_autopay_saves_the_card_and_brings_the_consent_into_force(
    running: Running,
) -> None:
    r = running
    accept(r, r.inns[0])
    key = str(uuid.uuid4())
    answer = pay(r, key, {"rule": "day_of_month", "day": 10, "limit": "4000.5"})
    assert answer.status == 200, answer.body
    order = order_id_of(app_of(r), key)
    # Kept before the acquirer was asked; the card asked to be saved for this client only.
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    payment_id = answer.json["confirmation"]["url"].rsplit("/", 1)[-1]
    assert sim._payments[payment_id].customer_key == customer_key_of(scoped(r))
    assert r.store.consents_of(scoped(r)) == []
    listed = r.call("GET", "/v1/autopay?client_id=user-1")
    assert listed.status == 200 and listed.json == {"consents": []}
    press_pay(answer.json["confirmation"]["url"])
    for _ in range(200):
        if r.store.saved_method(order) is not None:
            break
        time.sleep(0.05)
    listed = r.call("GET", "/v1/autopay?client_id=user-1")
    [consent] = listed.json["consents"]
    assert consent["partner_inn"] == r.inns[0] and consent["account"] == ACCOUNT
    assert (consent["rule"], consent["day"], consent["limit"]) == ("day_of_month", 10, "4000.50")
    assert consent["status"] == "active" and consent["card"].endswith(
        r.store.saved_method(order).title[-5:]  # type: ignore[union-attr]
    )
    [version] = consent["versions"]
    assert version["text"].startswith("Я даю согласие на автоматическое списание")
    assert "10-го числа каждого месяца" in version["text"]
    assert "не более 4 000,50 руб. в месяц" in version["text"].replace("\u00a0", " ")
    assert "method_id" not in str(consent) and "customer_key" not in str(consent)
    # Another app's client of the same id sees nothing of it.
    theirs = r.call("GET", "/v1/autopay?client_id=user-1", token=OTHER_APP)
    assert theirs.status == 200 and theirs.json == {"consents": []}


@pytest.mark.parametrize(
    ("autopay", "field", "code"),
    [
        ({"rule": "on_registry", "limit": "0"}, "autopay.limit", "invalid"),
        ({"rule": "on_registry", "limit": "-5"}, "autopay.limit", "invalid"),
        ({"rule": "on_registry", "limit": "10.001"}, "autopay.limit", "invalid"),
        ({"rule": "on_registry", "limit": "999999999999"}, "autopay.limit", "amount-too-large"),
        ({"rule": "day_of_month", "limit": "5000"}, "autopay.day", "invalid"),
        ({"rule": "day_of_month", "day": 29, "limit": "5000"}, "autopay.day", "invalid"),
        ({"rule": "on_registry", "day": 3, "limit": "5000"}, "autopay.day", "invalid"),
        (
            {"rule": "on_registry", "limit": "5000", "partner_inn": "7700000000", "account": "1"},
            "autopay.account",
            "invalid",
        ),
    ],
)
def test_bad_terms_are_refused_before_anything_is_booked(
    running: Running, autopay: dict[str, Any], field: str, code: str
) -> None:
    r = running
    accept(r, r.inns[0])
    key = str(uuid.uuid4())
    answer = pay(r, key, autopay)
    assert answer.status == 422, answer.body
    assert (answer.json["error"], answer.json["field"]) == (code, field)
    assert r.store.get(order_id_of(app_of(r), key)) is None


def test_a_basket_of_several_accounts_names_the_autopays_account(running: Running) -> None:
    r = running
    accept(r, r.inns[0])
    accept(r, r.inns[1])
    terms: dict[str, Any] = {"rule": "on_registry", "limit": "5000"}
    several = pay(r, str(uuid.uuid4()), terms, (0, "100.00"), (1, "200.00"))
    assert several.status == 422 and several.json["field"] == "autopay.account"
    named = {**terms, "partner_inn": r.inns[1], "account": ACCOUNT}
    answer = pay(r, str(uuid.uuid4()), named, (0, "100.00"), (1, "200.00"))
    assert answer.status == 200, answer.body
    press_pay(answer.json["confirmation"]["url"])
    for _ in range(200):
        if r.store.consents_of(scoped(r)):
            break
        time.sleep(0.05)
    [consent] = r.store.consents_of(scoped(r))
    assert (consent.partner_inn, consent.account) == (r.inns[1], ACCOUNT)


def test_no_autopay_where_the_gateway_cannot_save_a_card(running: Running) -> None:
    r = running
    # The sandbox with its recurring capability taken away: no real acquirer here lacks it.
    r.gateway.capabilities = attrs.evolve(r.gateway.capabilities, recurring=False)
    accept(r, r.inns[0])
    key = str(uuid.uuid4())
    answer = pay(r, key, {"rule": "on_registry", "limit": "5000"})
    assert answer.status == 422
    assert (answer.json["error"], answer.json["field"]) == ("autopay-unavailable", "autopay")
    assert r.store.get(order_id_of(app_of(r), key)) is None


def test_charges_and_cancelling_with_a_noticed_and_a_running_charge(running: Running) -> None:
    r = running
    consent = connect(r)
    cid = str(consent.consent_id)
    noticed = plan(r, consent, "2026-12")
    running_charge = plan(r, consent, "2026-11", charging=True)
    charges = r.call("GET", "/v1/autopay/charges?client_id=user-1")
    assert charges.status == 200
    states = {c["charge_id"]: c["state"] for c in charges.json["charges"]}
    assert states == {str(noticed.charge_id): "noticed", str(running_charge.charge_id): "charging"}
    assert {c["amount"] for c in charges.json["charges"]} == {"1530.45"}
    # Another app's client, or another client of this app, cannot cancel it.
    path = f"/v1/autopay/{cid}/cancel?client_id=user-1"
    assert r.call("POST", path, token=OTHER_APP).status == 404
    other = r.call("POST", f"/v1/autopay/{cid}/cancel?client_id=user-2")
    assert other.status == 404 and other.json["error"] == "not-found"
    assert r.store.consent(consent.consent_id).active  # type: ignore[union-attr]
    done = r.call("POST", path)
    assert done.status == 200, done.body
    body = done.json
    assert body["consent"]["status"] == "cancelled"
    assert [v["status"] for v in body["consent"]["versions"]] == ["active", "cancelled"]
    assert [c["charge_id"] for c in body["stopped"]] == [str(noticed.charge_id)]
    assert body["stopped"][0]["state"] == "cancelled"
    assert [c["charge_id"] for c in body["in_progress"]] == [str(running_charge.charge_id)]
    stopped = r.store.charge(noticed.charge_id)
    assert stopped is not None and stopped.state is ChargeState.CANCELLED
    # the card is gone at the acquirer too (the sandbox can unbind; nothing else uses it)
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    assert sim is not None and sim.method_status(consent.method.method_id) != "active"
    # A repeat answers the same consent, with nothing more stopped.
    again = r.call("POST", path).json
    assert again["consent"]["status"] == "cancelled" and again["stopped"] == []
    listed = r.call("GET", "/v1/autopay?client_id=user-1").json
    assert [c["status"] for c in listed["consents"]] == ["cancelled"]


def test_bad_requests_answer_in_the_apis_shape(running: Running) -> None:
    r = running
    assert r.call("GET", "/v1/autopay?client_id=user-1", token=None).status == 401
    assert r.call("GET", "/v1/autopay").json["field"] == "client_id"
    typo = r.call("GET", "/v1/autopay/charges?client=user-1")
    assert typo.status == 422 and typo.json["field"] == "client"
    for consent in ("not-a-uuid", str(uuid.uuid4())):
        gone = r.call("POST", f"/v1/autopay/{consent}/cancel?client_id=user-1")
        assert gone.status == 404 and gone.json["field"] == "consent_id"
