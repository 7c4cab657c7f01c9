"""The payment backstop: the acquirer asked about payments whose webhook has not come."""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from pes_sdk_runner.daemon import PassError
from pes_sdk_runner.jobs.common import errors_of
from pes_sdk_runner.jobs.engine import parse_iso, runtime

__all__ = ["check_payments", "check_step", "payments_workflow"]


def check_payments(now: str, *, every: bool) -> dict[str, Any]:
    """Ask about the waiting payments (``every``: also the recently changed, before a close).

    At most ``PAYMENT_CHECKS_PER_PASS``, the never asked first, then the longest unasked:
    each waiting payment gets its turn over the passes (``Daemon._check_payments``).
    Idempotent: the answer is applied through the processor, which credits a payment once
    whatever the number of answers (the store decides). Nothing is asked in a process
    without a gateway.
    """
    rt = runtime()
    if rt.check_payment is None:
        return {"asked": 0, "changed": 0, "credited": 0, "errors": [], "skipped": True}
    errors: list[PassError] = []
    found = list(rt.daemon()._check_payments(rt.check_payment, parse_iso(now), errors, every=every))
    return {
        "asked": len(found),
        "changed": sum(c.changed for c in found),
        "credited": sum(c.credited for c in found),
        "errors": errors_of(errors),
        "skipped": False,
    }


@DBOS.step(name="pes.payments.check")
def check_step(now: str, every: bool) -> dict[str, Any]:
    """:func:`check_payments` as a step (its answer recorded for a recovery)."""
    return check_payments(now, every=every)


@DBOS.workflow(name="pes.payments")
def payments_workflow(now: str, every: bool = False) -> dict[str, Any]:
    """The backstop at ``now``: payments unchanged ``daemon.payment_check_after`` or more."""
    return check_step(now, every)
