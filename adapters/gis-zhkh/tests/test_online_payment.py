"""``OnlinePayment`` says what the record's channel says (issue 11).

The schema fixes ``OnlinePayment`` to ``true`` and lets it be left out
(``xs:boolean fixed="true" minOccurs="0"``, признак онлайн-оплаты): an online payment
carries it, any other leaves it out. It used to be sent for every notice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs
import pytest
from pes_sdk_gis_zhkh import GisClient, NotificationForm, PaymentNotice, is_online, order_id

from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.operations import resolve_format
from pes_sdk.plugins import PluginHost

#: channel → online? (the kit's gateway methods, an app or cabinet, Sber's online bank;
#: a terminal, a branch, or a channel nobody named are not)
CHANNELS = {
    "sbp": True,
    "card": True,
    "SberPay": True,
    "app": True,
    "Кабинет": True,
    "СБОЛ": True,
    "terminal": False,
    "9038/01234": False,
    "касса": False,
    "": False,
}
SHORT_TAGS = (
    ("GIS_SERVICE_ID", "1234567890123"),
    ("GIS_SERVICE_GUID", "0f0e2b8e-3c3a-4f57-8d1e-5b7c6a2e9d01"),
)


def _records(make_records, tags=()):
    base = make_records(len(CHANNELS), tags=tags)
    return [attrs.evolve(r, channel=c) for r, c in zip(base, CHANNELS, strict=True)]


def _expected(records):
    return {order_id(r.operation_id, r.account, r.service): CHANNELS[r.channel] for r in records}


def test_full_form_flags_only_online_payments(client, sim, make_records, recipient):
    records = _records(make_records)
    assert client.notify(PaymentNotice.from_record(r, recipient) for r in records).ok
    assert sim.order_online == _expected(records)


def test_short_form_flags_only_online_payments(make_config, signer, sim, make_records):
    records = _records(make_records, SHORT_TAGS)
    with GisClient(make_config(form=NotificationForm.SHORT), signer=signer) as client:
        assert client.notify(PaymentNotice.from_record(r) for r in records).ok
    assert sim.order_online == _expected(records)


def test_a_basket_paid_through_the_gateway_is_online():
    line = PaymentLine(partner_inn="5003012349", account="0012345", amount=Decimal("10.00"))
    payment = Payment(uuid.UUID(int=1), dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC),
                      PaymentMethod.SBP, [line])  # fmt: skip
    assert [n.online for n in PaymentNotice.from_payment(payment, {})] == [True]


@pytest.mark.parametrize(("channel", "online"), CHANNELS.items())
def test_is_online(channel, online):
    assert is_online(channel) is online


def test_gis_toml_names_the_online_channels(tmp_path, sim, make_env, run, make_records):
    config = make_env(extra='online_channels = ["терминал-онлайн", "SBP"]')
    records = [
        attrs.evolve(r, channel=c)
        for r, c in zip(make_records(3), ["терминал-онлайн", "sbp", "app"], strict=True)
    ]
    fmt = resolve_format("pes-payments", PluginHost(disabled=()))
    path = tmp_path / "payments.csv"
    fmt.write(path, RegistryHeader(kind=RegistryKind.PAYMENTS, date=dt.date(2026, 11, 2)), records)
    result = run("gis", "notify", str(path), "--format", "pes-payments", "--config", str(config))
    assert result.exit_code == 0, result.output
    online = [sim.order_online[order_id(r.operation_id, r.account, r.service)] for r in records]
    assert online == [True, True, False]
