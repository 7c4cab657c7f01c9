"""The bodies of the campaigns' endpoints (:mod:`pes_sdk_runner.api.campaigns`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from pes_sdk_runner.campaigns import CampaignStats
from pes_sdk_runner.store.campaigns import Campaign, CampaignState

__all__ = [
    "ButtonBody",
    "ButtonClicks",
    "CampaignRequest",
    "CampaignStatsView",
    "CampaignView",
    "CampaignsView",
    "ChannelStats",
    "DayView",
    "ReasonCount",
    "ScheduleRequest",
]


@attrs.frozen
class ButtonBody:
    """A button: its label and the https page it opens."""

    label: str
    url: str


@attrs.frozen
class CampaignRequest:
    """A campaign an operator creates for a partner."""

    partner: str  #: the partner's ИНН
    kind: str  #: news, or promo (a partner whose configuration allows promotions)
    title: str
    text: str
    image: str | None = None  #: https URL of a JPEG, PNG, WebP or GIF of at most 1 MB
    buttons: list[ButtonBody] = attrs.field(factory=list)  #: at most three, https links
    audience: str = "all"  #: all, debtors or houses
    houses: list[str] = attrs.field(factory=list)  #: FIAS GUIDs, for audience houses
    #: ISO 8601; without an offset, in the service's zone; null: a draft
    starts_at: str | None = None


@attrs.frozen
class ScheduleRequest:
    """When a draft or scheduled campaign starts (ISO 8601; no offset: service's zone)."""

    starts_at: str


@attrs.frozen
class CampaignView:
    """A campaign as stored."""

    id: int
    partner: str
    kind: str
    title: str
    text: str
    image: str | None
    buttons: list[ButtonBody]
    audience: str
    houses: list[str]
    starts_at: dt.datetime | None
    state: CampaignState
    targeted: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, c: Campaign) -> CampaignView:
        return cls(
            c.id,
            c.partner_inn,
            c.kind,
            c.title,
            c.text,
            c.image,
            [ButtonBody(label, url) for label, url in c.buttons],
            c.audience,
            list(c.houses),
            c.starts_at,
            c.state,
            c.targeted,
            c.created_at,
            c.started_at,
            c.finished_at,
        )


@attrs.frozen
class CampaignsView:
    """Campaigns, newest first."""

    campaigns: list[CampaignView]


@attrs.frozen
class ReasonCount:
    reason: str
    count: int


@attrs.frozen
class ButtonClicks:
    button: int  #: 0-based
    clicks: int


@attrs.frozen
class ChannelStats:
    channel: str
    sent: int
    failed: int
    delivered: int
    opened: int
    clicked: int


@attrs.frozen
class DayView:
    """One day in the service's zone."""

    day: dt.date
    sent: int
    delivered: int
    opened: int
    clicked: int
    paid: int
    paid_amount: Decimal


@attrs.frozen
class CampaignStatsView:
    """What a campaign achieved: the funnel, failures by reason, channels and days."""

    campaign: int
    state: CampaignState
    targeted: int
    messages: int
    queued: int
    sent: int
    failed: list[ReasonCount]
    delivered: int
    opened: int
    clicked: int
    clicks: list[ButtonClicks]
    paid: int  #: payments within 72 hours attributed to the campaign
    paid_amount: Decimal
    channels: list[ChannelStats]
    days: list[DayView]

    @classmethod
    def of(cls, c: Campaign, s: CampaignStats) -> CampaignStatsView:
        return cls(
            c.id,
            c.state,
            s.targeted,
            s.messages,
            s.queued,
            s.sent,
            [ReasonCount(r, n) for r, n in sorted(s.failed.items())],
            s.delivered,
            s.opened,
            s.clicked,
            [ButtonClicks(b, n) for b, n in sorted(s.clicks.items())],
            s.paid,
            s.paid_amount,
            [
                ChannelStats(
                    name, v["sent"], v["failed"], v["delivered"], v["opened"], v["clicked"]
                )
                for name, v in sorted(s.by_channel.items())
            ],
            [
                DayView(d.day, d.sent, d.delivered, d.opened, d.clicked, d.paid, d.paid_amount)
                for d in s.days
            ],
        )
