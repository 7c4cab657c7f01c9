"""Bad input to the built-in CSV dialects: each kind that issue 2 lists, read for real.

Every file here is written byte by byte by the test (not by the adapter's writer), so a
writer bug cannot hide a reader bug. Each read goes through :func:`read`, which lets only
:class:`~pes_sdk.errors.RegistryRefused` out of the reader: any other exception escaping is a
failure of its own ("typed errors only").

Line numbers are physical, 1-based lines of the file: in ``pes-debts`` the header is line 1,
so the first record is line 2.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pes_sdk.errors import Issue, PesError, RegistryRefused
from pes_sdk.formats.base import Policy, ReadReport, Record, RegistryFormat
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.period import Period
from pes_sdk.plugins import get_host

INN = "7707083893"
ACCOUNT_20 = "40702810938000000001"
#: The name ``ИНН_РС_НОМЕР_ММГГ.txt`` a sber-debts registry for 2026-11 carries.
SBER_DEBTS_NAME = f"{INN}_{ACCOUNT_20}_001_1126.txt"
GUID = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
GUID2 = "5ee84ac0-eb9a-4a7c-9a0c-1b8f5a4e0e11"
NOV = Period(2026, 11)

PES_DEBTS_HEADER = "account;house_id;premises;amount;period;service"
PES_PAYMENTS_HEADER = (
    "paid_at;operation_id;account;house_id;premises;period;service_code;service;channel;"
    "amount;transfer;fee"
)


# -- reading ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one read gave: the records yielded, the report, and the refusal if any."""

    records: list[Record] = field(default_factory=list)
    report: ReadReport | None = None
    refused: RegistryRefused | None = None

    def issues(self) -> Sequence[Issue]:
        if self.refused is not None:
            return self.refused.issues
        assert self.report is not None
        return self.report.issues

    def issues_at(self, line: int) -> list[Issue]:
        return [i for i in self.issues() if i.line == line]


def fmt(name: str) -> RegistryFormat:
    return get_host().format(name)


def read(
    name: str, path: Path, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
) -> Outcome:
    """Open and iterate ``path`` to the end; only RegistryRefused may escape the reader."""
    out = Outcome()
    reader = None
    format_ = fmt(name)
    try:
        reader = format_.open(path, policy=policy, rejects_path=rejects_path)
        with reader:
            for record in reader:
                out.records.append(record)
    except RegistryRefused as exc:
        out.refused = exc
    except Exception as exc:  # the point of the test: nothing untyped gets out
        pytest.fail(f"{name}: untyped {type(exc).__name__} escaped the reader: {exc!r}")
    if reader is not None:
        if out.refused is None:
            out.report = reader.report
        else:
            # After a refusal the report is a courtesy; the refusal is what counts.
            try:
                out.report = reader.report
            except Exception:
                out.report = None
    return out


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sber_debts(tmp_path: Path, lines: Sequence[str], *, footer: str | None = None) -> Path:
    """A sber-debts file: cp1251, CRLF (as Windows software writes them), no header."""
    body = list(lines) + ([footer] if footer is not None else [])
    text = "".join(line + "\r\n" for line in body)
    return write_bytes(tmp_path / SBER_DEBTS_NAME, text.encode("cp1251"))


def pes_debts(
    tmp_path: Path, lines: Sequence[str], *, footer: str | None = "auto", name: str = "debts.csv"
) -> Path:
    """A pes-debts file (UTF-8, header, LF); ``footer="auto"`` counts and sums the lines."""
    body = [PES_DEBTS_HEADER, *lines]
    if footer == "auto":
        total = sum((Decimal(line.split(";")[3]) for line in lines), Decimal("0.00"))
        footer = f"={len(lines)};{total}"
    if footer is not None:
        body.append(footer)
    return write_bytes(tmp_path / name, "".join(x + "\n" for x in body).encode("utf-8"))


def sber_row(
    account: str = "0012345",
    house: str = GUID,
    premises: str = "12а",
    amount: str = "1272,26",
    period: str = "112026",
    service: str = "Электроснабжение",
) -> str:
    return ";".join([account, house, premises, amount, period, service])


def pes_row(
    account: str = "0012345",
    house: str = GUID,
    premises: str = "кв. 7",
    amount: str = "1272.26",
    period: str = "2026-11",
    service: str = "Содержание жилья",
) -> str:
    return ";".join([account, house, premises, amount, period, service])


GOOD_SBER = [
    sber_row("0000001", premises="1", amount="100,00"),
    sber_row("0000002", premises="12/1", amount="200,50"),
    sber_row("0000003", premises="кв. 7", amount="-15,00"),
]


def no_leftovers(folder: Path) -> None:
    """An atomic writer leaves no ``.part`` files behind, whatever happened."""
    assert [p.name for p in folder.iterdir() if p.name.endswith(".part")] == []


def read_rejects(path: Path) -> list[dict[str, str]]:
    """The rejects file: UTF-8 with BOM (for Excel), ``;``, columns line;field;message;raw."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


# -- one bad row of each kind ----------------------------------------------------------------

#: (case id, bad sber-debts line, field that must be named, text the reason must quote)
SBER_BAD_ROWS = [
    ("too-few-columns", "0012345;" + GUID + ";12а", None, None),
    ("too-many-columns", sber_row() + ";лишнее;ещё", None, None),
    ("amount-two-commas", sber_row(amount="12,3,4"), "amount", "12,3,4"),
    ("amount-letters", sber_row(amount="abc"), "amount", "abc"),
    ("amount-three-decimals", sber_row(amount="12,345"), "amount", "12,345"),
    ("amount-three-decimals-dot", sber_row(amount="12.345"), "amount", "12.345"),
    ("amount-empty", sber_row(amount=""), "amount", None),
    ("guid-garbage", sber_row(house="not-a-guid"), "house_id", "not-a-guid"),
    ("guid-short", sber_row(house=GUID[:-1]), "house_id", GUID[:-1]),
    ("guid-non-hex", sber_row(house="g" + GUID[1:]), "house_id", "g" + GUID[1:]),
    ("period-month-13", sber_row(period="132026"), "period", "13"),
    ("period-month-00", sber_row(period="002026"), "period", None),
    ("period-iso-in-sber", sber_row(period="2026-11"), "period", "2026-11"),
    ("account-empty", sber_row(account=""), "account", None),
    ("account-31-chars", sber_row(account="1" * 31), "account", None),
    ("premises-256-chars", sber_row(premises="1" * 256), "premises", None),
]


@pytest.mark.parametrize(
    ("bad", "field_name", "quoted"),
    [pytest.param(b, f, q, id=i) for i, b, f, q in SBER_BAD_ROWS],
)
def test_sber_debts_bad_row_is_reported_with_line_field_and_reason(
    tmp_path: Path, bad: str, field_name: str | None, quoted: str | None
) -> None:
    path = sber_debts(tmp_path, [GOOD_SBER[0], bad, GOOD_SBER[1]])
    out = read("sber-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")

    assert out.refused is None, out.refused
    assert out.report is not None
    # The good rows on either side are kept, the bad one is not.
    assert [r.account for r in out.records] == ["0000001", "0000002"]
    assert out.report.records == 2
    assert out.report.rejected == 1
    assert out.report.total == Decimal("300.50")
    assert not out.report.valid
    at_line = out.issues_at(2)
    assert at_line, f"no issue on line 2: {out.issues()}"
    assert all(i.line in (2,) for i in out.issues()), out.issues()
    for issue in at_line:
        assert issue.message.strip(), "an issue must say why"
    if field_name is not None:
        assert field_name in [i.field for i in at_line], at_line
    else:  # wrong column count: the reason says so
        assert any(re.search(r"column|field|cell", i.message, re.I) for i in at_line), at_line
    if quoted is not None:
        assert any(quoted in i.message for i in at_line if i.field == field_name), at_line


@pytest.mark.parametrize(
    ("bad", "field_name", "quoted"),
    [
        pytest.param(pes_row(amount="12,3,4"), "amount", "12,3,4", id="amount-two-commas"),
        pytest.param(pes_row(amount="abc"), "amount", "abc", id="amount-letters"),
        pytest.param(pes_row(amount="1.234"), "amount", "1.234", id="amount-three-decimals"),
        pytest.param(pes_row(house="{" + GUID + "}"), "house_id", GUID, id="guid-braces"),
        pytest.param(pes_row(period="2026-13"), "period", "13", id="period-month-13"),
        pytest.param(pes_row(period="112026"), "period", "112026", id="period-sber-in-pes"),
        pytest.param(pes_row(account=""), "account", None, id="account-empty"),
        pytest.param(pes_row(account="0" * 31), "account", None, id="account-31-chars"),
        pytest.param("0012345;" + GUID + ";7;10.00", None, None, id="too-few-columns"),
    ],
)
def test_pes_debts_bad_row_refused_under_strict_with_line_and_field(
    tmp_path: Path, bad: str, field_name: str | None, quoted: str | None
) -> None:
    # Footer without sums: control totals are not what this test is about.
    path = pes_debts(tmp_path, [pes_row("0000001"), bad], footer=None)
    path = write_bytes(path, path.read_bytes() + b"=2;0.00\n")
    out = read("pes-debts", path, Policy.STRICT)

    assert out.refused is not None, "policy strict must refuse a registry with a bad row"
    assert isinstance(out.refused, RegistryRefused)
    at_line = out.issues_at(3)
    assert at_line, f"no issue on line 3 (header is line 1): {out.refused.issues}"
    if field_name is not None:
        assert field_name in [i.field for i in at_line], at_line
    else:
        assert any(re.search(r"column|field|cell", i.message, re.I) for i in at_line), at_line
    if quoted is not None:
        assert any(quoted in i.message for i in at_line), at_line
    assert out.refused.path == path


def test_sber_payments_bad_rows_reported(tmp_path: Path) -> None:
    good = f"27.11.2026;10-15-00;app;000123;0012345;{GUID};12а;112026;;;100,00;98,64;1,36"
    rows = [
        good,
        f"31.02.2026;10-15-00;app;000124;0012346;{GUID};12а;112026;;;100,00;98,64;1,36",
        f"27.11.2026;25-00-00;app;000125;0012347;{GUID};12а;112026;;;100,00;98,64;1,36",
        f"27.11.2026;10-15-00;app;000126;0012348;{GUID};12а;112026;;;100,00;98,00;1,36",
        "27.11.2026;10-15-00;app;000127;0012349;nope;12а;112026;;;100,00;98,64;1,36",
        f"27.11.2026;10-15-00;app;000128;0012350;{GUID};12а;132026;;;100,00;98,64;1,36",
        f"27.11.2026;10-15-00;app;000129;0012351;{GUID};12а;112026;;;1,2,3;98,64;1,36",
        good.replace("000123", "000130") + ";CLIENTNO77",  # a tag without its ':'
        good.replace("000123", "000131") + ";CLIENTNO:77;method_pay:card",  # good tags
    ]
    text = "".join(r + "\r\n" for r in rows) + "=9;900,00;881,76;18,24;15;27.11.2026\r\n"
    path = write_bytes(tmp_path / "payments.txt", text.encode("cp1251"))
    out = read("sber-payments", path, Policy.STRICT)

    assert out.refused is not None
    lines = {i.line for i in out.issues() if i.field != "control"}
    assert lines == {2, 3, 4, 5, 6, 7, 8}, out.issues()
    assert "date" in [i.field for i in out.issues_at(2)]
    assert "time" in [i.field for i in out.issues_at(3)]
    assert "house_id" in [i.field for i in out.issues_at(5)]
    assert "period" in [i.field for i in out.issues_at(6)]
    assert "amount" in [i.field for i in out.issues_at(7)]
    assert "tags" in [i.field for i in out.issues_at(8)]
    # The good rows were still read (provisionally: the registry is refused at the end).
    assert [r.operation_id for r in out.records] == ["000123", "000131"]
    assert out.records[1].tags == (("CLIENTNO", "77"), ("method_pay", "card"))


# -- the file as a whole ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "house_id;account;premises;amount;period;service",  # columns swapped
        "account;house_id;premises;amount;period",  # one missing
        "ACCOUNT;HOUSE_ID;PREMISES;AMOUNT;PERIOD;SERVICE",
        pes_row("0000001"),  # no header at all: the first record stands in its place
    ],
)
@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_pes_debts_wrong_header_refuses_whole(tmp_path: Path, header: str, policy: Policy) -> None:
    path = pes_debts(tmp_path, [pes_row("0000002", amount="1.00")])
    data = path.read_bytes().replace(PES_DEBTS_HEADER.encode(), header.encode(), 1)
    out = read("pes-debts", write_bytes(path, data), policy, tmp_path / "rejects.csv")
    assert out.refused is not None
    assert [i.line for i in out.refused.issues] == [1], out.refused.issues
    assert not (tmp_path / "rejects.csv").exists()


def test_pes_debts_with_utf8_bom_is_read(tmp_path: Path) -> None:
    # Excel saves "CSV UTF-8" with a BOM; the BOM is no part of the header.
    path = pes_debts(tmp_path, [pes_row("0000001", amount="1.00")])
    out = read("pes-debts", write_bytes(path, b"\xef\xbb\xbf" + path.read_bytes()))
    assert out.refused is None, out.refused
    assert [r.account for r in out.records] == ["0000001"]


def test_utf8_bom_in_a_cp1251_registry_refuses_whole(tmp_path: Path) -> None:
    # A partner saved the registry as UTF-8: in cp1251 the BOM reads as "п»ї", which would
    # silently become part of the first account. The BOM proves the encoding wrong.
    data = "".join(r + "\r\n" for r in GOOD_SBER[:1]).encode("cp1251")
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, b"\xef\xbb\xbf" + data)
    out = read("sber-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")
    assert out.refused is not None, (
        f"a UTF-8 BOM in a cp1251 file must refuse it; read {[r.account for r in out.records]}"
    )


# -- NUL bytes and overlong lines --------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_nul_byte_in_a_line_is_a_bad_row(tmp_path: Path, policy: Policy) -> None:
    # In premises, whose model accepts any text: only the reader can catch it.
    bad = sber_row("0000009", premises="12\x00а")
    path = sber_debts(tmp_path, [GOOD_SBER[0], bad, GOOD_SBER[1]])
    out = read("sber-debts", path, policy, tmp_path / "rejects.csv")

    assert out.issues_at(2), f"the NUL byte on line 2 is not reported: {out.issues()}"
    if policy is Policy.STRICT:
        assert out.refused is not None
    else:
        assert out.refused is None
        assert [r.account for r in out.records] == ["0000001", "0000002"]
        assert all("\x00" not in str(r.premises) for r in out.records)


def test_overlong_line_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    limit = fmt("sber-debts").capabilities.max_line_length
    assert limit is not None, "sber-debts must declare the longest line it accepts"
    # The service column has no length rule of its own: only the line limit can catch this.
    bad = sber_row("0000009", service="Ж" * (limit + 10))
    path = sber_debts(tmp_path, [GOOD_SBER[0], bad, GOOD_SBER[1], GOOD_SBER[2]])
    out = read("sber-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")

    assert out.refused is None, out.refused
    assert out.issues_at(2), f"the overlong line 2 is not reported: {out.issues()}"
    assert [r.account for r in out.records] == ["0000001", "0000002", "0000003"]
    assert {i.line for i in out.issues()} == {2}


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_line_length_limit_is_exact(tmp_path: Path, newline: str) -> None:
    """A line of max_line_length characters (without its ending) is read; one more is not."""
    limit = fmt("sber-debts").capabilities.max_line_length
    assert limit is not None
    base = sber_row("0000001", service="")
    at_limit = base + "Ж" * (limit - len(base))
    over = sber_row("0000002", service="") + "Ж" * (limit - len(base) + 1)
    assert (len(at_limit), len(over)) == (limit, limit + 1)
    text = at_limit + newline + over + newline + GOOD_SBER[2] + newline
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, text.encode("cp1251"))
    out = read("sber-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")
    assert out.refused is None
    assert [r.account for r in out.records] == ["0000001", "0000003"]
    assert {i.line for i in out.issues()} == {2}, out.issues()


def test_overlong_line_without_newline_at_all_is_refused_typed(tmp_path: Path) -> None:
    # A "file" that is one 8 MB line: the reader must stop at its limit, not load it whole.
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, b"1" * (8 * 1024 * 1024))
    out = read("sber-debts", path, Policy.STRICT)
    assert out.refused is not None
    assert out.records == []


# -- strict and quarantine ---------------------------------------------------------------------


def test_strict_refuses_and_names_every_bad_line(tmp_path: Path) -> None:
    rows = [
        GOOD_SBER[0],
        sber_row("0000010", amount="abc"),
        GOOD_SBER[1],
        sber_row("0000011", house="xyz"),
        sber_row("0000012", period="132026"),
    ]
    path = sber_debts(tmp_path, rows)
    out = read("sber-debts", path, Policy.STRICT)

    assert out.refused is not None
    assert out.refused.path == path
    found = {(i.line, i.field) for i in out.refused.issues}
    assert {(2, "amount"), (4, "house_id"), (5, "period")} <= found
    assert out.refused.issue_count >= 3
    # Nothing is left beside the file: strict writes no rejects.
    assert sorted(p.name for p in tmp_path.iterdir()) == [SBER_DEBTS_NAME]
    if out.report is not None:
        assert out.report.refused
        assert not out.report.valid


def test_strict_valid_file_is_accepted(tmp_path: Path) -> None:
    path = sber_debts(tmp_path, GOOD_SBER, footer="=3;285,50")
    out = read("sber-debts", path, Policy.STRICT)
    assert out.refused is None
    assert out.report is not None and out.report.valid
    assert out.report.records == 3
    assert out.report.total == Decimal("285.50")
    assert [r.amount for r in out.records] == [
        Decimal("100.00"),
        Decimal("200.50"),
        Decimal("-15.00"),
    ]
    assert [str(r.premises) for r in out.records] == ["1", "12/1", "кв. 7"]
    assert {r.period for r in out.records} == {Period(2026, 11)}
    assert {r.service for r in out.records} == {"Электроснабжение"}
    assert all(isinstance(r, DebtRecord) for r in out.records)
    # Header facts from the file name ИНН_РС_НОМЕР_ММГГ.txt.
    assert out.report.header.kind is RegistryKind.DEBTS
    assert out.report.header.partner_inn == INN
    assert out.report.header.partner_account == ACCOUNT_20
    assert str(out.report.header.period) == "2026-11"
    assert out.report.header.number == 1


def test_quarantine_keeps_good_rows_and_writes_reasons(tmp_path: Path) -> None:
    bad_amount = sber_row("0000010", amount="12,3,4")
    bad_guid = sber_row("0000011", house="=cmd|' /C calc'!A0")
    bad_period = sber_row("-5", period="132026")  # a raw line Excel would run as a formula
    rows = [GOOD_SBER[0], bad_amount, GOOD_SBER[1], bad_guid, GOOD_SBER[2], bad_period]
    path = sber_debts(tmp_path, rows)
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    out = read("sber-debts", path, Policy.QUARANTINE, rejects)

    assert out.refused is None, out.refused
    assert out.report is not None
    assert [r.account for r in out.records] == ["0000001", "0000002", "0000003"]
    assert out.report.records == 3
    assert out.report.rejected == 3
    assert out.report.total == Decimal("285.50")
    assert out.report.rejects_path == rejects
    rows_out = read_rejects(rejects)
    assert [(r["line"], r["field"]) for r in rows_out] == [
        ("2", "amount"),
        ("4", "house_id"),
        ("6", "period"),
    ]
    assert "12,3,4" in rows_out[0]["message"]
    assert "13" in rows_out[2]["message"]
    # The raw line is kept, so nothing the partner sent is lost.
    assert rows_out[0]["raw"] == bad_amount
    assert rows_out[1]["raw"] == bad_guid
    # ... and a raw line that Excel would run is escaped (reversibly) in the rejects file.
    assert rows_out[2]["raw"] == "'" + bad_period
    assert all(r["message"].strip() for r in rows_out)
    assert all(not r["message"].startswith(("=", "+", "-", "@")) for r in rows_out)
    no_leftovers(rejects.parent)


def test_many_bad_rows_are_all_counted_and_all_kept_in_rejects(tmp_path: Path) -> None:
    # The report holds a bounded number of issues; the count and the rejects file hold all.
    bad = [sber_row(f"{i:07d}", house="bad") for i in range(2500)]
    path = sber_debts(tmp_path, [GOOD_SBER[0], *bad])
    rejects = tmp_path / "rejects.csv"
    out = read("sber-debts", path, Policy.QUARANTINE, rejects)
    assert out.refused is None
    assert out.report is not None
    assert out.report.rejected == 2500
    assert out.report.issue_count == 2500
    assert 0 < len(out.report.issues) <= 2500
    rows = read_rejects(rejects)
    assert [int(r["line"]) for r in rows] == list(range(2, 2502))
    assert {r["field"] for r in rows} == {"house_id"}


def test_quarantine_default_rejects_path_is_beside_the_file(tmp_path: Path) -> None:
    path = sber_debts(tmp_path, [GOOD_SBER[0], sber_row("0000010", period="132026")])
    out = read("sber-debts", path, Policy.QUARANTINE)
    assert out.refused is None
    assert out.report is not None
    expected = path.with_name(path.name + ".rejects.csv")
    assert out.report.rejects_path == expected
    assert [(r["line"], r["field"]) for r in read_rejects(expected)] == [("2", "period")]


def test_quarantine_clean_file_writes_no_rejects(tmp_path: Path) -> None:
    path = sber_debts(tmp_path, GOOD_SBER)
    out = read("sber-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")
    assert out.refused is None
    assert out.report is not None and out.report.valid
    assert out.report.rejects_path is None
    assert not (tmp_path / "rejects.csv").exists()


def test_pes_debts_quarantine_with_footer_counts_bad_rows_too(tmp_path: Path) -> None:
    # The sender's control totals cover every data row it sent, good or bad.
    rows = [pes_row("0000001", amount="10.00"), pes_row("0000002", house="bad", amount="5.00")]
    path = pes_debts(tmp_path, rows)  # footer =2;15.00
    out = read("pes-debts", path, Policy.QUARANTINE, tmp_path / "rejects.csv")
    assert out.refused is None, out.refused
    assert out.report is not None
    assert [r.account for r in out.records] == ["0000001"]
    assert out.report.total == Decimal("10.00")
    assert [(r["line"], r["field"]) for r in read_rejects(tmp_path / "rejects.csv")] == [
        ("3", "house_id")
    ]


# -- undecodable bytes -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_cp1251_undefined_byte_refuses_whole(tmp_path: Path, policy: Policy) -> None:
    # 0x98 is the one byte cp1251 leaves undefined.
    good = "".join(r + "\r\n" for r in GOOD_SBER).encode("cp1251")
    bad = sber_row("0000009", premises="12X").encode("cp1251").replace(b"X", b"\x98") + b"\r\n"
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, good + bad)
    rejects = tmp_path / "rejects.csv"
    out = read("sber-debts", path, policy, rejects)

    assert out.refused is not None, "undecodable bytes must refuse the registry whole"
    assert out.refused.path == path
    assert out.refused.issues, "the refusal says what was wrong"
    # The line of the bad bytes, or 0 for "the file as a whole".
    assert {i.line for i in out.refused.issues} <= {0, 4}, out.refused.issues
    assert re.search(r"decod|encod|cp1251|byte", str(out.refused), re.I), str(out.refused)
    assert not rejects.exists(), "a refused registry leaves no rejects file"
    no_leftovers(tmp_path)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\xff\xfe", id="ff-fe"),
        pytest.param(b"\xc3\x28", id="bad-continuation"),
        pytest.param(b"\xed\xa0\x80", id="surrogate"),
        pytest.param("кв".encode("cp1251"), id="cp1251-in-utf8"),
    ],
)
@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_invalid_utf8_in_pes_debts_refuses_whole(
    tmp_path: Path, garbage: bytes, policy: Policy
) -> None:
    path = pes_debts(tmp_path, [pes_row("0000001"), pes_row("0000002", premises="PLACE")])
    path = write_bytes(path, path.read_bytes().replace(b"PLACE", garbage))
    rejects = tmp_path / "rejects.csv"
    out = read("pes-debts", path, policy, rejects)

    assert out.refused is not None, "invalid UTF-8 must refuse the registry whole"
    assert {i.line for i in out.refused.issues} <= {0, 3}, out.refused.issues
    assert not rejects.exists()
    no_leftovers(tmp_path)


# -- control totals ----------------------------------------------------------------------------

CONTROL_CASES = [
    # (format, file name, content lines, footer that lies)
    ("sber-debts", SBER_DEBTS_NAME, GOOD_SBER, "=4;285,50", "cp1251"),  # count
    ("sber-debts", SBER_DEBTS_NAME, GOOD_SBER, "=3;285,51", "cp1251"),  # sum, one kopeck
    (
        "pes-debts",
        "debts.csv",
        [PES_DEBTS_HEADER, pes_row("0000001", amount="1.00")],
        "=2;1.00",
        "utf-8",
    ),
    (
        "pes-debts",
        "debts.csv",
        [PES_DEBTS_HEADER, pes_row("0000001", amount="1.00")],
        "=1;-1.00",
        "utf-8",
    ),
    (
        "pes-payments",
        "payments.csv",
        [
            PES_PAYMENTS_HEADER,
            f"2026-11-27T10:15:00;op-1;0012345;{GUID};12а;2026-11;;Вода;app;100.00;98.64;1.36",
        ],
        "=1;100.00;98.64;1.37",  # fee sum
        "utf-8",
    ),
    (
        "sber-payments",
        "payments.txt",
        [f"27.11.2026;10-15-00;app;000123;0012345;{GUID};12а;112026;;;100,00;98,64;1,36"],
        "=1;100,00;98,65;1,36;15;27.11.2026",  # transfer sum
        "cp1251",
    ),
]


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
@pytest.mark.parametrize(
    ("name", "filename", "lines", "footer", "encoding"),
    [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(CONTROL_CASES)],
)
def test_control_total_mismatch_refuses_whole_even_under_quarantine(
    tmp_path: Path,
    name: str,
    filename: str,
    lines: list[str],
    footer: str,
    encoding: str,
    policy: Policy,
) -> None:
    newline = "\r\n" if encoding == "cp1251" else "\n"
    text = "".join(x + newline for x in [*lines, footer])
    path = write_bytes(tmp_path / filename, text.encode(encoding))
    rejects = tmp_path / "rejects.csv"
    out = read(name, path, policy, rejects)

    assert out.refused is not None, f"{footer!r} does not match; the registry must be refused"
    assert re.search(r"control|total|count|sum", str(out.refused), re.I), str(out.refused)
    assert not rejects.exists()
    no_leftovers(tmp_path)


def test_control_totals_that_match_are_accepted_in_every_dialect(tmp_path: Path) -> None:
    # The same files as above with honest footers: the refusals are about the totals only.
    honest = {
        "sber-debts": "=3;285,50",
        "pes-debts": "=1;1.00",
        "pes-payments": "=1;100.00;98.64;1.36",
        "sber-payments": "=1;100,00;98,64;1,36;15;27.11.2026",
    }
    seen = set()
    for name, filename, lines, _, encoding in CONTROL_CASES:
        if name in seen:
            continue
        seen.add(name)
        folder = tmp_path / name
        folder.mkdir()
        newline = "\r\n" if encoding == "cp1251" else "\n"
        text = "".join(x + newline for x in [*lines, honest[name]])
        out = read(name, write_bytes(folder / filename, text.encode(encoding)))
        assert out.refused is None, (name, out.refused)
        assert out.report is not None and out.report.valid, (name, out.report)
        if name.endswith("payments"):
            assert all(isinstance(r, PaymentRecord) for r in out.records)
    assert len(seen) == 4


def test_control_total_mismatch_with_bad_rows_under_quarantine_refuses_whole(
    tmp_path: Path,
) -> None:
    rows = [*GOOD_SBER, sber_row("0000009", house="bad-guid", amount="1,00")]
    path = sber_debts(tmp_path, rows, footer="=4;999,99")
    rejects = tmp_path / "rejects.csv"
    out = read("sber-debts", path, Policy.QUARANTINE, rejects)
    assert out.refused is not None
    assert not rejects.exists(), "refused whole: the half-written rejects file is dropped"
    no_leftovers(tmp_path)


def test_unreadable_footer_is_refused_typed(tmp_path: Path) -> None:
    path = sber_debts(tmp_path, GOOD_SBER, footer="=три;285,50")
    out = read("sber-debts", path, Policy.QUARANTINE)
    assert out.refused is not None


def _lines(*rows: str) -> bytes:
    return "".join(r + "\r\n" for r in rows).encode("cp1251")


REFUSALS = {
    "strict-bad-row": _lines(sber_row(amount="x")),
    "control-mismatch": _lines(*GOOD_SBER, "=9;0,00"),
    "undecodable": b"0000001;\x98\r\n",
    "line-after-footer": _lines("=0;0,00", *GOOD_SBER),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_report_after_a_refusal_says_refused(tmp_path: Path, case: str) -> None:
    # ReadReport.refused is "why the registry was refused whole": whatever refused it.
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, REFUSALS[case])
    reader = fmt("sber-debts").open(path, policy=Policy.STRICT)
    with reader, pytest.raises(RegistryRefused):
        for _ in reader:
            pass
    report = reader.report
    assert not report.valid
    assert report.refused, (
        f"{case}: the report of a refused registry has refused={report.refused!r}"
    )


# -- duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_duplicate_account_and_service_is_an_error_on_the_second_line(
    tmp_path: Path, policy: Policy
) -> None:
    rows = [
        sber_row("0012345", service="Вода", amount="10,00"),
        sber_row("0012345", service="Отопление", amount="20,00"),  # other service: fine
        sber_row("0012346", service="Вода", amount="30,00"),  # other account: fine
        sber_row("0012345", service="Вода", amount="40,00"),  # repeats line 1
        sber_row("12345", service="Вода", amount="50,00"),  # leading zeros count: no repeat
    ]
    path = sber_debts(tmp_path, rows)
    rejects = tmp_path / "rejects.csv"
    out = read("sber-debts", path, policy, rejects)

    assert {i.line for i in out.issues()} == {4}, out.issues()
    assert any("account" in i.field for i in out.issues_at(4)), out.issues_at(4)
    if policy is Policy.STRICT:
        assert out.refused is not None
    else:
        assert out.refused is None
        assert [str(r.amount) for r in out.records] == ["10.00", "20.00", "30.00", "50.00"]
        assert [r["line"] for r in read_rejects(rejects)] == ["4"]


def test_duplicate_account_without_service_column(tmp_path: Path) -> None:
    # sber-debts' service column is optional: two lines of one account and no service clash.
    rows = [
        ";".join(["0012345", GUID, "1", "10,00", "112026"]),
        ";".join(["0012345", GUID2, "2", "20,00", "112026"]),
    ]
    out = read("sber-debts", sber_debts(tmp_path, rows), Policy.STRICT)
    assert out.refused is not None
    assert [i.line for i in out.refused.issues if i.line] == [2]


def test_duplicate_in_pes_debts(tmp_path: Path) -> None:
    rows = [pes_row("007", amount="1.00"), pes_row("007", amount="2.00")]
    out = read("pes-debts", pes_debts(tmp_path, rows), Policy.STRICT)
    assert out.refused is not None
    assert [i.line for i in out.refused.issues if i.line] == [3]


# -- truncated files ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_pes_debts_without_footer_is_refused(tmp_path: Path, policy: Policy) -> None:
    path = pes_debts(tmp_path, [pes_row("0000001"), pes_row("0000002")], footer=None)
    out = read("pes-debts", path, policy, tmp_path / "rejects.csv")
    assert out.refused is not None, "a pes-debts file without its footer is truncated"
    assert re.search(r"footer|truncat|control|total|end", str(out.refused), re.I)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda b: b[: b.rindex(b"\n=")], id="footer-cut-off"),
        pytest.param(lambda b: b[: b.rindex(b"\n=") - 10], id="cut-mid-record"),
        pytest.param(lambda b: b[: b.index("кв".encode()) + 1], id="cut-mid-utf8-char"),
        pytest.param(lambda b: b[: len(PES_DEBTS_HEADER) // 2], id="cut-mid-header"),
        pytest.param(lambda b: b[:0], id="empty-file"),
        pytest.param(lambda b: b[: b.rindex(b"\n=") + 3], id="cut-mid-footer"),
    ],
)
@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_truncated_pes_debts_gives_a_typed_refusal(
    tmp_path: Path, cut: Callable[[bytes], bytes], policy: Policy
) -> None:
    path = pes_debts(
        tmp_path, [pes_row("0000001", premises="кв. 1"), pes_row("0000002", premises="кв. 2")]
    )
    path = write_bytes(path, cut(path.read_bytes()))
    out = read("pes-debts", path, policy, tmp_path / "rejects.csv")
    assert out.refused is not None, path.read_bytes()


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda b: b[: b.rindex(b"\r\n=") + 2], id="payments-footer-cut-off"),
        pytest.param(lambda b: b[: b.rindex(b"\r\n=") - 7], id="payments-cut-mid-record"),
    ],
)
def test_truncated_sber_payments_gives_a_typed_refusal(
    tmp_path: Path, cut: Callable[[bytes], bytes]
) -> None:
    row = f"27.11.2026;10-15-00;app;000123;0012345;{GUID};12а;112026;;;100,00;98,64;1,36"
    text = f"{row}\r\n{row.replace('000123', '000124')}\r\n=2;200,00;197,28;2,72;15;27.11.2026\r\n"
    path = write_bytes(tmp_path / "payments.txt", cut(text.encode("cp1251")))
    out = read("sber-payments", path, Policy.QUARANTINE, tmp_path / "rejects.csv")
    assert out.refused is not None


@pytest.mark.parametrize(
    "last",
    [
        pytest.param(f"0000003;{GUID};кв. 7;-15,0", id="cut-after-amount"),
        pytest.param("0000003;0c5b24", id="cut-mid-guid"),
        pytest.param("00000", id="cut-mid-account"),
    ],
)
def test_sber_debts_cut_mid_line_names_the_last_line(tmp_path: Path, last: str) -> None:
    # The footer is optional here, so the cut row (no line ending) must give the file away.
    data = ("".join(r + "\r\n" for r in GOOD_SBER[:2]) + last).encode("cp1251")
    path = write_bytes(tmp_path / SBER_DEBTS_NAME, data)
    out = read("sber-debts", path, Policy.STRICT)
    assert out.refused is not None
    assert [i.line for i in out.refused.issues if i.line] == [3], out.refused.issues


# -- writing what a dialect cannot hold --------------------------------------------------------


def test_writing_text_cp1251_cannot_encode_is_a_typed_error(tmp_path: Path) -> None:
    record = DebtRecord("0012345", GUID, "12а", Decimal("1.00"), NOV, service="Вода 💧")
    header = RegistryHeader(RegistryKind.DEBTS, partner_inn=INN)
    target = tmp_path / SBER_DEBTS_NAME
    with pytest.raises(PesError):
        fmt("sber-debts").write(target, header, [record])
    assert not target.exists(), "a failed write leaves no partial file"
    no_leftovers(tmp_path)


def test_writing_a_separator_inside_a_cell_is_a_typed_error(tmp_path: Path) -> None:
    # sber-debts has no quoting: a ';' in a cell would shift every column after it.
    record = DebtRecord("0012345", GUID, "12а", Decimal("1.00"), NOV, service="Вода; горячая")
    header = RegistryHeader(RegistryKind.DEBTS, partner_inn=INN)
    target = tmp_path / SBER_DEBTS_NAME
    with pytest.raises(PesError):
        fmt("sber-debts").write(target, header, [record])
    assert not target.exists()


# -- nothing untyped escapes, whatever the bytes -----------------------------------------------

_SEEDS = {
    "sber-debts": (
        SBER_DEBTS_NAME,
        "".join(r + "\r\n" for r in [*GOOD_SBER, "=3;285,50"]).encode("cp1251"),
    ),
    "pes-debts": (
        "debts.csv",
        (
            "\n".join([PES_DEBTS_HEADER, pes_row("1"), pes_row("2", amount="-1.50"), "=2;1270.76"])
            + "\n"
        ).encode(),
    ),
    "sber-payments": (
        "payments.txt",
        (
            f"27.11.2026;10-15-00;app;000123;0012345;{GUID};12а;112026;;;100,00;98,64;1,36;"
            "CLIENTNO:77\r\n=1;100,00;98,64;1,36;15;27.11.2026\r\n"
        ).encode("cp1251"),
    ),
    "pes-payments": (
        "payments.csv",
        (
            f"{PES_PAYMENTS_HEADER}\n"
            f"2026-11-27T10:15:00;op-1;0012345;{GUID};12а;2026-11;;Вода;app;100.00;98.64;1.36"
            "\n=1;100.00;98.64;1.36\n"
        ).encode(),
    ),
}

_mutation = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.binary(max_size=0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("replace"), st.integers(0, 10_000), st.binary(min_size=1, max_size=4)),
    st.tuples(
        st.just("insert"),
        st.integers(0, 10_000),
        st.sampled_from([b";", b"\r\n", b"\n", b"=", b",", b"\x00", b"\x98", b"'", b'"', b"\r"]),
    ),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    for op, pos, chunk in mutations:
        pos = pos % (len(data) + 1)
        if op == "cut":
            data = data[:pos]
        elif op == "insert":
            data = data[:pos] + chunk + data[pos:]
        else:
            data = data[:pos] + chunk + data[pos + len(chunk) :]
    return data


# Each example writes and reads a file (about a millisecond); 10,000 of them per dialect and
# policy would make the CI run minutes long for no more coverage, so this one is capped.
@settings(
    max_examples=min(settings.default.max_examples, 300),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(
    name=st.sampled_from(sorted(_SEEDS)),
    mutations=st.lists(_mutation, min_size=1, max_size=4),
    policy=st.sampled_from(list(Policy)),
)
def test_mutated_files_give_records_or_a_typed_refusal(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    mutations: list[tuple[str, int, bytes]],
    policy: Policy,
) -> None:
    filename, seed = _SEEDS[name]
    folder = tmp_path_factory.mktemp("mutated")
    path = write_bytes(folder / filename, _mutate(seed, mutations))
    out = read(name, path, policy, folder / "rejects.csv")  # fails on an untyped error
    if out.refused is None:
        assert out.report is not None
        assert out.report.records == len(out.records)
        if policy is Policy.STRICT:
            assert out.report.issue_count == 0
