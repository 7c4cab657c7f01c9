"""Conformance checks of the **billing** family: billing sources and delivery channels.

An adapter author activates the plugin and subclasses :class:`BillingConformance`, giving it
a ``billing_harness`` fixture: the adapter (as source and channel) wired to a partner
service it can drive (any object with the members of :class:`BillingHarness`)::

    # conftest.py
    pytest_plugins = ["pes_sdk_conformance.plugin"]

    # test_conformance.py
    from pes_sdk_conformance.billing import BillingConformance

    class TestMyBilling(BillingConformance):
        @pytest.fixture
        def billing_harness(self):
            with MyHarness() as harness:   # e.g. a partner simulator on loopback
                yield harness

What is checked:

* **paging complete**: a registry of two and a half pages (and one of exactly two) comes back
  whole: nothing lost, nothing doubled, every value as published (Cyrillic, advances,
  leading zeros), each page read once, the control totals those of the whole registry;
* **idempotent delivery**: the same payment registry twice is accepted once; the same
  number with other content is refused with :class:`~pes_sdk.billing.RegistryConflict`
  and the first stays; an answer lost or late after the partner did the work, and a retry,
  still store it once;
* **retries bounded**: a partner that fails N times then recovers is retried through; one
  that always fails gives a typed retryable error after at least two and at most the
  adapter's bound of attempts; a call that is not idempotent (readings) is not retried;
* **typed errors for faults**: a partner's final fault is a
  :class:`~pes_sdk.billing.BillingFault` (a :class:`~pes_sdk.errors.PesError`), not retried,
  whether it answers a debt registry or a delivery.

A harness that cannot inject a kind of fault returns False and the check is skipped, saying
so. The checks follow what the adapter is: a harness whose ``source`` is None (a
delivery-channel-only adapter, such as ГИС ЖКХ) skips the source checks (paging, debt
retries, debt faults); a channel without ``capabilities.readings`` skips the readings
checks; a channel idempotent per record rather than per registry number
(``capabilities.registry_conflicts`` False) is checked to keep the first content of a
reused number instead of refusing it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

import pytest

from pes_sdk.billing import (
    RETRYABLE,
    BillingError,
    BillingFault,
    BillingSource,
    DeliveryChannel,
    DeliveryStatus,
    RegistryConflict,
)
from pes_sdk.errors import PesError
from pes_sdk.models.debts import DebtRecord, DebtRegistry
from pes_sdk.models.payments import PaymentRecord, PaymentRegistry, PaymentTotals
from pes_sdk.models.readings import MeterReading, MeterType
from pes_sdk.models.registry import RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.period import Period

__all__ = [
    "FAULTS",
    "OPERATIONS",
    "BillingConformance",
    "BillingHarness",
    "debt_records",
    "payment_registry",
]

#: the operations a harness counts and can fail, in the family's own words
OPERATIONS = ("debts", "payments", "readings")
#: the faults a harness may inject: before the work (``unavailable``: a 5xx;
#: ``transient-fault``: the protocol's own "try later"), or after it (``lost-answer``: the
#: work is done and a 5xx answers; ``timeout``: the answer comes after the adapter's timeout),
#: or for good (``final-fault``: a fault of the protocol that retrying cannot cure)
FAULTS = ("unavailable", "transient-fault", "lost-answer", "timeout", "final-fault")

HOUSES = (
    "0c5b2444-70a0-4932-980c-b4dc0d3f02b5",
    "5c8b06f1-518e-496e-b683-7bf917e0d70b",
)
SERVICES = ("Электроснабжение", "Отопление", "Холодное водоснабжение")
PREMISES = ("12", "12а", "12/1", "кв. 7, ком. 3", "")


class BillingHarness(Protocol):
    """What the suite needs from the author: the adapter and the partner's side of it."""

    @property
    def source(self) -> BillingSource | None:
        """The adapter as a billing source; None when the adapter is a delivery channel only."""
        ...

    @property
    def channel(self) -> DeliveryChannel:
        """The adapter as a delivery channel (may be the same object as ``source``)."""
        ...

    @property
    def partner_inn(self) -> str:
        """The partner the partner side knows."""
        ...

    @property
    def page_size(self) -> int:
        """How many records the source asks per page (any value when there is no source)."""
        ...

    @property
    def max_attempts(self) -> int:
        """The adapter's bound on attempts of one idempotent call."""
        ...

    def publish_debts(self, period: Period, records: Sequence[DebtRecord]) -> None:
        """The partner publishes ``records`` as its current registry for ``period``."""
        ...

    def calls(self, operation: str) -> int:
        """How many requests of ``operation`` (see :data:`OPERATIONS`) the partner received."""
        ...

    def fail_next(self, operation: str, fault: str, times: int = 1) -> bool:
        """Make the next ``times`` requests of ``operation`` suffer ``fault``; False: can't."""
        ...

    def fail_always(self, operation: str, fault: str) -> bool:
        """Make every request of ``operation`` suffer ``fault`` until :meth:`heal`."""
        ...

    def heal(self) -> None:
        """Stop injecting faults."""
        ...

    def acceptances(self) -> int:
        """How many times the partner stored a payment registry (a duplicate shows here)."""
        ...

    def accepted_amount(self, number: int) -> Decimal | None:
        """The amount of the payment registry ``number`` the partner holds, or None."""
        ...


def debt_records(count: int, *, start: int = 0) -> list[DebtRecord]:
    """``count`` distinct records with Cyrillic text, advances and leading-zero accounts."""
    out = []
    for i in range(start, start + count):
        # every seventh record an advance (a negative debt), the others varied kopecks
        cents = (i * 7919) % 1_000_000
        value = Decimal(cents).scaleb(-2)
        out.append(
            DebtRecord(
                f"{i:010d}",
                HOUSES[i % len(HOUSES)],
                PREMISES[i % len(PREMISES)],
                -value if i % 7 == 3 else value,
                period=Period(2026, 1) if i % 5 == 0 else None,
                service=SERVICES[i % len(SERVICES)],
            )
        )
    return out


def payment_registry(
    partner_inn: str, number: int, *, records: int = 3, extra: Decimal = ZERO
) -> PaymentRegistry:
    """A consistent daily payment registry; ``extra`` changes the content, not the number."""
    tz = dt.timezone(dt.timedelta(hours=3))
    recs = []
    for i in range(records):
        paid = Decimal("100.00") + i * Decimal("25.50") + (extra if i == 0 else ZERO)
        fee = (paid * Decimal("0.0163")).quantize(Decimal("0.01"))
        recs.append(
            PaymentRecord(
                dt.datetime(2026, 1, 15, 9 + i, 30, tzinfo=tz),
                f"op-{number}-{i}",
                f"00{i + 1}",
                paid,
                paid - fee,
                fee,
                house_id=HOUSES[i % len(HOUSES)],
                premises=PREMISES[i % len(PREMISES)],
                period=Period(2026, 1),
                service=SERVICES[i % len(SERVICES)],
                channel="кабинет",
            )
        )
    total = sum((r.amount for r in recs), ZERO)
    fees = sum((r.fee for r in recs), ZERO)
    vat = (fees / Decimal("6")).quantize(Decimal("0.01")) if fees else ZERO
    totals = PaymentTotals(len(recs), total, fees - vat, vat, total - fees)
    records_arg: Any = recs  # PaymentRegistry.records' converter is the bare `tuple`
    return PaymentRegistry(partner_inn, dt.date(2026, 1, 15), number, records_arg, totals)


def _key(r: DebtRecord) -> tuple[str, str]:
    return (r.account, r.service)


class BillingConformance:
    """The billing family's checks. Subclass it and provide ``billing_harness``."""

    period: Period = Period(2026, 1)

    @pytest.fixture
    def billing_harness(self) -> Any:
        """Override: yield a harness (see :class:`BillingHarness`)."""
        pytest.fail("override the billing_harness fixture in your BillingConformance subclass")

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _inject(harness: BillingHarness, operation: str, fault: str, times: int = 1) -> None:
        try:
            injected = harness.fail_next(operation, fault, times)
        except (KeyError, ValueError):  # a harness written before this kind of fault existed
            injected = False
        if not injected:
            pytest.skip(f"the harness cannot inject {fault!r} into {operation!r}")

    @staticmethod
    def _source(harness: BillingHarness) -> BillingSource:
        source = harness.source
        if source is None:
            pytest.skip(
                "the adapter is a delivery channel only (no billing source): "
                "paging and debt registry checks do not apply"
            )
        return source

    @staticmethod
    def _published(harness: BillingHarness, count: int) -> list[DebtRecord]:
        records = debt_records(count)
        harness.publish_debts(BillingConformance.period, records)
        return records

    @staticmethod
    def _assert_whole(registry: DebtRegistry, published: Sequence[DebtRecord]) -> None:
        got = sorted(registry.records, key=_key)
        want = sorted(published, key=_key)
        assert len(registry.records) == len(published), "records were lost or doubled"
        assert len({_key(r) for r in registry.records}) == len(published), "records doubled"
        assert got == want, "records differ from those the partner published"
        assert registry.control is not None, "the registry must carry its control totals"
        assert registry.control.count == len(published)
        assert registry.control.sums.get("amount") == sum((r.amount for r in published), ZERO)

    # -- paging --------------------------------------------------------------------------

    def test_paging_complete(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        size = billing_harness.page_size
        published = self._published(billing_harness, size * 2 + size // 2)
        registry = source.fetch_debts(billing_harness.partner_inn, self.period)
        self._assert_whole(registry, published)
        assert registry.partner_inn == billing_harness.partner_inn
        assert registry.period == self.period
        pages = math.ceil(len(published) / size)
        assert billing_harness.calls("debts") == pages, "each page must be read exactly once"

    def test_paging_exact_multiple_of_page_size(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        published = self._published(billing_harness, billing_harness.page_size * 2)
        registry = source.fetch_debts(billing_harness.partner_inn, self.period)
        self._assert_whole(registry, published)

    def test_empty_registry(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        published = self._published(billing_harness, 0)
        registry = source.fetch_debts(billing_harness.partner_inn, self.period)
        self._assert_whole(registry, published)

    def test_values_round_trip(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        published = self._published(billing_harness, 15)
        registry = source.fetch_debts(billing_harness.partner_inn, self.period)
        by_key = {_key(r): r for r in registry.records}
        for want in published:
            got = by_key[_key(want)]
            assert got == want
            assert got.premises.text == want.premises.text  # Cyrillic, as written
            assert got.amount.as_tuple().exponent == -2, "money keeps two places"
        assert any(r.amount < 0 for r in registry.records), "advances come back negative"

    def test_newer_registry_replaces_older(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        self._published(billing_harness, 5)
        first = source.fetch_debts(billing_harness.partner_inn, self.period)
        newer = debt_records(4, start=100)
        billing_harness.publish_debts(self.period, newer)
        second = source.fetch_debts(billing_harness.partner_inn, self.period)
        self._assert_whole(second, newer)
        assert second.number > first.number, "a newer registry carries a higher number"

    # -- retries -------------------------------------------------------------------------

    @pytest.mark.parametrize("fault", ["unavailable", "transient-fault", "timeout"])
    def test_debts_retried_after_transient_faults(
        self, billing_harness: BillingHarness, fault: str
    ) -> None:
        source = self._source(billing_harness)
        size = billing_harness.page_size
        published = self._published(billing_harness, size + 1)
        times = min(2, billing_harness.max_attempts - 1)
        if times < 1:
            pytest.skip("the adapter makes a single attempt: nothing to retry")
        self._inject(billing_harness, "debts", fault, times)
        registry = source.fetch_debts(billing_harness.partner_inn, self.period)
        self._assert_whole(registry, published)
        assert billing_harness.calls("debts") == 2 + times, "only the failed page is retried"

    def test_debts_retries_bounded(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        self._published(billing_harness, 3)
        if not billing_harness.fail_always("debts", "unavailable"):
            pytest.skip("the harness cannot make the partner fail for good")
        with pytest.raises(RETRYABLE) as caught:
            source.fetch_debts(billing_harness.partner_inn, self.period)
        assert isinstance(caught.value, PesError)
        calls = billing_harness.calls("debts")
        assert calls <= billing_harness.max_attempts, f"{calls} attempts: retries not bounded"
        assert calls >= min(2, billing_harness.max_attempts), "a transient fault is retried"

    # -- faults --------------------------------------------------------------------------

    def test_missing_registry_is_a_typed_fault(self, billing_harness: BillingHarness) -> None:
        source = self._source(billing_harness)
        self._published(billing_harness, 3)
        with pytest.raises(BillingFault) as caught:
            source.fetch_debts(billing_harness.partner_inn, self.period.next())
        assert isinstance(caught.value, PesError)
        assert billing_harness.calls("debts") == 1, "a final fault is never retried"

    # -- delivery ------------------------------------------------------------------------

    def test_delivery_idempotent(self, billing_harness: BillingHarness) -> None:
        registry = payment_registry(billing_harness.partner_inn, 1)
        first = billing_harness.channel.deliver_payments(registry)
        again = billing_harness.channel.deliver_payments(registry)
        assert first.status is DeliveryStatus.ACCEPTED
        assert again.status is DeliveryStatus.ALREADY_ACCEPTED
        assert again.receipt_id == first.receipt_id, "a repeat names the first acceptance"
        assert billing_harness.acceptances() == 1
        assert billing_harness.accepted_amount(1) == registry.totals.amount
        delivery = first.delivery()
        assert (delivery.partner_inn, delivery.kind, delivery.number) == (
            billing_harness.partner_inn,
            RegistryKind.PAYMENTS,
            1,
        )

    def test_conflicting_delivery_refused(self, billing_harness: BillingHarness) -> None:
        registry = payment_registry(billing_harness.partner_inn, 7)
        billing_harness.channel.deliver_payments(registry)
        other = payment_registry(billing_harness.partner_inn, 7, extra=Decimal("0.01"))
        if billing_harness.channel.capabilities.registry_conflicts:
            with pytest.raises(RegistryConflict) as caught:
                billing_harness.channel.deliver_payments(other)
            assert isinstance(caught.value, BillingError)
        else:
            # idempotent per record: the records come back as known, none is reported again
            billing_harness.channel.deliver_payments(other)
        assert billing_harness.accepted_amount(7) == registry.totals.amount, "the first stands"
        assert billing_harness.acceptances() == 1
        assert billing_harness.calls("payments") == 2, "a conflict is never retried"

    def test_empty_payment_registry_delivered(self, billing_harness: BillingHarness) -> None:
        registry = payment_registry(billing_harness.partner_inn, 2, records=0)
        receipt = billing_harness.channel.deliver_payments(registry)
        assert receipt.status is DeliveryStatus.ACCEPTED
        assert billing_harness.accepted_amount(2) == ZERO

    @pytest.mark.parametrize("fault", ["lost-answer", "timeout", "unavailable"])
    def test_delivery_retried_never_doubled(
        self, billing_harness: BillingHarness, fault: str
    ) -> None:
        if billing_harness.max_attempts < 2:
            pytest.skip("the adapter makes a single attempt: nothing to retry")
        self._inject(billing_harness, "payments", fault)
        registry = payment_registry(billing_harness.partner_inn, 3)
        receipt = billing_harness.channel.deliver_payments(registry)
        assert receipt.number == 3
        assert billing_harness.acceptances() == 1, "a retried delivery is stored once"
        assert billing_harness.accepted_amount(3) == registry.totals.amount
        assert billing_harness.calls("payments") == 2

    def test_delivery_final_fault_is_typed(self, billing_harness: BillingHarness) -> None:
        self._inject(billing_harness, "payments", "final-fault")
        with pytest.raises(BillingFault) as caught:
            billing_harness.channel.deliver_payments(
                payment_registry(billing_harness.partner_inn, 5)
            )
        assert isinstance(caught.value, PesError)
        assert caught.value.code, "a fault names its code"
        assert billing_harness.calls("payments") == 1, "a final fault is never retried"
        assert billing_harness.acceptances() == 0

    def test_delivery_retries_bounded(self, billing_harness: BillingHarness) -> None:
        if not billing_harness.fail_always("payments", "unavailable"):
            pytest.skip("the harness cannot make the partner fail for good")
        with pytest.raises(RETRYABLE):
            billing_harness.channel.deliver_payments(
                payment_registry(billing_harness.partner_inn, 4)
            )
        calls = billing_harness.calls("payments")
        assert min(2, billing_harness.max_attempts) <= calls <= billing_harness.max_attempts
        assert billing_harness.acceptances() == 0

    # -- readings ------------------------------------------------------------------------

    @staticmethod
    def _readings(harness: BillingHarness) -> list[MeterReading]:
        if not harness.channel.capabilities.readings:
            pytest.skip("the channel does not carry meter readings")
        day = dt.date(2026, 1, 20)
        return [
            MeterReading("001", "Э-1", MeterType.ELECTRICITY_DAY, (Decimal("1234.5"),), day),
            MeterReading(
                "002", "ХВ-2", MeterType.COLD_WATER, (Decimal("12.125"),), day, service="Вода"
            ),
        ]

    def test_readings_delivered(self, billing_harness: BillingHarness) -> None:
        readings = self._readings(billing_harness)
        receipt = billing_harness.channel.deliver_readings(billing_harness.partner_inn, readings)
        assert receipt.accepted == len(readings)
        assert receipt.rejected == ()

    def test_readings_not_retried(self, billing_harness: BillingHarness) -> None:
        readings = self._readings(billing_harness)
        self._inject(billing_harness, "readings", "unavailable")
        with pytest.raises(RETRYABLE):
            billing_harness.channel.deliver_readings(billing_harness.partner_inn, readings)
        assert billing_harness.calls("readings") == 1, "a call that is not idempotent is sent once"
