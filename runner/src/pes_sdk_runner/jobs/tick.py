"""The fleet's tick: every ``daemon.tick`` seconds, what is due is queued, once.

One schedule (``pes-tick``, a cron of whole seconds) is stored in the system database;
every process's engine fires it, but each firing is one workflow id, so the fleet runs one
tick per instant (its queue: one at a time per process, not across the fleet, where a tick
left by a process killed for good would hold every later one back). A tick does nothing
itself but decide and queue:

* each :data:`PERIODIC` stage once per interval: its workflow id names the interval
  (``scan:<n>``, …: :func:`~pes_sdk_runner.jobs.common.slot_id`), so the ticks within one
  interval queue it once between them; a stage run one at a time in the fleet (the scan,
  the polls, the backstop, the deliveries) is not queued while a run of it waits or runs
  (:attr:`Periodic.single`);
* once per ``scan_interval``, the unfinished work of executors gone for good (killed, and
  no live process holds their lease ``jobs:<id>``): :func:`recover_step`; and the
  workflows finished more than :data:`KEEP_FINISHED` ago are deleted
  (:func:`housekeeping_step`);
* the closes, when a partner's day has just ended (its cut-off plus ``close_grace``) or
  once per ``scan_interval`` (to retry what failed): :func:`~pes_sdk_runner.jobs.closes.plan`,
  the backstop first over every waiting payment when a day is to be closed for the first
  time, then each partner's next day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import attrs
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from pes_sdk_runner.config.models import DaemonConfig, RunnerConfig
from pes_sdk_runner.jobs import receipts as receipts_jobs
from pes_sdk_runner.jobs.autopay import days_workflow
from pes_sdk_runner.jobs.campaigns import start_due
from pes_sdk_runner.jobs.closes import plan_step, queue_closes
from pes_sdk_runner.jobs.common import slot_id
from pes_sdk_runner.jobs.deliver import deliver_workflow
from pes_sdk_runner.jobs.engine import Runtime, executor_lease, iso, runtime
from pes_sdk_runner.jobs.payments import check_step, payments_workflow
from pes_sdk_runner.jobs.poll import poll_workflow
from pes_sdk_runner.jobs.registry import (
    AUTOPAY,
    DELIVERIES,
    PAYMENTS,
    POLLS,
    RECEIPTS,
    SCANS,
    TICKS,
    TRIGGERS,
)
from pes_sdk_runner.jobs.scan import scan_workflow
from pes_sdk_runner.jobs.triggers import triggers_workflow
from pes_sdk_runner.lease import holder_alive
from pes_sdk_runner.logs import event

__all__ = ["PERIODIC", "SCHEDULE", "Periodic", "cron", "schedule", "tick_workflow"]

log = logging.getLogger("pes_sdk_runner.jobs")

#: The tick's schedule name in the system database.
SCHEDULE = "pes-tick"


def _always(rt: Runtime) -> bool:
    return True


def _autopay_wanted(rt: Runtime) -> bool:
    # a process without a payment processor cannot charge; the others take the charges
    return rt.config.autopay.enabled and rt.processor is not None


@attrs.frozen
class Periodic:
    """A stage the tick queues once per interval."""

    #: the workflow id's prefix
    stage: str
    queue: str
    #: the workflow, called with the tick's time (ISO 8601)
    workflow: Callable[[str], Any]
    #: its interval in seconds, from ``[daemon]``
    interval: Callable[[DaemonConfig], float]
    #: whether there is anything for it (no billing source: no polls)
    wanted: Callable[[Runtime], bool] = _always
    #: a run is a whole pass and its queue runs one at a time in the fleet: while a run
    #: waits or runs (a slow one, or one a killed process left until it is recovered),
    #: the ticks queue no other. Queued one per interval regardless, passes slower than
    #: the interval piled up (a backstop every second, a few seconds each under load):
    #: each new one waited behind all the others, a lost webhook's payment was found ever
    #: later, and every run but the first repeated what the one before it had just done.
    single: bool = False


PERIODIC: tuple[Periodic, ...] = (
    Periodic(
        "scan",
        SCANS,
        scan_workflow,
        lambda d: d.scan_interval,
        lambda rt: any(p.source.is_inbox for p in rt.config.partners),
        single=True,
    ),
    Periodic(
        "poll",
        POLLS,
        poll_workflow,
        lambda d: d.poll_interval,
        lambda rt: any(not p.source.is_inbox for p in rt.config.partners),
        single=True,
    ),
    Periodic(
        "payments",
        PAYMENTS,
        payments_workflow,
        lambda d: d.payment_check_interval,
        lambda rt: rt.check_payment is not None,
        single=True,
    ),
    Periodic("deliver", DELIVERIES, deliver_workflow, lambda d: d.delivery_interval, single=True),
    # the triggers due (pes_sdk_runner.triggers.plan): each queued once under its own id
    Periodic("triggers", TRIGGERS, triggers_workflow, lambda d: d.scan_interval),
    # autopay: the monthly days' plans, and a workflow for every unfinished charge (each
    # queued once under its own id: overlapping runs queue nothing twice)
    Periodic("autopay", AUTOPAY, days_workflow, lambda d: d.scan_interval, _autopay_wanted),
    # e-receipts on the service's register: paid payments without one (the webhook path
    # queues none itself); overlapping sweeps are harmless
    Periodic(
        "receipts",
        RECEIPTS,
        receipts_jobs.receipts_workflow,
        lambda d: d.payment_check_interval,
        receipts_jobs.wanted,
    ),
)


def cron(tick: int) -> str:
    """The cron (seconds first) firing every ``tick`` seconds, a divisor of 60."""
    if tick < 1 or 60 % tick:
        raise ValueError(f"daemon.tick must divide 60, not {tick}")
    return "0 * * * * *" if tick == 60 else f"*/{tick} * * * * *"


def _single(stage: Periodic) -> contextlib.AbstractContextManager[object]:
    """The enqueue options of :attr:`Periodic.single`: at most one run queued or running.

    The engine's deduplication id (the stage's name) is held by a run from its queueing to
    its end, across the fleet; a tick that meets it is handed the holder, recorded as the
    tick's own child (a replayed tick is handed the same). A holder left by a killed
    process keeps it until the run is recovered and ends, as the queue's limit of one
    already made every later run wait.
    """
    if not stage.single:
        return contextlib.nullcontext()
    return SetEnqueueOptions(deduplication_id=stage.stage, duplication_policy="return-existing")


def _new_interval(rt: Runtime, now: dt.datetime) -> bool:
    """This tick is the first of a ``scan_interval``."""
    settings = rt.config.daemon
    before = now - dt.timedelta(seconds=settings.tick)
    return slot_id("plan", settings.scan_interval, now) != slot_id(
        "plan", settings.scan_interval, before
    )


def _closes_due(rt: Runtime, now: dt.datetime) -> bool:
    """A partner's day ended since the previous tick, or a new ``scan_interval`` began."""
    if _new_interval(rt, now):
        return True
    before = now - dt.timedelta(seconds=rt.config.daemon.tick)
    daemon = rt.daemon()
    return any(
        daemon.last_ended_day(p, now) != daemon.last_ended_day(p, before)
        for p in rt.config.partners
    )


@DBOS.step(name="pes.recover.gone")
def recover_step() -> list[str]:
    """Take back the unfinished work of executors gone: no live process holds their lease.

    A worker killed whose id never starts again would otherwise hold its workflows (and a
    partner's later days) forever. Idempotent: a workflow re-queued twice runs once (the
    queue's dequeue is atomic), and a dead executor restarting meanwhile re-queues the same.
    """
    rt = runtime()
    pending = DBOS.list_workflows(status="PENDING", load_input=False, load_output=False)
    others = sorted(
        {w.executor_id for w in pending if w.executor_id and w.executor_id != rt.executor_id}
    )
    if not others:
        return []
    now = dt.datetime.now(dt.UTC)  # the leases' clock: a step's answer is recorded
    store = rt.store()
    gone = [e for e in others if not holder_alive(store.lease(executor_lease(e)), now)]
    if gone:
        taken = DBOS._recover_pending_workflows(gone)
        event(
            log,
            "jobs.taken_over",
            logging.WARNING,
            executors=gone,
            workflows=len(taken),
            by=rt.executor_id,
        )
    return gone


#: Finished workflows are deleted this long after they ended, at the least: the engine keeps
#: every run (its inputs, outputs, steps) forever otherwise. ``close:*`` runs of the
#: catch-up range are kept (``catch_up_days`` plus two): they are how an empty day is known
#: to be closed (a deleted one is closed again: a no-op).
KEEP_FINISHED = dt.timedelta(days=7)
#: The most finished workflows one tick deletes (a backlog goes over several).
DELETE_PER_TICK = 1000


@DBOS.step(name="pes.housekeeping")
def housekeeping_step(now: str) -> int:
    """Delete workflows that ended (succeeded or were cancelled) long enough ago.

    Failed ones stay for an operator (``queue_status``'s failed count) until the plan
    retries them. Idempotent: deleting what is gone is a no-op.
    """
    rt = runtime()
    keep = max(KEEP_FINISHED, dt.timedelta(days=rt.config.daemon.catch_up_days + 2))
    cutoff = dt.datetime.fromisoformat(now) - keep
    old = DBOS.list_workflows(
        status=["SUCCESS", "CANCELLED"],
        completed_before=cutoff.isoformat(),
        limit=DELETE_PER_TICK,
        load_input=False,
        load_output=False,
    )
    ids = [w.workflow_id for w in old]
    if ids:
        DBOS.delete_workflows(ids)
        event(log, "jobs.deleted_finished", count=len(ids), before=cutoff.isoformat())
    return len(ids)


@DBOS.workflow(name="pes.tick")
def tick_workflow(scheduled: dt.datetime, context: Any) -> None:
    """One tick at its scheduled time (aware): queue what is due (see the module's text)."""
    rt = runtime()
    now = scheduled if scheduled.tzinfo is not None else scheduled.replace(tzinfo=dt.UTC)
    at = iso(now)
    queued: list[str] = []
    for stage in PERIODIC:
        if not stage.wanted(rt):
            continue
        wid = slot_id(stage.stage, stage.interval(rt.config.daemon), now)
        with SetWorkflowID(wid), _single(stage):
            handle = DBOS.enqueue_workflow(stage.queue, stage.workflow, at)
        queued.append(handle.get_workflow_id())  # a single stage's: the one waiting or running
    queued += start_due(at)  # campaigns whose start has come: campaign:<id>, once
    if _new_interval(rt, now):
        recover_step()
        housekeeping_step(at)
    closes: list[list[str]] = []
    if _closes_due(rt, now):
        planned = plan_step(at)
        closes = planned["next"]
        if closes and planned["new"] and rt.check_payment is not None:
            # Before a day is first closed the acquirer is asked about every waiting
            # payment, however recently it changed: one captured before the cut-off whose
            # webhook was lost is credited at its capture time, into its own day's registry.
            # A step of the tick, not a workflow waited for: a wait would outlive a stopping
            # engine. Beside a periodic backstop elsewhere it may ask twice; the processor
            # credits once (the payment's row lock).
            check_step(at, True)
        queue_closes(closes, at)
    rt.daemon().ticked(now)
    event(log, "jobs.tick", logging.DEBUG, at=at, queued=queued, closes=len(closes))


def schedule(config: RunnerConfig) -> None:
    """Create or update the tick's schedule (every process at start: idempotent)."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": SCHEDULE,
                "workflow_fn": tick_workflow,
                "schedule": cron(config.daemon.tick),
                "queue_name": TICKS,
            }
        ]
    )
