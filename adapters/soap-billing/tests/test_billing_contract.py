"""The core's billing contract: bounded jittered retries of transient errors; whole registries."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from pes_sdk_conformance.billing import debt_records

from pes_sdk import ControlTotals, DebtRegistry, Period
from pes_sdk.billing import (
    BillingFault,
    BillingRetry,
    BillingTimeout,
    BillingUnavailable,
    ControlTotalsMismatch,
    PagingError,
    verify_complete,
)
from pes_sdk.errors import PesError

INN = "7707083893"


def _failing(errors: list[Exception]) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "done"

    return calls, fn


def test_transient_errors_are_retried_with_growing_jittered_waits() -> None:
    waits: list[float] = []
    retry = BillingRetry(attempts=5, initial_wait=0.1, max_wait=0.3, sleep=waits.append)
    calls, fn = _failing([BillingUnavailable("x"), BillingTimeout("y"), BillingUnavailable("z")])
    assert retry.call(fn) == "done"
    assert len(calls) == 4
    assert len(waits) == 3
    assert all(0.1 <= w <= 0.3 + 0.1 for w in waits)  # exponential, capped, plus jitter


def test_retries_stop_at_the_bound_with_the_typed_error() -> None:
    retry = BillingRetry(attempts=3, initial_wait=0, max_wait=0, sleep=lambda s: None)
    calls, fn = _failing([BillingUnavailable(str(i)) for i in range(10)])
    with pytest.raises(BillingUnavailable, match="2"):
        retry.call(fn)
    assert len(calls) == 3


@pytest.mark.parametrize("error", [BillingFault("no", code="NO_REGISTRY"), ValueError("bug")])
def test_other_errors_are_never_retried(error: Exception) -> None:
    retry = BillingRetry(attempts=5, initial_wait=0, max_wait=0, sleep=lambda s: None)
    calls, fn = _failing([error])
    with pytest.raises(type(error)):
        retry.call(fn)
    assert len(calls) == 1


def test_once_is_one_attempt() -> None:
    calls, fn = _failing([BillingUnavailable("x")])
    with pytest.raises(BillingUnavailable):
        BillingRetry.once(fn)
    assert len(calls) == 1


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError):
        BillingRetry(attempts=0)


def _registry(records: int, count: int, total: Decimal | None = None) -> DebtRegistry:
    recs = debt_records(records)
    amount = sum((r.amount for r in recs), Decimal("0.00")) if total is None else total
    return DebtRegistry(
        INN, Period(2026, 1), 1, None, recs, ControlTotals(count, {"amount": amount})
    )


def test_verify_complete_accepts_a_whole_registry() -> None:
    registry = _registry(10, 10)
    assert verify_complete(registry) is registry


def test_verify_complete_refuses_counts_sums_repeats_and_no_totals() -> None:
    with pytest.raises(ControlTotalsMismatch, match="control count is 11"):
        verify_complete(_registry(10, 11))
    with pytest.raises(ControlTotalsMismatch, match="control sum"):
        verify_complete(_registry(10, 10, Decimal("1.00")))
    twice = _registry(3, 4)
    doubled = DebtRegistry(
        INN, Period(2026, 1), 1, None, (*twice.records, twice.records[0]), twice.control
    )
    with pytest.raises(PagingError, match="repeat") as caught:
        verify_complete(doubled, endpoint="partner")
    assert caught.value.issues[0].line == 4
    assert isinstance(caught.value, PesError)
    with pytest.raises(ControlTotalsMismatch, match="no control totals"):
        verify_complete(DebtRegistry(INN, Period(2026, 1), 1))
