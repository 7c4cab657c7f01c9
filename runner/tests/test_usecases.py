"""The client's use cases called directly, with no HTTP: a real SQLite store file, the
example configuration (a partner-paid ``percent`` plan and a client-paid ``subscription``
one) and the sandbox acquirer, as ``pes runner serve`` would have them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from pes_sdk_runner.api import Metrics, processor_for
from pes_sdk_runner.config import example_config_path, load_runner_config
from pes_sdk_runner.store import open_store
from pes_sdk_runner.usecases import (
    AmountTooLarge,
    BasketLine,
    ClientUseCases,
    Conflict,
    NotAccepted,
    NotFound,
    Refused,
    check_reading,
    order_id_of,
)

from pes_sdk.gateways.models import PaymentState
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentMethod
from pes_sdk.models.readings import MeterReading
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
ACCOUNT = "1234567890"
CLIENT = "app-1:user-1"
OWNER = "app-1"
RETURN = "https://cabinet.example/paid"
ENV = {
    "PES_CLIENT_TOKENS": "client-token-0123456789abcdef",
    "PES_OPERATOR_TOKENS": "operator-token-0123456789abcdef",
}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


@attrs.frozen
class World:
    uc: ClientUseCases
    metrics: Metrics
    inns: list[str]  # the example's partners: УК (percent), Водоканал (subscription), …


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    host = get_host()
    config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    store.upsert_partners(p.partner for p in config.partners)
    inns = [p.inn for p in config.partners]
    for inn in inns[:2]:
        records = [
            DebtRecord(ACCOUNT, HOUSE, Premises("кв. 12А"), Decimal("1500.50"), service=s)
            for s in ("Отопление", "Электроэнергия")
        ]
        store.ingest_debt_registry(inn, Period(2026, 11), 1, records, sha256=f"sha-{inn}")
    gateway = host.gateways()["sandbox"].create({})
    metrics = Metrics()
    use = ClientUseCases(
        store,
        config,
        host,
        processor_for(gateway, store),
        log=logging.getLogger("pes_sdk_runner.test.usecases"),
        counters=metrics,
    )
    try:
        yield World(use, metrics, inns)
    finally:
        gateway.close()
        store.close()


def line(inn: str, amount: str, service: str = "Отопление") -> BasketLine:
    return BasketLine(inn, ACCOUNT, Decimal(amount), service)


# -- services and acceptances -------------------------------------------------------------------


def test_services_are_found_by_address_and_by_account(world: World) -> None:
    uk, water = world.inns[:2]
    at = world.uc.services_at(HOUSE.upper(), "12а")  # the GUID in any case, premises as typed
    assert sorted((s.partner_inn, s.service) for s in at) == sorted(
        (inn, s) for inn in (uk, water) for s in ("Отопление", "Электроэнергия")
    )
    assert all(s.due == Decimal("1500.50") for s in at)
    on = world.uc.services_on(water, ACCOUNT)
    assert {(s.partner_inn, s.account) for s in on} == {(water, ACCOUNT)}
    assert world.uc.services_on(water, "999") == []
    assert world.uc.services_at(HOUSE, "13") == []


def test_accepting_records_the_tick_with_the_address_once(world: World) -> None:
    uk = world.inns[0]
    first = world.uc.accept(CLIENT, uk, ACCOUNT, "Отопление")
    assert (first.client_id, first.partner_inn, first.account, first.service) == (
        CLIENT,
        uk,
        ACCOUNT,
        "Отопление",
    )
    assert first.house_id == HOUSE
    assert world.uc.accept(CLIENT, uk, ACCOUNT, "Отопление") == first
    assert world.uc.accepted(CLIENT, uk, ACCOUNT, "Отопление") == first
    assert world.uc.accepted(CLIENT, uk, ACCOUNT, "Электроэнергия") is None
    assert world.uc.accepted("app-1:user-2", uk, ACCOUNT) is None  # another client's key


def test_a_basket_view_reads_each_thing_once_and_prices_without_the_store(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    uk, water = world.inns[:2]
    world.uc.accept(CLIENT, uk, ACCOUNT)
    store = world.uc.store
    view = world.uc.basket_view(CLIENT, [(uk, ACCOUNT), (water, "999")], (uk, ACCOUNT))
    # The same answers as the look-ups one at a time.
    assert view.services == {
        (uk, ACCOUNT): store.find_by_account(uk, ACCOUNT),
        (water, "999"): [],
    }
    assert list(view.nearby) == store.find_services(HOUSE, "кв. 12А")
    assert store.find_services_at([(HOUSE.upper(), "12а"), (HOUSE, "кв. 12А")]) == list(view.nearby)
    assert store.find_services_at([]) == [] and store.find_by_accounts([]) == {}
    assert view.accepts(uk, ACCOUNT, "Отопление") and not view.accepts(water, ACCOUNT)
    assert view.partners == world.uc.partners()
    assert view.address is None  # no house directory loaded
    lines = [line(uk, "100.00"), line(uk, "50.00", "Электроэнергия")]
    expected = world.uc.price(CLIENT, lines)

    def no_read(*args: object) -> object:
        raise AssertionError("the view had it")

    for name in ("acceptances", "partners", "find_by_account", "find_by_accounts"):
        monkeypatch.setattr(store, name, no_read)
    assert world.uc.price(CLIENT, lines, view) == expected
    with pytest.raises(NotAccepted):
        world.uc.price(CLIENT, [line(water, "100.00")], view)


def test_accepting_what_no_registry_has_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as caught:
        world.uc.accept(CLIENT, world.inns[0], ACCOUNT, "Газ")
    assert (caught.value.code, caught.value.field) == ("not-found", "account")
    with pytest.raises(NotFound):
        world.uc.accept(CLIENT, world.inns[2], ACCOUNT)  # a partner with no registry


# -- pricing ------------------------------------------------------------------------------------


def test_a_basket_is_priced_by_each_partners_plan_to_the_kopeck(world: World) -> None:
    uk, water = world.inns[:2]
    world.uc.accept(CLIENT, uk, ACCOUNT)  # the whole account
    world.uc.accept(CLIENT, water, ACCOUNT, "Отопление")
    priced = world.uc.price(
        CLIENT, [line(uk, "1234.56"), line(water, "1234.56"), line(water, "1000.50")]
    )
    # The УК's plan is partner-paid (percent): no fee for the client. Водоканал's is
    # client-paid (subscription, 1%): 12.3456 and 10.005 round half-up to the kopeck.
    assert [ln.client_fee for ln in priced] == [
        Decimal("0.00"),
        Decimal("12.35"),
        Decimal("10.01"),
    ]
    assert [ln.amount for ln in priced] == [
        Decimal("1234.56"),
        Decimal("1234.56"),
        Decimal("1000.50"),
    ]
    assert sum(ln.amount + ln.client_fee for ln in priced) == Decimal("3491.98")
    assert all(ln.house_id == HOUSE and ln.period is None for ln in priced)


def test_a_service_not_accepted_is_refused_naming_its_line(world: World) -> None:
    uk, water = world.inns[:2]
    world.uc.accept(CLIENT, uk, ACCOUNT, "Отопление")
    with pytest.raises(NotAccepted) as caught:
        world.uc.price(CLIENT, [line(uk, "10"), line(uk, "10", "Электроэнергия")])
    assert (caught.value.code, caught.value.field) == ("not-accepted", "lines[1]")
    with pytest.raises(NotAccepted):  # another client's tick is not this one's
        world.uc.price("app-1:user-2", [line(uk, "10")])
    assert water  # accepted by no one: refused the same way
    with pytest.raises(NotAccepted):
        world.uc.price(CLIENT, [line(water, "10")])


def test_amounts_above_the_limits_are_refused_before_any_service_is_looked_at(
    world: World,
) -> None:
    uk = world.inns[0]
    limits = world.uc.config.http
    above_line = str(limits.max_line_amount + Decimal("0.01"))
    with pytest.raises(AmountTooLarge) as caught:
        world.uc.price(CLIENT, [line(uk, "10"), line(uk, above_line)])  # nothing accepted
    assert (caught.value.code, caught.value.field) == ("amount-too-large", "lines[1].amount")
    n = int(limits.max_basket_amount // limits.max_line_amount) + 1
    with pytest.raises(AmountTooLarge) as caught:
        world.uc.price(CLIENT, [line(uk, str(limits.max_line_amount))] * n)
    assert caught.value.field == "lines"


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([line("5003012349", "0")], "lines[0].amount"),
        ([line("5003012349", "1.001")], "lines[0].amount"),
        ([line("5003012349", "-5")], "lines[0].amount"),
    ],
)
def test_a_malformed_basket_is_refused_as_invalid(
    world: World, lines: list[BasketLine], field: str
) -> None:
    with pytest.raises(Refused) as caught:
        world.uc.price(CLIENT, lines)
    assert (type(caught.value), caught.value.code, caught.value.field) == (
        Refused,
        "invalid",
        field,
    )


# -- payments -----------------------------------------------------------------------------------


def test_paying_twice_with_a_key_gives_the_same_payment(world: World) -> None:
    uk, water = world.inns[:2]
    world.uc.accept(CLIENT, uk, ACCOUNT)
    world.uc.accept(CLIENT, water, ACCOUNT)
    basket = [line(uk, "100.00"), line(water, "200.00")]
    first = world.uc.pay(CLIENT, basket, owner=OWNER, key="k-1", return_url=RETURN)
    assert first.order_id == order_id_of(OWNER, "k-1")
    assert first.state is PaymentState.PENDING
    assert first.confirmation is not None
    assert first.payment.total == Decimal("302.00")  # 100 + 200 + Водоканал's 1%
    again = world.uc.pay(CLIENT, basket, owner=OWNER, key="k-1", return_url=RETURN)
    assert again.order_id == first.order_id
    assert again.payment == first.payment
    assert again.gateway_payment_id == first.gateway_payment_id
    assert world.metrics.value("pes_payments_created_total") == 1
    # Another owner's key of the same name is another payment.
    other = world.uc.pay(CLIENT, basket, owner="app-2", key="k-1", return_url=RETURN)
    assert other.order_id != first.order_id
    assert world.metrics.value("pes_payments_created_total") == 2


def test_another_basket_under_a_used_key_is_a_conflict(world: World) -> None:
    uk = world.inns[0]
    world.uc.accept(CLIENT, uk, ACCOUNT)
    world.uc.pay(CLIENT, [line(uk, "100.00")], owner=OWNER, key="k-1", return_url=RETURN)
    with pytest.raises(Conflict) as caught:
        world.uc.pay(CLIENT, [line(uk, "100.01")], owner=OWNER, key="k-1", return_url=RETURN)
    assert (caught.value.code, caught.value.field) == ("idempotency-key-reused", "Idempotency-Key")
    with pytest.raises(Conflict):
        world.uc.pay(
            CLIENT,
            [line(uk, "100.00")],
            owner=OWNER,
            key="k-1",
            return_url=RETURN,
            method=PaymentMethod.SBP,
        )
    assert world.metrics.value("pes_payments_created_total") == 1


def test_a_refused_basket_books_no_payment(world: World) -> None:
    uk = world.inns[0]
    with pytest.raises(NotAccepted):
        world.uc.pay(CLIENT, [line(uk, "100.00")], owner=OWNER, key="k-1", return_url=RETURN)
    assert world.uc.store.get(order_id_of(OWNER, "k-1")) is None
    with pytest.raises(NotFound):
        world.uc.payment(order_id_of(OWNER, "k-1"), OWNER)


def test_a_payment_is_read_by_its_owner_only(world: World) -> None:
    uk = world.inns[0]
    world.uc.accept(CLIENT, uk, ACCOUNT)
    made = world.uc.pay(CLIENT, [line(uk, "100.00")], owner=OWNER, key="k-1", return_url=RETURN)
    assert world.uc.payment(made.order_id, OWNER).payment == made.payment
    assert world.uc.payment(made.order_id, OWNER, refresh=True).state is PaymentState.PENDING
    with pytest.raises(NotFound) as caught:
        world.uc.payment(made.order_id, "app-2")
    assert (caught.value.code, caught.value.field) == ("not-found", "order_id")


# -- meter readings -----------------------------------------------------------------------------


def reading(value: str, taken_on: dt.date, **change: object) -> MeterReading:
    base = MeterReading(ACCOUNT, "M-1", 2, (Decimal(value),), taken_on)
    return attrs.evolve(base, **change)


def test_readings_are_recorded_on_an_accepted_account_and_listed(world: World) -> None:
    water = world.inns[1]
    today = dt.datetime.now(dt.UTC).date()
    with pytest.raises(NotAccepted) as caught:
        world.uc.record_reading(CLIENT, water, reading("100", today))
    assert caught.value.field == "reading.account"
    with pytest.raises(NotAccepted):
        world.uc.readings(CLIENT, water, ACCOUNT)
    world.uc.accept(CLIENT, water, ACCOUNT)
    week_ago = today - dt.timedelta(days=7)
    first = world.uc.record_reading(CLIENT, water, reading("100", week_ago), photo=JPEG)
    assert first.new
    assert first.reading.house_id == HOUSE  # from the acceptance
    assert first.reading.photo is not None
    assert first.reading.photo.media_type == "image/jpeg"
    assert not world.uc.record_reading(CLIENT, water, reading("100", week_ago), photo=JPEG).new
    world.uc.record_reading(CLIENT, water, reading("150.5", today))
    listed = world.uc.readings(CLIENT, water, ACCOUNT)
    assert [r.reading.values for r in listed] == [(Decimal("150.5"),), (Decimal("100"),)]


def test_a_reading_below_the_previous_is_refused_unless_told_why(world: World) -> None:
    water = world.inns[1]
    world.uc.accept(CLIENT, water, ACCOUNT)
    today = dt.datetime.now(dt.UTC).date()
    world.uc.record_reading(CLIENT, water, reading("100", today - dt.timedelta(days=3)))
    with pytest.raises(Refused) as caught:
        world.uc.record_reading(CLIENT, water, reading("90", today))
    assert (caught.value.code, caught.value.field) == ("value-decreased", "reading.values[0]")


def test_a_reading_no_meter_gives_is_refused(world: World) -> None:
    water = world.inns[1]
    world.uc.accept(CLIENT, water, ACCOUNT)
    today = dt.datetime.now(dt.UTC).date()
    cases: list[tuple[MeterReading, bytes | None, str]] = [
        (reading("1", today + dt.timedelta(days=2)), None, "reading.taken_on"),
        (reading("1", today - dt.timedelta(days=4 * 366)), None, "reading.taken_on"),
        (reading("1.1234567", today), None, "reading.values[0]"),
        (reading("1", today), b"GIF89a", "photo"),
    ]
    for bad, photo, field in cases:
        with pytest.raises(Refused) as caught:
            world.uc.record_reading(CLIENT, water, bad, photo=photo)
        assert (caught.value.code, caught.value.field) == ("invalid", field)
    with pytest.raises(Refused) as caught:
        check_reading(reading("1", today + dt.timedelta(days=1)), today - dt.timedelta(days=1))
    assert caught.value.field == "reading.taken_on"
    with pytest.raises(Refused) as caught:
        world.uc.record_reading(CLIENT, world.inns[0][:-1] + "0", reading("1", today))
    assert caught.value.field == "partner_inn"
    assert world.uc.store.readings(water, ACCOUNT) == []
