"""pes_sdk.operations: validate and convert against real files and a real plugin host.

The example JSON Lines plugin (examples/jsonl-format, installed editable) stands in for any
format, so these tests do not depend on the CSV adapter; the tests that need the CSV
adapter's formats say so and skip only when they are missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pes_example_jsonl.plugin import JsonlDebtsFormat

from pes_sdk import DebtRecord, Period, RegistryHeader, RegistryKind
from pes_sdk.errors import FormatError, PluginError, RegistryRefused, UnknownFormat
from pes_sdk.formats import FormatCapabilities, Policy, ReadReport, Record, WriteReport
from pes_sdk.operations import (
    PROGRESS_EVERY,
    FormatMismatch,
    UnreadableInput,
    convert,
    validate,
)
from pes_sdk.plugins import PluginHost, hookimpl

JSONL = "example-jsonl-debts"
HOUSE = "5f1d7d2e-3c4b-4a8e-9f10-2b3c4d5e6f70"
HEADER = RegistryHeader(RegistryKind.DEBTS, "5001007329", None, Period(2026, 11), 7)
PREMISES = ("12а", "12/1", "кв. 7", "12-1", "пом. 3", "12, ком. 3")


def records(n: int) -> list[DebtRecord]:
    out = []
    for i in range(n):
        amount = Decimal("-350.00") if i == 1 else Decimal(1000 + i * 37) / 100
        out.append(
            DebtRecord(
                f"{i:08d}", HOUSE, PREMISES[i % len(PREMISES)], amount, Period(2026, 11), "Свет"
            )
        )
    return out


def jsonl_lines(recs: list[DebtRecord], extra: Iterable[str] = ()) -> list[str]:
    """A JSON Lines registry as text lines; ``extra`` rows are counted in the footer."""
    head = json.dumps({"partner_inn": "5001007329", "period": "2026-11", "number": 7})
    rows = [
        json.dumps(
            {
                "account": r.account,
                "house_id": r.house_id,
                "premises": r.premises.text,
                "amount": str(r.amount),
                "period": "2026-11",
                "service": r.service,
                "tags": [],
            },
            ensure_ascii=False,
        )
        for r in recs
    ]
    extra = list(extra)
    total = sum((r.amount for r in recs), Decimal("0.00"))
    for row in extra:
        total += Decimal(json.loads(row)["amount"])
    foot = json.dumps({"count": len(recs) + len(extra), "amount": str(total)})
    return [head, *rows, *extra, foot]


BAD_ROW = json.dumps(
    {"account": "99", "house_id": "not-a-guid", "premises": "1", "amount": "10.00"}
)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Recorder:
    """A plugin that keeps every registry_loaded report."""

    def __init__(self) -> None:
        self.reports: list[ReadReport] = []

    @hookimpl
    def pes_registry_loaded(self, report: ReadReport) -> None:
        self.reports.append(report)


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(disabled=())


@pytest.fixture
def recorder(host: PluginHost) -> Recorder:
    rec = Recorder()
    assert host.register(rec, name="recorder")
    return rec


def test_example_format_is_installed(host: PluginHost) -> None:
    assert JSONL in host.formats()
    assert host.provider_of("pes_registry_formats", JSONL) == "example-jsonl"


# -- validate --------------------------------------------------------------------------


def test_validate_valid_file(tmp_path: Path, host: PluginHost, recorder: Recorder) -> None:
    recs = records(5)
    src = write(tmp_path / "d.jsonl", jsonl_lines(recs))
    report = validate(src, JSONL, host=host)
    assert report.valid
    assert report.records == 5
    assert report.total == sum((r.amount for r in recs), Decimal("0.00"))
    assert report.header.kind is RegistryKind.DEBTS
    assert recorder.reports == [report]


def test_validate_bad_data_reports_instead_of_raising(
    tmp_path: Path, host: PluginHost, recorder: Recorder
) -> None:
    src = write(tmp_path / "d.jsonl", jsonl_lines(records(3), [BAD_ROW]))
    report = validate(src, JSONL, Policy.STRICT, host=host)
    assert not report.valid
    assert report.refused is not None and "strict" in report.refused
    assert report.records == 3
    assert [(i.line, i.field) for i in report.issues] == [(5, "house_id")]
    assert recorder.reports == [report]
    assert not (tmp_path / "d.jsonl.rejects.csv").exists()


def test_validate_refused_at_open_is_a_report(tmp_path: Path, host: PluginHost) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_bytes(b"")
    report = validate(src, JSONL, host=host)
    assert report.refused is not None and "empty" in report.refused
    assert not report.valid


def test_validate_undecodable_bytes_refuse_whole(tmp_path: Path, host: PluginHost) -> None:
    lines = jsonl_lines(records(3))
    data = ("\n".join(lines) + "\n").encode("utf-8").replace("кв. 7".encode(), b"\xea\xe2. 7")
    src = tmp_path / "cp1251.jsonl"
    src.write_bytes(data)
    report = validate(src, JSONL, Policy.QUARANTINE, host=host)
    assert report.refused is not None and "UTF-8" in report.refused
    assert report.issues[-1].line == 4
    assert report.rejects_path is None


def test_validate_quarantine_writes_rejects(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "d.jsonl", jsonl_lines(records(3), [BAD_ROW]))
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    report = validate(src, JSONL, "quarantine", rejects_path=rejects, host=host)
    assert report.refused is None
    assert (report.records, report.rejected) == (3, 1)
    assert report.rejects_path == rejects
    text = rejects.read_text(encoding="utf-8-sig")
    assert "house_id" in text and "not-a-guid" in text


def test_validate_progress_reports_records(tmp_path: Path, host: PluginHost) -> None:
    n = PROGRESS_EVERY * 2 + 5
    src = write(tmp_path / "d.jsonl", jsonl_lines(records(n)))
    seen: list[int] = []
    validate(src, JSONL, host=host, progress=seen.append)
    assert seen == [PROGRESS_EVERY, PROGRESS_EVERY * 2, n]


def test_validate_missing_file_is_unreadable(tmp_path: Path, host: PluginHost) -> None:
    with pytest.raises(UnreadableInput, match="no such file") as info:
        validate(tmp_path / "nope.jsonl", JSONL, host=host)
    assert isinstance(info.value, FormatError)
    with pytest.raises(UnreadableInput, match="folder"):
        validate(tmp_path, JSONL, host=host)


def test_validate_unknown_format(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "d.jsonl", jsonl_lines(records(1)))
    with pytest.raises(UnknownFormat, match="no-such-format"):
        validate(src, "no-such-format", host=host)


# -- convert ---------------------------------------------------------------------------


def read_back(host: PluginHost, path: Path) -> list[Record]:
    with host.format(JSONL).open(path) as reader:
        return list(reader)


def test_convert_streams_and_round_trips(
    tmp_path: Path, host: PluginHost, recorder: Recorder
) -> None:
    recs = records(PROGRESS_EVERY + 10)
    src = write(tmp_path / "in.jsonl", jsonl_lines(recs))
    dst = tmp_path / "out.jsonl"
    seen: list[int] = []
    read, written = convert(src, dst, JSONL, JSONL, host=host, progress=seen.append)
    assert read.valid and read.records == len(recs)
    assert written.path == dst
    assert (written.records, written.total) == (len(recs), read.total)
    assert read_back(host, dst) == recs
    assert seen == [PROGRESS_EVERY, len(recs)]
    assert recorder.reports == [read]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_convert_into_a_folder_uses_the_format_file_name(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(2)))
    out = tmp_path / "out"
    out.mkdir()
    _, written = convert(src, out, JSONL, JSONL, host=host)
    assert written.path == out / "5001007329_2026-11_007.jsonl"
    assert written.path.is_file()


def test_convert_strict_refusal_leaves_nothing(
    tmp_path: Path, host: PluginHost, recorder: Recorder
) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(50), [BAD_ROW]))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RegistryRefused) as info:
        convert(src, out / "x.jsonl", JSONL, JSONL, host=host)
    assert info.value.issues[0].field == "house_id"
    assert list(out.iterdir()) == []  # no OUT and no temporary file
    assert len(recorder.reports) == 1 and recorder.reports[0].refused is not None


def test_convert_refusal_keeps_an_existing_output(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(5), [BAD_ROW]))
    dst = tmp_path / "out.jsonl"
    dst.write_text("previous registry\n", encoding="utf-8")
    with pytest.raises(RegistryRefused):
        convert(src, dst, JSONL, JSONL, host=host)
    assert dst.read_text(encoding="utf-8") == "previous registry\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_convert_control_total_mismatch_refuses(tmp_path: Path, host: PluginHost) -> None:
    lines = jsonl_lines(records(4))
    lines[-1] = json.dumps({"count": 4, "amount": "0.01"})
    src = write(tmp_path / "in.jsonl", lines)
    with pytest.raises(RegistryRefused, match="control"):
        convert(src, tmp_path / "out.jsonl", JSONL, JSONL, "quarantine", host=host)
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "in.jsonl.rejects.csv").exists()


def test_convert_quarantine_writes_good_rows_and_rejects(tmp_path: Path, host: PluginHost) -> None:
    recs = records(4)
    src = write(tmp_path / "in.jsonl", jsonl_lines(recs, [BAD_ROW]))
    dst = tmp_path / "out.jsonl"
    read, written = convert(src, dst, JSONL, JSONL, Policy.QUARANTINE, host=host)
    assert (read.records, read.rejected, written.records) == (4, 1, 4)
    assert read_back(host, dst) == recs
    assert read.rejects_path == tmp_path / "in.jsonl.rejects.csv"
    assert "not-a-guid" in read.rejects_path.read_text(encoding="utf-8-sig")


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(2)))
    before = src.read_bytes()
    with pytest.raises(FormatMismatch, match="overwrite the input"):
        convert(src, src, JSONL, JSONL, host=host)
    assert src.read_bytes() == before


# Formats that misbehave, to prove convert guards against them.


class _Careless(JsonlDebtsFormat):
    """Writes straight into its path, line by line, with no atomic rename."""

    name = "careless-jsonl"

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        n = 0
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(repr(r) + "\n")
                fh.flush()
                n += 1
        return WriteReport(path, n, Decimal("0.00"))


class _Wrapping(_Careless):
    """Turns every error into its own FormatError, hiding the refusal's type."""

    name = "wrapping-jsonl"

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        try:
            return super().write(path, header, records)
        except Exception as exc:
            raise FormatError(f"write failed: {exc}", path=path) from exc


class _Quitter(_Careless):
    """Stops after the first record."""

    name = "quitter-jsonl"

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        it: Iterator[Record] = iter(records)
        next(it)
        path.write_text("one\n", encoding="utf-8")
        return WriteReport(path, 1, Decimal("0.00"))


class _PaymentsReadOnly(_Careless):
    name = "payments-readonly"
    kind = RegistryKind.PAYMENTS
    capabilities = FormatCapabilities(write=False)


class _Misfits:
    @hookimpl
    def pes_registry_formats(self) -> list[Any]:
        return [_Careless(), _Wrapping(), _Quitter(), _PaymentsReadOnly()]


@pytest.fixture
def misfit_host(host: PluginHost) -> PluginHost:
    assert host.register(_Misfits(), name="misfits")
    return host


@pytest.mark.parametrize("target", ["careless-jsonl", "wrapping-jsonl"])
def test_convert_leaves_no_partial_output_whatever_the_writer(
    tmp_path: Path, misfit_host: PluginHost, target: str
) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(30), [BAD_ROW]))
    with pytest.raises(RegistryRefused):
        convert(src, tmp_path / "out.txt", JSONL, target, host=misfit_host)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_convert_refuses_a_writer_that_stops_early(tmp_path: Path, misfit_host: PluginHost) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(3)))
    with pytest.raises(PluginError, match="2 record"):
        convert(src, tmp_path / "out.txt", JSONL, "quitter-jsonl", host=misfit_host)
    assert not (tmp_path / "out.txt").exists()


def test_convert_checks_kind_and_capabilities(tmp_path: Path, misfit_host: PluginHost) -> None:
    src = write(tmp_path / "in.jsonl", jsonl_lines(records(1)))
    with pytest.raises(FormatMismatch, match="cannot write"):
        convert(src, tmp_path / "o", JSONL, "payments-readonly", host=misfit_host)
    with pytest.raises(FormatMismatch, match="own kind"):
        convert(src, tmp_path / "o", "payments-readonly", JSONL, host=misfit_host)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


# -- with the CSV adapter's formats ----------------------------------------------------


def need_formats(host: PluginHost, *names: str) -> None:
    missing = [n for n in names if n not in host.formats()]
    if missing:
        pytest.skip(f"format(s) {', '.join(missing)} not installed (CSV adapter pes-sdk-csv)")


def test_convert_pes_debts_to_sber_debts_and_back(tmp_path: Path, host: PluginHost) -> None:
    need_formats(host, "pes-debts", "sber-debts")
    recs = records(12)
    header = RegistryHeader(
        RegistryKind.DEBTS, "5001007329", "40702810380000000002", Period(2026, 11), 7
    )
    src = tmp_path / "in.csv"
    host.format("pes-debts").write(src, header, recs)
    sber = tmp_path / "sber.txt"
    read, written = convert(src, sber, "pes-debts", "sber-debts", host=host)
    assert read.valid and written.records == 12
    back = tmp_path / "back.jsonl"
    read2, _ = convert(sber, back, "sber-debts", JSONL, host=host)
    assert read2.valid and read2.total == read.total
    got = read_back(host, back)
    assert [(r.account, r.premises.text, r.amount) for r in got if isinstance(r, DebtRecord)] == [
        (r.account, r.premises.text, r.amount) for r in recs
    ]


# -- the example plugin's reader, through validate -----------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "1.234"}, "amount", "at most two decimal places"),
        ({"amount": 12.5}, "", "must be written as a string"),
        ({"account": ""}, "account", "personal account"),
        ({"house_id": "x"}, "house_id", "not a GUID"),
        ({"period": "2026-13"}, "period", "month"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"premises": None}, "premises", ""),
    ],
)
def test_bad_row_names_its_field(
    tmp_path: Path, host: PluginHost, change: dict[str, Any], field: str, message: str
) -> None:
    row = {"account": "5", "house_id": HOUSE, "premises": "12а", "amount": "1.00"}
    row.update(change)
    lines = jsonl_lines(records(2))
    lines.insert(2, json.dumps(row, ensure_ascii=False))
    foot = json.loads(lines[-1])
    foot["count"] += 1
    lines[-1] = json.dumps(foot)
    src = write(tmp_path / "d.jsonl", lines)
    report = validate(src, JSONL, Policy.QUARANTINE, host=host)
    line3 = [i for i in report.issues if i.line == 3]
    assert [i.field for i in line3] == [field], report.issues
    assert message in line3[0].message
    assert report.records == 2


def test_missing_required_field(tmp_path: Path, host: PluginHost) -> None:
    row = json.dumps({"account": "5", "house_id": HOUSE, "premises": "1"})
    src = write(
        tmp_path / "d.jsonl",
        [*jsonl_lines(records(1))[:-1], row, '{"count": 2, "amount": "10.00"}'],
    )
    report = validate(src, JSONL, host=host)
    assert next((i.line, i.field, i.message) for i in report.issues) == (
        3,
        "amount",
        "required field is missing",
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda lines: lines[:-1], "no footer"),
        (lambda lines: [*lines, lines[1]], "follows the footer"),
        (lambda lines: ['{"account": "1"}', *lines[1:]], "header"),
        (lambda lines: [lines[0], *lines[2:]], "control count"),
    ],
)
def test_structural_problems_refuse_the_registry(
    tmp_path: Path, host: PluginHost, mutate: Any, reason: str
) -> None:
    src = write(tmp_path / "d.jsonl", mutate(jsonl_lines(records(3))))
    report = validate(src, JSONL, Policy.QUARANTINE, host=host)
    assert report.refused is not None and reason in report.refused
    assert not (tmp_path / "d.jsonl.rejects.csv").exists()


def test_example_format_round_trips_bytes(tmp_path: Path, host: PluginHost) -> None:
    fmt = host.format(JSONL)
    recs = [
        DebtRecord(
            "007", HOUSE, "12, ком. 3", Decimal("1272.26"), None, "ГВС", (("CLIENTNO", "Ё1"),)
        ),
        *records(4),
    ]
    first = tmp_path / "a.jsonl"
    fmt.write(first, HEADER, recs)
    second = tmp_path / "b.jsonl"
    convert(first, second, JSONL, JSONL, host=host)
    assert first.read_bytes() == second.read_bytes()
    assert read_back(host, second) == recs
    assert "ком. 3" in first.read_text(encoding="utf-8")  # Cyrillic kept, not escaped


def test_empty_registry_is_valid(tmp_path: Path, host: PluginHost) -> None:
    src = write(tmp_path / "d.jsonl", jsonl_lines([]))
    report = validate(src, JSONL, host=host)
    assert report.valid and report.records == 0 and report.total == Decimal("0.00")


def test_repeated_account_and_service_is_rejected(tmp_path: Path, host: PluginHost) -> None:
    recs = records(3000)  # past the first growth of the reader's table of seen pairs
    again = recs[17]
    lines = jsonl_lines(recs, [json.dumps({**json.loads(jsonl_lines([again])[1])})])
    src = write(tmp_path / "d.jsonl", lines)
    report = validate(src, JSONL, Policy.QUARANTINE, host=host)
    assert (report.records, report.rejected) == (3000, 1)
    assert [(i.line, i.field) for i in report.issues] == [(3002, "account")]
    assert "repeat" in report.issues[0].message
    # The same account with another service is a different debt.
    other = DebtRecord(again.account, HOUSE, "1", Decimal("5.00"), None, "ОДН")
    src2 = write(tmp_path / "e.jsonl", jsonl_lines([*recs, other]))
    assert validate(src2, JSONL, host=host).valid
