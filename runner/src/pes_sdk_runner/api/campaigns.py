"""Partner campaigns for operators (:mod:`pes_sdk_runner.campaigns`).

``POST /v1/campaigns`` creates one (a draft, or scheduled when it has ``starts_at``);
``GET /v1/campaigns`` lists them (``partner``: one partner's), ``GET /v1/campaigns/{id}``
shows one; ``POST /v1/campaigns/{id}/schedule`` sets a draft's or a scheduled one's start;
``POST /v1/campaigns/{id}/cancel`` cancels one not done; ``GET /v1/campaigns/{id}/stats``
says what it achieved. Operators' token only. ``/metrics`` gains the notifications' gauges
(:class:`NotificationsCollector`: no per-campaign labels; per campaign is ``/stats``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

import attrs
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from pes_sdk import identifiers
from pes_sdk_runner import campaigns as cp
from pes_sdk_runner.api.app import ApiError, _Api, _check, _only, _run
from pes_sdk_runner.api.campaign_models import (
    CampaignRequest,
    CampaignStatsView,
    CampaignsView,
    CampaignView,
    ScheduleRequest,
)
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.store.campaigns import Campaign

__all__ = ["NotificationsCollector", "endpoints"]

#: The most campaigns one listing returns.
MAX_LISTED = 200


def _refused(exc: cp.CampaignError) -> ApiError:
    status = 409 if exc.code == "promotions-not-allowed" else 422
    return ApiError(status, exc.code, str(exc), exc.field)


def _campaign_id(request: Request) -> int:
    raw = request.path_params["campaign_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not-found", "no such campaign", "campaign_id")
    return int(raw)


def endpoints(api: _Api) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
    """The routes of this module, bound to ``api`` (and its metrics' collector added)."""
    api.metrics.add(NotificationsCollector(api.store))

    async def found(campaign_id: int) -> Campaign:
        campaign = await _run(api.store.campaign, campaign_id)
        if campaign is None:
            raise ApiError(404, "not-found", "no such campaign", "campaign_id")
        return campaign

    async def create(request: Request) -> Response:
        api.auth(request, "operator")
        req = await api.body(request, CampaignRequest)
        _check(identifiers.check_inn, req.partner, "partner")
        try:
            campaign = await _run(
                cp.create_campaign,
                api.store,
                api.config,
                partner_inn=req.partner,
                kind=req.kind,
                title=req.title,
                text=req.text,
                image=req.image,
                buttons=[(b.label, b.url) for b in req.buttons],
                audience=req.audience,
                houses=req.houses,
                starts_at=req.starts_at,
            )
        except cp.CampaignError as exc:
            raise _refused(exc) from None
        return api.json(CampaignView.of(campaign), status=201)

    async def listing(request: Request) -> Response:
        api.auth(request, "operator")
        _only(request, "partner")
        partner = request.query_params.get("partner")
        if partner is not None:
            _check(identifiers.check_inn, partner, "partner")
        found_ = await _run(api.store.campaigns, partner_inn=partner, limit=MAX_LISTED)
        return api.json(CampaignsView([CampaignView.of(c) for c in found_]))

    async def show(request: Request) -> Response:
        api.auth(request, "operator")
        _only(request)
        return api.json(CampaignView.of(await found(_campaign_id(request))))

    async def schedule(request: Request) -> Response:
        api.auth(request, "operator")
        campaign_id = _campaign_id(request)
        req = await api.body(request, ScheduleRequest)
        await found(campaign_id)
        try:
            start = cp.parse_start(req.starts_at, api.config.service.time_zone)
        except cp.CampaignError as exc:
            raise _refused(exc) from None
        if start < dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1):
            raise ApiError(422, "invalid", "starts_at is in the past", "starts_at")
        moved = await _run(api.store.schedule_campaign, campaign_id, start)
        if moved is None:
            raise ApiError(409, "conflict", "only a draft or a scheduled campaign is scheduled")
        return api.json(CampaignView.of(moved))

    async def cancel(request: Request) -> Response:
        api.auth(request, "operator")
        campaign_id = _campaign_id(request)
        await found(campaign_id)
        moved = await _run(api.store.cancel_campaign, campaign_id)
        if moved is None:
            raise ApiError(409, "conflict", "the campaign is done or cancelled already")
        return api.json(CampaignView.of(moved))

    async def stats(request: Request) -> Response:
        api.auth(request, "operator")
        _only(request)
        campaign = await found(_campaign_id(request))
        counted = await _run(
            cp.source_stats,
            api.store,
            campaign.source,
            api.config.service.time_zone,
            partner_inn=campaign.partner_inn,
        )
        return api.json(CampaignStatsView.of(campaign, counted))

    return [
        ("/v1/campaigns", create, "POST"),
        ("/v1/campaigns", listing, "GET"),
        ("/v1/campaigns/{campaign_id}", show, "GET"),
        ("/v1/campaigns/{campaign_id}/schedule", schedule, "POST"),
        ("/v1/campaigns/{campaign_id}/cancel", cancel, "POST"),
        ("/v1/campaigns/{campaign_id}/stats", stats, "GET"),
    ]


#: The window of messages ``/metrics`` counts (queued within it): a bounded read per scrape.
METRICS_WINDOW = dt.timedelta(days=1)

#: How long one reading of the notifications' facts serves the scrapes (seconds): a day of a
#: campaign to 800,000 clients is 800,000 rows to group, which every scrape of every process
#: would otherwise read again (Prometheus scrapes every 15 s by default).
METRICS_REFRESH = 60.0

_Facts = tuple[dict[tuple[str, str, str], int], dict[str, int], dict[str, int]]


@attrs.define(eq=False)  # the registry keys collectors by identity
class NotificationsCollector(Collector):
    """The notifications' gauges, read from the store (the fleet's: the same from every
    process; aggregate with ``max``) at most once every ``refresh`` seconds, the scrapes in
    between answered from that reading. Labels are bounded: kind (the configured kinds),
    channel (the configured channels), status (seven), event (three), state (five). A store
    that does not answer leaves them out (``pes_fleet_up`` says so) and is asked again at
    the next scrape."""

    store: Store
    refresh: float = METRICS_REFRESH
    clock: Callable[[], float] = time.monotonic
    _read: tuple[float, _Facts] | None = attrs.field(default=None, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only: registering must not query the store

    def facts(self) -> _Facts | None:
        """The facts of the last reading younger than ``refresh``, else read now; None when
        the store does not answer."""
        with self._lock:  # concurrent scrapes read the store once
            now = self.clock()
            if self._read is not None and now - self._read[0] < self.refresh:
                return self._read[1]
            try:
                read = self.store.notification_facts(dt.datetime.now(dt.UTC) - METRICS_WINDOW)
            except Exception:  # the store is away: pes_fleet_up reports it
                return None
            self._read = (now, read)
            return read

    def collect(self) -> Iterator[Metric]:
        facts = self.facts()
        if facts is None:
            return
        messages, events, states = facts
        family = GaugeMetricFamily(
            "pes_notifications_messages",
            "Messages queued in the last 24 hours by kind, channel and status.",
            labels=["kind", "channel", "status"],
        )
        for (kind, channel, status), n in sorted(messages.items()):
            family.add_metric([kind, channel, status], float(n))
        yield family
        reported = GaugeMetricFamily(
            "pes_notifications_reported",
            "Of the last 24 hours' messages, those the client app reported, by event.",
            labels=["event"],
        )
        for name, n in sorted(events.items()):
            reported.add_metric([name], float(n))
        yield reported
        campaigns = GaugeMetricFamily(
            "pes_notifications_campaigns", "Campaigns by state.", labels=["state"]
        )
        for state in ("draft", "scheduled", "sending", "done", "cancelled"):
            campaigns.add_metric([state], float(states.get(state, 0)))
        yield campaigns
