"""Where the runner's background work is registered: its modules, queues and the tick.

**Adding background work** (notification campaigns, autopay charges, …) takes three
edits here and a module beside this one:

1. the module (``pes_sdk_runner/jobs/<job>.py``): its workflows and steps, decorated with
   ``@DBOS.workflow(name="pes.<job>…")`` and ``@DBOS.step(name=…)`` (names fixed: they are
   stored with every run, and a renamed workflow cannot be recovered), reading what they
   need from :func:`~pes_sdk_runner.jobs.engine.runtime`. Every step must be idempotent:
   the engine runs a step again when its process died before recording its end;
2. its module's name in :data:`MODULES` (every process imports the same ones: a process
   without a workflow's code cannot run it);
3. its queue in :func:`queues`, with the concurrency it can bear (a global 1 for work two
   processes must not do at once; a per-process bound for work the store serialises);
4. when it is periodic, a :class:`~pes_sdk_runner.jobs.tick.Periodic` in
   :data:`pes_sdk_runner.jobs.tick.PERIODIC`: the fleet's one tick queues one run per
   interval (its workflow id names the interval), whatever the number of processes;
   ``single=True`` when a run is a whole pass on a queue of one at a time in the fleet
   (no run is queued while one waits or runs). Work per item (a campaign's clients, a
   charge per account) is queued by its own workflow with ids that name the item, so that
   a re-run queues nothing twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pes_sdk_runner.config.models import RunnerConfig

__all__ = [
    "AUTOPAY",
    "BILLS",
    "CAMPAIGNS",
    "CLOSES",
    "DELIVERIES",
    "MODULES",
    "NOTIFY",
    "PAYMENTS",
    "POLLS",
    "RECEIPTS",
    "SCANS",
    "TICKS",
    "TRIGGERS",
    "QueueSpec",
    "declare",
    "load",
    "queues",
]

#: The modules whose workflows every runner process registers.
MODULES = (
    "pes_sdk_runner.jobs.scan",
    "pes_sdk_runner.jobs.poll",
    "pes_sdk_runner.jobs.payments",
    "pes_sdk_runner.jobs.closes",
    "pes_sdk_runner.jobs.deliver",
    "pes_sdk_runner.jobs.notify",
    "pes_sdk_runner.jobs.triggers",
    "pes_sdk_runner.jobs.campaigns",
    "pes_sdk_runner.jobs.autopay",
    "pes_sdk_runner.jobs.receipts",
    "pes_sdk_runner.jobs.bills",
    "pes_sdk_runner.jobs.tick",
)

#: The tick: one at a time per process (it decides what is due and queues it). Not one at
#: a time across the fleet: a tick left PENDING by a process killed for good would count
#: against that limit until recovered, and the recovery of gone executors runs in a tick,
#: so every later tick would wait forever. Ticks at once are safe: what a tick queues is
#: named by its interval or partner-day, and each of its steps is idempotent.
TICKS = "pes-tick"
#: Inbox scans: one at a time (two scanners would race for the same files).
SCANS = "pes-scan"
#: Billing-source polls: one at a time.
POLLS = "pes-poll"
#: The payment backstop (asking the acquirer about waiting payments): one at a time.
PAYMENTS = "pes-payments"
#: Partner-day closes: ``daemon.close_concurrency`` per process, other partners' days.
CLOSES = "pes-close"
#: Delivery runs: one at a time (a delivery must not be handed over twice at once).
DELIVERIES = "pes-deliver"
#: Notification batches (:mod:`.notify`): a few per process at once; the store's claim of
#: each message keeps any number of processes from sending one twice.
NOTIFY = "pes-notify"
#: Triggers (:mod:`.triggers`): the stage and each trigger's run, one at a time per process
#: (a run writes its audience's rows; the batches it queues are sent on ``NOTIFY``).
TRIGGERS = "pes-triggers"
#: Campaigns (:mod:`.campaigns`): one run per campaign (its id names it), one at a time per
#: process: a run writes its audience's rows; the batches it queues are sent on ``NOTIFY``.
CAMPAIGNS = "pes-campaign"
#: Autopay (:mod:`.autopay`): the planning runs and one workflow per charge, several per
#: process (each mostly sleeps, or waits on the acquirer); the store's claim of a charge
#: and its attempts' keys keep any number of processes from charging twice.
AUTOPAY = "pes-autopay"
#: Monthly bills (:mod:`.bills`): one registry's run at a time per process (rendering is
#: CPU-bound; its steps write a file only when its content changed).
BILLS = "pes-bills"
#: E-receipts (:mod:`.receipts`): a payment's receipt and the sweep. A few per process (each
#: waits on the register); the receipt's row and external_id keep two runs from two receipts.
RECEIPTS = "pes-receipts"
#: Batches one process sends at once (each waits on its channels' answers, not the store).
NOTIFY_CONCURRENCY = 2


#: How often a process looks for queued work (seconds): how soon a tick's stage starts.
POLLING_INTERVAL = 1.0
#: The closes' queue is looked at more often: a process takes at most its free slots
#: (``close_concurrency``) per look, and a close takes a fraction of a second, so at one
#: look a second 300 partners' closes on two workers would take 300 / 8 = 38 s however
#: fast each one is. Five looks a second: up to 20 closes a second per process; an idle
#: worker spends about 3 % of a core more than at one (docs/performance.md).
CLOSE_POLLING_INTERVAL = 0.2


@attrs.frozen
class QueueSpec:
    """A queue and its limits (None: no limit)."""

    name: str
    #: at most this many of its workflows run at once in the whole fleet
    global_concurrency: int | None = None
    #: at most this many at once in one process
    worker_concurrency: int | None = None
    #: seconds between a process's looks for queued work
    polling_interval: float = POLLING_INTERVAL


def queues(config: RunnerConfig) -> tuple[QueueSpec, ...]:
    """The runner's queues with their limits."""
    return (
        QueueSpec(TICKS, worker_concurrency=1),
        QueueSpec(SCANS, global_concurrency=1),
        QueueSpec(POLLS, global_concurrency=1),
        QueueSpec(PAYMENTS, global_concurrency=1),
        QueueSpec(
            CLOSES,
            worker_concurrency=config.daemon.close_concurrency,
            polling_interval=CLOSE_POLLING_INTERVAL,
        ),
        QueueSpec(DELIVERIES, global_concurrency=1),
        QueueSpec(NOTIFY, worker_concurrency=NOTIFY_CONCURRENCY),
        QueueSpec(CAMPAIGNS, worker_concurrency=1),
        QueueSpec(TRIGGERS, worker_concurrency=1),
        QueueSpec(AUTOPAY, worker_concurrency=8),
        QueueSpec(RECEIPTS, worker_concurrency=2),
        QueueSpec(BILLS, worker_concurrency=1),
    )


def load() -> None:
    """Import every module of :data:`MODULES` (their decorators register the workflows)."""
    for name in MODULES:
        importlib.import_module(name)


def declare(config: RunnerConfig) -> None:
    """Register the queues and the tick's schedule (after launch; idempotent)."""
    from dbos import DBOS

    from pes_sdk_runner.jobs import tick

    for spec in queues(config):
        DBOS.register_queue(
            spec.name,
            global_concurrency=spec.global_concurrency,
            worker_concurrency=spec.worker_concurrency,
            polling_interval_sec=spec.polling_interval,
        )
    tick.schedule(config)
