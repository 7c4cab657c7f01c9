"""Partner campaigns (рассылки партнёров): news and promotions, and what they achieved.

An operator creates a campaign for a partner (``POST /v1/campaigns``): a title, a text, an
image (https; its size and type checked by asking its server for the headers), up to three
buttons with https links, a kind (``news``, or ``promo`` for a partner whose configuration
says ``promotions = true``), an audience among the clients who accepted one of the
partner's services (all of them, those in debt at the partner, or those at given houses)
and a start. The fleet's tick starts it once its start has come: the workflow
``campaign:<id>`` (:mod:`pes_sdk_runner.jobs.campaigns`) pages the audience out of the store
in client order, a page a step, into :func:`~pes_sdk_runner.notify.enqueue_messages`; each
step records the last client it wrote, so a SIGKILL resumes at the next page, and a page
written twice writes nothing twice (the messages' key is unique).

:func:`source_stats` counts what a source (a campaign or a trigger's run) achieved:
targeted, sent, failed by reason, delivered, opened, clicked per button, and paid within
72 hours (:func:`paid_after`), by channel and by day in the service's zone;
:func:`render_chart` draws the funnel and the days (matplotlib, ``pes-sdk-runner[charts]``).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from pes_sdk.notifications import Button
from pes_sdk_runner.notify import Enqueue, Enqueued, Template, enqueue_messages
from pes_sdk_runner.store.campaigns import (
    AUDIENCES,
    CAMPAIGN_KINDS,
    Campaign,
    NewCampaign,
)

if TYPE_CHECKING:
    import ssl

    from pes_sdk_runner.config.models import RunnerConfig
    from pes_sdk_runner.store import SqlStore
    from pes_sdk_runner.store.base import Store

__all__ = [
    "ATTRIBUTION_WINDOW",
    "AUDIENCE_PAGE",
    "FUNNEL_LABELS",
    "MAX_IMAGE_BYTES",
    "CampaignError",
    "CampaignStats",
    "DayStats",
    "Paid",
    "check_image",
    "create_campaign",
    "paid_after",
    "parse_start",
    "render_chart",
    "send_page",
    "source_stats",
    "template_of",
]

#: The largest image a campaign may show: FCM drops a notification's image over 1 MB.
MAX_IMAGE_BYTES = 1024 * 1024
#: How long the image's server has to answer (seconds).
IMAGE_TIMEOUT = 5.0
#: Image types every push provider shows.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
#: Clients one step of a campaign's workflow writes, in ``notifications.batch_size``
#: batches (2,000 by default: a SIGKILL repeats at most one page).
AUDIENCE_PAGE = 4
#: A payment counts for the message its client opened last before it, sent at most this
#: long before the payment.
ATTRIBUTION_WINDOW = dt.timedelta(hours=72)
#: Houses one campaign may name.
MAX_HOUSES = 400


class CampaignError(ValueError):
    """A campaign refused: ``field`` names what is wrong, ``code`` says how (API: 422/409)."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


# -- creating ------------------------------------------------------------------------------


def parse_start(value: str | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A campaign's start, aware: ISO 8601; a time without an offset is in ``zone`` (the
    service's), whatever the zone of the machine."""
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise CampaignError(
                "starts_at is an ISO 8601 time such as 2026-12-10T10:00", "starts_at"
            ) from None
    else:
        when = value
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(dt.UTC)


def check_image(
    url: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: float = IMAGE_TIMEOUT,
    verify: ssl.SSLContext | None = None,
) -> tuple[str, int]:
    """Ask the image's server for its headers (HEAD; a ranged GET of one byte when HEAD is
    not allowed) and return its type and size; :class:`CampaignError` when it is not an
    https URL, not there, not an image, of an unknown size or over ``max_bytes``.

    Through the kit's one HTTP client (:class:`pes_sdk.http.HttpClient`: a timeout, TLS
    verified, a proxy from the environment); ``verify`` is a test CA's context."""
    from pes_sdk.http import HttpClient, HttpError
    from pes_sdk.notifications.contract import check_https_url

    try:
        check_https_url(url, "image")
    except ValueError as exc:
        raise CampaignError(str(exc), "image") from None
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        with HttpClient(origin, timeout=timeout, name="campaign-image", verify=verify) as client:
            answer = client.send("HEAD", path)
            if answer.status in (405, 501):
                answer = client.send("GET", path, headers={"Range": "bytes=0-0"})
    except HttpError as exc:
        raise CampaignError(f"the image could not be fetched: {exc}", "image") from None
    if answer.status not in (200, 206):
        raise CampaignError(f"the image's server answered {answer.status}", "image")
    kind = (answer.header("content-type") or "").split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        raise CampaignError(
            f"the image is {kind or 'of no type'}, not one of {', '.join(IMAGE_TYPES)}", "image"
        )
    size: int | None = None
    ranged = answer.header("content-range")
    if answer.status == 206 and ranged and "/" in ranged:
        total = ranged.rsplit("/", 1)[1].strip()
        size = int(total) if total.isdigit() else None
    elif answer.header("content-length") is not None:
        length = (answer.header("content-length") or "").strip()
        size = int(length) if length.isdigit() else None
    if size is None:
        raise CampaignError("the image's server does not say its size", "image")
    if size > max_bytes:
        raise CampaignError(f"the image has {size} bytes, over the limit of {max_bytes}", "image")
    return kind, size


def create_campaign(
    store: Store,
    config: RunnerConfig,
    *,
    partner_inn: str,
    kind: str,
    title: str,
    text: str,
    image: str | None = None,
    buttons: Sequence[tuple[str, str]] = (),
    audience: str = "all",
    houses: Sequence[str] = (),
    starts_at: str | dt.datetime | None = None,
    verify: ssl.SSLContext | None = None,
    now: dt.datetime | None = None,
) -> Campaign:
    """Check a campaign and write it (``scheduled`` with a start, else ``draft``).

    :raises CampaignError: the partner is not configured, ``promo`` for a partner without
        ``promotions = true``, a button or image not https, more than three buttons, a text
        too long, an unknown audience, houses that are not FIAS GUIDs, the image too big or
        not an image, a start in the past."""
    partner = next((p for p in config.partners if p.inn == partner_inn), None)
    if partner is None:
        raise CampaignError(f"no partner with ИНН {partner_inn} is configured", "partner")
    if kind not in CAMPAIGN_KINDS:
        raise CampaignError(f"kind is one of {', '.join(CAMPAIGN_KINDS)}", "kind")
    if kind == "promo" and not partner.promotions:
        raise CampaignError(
            f"the partner {partner_inn} may not send promotions: its configuration has no"
            " promotions = true (its contract must allow them)",
            "kind",
            "promotions-not-allowed",
        )
    if audience not in AUDIENCES:
        raise CampaignError(f"audience is one of {', '.join(AUDIENCES)}", "audience")
    guids = tuple(h.strip().lower() for h in houses)
    if audience == "houses":
        if not guids or len(guids) > MAX_HOUSES:
            raise CampaignError(f"houses names 1..{MAX_HOUSES} FIAS GUIDs", "houses")
        import uuid

        for guid in guids:
            try:
                uuid.UUID(guid)
            except ValueError:
                raise CampaignError(f"{guid!r} is not a FIAS GUID", "houses") from None
    elif guids:
        raise CampaignError("houses are given with the audience 'houses' only", "houses")
    try:
        Template(text, title, image, tuple(Button(label, url) for label, url in buttons))
    except (ValueError, TypeError) as exc:
        field = "buttons" if "button" in str(exc) else "image" if "image" in str(exc) else "text"
        raise CampaignError(str(exc), field) from None
    start = None
    if starts_at is not None:
        start = parse_start(starts_at, config.service.time_zone)
        if start < (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=1):
            raise CampaignError("starts_at is in the past", "starts_at")
    if image is not None:
        check_image(image, verify=verify)
    new = NewCampaign(
        partner_inn,
        kind,
        title,
        text,
        image,
        tuple((label, url) for label, url in buttons),
        audience,
        guids,
        start,
    )
    if all(p.inn != partner_inn for p in store.partners()):
        store.upsert_partners([partner.partner])  # the campaigns' reference to partners
    return store.create_campaign(new, now=now)


def template_of(campaign: Campaign) -> Template:
    """What a campaign's messages say (the app learns the campaign from ``data``)."""
    return Template(
        campaign.text,
        campaign.title,
        campaign.image,
        tuple(Button(label, url) for label, url in campaign.buttons),
        {"pes_campaign": str(campaign.id)},
    )


# -- sending -------------------------------------------------------------------------------


def send_page(
    store: SqlStore,
    config: RunnerConfig,
    campaign: Campaign,
    after: str | None,
    *,
    limit: int | None = None,
    enqueue: Enqueue | None = None,
) -> tuple[str | None, Enqueued]:
    """Write and queue the messages of the audience's next page after client ``after``;
    the page's last client (None: the audience is done) and what was written.

    Idempotent: the same page again writes no row twice and queues batches already queued
    under the same workflow ids. ``limit``: :data:`AUDIENCE_PAGE` batches."""
    limit = limit or AUDIENCE_PAGE * config.notifications.batch_size
    page = store.campaign_audience(
        campaign.partner_inn, campaign.audience, campaign.houses, after=after, limit=limit
    )
    done = enqueue_messages(
        store,
        config,
        source=campaign.source,
        kind=campaign.kind,
        template=template_of(campaign),
        audience=page,
        enqueue=enqueue,
    )
    return (page[-1] if len(page) == limit else None), done


# -- statistics ----------------------------------------------------------------------------


@attrs.frozen
class Paid:
    """Payments attributed to a source: how many and how much (Decimal roubles)."""

    count: int = 0
    amount: Decimal = Decimal("0.00")
    #: by day (service's zone): count and amount
    days: Mapping[dt.date, tuple[int, Decimal]] = attrs.field(factory=dict)


@attrs.frozen
class DayStats:
    """One day (in the service's zone) of a source."""

    day: dt.date
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    paid: int = 0
    paid_amount: Decimal = Decimal("0.00")


@attrs.frozen
class CampaignStats:
    """What a source achieved (a campaign's or a trigger's run)."""

    source: str
    targeted: int  #: clients written (each once, whatever its devices)
    messages: int  #: message rows (a client's devices and fallbacks)
    queued: int  #: still to be sent (queued or being sent)
    sent: int  #: accepted by the provider
    failed: Mapping[str, int]  #: not sent, by reason (failed, dead, skipped, unsure)
    delivered: int
    opened: int
    clicked: int
    clicks: Mapping[int, int]  #: by button (0-based)
    paid: int  #: payments within 72 hours attributed to it
    paid_amount: Decimal
    by_channel: Mapping[str, Mapping[str, int]]  #: channel → sent, failed, delivered, opened
    days: tuple[DayStats, ...]

    def funnel(self) -> list[tuple[str, int]]:
        """targeted → sent → delivered → opened → clicked → paid."""
        return [
            ("targeted", self.targeted),
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("opened", self.opened),
            ("clicked", self.clicked),
            ("paid", self.paid),
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "targeted": self.targeted,
            "messages": self.messages,
            "queued": self.queued,
            "sent": self.sent,
            "failed": dict(self.failed),
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "clicks": {str(k): v for k, v in sorted(self.clicks.items())},
            "paid": self.paid,
            "paid_amount": str(self.paid_amount),
            "by_channel": {k: dict(v) for k, v in sorted(self.by_channel.items())},
            "days": [
                {
                    "day": d.day.isoformat(),
                    "sent": d.sent,
                    "delivered": d.delivered,
                    "opened": d.opened,
                    "clicked": d.clicked,
                    "paid": d.paid,
                    "paid_amount": str(d.paid_amount),
                }
                for d in self.days
            ],
        }


#: Clients of one page of the attribution (their opened messages and credits read at once).
_ATTRIBUTION_PAGE = 400


def _opened_pages(store: Store, source: str) -> Iterator[list[str]]:
    after: str | None = None
    while True:
        page = store.opened_clients(source, after=after, limit=_ATTRIBUTION_PAGE)
        if not page:
            return
        yield page
        if len(page) < _ATTRIBUTION_PAGE:
            return
        after = page[-1]


def paid_after(
    store: Store,
    source: str,
    partner_inn: str,
    zone: ZoneInfo,
    *,
    window: dt.timedelta = ATTRIBUTION_WINDOW,
) -> Paid:
    """The payments to ``partner_inn`` attributed to ``source``.

    A payment (its ledger credits to the partner: money that reached the partner's book,
    made through the API by the client: ``payment_apps`` names the client's app or its
    cabinet) of a client who accepted the paid account counts for the message that client
    opened last before paying, among those sent at most ``window`` before the payment; it
    counts for ``source`` when that message is ``source``'s. Each payment counts once.
    Read a page of clients at a time (bounded memory whatever the audience)."""
    count = 0
    amount = Decimal("0.00")
    days: dict[dt.date, tuple[int, Decimal]] = {}
    counted: set[str] = set()
    for clients in _opened_pages(store, source):
        opened: dict[str, list[Any]] = {}
        first: dt.datetime | None = None
        for m in store.opened_messages(clients):
            opened.setdefault(m.client_id, []).append(m)
            if m.source == source and (first is None or m.opened_at < first):
                first = m.opened_at
        if first is None:
            continue
        orders: dict[tuple[str, str], list[Any]] = {}
        for credit in store.client_credits(clients, partner_inn, first):
            owner = credit.owner
            if owner != credit.client_id and not credit.client_id.startswith(owner + ":"):
                continue  # another app's or cabinet's payment of the same account
            orders.setdefault((credit.client_id, credit.order_id), []).append(credit)
        for (client, order), credits in sorted(orders.items()):
            if order in counted:
                continue
            at = min(c.at for c in credits)
            candidates = [
                m
                for m in opened.get(client, ())
                if m.opened_at <= at and m.sent_at is not None and at - m.sent_at <= window
            ]
            if not candidates:
                continue
            last = max(candidates, key=lambda m: (m.opened_at, m.id))
            if last.source != source:
                continue
            counted.add(order)
            paid = sum((c.amount for c in {c.ledger_id: c for c in credits}.values()), Decimal())
            count += 1
            amount += paid
            day = at.astimezone(zone).date()
            n, total = days.get(day, (0, Decimal("0.00")))
            days[day] = (n + 1, total + paid)
    return Paid(count, amount, days)


#: Statuses that end a message without it being sent.
_NOT_SENT = ("failed", "dead", "skipped", "unsure")


def source_stats(
    store: Store, source: str, zone: ZoneInfo, *, partner_inn: str | None = None
) -> CampaignStats:
    """What ``source`` achieved; days in ``zone``; payments counted for ``partner_inn``
    (a campaign's partner; None: none counted)."""
    groups = store.source_counts(source)
    failed: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    sent = queued = delivered = opened = clicked = messages = 0
    for g in groups:
        messages += g.messages
        delivered += g.delivered
        opened += g.opened
        clicked += g.clicked
        channel = by_channel.setdefault(
            g.channel or "-", {"sent": 0, "failed": 0, "delivered": 0, "opened": 0, "clicked": 0}
        )
        channel["delivered"] += g.delivered
        channel["opened"] += g.opened
        channel["clicked"] += g.clicked
        if g.status == "sent":
            sent += g.messages
            channel["sent"] += g.messages
        elif g.status in ("queued", "sending"):
            queued += g.messages
        elif g.status in _NOT_SENT:
            reason = g.reason or g.status
            failed[reason] = failed.get(reason, 0) + g.messages
            channel["failed"] += g.messages
    if "-" in by_channel and not any(by_channel["-"].values()):
        del by_channel["-"]
    paid = paid_after(store, source, partner_inn, zone) if partner_inn is not None else Paid()
    days: dict[dt.date, dict[str, int]] = {}
    for h in store.source_hours(source):
        day = days.setdefault(h.hour.astimezone(zone).date(), {})
        for name in ("sent", "delivered", "opened", "clicked"):
            day[name] = day.get(name, 0) + getattr(h, name)
    for paid_day in paid.days:
        days.setdefault(paid_day, {})
    series = tuple(
        DayStats(
            d,
            **counts,
            paid=paid.days.get(d, (0, Decimal("0.00")))[0],
            paid_amount=paid.days.get(d, (0, Decimal("0.00")))[1],
        )
        for d, counts in sorted(days.items())
    )
    return CampaignStats(
        source,
        store.source_clients(source),
        messages,
        queued,
        sent,
        failed,
        delivered,
        opened,
        clicked,
        store.source_clicks(source),
        paid.count,
        paid.amount,
        by_channel,
        series,
    )


# -- the chart -----------------------------------------------------------------------------

#: The funnel's steps as a partner reads them.
FUNNEL_LABELS = {
    "targeted": "Адресаты",
    "sent": "Отправлено",
    "delivered": "Доставлено",
    "opened": "Открыто",
    "clicked": "Переходы",
    "paid": "Оплатили за 72 ч",
}


def render_chart(stats: CampaignStats, path: Path, *, title: str = "") -> Path:
    """Draw the funnel and the per-day series into ``path`` (``.svg`` or ``.png``), with
    Russian labels in DejaVu Sans (it ships with matplotlib and has Cyrillic).

    Needs matplotlib (``pip install 'pes-sdk-runner[charts]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: a server draws into a file
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError("charts need matplotlib: pip install 'pes-sdk-runner[charts]'") from None
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError(f"a chart is .svg or .png, not {path.name!r}")
    # A Figure of its own, not pyplot's global state: safe in a server's threads.
    fig = Figure(figsize=(10, 8), dpi=100)
    fig.patch.set_facecolor("white")
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "svg.fonttype": "none"}):
        funnel, daily = fig.subplots(2, 1)
        steps = stats.funnel()
        labels = [FUNNEL_LABELS[name] for name, _ in steps]
        values = [value for _, value in steps]
        bars = funnel.barh(labels[::-1], values[::-1], color="#2f6db5")
        top = max(values) or 1
        for bar, value in zip(bars, values[::-1], strict=True):
            share = f" ({value / stats.targeted:.0%})" if stats.targeted else ""
            funnel.text(
                bar.get_width() + top * 0.01,
                bar.get_y() + bar.get_height() / 2,
                f"{value}{share}",
                va="center",
            )
        funnel.set_xlim(0, top * 1.25)
        funnel.set_title("Воронка рассылки" + (f": {title}" if title else ""))
        funnel.set_xlabel("Клиенты и сообщения")
        days = [d.day for d in stats.days]
        for name, label in (
            ("sent", "Отправлено"),
            ("opened", "Открыто"),
            ("clicked", "Переходы"),
            ("paid", "Оплаты"),
        ):
            daily.plot(days, [getattr(d, name) for d in stats.days], marker="o", label=label)
        daily.set_title("По дням")
        daily.set_xlabel("День")
        daily.set_ylabel("Количество")
        daily.legend(loc="upper right")
        if days:
            daily.set_xticks(days, [d.strftime("%d.%m") for d in days])
        fig.suptitle(f"Оплачено за 72 ч: {stats.paid_amount} ₽")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=suffix[1:])
    return path
