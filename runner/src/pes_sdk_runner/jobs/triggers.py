"""Triggers on the job engine: the ``triggers`` stage and one run per trigger.

The tick queues the stage once per ``daemon.scan_interval`` (:data:`~.tick.PERIODIC`); the
stage asks :func:`pes_sdk_runner.triggers.plan` what is due and queues one ``pes.trigger``
run per trigger under its own id (``trigger:reminder:<ИНН>:<period>:<offset>``, …:
:attr:`~pes_sdk_runner.triggers.Due.id`), so a day's reminder runs once in the fleet
however many stages find it due that day. An activated registry queues its new charges at
once (:func:`queue_charges`, from the scan and poll workflows); the stage is the backstop
for a crash between the ingest and that.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS, SetWorkflowID

from pes_sdk_runner.jobs.engine import parse_iso, runtime
from pes_sdk_runner.jobs.registry import TRIGGERS
from pes_sdk_runner.triggers import CHARGES, Due, Triggers, plan

__all__ = ["queue_charges", "queue_due", "trigger_workflow", "triggers_workflow"]


@DBOS.step(name="pes.triggers.plan")
def _plan(now: str) -> list[dict[str, Any]]:
    # Reads only: a re-run finds the same or fewer (what was announced since) to queue.
    rt = runtime()
    return [
        {
            "kind": d.kind,
            "partner_inn": d.partner_inn,
            "period": d.period,
            "offset": d.offset,
            "registry": d.registry,
            "order_id": d.order_id,
        }
        for d in plan(rt.store(), rt.config, parse_iso(now))
    ]


def queue_due(due: list[Due]) -> None:
    """Queue a run of each (from a workflow: each start recorded; an id queued before,
    running or done, is not queued again)."""
    for d in due:
        with SetWorkflowID(d.id):
            DBOS.enqueue_workflow(
                TRIGGERS,
                trigger_workflow,
                d.kind,
                d.partner_inn,
                d.period,
                d.offset,
                d.registry,
                d.order_id,
            )


def queue_charges(activated: list[list[Any]]) -> None:
    """Queue the new charges of each ``[partner ИНН, period, registry number]`` activated
    (the scan's and the poll's workflows, right after their ingest)."""
    queue_due(
        [Due(CHARGES, str(inn), str(period), registry=int(n)) for inn, period, n in activated]
    )


@DBOS.workflow(name="pes.triggers")
def triggers_workflow(now: str) -> dict[str, Any]:
    """Queue every trigger due at ``now`` (ISO 8601, aware)."""
    due = [Due(**d) for d in _plan(now)]
    queue_due(due)
    return {"queued": [d.id for d in due]}


@DBOS.step(name="pes.trigger.fire", retries_allowed=True, max_attempts=3, interval_seconds=2.0)
def _fire(
    kind: str, partner_inn: str, period: str, offset: int, registry: int, order_id: str
) -> dict[str, Any]:
    # Idempotent: the messages' key (source, client, target) is unique in the store and
    # their batches' workflow ids are named by their rows, so a re-run writes and queues
    # nothing twice.
    rt = runtime()
    due = Due(kind, partner_inn, period, offset, registry, order_id)
    done = Triggers(rt.store(), rt.config).fire(due)
    if done is None:
        return {"clients": 0, "messages": 0}
    return {"clients": done.clients, "messages": done.messages}


@DBOS.workflow(name="pes.trigger")
def trigger_workflow(
    kind: str, partner_inn: str, period: str, offset: int, registry: int, order_id: str
) -> dict[str, Any]:
    """Fire one trigger (:class:`~pes_sdk_runner.triggers.Due`'s fields)."""
    return _fire(kind, partner_inn, period, offset, registry, order_id)
