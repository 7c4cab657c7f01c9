"""The billing family catches broken adapters: each bug below fails the check written for it.

Each broken client is the real SOAP adapter with one fault put in, run against the same
reference server as the passing adapter, so only the bug differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pes_sdk_conformance.billing import BillingConformance
from pes_sdk_soap_billing.client import SoapBillingClient
from pes_sdk_soap_billing.harness import SoapHarness

from pes_sdk import DebtRegistry, MeterReading, PaymentRegistry, Period
from pes_sdk.billing import (
    BillingError,
    BillingRetry,
    DeliveryReceipt,
    DeliveryStatus,
    ReadingsReceipt,
)
from pes_sdk.models.registry import ControlTotals


class FirstPageOnly(SoapBillingClient):
    """Reads one page and trusts it: loses records past the first page."""

    def fetch_debts(self, partner_inn: str, period: Period) -> DebtRegistry:
        page = self._get_page(partner_inn, period, None)
        records = [self._debt(r, i) for i, r in enumerate(page.record or (), start=1)]
        control = ControlTotals(int(page.totals.count), {"amount": page.totals.amount})
        return DebtRegistry(partner_inn, period, int(page.registryNumber), None, records, control)


class PagesTwice(SoapBillingClient):
    """Reads every page twice (a retry loop gone wrong) and keeps both copies unchecked."""

    def fetch_debts(self, partner_inn: str, period: Period) -> DebtRegistry:
        registry = super().fetch_debts(partner_inn, period)
        doubled = registry.records + registry.records[: self.page_size]
        return DebtRegistry(partner_inn, period, registry.number, None, doubled, registry.control)


class SaysAcceptedAlways(SoapBillingClient):
    """Hides the partner's "already accepted"."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        receipt = super().deliver_payments(registry)
        return DeliveryReceipt(
            receipt.partner_inn,
            receipt.number,
            DeliveryStatus.ACCEPTED,
            receipt.receipt_id,
            receipt.accepted_at,
            receipt.channel,
            receipt.target,
        )


class SwallowsConflicts(SoapBillingClient):
    """Turns a refused registry into a silent success."""

    def deliver_payments(self, registry: PaymentRegistry) -> DeliveryReceipt:
        try:
            return super().deliver_payments(registry)
        except BillingError:
            return DeliveryReceipt(
                registry.partner_inn, registry.number, DeliveryStatus.ACCEPTED, "", _now(), "", ""
            )


class RetriesEverything(SoapBillingClient):
    """Retries final faults too (and so asks the partner again and again)."""

    def _invoke(self, operation: str, partner: str, **kwargs: Any) -> Any:
        for _ in range(3):
            try:
                return super()._invoke(operation, partner, **kwargs)
            except BillingError:
                continue
        return super()._invoke(operation, partner, **kwargs)


class RetriesReadings(SoapBillingClient):
    """Resends a batch of readings, which the protocol does not allow."""

    def deliver_readings(
        self, partner_inn: str, readings: Sequence[MeterReading]
    ) -> ReadingsReceipt:
        return self.retry.call(
            lambda: super(RetriesReadings, self).deliver_readings(partner_inn, readings)
        )


class NeverStops(SoapBillingClient):
    """Retries far past any bound."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs["retry"] = BillingRetry(attempts=12, initial_wait=0, max_wait=0)
        super().__init__(url, **kwargs)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


Check = Callable[[BillingConformance, SoapHarness], None]
SUITE = BillingConformance()


def _check(name: str, **kwargs: Any) -> Check:
    def run(suite: BillingConformance, harness: SoapHarness) -> None:
        getattr(suite, name)(harness, **kwargs)

    run.__name__ = name
    return run


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (FirstPageOnly, _check("test_paging_complete")),
        (PagesTwice, _check("test_paging_complete")),
        (SaysAcceptedAlways, _check("test_delivery_idempotent")),
        (SwallowsConflicts, _check("test_conflicting_delivery_refused")),
        (RetriesEverything, _check("test_missing_registry_is_a_typed_fault")),
        (RetriesReadings, _check("test_readings_not_retried")),
        (NeverStops, _check("test_debts_retries_bounded")),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_the_suite_catches(broken: type[SoapBillingClient], check: Check) -> None:
    with (
        SoapHarness(page_size=10, client_class=broken) as harness,
        pytest.raises((AssertionError, pytest.fail.Exception)),
    ):
        check(SUITE, harness)


def test_the_sound_adapter_passes_the_same_checks() -> None:
    # the control: the very checks above pass with the adapter as shipped
    for name in (
        "test_paging_complete",
        "test_delivery_idempotent",
        "test_conflicting_delivery_refused",
        "test_missing_registry_is_a_typed_fault",
        "test_readings_not_retried",
        "test_debts_retries_bounded",
    ):
        with SoapHarness(page_size=10) as harness:
            _check(name)(SUITE, harness)
