"""1C DirectBank: PayDocRu and Statement against 1C's own schemas, and 1C's own samples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from lxml import etree
from pes_sdk_1c_bank import DirectBankFormat, DirectBankSchemas, read_paydoc, write_statement

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.formats import Policy
from pes_sdk.models import (
    Direction,
    Party,
    PaymentOrder,
    RegistryHeader,
    RegistryKind,
    Statement,
    StatementEntry,
)
from pes_sdk.plugins import get_host

NS = "{http://directbank.1c.ru/XMLSchema}"
CREATED = dt.datetime(2026, 11, 28, 9, 30, 0)
OURS = "40702810500000001234"

Orders = Callable[..., PaymentOrder]


def header() -> RegistryHeader:
    return RegistryHeader(
        kind=RegistryKind.TRANSFERS,
        number=512,
        date=dt.date(2026, 11, 28),
        created_at=CREATED,
        extra=(("sender_id", "client-42"),),
    )


def test_plugin_provides_the_format() -> None:
    fmt = get_host().format("1c-directbank")
    assert isinstance(fmt, DirectBankFormat)
    assert fmt.kind is RegistryKind.TRANSFERS
    assert fmt.filename(header()) == "PayDocRu_512_20261128.xml"


def test_paydoc_is_valid_against_1c_schema(
    tmp_path: Path, directbank_dir: Path, make_order: Orders
) -> None:
    out = tmp_path / "paydoc.xml"
    report = DirectBankFormat(schemas=None).write(out, header(), [make_order()])
    assert report.records == 1 and report.total == Decimal("1349.49")
    DirectBankSchemas(directbank_dir).validate_paydoc(out)
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{NS}PayDocRu"
    assert root.get("formatVersion") == "2.3.2"
    assert root.get("creationDate") == "2026-11-28T09:30:00"
    assert root.find(f"{NS}Sender").get("id") == "client-42"
    assert root.find(f"{NS}Recipient").get("bic") == "044525225"
    data = root.find(f"{NS}Data")
    assert data.findtext(f"{NS}Sum") == "1349.49"
    assert data.findtext(f"{NS}Priority") == "5"
    assert data.findtext(f"{NS}Payee/{NS}Account") == "40702810200000005678"
    assert "НДС 22% 4,11" in data.findtext(f"{NS}Purpose")


def test_writer_validates_when_schemas_are_configured(
    tmp_path: Path, directbank_dir: Path, make_order: Orders
) -> None:
    """With schemas configured, an order the schema refuses never reaches its file."""
    fmt = DirectBankFormat(schemas=DirectBankSchemas(directbank_dir))
    fmt.write(tmp_path / "ok.xml", header(), [make_order()])
    broken = DirectBankFormat(schemas=DirectBankSchemas(directbank_dir), format_version="x" * 13)
    with pytest.raises(FormatError, match=r"not valid against 1C-Bank_PayDocRu\.xsd"):
        broken.write(tmp_path / "bad.xml", header(), [make_order()])
    assert [p.name for p in tmp_path.iterdir()] == ["ok.xml"]  # no partial, no temporary


def test_schema_location_from_env(monkeypatch: pytest.MonkeyPatch, directbank_dir: Path) -> None:
    monkeypatch.delenv("PES_DIRECTBANK_XSD_DIR", raising=False)
    monkeypatch.setenv("PES_CONTRACTS_DIR", str(directbank_dir.parent))
    schemas = DirectBankSchemas.from_env()
    assert schemas is not None and schemas.folder == directbank_dir
    monkeypatch.setenv("PES_DIRECTBANK_XSD_DIR", "/nowhere")
    schemas = DirectBankSchemas.from_env()
    assert schemas is not None
    with pytest.raises(FormatError, match="not found"):
        schemas.validate_paydoc(directbank_dir / "samples" / "PayDocRu.xml")


def test_paydoc_round_trip(tmp_path: Path, make_order: Orders) -> None:
    order = make_order()
    out = tmp_path / "paydoc.xml"
    DirectBankFormat(schemas=None).write(out, header(), [order])
    assert read_paydoc(out) == order


def test_same_order_same_document_id(tmp_path: Path, make_order: Orders) -> None:
    fmt = DirectBankFormat(schemas=None)
    fmt.write(tmp_path / "a.xml", header(), [make_order()])
    fmt.write(tmp_path / "b.xml", header(), [make_order()])
    fmt.write(tmp_path / "c.xml", header(), [make_order(number="513")])
    ids = [etree.parse(str(tmp_path / n)).getroot().get("id") for n in ("a.xml", "b.xml", "c.xml")]
    assert ids[0] == ids[1] != ids[2]


def test_one_order_per_document(tmp_path: Path, make_order: Orders) -> None:
    fmt = DirectBankFormat(schemas=None)
    with pytest.raises(FormatError, match="one payment order"):
        fmt.write(tmp_path / "two.xml", header(), [make_order(), make_order(number="513")])
    with pytest.raises(FormatError, match="no payment order"):
        fmt.write(tmp_path / "none.xml", header(), [])
    assert not list(tmp_path.iterdir())


def test_1c_samples_validate(directbank_dir: Path) -> None:
    """The schemas and samples agree, so a failure elsewhere is ours."""
    schemas = DirectBankSchemas(directbank_dir)
    schemas.validate_paydoc(directbank_dir / "samples" / "PayDocRu.xml")
    schemas.validate_statement(directbank_dir / "samples" / "Statement.xml")


def test_1c_sample_paydoc_account_key_is_checked(directbank_dir: Path) -> None:
    """1C's sample order uses demo accounts whose control keys fail: we never accept those."""
    with pytest.raises(FormatError, match="control key") as err:
        read_paydoc(directbank_dir / "samples" / "PayDocRu.xml")
    assert err.value.field == "Payer"


def test_reads_1c_sample_statement(directbank_dir: Path) -> None:
    fmt = get_host().format("1c-directbank")
    with fmt.open(directbank_dir / "samples" / "Statement.xml") as reader:
        entries = list(reader)
        report = reader.report
    assert report.valid and report.records == 1 and report.total == Decimal("14.00")
    (entry,) = entries
    assert isinstance(entry, StatementEntry)
    assert entry.direction is Direction.OUT  # DC 1: debit of our account
    assert entry.account == "40702810500000000001"
    assert entry.doc_number == "768"
    assert entry.doc_date == entry.value_date == dt.date(2019, 5, 4)
    assert entry.amount == Decimal("14.00")
    assert entry.counterparty_name == "Индивидуальный предприниматель Иванов Иван Иванович"
    assert entry.counterparty_inn is None and entry.counterparty_kpp is None  # written as 0
    assert entry.counterparty_account == "40802810300020007955"
    assert entry.counterparty_bik == "046577413"
    assert entry.counterparty_key_ok is True
    assert entry.purpose.startswith("За транспортные услуги по счету № Ек2Тюм003221")
    stmt = reader.statement
    assert stmt is not None
    assert stmt.opening_balance == Decimal("139280.91")
    assert stmt.closing_balance == Decimal("88970.02")
    assert (stmt.date_from, stmt.date_to) == (dt.date(2019, 5, 4), dt.date(2019, 5, 13))
    assert stmt.bik == "044525888"
    assert reader.header.partner_account == "40702810500000000001"


def statement_entries(partner: Party, other: Party) -> list[StatementEntry]:
    return [
        StatementEntry(
            Direction.OUT, OURS, "512", dt.date(2026, 11, 28), Decimal("1349.49"),
            partner.name, partner.inn, partner.kpp, partner.account, partner.bank.bik,
            partner.bank.bank_name, "Перечисление платежей за 27.11.2026 по реестру № 5",
            dt.date(2026, 11, 28), "PayDocRu (10)",
        ),
        StatementEntry(
            Direction.IN, OURS, "77", dt.date(2026, 11, 29), Decimal("5000.00"),
            other.name, other.inn, None, other.account, other.bank.bik, other.bank.bank_name,
            "Возврат, НДС не облагается", dt.date(2026, 11, 29), "PayDocRu (10)",
        ),
    ]  # fmt: skip


def a_statement(**kw: object) -> Statement:
    values: dict[str, object] = {
        "account": OURS,
        "date_from": dt.date(2026, 11, 27),
        "date_to": dt.date(2026, 11, 29),
        "opening_balance": Decimal("10000.00"),
        "total_in": Decimal("5000.00"),
        "total_out": Decimal("1349.49"),
        "closing_balance": Decimal("13650.51"),
        "bik": "044525225",
    }
    values.update(kw)
    return Statement(**values)  # type: ignore[arg-type]


def test_statement_round_trip_and_schema(
    tmp_path: Path, directbank_dir: Path, service: Party, partner: Party, other: Party
) -> None:
    entries = statement_entries(partner, other)
    path = write_statement(
        tmp_path / "st.xml", a_statement(), entries, owner=service, bank_name="ПАО Сбербанк"
    )
    DirectBankSchemas(directbank_dir).validate_statement(path)
    with get_host().format("1c-directbank").open(path) as reader:
        got = list(reader)
    assert got == entries
    assert reader.statement == a_statement()


def test_statement_totals_are_checked(
    tmp_path: Path, service: Party, partner: Party, other: Party
) -> None:
    path = write_statement(
        tmp_path / "st.xml",
        a_statement(total_out=Decimal("1349.00"), closing_balance=Decimal("13651.00")),
        statement_entries(partner, other),
        owner=service,
    )
    with (
        pytest.raises(RegistryRefused, match=r"TotalDebits is 1349\.00"),
        get_host().format("1c-directbank").open(path) as reader,
    ):
        list(reader)


def test_bad_operation_strict_and_quarantine(
    tmp_path: Path, service: Party, partner: Party, other: Party
) -> None:
    path = write_statement(
        tmp_path / "st.xml", a_statement(total_in=None, total_out=None),
        statement_entries(partner, other), owner=service,
    )  # fmt: skip
    text = path.read_text("utf-8").replace("<DC>2</DC>", "<DC>3</DC>")
    path.write_text(text, "utf-8")
    fmt = get_host().format("1c-directbank")
    with pytest.raises(RegistryRefused) as err, fmt.open(path) as reader:
        list(reader)
    (issue,) = err.value.issues
    assert issue.field == "DC" and issue.line > 1
    with fmt.open(path, policy=Policy.QUARANTINE, rejects_path=tmp_path / "rej.csv") as reader:
        kept = list(reader)
    assert len(kept) == 1 and reader.report.rejected == 1


def test_wrong_root_is_refused(tmp_path: Path, make_order: Orders) -> None:
    path = tmp_path / "paydoc.xml"
    DirectBankFormat(schemas=None).write(path, header(), [make_order()])
    with (
        pytest.raises(RegistryRefused, match="not Statement"),
        get_host().format("1c-directbank").open(path) as reader,
    ):
        list(reader)


# -- the bank's city and the creation time (issue 11) ---------------------------------------


def test_paydoc_names_both_banks_city_and_is_valid_against_1c_schema(
    tmp_path: Path, directbank_dir: Path, make_order: Orders
) -> None:
    """``Bank/City`` of 1C's ``BankType`` (between ``Name`` and ``CorrespAcc``), for both
    sides, in a document 1C's own schema accepts; read back into ``BankDetails.city``."""
    out = tmp_path / "paydoc.xml"
    DirectBankFormat(schemas=DirectBankSchemas(directbank_dir)).write(out, header(), [make_order()])
    DirectBankSchemas(directbank_dir).validate_paydoc(out)
    data = etree.parse(str(out)).getroot().find(f"{NS}Data")
    for side in ("Payer", "Payee"):
        bank = data.find(f"{NS}{side}/{NS}Bank")
        assert [etree.QName(el).localname for el in bank] == ["BIC", "Name", "City", "CorrespAcc"]
        assert bank.findtext(f"{NS}City") == "г. Москва"
    order = read_paydoc(out)
    assert order.payer.bank.city == order.payee.bank.city == "г. Москва"
    assert order == make_order()


def test_paydoc_without_a_bank_city_is_refused(
    tmp_path: Path, make_order: Orders, partner: Party
) -> None:
    no_city = attrs.evolve(partner, bank=attrs.evolve(partner.bank, city=""))
    out = tmp_path / "paydoc.xml"
    with pytest.raises(FormatError) as err:
        DirectBankFormat(schemas=None).write(out, header(), [make_order(payee=no_city)])
    assert err.value.field == "Payee/Bank/City"
    assert "BankDetails.city" in err.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timezone
@pytest.mark.parametrize("host", ["UTC", "America/New_York"])
def test_creation_date_is_the_service_zone_whatever_the_host(
    tmp_path: Path, make_order: Orders, host_zone: Callable[[str], None], host: str
) -> None:
    """``@creationDate`` is written without an offset, as 1C does: the service's wall time."""
    host_zone(host)
    out = tmp_path / "paydoc.xml"
    fmt = DirectBankFormat(schemas=None)
    aware = dt.datetime(2025, 12, 31, 21, 45, tzinfo=dt.UTC)
    fmt.write(out, attrs.evolve(header(), created_at=aware), [make_order()])
    assert etree.parse(str(out)).getroot().get("creationDate") == "2026-01-01T00:45:00"

    moscow = ZoneInfo("Europe/Moscow")
    before = dt.datetime.now(moscow).replace(tzinfo=None, microsecond=0)
    fmt.write(out, attrs.evolve(header(), created_at=None), [make_order()])
    after = dt.datetime.now(moscow).replace(tzinfo=None)
    written = dt.datetime.fromisoformat(etree.parse(str(out)).getroot().get("creationDate"))
    assert before <= written <= after


def _statement_with_a_bad_inn(
    tmp_path: Path, service: Party, partner: Party, other: Party, bad: Party
) -> Path:
    """The test statement, with ``bad``'s ИНН given wrong check digits (a bank's typo)."""
    assert bad.inn is not None
    path = write_statement(
        tmp_path / "st.xml", a_statement(), statement_entries(partner, other), owner=service
    )
    text = path.read_text("utf-8")
    wrong = bad.inn[:-1] + str((int(bad.inn[-1]) + 1) % 10)
    assert text.count(f"<INN>{bad.inn}</INN>") == 1
    path.write_text(text.replace(f"<INN>{bad.inn}</INN>", f"<INN>{wrong}</INN>"), "utf-8")
    return path


def test_a_third_partys_unreadable_credit_is_set_aside_not_a_refusal(
    tmp_path: Path, service: Party, partner: Party, other: Party
) -> None:
    # Another party paid us with an ИНН whose check digits are wrong (its bank's typo):
    # pes reconcile used to refuse the whole statement for it.
    path = _statement_with_a_bad_inn(tmp_path, service, partner, other, bad=other)
    with get_host().format("1c-directbank").open(path) as reader:
        got = list(reader)
    assert [e.direction for e in got] == [Direction.OUT]  # our own transfer, read
    (note,) = reader.notes
    assert note.field == "Payer" and note.line > 1
    assert "5000.00 received set aside" in note.message
    # its 5000.00 still counts: TotalCredits (5000.00) was checked and holds
    assert reader.report.rejected == 0 and reader.report.refused is None


def test_our_own_unreadable_debit_still_refuses(
    tmp_path: Path, service: Party, partner: Party, other: Party
) -> None:
    path = _statement_with_a_bad_inn(tmp_path, service, partner, other, bad=partner)
    with pytest.raises(RegistryRefused) as err, get_host().format("1c-directbank").open(path) as r:
        list(r)
    (issue,) = err.value.issues
    assert issue.field == "Payee"


def test_an_undeclared_namespace_prefix_is_a_typed_refusal(
    tmp_path: Path, service: Party, partner: Party, other: Party
) -> None:
    # Found by fuzzing (issue 13): <x:Data> with x undeclared raised a bare ValueError
    # from lxml's QName, a traceback out of pes validate.
    path = write_statement(
        tmp_path / "st.xml", a_statement(), statement_entries(partner, other), owner=service
    )
    text = path.read_text("utf-8").replace("<Data>", "<x:Data>").replace("</Data>", "</x:Data>")
    path.write_text(text, "utf-8")
    with pytest.raises(RegistryRefused) as err, get_host().format("1c-directbank").open(path) as r:
        list(r)
    assert "namespace prefix that is not declared" in str(err.value)
    assert err.value.issues[0].line > 1
