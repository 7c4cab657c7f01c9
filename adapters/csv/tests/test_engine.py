"""The engine: quarantine's rejects file, atomic writing, formula escaping, the fast path."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from pes_sdk.errors import FormatError, RegistryRefused
from pes_sdk.formats import Policy
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader
from pes_sdk.period import Period
from pes_sdk.plugins import get_host

H1 = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
H2 = "5d6e7f80-91a2-43b4-85c6-d7e8f9a0b1c2"
NOV = Period(2026, 11)
NAME = "7707083893_40702810900000000001_001_1126.txt"


def sber(tmp_path: Path, lines: list[str], name: str = NAME) -> Path:
    path = tmp_path / name
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("cp1251"))
    return path


def debts(n: int = 3) -> list[DebtRecord]:
    return [
        DebtRecord(f"{i:07d}", H1, f"{i}а", Decimal(f"{i}.{i % 100:02d}"), NOV, "Вода")
        for i in range(1, n + 1)
    ]


# -- quarantine ---------------------------------------------------------------------------


def test_quarantine_keeps_good_rows_and_writes_the_rejects_file(tmp_path: Path):
    path = sber(
        tmp_path,
        [
            f"0000001;{H1};12а;100,00;112026;Вода",
            f"0000002;{H1};12/1;сто;112026;Вода",
            "0000003;not-a-guid;1;5,00;132026;Вода",
            f"0000004;{H2};кв. 7;7,50;112026",
        ],
    )
    rejects = tmp_path / "rejects.csv"
    with (
        get_host()
        .format("sber-debts")
        .open(path, policy=Policy.QUARANTINE, rejects_path=rejects) as reader
    ):
        accounts = [r.account for r in reader]  # type: ignore[union-attr]
    assert accounts == ["0000001", "0000004"]
    report = reader.report
    assert report.refused is None and not report.valid
    assert (report.records, report.rejected, report.issue_count) == (2, 2, 3)
    assert report.total == Decimal("107.50")
    assert report.rejects_path == rejects
    raw = rejects.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows == [
        ["line", "field", "message", "raw"],
        ["2", "amount", "not an amount: 'сто' (digits, up to two decimals after ',' or '.')",
         f"0000002;{H1};12/1;сто;112026;Вода"],
        ["3", "house_id", "not a GUID: 'not-a-guid'", "0000003;not-a-guid;1;5,00;132026;Вода"],
        ["3", "period", "period month must be 1..12, not 13",
         "0000003;not-a-guid;1;5,00;132026;Вода"],
    ]  # fmt: skip


def test_strict_policy_writes_no_rejects_file(tmp_path: Path):
    path = sber(tmp_path, [f"0000001;{H1};12а;1,2,3;112026;Вода"])
    reader = get_host().format("sber-debts").open(path, policy=Policy.STRICT)
    with reader, pytest.raises(RegistryRefused, match="policy strict"):
        list(reader)
    assert [p.name for p in tmp_path.iterdir()] == [NAME]
    assert reader.report.issues[0].field == "amount"


def test_quarantine_refused_by_control_totals_leaves_no_rejects_file(tmp_path: Path):
    path = sber(
        tmp_path,
        [f"0000001;{H1};12а;100,00;112026;Вода", f"0000002;{H1};12а;x;112026;Вода", "=2;100,00"],
    )
    reader = get_host().format("sber-debts").open(path, policy=Policy.QUARANTINE)
    with reader, pytest.raises(RegistryRefused, match="control"):
        list(reader)
    assert [p.name for p in tmp_path.iterdir()] == [NAME]


def test_footer_mismatch_refuses_the_registry(tmp_path: Path):
    path = sber(tmp_path, [f"0000001;{H1};12а;100,00;112026;Вода", "=1;100,01"])
    reader = get_host().format("sber-debts").open(path)
    with reader, pytest.raises(RegistryRefused, match=r"control sum of amount is 100\.01"):
        list(reader)
    assert reader.report.refused


def test_sber_debts_reads_without_footer_and_without_service(tmp_path: Path):
    path = sber(tmp_path, [f"0000001;{H1};12а;100.5;112026", f"0000002;{H1};;-3;112026;"])
    with get_host().format("sber-debts").open(path) as reader:
        records = list(reader)
    assert records == [
        DebtRecord("0000001", H1, "12а", Decimal("100.50"), NOV, ""),
        DebtRecord("0000002", H1, "", Decimal("-3.00"), NOV, ""),
    ]
    assert reader.report.valid and reader.report.header.control is None


def test_undecodable_bytes_refuse_and_name_the_line(tmp_path: Path):
    path = tmp_path / NAME
    path.write_bytes(
        f"0000001;{H1};12а;1,00;112026;Вода\r\n".encode("cp1251") + b"0000002;\x98\r\n"
    )
    reader = get_host().format("sber-debts").open(path, policy=Policy.QUARANTINE)
    with reader, pytest.raises(RegistryRefused, match="line 2: bytes that are not cp1251"):
        list(reader)


# -- the fast path and the careful path agree ----------------------------------------------


def test_fast_and_careful_paths_build_equal_records(tmp_path: Path):
    # First sight of each house/premises/period/service goes the careful way (validated
    # constructor); repeats go the fast way (from_checked). Accounts with '-' or a space
    # and amounts with one decimal always go the careful way.
    lines, expected = [], []
    for i in range(40):
        account = [f"{i:06d}", f"ЛС-{i}", f"А{i}"][i % 3]
        amount = [f"{i},{i:02d}", f"{i}.5", f"-{i}"][i % 3]
        premises = ["12а", "12/1", "кв. 3", ""][i % 4]
        service = ["Вода", "", "'=Газ"][i % 3]
        lines.append(
            f"{account};{H1.upper() if i % 5 else H1};{premises};{amount};112026;{service}"
        )
        expected.append(
            DebtRecord(
                account, H1, premises, Decimal(amount.replace(",", ".")).quantize(Decimal("0.01")),
                NOV, service.removeprefix("'"),
            )
        )  # fmt: skip
    path = sber(tmp_path, lines)
    with get_host().format("sber-debts").open(path) as reader:
        records = list(reader)
    assert records == expected
    for got in records:
        assert isinstance(got, DebtRecord)
        assert got.house_id == H1 and got.tags == ()


def test_duplicate_seen_by_the_fast_path_is_reported_by_the_careful_one(tmp_path: Path):
    row = f"0000001;{H1};12а;1,00;112026;Вода"
    path = sber(tmp_path, [row, row.replace("1,00", "2,00"), row.replace("Вода", "Газ"), row])
    with get_host().format("sber-debts").open(path, policy=Policy.QUARANTINE) as reader:
        records = list(reader)
    assert [r.amount for r in records] == [Decimal("1.00"), Decimal("1.00")]
    assert [(i.line, i.field) for i in reader.report.issues] == [(2, "account"), (4, "account")]
    assert "repeat an earlier line" in reader.report.issues[0].message


def test_reading_with_next_and_iter_share_one_stream(tmp_path: Path):
    path = sber(tmp_path, [f"000000{i};{H1};1;1,00;112026;Вода" for i in range(1, 4)])
    with get_host().format("sber-debts").open(path) as reader:
        first = next(reader)
        rest = list(reader)
    assert [first.account, *(r.account for r in rest)] == ["0000001", "0000002", "0000003"]  # type: ignore[union-attr]
    assert reader.report.records == 3


# -- writing ------------------------------------------------------------------------------


def _explode(records: list[DebtRecord], after: int) -> Iterator[DebtRecord]:
    for i, record in enumerate(records):
        if i == after:
            raise RuntimeError("the source broke")
        yield record


@pytest.mark.parametrize("name", ["sber-debts", "pes-debts"])
def test_atomic_write_leaves_nothing_when_the_records_raise(tmp_path: Path, name: str):
    out = tmp_path / "registry.txt"
    fmt = get_host().format(name)
    with pytest.raises(RuntimeError, match="the source broke"):
        fmt.write(out, RegistryHeader("debts"), _explode(debts(5), 3))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_when_the_records_raise(tmp_path: Path):
    out = tmp_path / "registry.txt"
    out.write_bytes(b"old contents")
    with pytest.raises(FormatError):
        get_host().format("sber-debts").write(
            out,
            RegistryHeader("debts"),
            [*debts(2), debts(1)[0]],  # a repeated record
        )
    assert out.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["registry.txt"]


def test_formula_escaping_on_text_cells_only(tmp_path: Path):
    records = [
        DebtRecord("=1+2", H1, "@12", Decimal("-5.00"), NOV, "+Вода"),
        DebtRecord("-7", H1, "'=x", Decimal("-0.10"), NOV, "\tГаз"),
        DebtRecord("'8", H1, "'12", Decimal("1.00"), NOV, "'плюс"),
    ]
    out = tmp_path / "x.txt"
    fmt = get_host().format("sber-debts")
    fmt.write(out, RegistryHeader("debts"), records)
    lines = out.read_bytes().decode("cp1251").split("\r\n")
    assert lines[0] == f"'=1+2;{H1};'@12;-5,00;112026;'+Вода"
    assert lines[1] == f"'-7;{H1};''=x;-0,10;112026;'\tГаз"
    assert lines[2] == f"''8;{H1};''12;1,00;112026;''плюс"  # a leading ' doubles: reversible
    assert lines[3] == "=3;-4,10"  # the footer's numbers are not escaped either
    with fmt.open(out) as reader:
        assert list(reader) == records


def test_write_refuses_a_delimiter_inside_a_text_cell(tmp_path: Path):
    bad = DebtRecord("0000001", H1, "12", Decimal("1.00"), NOV, "Вода; Газ")
    with pytest.raises(FormatError) as err:
        get_host().format("sber-debts").write(tmp_path / "x.txt", RegistryHeader("debts"), [bad])
    assert (err.value.line, err.value.field) == (1, "service")
    assert list(tmp_path.iterdir()) == []


def test_write_names_a_character_the_encoding_lacks(tmp_path: Path):
    bad = DebtRecord("0000001", H1, "12", Decimal("1.00"), NOV, "Вода 💧")
    with pytest.raises(FormatError, match="cannot be written in cp1251") as err:
        get_host().format("sber-debts").write(tmp_path / "x.txt", RegistryHeader("debts"), [bad])
    assert (err.value.line, err.value.field) == (1, "service")
    # The kit's own UTF-8 format takes it.
    out = tmp_path / "x.csv"
    get_host().format("pes-debts").write(out, RegistryHeader("debts"), [bad])
    with get_host().format("pes-debts").open(out) as reader:
        assert list(reader) == [bad]


def test_write_refuses_the_wrong_record_kind(tmp_path: Path):
    payment = PaymentRecord(
        dt.datetime(2026, 11, 27), "op", "0000001", Decimal("1.00"), Decimal("1.00"), Decimal("0")
    )
    with pytest.raises(FormatError, match="holds DebtRecord, not PaymentRecord"):
        get_host().format("sber-debts").write(
            tmp_path / "x.txt",
            RegistryHeader("debts"),
            [payment],  # type: ignore[list-item]
        )


def test_write_reports_count_and_total(tmp_path: Path):
    report = (
        get_host().format("sber-debts").write(tmp_path / "x.txt", RegistryHeader("debts"), debts(3))
    )
    assert (report.records, report.total) == (3, Decimal("6.06"))


def test_tags_round_trip_in_order_and_escaped(tmp_path: Path):
    record = PaymentRecord(
        dt.datetime(2026, 11, 27, 23, 59, 59), "77", "0000001",
        Decimal("10.00"), Decimal("9.86"), Decimal("0.14"), None, "", None, "", "",
        tags=[("method_pay", "=card"), ("CounterVal_2", "1,5"), ("CLIENTNO", "")],
    )  # fmt: skip
    out = tmp_path / "p.txt"
    fmt = get_host().format("sber-payments")
    fmt.write(out, RegistryHeader("payments", extra=[("order_number", "9")]), [record])
    text = out.read_bytes().decode("cp1251")
    assert text.split("\r\n")[0].endswith(";method_pay:'=card;CounterVal_2:1,5;CLIENTNO:")
    assert text.split("\r\n")[1] == "=1;10,00;9,86;0,14;9;"
    with fmt.open(out) as reader:
        assert list(reader) == [record]
    assert reader.report.header.extra == (("order_number", "9"), ("order_date", ""))


def test_payment_transfer_plus_fee_must_equal_amount(tmp_path: Path):
    path = tmp_path / "p.txt"
    path.write_bytes(
        "27.11.2026;10-00-00;app;1;0000001;;;;;;10,00;9,00;0,50\r\n=1;10,00;9,00;0,50;;\r\n".encode(
            "cp1251"
        )
    )
    reader = get_host().format("sber-payments").open(path, policy=Policy.QUARANTINE)
    with reader:
        assert list(reader) == []
    [issue] = reader.report.issues
    assert (issue.line, issue.field) == (1, "fee") and "must equal amount" in issue.message


def test_caches_start_afresh_without_changing_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import pes_sdk_csv.cells

    monkeypatch.setattr(pes_sdk_csv.cells, "CACHE_LIMIT", 3)
    houses = [f"{i:08x}-4e5f-4071-8a9b-0c1d2e3f4a5b" for i in range(10)]
    lines, expected = [], []
    for i in range(60):
        house, premises = houses[i * 7 % 10], f"{i % 9}/{i % 4}"
        service = ["Вода", "Газ", "Свет", "Тепло", ""][i % 5]
        lines.append(f"{i:05d};{house.upper()};{premises};{i},00;{i % 12 + 1:02d}2026;{service}")
        expected.append(
            DebtRecord(f"{i:05d}", house, premises, Decimal(i), Period(2026, i % 12 + 1), service)
        )
    path = sber(tmp_path, lines)
    with get_host().format("sber-debts").open(path) as reader:
        assert list(reader) == expected
    assert reader.report.valid


def test_a_record_without_period_takes_the_header_period(tmp_path: Path):
    record = DebtRecord("0000001", H1, "1", Decimal("1.00"), None, "Вода")
    out = tmp_path / "x.txt"
    fmt = get_host().format("sber-debts")
    fmt.write(out, RegistryHeader("debts", period=Period(2026, 12)), [record])
    assert out.read_bytes().decode("cp1251").startswith(f"0000001;{H1};1;1,00;122026;Вода\r\n")
    with pytest.raises(FormatError, match="period: is required and empty"):
        fmt.write(tmp_path / "y.txt", RegistryHeader("debts"), [record])


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b"\xff\xfe"])
def test_a_unicode_bom_refuses_a_one_byte_registry(tmp_path: Path, bom: bytes):
    path = tmp_path / NAME
    path.write_bytes(bom + f"0000001;{H1};1;1,00;112026;Вода\r\n".encode("cp1251"))
    reader = get_host().format("sber-debts").open(path, policy=Policy.QUARANTINE)
    with reader, pytest.raises(RegistryRefused, match="line 1: the file starts with a UTF-"):
        list(reader)


def test_a_utf8_bom_is_accepted_in_a_utf8_registry(tmp_path: Path):
    path = tmp_path / "d.csv"
    golden = (Path(__file__).parent / "golden" / "pes-debts.csv").read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + golden)
    with get_host().format("pes-debts").open(path) as reader:
        assert len(list(reader)) == 5
    assert reader.report.valid


# -- blocks of lines, drain() and validate() -----------------------------------------------


def _outcome(path: Path, mode: str, policy: Policy, rejects: Path) -> tuple[object, ...]:
    """Everything a read tells: records kept, the report, the rejects file, or the refusal."""
    reader = get_host().format("sber-debts").open(path, policy=policy, rejects_path=rejects)
    records: list[object] = []
    refused = None
    with reader:
        try:
            if mode == "drain":
                reader.drain()
            else:
                records = list(reader)
        except RegistryRefused as exc:
            refused = exc.message
    report = reader.report
    kept = rejects.read_bytes() if rejects.exists() else None
    rejects.unlink(missing_ok=True)
    return (
        records if mode == "iterate" else None,
        refused,
        report.records,
        report.rejected,
        report.total,
        [(i.line, i.field, i.message) for i in report.issues],
        report.issue_count,
        report.refused,
        report.header.control,
        kept,
    )


def _mixed_lines(rng: random.Random, n: int) -> list[str]:
    """Good lines and every kind of doubtful one the block checks must hand on."""
    n_accounts = n // 3  # each account several times, with different services
    houses = [f"{i:08x}-4e5f-4071-8a9b-0c1d2e3f4a5b" for i in range(7)]
    out = []
    for i in range(n):
        account = f"{i % n_accounts:07d}" if i % 4 == 0 else f"{i:07d}"
        house = rng.choice(houses)
        premises = rng.choice(["12а", "кв. 7", "", "12/1", "'=1"])
        amount = f"{rng.randint(-500, 90000)},{rng.randint(0, 99):02d}"
        service = rng.choice(["Вода", "Газ", "", "'=Газ", "=Газ"])  # the last two: one value
        cells = [account, house, premises, amount, "112026", service]
        kind = rng.random()
        if kind < 0.85:
            pass
        elif kind < 0.87:
            cells[3] = "12,5"  # one decimal: good, but only for the careful path
        elif kind < 0.89:
            cells[3] = "сто"
        elif kind < 0.90:
            cells[1] = "not-a-guid"
        elif kind < 0.91:
            cells[4] = "132026"
        elif kind < 0.92:
            cells.append("лишняя")  # seven cells ...
        elif kind < 0.93:
            cells.pop()  # ... and five (service absent: good)
        elif kind < 0.94:
            cells[2] = "12\r3"  # a carriage return inside a cell
        elif kind < 0.95:
            cells[0] = "ЛС-" + account  # good, careful path
        elif kind < 0.96:
            cells[0] = f"{rng.randint(0, i):07d}"  # likely a repeat
        elif kind < 0.97:
            cells[5] = "'=Вода"  # an escaped service: its value differs from its text
        elif kind < 0.98:
            out.append("")  # a blank line
        elif kind < 0.99:
            cells[2] = "x" * 300  # premises too long
        else:
            cells[0] = "0" * 31  # account too long
        out.append(";".join(cells))
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("chunk", [64, 1000, 1 << 17])
@pytest.mark.parametrize("policy", [Policy.QUARANTINE, Policy.STRICT])
def test_drain_reports_exactly_what_iteration_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, chunk: int, policy: Policy
):
    import pes_sdk_csv.engine

    monkeypatch.setattr(pes_sdk_csv.engine, "_CHUNK", chunk)
    rng = random.Random(seed)
    lines = _mixed_lines(rng, 400)
    newline = "\r\n" if seed % 2 else "\n"
    if seed % 3 == 0:
        lines.append("=400;0,00")  # a footer the sums will not match
    path = tmp_path / NAME
    path.write_bytes("".join(line + newline for line in lines).encode("cp1251"))
    rejects = tmp_path / "rejects.csv"
    iterated = _outcome(path, "iterate", policy, rejects)
    drained = _outcome(path, "drain", policy, rejects)
    assert drained[1:] == iterated[1:]
    # The blocks, whatever their size, give what one line at a time gives.
    monkeypatch.setattr(pes_sdk_csv.engine, "_CHUNK", 1 << 20)
    assert _outcome(path, "iterate", policy, rejects) == iterated


def test_lines_of_seven_and_five_cells_do_not_balance_out(tmp_path: Path):
    # Together they have the right number of cells: only the line structure tells them apart.
    lines = [
        f"0000001;{H1};12а;1,00;112026;Вода;Газ",
        f"0000002;{H1};12а;2,00;112026",
        f"0000003;{H1};1;3,00;112026;Вода",
    ]
    for newline in ("\r\n", "\n"):
        path = tmp_path / NAME
        path.write_bytes("".join(line + newline for line in lines).encode("cp1251"))
        for mode in ("drain", "iterate"):
            outcome = _outcome(path, mode, Policy.QUARANTINE, tmp_path / "r.csv")
            assert outcome[2:4] == (2, 1)
            assert outcome[5] == [(1, "", "expected 6 cells, found 7")]


def test_a_carriage_return_inside_a_line_is_not_a_line_end(tmp_path: Path):
    # "…12а\r;1,00…" has as many \r as lines: the cells still must not shift.
    lines = [f"0000001;{H1};12а\r;1,00;112026;Вода", f"0000002;{H1};1;2,00;112026;Вода\r"]
    path = tmp_path / NAME
    path.write_bytes("\n".join(lines).encode("cp1251") + b"\n")
    for mode in ("drain", "iterate"):
        outcome = _outcome(path, mode, Policy.QUARANTINE, tmp_path / "r.csv")
        assert outcome[2:4] == (1, 1)
        assert outcome[5] == [(1, "premises", "a carriage return inside a cell")]


def test_validate_drains_and_reports_like_iteration(tmp_path: Path):
    from pes_sdk.operations import validate

    lines = _mixed_lines(random.Random(7), 300)
    path = tmp_path / NAME
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("cp1251"))
    seen: list[int] = []
    quiet = validate(path, "sber-debts", Policy.QUARANTINE, rejects_path=tmp_path / "a.csv")
    shown = validate(
        path, "sber-debts", Policy.QUARANTINE, rejects_path=tmp_path / "b.csv", progress=seen.append
    )
    assert attrs.evolve(quiet, rejects_path=None) == attrs.evolve(shown, rejects_path=None)
    assert quiet.rejected > 0 and quiet.records > 200
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    # The bar hears the line reached after each block, ending at the file's last line.
    assert seen == sorted(seen) and seen[-1] == len(lines)


def test_undecodable_bytes_in_a_later_block_refuse_after_the_lines_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import pes_sdk_csv.engine

    monkeypatch.setattr(pes_sdk_csv.engine, "_CHUNK", 200)
    good = [f"{i:07d};{H1};12а;1,00;112026;Вода" for i in range(1, 9)]
    bad_line = f"0000099;{H1};12а;x;112026;Вода"  # a bad row before the bad bytes
    raw = "".join(line + "\r\n" for line in [*good, bad_line]).encode("cp1251")
    path = tmp_path / NAME
    path.write_bytes(raw + b"0000100;\x98\r\n" + good[0].encode("cp1251") + b"\r\n")
    for mode in ("drain", "iterate"):
        outcome = _outcome(path, mode, Policy.QUARANTINE, tmp_path / "r.csv")
        assert outcome[1] == "line 10: bytes that are not cp1251 (character maps to <undefined>)"
        assert [issue[:2] for issue in outcome[5]] == [(9, "amount"), (10, "encoding")]


@pytest.mark.parametrize("newline", ["\r\n", ""])
def test_overlong_line_across_blocks_is_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
):
    import pes_sdk_csv.engine

    monkeypatch.setattr(pes_sdk_csv.engine, "_CHUNK", 4096)
    limit = get_host().format("sber-debts").capabilities.max_line_length
    assert limit is not None
    good = f"0000001;{H1};12а;1,00;112026;Вода"
    long_line = f"0000002;{H1};12а;1,00;112026;" + "Ж" * (3 * limit)
    text = good + "\r\n" + long_line + newline
    if newline:
        text += f"0000003;{H1};1;2,00;112026;Вода\r\n"
    path = tmp_path / NAME
    path.write_bytes(text.encode("cp1251"))
    for mode in ("drain", "iterate"):
        outcome = _outcome(path, mode, Policy.QUARANTINE, tmp_path / "r.csv")
        assert outcome[2:4] == (2 if newline else 1, 1)
        [(line, field, message)] = outcome[5]
        assert (line, field) == (2, "") and f"longer than {limit}" in message
        raw = outcome[9]
        assert isinstance(raw, bytes) and len(raw.decode("utf-8-sig")) < 1200  # head only


def test_pes_debts_header_and_bom_through_the_block_path(tmp_path: Path):
    golden = (Path(__file__).parent / "golden" / "pes-debts.csv").read_bytes()
    fmt = get_host().format("pes-debts")
    for data in (golden, b"\xef\xbb\xbf" + golden):
        path = tmp_path / "d.csv"
        path.write_bytes(data)
        with fmt.open(path) as reader:
            records = list(reader)
        with fmt.open(path) as reader:
            report = reader.drain()
        assert report == attrs.evolve(reader.report)
        assert report.valid and report.records == len(records) == 5
        assert report.total == sum(r.amount for r in records)  # type: ignore[union-attr]


def test_cache_seed_survives_the_cache_starting_afresh(monkeypatch: pytest.MonkeyPatch):
    import pes_sdk_csv.cells
    from pes_sdk_csv.cells import CachedParser

    monkeypatch.setattr(pes_sdk_csv.cells, "CACHE_LIMIT", 4)
    parser = CachedParser(str.upper)
    parser.seed("", None)
    for text in "abcdefghij":
        assert parser(text) == text.upper()
    assert len(parser.cache) <= 4
    assert "" in parser.cache and parser.cache[""] is None


# -- the writer's repeat check ------------------------------------------------------------


def test_writer_confirms_repeats_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import pes_sdk_csv.engine

    # Every pair shares one key: only reading back the written lines tells them apart.
    monkeypatch.setattr(pes_sdk_csv.engine, "_pair_key", lambda account, service: 42)
    fmt = get_host().format("sber-debts")
    records = debts(40)
    report = fmt.write(tmp_path / "ok.txt", RegistryHeader("debts"), records)
    assert report.records == 40
    with fmt.open(tmp_path / "ok.txt") as reader:
        assert list(reader) == records
    with pytest.raises(FormatError, match="repeat an earlier record") as err:
        fmt.write(tmp_path / "dup.txt", RegistryHeader("debts"), [*records, records[3]])
    assert (err.value.line, err.value.field) == (41, "account")
    assert "'0000004'" in str(err.value) and "'Вода'" in str(err.value)
    assert not (tmp_path / "dup.txt").exists()


def test_writer_reports_the_first_problem_by_line(tmp_path: Path):
    fmt = get_host().format("pes-debts")  # a header line: records start at line 2
    records = debts(5)
    bad = DebtRecord("0000009", H1, "1", Decimal("1.00"), NOV, "Вода; Газ")
    with pytest.raises(FormatError) as err:
        fmt.write(tmp_path / "a.csv", RegistryHeader("debts"), [*records, records[1], bad])
    assert (err.value.line, err.value.field) == (7, "account")  # the repeat comes first
    with pytest.raises(FormatError) as err:
        fmt.write(tmp_path / "b.csv", RegistryHeader("debts"), [*records, bad, records[1]])
    assert (err.value.line, err.value.field) == (7, "service")
    assert list(tmp_path.iterdir()) == []


def test_writer_repeat_check_after_an_encoding_error_sees_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import pes_sdk_csv.engine

    # All keys collide, and the record that cannot be encoded (line 512) is already in the
    # batch being written when the error comes: it must not be taken for a repeat of itself.
    monkeypatch.setattr(pes_sdk_csv.engine, "_pair_key", lambda account, service: 7)
    fmt = get_host().format("sber-debts")
    records = debts(511)
    bad = DebtRecord("0000999", H1, "1", Decimal("1.00"), NOV, "Вода 💧")
    with pytest.raises(FormatError, match="cannot be written in cp1251") as err:
        fmt.write(tmp_path / "x.txt", RegistryHeader("debts"), [*records, bad])
    assert (err.value.line, err.value.field) == (512, "service")
    with pytest.raises(FormatError, match="repeat an earlier record") as err:
        fmt.write(tmp_path / "x.txt", RegistryHeader("debts"), [*records[:510], records[0], bad])
    assert err.value.line == 511


@pytest.mark.parametrize(
    "lines",
    [
        # A stray \r inside a service: one line, one \r too many.
        [f"0000001;{H1};12а;1,00;112026;Во\rда\r", f"0000002;{H1};1;2,00;112026;Газ\r"],
        # A \r that is not a line end, and a line end without one: as many \r as lines,
        # and every sixth cell ends in \r, yet the lines have seven and five cells.
        [f"0000001;{H1};1;1,00;112026;Вода\r;0000009", f"{H2};12а;2,00;112026;Газ\r"],
    ],
    ids=["cr-in-service", "cr-shifted"],
)
def test_carriage_returns_cannot_fake_the_line_structure(tmp_path: Path, lines: list[str]):
    path = tmp_path / NAME
    path.write_bytes("\n".join(lines).encode("cp1251") + b"\n")
    drained = _outcome(path, "drain", Policy.QUARANTINE, tmp_path / "r.csv")
    iterated = _outcome(path, "iterate", Policy.QUARANTINE, tmp_path / "r.csv")
    assert drained[1:] == iterated[1:]
    assert drained[3] >= 1 and drained[5]  # rejected, with the careful path's reasons


def test_writer_takes_a_service_of_none_for_the_empty_one_it_is_written_as(tmp_path: Path):
    # Both lines would read back as the same (account, ""): the reader would refuse them.
    first = DebtRecord("0000001", H1, "1", Decimal("1.00"), NOV, "")
    second = attrs.evolve(first, amount=Decimal("2.00"))
    object.__setattr__(second, "service", None)
    with pytest.raises(FormatError, match="repeat an earlier record") as err:
        get_host().format("sber-debts").write(
            tmp_path / "x.txt", RegistryHeader("debts"), [first, second]
        )
    assert (err.value.line, err.value.field) == (2, "account")


@pytest.mark.parametrize("prefix", ["ИТОГО", "="])
def test_a_footer_prefix_an_account_could_start_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str
):
    import tomllib

    import pes_sdk_csv.engine
    from pes_sdk_csv.dialect import builtin_dialect_dir, parse_dialect
    from pes_sdk_csv.engine import DialectFormat

    data = tomllib.loads((builtin_dialect_dir() / "sber-debts.toml").read_text("utf-8"))
    data["name"] = "test-debts"
    data["footer"]["prefix"] = prefix
    fmt = DialectFormat(parse_dialect(data))
    lines = [f"{i:07d};{H1};1;1,00;112026;Вода" for i in range(1, 40)]
    # A footer line, though with "ИТОГО" it reads like a plain good row of account ИТОГО39.
    lines.append(f"{prefix}39;{H1};1;1,00;112026;Вода")
    path = tmp_path / NAME
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("cp1251"))
    for chunk in (64, 1 << 15):
        monkeypatch.setattr(pes_sdk_csv.engine, "_CHUNK", chunk)
        for drain in (True, False):
            reader = fmt.open(path, policy=Policy.QUARANTINE)
            with reader, pytest.raises(RegistryRefused, match="line 40: the footer has 6 cells"):
                if drain:
                    reader.drain()
                else:
                    list(reader)
