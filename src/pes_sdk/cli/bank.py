"""``pes settle`` and ``pes reconcile``: payment registries to bank transfers and back.

``pes settle`` reads a payment registry, settles each partner-day under the partner's fee
plan (from ``PARTNERS.toml``) and writes the payment orders in a bank format
(``1c-clientbank``, ``1c-directbank``). ``pes reconcile`` reads a bank statement and the
payment registries of a folder, and lists the transfers found, mismatched and missing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import click

from pes_sdk.cli.common import DATE, EXIT_INVALID, EXIT_OK, EXIT_USAGE, fail, host_of
from pes_sdk.errors import ConfigError, FormatError, PesError, RegistryRefused, UnknownFormat
from pes_sdk.fees import FeePlan
from pes_sdk.formats.base import Policy, RegistryFormat
from pes_sdk.identifiers import check_inn, check_kpp
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import PaymentOrder, StatementEntry
from pes_sdk.money import ZERO
from pes_sdk.operations import FormatMismatch, UnreadableInput, resolve_format
from pes_sdk.partners_file import PartnersFile, load_partners
from pes_sdk.plugins import PluginHost
from pes_sdk.settlement_orders import (
    ExpectedTransfer,
    PartnerDay,
    RegistryRef,
    payment_order,
    settle_records,
)
from pes_sdk.settlement_orders import (
    reconcile as match_transfers,
)

__all__ = ["reconcile", "registry_partner", "settle"]

_USAGE_ERRORS = (UnknownFormat, UnreadableInput, FormatMismatch, ConfigError)
#: How many of a statement's notes `pes reconcile` prints (the rest are counted).
_MAX_NOTES = 20


@attrs.frozen
class _Registry:
    path: Path
    header: RegistryHeader
    records: tuple[PaymentRecord, ...]
    fmt: str


def _read_registry(path: Path, fmt: RegistryFormat) -> _Registry:
    """Every record of a payment registry, strictly; RegistryRefused when it is not valid."""
    if fmt.kind is not RegistryKind.PAYMENTS:
        raise FormatMismatch(f"format {fmt.name!r} holds {fmt.kind}, not a payment registry")
    if not path.is_file():
        raise UnreadableInput("no such file" if not path.exists() else "not a file", path=path)
    try:
        reader = fmt.open(path, policy=Policy.STRICT)
    except OSError as exc:
        raise UnreadableInput(exc.strerror or str(exc), path=path) from exc
    with reader:
        records = []
        for record in reader:
            if not isinstance(record, PaymentRecord):
                raise FormatMismatch(f"format {fmt.name!r} gave a {type(record).__name__}")
            records.append(record)
        header = reader.header
    return _Registry(path, header, tuple(records), fmt.name)


_INN_TOKEN = re.compile(r"(?<![0-9])([0-9]{12}|[0-9]{10})(?![0-9])")


def _inn_in_name(path: Path) -> str | None:
    """An ИНН written in a file's name or its folder's (``7707083893_…``), if one checks out."""
    for text in (path.name, path.parent.name):
        for m in _INN_TOKEN.finditer(text):
            try:
                return check_inn(m.group(1))
            except ValueError:
                continue
    return None


def _partner_of(
    reg: _Registry, partners: PartnersFile, explicit: str | None
) -> tuple[Partner | None, str]:
    """The partner a registry belongs to, or None with the reason."""
    return registry_partner(reg.path, reg.header, partners, explicit)


def registry_partner(
    path: Path, header: RegistryHeader, partners: PartnersFile, explicit: str | None = None
) -> tuple[Partner | None, str]:
    """The partner the registry at ``path`` belongs to, or None with the reason.

    In order: ``explicit`` (``--partner INN[/KPP]``), the ИНН of the registry's header,
    an ИНН in its file or folder name, else the partners file's only partner. Other
    commands that read a partner's registry (``pes gis notify``) find it the same way.
    """
    kpp = None
    if explicit:
        inn, _, kpp_text = explicit.partition("/")
        try:
            inn = check_inn(inn.strip())
            kpp = check_kpp(kpp_text.strip()) if kpp_text.strip() else None
        except ValueError as exc:
            return None, f"--partner: {exc}"
        source = "--partner"
    elif header.partner_inn:
        inn, source = header.partner_inn, "the registry's header"
    elif (named := _inn_in_name(path)) is not None:
        inn, source = named, "the file name"
    elif len(partners.partners) == 1:
        return partners.partners[0], ""
    else:
        return None, (
            f"{path.name}: cannot tell whose registry this is (no ИНН in its header or "
            "name, and PARTNERS.toml has several partners): give --partner INN"
        )
    partner = partners.find(inn, kpp)
    if partner is None:
        many = len(partners.by_inn(inn)) > 1
        why = "several partners have this ИНН: give --partner INN/KPP" if many else "not in it"
        return None, f"partner {inn} (from {source}) in {partners.path or 'PARTNERS.toml'}: {why}"
    return partner, ""


def _plan(host: PluginHost, partner: Partner) -> FeePlan:
    plans = host.fee_plans()
    if partner.fee.plan not in plans:
        raise ConfigError(f"partner {partner.inn}: unknown fee plan {partner.fee.plan!r}")
    return plans[partner.fee.plan]


def _load_partners(host: PluginHost, path: Path) -> PartnersFile:
    return load_partners(path, plans=host.fee_plans())


def _refused(exc: RegistryRefused, max_errors: int = 20) -> None:
    click.echo(f"pes: error: {exc}", err=True)
    for issue in exc.issues[:max_errors]:
        click.echo(f"  {issue}", err=True)
    if exc.issue_count > max_errors:
        click.echo(f"  … and {exc.issue_count - max_errors} more", err=True)


def _order_header(
    partner: Partner, order: PaymentOrder, sender_id: str, created: dt.datetime
) -> RegistryHeader:
    return RegistryHeader(
        kind=RegistryKind.TRANSFERS,
        partner_inn=partner.inn,
        partner_account=partner.bank.account,
        number=int(order.number),
        date=order.date,
        created_at=created,
        extra=(("sender_id", sender_id),),
    )


def _write_orders(
    target: RegistryFormat,
    out: Path,
    orders: Sequence[PaymentOrder],
    partner: Partner,
    sender_id: str,
    zone: dt.tzinfo,
) -> list[Path]:
    # The service's wall time, not the host's: bank files write it without a zone.
    created = dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
    headers = [_order_header(partner, o, sender_id, created) for o in orders]
    one_each = bool(getattr(target, "one_record_per_file", False))
    # A name without a suffix is a folder: `-o paydocs` never becomes a file called so.
    if one_each and (len(orders) > 1 or out.is_dir() or not out.suffix):
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for order, header in zip(orders, headers, strict=True):
            name = target.filename(header) or f"order-{order.number}-{order.date:%Y%m%d}.xml"
            written.append(target.write(out / name, header, [order]).path)
        return written
    path = out
    if out.is_dir():
        named = target.filename(headers[0])
        if named is None:
            raise FormatMismatch(f"{out} is a folder and {target.name!r} cannot name the file")
        path = out / named
    return [target.write(path, headers[0], orders).path]


def _day_line(day: PartnerDay, order: PaymentOrder | None) -> str:
    s = day.settlement
    line = (
        f"  {s.day:%d.%m.%Y}: paid {s.paid}, commission {s.commission}, VAT {s.vat}, "
        f"transfer {s.transfer}"
    )
    if order is not None:
        line += f" -> order № {order.number} of {order.date:%d.%m.%Y}"
    else:
        line += " (nothing to transfer: no order)"
    return line


@click.command()
@click.argument("registry", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", required=True, metavar="NAME", help="Format of REGISTRY.")
@click.option(
    "--partners",
    "partners_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="PARTNERS.toml",
    help="The service's and the partners' bank details and fee plans.",
)
@click.option(
    "--to",
    "to_fmt",
    required=True,
    metavar="NAME",
    help="Bank format: 1c-clientbank, 1c-directbank.",
)
@click.option(
    "--output", "-o", "out", required=True, type=click.Path(path_type=Path),
    help="Output file, or a folder (1c-directbank writes one file per order).",
)  # fmt: skip
@click.option(
    "--partner",
    "partner_id",
    metavar="INN[/KPP]",
    help="Whose registry (default: from its header or name).",
)
@click.option(
    "--registry-number", metavar="N", help="The registry's number (default: from its header)."
)
@click.option(
    "--registry-date",
    type=DATE,
    help="The registry's date (default: its header's, else the payment day).",
)
@click.option(
    "--order-number",
    type=click.IntRange(1, 999999),
    help="First payment order number (default: the registry footer's).",
)
@click.option(
    "--order-date",
    type=DATE,
    help="Date of the orders (default: the registry footer's, else today).",
)
@click.option(
    "--ignore-registry-fees", is_flag=True,
    help="Settle by the fee plan even when the registry's own fee column says otherwise.",
)  # fmt: skip
@click.pass_context
def settle(
    ctx: click.Context,
    registry: Path,
    fmt: str,
    partners_path: Path,
    to_fmt: str,
    out: Path,
    partner_id: str | None,
    registry_number: str | None,
    registry_date: dt.date | None,
    order_number: int | None,
    order_date: dt.date | None,
    ignore_registry_fees: bool,
) -> None:
    """Settle the payment registry REGISTRY and write its payment orders.

    Each partner-day of the registry is settled once under the partner's fee plan
    (commission, then VAT on top, both withheld) and becomes one payment order from the
    service's account to the partner's. Prints, per partner-day: paid, commission, VAT and
    transfer. Exits 1 when the registry is refused or its own fee column disagrees with the
    fee plan (unless --ignore-registry-fees), 2 on a usage or configuration error.
    """
    host = host_of(ctx)
    try:
        partners = _load_partners(host, partners_path)
        source = resolve_format(fmt, host)
        target = resolve_format(to_fmt, host)
        if target.kind is not RegistryKind.TRANSFERS or not target.capabilities.write:
            raise FormatMismatch(f"format {target.name!r} does not write payment orders")
        reg = _read_registry(registry, source)
    except _USAGE_ERRORS as exc:
        fail(str(exc), EXIT_USAGE)
    except RegistryRefused as exc:
        _refused(exc)
        ctx.exit(EXIT_INVALID)
    except PesError as exc:
        fail(str(exc), EXIT_INVALID)

    partner, why = _partner_of(reg, partners, partner_id)
    if partner is None:
        fail(why, EXIT_USAGE)
    if not reg.records:
        click.echo(f"{registry}: no payments, nothing to transfer")
        ctx.exit(EXIT_OK)
    extra = dict(reg.header.extra)
    found_number = registry_number or (str(reg.header.number) if reg.header.number else None)
    if found_number is None:
        fail(
            f"{registry}: the registry's number is not in the file: give --registry-number",
            EXIT_USAGE,
        )
    number: str = found_number
    first = order_number
    if first is None and extra.get("order_number", "").isdigit():
        first = int(extra["order_number"])
    if first is None:
        fail(f"{registry}: no payment order number in the file: give --order-number", EXIT_USAGE)
    when = order_date
    if when is None and "order_date" in extra:
        try:
            when = DATE.convert(extra["order_date"], None, None)
        except click.BadParameter:
            when = None
    zone = partners.service.time_zone
    when = when or dt.datetime.now(zone).date()  # "today" is the service's day

    try:
        days = settle_records(reg.records, partner, _plan(host, partner), zone=zone)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except ValueError as exc:
        fail(f"{registry}: {exc}", EXIT_INVALID)
    disagreements = [d.registry_disagrees for d in days if d.registry_disagrees]
    if disagreements and not ignore_registry_fees:
        for text in disagreements:
            click.echo(f"pes: error: {text}", err=True)
        click.echo(
            "pes: the registry and PARTNERS.toml disagree; fix one, or settle by the fee plan "
            "with --ignore-registry-fees. Nothing written.",
            err=True,
        )
        ctx.exit(EXIT_INVALID)

    orders: list[PaymentOrder | None] = []
    n = first
    try:
        for day in days:
            if day.settlement.transfer <= 0:
                orders.append(None)
                continue
            ref = RegistryRef(number, registry_date or reg.header.date or day.day)
            orders.append(payment_order(partners.service, day, ref, number=str(n), date=when))
            n += 1
    except ValueError as exc:
        fail(f"cannot make the payment order: {exc}", EXIT_INVALID)
    real = [o for o in orders if o is not None]

    click.echo(f"{partner.inn} {partner.name} (fee plan {partner.fee.plan}):")
    for day, order in zip(days, orders, strict=True):
        click.echo(_day_line(day, order))
    if len(days) > 1:
        click.echo(
            f"  total: paid {sum((d.settlement.paid for d in days), ZERO)}, "
            f"commission {sum((d.settlement.commission for d in days), ZERO)}, "
            f"VAT {sum((d.settlement.vat for d in days), ZERO)}, "
            f"transfer {sum((d.settlement.transfer for d in days), ZERO)}"
        )
    total = sum((o.amount for o in real), ZERO)
    if not real:
        click.echo("nothing to transfer: no payment order written")
        ctx.exit(EXIT_OK)
    try:
        paths = _write_orders(target, out, real, partner, partners.service.directbank_id, zone)
    except _USAGE_ERRORS as exc:
        fail(str(exc), EXIT_USAGE)
    except (FormatError, PesError) as exc:
        fail(str(exc), EXIT_INVALID)
    where = str(paths[0]) if len(paths) == 1 else f"{out} ({len(paths)} files)"
    click.echo(f"written: {len(real)} payment order(s), total {total} -> {where} ({to_fmt})")


def _registry_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".rejects.csv")
    )


def _detect(path: Path, formats: Sequence[RegistryFormat]) -> _Registry | None:
    for f in formats:
        try:
            return _read_registry(path, f)
        except (PesError, OSError, ValueError):
            continue
    return None


@click.command()
@click.argument("statement", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", required=True, metavar="NAME", help="Format of STATEMENT.")
@click.option(
    "--registries",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Folder of the payment registries whose transfers the statement should show.",
)
@click.option(
    "--partners", "partners_path", required=True, type=click.Path(path_type=Path),
    metavar="PARTNERS.toml", help="The service's and the partners' details and fee plans.",
)  # fmt: skip
@click.option(
    "--registry-format", metavar="NAME",
    help="Format of every file in DIR (default: found per file among the payments formats).",
)  # fmt: skip
@click.pass_context
def reconcile(
    ctx: click.Context,
    statement: Path,
    fmt: str,
    registries: Path,
    partners_path: Path,
    registry_format: str | None,
) -> None:
    """Check a bank statement against the transfers the registries in DIR call for.

    Each registry in DIR is settled as `pes settle` would; the transfers so expected are
    matched with the outgoing lines of the service's account in STATEMENT. Lists the
    transfers found, mismatched (another amount or account) and missing, and outgoing lines
    to partners that no registry explains. Only the service's own documents in STATEMENT
    are checked strictly (a bad one refuses it): the statement reader's notes, such as a
    third party's payment set aside for an ИНН with wrong check digits, are listed and are
    no failure. Exits 1 when anything is missing or mismatched (or a registry in DIR cannot
    be read), 2 on a usage or configuration error.
    """
    host = host_of(ctx)
    try:
        partners = _load_partners(host, partners_path)
        stmt_fmt = resolve_format(fmt, host)
        if not stmt_fmt.capabilities.read:
            raise FormatMismatch(f"format {stmt_fmt.name!r} cannot read")
        if registry_format is not None:
            pay_formats = [resolve_format(registry_format, host)]
        else:
            pay_formats = [
                f
                for f in host.formats().values()
                if f.kind is RegistryKind.PAYMENTS and f.capabilities.read
            ]
        if not registries.is_dir():
            raise UnreadableInput("no such folder", path=registries)
        if not statement.is_file():
            raise UnreadableInput("no such file", path=statement)
        with stmt_fmt.open(statement, policy=Policy.STRICT) as reader:
            entries = [e for e in reader if isinstance(e, StatementEntry)]
            notes = list(reader.notes)
    except _USAGE_ERRORS as exc:
        fail(str(exc), EXIT_USAGE)
    except RegistryRefused as exc:
        _refused(exc)
        ctx.exit(EXIT_INVALID)
    except PesError as exc:
        fail(str(exc), EXIT_INVALID)

    account = partners.service.bank.account
    ours = [e for e in entries if e.account == account]
    expected: list[ExpectedTransfer] = []
    problems: list[str] = []
    for path in _registry_files(registries):
        if registry_format is not None:
            try:
                reg = _read_registry(path, pay_formats[0])
            except RegistryRefused as exc:
                problems.append(f"{path}: refused: {exc.message}")
                continue
            except PesError as exc:
                problems.append(f"{path}: {exc}")
                continue
        else:
            detected = _detect(path, pay_formats)
            if detected is None:
                click.echo(f"skipped: {path} (no payments format reads it)", err=True)
                continue
            reg = detected
        partner, why = _partner_of(reg, partners, None)
        if partner is None:
            problems.append(why)
            continue
        try:
            days = settle_records(
                reg.records, partner, _plan(host, partner), zone=partners.service.time_zone
            )
        except (ValueError, ConfigError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        for day in days:
            if day.settlement.transfer <= 0:
                continue
            ref = None
            if reg.header.number is not None:
                ref = RegistryRef(str(reg.header.number), reg.header.date or day.day)
            expected.append(ExpectedTransfer(partner, day.day, day.settlement.transfer, ref, path))

    result = match_transfers(expected, ours, partner_inns=[p.inn for p in partners.partners])
    click.echo(
        f"{statement}: {len(ours)} line(s) of account {account}; "
        f"{len(expected)} transfer(s) expected from {registries}"
    )
    if notes:
        click.echo(f"statement notes ({len(notes)}, not counted as a failure):")
        for note in notes[:_MAX_NOTES]:
            click.echo(f"  {note}")
        if len(notes) > _MAX_NOTES:
            click.echo(f"  … and {len(notes) - _MAX_NOTES} more")
    click.echo(f"found ({len(result.found)}):")
    for exp, entry in result.found:
        click.echo(f"  {exp.describe()} <- № {entry.doc_number} of {_date(entry.day)}")
    click.echo(f"mismatched ({len(result.mismatched)}):")
    for m in result.mismatched:
        click.echo(f"  {m.expected.describe()} <- № {m.entry.doc_number} of {_date(m.entry.day)}")
        for p in m.problems:
            click.echo(f"      {p}")
    click.echo(f"missing ({len(result.missing)}):")
    for exp in result.missing:
        click.echo(f"  {exp.describe()}")
    if result.unexpected:
        click.echo(f"unexpected ({len(result.unexpected)}, not counted as a failure):")
        for e in result.unexpected:
            click.echo(
                f"  {e.counterparty_inn} {e.amount} № {e.doc_number} of {_date(e.day)}: {e.purpose}"
            )
    if problems:
        click.echo(f"registries not checked ({len(problems)}):")
        for p in problems:
            click.echo(f"  {p}")
    ok = result.ok and not problems
    click.echo("result: all transfers found" if ok else "result: NOT RECONCILED")
    ctx.exit(EXIT_OK if ok else EXIT_INVALID)


def _date(day: dt.date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else "?"
