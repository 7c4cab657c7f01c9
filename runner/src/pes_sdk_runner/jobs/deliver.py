"""Deliveries: the open deliveries handed over again, with bounded retries."""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from pes_sdk_runner.daemon import PassError
from pes_sdk_runner.jobs.common import errors_of
from pes_sdk_runner.jobs.engine import parse_iso, runtime

__all__ = ["deliver_workflow"]


@DBOS.step(name="pes.deliver.pending")
def _deliver(now: str) -> dict[str, Any]:
    # At least once, like the scheduler's run: a delivery handed over just before a crash
    # is handed over again (its channel's file or request is the same; a partner's side
    # takes the registry by its number). One run at a time across the fleet (its queue).
    errors: list[PassError] = []
    done = runtime().daemon()._deliver(parse_iso(now), errors)
    return {
        "deliveries": [{"id": d.id, "status": str(d.status), "attempts": d.attempts} for d in done],
        "errors": errors_of(errors),
    }


@DBOS.workflow(name="pes.deliver")
def deliver_workflow(now: str) -> dict[str, Any]:
    """Deliver every open delivery once more at ``now`` (``daemon.delivery_max_attempts``)."""
    return _deliver(now)
