"""Billing-source polls: each partner's source asked for the current month's registry."""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from pes_sdk_runner.daemon import PassError
from pes_sdk_runner.jobs.autopay import queue_registry
from pes_sdk_runner.jobs.bills import queue_bills
from pes_sdk_runner.jobs.common import errors_of
from pes_sdk_runner.jobs.engine import parse_iso, runtime
from pes_sdk_runner.jobs.triggers import queue_charges
from pes_sdk_runner.triggers import activated

__all__ = ["poll_workflow"]


@DBOS.step(name="pes.poll.sources")
def _poll(now: str) -> dict[str, Any]:
    # Idempotent: a registry the store holds already is told as a duplicate, not taken twice.
    rt = runtime()
    sources = [p for p in rt.config.partners if not p.source.is_inbox]
    errors: list[PassError] = []
    outcomes = list(rt.daemon()._poll(sources, parse_iso(now), errors))
    return {
        "ingested": len(outcomes),
        "outcomes": [str(o.outcome) for o in outcomes],
        "errors": errors_of(errors),
        "activated": activated(outcomes),
    }


@DBOS.workflow(name="pes.poll")
def poll_workflow(now: str) -> dict[str, Any]:
    """Ask every billing source for the current month's registry at ``now``."""
    done = _poll(now)
    # A new period's charges, told now rather than at the triggers' next stage; in the
    # workflow (recorded), not in the ingest's step or transaction.
    queue_charges(done.get("activated", []))
    queue_registry(done.get("activated", []))  # the autopay of the new periods
    queue_bills(done.get("activated", []))  # the new periods' bills (квитанции)
    return done
