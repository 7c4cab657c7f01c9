"""``pes settle`` and ``pes reconcile`` end to end, on registries written by the CSV adapter.

Needs the CSV adapter (``sber-payments``) and the 1C bank adapter (``pes-sdk-1c-bank``)
installed, as they are in the development environment and CI.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from click.testing import CliRunner, Result

from pes_sdk.cli.main import cli
from pes_sdk.fees import PercentPlan, SubscriptionPlan, settle_day
from pes_sdk.models import (
    Direction,
    FeeTerms,
    PaymentRecord,
    RegistryHeader,
    RegistryKind,
    Statement,
    StatementEntry,
)
from pes_sdk.partners_file import parse_partners
from pes_sdk.plugins import PluginHost
from pes_sdk.settlement_orders import (
    ExpectedTransfer,
    PartnerDay,
    RegistryRef,
    purpose_refs,
    purpose_text,
    settle_records,
)
from pes_sdk.settlement_orders import reconcile as match_transfers

bank = pytest.importorskip("pes_sdk_1c_bank", reason="the 1C bank adapter is not installed")

ROOT = Path(__file__).resolve().parents[1]
UK = "5003012349"
WATER = "7720123457"
SERVICE_ACCOUNT = "40702810500000001234"
PARTNERS = """
version = 1

[service]
name = "ООО «Энергосбыт-Платежи»"
inn = "7701012342"
kpp = "770101001"
directbank_id = "client-42"
[service.bank]
bik = "044525225"
account = "40702810500000001234"
corr_account = "30101810400000000225"
name = "ПАО Сбербанк"
city = "г. Москва"

[[partners]]
inn = "5003012349"
kpp = "500301001"
name = "ООО «УК Дом»"
fee = { plan = "percent", rate = 0.0136 }
[partners.bank]
bik = "044525974"
account = "40702810200000005678"
corr_account = "30101810145250000974"
name = "АО «ТБанк»"
city = "г. Москва"

[[partners]]
inn = "7720123457"
kpp = "772001001"
name = "АО «Водоканал»"
bank = {bik="044525225", account="40702810300000009999", name="ПАО Сбербанк", city="г. Москва"}
fee = { plan = "subscription", rate = "1%" }
"""
DAY1 = [Decimal("1272.26"), Decimal("100.00")]
DAY2 = [Decimal("500.00")]


def host() -> PluginHost:
    return PluginHost(disabled=())


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], obj=host())


def records(days: dict[dt.date, list[Decimal]], plan: str = "percent") -> list[PaymentRecord]:
    """Registry lines whose fee and transfer columns are what the fee plan gives."""
    out = []
    n = 0
    for day, amounts in days.items():
        if plan == "percent":
            fees = settle_day(PercentPlan(), FeeTerms(), day, amounts).line_fees
        else:
            fees = tuple(Decimal("0.00") for _ in amounts)
        for a, fee in zip(amounts, fees, strict=True):
            n += 1
            paid_at = dt.datetime.combine(day, dt.time(9 + n, 15, 2))
            out.append(PaymentRecord(paid_at, f"10000{n}", f"{n:06d}", a, a - fee, fee))
    return out


def sber_registry(
    path: Path, recs: list[PaymentRecord], order: tuple[str, str] | None = None
) -> Path:
    extra = (("order_number", order[0]), ("order_date", order[1])) if order else ()
    fmt = host().format("sber-payments")
    fmt.write(path, RegistryHeader(kind=RegistryKind.PAYMENTS, extra=extra), recs)
    return path


@pytest.fixture
def partners(tmp_path: Path) -> Path:
    path = tmp_path / "PARTNERS.toml"
    path.write_text(PARTNERS, "utf-8")
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    folder = tmp_path / "registries"
    folder.mkdir()
    recs = records({dt.date(2026, 11, 27): DAY1})
    return sber_registry(folder / f"{UK}_20261127.txt", recs, ("512", "28.11.2026"))


def settle(
    registry: Path, partners: Path, out: Path, *extra: str, to: str = "1c-clientbank"
) -> Result:
    return run(
        ["settle", registry, "--format", "sber-payments", "--partners", partners,
         "--to", to, "-o", out, "--registry-number", "5", "--registry-date", "28.11.2026", *extra]
    )  # fmt: skip


def test_settle_to_clientbank(tmp_path: Path, registry: Path, partners: Path) -> None:
    out = tmp_path / "orders.txt"
    result = settle(registry, partners, out)
    assert result.exit_code == 0, result.output
    assert f"{UK} ООО «УК Дом» (fee plan percent):" in result.output
    assert (
        "27.11.2026: paid 1372.26, commission 18.66, VAT 4.11, transfer 1349.49 "
        "-> order № 512 of 28.11.2026"
    ) in result.output
    (order,) = bank.read_orders(out)
    assert order.amount == Decimal("1349.49")
    assert order.number == "512" and order.date == dt.date(2026, 11, 28)
    assert order.payer.account == SERVICE_ACCOUNT and order.payer.inn == "7701012342"
    assert order.payee.inn == UK and order.payee.account == "40702810200000005678"
    assert order.payee.bank.bik == "044525974"
    assert order.purpose == (
        "Перечисление платежей за 27.11.2026 по реестру № 5 от 28.11.2026. Принято 1372,26 "
        "руб., удержано вознаграждение 22,77 руб., в т.ч. НДС 22% 4,11 руб."
    )
    # The registry's totals: the orders transfer exactly what the registry says.
    with host().format("sber-payments").open(registry) as reader:
        lines = list(reader)
    assert sum(r.transfer for r in lines) == order.amount  # type: ignore[union-attr]
    # And our own statement reader reads the file back with the same sum.
    with host().format("1c-clientbank").open(out) as reader:
        entries = list(reader)
    assert [e.direction for e in entries] == [Direction.OUT]  # type: ignore[union-attr]
    assert sum(e.amount for e in entries) == order.amount


def test_settle_several_days(tmp_path: Path, partners: Path) -> None:
    days = {dt.date(2026, 11, 27): DAY1, dt.date(2026, 11, 28): DAY2}
    reg = sber_registry(tmp_path / f"{UK}_week.txt", records(days))
    out = tmp_path / "orders.txt"
    result = settle(reg, partners, out, "--order-number", "40", "--order-date", "2026-11-30")
    assert result.exit_code == 0, result.output
    orders = bank.read_orders(out)
    assert [o.number for o in orders] == ["40", "41"]
    assert [o.amount for o in orders] == [Decimal("1349.49"), Decimal("491.70")]
    assert "за 28.11.2026" in orders[1].purpose and "НДС 22% 1,50 руб." in orders[1].purpose
    transfers = sum(r.transfer for r in records(days))
    assert sum(o.amount for o in orders) == transfers
    assert "28.11.2026: paid 500.00, commission 6.80, VAT 1.50, transfer 491.70" in result.output
    assert "total: paid 1872.26, commission 25.46, VAT 5.61, transfer 1841.19" in result.output


def test_settle_to_directbank(tmp_path: Path, partners: Path) -> None:
    days = {dt.date(2026, 11, 27): DAY1, dt.date(2026, 11, 28): DAY2}
    reg = sber_registry(tmp_path / f"{UK}_week.txt", records(days), ("512", "30.11.2026"))
    out = tmp_path / "paydocs"
    result = settle(reg, partners, out, to="1c-directbank")
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["PayDocRu_512_20261130.xml", "PayDocRu_513_20261130.xml"]
    orders = [bank.read_paydoc(f) for f in files]
    assert sum(o.amount for o in orders) == sum(r.transfer for r in records(days))
    schemas = contracts()
    if schemas is None:
        pytest.skip("1C DirectBank schemas not found (PES_CONTRACTS_DIR or ../shared/contracts)")
    for f in files:
        bank.DirectBankSchemas(schemas).validate_paydoc(f)


def test_settle_one_directbank_order(tmp_path: Path, registry: Path, partners: Path) -> None:
    result = settle(registry, partners, tmp_path / "paydocs", to="1c-directbank")
    assert result.exit_code == 0, result.output
    (only,) = (tmp_path / "paydocs").iterdir()
    assert only.name == "PayDocRu_512_20261128.xml"
    result = settle(registry, partners, tmp_path / "one.xml", to="1c-directbank")
    assert result.exit_code == 0, result.output
    assert bank.read_paydoc(tmp_path / "one.xml") == bank.read_paydoc(only)


def contracts() -> Path | None:
    base = Path(os.environ.get("PES_CONTRACTS_DIR") or ROOT.parent / "shared" / "contracts")
    folder = base / "1c-directbank"
    return folder if folder.is_dir() else None


def test_subscription_partner_gets_everything(tmp_path: Path, partners: Path) -> None:
    reg = sber_registry(
        tmp_path / f"{WATER}.txt", records({dt.date(2026, 11, 27): DAY1}, "subscription")
    )
    out = tmp_path / "o.txt"
    result = settle(reg, partners, out, "--order-number", "7")
    assert result.exit_code == 0, result.output
    (order,) = bank.read_orders(out)
    assert order.amount == Decimal("1372.26")
    assert order.payee.kpp == "772001001"
    assert order.purpose.endswith("Вознаграждение не удержано. Без налога (НДС)")


def test_registry_fees_disagree(tmp_path: Path, partners: Path) -> None:
    recs = records({dt.date(2026, 11, 27): DAY1}, "subscription")  # no fee withheld
    reg = sber_registry(tmp_path / f"{UK}.txt", recs)
    out = tmp_path / "o.txt"
    result = settle(reg, partners, out, "--order-number", "1")
    assert result.exit_code == 1
    assert "the registry withholds 0.00 and transfers 1372.26" in result.output
    assert "gives 22.77 (commission 18.66 + VAT 4.11) and 1349.49" in result.output
    assert not out.exists()
    result = settle(reg, partners, out, "--order-number", "1", "--ignore-registry-fees")
    assert result.exit_code == 0, result.output
    assert [o.amount for o in bank.read_orders(out)] == [Decimal("1349.49")]


def test_settle_usage_errors(tmp_path: Path, registry: Path, partners: Path) -> None:
    out = tmp_path / "o.txt"
    base = ["settle", registry, "--format", "sber-payments", "--partners", partners,
            "--to", "1c-clientbank", "-o", out]  # fmt: skip
    result = run(base)
    assert result.exit_code == 2 and "give --registry-number" in result.output
    result = run([*base, "--registry-number", "5", "--partner", "7707083893"])
    assert result.exit_code == 2 and "partner 7707083893 (from --partner)" in result.output
    result = run([*base, "--registry-number", "5", "--partner", "123"])
    assert result.exit_code == 2 and "--partner: an ИНН is 10 or 12 digits" in result.output
    result = run([*base[:-4], "--to", "sber-payments", "-o", out, "--registry-number", "5"])
    assert result.exit_code == 2 and "does not write payment orders" in result.output
    bad = tmp_path / "BAD.toml"
    bad.write_text(PARTNERS.replace('"40702810200000005678"', '"40702810200000005679"'), "utf-8")
    result = run([*base[:4], "--partners", bad, *base[6:], "--registry-number", "5"])
    assert result.exit_code == 2
    assert "partners[0].bank.account: bank account 40702810200000005679 fails" in result.output
    assert not out.exists()


def test_settle_refused_registry(tmp_path: Path, registry: Path, partners: Path) -> None:
    text = registry.read_bytes().replace(b"=2;1372,26", b"=2;1372,27")
    registry.write_bytes(text)
    out = tmp_path / "o.txt"
    result = settle(registry, partners, out)
    assert result.exit_code == 1
    assert "control" in result.output and not out.exists()


# -- reconcile -----------------------------------------------------------------------------


def two_day_setup(tmp_path: Path, partners: Path) -> tuple[Path, Path]:
    folder = tmp_path / "registries"
    folder.mkdir()
    sber_registry(folder / f"{UK}_27.txt", records({dt.date(2026, 11, 27): DAY1}))
    sber_registry(folder / f"{UK}_28.txt", records({dt.date(2026, 11, 28): DAY2}))
    orders = tmp_path / "orders.txt"
    for n, name in ((100, "27"), (101, "28")):
        part = tmp_path / f"part{n}.txt"
        result = settle(folder / f"{UK}_{name}.txt", partners, part, "--order-number", str(n))
        assert result.exit_code == 0, result.output
    both = bank.read_orders(tmp_path / "part100.txt") + bank.read_orders(tmp_path / "part101.txt")
    header = RegistryHeader(kind=RegistryKind.TRANSFERS, created_at=dt.datetime(2026, 11, 30))
    bank.ClientBankExchangeFormat().write(orders, header, both)
    return folder, orders


def reconcile(statement: Path, fmt: str, folder: Path, partners: Path, *extra: str) -> Result:
    return run(["reconcile", statement, "--format", fmt, "--registries", folder,
                "--partners", partners, *extra])  # fmt: skip


def test_reconcile_all_found(tmp_path: Path, partners: Path) -> None:
    folder, orders = two_day_setup(tmp_path, partners)
    result = reconcile(orders, "1c-clientbank", folder, partners)
    assert result.exit_code == 0, result.output
    assert "found (2):" in result.output and "mismatched (0):" in result.output
    assert "missing (0):" in result.output
    result = reconcile(
        orders, "1c-clientbank", folder, partners, "--registry-format", "sber-payments"
    )
    assert result.exit_code == 0, result.output


def entries_of(orders: Path) -> list[StatementEntry]:
    with host().format("1c-clientbank").open(orders) as reader:
        return [e for e in reader if isinstance(e, StatementEntry)]


def directbank_statement(path: Path, entries: list[StatementEntry]) -> Path:
    service = parse_partners(PARTNERS).service.party
    stmt = Statement(SERVICE_ACCOUNT, dt.date(2026, 11, 27), dt.date(2026, 11, 30),
                     closing_balance=Decimal("0.00"), bik="044525225")  # fmt: skip
    return bank.write_statement(path, stmt, entries, owner=service)


def test_reconcile_missing_and_mismatched(tmp_path: Path, partners: Path) -> None:
    folder, orders = two_day_setup(tmp_path, partners)
    first, second = entries_of(orders)
    # Day 27 paid one kopeck short; day 28 never paid; and an extra payment to the partner.
    short = attrs.evolve(first, amount=Decimal("1349.48"))
    extra = attrs.evolve(second, amount=Decimal("10.00"), purpose="Аванс, НДС не облагается")
    stmt = directbank_statement(tmp_path / "statement.xml", [short, extra])
    result = reconcile(stmt, "1c-directbank", folder, partners)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "found (0):" in out
    assert "mismatched (2):" in out
    assert "amount 1349.48, expected 1349.49" in out
    assert "amount 10.00, expected 491.70" in out
    assert "missing (0):" in out
    assert "result: NOT RECONCILED" in out

    stmt = directbank_statement(tmp_path / "statement2.xml", [first])
    result = reconcile(stmt, "1c-directbank", folder, partners)
    assert result.exit_code == 1
    assert "found (1):" in result.output and "missing (1):" in result.output
    assert f"{UK} ООО «УК Дом»: 491.70 for 28.11.2026" in result.output

    stmt = directbank_statement(tmp_path / "statement3.xml", [first, second, extra])
    result = reconcile(stmt, "1c-directbank", folder, partners)
    assert result.exit_code == 0, result.output
    assert "unexpected (1, not counted as a failure):" in result.output


def test_reconcile_wrong_account(tmp_path: Path, partners: Path) -> None:
    folder, orders = two_day_setup(tmp_path, partners)
    first, second = entries_of(orders)
    wrong = attrs.evolve(second, counterparty_account="40702810300000009999")
    stmt = directbank_statement(tmp_path / "statement.xml", [first, wrong])
    result = reconcile(stmt, "1c-directbank", folder, partners)
    assert result.exit_code == 1
    assert "paid to account 40702810300000009999, the partner's is 40702810200000005678" in (
        result.output
    )


def test_reconcile_usage_errors(tmp_path: Path, partners: Path) -> None:
    folder, orders = two_day_setup(tmp_path, partners)
    result = reconcile(tmp_path / "nope.txt", "1c-clientbank", folder, partners)
    assert result.exit_code == 2 and "no such file" in result.output
    result = reconcile(orders, "1c-clientbank", tmp_path / "none", partners)
    assert result.exit_code == 2
    (folder / "junk.txt").write_text("hello", "utf-8")
    result = reconcile(
        orders, "1c-clientbank", folder, partners, "--registry-format", "sber-payments"
    )
    assert result.exit_code == 1 and "registries not checked (1):" in result.output


# A client's payment to the service as the bank copied it from the client's order: a
# 17-digit account and an ИНН with wrong check digits (seen in real bank-client exports).
THIRD_PARTY = [
    "СекцияДокумент=Платежное поручение",
    "Номер=6",
    "Дата=28.11.2026",
    "Сумма=6000.00",
    "ПлательщикСчет=40702810099910004",
    "ПлательщикИНН=590412345012",
    "Плательщик1=ООО «Ромашка»",
    "ПлательщикБИК=045773999",
    f"ПолучательСчет={SERVICE_ACCOUNT}",
    "ДатаПоступило=28.11.2026",
    "ПолучательИНН=7701012342",
    "НазначениеПлатежа=Оплата по счёту № 115 от 20.11.2026. НДС не облагается",
    "КонецДокумента",
]


def bank_statement(
    orders: Path, out: Path, *, label: str = "Windows", codec: str = "cp1251"
) -> str:
    """The bank's statement of the service's account that shows the kit's ``orders`` paid:
    a СекцияРасчСчет with balances and totals, the orders, and a third party's payment in.
    Written with ``Кодировка=label`` in ``codec``; returns the text."""
    head, _, docs = orders.read_bytes().decode("cp1251").partition("СекцияДокумент=")
    docs = "СекцияДокумент=" + docs.removesuffix("КонецФайла\r\n")
    paid = sum((o.amount for o in bank.read_orders(orders)), Decimal("0.00"))
    section = [
        "СекцияРасчСчет",
        f"РасчСчет={SERVICE_ACCOUNT}",
        "НачальныйОстаток=10000.00",
        "ВсегоПоступило=6000.00",
        f"ВсегоСписано={paid}",
        f"КонечныйОстаток={Decimal('16000.00') - paid}",
        "КонецРасчСчет",
    ]
    head = head.replace("Кодировка=Windows", f"Кодировка={label}")
    text = head + "\r\n".join([*section, ""]) + docs + "\r\n".join([*THIRD_PARTY, "КонецФайла", ""])
    out.write_bytes(text.encode(codec))
    return text


@pytest.mark.parametrize(
    ("label", "codec"),
    [("Windows", "cp1251"), ("windows", "cp1251"), ("Windows", "utf-8")],
    ids=["as-1C-writes-it", "Oracle-EBS-lower-case", "UTF-8-labelled-Windows"],
)
def test_reconcile_reads_statements_as_banks_write_them(
    tmp_path: Path, partners: Path, label: str, codec: str
) -> None:
    """A third party's payment with an odd account and a bad ИНН is set aside and listed
    with its lines, never a reason to refuse the statement; the label's case does not
    matter; a UTF-8 file that says Windows is said to be UTF-8, and read."""
    folder, orders = two_day_setup(tmp_path, partners)
    stmt = tmp_path / "kl_to_1c.txt"
    text = bank_statement(orders, stmt, label=label, codec=codec)
    result = reconcile(stmt, "1c-clientbank", folder, partners)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "found (2):" in out and "result: all transfers found" in out
    lines = text.split("\r\n")
    inn_line = lines.index("ПлательщикИНН=590412345012") + 1
    account_line = lines.index("ПлательщикСчет=40702810099910004") + 1
    assert f"line {inn_line}: ПлательщикИНН: Платежное поручение № 6 of 28.11.2026" in out
    assert f"line {account_line}: ПлательщикСчет:" in out
    assert "set aside" in out and "wrong check digits" in out
    assert ("is UTF-8" in out) == (codec == "utf-8")


def test_reconcile_still_refuses_the_services_own_bad_document(
    tmp_path: Path, partners: Path
) -> None:
    """The service's own transfer with a payee ИНН whose check digits are wrong refuses the
    statement, naming the line and the field."""
    folder, orders = two_day_setup(tmp_path, partners)
    stmt = tmp_path / "kl_to_1c.txt"
    text = bank_statement(orders, stmt).replace(
        f"ПолучательИНН={UK}", "ПолучательИНН=5003012340", 1
    )
    stmt.write_bytes(text.encode("cp1251"))
    result = reconcile(stmt, "1c-clientbank", folder, partners)
    assert result.exit_code == 1
    line = text.split("\r\n").index("ПолучательИНН=5003012340") + 1
    assert f"line {line}: ПолучательИНН: ИНН 5003012340 has wrong check digits" in result.output
    assert "Traceback" not in result.output


# -- the library under the commands ------------------------------------------------------


def settled_day(amounts: list[Decimal], day: dt.date = dt.date(2026, 11, 27)) -> PartnerDay:
    pf = parse_partners(PARTNERS)
    partner = pf.partners[0]
    (d,) = settle_records(records({day: amounts}), partner, PercentPlan())
    return d


def test_purpose_template_and_length() -> None:
    day = settled_day(DAY1)
    ref = RegistryRef("5", dt.date(2026, 11, 28))
    text = purpose_text(day, ref, "Реестр {registry_number}: {paid} − {fee} (НДС {vat_rate} {vat})")
    assert text == "Реестр 5: 1372,26 − 22,77 (НДС 22% 4,11)"
    with pytest.raises(ValueError, match="210"):
        purpose_text(day, RegistryRef("9" * 200, dt.date(2026, 11, 28)))
    assert purpose_refs(purpose_text(day, ref)) == (dt.date(2026, 11, 27), ref)


def expected_transfer(amount: str, day: int, number: str | None = "5") -> ExpectedTransfer:
    partner = parse_partners(PARTNERS).partners[0]
    ref = RegistryRef(number, dt.date(2026, 11, day + 1)) if number else None
    return ExpectedTransfer(partner, dt.date(2026, 11, day), Decimal(amount), ref)


def line(amount: str, purpose: str, **kw: object) -> StatementEntry:
    values: dict[str, object] = {
        "direction": Direction.OUT,
        "account": SERVICE_ACCOUNT,
        "doc_number": "1",
        "doc_date": dt.date(2026, 11, 28),
        "amount": Decimal(amount),
        "counterparty_inn": UK,
        "counterparty_account": "40702810200000005678",
        "counterparty_bik": "044525974",
        "purpose": purpose,
    }
    values.update(kw)
    return StatementEntry(**values)  # type: ignore[arg-type]


def test_reconcile_matching_rules() -> None:
    exp = [expected_transfer("100.00", 27), expected_transfer("200.00", 28, "6")]
    # Purposes name the days: amounts swapped between them are two mismatches, not found.
    swapped = [
        line("200.00", "Перечисление платежей за 27.11.2026 по реестру № 5 от 28.11.2026"),
        line("100.00", "Перечисление платежей за 28.11.2026 по реестру № 6 от 29.11.2026"),
    ]
    result = match_transfers(exp, swapped)
    assert not result.found and len(result.mismatched) == 2 and not result.ok
    # No ИНН in the statement: the account tells; no purpose refs: the amount tells.
    bare = [
        line("200.00", "оплата", counterparty_inn=None),
        line("100.00", "оплата", counterparty_inn=None, counterparty_bik=None),
    ]
    result = match_transfers(exp, bare)
    assert len(result.found) == 2 and result.ok
    # Incoming lines and lines of other payees never count.
    other = [
        line("100.00", "за 27.11.2026", direction=Direction.IN),
        line("200.00", "за 28.11.2026", counterparty_inn=WATER),
    ]
    result = match_transfers(exp, other, partner_inns=[UK, WATER])
    assert len(result.missing) == 2
    assert [e.counterparty_inn for e in result.unexpected] == [WATER]
    # A line naming another registry of the partner pays nothing expected here.
    wrong_ref = [line("100.00", "за 27.11.2026 по реестру № 4 от 28.11.2026")]
    result = match_transfers(exp[:1], wrong_ref)
    assert len(result.found) == 1  # …but the same amount and account still match (pass 2)


# -- time zones: the service's days, never the host's (issue 11) ----------------------------


@pytest.fixture
def host_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Puts the test process in another host time zone (``TZ``), restored afterwards."""

    def move(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield move
    monkeypatch.undo()
    time.tzset()


def _created(path: Path) -> dt.datetime:
    pairs = dict(
        ln.split("=", 1) for ln in path.read_text(encoding="cp1251").splitlines() if "=" in ln
    )
    stamp = f"{pairs['ДатаСоздания']} {pairs['ВремяСоздания']}"
    return dt.datetime.strptime(stamp, "%d.%m.%Y %H:%M:%S")


# Kiritimati (UTC+14) and Pago Pago (UTC−11): at any moment one of them is on another date
# than Moscow, so a date taken from the host's clock is caught whenever the test runs.
@pytest.mark.timezone
@pytest.mark.parametrize(
    "host", ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
)
def test_settle_today_is_the_services_day(
    tmp_path: Path, partners: Path, host_zone: Callable[[str], None], host: str
) -> None:
    """Without --order-date or a footer's date the order is dated today in the service's
    zone (PARTNERS.toml's service.time_zone, default Europe/Moscow), and the file's
    ДатаСоздания/ВремяСоздания are the service's wall time."""
    host_zone(host)
    moscow = ZoneInfo("Europe/Moscow")
    reg = sber_registry(tmp_path / f"{UK}.txt", records({dt.date(2026, 11, 27): DAY1}))
    out = tmp_path / "orders.txt"
    before = dt.datetime.now(moscow).replace(tzinfo=None, microsecond=0)
    result = settle(reg, partners, out, "--order-number", "7")
    after = dt.datetime.now(moscow).replace(tzinfo=None)
    assert result.exit_code == 0, result.output
    (order,) = bank.read_orders(out)
    assert order.date in {before.date(), after.date()}
    assert before <= _created(out) <= after


def test_settle_days_are_the_services_days() -> None:
    """A payment time with a zone is dated in the service's zone: 21:30 UTC on 31.12.2025 is
    a payment of 01.01.2026 in Moscow (and Perm); a time without a zone is already the
    service's wall time."""
    partner = parse_partners(PARTNERS).partners[0]
    aware = dt.datetime(2025, 12, 31, 21, 30, tzinfo=dt.UTC)
    naive = dt.datetime(2025, 12, 31, 23, 45)
    recs = [
        PaymentRecord(aware, "1", "000001", Decimal("100.00"), Decimal("100.00"), Decimal("0")),
        PaymentRecord(naive, "2", "000002", Decimal("50.00"), Decimal("50.00"), Decimal("0")),
    ]
    plan = SubscriptionPlan()
    by_default = settle_records(recs, partner, plan)
    assert [(d.day, d.settlement.paid) for d in by_default] == [
        (dt.date(2025, 12, 31), Decimal("50.00")),
        (dt.date(2026, 1, 1), Decimal("100.00")),
    ]
    perm = settle_records(recs, partner, plan, zone=ZoneInfo("Asia/Yekaterinburg"))
    assert [d.day for d in perm] == [dt.date(2025, 12, 31), dt.date(2026, 1, 1)]
    new_york = settle_records(recs, partner, plan, zone=ZoneInfo("America/New_York"))
    assert [(d.day, d.settlement.paid) for d in new_york] == [
        (dt.date(2025, 12, 31), Decimal("150.00"))
    ]
