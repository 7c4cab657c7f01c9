"""``pes demo``: a walk-through of the SDK on fixed example data (what ``make demo`` runs).

It generates a partner's debt registry (реестр задолженности) in the kit's own ``pes-debts``
format, validates it, converts it to the Sberbank-style ``sber-debts`` text registry, reads
that back, settles one partner-day under the ``percent`` fee plan, and shows what the
quarantine policy does with a file that has one bad row; then a client pays a basket through
the sandbox gateway (the embedded default acquirer, on loopback). The data is fixed, so the
output is the same on every run (only the folder differs when it is a temporary one).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import click

from pes_sdk.cli.common import EXIT_INVALID, host_of
from pes_sdk.errors import PesError
from pes_sdk.fees import settle_day
from pes_sdk.formats.base import Policy, ReadReport, RegistryFormat
from pes_sdk.gateways import PaymentProcessor
from pes_sdk.models import (
    DebtRecord,
    FeeTerms,
    Payment,
    PaymentLine,
    PaymentMethod,
    RegistryHeader,
    RegistryKind,
)
from pes_sdk.money import ZERO, from_kopecks
from pes_sdk.operations import convert, validate
from pes_sdk.period import Period
from pes_sdk.plugins import PluginHost
from pes_sdk.vat import DEFAULT_VAT_SCHEDULE

__all__ = ["REQUIRED_FORMATS", "demo", "example_header", "example_records", "press_pay"]

#: The formats the walk-through needs; both come from the CSV adapter (pes-sdk-csv).
REQUIRED_FORMATS = ("pes-debts", "sber-debts")

PARTNER_INN = "5001007329"  # a made-up ИНН with valid check digits
PARTNER_ACCOUNT = "40702810380000000002"  # a made-up р/с, control key valid with BIK 044525225
PERIOD = Period(2026, 11)
SETTLEMENT_DAY = dt.date(2026, 11, 20)
_DEMO_PAYMENT = uuid.UUID("00000000-0000-4000-8000-000000000001")

_HOUSES = (
    "5f1d7d2e-3c4b-4a8e-9f10-2b3c4d5e6f70",
    "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
    "a1b2c3d4-e5f6-4789-9abc-def012345678",
    "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b",
)
# Premises are text, never numbers: letters, slashes, prefixes, rooms in a flat.
_PREMISES = (
    "1",
    "12а",
    "12/1",
    "кв. 7",
    "12-1",
    "45",
    "пом. 3",
    "12, ком. 3",
    "7б",
    "кв. 101",
    "2А",
    "оф. 5",
)
_SERVICES = ("Электроэнергия", "Электроэнергия ОДН")


def example_header() -> RegistryHeader:
    """The header of the example registry: partner, account, period, number 1."""
    return RegistryHeader(
        kind=RegistryKind.DEBTS,
        partner_inn=PARTNER_INN,
        partner_account=PARTNER_ACCOUNT,
        period=PERIOD,
        number=1,
    )


def example_records(accounts: int = 30) -> list[DebtRecord]:
    """Fixed example debts (seeded): leading-zero accounts, Cyrillic premises, an advance.

    Every fifth account also owes for common-property electricity (ОДН): one account, two
    services, which a debt registry allows as long as (account, service) stays unique.
    """
    rng = random.Random(20261120)
    records = []
    for k in range(accounts):
        account = f"{100 + k * 7:08d}"  # leading zeros are part of the account
        house = _HOUSES[k % len(_HOUSES)]
        premises = _PREMISES[k % len(_PREMISES)]
        kopecks = rng.randint(15_000, 650_000)
        if k == 3:
            kopecks = -35_000  # an advance: the client overpaid, nothing is due
        records.append(
            DebtRecord(account, house, premises, from_kopecks(kopecks), PERIOD, _SERVICES[0])
        )
        if k % 5 == 4:
            odn = from_kopecks(rng.randint(900, 9_000))
            records.append(DebtRecord(account, house, premises, odn, PERIOD, _SERVICES[1]))
    return records


def _say(text: str = "") -> None:
    click.echo(text)


def _step(n: int, title: str) -> None:
    _say()
    _say(f"{n}. {title}")


def _report_lines(report: ReadReport) -> Iterator[str]:
    verdict = "valid" if report.valid else "NOT valid"
    yield f"   {verdict}: {report.records} good record(s), {report.rejected} rejected"
    yield f"   total {report.total}"
    if report.refused is not None:
        yield f"   refused: {report.refused}"
    for issue in report.issues[:10]:
        yield f"   {issue}"


def _missing_formats(host: PluginHost) -> list[str]:
    known = host.formats()
    return [name for name in REQUIRED_FORMATS if name not in known]


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the files in this folder (created if missing). Default: a temporary folder, "
    "removed at the end.",
)
@click.pass_context
def demo(ctx: click.Context, out: Path | None) -> None:
    """Walk through the SDK on example data: generate, validate, convert, settle.

    Needs the `pes-debts` and `sber-debts` formats of the CSV adapter (pes-sdk-csv).
    """
    host = host_of(ctx)
    missing = _missing_formats(host)
    if missing:
        click.echo(
            f"pes demo: the format(s) {', '.join(missing)} are not installed. They come from "
            "the CSV adapter: `pip install -e adapters/csv` (or `make demo`, which installs "
            "every distribution). See `pes formats` and `pes plugins`.",
            err=True,
        )
        ctx.exit(EXIT_INVALID)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _run(host, out, keep=True)
        return
    folder = Path(tempfile.mkdtemp(prefix="pes-demo-"))
    try:
        _run(host, folder, keep=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(host: PluginHost, folder: Path, *, keep: bool) -> None:
    try:
        _walk(host, folder, keep=keep)
    except PesError as exc:
        # The demo runs on fixed data: an error here means a format broke its contract.
        raise click.ClickException(f"the demo failed: {exc}") from exc


def _walk(host: PluginHost, folder: Path, *, keep: bool) -> None:
    pes_fmt = host.format("pes-debts")
    sber_fmt = host.format("sber-debts")
    header = example_header()
    records = example_records()

    _say("pes-sdk demo: a partner's monthly debt registry, end to end")
    _say(
        f"folder: {folder}" + ("" if keep else " (temporary; `pes demo --out DIR` keeps the files)")
    )
    _say(f"partner ИНН {PARTNER_INN}, р/с {PARTNER_ACCOUNT}, period {PERIOD}, registry no. 1")

    _step(1, f"Generate an example registry in {pes_fmt.name} ({pes_fmt.description})")
    src = folder / (pes_fmt.filename(header) or "debts-2026-11.csv")
    written = pes_fmt.write(src, header, records)
    advances = [r for r in records if r.amount < 0]
    _say(f"   wrote {src.name}: {written.records} records, total {written.total}")
    _say(
        f"   {len(advances)} advance(s) (negative amount: the client overpaid): "
        + ", ".join(f"account {r.account} {r.amount}" for r in advances)
    )
    _say("   premises as written: " + ", ".join(dict.fromkeys(str(r.premises) for r in records)))

    _step(2, f"Validate {src.name}")
    first = validate(src, pes_fmt, Policy.STRICT, host=host)
    for line in _report_lines(first):
        _say(line)

    _step(3, f"Convert to {sber_fmt.name} ({sber_fmt.description})")
    name = sber_fmt.filename(header)
    _say(f"   file name by the format's convention: {name}")
    dst = folder / (name or "sber-debts.txt")
    read, out = convert(src, dst, pes_fmt, sber_fmt, Policy.STRICT, host=host)
    _say(f"   read {read.records} records; wrote {out.records}, total {out.total}")
    encodings = ", ".join(sber_fmt.capabilities.encodings)
    _say(f"   {dst.stat().st_size} bytes, encodings the format reads: {encodings}")

    _step(4, f"Read {dst.name} back")
    back = validate(dst, sber_fmt, Policy.STRICT, host=host)
    for line in _report_lines(back):
        _say(line)
    got = _read_records(sber_fmt, dst)
    same = sum(
        1
        for a, b in zip(records, got, strict=False)
        if (a.account, a.house_id, a.premises.text, a.amount)
        == (b.account, b.house_id, b.premises.text, b.amount)
    )
    _say(f"   {same} of {len(records)} records identical (account, house, premises, amount)")
    due = sum((r.due for r in got), ZERO)
    _say(f"   debts due {due}; advances {sum((r.amount for r in got if r.amount < 0), ZERO)}")

    _step(5, f"Settle one partner-day ({SETTLEMENT_DAY}) under the percent plan")
    _settle(host, [r for r in got if r.amount > 0][:6])

    _step(6, "Quarantine: the same registry with one bad row")
    bad = folder / ("bad-" + src.name)
    victim = records[4]
    assert victim.house_id is not None  # the demo's registry names every house
    text = src.read_text(encoding="utf-8-sig")
    if text.count(victim.house_id) == 0:
        raise PesError(f"{pes_fmt.name} did not write the house GUID as text")
    # Break the house GUID on one row only: the row is bad, the file's totals still hold.
    lines = text.splitlines(keepends=True)
    row = next(i for i, ln in enumerate(lines) if victim.account in ln and victim.house_id in ln)
    lines[row] = lines[row].replace(victim.house_id, "not-a-guid")
    bad.write_text("".join(lines), encoding="utf-8")
    strict = validate(bad, pes_fmt, Policy.STRICT, host=host)
    _say(f"   strict:     {'valid' if strict.valid else 'refused'}: {strict.refused}")
    for issue in strict.issues[:3]:
        _say(f"               {issue}")
    rejects = folder / (bad.name + ".rejects.csv")
    kept = validate(bad, pes_fmt, Policy.QUARANTINE, rejects_path=rejects, host=host)
    _say(
        f"   quarantine: {kept.records} good record(s) kept, {kept.rejected} rejected, "
        f"total {kept.total}"
    )
    if kept.rejects_path is not None:
        _say(f"   rejects file {kept.rejects_path.name}:")
        for ln in kept.rejects_path.read_text(encoding="utf-8-sig").splitlines():
            _say(f"     {ln}")

    _step(7, "A client pays a basket through the sandbox gateway (the embedded default)")
    _pay_basket(host, got[:2])

    _step(8, "A whole day on the reference runner (`pes runner demo`)")
    _runner_day(host, folder / "runner-day" if keep else None)

    _say()
    _say("Done. Next: `pes formats`, `pes validate FILE --format NAME`, `pes convert --help`.")


def _runner_day(host: PluginHost, out: Path | None) -> None:
    """Run the reference runner's demo day, found like any plugin command (never imported).

    The runner is its own distribution (pes-sdk-runner); it adds ``pes runner`` through the
    ``pes_cli_commands`` hook, and its ``demo`` subcommand runs the day.
    """
    ctx = click.get_current_context()
    group = host.cli_commands().get("runner")
    command = group.get_command(ctx, "demo") if isinstance(group, click.Group) else None
    if command is None:
        _say("   the reference runner (pes-sdk-runner) is not installed: step skipped")
        return
    _say()
    ctx.invoke(command, out=out)


def _pay_basket(host: PluginHost, debts: list[DebtRecord]) -> None:
    """One gateway payment for two services: created, paid on the acquirer's page, credited.

    The gateway is found through the plugin host like any other (the core never imports an
    adapter); the "client" presses the pay button of the sandbox's confirmation page over
    HTTP on loopback, and the processor then polls the acquirer, the backstop that works
    even when every webhook is lost.
    """
    factory = host.gateways().get("sandbox")
    if factory is None:
        _say("   the sandbox gateway (pes-sdk-sandbox) is not installed: step skipped")
        return
    lines = [
        PaymentLine(PARTNER_INN, d.account, d.amount, service=d.service, premises=d.premises)
        for d in debts
        if d.amount > 0
    ]
    basket = Payment(_DEMO_PAYMENT, dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
    credits: list[Decimal] = []
    gateway = factory.create({})
    try:
        processor = PaymentProcessor(gateway, on_credit=lambda e: credits.append(e.payment.total))
        entry = processor.start(basket, return_url="https://cabinet.example/paid")
        _say(f"   basket: {len(lines)} services, total {basket.total}, by card")
        confirmation = entry.confirmation
        if confirmation is None or confirmation.url is None:
            raise PesError("the sandbox gave no confirmation page")
        _say(f"   {entry.state.value}: the client is sent to the acquirer's confirmation page")
        press_pay(confirmation.url)
        processor.refresh(basket.payment_id)
        twice = processor.refresh(basket.payment_id)  # a repeated status is no new credit
        _say(f"   the client pressed pay; polled the acquirer: {twice.entry.state.value}")
        _say(f"   credited {len(credits)} time(s): {', '.join(map(str, credits))}")
    finally:
        gateway.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The page redirects the browser to the cabinet's return URL: the demo stops there.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def press_pay(url: str, *, action: str = "pay") -> None:
    """Press a button (``pay`` or ``decline``) of the sandbox's confirmation page.

    What the client's browser does on the acquirer's page; loopback addresses only.
    """
    if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise PesError(f"the demo only presses buttons on loopback, not {url}")
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode({"action": action}).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=5).close()
    except urllib.error.HTTPError as exc:
        if exc.code not in (302, 303):
            raise PesError(f"the confirmation page answered {exc.code}") from None


def _read_records(fmt: RegistryFormat, path: Path) -> list[DebtRecord]:
    with fmt.open(path) as reader:
        return [r for r in reader if isinstance(r, DebtRecord)]


def _settle(host: PluginHost, paid: list[DebtRecord]) -> None:
    plan = host.fee_plans()["percent"]
    terms = FeeTerms()  # the default contract: 1.36% commission
    amounts = [r.amount for r in paid]
    s = settle_day(plan, terms, SETTLEMENT_DAY, amounts)
    vat_rate = DEFAULT_VAT_SCHEDULE.rate_on(SETTLEMENT_DAY)
    _say(
        f"   {len(paid)} payments to the partner that day; "
        f"commission {terms.rate * 100:.2f}% of the day's total"
    )
    _say(f"   {'account':<10} {'premises':<12} {'paid':>10} {'fee':>8} {'transfer':>10}")
    for r, fee, transfer in zip(paid, s.line_fees, s.line_transfers, strict=True):
        _say(f"   {r.account:<10} {r.premises.text:<12} {r.amount:>10} {fee:>8} {transfer:>10}")
    _say(f"   paid        {s.paid:>10}")
    _say(f"   commission  {s.commission:>10}  (computed once on the day's total, half-up)")
    _say(f"   VAT {vat_rate * 100:.0f}%     {s.vat:>10}  (on top of the commission)")
    _say(f"   transfer    {s.transfer:>10}  (paid - commission - VAT)")
    check = s.transfer + s.commission + s.vat == s.paid and sum(s.line_fees, ZERO) == s.fee
    _say(f"   checks: transfer + commission + VAT = paid, line fees sum to the fee: {check}")
