"""``pes gis``: report payments to ГИС ЖКХ and look up what is owed at an address.

The adapter adds this group to ``pes`` through the ``pes_cli_commands`` hook, so the core
never imports it. The client (zeep, requests) is imported only when a ``pes gis`` command
runs: every ``pes`` command loads this module with the plugin. Settings come from
``GIS.toml`` (see ``docs/gis-zhkh.md``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pes_sdk.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, fail, host_of
from pes_sdk.errors import PesError, RegistryRefused
from pes_sdk.formats.base import Policy
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.operations import resolve_format
from pes_sdk.period import Period

if TYPE_CHECKING:
    from pes_sdk_gis_zhkh import GisClient, GisConfig, LookupResult, SendReport

__all__ = ["gis"]


def _adapter() -> Any:
    # Imported when a command runs, not when the plugin loads (zeep and requests are heavy).
    import pes_sdk_gis_zhkh

    return pes_sdk_gis_zhkh


def _client(config_path: Path) -> tuple[GisClient, GisConfig]:
    mod = _adapter()
    try:
        config = mod.load_config(config_path)
        s = config.signer
        signer = mod.make_signer(s.kind, key_env=s.key_env, factory=s.factory)
    except PesError as exc:
        fail(str(exc), EXIT_USAGE)
    return mod.GisClient(config, signer=signer), config


@click.group()
def gis() -> None:
    """ГИС ЖКХ: report payments (извещения о принятии к исполнению), look up debts.

    \b
    Exit codes:
      0  done; every item accepted (now or before)
      1  ГИС ЖКХ refused something, or the registry is not valid
      2  usage error: bad options or GIS.toml, adapter not installed
      3  the exchange failed (network, SOAP fault, poll deadline): safe to run again
    """


EXIT_EXCHANGE = 3

_CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="GIS.toml with the endpoint, the format package, identifiers and timeouts.",
)


def _report_json(report: SendReport, statuses: Any) -> dict[str, object]:
    return {
        "ok": report.ok,
        "counts": {s.value: report.count(s) for s in statuses},
        "messages": [b.message_guid for b in report.batches],
        "items": [
            {
                "order_id": i.key,
                "status": i.status.value,
                "errors": [{"code": e.code, "description": e.description} for e in i.errors],
            }
            for i in report.items
        ],
    }


@gis.command()
@click.argument("registry", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, help="Format of the payment registry.")
@_CONFIG
@click.option("--partner", help="ИНН of the payee when the registry does not name it.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def notify(
    ctx: click.Context,
    registry: Path,
    fmt: str,
    config_path: Path,
    partner: str | None,
    as_json: bool,
) -> None:
    """Report the payments of REGISTRY (importNotificationsOfOrderExecution).

    Safe to run again: every line keeps its OrderID, and ГИС ЖКХ counts an order once.
    """
    mod = _adapter()
    client, config = _client(config_path)
    records: list[PaymentRecord] = []
    try:
        f = resolve_format(fmt, host_of(ctx))
        with f.open(registry, policy=Policy.STRICT) as reader:
            for rec in reader:
                if not isinstance(rec, PaymentRecord):
                    fail(f"{registry}: not a payment registry", EXIT_USAGE)
                records.append(rec)
            header = reader.report.header
    except RegistryRefused as exc:
        fail(str(exc), EXIT_INVALID)
    except OSError as exc:
        fail(f"{registry}: {exc.strerror or exc}", EXIT_USAGE)
    except PesError as exc:
        fail(str(exc), EXIT_USAGE)
    recipient = None
    inn = partner or header.partner_inn
    if config.partners_file is not None and inn:
        from pes_sdk.partners_file import load_partners

        try:
            found = load_partners(config.partners_file).find(inn)
            recipient = mod.Recipient.from_partner(found) if found is not None else None
        except (PesError, ValueError) as exc:
            fail(str(exc), EXIT_USAGE)
        if found is None:
            fail(f"partner {inn} is not in {config.partners_file}", EXIT_USAGE)
    notices = [mod.PaymentNotice.from_record(r, recipient) for r in records]
    try:
        with client:
            report = client.notify(notices)
    except mod.GisPollTimeout as exc:
        fail(f"{exc}", EXIT_EXCHANGE)
    except mod.GisError as exc:
        fail(f"{exc}", EXIT_EXCHANGE)
    if as_json:
        click.echo(json.dumps(_report_json(report, mod.ItemStatus), ensure_ascii=False, indent=2))
    else:
        counts = ", ".join(f"{s.value} {report.count(s)}" for s in mod.ItemStatus)
        click.echo(
            f"{registry.name}: {len(records)} payment(s) in {len(report.batches)} message(s)"
        )
        click.echo(f"  {counts}")
        for item in report.items:
            for e in item.errors:
                if item.status in (mod.ItemStatus.REFUSED, mod.ItemStatus.NOT_SENT):
                    click.echo(f"  {item.key}: {item.status.value}: {e.code}: {e.description}")
    ctx.exit(EXIT_OK if report.ok else EXIT_INVALID)


def _lookup_json(result: LookupResult) -> dict[str, object]:
    return {
        "message_guid": result.message_guid,
        "total_due": str(result.total_due),
        "documents": [
            {
                "payment_document_id": d.payment_document_id,
                "els": d.els,
                "account": d.account_number,
                "period": str(d.period) if d.period else None,
                "executor_inn": d.executor_inn,
                "executor_name": d.executor_name,
                "amount_due": str(d.amount_due),
                "debt": None if d.debt is None else str(d.debt),
                "total": None if d.total is None else str(d.total),
                "payees": [
                    {
                        "inn": p.recipient_inn,
                        "name": p.recipient_name,
                        "bik": p.bik,
                        "account": p.account,
                        "amount_due": None if p.amount_due is None else str(p.amount_due),
                        "total": None if p.total is None else str(p.total),
                    }
                    for p in d.payments
                ],
            }
            for d in result.documents
        ],
    }


@gis.command()
@click.option("--house", help="House GUID (ФИАС HOUSEGUID).")
@click.option("--premises", default="", help="Premises: 12, кв. 12, 12, ком. 3, оф. 5 …")
@click.option("--account", help="Personal account (ЛС); with --house, it or --document-number.")
@click.option("--document-number", help="Payment document number, instead of --account.")
@click.option("--els", help="Unified account (ЕЛС), instead of an address.")
@click.option("--ipd", help="Payment document id (ИПД), instead of an address.")
@click.option("--period", help="Billing month YYYY-MM (default: the latest).")
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def lookup(
    house: str | None,
    premises: str,
    account: str | None,
    document_number: str | None,
    els: str | None,
    ipd: str | None,
    period: str | None,
    config_path: Path,
    as_json: bool,
) -> None:
    """What is owed, by house GUID + premises, by ЕЛС or by ИПД (exportForPaymentAggregator)."""
    mod = _adapter()
    if sum(bool(x) for x in (house, els, ipd)) != 1:
        fail("give exactly one of --house, --els, --ipd", EXIT_USAGE)
    try:
        month = Period.parse(period) if period else None
    except ValueError as exc:
        fail(f"--period: {exc}", EXIT_USAGE)
    client, _ = _client(config_path)
    try:
        with client:
            if house:
                result = client.lookup_address(
                    house,
                    premises,
                    account=account,
                    payment_document_number=document_number,
                    period=month,
                )
            elif els:
                result = client.lookup_els(els, period=month)
            else:
                result = client.lookup_payment_document(str(ipd))
    except mod.GisConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except mod.GisError as exc:
        fail(str(exc), EXIT_EXCHANGE)
    if as_json:
        click.echo(json.dumps(_lookup_json(result), ensure_ascii=False, indent=2))
        return
    if not result.documents:
        click.echo("nothing found")
        return
    rows = [("ИПД", "period", "payee", "ИНН", "ЛС", "due", "debt", "total")]
    for d in result.documents:
        rows.append(
            (
                d.payment_document_id or "",
                str(d.period) if d.period else "",
                d.executor_name or "",
                d.executor_inn or "",
                d.account_number or "",
                str(d.amount_due),
                "" if d.debt is None else str(d.debt),
                "" if d.total is None else str(d.total),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"total due: {result.total_due}")
