"""The ГИС ЖКХ channel passes the billing family of the conformance suite, and more.

The family's checks run against :class:`GisHarness` (the real channel and client, the
simulator on loopback, which validates every request against the official XSDs); the
checks after them are ГИС ЖКХ's own: the asynchronous ``getState`` (5xx, faults, slow and
late answers), per-record refusals, and the mapping of the adapter's errors onto the SDK's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from pes_sdk_conformance.billing import BillingConformance, payment_registry
from pes_sdk_gis_zhkh import order_id
from pes_sdk_gis_zhkh.harness import DEVICES, GisHarness

from pes_sdk.billing import (
    BillingFault,
    BillingProtocolError,
    BillingTimeout,
    BillingUnavailable,
    DeliveryStatus,
    RecordsRefused,
    RecordStatus,
    RejectedReading,
)
from pes_sdk.errors import PesError
from pes_sdk.models.readings import MeterReading, MeterType

IMPORT = "importNotificationsOfOrderExecution"
INN = "7707083893"


class FakeTime:
    """A clock that only moves when the client sleeps: poll deadlines without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _ids(registry) -> list[str]:
    return [order_id(r.operation_id, r.account, r.service) for r in registry.records]


def _clean(harness: GisHarness) -> None:
    # every request the channel sent was valid per the official XSDs and signed
    assert harness.sim.validation_failures == []
    assert harness.sim.signature_failures == []


class TestGisChannel(BillingConformance):
    @pytest.fixture
    def billing_harness(self, package: Path) -> Iterator[GisHarness]:
        with GisHarness(package) as harness:
            yield harness
            _clean(harness)

    # -- ГИС ЖКХ's own: what a delivery reports ------------------------------------------

    def test_receipt_has_one_outcome_per_record(self, billing_harness: GisHarness) -> None:
        registry = payment_registry(INN, 11, records=3)
        receipt = billing_harness.channel.deliver_payments(registry)
        assert [o.index for o in receipt.records] == [0, 1, 2]
        assert [o.key for o in receipt.records] == _ids(registry)
        assert {o.status for o in receipt.records} == {RecordStatus.ACCEPTED}
        assert all(o.reference for o in receipt.records), "ГИС ЖКХ's UniqueNumber is kept"
        assert receipt.refused == ()
        # amounts reach ГИС ЖКХ as kopecks, exactly
        amounts = [billing_harness.sim.order_amounts[i] for i in _ids(registry)]
        assert amounts == [int(r.amount * 100) for r in registry.records]

    def test_a_refused_record_is_a_typed_error_with_the_receipt(
        self, billing_harness: GisHarness
    ) -> None:
        registry = payment_registry(INN, 12, records=3)
        refused_id = _ids(registry)[1]
        billing_harness.sim.item_errors[refused_id] = ("SRV008100", "Неверные реквизиты")
        with pytest.raises(RecordsRefused) as caught:
            billing_harness.channel.deliver_payments(registry)
        error = caught.value
        assert isinstance(error, BillingFault) and isinstance(error, PesError)
        assert error.code == "RECORDS_REFUSED"
        statuses = [o.status for o in error.receipt.records]
        assert statuses == [RecordStatus.ACCEPTED, RecordStatus.REFUSED, RecordStatus.ACCEPTED]
        (refused,) = error.receipt.refused
        assert (refused.index, refused.key, refused.code) == (1, refused_id, "SRV008100")
        assert refused.reason == "Неверные реквизиты"
        assert "record 2" in str(error)
        # the accepted records stand; again, they are known and the refused one still refused
        with pytest.raises(RecordsRefused) as again:
            billing_harness.channel.deliver_payments(registry)
        assert [o.status for o in again.value.receipt.records] == [
            RecordStatus.ALREADY_ACCEPTED,
            RecordStatus.REFUSED,
            RecordStatus.ALREADY_ACCEPTED,
        ]
        assert set(billing_harness.sim.accepted_order_ids.values()) == {1}
        assert refused_id not in billing_harness.sim.accepted_order_ids

    def test_a_record_that_cannot_be_sent_is_refused_unsent(
        self, billing_harness: GisHarness
    ) -> None:
        # another partner: no payee details for the full form
        registry = payment_registry("5003012349", 13, records=2)
        with pytest.raises(RecordsRefused) as caught:
            billing_harness.channel.deliver_payments(registry)
        refused = caught.value.receipt.refused
        assert [o.index for o in refused] == [0, 1]
        assert {o.code for o in refused} == {"PES-INCOMPLETE"}
        assert billing_harness.calls("payments") == 0

    def test_a_record_with_a_malformed_tag_is_refused_not_raised(
        self, billing_harness: GisHarness
    ) -> None:
        registry = payment_registry(INN, 15, records=2)
        bad = attrs.evolve(registry.records[1], tags=(("GIS_SERVICE_ID", "short"),))
        registry = attrs.evolve(registry, records=(registry.records[0], bad))
        with pytest.raises(RecordsRefused) as caught:
            billing_harness.channel.deliver_payments(registry)
        (refused,) = caught.value.receipt.refused
        assert (refused.index, refused.key, refused.code) == (1, bad.operation_id, "PES-INCOMPLETE")
        assert "13 characters" in refused.reason
        assert caught.value.receipt.records[0].status is RecordStatus.ACCEPTED
        assert len(billing_harness.sim.accepted_order_ids) == 1

    def test_a_partly_known_registry_is_accepted_and_says_which(
        self, billing_harness: GisHarness
    ) -> None:
        full = payment_registry(INN, 14, records=3)
        first = payment_registry(INN, 14, records=1)  # an earlier run that stopped midway
        billing_harness.channel.deliver_payments(first)
        receipt = billing_harness.channel.deliver_payments(full)
        assert receipt.status is DeliveryStatus.ACCEPTED
        assert [o.status for o in receipt.records] == [
            RecordStatus.ALREADY_ACCEPTED,
            RecordStatus.ACCEPTED,
            RecordStatus.ACCEPTED,
        ]
        assert set(billing_harness.sim.accepted_order_ids.values()) == {1}

    # -- ГИС ЖКХ's own: getState ---------------------------------------------------------

    @pytest.mark.parametrize("fault", ["unavailable", "transient-fault", "timeout"])
    def test_get_state_faults_are_retried_and_nothing_is_reported_twice(
        self, billing_harness: GisHarness, fault: str
    ) -> None:
        sim = billing_harness.sim
        if fault == "unavailable":
            sim.fail_next("getState", count=2, status=502)
        elif fault == "transient-fault":
            sim.fault_next("getState", code="EXP001000", count=2)
        else:
            sim.slow_next("getState", seconds=3.0, count=2)
        registry = payment_registry(INN, 21)
        receipt = billing_harness.channel.deliver_payments(registry)
        assert receipt.status is DeliveryStatus.ACCEPTED
        assert sim.calls["getState"] == 3
        assert sim.calls[IMPORT] == 1, "a failed poll never resends the message"
        assert billing_harness.accepted_amount(21) == registry.totals.amount
        assert set(sim.accepted_order_ids.values()) == {1}

    @pytest.mark.parametrize(
        ("fault", "error"), [("unavailable", BillingUnavailable), ("timeout", BillingTimeout)]
    )
    def test_get_state_retries_are_bounded(
        self, billing_harness: GisHarness, fault: str, error: type[Exception]
    ) -> None:
        sim = billing_harness.sim
        attempts = billing_harness.max_attempts
        if fault == "unavailable":
            sim.fail_next("getState", count=1000)
        else:
            sim.slow_next("getState", seconds=3.0, count=attempts)
        registry = payment_registry(INN, 22)
        with pytest.raises(error):
            billing_harness.channel.deliver_payments(registry)
        assert sim.calls["getState"] == attempts
        sim.heal()
        # ГИС ЖКХ took the message before the polls failed: delivering again is safe
        again = billing_harness.channel.deliver_payments(registry)
        assert again.status is DeliveryStatus.ALREADY_ACCEPTED
        assert set(sim.accepted_order_ids.values()) == {1}
        assert billing_harness.acceptances() == 1

    def test_slow_get_state_is_polled_through(self, billing_harness: GisHarness) -> None:
        billing_harness.sim.pending_polls = 3  # "received", "processing", "processing"
        receipt = billing_harness.channel.deliver_payments(payment_registry(INN, 23))
        assert receipt.status is DeliveryStatus.ACCEPTED
        assert billing_harness.sim.calls["getState"] == 4

    def test_final_fault_on_get_state_is_typed(self, billing_harness: GisHarness) -> None:
        billing_harness.sim.fault_next("getState", code="AUT011003", message="Доступ запрещён")
        with pytest.raises(BillingFault) as caught:
            billing_harness.channel.deliver_payments(payment_registry(INN, 24))
        assert caught.value.code == "AUT011003"
        assert billing_harness.sim.calls["getState"] == 1

    # -- ГИС ЖКХ's own: readings ---------------------------------------------------------

    def test_readings_refused_per_item(self, billing_harness: GisHarness) -> None:
        billing_harness.sim.item_errors[DEVICES["ХВ-2"]] = (
            "SRV007001",
            "Показание меньше предыдущего",
        )
        day = payment_registry(INN, 1).date
        readings = [
            MeterReading("001", "Э-1", MeterType.ELECTRICITY, (1234,), day),
            MeterReading("002", "ХВ-2", MeterType.COLD_WATER, (12,), day),
            MeterReading("003", "НЕТ-3", MeterType.ELECTRICITY, (5,), day),  # unknown device
        ]
        receipt = billing_harness.channel.deliver_readings(INN, readings)
        assert receipt.accepted == 1
        assert receipt.rejected[0] == RejectedReading(1, "SRV007001: Показание меньше предыдущего")
        assert receipt.rejected[1].index == 2
        assert receipt.rejected[1].reason.startswith("PES-INCOMPLETE: no MeteringDeviceRootGUID")
        assert len(billing_harness.sim.readings) == 1

    @pytest.mark.parametrize("fault", ["lost-answer", "timeout"])
    def test_readings_with_an_unknown_outcome_are_not_resent(
        self, billing_harness: GisHarness, fault: str
    ) -> None:
        billing_harness.fail_next("readings", fault)
        day = payment_registry(INN, 1).date
        readings = [MeterReading("001", "Э-1", MeterType.ELECTRICITY, (7,), day)]
        with pytest.raises((BillingUnavailable, BillingTimeout)):
            billing_harness.channel.deliver_readings(INN, readings)
        assert billing_harness.calls("readings") == 1


def test_poll_deadline_is_a_retryable_timeout_and_a_redelivery_reports_nothing_twice(
    package: Path,
) -> None:
    fake = FakeTime()
    kwargs = {"sleep": fake.sleep, "clock": fake.clock}
    with GisHarness(
        package, client_kwargs=kwargs, poll_initial=1.0, poll_max=8.0, poll_deadline=30.0
    ) as harness:
        harness.sim.pending_polls = 1000
        registry = payment_registry(INN, 31)
        with pytest.raises(BillingTimeout) as caught:
            harness.channel.deliver_payments(registry)
        assert "still processing" in str(caught.value)
        assert fake.now <= 30.0, "the poll deadline bounds the wait"
        harness.sim.pending_polls = 0
        harness.sim.release()
        again = harness.channel.deliver_payments(registry)
        assert again.status is DeliveryStatus.ALREADY_ACCEPTED
        assert set(harness.sim.accepted_order_ids.values()) == {1}
        assert harness.acceptances() == 1
        _clean(harness)


def test_a_hostile_answer_is_a_protocol_error(package: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body>&a;</soap:Body></soap:Envelope>"
    )
    with GisHarness(package) as harness:
        harness.sim.respond_next(IMPORT, bomb)
        with pytest.raises(BillingProtocolError):
            harness.channel.deliver_payments(payment_registry(INN, 32))
        assert harness.calls("payments") == 1


def test_a_refused_connection_is_unavailable_within_bounds(package: Path) -> None:
    with GisHarness(package) as harness:
        url = harness.sim.payment_url
    # the simulator is stopped: nothing listens there any more
    with (
        GisHarness(package, payment_endpoint=url, attempts=2) as harness,
        pytest.raises(BillingUnavailable) as caught,
    ):
        harness.channel.deliver_payments(payment_registry(INN, 33))
    assert "after 2 attempt(s)" in str(caught.value)
