"""OrderDate is the service's date of the payment, never the host's (issue 11).

A time without a zone in a registry is a wall time of the service's zone; a time with one
is dated in the service's zone (``service.time_zone`` of PARTNERS.toml, Europe/Moscow by
default). The tests switch the process's own zone (``TZ``) to show it changes nothing, and
``make test`` runs them again on hosts east and west of Moscow.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest
from pes_sdk_conformance.billing import payment_registry
from pes_sdk_gis_zhkh import (
    CancellationNotice,
    GisClient,
    GisDeliveryChannel,
    ItemStatus,
    PaymentNotice,
    order_date_of,
    order_id,
)

from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod, PaymentRegistry
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.operations import resolve_format
from pes_sdk.plugins import PluginHost

pytestmark = pytest.mark.timezone

HOSTS = ["UTC", "Asia/Yekaterinburg", "America/New_York", "Pacific/Kiritimati"]
#: the case of the issue: reported as 2026-01-01 on a UTC host
NEW_YEAR_EVE = dt.datetime(2025, 12, 31, 23, 45)


def _oid(record):
    return order_id(record.operation_id, record.account, record.service)


def _registry(tmp_path, records, name="payments.csv"):
    fmt = resolve_format("pes-payments", PluginHost(disabled=()))
    header = RegistryHeader(kind=RegistryKind.PAYMENTS, date=dt.date(2025, 12, 31), number=1)
    path = tmp_path / name
    fmt.write(path, header, records)
    return path


def _notify(run, registry, config):
    return run("gis", "notify", str(registry), "--format", "pes-payments", "--config", str(config))


@pytest.mark.parametrize("host", HOSTS)
def test_a_time_without_a_zone_keeps_its_date_on_any_host(
    tmp_path, sim, env, run, host_zone, make_records, host
):
    host_zone(host)
    record = attrs.evolve(make_records(1)[0], paid_at=NEW_YEAR_EVE)
    result = _notify(run, _registry(tmp_path, [record]), env)

    assert result.exit_code == 0, result.output
    assert sim.order_dates == {_oid(record): dt.date(2025, 12, 31)}


def test_the_same_order_gets_the_same_date_on_every_host(
    tmp_path, sim, env, run, host_zone, make_records
):
    records = [attrs.evolve(r, paid_at=NEW_YEAR_EVE) for r in make_records(2)]
    registry = _registry(tmp_path, records)
    for host in HOSTS:
        host_zone(host)
        assert _notify(run, registry, env).exit_code == 0
    # each later run was a known order with the same date and amount: nothing conflicts
    assert sim.date_failures == []
    assert set(sim.received_order_ids.values()) == {len(HOSTS)}
    assert set(sim.accepted_order_ids.values()) == {1}


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (None, dt.date(2025, 12, 31)),  # Europe/Moscow by default: 23:30 on the 31st
        ("Asia/Yekaterinburg", dt.date(2026, 1, 1)),  # 01:30 on the 1st in Perm
        ("Europe/Kaliningrad", dt.date(2025, 12, 31)),  # 22:30 on the 31st
    ],
)
@pytest.mark.parametrize("host", ["UTC", "America/New_York"])
def test_a_time_with_a_zone_is_dated_in_the_service_zone(
    make_env, make_config, signer, sim, host_zone, zone, day, host
):
    host_zone(host)
    gis_toml = make_env(time_zone=zone)
    base = payment_registry("5003012349", 1, records=1)
    paid = dt.datetime(2025, 12, 31, 20, 30, tzinfo=dt.UTC)
    record = attrs.evolve(base.records[0], paid_at=paid)
    registry = PaymentRegistry(base.partner_inn, base.date, base.number, (record,), base.totals)
    config = make_config(partners_file=gis_toml.parent / "PARTNERS.toml")
    channel = GisDeliveryChannel(GisClient(config, signer=signer))
    try:
        channel.deliver_payments(registry)
    finally:
        channel.close()
    assert sim.order_dates == {_oid(record): day}


@pytest.mark.parametrize("host", HOSTS)
def test_order_date_of_reads_no_host_zone(host_zone, host):
    host_zone(host)
    assert order_date_of(NEW_YEAR_EVE) == dt.date(2025, 12, 31)
    assert order_date_of(NEW_YEAR_EVE, ZoneInfo("Asia/Kamchatka")) == dt.date(2025, 12, 31)
    moment = dt.datetime(2025, 12, 31, 21, 15, tzinfo=dt.UTC)
    assert order_date_of(moment) == dt.date(2026, 1, 1)  # 00:15 in Moscow
    assert order_date_of(moment, ZoneInfo("Europe/Kaliningrad")) == dt.date(2025, 12, 31)


@pytest.mark.parametrize("host", ["UTC", "America/New_York"])
def test_a_basket_is_dated_in_the_service_zone(host_zone, host):
    host_zone(host)
    line = PaymentLine(partner_inn="5003012349", account="0012345", amount=Decimal("10.00"))
    payment = Payment(
        payment_id=uuid.UUID(int=7),
        created_at=dt.datetime(2025, 12, 31, 20, 30, tzinfo=dt.UTC),
        method=PaymentMethod.CARD,
        lines=[line],
    )
    (moscow,) = PaymentNotice.from_payment(payment, {})
    (perm,) = PaymentNotice.from_payment(payment, {}, time_zone=ZoneInfo("Asia/Yekaterinburg"))
    assert (moscow.order_date, perm.order_date) == (dt.date(2025, 12, 31), dt.date(2026, 1, 1))


def test_the_simulator_checks_dates(client, sim, make_records, recipient):
    """A date after the message's own, a changed date, a cancellation before its order."""
    records = make_records(2)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    future = attrs.evolve(PaymentNotice.from_record(records[0], recipient), order_date=tomorrow)
    good = PaymentNotice.from_record(records[1], recipient)
    assert client.notify([future, good]).ok
    assert len(sim.date_failures) == 1 and "is after the message's date" in sim.date_failures[0]

    moved = attrs.evolve(good, order_date=good.order_date - dt.timedelta(days=1))
    report = client.notify([moved])
    assert report.count(ItemStatus.ALREADY_REPORTED) == 1
    assert "reported again with OrderDate" in sim.date_failures[1]

    early = good.order_date - dt.timedelta(days=3)
    client.cancel([CancellationNotice(order_id=good.order_id, cancelled_on=early)])
    assert "before its OrderDate" in sim.date_failures[2]
    sim.date_failures.clear()  # seen: the fixture expects none left
