"""Autopay on the job engine: planning runs, and each charge's workflow in rounds.

* ``pes.autopay.plan``: plans the charges of a partner's new period (queued beside the
  registry's new-charges trigger, :func:`queue_registry`).
* ``pes.autopay.days`` (the tick's ``autopay`` stage, once a ``scan_interval``): plans the
  monthly days whose notice is due today, and queues a ``pes.autopay.charge`` round for
  every unfinished charge whose wait is over (``autopay:<charge id>:<round>``: a round
  queued before, running or done, is not queued again).
* ``pes.autopay.charge``: one round of :class:`~pes_sdk_runner.autopay.Autopay` (prepare,
  attempt, read) until the charge ends or must wait (the notice period, the acquirer's
  pending answer, a pause before the next attempt); a wait ends the round with the charge
  deferred. No workflow sleeps: a thousand charges waiting out their notices hold no
  process, thread or queue slot. A process killed anywhere leaves its round to the
  fleet's recovery; each step is idempotent (an attempt's order id and key derive from
  the charge and its number), so nothing is charged twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from dbos import DBOS, SetWorkflowID

from pes_sdk.period import Period
from pes_sdk_runner.autopay import Autopay, Next, Step
from pes_sdk_runner.jobs.engine import parse_iso, runtime
from pes_sdk_runner.jobs.registry import AUTOPAY
from pes_sdk_runner.store.autopay import ChargeState
from pes_sdk_runner.triggers import Triggers

__all__ = [
    "charge_workflow",
    "days_workflow",
    "plan_workflow",
    "queue_registry",
    "queue_rounds",
]


def _autopay() -> Autopay:
    rt = runtime()
    store = rt.store()
    return Autopay(store, rt.config, Triggers(store, rt.config))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _out(step: Step) -> dict[str, Any]:
    return {
        "next": str(step.next),
        "at": step.at.isoformat() if step.at is not None else None,
        "attempt": step.attempt,
        "state": str(step.state) if step.state is not None else None,
    }


def _in(data: dict[str, Any]) -> Step:
    return Step(
        Next(data["next"]),
        parse_iso(data["at"]) if data["at"] else None,
        int(data["attempt"]),
        ChargeState(data["state"]) if data["state"] else None,
    )


@DBOS.step(name="pes.autopay.plan.registry")
def _plan_registry(partner_inn: str, period: str, now: str) -> list[str]:
    # Idempotent: a charge per consent and period is UNIQUE in the store and its notice's
    # messages are keyed by the charge: a re-run plans and tells nothing twice.
    charges = _autopay().plan_registry(partner_inn, Period.parse(period), parse_iso(now))
    return [str(c.charge_id) for c in charges]


@DBOS.step(name="pes.autopay.plan.days")
def _plan_days(now: str) -> list[str]:
    return [str(c.charge_id) for c in _autopay().plan_days(parse_iso(now))]


def queue_rounds(ready: list[list[Any]]) -> None:
    """Queue round ``[charge id, round]`` of each charge (a round queued before is not
    queued again)."""
    for charge_id, round_ in ready:
        with SetWorkflowID(f"autopay:{charge_id}:{round_}"):
            DBOS.enqueue_workflow(AUTOPAY, charge_workflow, str(charge_id), int(round_))


@DBOS.workflow(name="pes.autopay.plan")
def plan_workflow(partner_inn: str, period: str, now: str) -> dict[str, Any]:
    """Plan a partner's new period's charges (their rounds are queued by the tick once
    due)."""
    return {"charges": _plan_registry(partner_inn, period, now)}


@DBOS.step(name="pes.autopay.ready")
def _ready(now: str) -> list[list[Any]]:
    return [[str(c), r] for c, r in runtime().store().ready_charges(parse_iso(now))]


@DBOS.workflow(name="pes.autopay.days")
def days_workflow(now: str) -> dict[str, Any]:
    """The tick's autopay stage: plan the monthly days' charges whose notice is due at
    ``now``, and queue the next round of every unfinished charge whose wait is over."""
    charges = _plan_days(now)
    ready = _ready(now)
    queue_rounds(ready)
    return {"planned": charges, "rounds": len(ready)}


def queue_registry(activated: list[list[Any]]) -> None:
    """Queue the planning of each ``[partner ИНН, period, registry number]`` activated (from
    the scan's and poll's workflows, beside the new-charges trigger)."""
    now = _now().isoformat()
    for inn, period, number in activated:
        with SetWorkflowID(f"autopay:plan:{inn}:{period}:{number}"):
            DBOS.enqueue_workflow(AUTOPAY, plan_workflow, str(inn), str(period), now)


@DBOS.step(name="pes.autopay.prepare")
def _prepare(charge_id: str) -> dict[str, Any]:
    return _out(_autopay().prepare(uuid.UUID(charge_id), _now()))


def _processor() -> Any:
    processor = runtime().processor
    if processor is None:
        raise RuntimeError("this process has no payment gateway: it cannot charge")
    return processor


@DBOS.step(name="pes.autopay.attempt", retries_allowed=True, max_attempts=3, interval_seconds=5.0)
def _attempt(charge_id: str, attempt: int) -> dict[str, Any]:
    # Retried after an error: the attempt's order id and key are the same every time, and
    # the processor asks the acquirer before sending again a charge it booked before.
    return _out(_autopay().attempt(uuid.UUID(charge_id), attempt, _processor(), _now()))


@DBOS.step(name="pes.autopay.defer")
def _defer(charge_id: str, round_: int, at: str, next_attempt: int) -> bool:
    return runtime().store().defer_charge(uuid.UUID(charge_id), round_, parse_iso(at), next_attempt)


@DBOS.workflow(name="pes.autopay.charge")
def charge_workflow(charge_id: str, round_: int) -> dict[str, Any]:
    """Round ``round_`` of one charge: its steps until it ends, or must wait and is
    deferred to the round after (queued by the tick when the wait is over)."""
    step = _in(_prepare(charge_id))
    while step.next is Next.ATTEMPT:
        step = _in(_attempt(charge_id, step.attempt))
    if step.next is not Next.DONE:
        assert step.at is not None
        after = step.attempt if step.next is Next.RETRY else 0
        _defer(charge_id, round_, step.at.isoformat(), after)
    return {
        "charge": charge_id,
        "round": round_,
        "next": str(step.next),
        "state": str(step.state) if step.state else None,
    }
