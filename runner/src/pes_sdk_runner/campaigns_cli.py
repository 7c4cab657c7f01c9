"""``pes runner campaigns list|show|stats``: partner campaigns for an operator at a shell.

Creating and scheduling is the API's (``POST /v1/campaigns``); here an operator reads them
and a campaign's report, with ``--chart`` the funnel and days a partner looks at.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pes_sdk.cli.common import EXIT_INVALID, fail
from pes_sdk_runner.campaigns import render_chart, source_stats
from pes_sdk_runner.cli import _CONFIG, _load, _money, _store
from pes_sdk_runner.store.campaigns import Campaign

__all__ = ["campaigns"]

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _view(c: Campaign) -> dict[str, object]:
    return {
        "id": c.id,
        "partner": c.partner_inn,
        "kind": c.kind,
        "state": str(c.state),
        "title": c.title,
        "text": c.text,
        "image": c.image,
        "buttons": [list(b) for b in c.buttons],
        "audience": c.audience,
        "houses": list(c.houses),
        "starts_at": c.starts_at.isoformat() if c.starts_at else None,
        "targeted": c.targeted,
        "created_at": c.created_at.isoformat(),
        "started_at": c.started_at.isoformat() if c.started_at else None,
        "finished_at": c.finished_at.isoformat() if c.finished_at else None,
    }


@click.group()
def campaigns() -> None:
    """Partner campaigns (рассылки): list, show, and what one achieved."""


@campaigns.command("list")
@_CONFIG
@click.option("--partner", default=None, help="One partner's (ИНН).")
@_JSON
@click.pass_context
def list_(ctx: click.Context, config_path: Path, partner: str | None, as_json: bool) -> None:
    """Campaigns, newest first."""
    config = _load(ctx, config_path)
    with _store(config) as store:
        found = store.campaigns(partner_inn=partner)
    if as_json:
        click.echo(json.dumps([_view(c) for c in found], ensure_ascii=False, indent=2))
        return
    for c in found:
        start = c.starts_at.astimezone(config.service.time_zone) if c.starts_at else None
        when = f"{start:%Y-%m-%d %H:%M}" if start else "-"
        click.echo(f"{c.id}\t{c.partner_inn}\t{c.kind}\t{c.state}\t{when}\t{c.title}")


def _one(store: object, campaign_id: int) -> Campaign:
    from pes_sdk_runner.store import SqlStore

    assert isinstance(store, SqlStore)
    campaign = store.campaign(campaign_id)
    if campaign is None:
        fail(f"no campaign {campaign_id}", EXIT_INVALID)
    return campaign


@campaigns.command()
@_CONFIG
@click.argument("campaign_id", metavar="ID", type=int)
@_JSON
@click.pass_context
def show(ctx: click.Context, config_path: Path, campaign_id: int, as_json: bool) -> None:
    """One campaign."""
    config = _load(ctx, config_path)
    with _store(config) as store:
        c = _one(store, campaign_id)
    view = _view(c)
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    for key, value in view.items():
        click.echo(f"{key}: {value if value is not None else '-'}")


@campaigns.command()
@_CONFIG
@click.argument("campaign_id", metavar="ID", type=int)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw the funnel and the days into this .svg or .png file (matplotlib).",
)
@_JSON
@click.pass_context
def stats(
    ctx: click.Context, config_path: Path, campaign_id: int, chart: Path | None, as_json: bool
) -> None:
    """What a campaign achieved: targeted → sent → delivered → opened → clicked → paid."""
    config = _load(ctx, config_path)
    zone = config.service.time_zone
    with _store(config) as store:
        c = _one(store, campaign_id)
        counted = source_stats(store, c.source, zone, partner_inn=c.partner_inn)
    if chart is not None:
        try:
            render_chart(counted, chart, title=c.title)
        except (RuntimeError, ValueError) as exc:
            fail(str(exc), EXIT_INVALID)
    if as_json:
        out = {"campaign": c.id, "state": str(c.state), **counted.as_json()}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"campaign {c.id} ({c.kind}, {c.state}): {c.title}")
    for name, value in counted.funnel():
        click.echo(f"  {name}: {value}")
    click.echo(f"  paid amount: {_money(counted.paid_amount)}")
    if counted.queued:
        click.echo(f"  still to send: {counted.queued}")
    for reason, n in sorted(counted.failed.items()):
        click.echo(f"  not sent ({reason}): {n}")
    for button, n in sorted(counted.clicks.items()):
        click.echo(f"  button {button + 1}: {n} clicks")
    for d in counted.days:
        click.echo(
            f"  {d.day}: sent {d.sent}, opened {d.opened}, clicked {d.clicked},"
            f" paid {d.paid} ({_money(d.paid_amount)})"
        )
    if chart is not None:
        click.echo(f"chart: {chart}")
