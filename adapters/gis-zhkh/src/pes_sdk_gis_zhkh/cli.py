"""``pes gis``: report payments to ГИС ЖКХ and look up what is owed at an address.

The adapter adds this group to ``pes`` through the ``pes_cli_commands`` hook, so the core
never imports it. The client (zeep, requests) is imported only when a ``pes gis`` command
runs: every ``pes`` command loads this module with the plugin. Settings come from
``GIS.toml`` (see ``docs/gis-zhkh.md``).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pes_sdk.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, fail, host_of
from pes_sdk.errors import PesError, RegistryRefused
from pes_sdk.formats.base import Policy
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import RegistryHeader
from pes_sdk.operations import resolve_format
from pes_sdk.period import Period

if TYPE_CHECKING:
    from pes_sdk_gis_zhkh import (
        ChargeDocument,
        Executor,
        GisClient,
        GisConfig,
        LookupResult,
        PaymentDetails,
        Recipient,
        SendReport,
        ServiceInfo,
    )

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


def _payee(
    registry: Path, header: RegistryHeader, config: GisConfig, explicit: str | None
) -> tuple[Recipient | None, dt.tzinfo]:
    """The registry's payee (for the full form) and the service's time zone.

    Both come from the partners file named in ``GIS.toml``. The partner is found as
    ``pes settle`` finds it: ``--partner``, the registry's header, the ИНН in the file
    name, or the only partner. The full form cannot go without one: that is a usage error,
    said before anything is sent.
    """
    mod = _adapter()
    full = config.form is mod.NotificationForm.FULL
    if config.partners_file is None:
        if full:
            fail(
                "the full form needs the payee's bank details: set partners_file in GIS.toml",
                EXIT_USAGE,
            )
        return None, mod.SERVICE_TIME_ZONE
    from pes_sdk.cli.bank import registry_partner
    from pes_sdk.partners_file import load_partners

    try:
        partners = load_partners(config.partners_file)
    except PesError as exc:
        fail(str(exc), EXIT_USAGE)
    found, why = registry_partner(registry, header, partners, explicit)
    if found is None:
        if full or explicit:
            fail(why, EXIT_USAGE)
        return None, partners.service.time_zone
    try:
        recipient = mod.Recipient.from_partner(found)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    return recipient, partners.service.time_zone


@gis.command()
@click.argument("registry", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, help="Format of the payment registry.")
@_CONFIG
@click.option(
    "--partner",
    metavar="INN[/KPP]",
    help="The payee (default: from the registry's header or name, or the only partner).",
)
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
    recipient, zone = _payee(registry, header, config, partner)
    notices = [
        mod.PaymentNotice.from_record(
            r, recipient, time_zone=zone, online_channels=config.online_channels
        )
        for r in records
    ]
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


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _error_json(error: Any) -> dict[str, str] | None:
    return None if error is None else {"code": error.code, "description": error.description}


def _payee_json(p: PaymentDetails) -> dict[str, object]:
    return {
        "inn": p.recipient_inn,
        "kpp": p.recipient_kpp,
        "name": p.recipient_name,
        "bank_name": p.bank_name,
        "bik": p.bik,
        "account": p.account,
        "corr_account": p.corr_account,
        "capital_repair": p.capital_repair,
        "payment_information_guid": p.payment_information_guid,
        "account_number": p.account_number,
        "service_id": p.service_id,
        "amount_due": _money(p.amount_due),
        "debt_or_advance": _money(p.debt_or_advance),
        "total": _money(p.total),
        "payable": p.payable,
        "error": _error_json(p.error),
    }


def _executor_json(e: Executor) -> dict[str, object]:
    return {"inn": e.inn, "kpp": e.kpp, "name": e.name, "mailing_address": e.mailing_address}


def _document_json(d: ChargeDocument) -> dict[str, object]:
    return {
        "payment_document_id": d.payment_document_id,
        "payment_document_number": d.payment_document_number,
        "payment_document_guid": d.payment_document_guid,
        "els": d.els,
        "account": d.account_number,
        "service_id": d.service_id,
        "service_name": d.service_name,
        "period": str(d.period) if d.period else None,
        "addresses": list(d.addresses),
        "purpose": d.purpose,
        "executor_inn": d.executor_inn,
        "executor_name": d.executor_name,
        "executor": _executor_json(d.executor),
        "amount_due": str(d.amount_due),
        "debt": _money(d.debt),
        "total": _money(d.total),
        "payable": d.payable,
        "to_pay": str(d.to_pay),
        "error": _error_json(d.error),
        "payees": [_payee_json(p) for p in d.payments],
    }


def _service_json(s: ServiceInfo) -> dict[str, object]:
    return {
        "els": s.els,
        "account": s.account_number,
        "service_id": s.service_id,
        "service_guid": s.service_guid,
        "service_name": s.service_name,
        "purpose": s.purpose,
        "executor": _executor_json(s.executor),
        "payees": [_payee_json(p) for p in s.executor.payees],
    }


def _lookup_json(result: LookupResult) -> dict[str, object]:
    # Services come without charges: there is no total to state then, not a total of 0.
    charges = bool(result.documents) or not result.services
    return {
        "message_guid": result.message_guid,
        "total_due": str(result.total_due) if charges else None,
        "documents": [_document_json(d) for d in result.documents],
        "services": [_service_json(s) for s in result.services],
    }


def _who(e: Executor) -> str:
    ids = f"ИНН {e.inn or '?'}" + (f", КПП {e.kpp}" if e.kpp else "")
    return f"{e.name or '?'} ({ids})"


def _echo_payee(p: PaymentDetails) -> None:
    bank = ", ".join(
        x
        for x in (
            f"р/с {p.account}" if p.account else "",
            p.bank_name or "",
            f"БИК {p.bik}" if p.bik else "",
            f"к/с {p.corr_account}" if p.corr_account else "",
        )
        if x
    )
    ids = f"ИНН {p.recipient_inn or '?'}" + (f", КПП {p.recipient_kpp}" if p.recipient_kpp else "")
    head = f"    payee {p.recipient_name or '?'} ({ids})"
    if p.capital_repair:
        head += " [капремонт]"
    click.echo(f"{head}: {bank}" if bank else head)
    refs = [
        f"ЛС {p.account_number}" if p.account_number else "",
        f"ИЖКУ {p.service_id}" if p.service_id else "",
        f"details GUID {p.payment_information_guid}" if p.payment_information_guid else "",
    ]
    if any(refs):
        click.echo("      " + ", ".join(r for r in refs if r))
    amounts = [
        f"due {p.amount_due}" if p.amount_due is not None else "",
        f"debt/advance {p.debt_or_advance}" if p.debt_or_advance is not None else "",
        f"total {p.total}" if p.total is not None else "",
    ]
    if any(amounts):
        click.echo("      " + ", ".join(a for a in amounts if a))
    if p.error is not None:
        click.echo(f"      ERROR {p.error.code}: {p.error.description}: not payable")


def _echo_executor(e: Executor) -> None:
    click.echo(f"  executor: {_who(e)}")
    if e.mailing_address:
        click.echo(f"  mailing address: {e.mailing_address}")


def _echo_document(d: ChargeDocument) -> None:
    head = [
        f"ИПД {d.payment_document_id or '?'}",
        f"№ {d.payment_document_number}" if d.payment_document_number else "",
        str(d.period) if d.period else "",
        f"ЕЛС {d.els}" if d.els else "",
        f"ЛС {d.account_number}" if d.account_number else "",
        f"ИЖКУ {d.service_id}" if d.service_id else "",
    ]
    click.echo(" · ".join(h for h in head if h))
    if d.payment_document_guid:
        click.echo(f"  GUID: {d.payment_document_guid}")
    if d.service_name:
        click.echo(f"  service: {d.service_name}")
    for address in d.addresses:
        click.echo(f"  address: {address}")
    if d.purpose:
        click.echo(f"  purpose: {d.purpose}")
    _echo_executor(d.executor)
    amounts = f"due {d.amount_due}"
    if d.debt is not None:
        amounts += f", debt {d.debt}"
    if d.total is not None:
        amounts += f", total {d.total}"
    if d.error is not None:
        click.echo(f"  {amounts}")
        click.echo(f"  ERROR {d.error.code}: {d.error.description}: not payable, nothing to pay")
    else:
        click.echo(f"  {amounts}; to pay {d.to_pay}")
    for p in d.payments:
        _echo_payee(p)


def _echo_service(s: ServiceInfo) -> None:
    head = [
        f"ИЖКУ {s.service_id}",
        f"ЕЛС {s.els}" if s.els else "",
        f"ЛС {s.account_number}" if s.account_number else "",
    ]
    click.echo(" · ".join(h for h in head if h))
    click.echo(f"  GUID: {s.service_guid}")
    if s.service_name:
        click.echo(f"  service: {s.service_name}")
    if s.purpose:
        click.echo(f"  purpose: {s.purpose}")
    _echo_executor(s.executor)
    for p in s.executor.payees:
        _echo_payee(p)


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
    if not result.documents and not result.services:
        click.echo("nothing found")
        return
    for d in result.documents:
        _echo_document(d)
    if result.documents:
        payable = sum(1 for d in result.documents if d.payable)
        click.echo(
            f"total due: {result.total_due} "
            f"({payable} of {len(result.documents)} document(s) payable)"
        )
        return
    click.echo("no charges in ГИС ЖКХ; services that can be paid, with an amount of your own:")
    for s in result.services:
        _echo_service(s)
