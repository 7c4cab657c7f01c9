"""Campaigns: the tick starts each due one once in the fleet (``campaign:<id>``).

The workflow pages the campaign's audience out of the store, one step a page
(:func:`pes_sdk_runner.campaigns.send_page`): each step writes its page's message rows and
queues their ``notify`` batches, and returns the page's last client, which the engine
records. A process killed mid-campaign is recovered from its last recorded step: the page
it was writing is written again (no row twice: the messages' key is unique; no batch
twice: a batch's workflow id names its rows) and the next pages follow. Nobody gets a
second copy (a message is claimed once) and nobody is left out (the pages cover the
audience in client order).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dbos import DBOS, SetWorkflowID

from pes_sdk_runner.campaigns import send_page
from pes_sdk_runner.jobs.engine import runtime
from pes_sdk_runner.jobs.registry import CAMPAIGNS
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.campaigns import CampaignState

__all__ = ["campaign_workflow", "due_step", "start_due"]

log = logging.getLogger("pes_sdk_runner.jobs")


@DBOS.step(name="pes.campaign.due")
def due_step(at: str) -> list[int]:
    """The scheduled campaigns whose start has come (a read: idempotent)."""
    return runtime().store().due_campaigns(dt.datetime.fromisoformat(at))


def start_due(at: str) -> list[str]:
    """In the tick's workflow: queue ``campaign:<id>`` for each due campaign. The id names
    the campaign, so every tick of the fleet that finds it due queues it once between them."""
    queued: list[str] = []
    for campaign_id in due_step(at):
        wid = f"campaign:{campaign_id}"
        with SetWorkflowID(wid):
            DBOS.enqueue_workflow(CAMPAIGNS, campaign_workflow, campaign_id)
        queued.append(wid)
    return queued


@DBOS.step(name="pes.campaign.start")
def _start(campaign_id: int) -> bool:
    # scheduled → sending, once; True again on a re-run (it is sending)
    return runtime().store().start_campaign(campaign_id, dt.datetime.now(dt.UTC))


@DBOS.step(name="pes.campaign.page")
def _page(campaign_id: int, after: str | None) -> dict[str, Any]:
    rt = runtime()
    store = rt.store()
    campaign = store.campaign(campaign_id)
    if campaign is None or campaign.state is not CampaignState.SENDING:
        return {"stop": True, "after": None, "clients": 0}  # cancelled meanwhile
    last, done = send_page(store, rt.config, campaign, after)
    from pes_sdk_runner.crashpoints import crashpoint

    crashpoint("campaign.page-written")
    return {"stop": False, "after": last, "clients": done.clients}


@DBOS.step(name="pes.campaign.finish")
def _finish(campaign_id: int) -> int:
    store = runtime().store()
    campaign = store.campaign(campaign_id)
    assert campaign is not None
    targeted = store.source_clients(campaign.source)
    store.finish_campaign(campaign_id, targeted, dt.datetime.now(dt.UTC))
    return targeted


@DBOS.workflow(name="pes.campaign")
def campaign_workflow(campaign_id: int) -> dict[str, Any]:
    """Write and queue a campaign's messages, a page of its audience a step."""
    if not _start(campaign_id):
        return {"started": False}
    after: str | None = None
    pages = clients = 0
    while True:
        page = _page(campaign_id, after)
        if page["stop"]:
            event(log, "campaign.cancelled", campaign=campaign_id, clients=clients)
            return {"started": True, "cancelled": True, "clients": clients}
        pages += 1
        clients += int(page["clients"])
        after = page["after"]
        if after is None:
            break
    targeted = _finish(campaign_id)
    event(log, "campaign.done", campaign=campaign_id, pages=pages, targeted=targeted)
    return {"started": True, "pages": pages, "targeted": targeted}
