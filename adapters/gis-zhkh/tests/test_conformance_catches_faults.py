"""The billing family catches broken ГИС ЖКХ channels: each bug fails the check written for it.

Each broken channel is the real one with one fault put in, run against the same simulator
as the sound channel, so only the bug differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from pes_sdk_conformance.billing import BillingConformance
from pes_sdk_gis_zhkh import GisDeliveryChannel, GisError
from pes_sdk_gis_zhkh.harness import GisHarness

from pes_sdk import MeterReading, PaymentRegistry
from pes_sdk.billing import BillingFault, DeliveryReceipt, DeliveryStatus, ReadingsReceipt


class FreshOrderIds(GisDeliveryChannel):
    """Derives a new OrderID every time: a resend reports every payment again."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        salt = uuid.uuid4().hex[:6]
        records = [
            attrs.evolve(r, operation_id=f"{r.operation_id}-{salt}") for r in registry.records
        ]
        return super().deliver_payments(attrs.evolve(registry, records=records))


class HidesAlreadyAccepted(GisDeliveryChannel):
    """Says "accepted" when ГИС ЖКХ knew every record already."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        return attrs.evolve(super().deliver_payments(registry), status=DeliveryStatus.ACCEPTED)


class LeaksAdapterErrors(GisDeliveryChannel):
    """Lets the adapter's own errors out instead of the SDK's billing errors."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        try:
            return super().deliver_payments(registry)
        except BillingFault:
            raise
        except Exception as exc:
            raise exc.__cause__ or exc from None


class RetriesFinalFaults(GisDeliveryChannel):
    """Delivers again after a fault that retrying cannot cure."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        for _ in range(2):
            try:
                return super().deliver_payments(registry)
            except BillingFault:
                continue
        return super().deliver_payments(registry)


class ResendsReadings(GisDeliveryChannel):
    """Resends a batch of readings after a transient fault (the contract forbids it)."""

    def deliver_readings(
        self, partner_inn: str, readings: Sequence[MeterReading]
    ) -> ReadingsReceipt:
        self.client.send_readings(readings, devices=self._devices, retry=True)
        return ReadingsReceipt(partner_inn, len(readings))


Check = Callable[[BillingConformance, GisHarness], None]
SUITE = BillingConformance()


def _check(name: str, **kwargs: Any) -> Check:
    def run(suite: BillingConformance, harness: GisHarness) -> None:
        getattr(suite, name)(harness, **kwargs)

    run.__name__ = name
    return run


CASES = [
    (FreshOrderIds, _check("test_delivery_idempotent")),
    (HidesAlreadyAccepted, _check("test_delivery_idempotent")),
    (LeaksAdapterErrors, _check("test_delivery_retries_bounded")),
    (RetriesFinalFaults, _check("test_delivery_final_fault_is_typed")),
    (ResendsReadings, _check("test_readings_not_retried")),
]


@pytest.mark.parametrize(("broken", "check"), CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_the_suite_catches(package: Path, broken: type[GisDeliveryChannel], check: Check) -> None:
    # a check fails by an assertion, pytest.fail, or an error it did not expect
    with (
        GisHarness(package, channel_class=broken) as harness,
        pytest.raises((AssertionError, pytest.fail.Exception, GisError)),
    ):
        check(SUITE, harness)


def test_the_sound_channel_passes_the_same_checks(package: Path) -> None:
    # the control: the very checks above pass with the channel as shipped
    for _, check in CASES:
        with GisHarness(package) as harness:
            check(SUITE, harness)
