"""importMeteringDeviceValues for the SDK's MeterReading."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pes_sdk_gis_zhkh import GisClient, ItemStatus

from pes_sdk.models.readings import MeterReading, MeterType

E_DEV = "11111111-2222-4333-8444-555555555555"
W_DEV = "66666666-7777-4888-8999-000000000000"
DAY = dt.date(2026, 11, 20)


def _reading(number, kind, *values):
    return MeterReading(
        account="0012345", meter_number=number, meter_type=kind, values=values, taken_on=DAY
    )


def test_electric_and_water_readings(client, sim):
    report = client.send_readings(
        [
            _reading("E-1", MeterType.ELECTRICITY_DAY, Decimal("12345.678"), Decimal("7")),
            _reading("W-1", MeterType.COLD_WATER, Decimal("5.5000")),
        ],
        devices={"E-1": E_DEV, "W-1": W_DEV},
    )
    assert report.ok and report.count(ItemStatus.ACCEPTED) == 2
    assert sim.readings == [
        (E_DEV, ("12345.678", "7"), "2026-11-20"),
        (W_DEV, ("5.5",), "2026-11-20"),
    ]


def test_devices_from_configuration(make_config, signer, sim):
    with GisClient(make_config(devices={"E-9": E_DEV}), signer=signer) as client:
        report = client.send_readings([_reading("E-9", MeterType.ELECTRICITY, Decimal(1))])
    assert report.ok


def test_what_cannot_be_sent_is_reported_not_sent(client, sim):
    report = client.send_readings(
        [
            _reading("X-1", MeterType.ELECTRICITY, Decimal(1)),  # no device GUID
            _reading("G-1", MeterType.GAS, Decimal(1)),  # no НСИ-2 resource for gas
            _reading("W-1", MeterType.COLD_WATER, Decimal("1.123456789")),  # > 7 decimals
        ],
        devices={"G-1": E_DEV, "W-1": W_DEV},
    )
    reasons = [i.errors[0].description for i in report.not_sent]
    assert report.count(ItemStatus.NOT_SENT) == 3
    assert "MeteringDeviceRootGUID" in reasons[0]
    assert "GAS" in reasons[1]
    assert "7 decimal" in reasons[2]
    assert sim.calls["importMeteringDeviceValues"] == 0


def test_per_item_refusal(client, sim):
    sim.item_errors[W_DEV] = ("SRV007001", "Показание меньше предыдущего")
    report = client.send_readings(
        [_reading("W-1", MeterType.COLD_WATER, Decimal(3))], devices={"W-1": W_DEV}
    )
    assert report.items[0].status is ItemStatus.REFUSED
    assert report.items[0].errors[0].code == "SRV007001"
    assert sim.readings == []
