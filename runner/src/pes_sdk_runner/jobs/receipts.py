"""E-receipts on the job engine: one payment's receipt, and the periodic sweep.

Only where the runner registers receipts itself (``[receipts] register`` set, receipts
enabled, a gateway that does not fiscalise: :func:`~pes_sdk_runner.receipts.
registers_receipts`); elsewhere both workflows return at once.

* ``pes.receipt`` (:func:`receipt_workflow`), queued under the id ``receipt:<order id>``
  (:func:`queue_receipt`) when a payment is recorded paid: it sends the receipt and reads
  the register's report a few times, :data:`POLL_SECONDS` apart (a durable sleep), then
  leaves a receipt still waiting to the sweep;
* ``pes.receipts`` (:func:`receipts_workflow`), the tick's periodic stage: the backstop
  (:func:`~pes_sdk_runner.receipts.sweep`) for a paid payment whose workflow was never
  queued (a crash between the payment and its queueing, a webhook's process), a receipt
  still waiting, an e-mail not queued, and the contacts to delete.

Every step is :func:`~pes_sdk_runner.receipts.issue_receipt` or the sweep, idempotent
whatever the number of runs and processes: the receipt's row and ``external_id`` are
written once, the register answers a repeated ``external_id`` with the document it has,
and the e-mail's rows are keyed by their source.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import TYPE_CHECKING, Any

from dbos import DBOS, SetWorkflowID

from pes_sdk.errors import ConfigError
from pes_sdk_runner.jobs.engine import parse_iso, runtime
from pes_sdk_runner.jobs.registry import RECEIPTS as QUEUE

if TYPE_CHECKING:
    from pes_sdk.fiscal import FiscalRegister
    from pes_sdk_runner.jobs.engine import Runtime

__all__ = [
    "POLLS",
    "POLL_SECONDS",
    "QUEUE",
    "queue_receipt",
    "receipt_workflow",
    "receipts_workflow",
    "wanted",
]

#: Reports a payment's workflow reads before leaving the receipt to the sweep.
POLLS = 5
#: Seconds between them (ATOL registers a receipt in seconds to a minute).
POLL_SECONDS = 5.0

_local = threading.local()
_fiscalises: dict[str, bool] = {}
_lock = threading.Lock()


def wanted(rt: Runtime) -> bool:
    """Whether this runner registers receipts itself (the tick's ``Periodic.wanted``)."""
    config = rt.config
    if not config.receipts.enabled or config.receipts.register is None:
        return False
    name = config.gateway.name
    with _lock:
        known = _fiscalises.get(name)
    if known is None:
        # The gateway's capabilities, from a gateway built once per process (building one
        # touches no network); a gateway that fiscalises takes receipts itself.
        try:
            gateway = rt.host.gateways()[name].create(config.gateway.adapter.merged())
        except (ConfigError, KeyError):
            return False  # no gateway in this process: the payments' own process does it
        known = bool(gateway.capabilities.receipts)
        close = getattr(gateway, "close", None)
        if callable(close):
            close()
        with _lock:
            _fiscalises[name] = known
    return not known


def _register(rt: Runtime) -> FiscalRegister:
    """This thread's register (its token and connections are its own)."""
    register: FiscalRegister | None = getattr(_local, "register", None)
    if register is None:
        from pes_sdk_runner.receipts import open_register

        register = _local.register = open_register(rt.config, rt.host)
    return register


@DBOS.step(name="pes.receipt.issue")
def _issue(order_id: str) -> dict[str, Any]:
    from pes_sdk_runner.receipts import issue_receipt

    rt = runtime()
    if not wanted(rt):
        return {"status": None, "skipped": True}
    # The step's own time (recorded with its answer): the rows' timestamps.
    now = dt.datetime.now(dt.UTC)
    row = issue_receipt(rt.store(), rt.config, _register(rt), uuid.UUID(order_id), now)
    return {"status": None if row is None else str(row.status), "skipped": False}


@DBOS.workflow(name="pes.receipt")
def receipt_workflow(order_id: str) -> dict[str, Any]:
    """The receipt of payment ``order_id``: sent, its report read up to :data:`POLLS`
    times, the e-mail queued; a receipt still waiting then is the sweep's."""
    done: dict[str, Any] = {}
    for _ in range(POLLS):
        done = _issue(order_id)
        if done["status"] != "wait":
            break
        DBOS.sleep(POLL_SECONDS)
    return done


def queue_receipt(order_id: uuid.UUID) -> None:
    """Queue payment ``order_id``'s receipt (from a workflow: an id queued before, running
    or done, is not queued again)."""
    with SetWorkflowID(f"receipt:{order_id}"):
        DBOS.enqueue_workflow(QUEUE, receipt_workflow, str(order_id))


@DBOS.step(name="pes.receipts.sweep")
def _sweep(now: str) -> dict[str, Any]:
    from pes_sdk_runner.receipts import sweep

    rt = runtime()
    if not wanted(rt):
        return {"skipped": True}
    swept = sweep(rt.store(), rt.config, _register(rt), parse_iso(now))
    return {"skipped": False, "statuses": dict(swept.statuses), "forgotten": swept.forgotten}


@DBOS.workflow(name="pes.receipts")
def receipts_workflow(now: str) -> dict[str, Any]:
    """The receipts' sweep at ``now`` (ISO 8601, aware)."""
    return _sweep(now)
