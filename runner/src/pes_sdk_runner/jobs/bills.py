"""Monthly bills (квитанции) on the job engine: one run per activated debt registry.

The scan's and the poll's workflows call :func:`queue_bills` with what their ingest
activated, right after it (as they queue the new charges' notices); each registry's run
is named ``bills:<ИНН>:<YYYY-MM>:<number>``, so it is queued once in the fleet however
many times it is asked for, and a corrected registry (a higher number) has a run of its
own, which rewrites what changed. The run makes the bills :data:`STEP_ACCOUNTS` accounts
a step (:func:`pes_sdk_runner.bills.make_bills`): a process that dies mid-registry is
recovered from its last finished step, not from the first account, and the step it was
in writes again only the files it had not finished (each file is compared by its content
hash first). Then it removes the bills of accounts the registry no longer has.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS, SetWorkflowID

from pes_sdk.period import Period
from pes_sdk_runner.bills import active_registry, make_bills, prune_bills
from pes_sdk_runner.jobs.engine import runtime
from pes_sdk_runner.jobs.registry import BILLS

__all__ = ["BILLS", "STEP_ACCOUNTS", "bills_workflow", "queue_bills", "workflow_id"]

#: Accounts one step makes bills for (at 200 a second, some ten seconds a step).
STEP_ACCOUNTS = 2000


def workflow_id(partner_inn: str, period: str, number: int) -> str:
    """The id of the run making the bills of one registry."""
    return f"bills:{partner_inn}:{period}:{number}"


@DBOS.step(name="pes.bills.page")
def _page(partner_inn: str, period: str, number: int, after: str | None) -> dict[str, Any]:
    # Idempotent: a file is written only when its content differs from what is there, and
    # each write is atomic; a re-run of this step rewrites nothing it had finished.
    rt = runtime()
    partner = rt.config.partner(partner_inn)
    store = rt.store()
    registry = active_registry(store, partner_inn, Period.parse(period), number)
    if partner is None or registry is None:
        return {"skipped": True, "accounts": 0, "written": 0, "last": after, "finished": True}
    done = make_bills(
        store, partner.partner, registry, rt.config.service.data,
        after=after, max_accounts=STEP_ACCOUNTS,
    )  # fmt: skip
    return {
        "skipped": False,
        "accounts": done.accounts,
        "written": done.written,
        "last": done.last,
        "finished": done.finished,
    }


@DBOS.step(name="pes.bills.prune")
def _prune(partner_inn: str, period: str, number: int) -> int:
    # Idempotent: removing what is already gone removes nothing.
    rt = runtime()
    store = rt.store()
    registry = active_registry(store, partner_inn, Period.parse(period), number)
    if registry is None:
        return 0
    return prune_bills(store, registry, rt.config.service.data)


@DBOS.workflow(name="pes.bills")
def bills_workflow(partner_inn: str, period: str, number: int) -> dict[str, Any]:
    """Make the bills of the partner's registry ``number`` of ``period`` (YYYY-MM)."""
    after: str | None = None
    accounts = written = 0
    while True:
        done = _page(partner_inn, period, number, after)
        if done["skipped"]:
            return {"skipped": True, "accounts": 0, "written": 0, "removed": 0}
        accounts += int(done["accounts"])
        written += int(done["written"])
        if done["finished"]:
            break
        after = done["last"]
    removed = _prune(partner_inn, period, number)
    return {"skipped": False, "accounts": accounts, "written": written, "removed": removed}


def queue_bills(activated: list[list[Any]]) -> None:
    """Queue the bills of each ``[partner ИНН, period, registry number]`` activated (from a
    workflow, right after its ingest: each start recorded; an id queued before, running
    or done, is not queued again)."""
    for inn, period, number in activated:
        with SetWorkflowID(workflow_id(str(inn), str(period), int(number))):
            DBOS.enqueue_workflow(BILLS, bills_workflow, str(inn), str(period), int(number))
