"""Bad records are issues with their line and field under the policy; a broken structure or
a control-total mismatch refuses the registry whole; the writer refuses what XML or the
format cannot hold and leaves no partial file."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pes_sdk_1c_xml import OneCXmlDebts, OneCXmlPayments, OneCXmlReadings

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.formats.base import Policy
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.period import Period

NS = "urn:pes-sdk:registry:1"
HOUSE = "6961b2bd-e4ab-3ef2-30b1-877a121939cd"


def pay(**attrs: str) -> str:
    base = {
        "paidAt": "2026-11-27T10:00:00+03:00",
        "operationId": "op",
        "account": "000123",
        "amount": "10.00",
        "transfer": "9.86",
        "fee": "0.14",
    }
    base.update(attrs)
    return "<Payment " + " ".join(f'{k}="{v}"' for k, v in base.items() if v != "-") + "/>"


def payments_file(tmp_path: Path, lines: list[str], totals: str | None = None) -> Path:
    """One record per line, starting at line 3; totals computed unless given."""
    if totals is None:
        totals = (
            f'<Totals count="{len(lines)}" amount="{10 * len(lines)}.00" '
            f'transfer="{Decimal("9.86") * len(lines)}" fee="{Decimal("0.14") * len(lines)}"/>'
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27">\n'
        + "".join(f"{line}\n" for line in lines)
        + f"{totals}\n</PaymentRegistry>\n"
    )
    path = tmp_path / "p.xml"
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, policy: Policy = Policy.STRICT, fmt: Any = None) -> tuple[list[Any], Any]:
    reader = (fmt or OneCXmlPayments()).open(path, policy=policy)
    with reader:
        records = list(reader)
    return records, reader.report


BAD_RECORDS = [
    (pay(amount="10,00"), "amount", "two decimals after a dot"),
    (pay(amount="10.5"), "amount", "two decimals"),
    (pay(amount="١٠.٠٠"), "amount", "two decimals"),
    (pay(fee="abc"), "fee", "amount"),
    (pay(houseId="not-a-guid"), "houseId", "GUID"),
    (pay(account="-"), "account", "missing attribute"),
    (pay(account=" 12"), "account", "spaces"),
    (pay(paidAt="27.11.2026"), "paidAt", "date-time"),
    (pay(paidAt="2026-13-27T10:00:00"), "paidAt", "month"),
    (pay(period="2026-13"), "period", "period"),
    (pay(extra="1"), "extra", "unknown attribute"),
    (pay(transfer="9.00"), "Payment", "must equal amount"),
]


@pytest.mark.parametrize(("line", "field", "words"), BAD_RECORDS)
def test_bad_record_strict_refuses_with_line_and_field(
    tmp_path: Path, line: str, field: str, words: str
) -> None:
    path = payments_file(tmp_path, [pay(), line, pay()])
    with pytest.raises(RegistryRefused) as info:
        read(path)
    issues = [i for i in info.value.issues if i.line == 4]
    assert issues, info.value.issues
    assert issues[0].field == field
    assert words in issues[0].message
    assert not (tmp_path / "p.xml.rejects.csv").exists()


@pytest.mark.parametrize(("line", "field", "words"), BAD_RECORDS)
def test_bad_record_quarantine_keeps_the_good_ones(
    tmp_path: Path, line: str, field: str, words: str
) -> None:
    path = payments_file(tmp_path, [pay(operationId="a"), line, pay(operationId="c")])
    try:
        records, report = read(path, Policy.QUARANTINE)
    except RegistryRefused as exc:
        # a bad amount leaves the control sums unverifiable or unequal: refused whole
        assert field in ("amount", "fee", "Payment")
        assert any(i.field == "control" for i in exc.issues)
        assert not (tmp_path / "p.xml.rejects.csv").exists()
        return
    assert [r.operation_id for r in records] == ["a", "c"]
    assert report.rejected == 1 and report.records == 2
    assert report.issues[0].line == 4 and report.issues[0].field == field
    assert report.rejects_path == tmp_path / "p.xml.rejects.csv"
    rows = list(csv.reader(report.rejects_path.open(encoding="utf-8-sig"), delimiter=";"))
    assert rows[0] == ["line", "field", "message", "raw"]
    assert rows[1][0] == "4" and rows[1][1] == field and "<Payment" in rows[1][3]


def test_control_count_mismatch_refuses_even_under_quarantine(tmp_path: Path) -> None:
    totals = '<Totals count="3" amount="20.00" transfer="19.72" fee="0.28"/>'
    path = payments_file(tmp_path, [pay(), pay()], totals)
    with pytest.raises(RegistryRefused, match="control totals"):
        read(path, Policy.QUARANTINE)


def test_control_sum_mismatch_refuses(tmp_path: Path) -> None:
    totals = '<Totals count="2" amount="20.01" transfer="19.72" fee="0.28"/>'
    path = payments_file(tmp_path, [pay(), pay()], totals)
    with pytest.raises(RegistryRefused, match="control sum of amount"):
        read(path, Policy.QUARANTINE)


def test_control_totals_land_in_the_header(tmp_path: Path) -> None:
    path = payments_file(tmp_path, [pay(), pay()])
    with OneCXmlPayments().open(path) as reader:
        assert reader.header.control is None  # not known before the end
        list(reader)
    assert reader.header.control is not None
    assert reader.header.control.count == 2
    assert reader.header.control.sums["fee"] == Decimal("0.28")


@pytest.mark.parametrize(
    ("totals", "words"),
    [
        ("", "no Totals"),
        ('<Totals count="x" amount="0.00" transfer="0.00" fee="0.00"/>', "count"),
        ('<Totals count="1" amount="10" transfer="9.86" fee="0.14"/>', "amount"),
        ('<Totals count="1" amount="10.00" transfer="9.86"/>', "fee"),
        ('<Totals count="1" amount="10.00" transfer="9.86" fee="0.14" x="1"/>', "unknown"),
    ],
)
def test_bad_totals_refuse(tmp_path: Path, totals: str, words: str) -> None:
    path = payments_file(tmp_path, [pay()], totals)
    with pytest.raises(RegistryRefused, match=words):
        read(path, Policy.QUARANTINE)


def test_record_after_totals_refuses(tmp_path: Path) -> None:
    totals = '<Totals count="2" amount="20.00" transfer="19.72" fee="0.28"/>'
    path = payments_file(tmp_path, [pay(), totals, pay()], totals="")
    with pytest.raises(RegistryRefused, match="Totals must be the last"):
        read(path, Policy.QUARANTINE)


def test_foreign_element_among_records_refuses(tmp_path: Path) -> None:
    path = payments_file(tmp_path, [pay(), "<Debt/>", pay()])
    with pytest.raises(RegistryRefused, match="unexpected element Debt") as info:
        read(path, Policy.QUARANTINE)
    assert "line 4" in str(info.value)


def test_foreign_element_among_many_records_refuses(tmp_path: Path) -> None:
    lines = [pay()] * 300 + ["<x:Junk xmlns:x='urn:junk'/>"] + [pay()] * 300
    path = payments_file(tmp_path, lines)
    with pytest.raises(RegistryRefused, match="unexpected element") as info:
        read(path, Policy.QUARANTINE)
    assert "line 303" in str(info.value)


def test_nested_record_refuses(tmp_path: Path) -> None:
    inner = pay()
    outer = pay().replace("/>", f">{inner}</Payment>")
    path = payments_file(tmp_path, [outer])
    with pytest.raises(RegistryRefused, match="cannot hold another"):
        read(path, Policy.QUARANTINE)


def test_unexpected_child_and_bad_tag_are_record_issues(tmp_path: Path) -> None:
    lines = [
        pay().replace("/>", "><Other/></Payment>"),
        pay().replace("/>", '><Tag key="a:b">x</Tag></Payment>'),
        pay().replace("/>", '><Tag key="CLIENTNO">x</Tag></Payment>'),
    ]
    path = payments_file(tmp_path, lines)
    with pytest.raises(RegistryRefused) as info:
        read(path)
    assert [(i.line, i.field) for i in info.value.issues[:2]] == [(3, "Other"), (4, "Tag")]


@pytest.mark.parametrize(
    ("root", "words"),
    [
        (
            f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">',
            "root element is DebtRegistry",
        ),
        (
            '<PaymentRegistry xmlns="urn:pes-sdk:registry:2" partnerInn="7707083893" number="1" '
            'date="2026-11-27">',
            "urn:pes-sdk:registry:1",
        ),
        ('<PaymentRegistry partnerInn="7707083893" number="1" date="2026-11-27">', "no namespace"),
        (
            f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083894" number="1" date="2026-11-27">',
            "partnerInn",
        ),
        (
            f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="0" date="2026-11-27">',
            "number",
        ),
        (f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1">', "date"),
        (
            f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27" '
            'x="1">',
            "x",
        ),
    ],
)
def test_bad_root_refuses_at_open(tmp_path: Path, root: str, words: str) -> None:
    path = tmp_path / "r.xml"
    path.write_text(f"{root}\n</{root.split()[0][1:]}>", encoding="utf-8")
    with pytest.raises(RegistryRefused, match=words) as info:
        OneCXmlPayments().open(path)
    assert "line 1" in str(info.value) and str(path) in str(info.value)


def test_other_encoding_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_bytes('<?xml version="1.0" encoding="windows-1251"?>\n<a/>'.encode("cp1251"))
    with pytest.raises(RegistryRefused, match="windows-1251"):
        OneCXmlPayments().open(path)


def test_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryRefused, match="cannot read"):
        OneCXmlPayments().open(tmp_path / "nope.xml")


def test_truncated_file_refused(tmp_path: Path) -> None:
    path = payments_file(tmp_path, [pay(), pay()])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(RegistryRefused, match="not well-formed"):
        read(path, Policy.QUARANTINE)


def test_duplicate_debt_is_an_issue(tmp_path: Path) -> None:
    header = RegistryHeader(
        RegistryKind.DEBTS, partner_inn="7707083893", number=1, period=Period(2026, 11)
    )
    path = tmp_path / "d.xml"
    recs = [
        DebtRecord("1", HOUSE, "1", Decimal("1.00"), service="ХВС"),
        DebtRecord("2", HOUSE, "2", Decimal("2.00"), service="ХВС"),
    ]
    OneCXmlDebts().write(path, header, recs)
    text = path.read_text(encoding="utf-8").replace('account="2"', 'account="1"')
    path.write_text(text, encoding="utf-8")
    records, report = read(path, Policy.QUARANTINE, OneCXmlDebts())
    assert records == recs[:1]
    assert report.issues[0].line == 4 and report.issues[0].field == "account"
    assert "repeat" in report.issues[0].message


def test_readings_bad_values(tmp_path: Path) -> None:
    ns_root = f'<ReadingRegistry xmlns="{NS}" partnerInn="7707083893" number="1">'
    lines = [
        '<Reading account="1" meterNumber="M" meterType="14" takenOn="2026-11-01" t1="1"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="-1"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="1" t3="2"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="1" '
        'photoSha256="XYZ"/>',
        '<Reading account="1" meterNumber="M" meterType="2" takenOn="2026-11-01" t1="1.5"/>',
    ]
    path = tmp_path / "m.xml"
    path.write_text(
        ns_root + "\n" + "\n".join(lines) + '\n<Totals count="5"/>\n</ReadingRegistry>\n',
        encoding="utf-8",
    )
    records, report = read(path, Policy.QUARANTINE, OneCXmlReadings())
    assert len(records) == 1 and records[0].values == (Decimal("1.5"),)
    assert [(i.line, i.field) for i in report.issues] == [
        (2, "meterType"),
        (3, "t1"),
        (4, "Reading"),
        (5, "Reading"),
    ]


# -- writer ------------------------------------------------------------------------------


def payments_header() -> RegistryHeader:
    return RegistryHeader(
        RegistryKind.PAYMENTS, partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )


def payment(**kw: Any) -> PaymentRecord:
    base: dict[str, Any] = dict(
        paid_at=dt.datetime(2026, 11, 27, 10),
        operation_id="op",
        account="1",
        amount=Decimal("1.00"),
        transfer=Decimal("1.00"),
        fee=Decimal("0.00"),
    )
    base.update(kw)
    return PaymentRecord(**base)


@pytest.mark.parametrize(
    ("record", "words"),
    [
        (payment(service="bell\x07"), "XML compatible"),
        (
            payment(amount=Decimal("1" * 16 + ".00"), transfer=Decimal("1" * 16 + ".00")),
            "15 digits",
        ),
        (
            payment(paid_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30)))),
            "xs:dateTime",
        ),
        (DebtRecord("1", HOUSE, "1", Decimal("1.00")), "PaymentRecord"),
    ],
)
def test_writer_refuses_and_keeps_the_old_file(tmp_path: Path, record: Any, words: str) -> None:
    path = tmp_path / "p.xml"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(FormatError, match=words) as info:
        OneCXmlPayments().write(path, payments_header(), [payment(), record])
    assert "record 2" in str(info.value)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.xml"]


@pytest.mark.parametrize("missing", ["partner_inn", "number", "date"])
def test_writer_needs_the_header(tmp_path: Path, missing: str) -> None:
    import attrs

    nothing: dict[str, Any] = {missing: None}
    header = attrs.evolve(payments_header(), **nothing)
    with pytest.raises(FormatError, match=missing):
        OneCXmlPayments().write(tmp_path / "p.xml", header, [payment()])
    assert not list(tmp_path.iterdir())


def test_filename() -> None:
    assert OneCXmlPayments().filename(payments_header()) == "payments_7707083893_2026-11-27_001.xml"
    assert OneCXmlPayments().filename(RegistryHeader(RegistryKind.PAYMENTS)) is None


def test_long_text_is_an_issue_and_stays_out_of_the_rejects_file(tmp_path: Path) -> None:
    lines = [pay(operationId="a"), pay(operationId="x" * 200_000), pay(operationId="c")]
    totals = '<Totals count="3" amount="30.00" transfer="29.58" fee="0.42"/>'
    path = payments_file(tmp_path, lines, totals)
    records, report = read(path, Policy.QUARANTINE)
    assert [r.operation_id for r in records] == ["a", "c"]
    assert (report.issues[0].line, report.issues[0].field) == (4, "operationId")
    assert "longer than 1000" in report.issues[0].message
    assert len(report.issues[0].message) < 100
    assert report.rejects_path is not None
    assert report.rejects_path.stat().st_size < 10_000


def test_writer_refuses_long_text(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="service is longer than 1000"):
        OneCXmlPayments().write(
            tmp_path / "p.xml", payments_header(), [payment(service="я" * 1001)]
        )
    OneCXmlPayments().write(tmp_path / "p.xml", payments_header(), [payment(service="я" * 1000)])


def test_records_inside_a_foreign_element_refuse(tmp_path: Path) -> None:
    lines = [pay()] * 5 + ["<Junk>"] + [pay()] * 600 + ["</Junk>"]
    path = payments_file(tmp_path, lines)
    with pytest.raises(RegistryRefused, match="must be a child of the root"):
        read(path, Policy.QUARANTINE)


def test_record_holding_many_records_refuses(tmp_path: Path) -> None:
    outer = pay().replace("/>", ">" + pay() * 600 + "</Payment>")
    path = payments_file(tmp_path, [outer])
    with pytest.raises(RegistryRefused, match="must be a child of the root"):
        read(path, Policy.QUARANTINE)


# -- the report after a refusal (README, "The report") -------------------------------------


def refused_report(path: Path, policy: Policy) -> tuple[RegistryRefused, Any]:
    """The refusal and the report the same reader gives after it."""
    reader = OneCXmlPayments().open(path, policy=policy, rejects_path=path.with_suffix(".csv"))
    with reader, pytest.raises(RegistryRefused) as info:
        list(reader)
    return info.value, reader.report


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_report_after_a_structural_refusal_tells_it(tmp_path: Path, policy: Policy) -> None:
    """A file refused half-way (an element that is no record, at line 5) has a report that
    says so, where and why, and keeps nothing: not the records read before the refusal."""
    path = payments_file(tmp_path, [pay(), pay(amount="1,00"), "<Debt/>", pay()])
    error, report = refused_report(path, policy)
    assert report.refused == error.message
    assert "line 5" in str(report.refused) and "unexpected element Debt" in str(report.refused)
    assert report.path == path
    assert (report.records, report.total, report.rejected) == (0, Decimal("0.00"), 0)
    assert report.rejects_path is None and not path.with_suffix(".csv").exists()
    assert report.issues[-1].line == 5
    assert [i.line for i in report.issues] == [4, 5]  # the bad amount, then the refusal
    assert report.issues[0].field == "amount"
    assert not report.valid


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_report_after_control_totals_fail_tells_it(tmp_path: Path, policy: Policy) -> None:
    """Totals that do not match refuse the registry: the report and the error name the
    Totals line (5) and the control sum, and count no record as kept."""
    totals = '<Totals count="2" amount="20.01" transfer="19.72" fee="0.28"/>'
    path = payments_file(tmp_path, [pay(), pay()], totals)
    error, report = refused_report(path, policy)
    assert "line 5" in str(error) and "control sum of amount" in str(error)
    assert report.refused == error.message
    assert (report.records, report.total, report.rejected) == (0, Decimal("0.00"), 0)
    assert [(i.line, i.field) for i in report.issues] == [(5, "control")]
    assert report.issues == error.issues
    assert report.header.control is not None  # the stated totals, as read


def test_report_after_a_malformed_file_tells_it(tmp_path: Path) -> None:
    # Enough records that the fault lies past what opening the file parses.
    path = payments_file(tmp_path, [pay()] * 2000)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("</PaymentRegistry>", "</Payment>"), encoding="utf-8")
    error, report = refused_report(path, Policy.QUARANTINE)
    assert report.refused == error.message and "line 2004" in str(report.refused)
    assert (report.records, report.total) == (0, Decimal("0.00"))


# -- the writer's header refusals name the file ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "attribute"),
    [
        ({"partner_inn": None}, "partner_inn", "partnerInn"),
        ({"partner_inn": "123"}, "partner_inn", "partnerInn"),
        ({"number": 0}, "number", "number"),
        ({"date": None}, "date", "date"),
        ({"partner_account": "4070281093800000000"}, "partner_account", "partnerAccount"),
        (
            {"created_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30)))},
            "created_at",
            "createdAt",
        ),
    ],
)
def test_header_refusal_names_the_file_element_and_field(
    tmp_path: Path, change: dict[str, Any], field: str, attribute: str
) -> None:
    import attrs

    path = tmp_path / "p.xml"
    header = attrs.evolve(payments_header(), **change)
    with pytest.raises(FormatError) as info:
        OneCXmlPayments().write(path, header, [payment()])
    error = info.value
    assert error.path == path
    assert (error.line, error.field) == (2, field)  # the root element's line
    assert f"PaymentRegistry/@{attribute}" in str(error.message)
    assert str(error).startswith(f"{path}: line 2: {field}: PaymentRegistry/@{attribute}: ")
    assert not list(tmp_path.iterdir())
