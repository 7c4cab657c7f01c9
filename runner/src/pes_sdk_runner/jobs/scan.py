"""Inbox scans: every file waiting in every partner's inbox (the daemon's scan stage)."""

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

__all__ = ["scan_workflow"]


@DBOS.step(name="pes.scan.inboxes")
def _scan(now: str) -> dict[str, Any]:
    # Idempotent: an ingested file leaves its inbox (processed/ or rejected/) in the
    # transaction's wake, and the store refuses a registry it holds already; a file whose
    # ingest a crash cut short is still in the inbox and is read again.
    errors: list[PassError] = []
    outcomes = list(runtime().daemon()._scan(parse_iso(now), errors))
    return {
        "ingested": len(outcomes),
        "outcomes": [str(o.outcome) for o in outcomes],
        "errors": errors_of(errors),
        "activated": activated(outcomes),
    }


@DBOS.workflow(name="pes.scan")
def scan_workflow(now: str) -> dict[str, Any]:
    """Ingest every file waiting in the inboxes at ``now`` (ISO 8601, aware)."""
    done = _scan(now)
    # A new period's charges, told now rather than at the triggers' next stage; in the
    # workflow (recorded), not in the ingest's step or transaction.
    queue_charges(done.get("activated", []))
    queue_registry(done.get("activated", []))  # the autopay of the new periods
    queue_bills(done.get("activated", []))  # the new periods' bills (квитанции)
    return done
