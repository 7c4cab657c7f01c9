"""Day closes: one workflow per partner-day, ``close:<partner ИНН>:<day>``, in day order.

**Exactly one close per partner-day** whatever the number of processes: the engine starts
a workflow id once (a second start, from any process, gets the first's handle), and the
store stays the real decider (a close is idempotent: same number, same bytes; the store's
unique keys refuse a second registry for the day).

**In day order.** Which day of a partner is next is the daemon's decision
(:meth:`~pes_sdk_runner.daemon.Daemon.last_ended_day`, ``_start_day``: where closing
starts, the catch-up limit, days passed because a later one was closed by hand), made from
the store each time, plus the engine's record of the days closed (an empty day leaves no
registry, only its workflow's success). Only a partner's next day is queued; its workflow,
once the day is closed, queues the day after (:func:`plan`). A partner without empty
registries or readings gets no run for a day that would write nothing: its next day is
the first with a credit or a registry (:func:`_first_with_work`), so one plan queues every
partner's due day, not a chain of empty days a queue poll apart. A day whose close failed
(its workflow ended in error) holds the partner's later days back; the next plan removes
the failed run and queues the day again.

A close workflow has two steps, each idempotent: the registry (:func:`close_day`: file,
transfer order, ledger, delivery opened, in the crash-safe order of
:mod:`pes_sdk_runner.close.day`) and the meter readings file
(:func:`~pes_sdk_runner.close.close_readings`). A registry just opened for delivery
queues a delivery run at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dbos import DBOS, SetWorkflowID

from pes_sdk_runner.close import close_day, close_readings, day_of, open_credits
from pes_sdk_runner.config.models import PartnerConfig
from pes_sdk_runner.daemon import PassError, Stage, _describe
from pes_sdk_runner.jobs.common import StageFailed, errors_of
from pes_sdk_runner.jobs.deliver import deliver_workflow
from pes_sdk_runner.jobs.engine import Runtime, parse_iso, runtime
from pes_sdk_runner.jobs.registry import CLOSES, DELIVERIES
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import DeliveryStatus, PaymentRegistryInfo

__all__ = ["close_id", "close_workflow", "plan", "queue_closes"]

log = logging.getLogger("pes_sdk_runner.jobs")

#: Workflow states that end a close for good without its day being closed: the next plan
#: removes the run and queues the day again. (CANCELLED is an operator's: left alone.)
_RETRY = frozenset({"ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


def close_id(inn: str, day: dt.date) -> str:
    """The workflow id of ``inn``'s close of ``day``: the same in every process."""
    return f"close:{inn}:{day.isoformat()}"


def _partner(rt: Runtime, inn: str) -> PartnerConfig:
    for p in rt.config.partners:
        if p.inn == inn:
            return p
    raise StageFailed(f"partner {inn} is not in the configuration")


def _candidates(
    rt: Runtime,
    partner: PartnerConfig,
    now: dt.datetime,
    errors: list[PassError],
    complete: Callable[[], set[int]],
) -> list[dt.date]:
    """``partner``'s days to close, in order, by the daemon's rules (from the store).

    ``complete``: the ids of the registries that have a delivery (read once per plan).
    """
    daemon = rt.daemon()
    store = rt.store()
    latest = daemon.last_ended_day(partner, now)
    start = daemon._start_day(partner, latest, errors, complete)
    if start is None:
        return []
    registries = store.payment_registries(partner.inn)
    recorded = {r.day for r in registries}
    last = max(recorded, default=None)
    if not partner.empty_registry and partner.readings_format is None:
        # Its days with nothing to close (no credit, no registry to redo) write nothing:
        # no run for them, or a partner's catch-up (a first start, a worker down a few
        # days) would be a chain of empty closes, one queue poll each, before its day.
        start = _first_with_work(rt, partner, start, registries)
        if start is None:
            return []
    days: list[dt.date] = []
    day = start
    while day <= latest:
        # A later day closed by hand meanwhile: the days before it are passed (as the
        # scheduler does; their late payments go into the next registry).
        if last is None or day >= last or day in recorded:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _first_with_work(
    rt: Runtime,
    partner: PartnerConfig,
    start: dt.date,
    registries: Sequence[PaymentRegistryInfo],
) -> dt.date | None:
    """``partner``'s first day from ``start`` on whose close writes something (None: none yet).

    For a partner without empty registries or readings: a recorded registry (a close to
    redo, or one made by hand), else the day of its oldest open credit (one of a day closed
    already, confirmed late, goes into ``start``'s registry). A credit of a day passed here
    that turns up later (a late confirmation before the next close) is found by the next
    plan: the later day's close refuses to run before it (:func:`close_day`), and the plan
    then starts from the credit's day.
    """
    later = [r.day for r in registries if r.day >= start]
    if later:
        return min(later)
    oldest = open_credits(rt.store(), rt.config, partner, registries=registries, limit=1)
    if not oldest or oldest[0].at is None:
        return None
    return max(start, day_of(oldest[0].at, partner.cutoff, rt.config.service.time_zone))


def _states(ids: Iterable[str]) -> dict[str, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = DBOS.list_workflows(workflow_ids=wanted, load_input=False, load_output=False)
    return {w.workflow_id: str(w.status) for w in found}


def plan(
    now: dt.datetime, partners: Iterable[str] | None = None, after: dt.date | None = None
) -> dict[str, Any]:
    """Each partner's next day to close at ``now``, failed runs of it removed.

    ``after``: the days up to it count as closed (a close workflow planning its partner's
    next day while it still runs).

    Returns ``{"next": [[inn, day], …], "new": bool, "errors": […]}``: ``new`` when a day
    is queued that had no run before (the backstop asks about every waiting payment first).
    Reads only, but for removing a failed run: idempotent.
    """
    rt = runtime()
    errors: list[PassError] = []
    wanted = set(partners) if partners is not None else None
    days: dict[str, list[dt.date]] = {}
    delivered: set[int] | None = None

    def complete() -> set[int]:
        nonlocal delivered
        if delivered is None:
            delivered = {d.registry_id for d in rt.store().deliveries()}
        return delivered

    for partner in rt.config.partners:
        if rt.stop.is_set():
            break
        if wanted is not None and partner.inn not in wanted:
            continue
        try:
            found = _candidates(rt, partner, now, errors, complete)
            days[partner.inn] = [d for d in found if after is None or d > after]
        except Exception as exc:
            rt.daemon()._error(errors, Stage.CLOSE, partner.inn, "", exc)
    states = _states(close_id(inn, d) for inn, ds in days.items() for d in ds)
    chosen: list[list[str]] = []
    new = False
    for inn, ds in days.items():
        for day in ds:
            wid = close_id(inn, day)
            state = states.get(wid)
            if state == "SUCCESS":
                continue
            if state in _RETRY:
                DBOS.delete_workflow(wid)
                event(log, "jobs.close_requeued", logging.WARNING, partner=inn, day=day, was=state)
                state = None
            if state is None:
                new = True
                chosen.append([inn, day.isoformat()])
            # Queued or running (or cancelled by an operator): the partner waits for it.
            break
    return {"next": chosen, "new": new, "errors": errors_of(errors)}


@DBOS.step(name="pes.close.plan")
def plan_step(
    now: str, partners: list[str] | None = None, after: str | None = None
) -> dict[str, Any]:
    """:func:`plan` as a step of a workflow (its answer recorded for a recovery)."""
    return plan(parse_iso(now), partners, dt.date.fromisoformat(after) if after else None)


def queue_closes(chosen: list[list[str]], now: str) -> None:
    """Queue each ``[inn, day]`` close of a plan (from a workflow: each start recorded)."""
    for inn, day in chosen:
        with SetWorkflowID(close_id(inn, dt.date.fromisoformat(day))):
            DBOS.enqueue_workflow(CLOSES, close_workflow, inn, day, now)


@DBOS.step(name="pes.close.registry", retries_allowed=True, max_attempts=3, interval_seconds=2.0)
def _registry(inn: str, day: str, now: str) -> dict[str, Any]:
    # Idempotent (close_day): a re-run after a crash writes the same number and bytes.
    rt = runtime()
    partner = _partner(rt, inn)
    the_day = dt.date.fromisoformat(day)
    try:
        result = close_day(rt.store(), rt.config, rt.host, partner, the_day, now=parse_iso(now))
    except Exception as exc:
        errors: list[PassError] = []
        rt.daemon()._error(errors, Stage.CLOSE, inn, day, exc)
        raise StageFailed(_describe(exc)) from None
    rt.daemon().day_closed(result)  # told and counted as the scheduler thread does
    pending = result.delivery is not None and result.delivery.status is DeliveryStatus.PENDING
    at = parse_iso(now)
    return {
        "skipped": result.skipped,
        "reason": result.reason,
        "number": result.info.number if result.info is not None else None,
        "new": bool(result.info is not None and result.info.new),
        "delivery_pending": pending,
        # What the workflow does next, decided here so that a recovery replays the same
        # steps (recorded with this answer) whatever the configuration is by then.
        "readings": partner.readings_format is not None,
        "latest": the_day >= rt.daemon().last_ended_day(partner, at),
    }


@DBOS.step(name="pes.close.readings", retries_allowed=True, max_attempts=3, interval_seconds=2.0)
def _readings(inn: str, day: str, now: str) -> None:
    # Idempotent: the readings file of a partner-day is written whole, the same each time.
    rt = runtime()
    partner = _partner(rt, inn)
    try:
        close_readings(
            rt.store(), rt.config, rt.host, partner, dt.date.fromisoformat(day), now=parse_iso(now)
        )
    except Exception as exc:
        errors: list[PassError] = []
        rt.daemon()._error(errors, Stage.CLOSE, inn, day, exc)
        raise StageFailed(_describe(exc)) from None


@DBOS.workflow(name="pes.close")
def close_workflow(inn: str, day: str, now: str) -> dict[str, Any]:
    """Close ``inn``'s ``day`` (ISO date) as at ``now``; then queue its next day, if due.

    Started only under its id :func:`close_id` (:func:`queue_closes`).
    """
    out = _registry(inn, day, now)
    # (an answer recorded before "readings" and "latest" were: every step, as then)
    if out.get("readings", True):
        _readings(inn, day, now)
    if out["delivery_pending"]:
        # A registry just closed is handed over at once, not a delivery interval later.
        with SetWorkflowID(f"deliver:{close_id(inn, dt.date.fromisoformat(day))}"):
            DBOS.enqueue_workflow(DELIVERIES, deliver_workflow, now)
    if not out.get("latest", False):
        # A day before the partner's last ended one: the next is due now. (After the last
        # ended day nothing is: the plan would read the store for nothing.)
        following = plan_step(now, [inn], day)
        queue_closes(following["next"], now)
    return out
