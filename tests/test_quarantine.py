"""RejectSink: the policy (strict or quarantine), the rejects file, control totals, limits."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from pes_sdk.errors import Issue, RegistryRefused
from pes_sdk.formats import Policy, RejectSink, default_rejects_path
from pes_sdk.models import ControlTotals, RegistryHeader, RegistryKind

D = Decimal
HEADER = RegistryHeader(RegistryKind.DEBTS, "7707083893")


def source(tmp_path: Path) -> Path:
    path = tmp_path / "7707083893_40702810638000000000_001_1126.txt"
    path.write_text("(the registry itself is not read by the sink)\n", encoding="utf-8")
    return path


def read_rejects(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    assert b"\r\n" in raw
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_strict_refuses_with_the_issues(tmp_path: Path) -> None:
    src = source(tmp_path)
    sink = RejectSink(src, Policy.STRICT)
    sink.reject(3, "000123;x;12;abc", [Issue(3, "amount", "not an amount: 'abc'")])
    report, error = sink.finish(HEADER, 5, {"amount": D("10.00")}, None, good_total=D("10.00"))
    assert isinstance(error, RegistryRefused)
    assert error.path == src
    assert error.issues == (Issue(3, "amount", "not an amount: 'abc'"),)
    assert error.issue_count == 1
    assert "strict" in str(error)
    assert not report.valid
    assert report.refused is not None
    assert (report.records, report.rejected, report.total) == (4, 1, D("10.00"))
    assert report.rejects_path is None
    assert leftovers(tmp_path) == [src.name]  # strict writes no rejects file


def test_strict_without_issues_stands(tmp_path: Path) -> None:
    sink = RejectSink(source(tmp_path), "strict")
    report, error = sink.finish(HEADER, 2, {}, None, good_total=D("3.00"))
    assert error is None
    assert report.valid
    assert (report.records, report.total, report.issue_count) == (2, D("3.00"), 0)


def test_quarantine_keeps_good_rows_and_writes_rejects(tmp_path: Path) -> None:
    src = source(tmp_path)
    sink = RejectSink(src, Policy.QUARANTINE)
    sink.reject(
        2,
        '=HYPERLINK("http://x");дом;12,5',
        [Issue(2, "house_id", "not a GUID: 'дом'"), Issue(2, "account", "-bad account")],
    )
    sink.reject(7, "000124;;@SUM(A1);кв. 5", [Issue(7, "amount", "not an amount")])
    report, error = sink.finish(HEADER, 10, {}, None, good_total=D("99.99"))
    assert error is None
    assert report.refused is None
    assert (report.records, report.rejected, report.issue_count) == (8, 2, 3)
    assert not report.valid  # issues were found, even if the registry stands
    assert report.rejects_path == default_rejects_path(src)
    assert report.rejects_path == src.with_name(src.name + ".rejects.csv")
    rows = read_rejects(report.rejects_path)
    assert rows == [
        ["line", "field", "message", "raw"],
        ["2", "house_id", "not a GUID: 'дом'", '\'=HYPERLINK("http://x");дом;12,5'],
        ["2", "account", "'-bad account", '\'=HYPERLINK("http://x");дом;12,5'],
        ["7", "amount", "not an amount", "000124;;@SUM(A1);кв. 5"],
    ]
    assert leftovers(tmp_path) == sorted([src.name, report.rejects_path.name])


def test_quarantine_to_a_chosen_rejects_path(tmp_path: Path) -> None:
    src = source(tmp_path)
    out = tmp_path / "rejects" / "bad.csv"
    out.parent.mkdir()
    sink = RejectSink(src, Policy.QUARANTINE, out)
    sink.reject(1, "@x", [Issue(1, "account", "bad")])
    report, error = sink.finish(HEADER, 1, {}, None, good_total=D("0.00"))
    assert error is None
    assert report.rejects_path == out
    assert read_rejects(out)[1] == ["1", "account", "bad", "'@x"]


def test_quarantine_without_bad_rows_writes_no_file(tmp_path: Path) -> None:
    src = source(tmp_path)
    report, error = RejectSink(src, Policy.QUARANTINE).finish(
        HEADER, 3, {}, None, good_total=D("1.00")
    )
    assert error is None and report.valid and report.rejects_path is None
    assert leftovers(tmp_path) == [src.name]


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.QUARANTINE])
def test_control_mismatch_refuses_whole(tmp_path: Path, policy: Policy) -> None:
    src = source(tmp_path)
    sink = RejectSink(src, policy)
    sink.reject(4, "bad row", [Issue(4, "amount", "bad")])
    control = ControlTotals(5, {"amount": D("100.00")})
    report, error = sink.finish(HEADER, 5, {"amount": D("99.99")}, control, good_total=D("80"))
    assert isinstance(error, RegistryRefused)
    assert "control totals do not match" in str(error)
    assert "100.00" in str(error) and "99.99" in str(error)
    assert report.refused is not None and not report.valid
    assert Issue(0, "control", "control sum of amount is 100.00, the records sum to 99.99") in (
        error.issues
    )
    # A refused registry leaves no rejects file and no temporary file behind.
    assert report.rejects_path is None
    assert leftovers(tmp_path) == [src.name]


def test_control_count_mismatch(tmp_path: Path) -> None:
    sink = RejectSink(source(tmp_path), Policy.QUARANTINE)
    _, error = sink.finish(HEADER, 4, {}, ControlTotals(5), good_total=D("0"))
    assert error is not None
    assert error.issues[0].message == "control count is 5, the file has 4 records"


def test_unverifiable_control_sum_refuses(tmp_path: Path) -> None:
    sink = RejectSink(source(tmp_path), Policy.QUARANTINE)
    sink.reject(2, "x;abc", [Issue(2, "amount", "not an amount")])
    control = ControlTotals(2, {"amount": D("10.00")})
    _, error = sink.finish(
        HEADER, 2, {"amount": D("10.00")}, control, good_total=D("5"), unverifiable=["amount"]
    )
    assert error is not None
    assert "cannot be checked" in str(error)


def test_matching_control_totals_stand(tmp_path: Path) -> None:
    sink = RejectSink(source(tmp_path), Policy.STRICT)
    control = ControlTotals(2, {"amount": D("10.00")})
    report, error = sink.finish(HEADER, 2, {"amount": D("10.00")}, control, good_total=D("10"))
    assert error is None and report.valid


def test_issue_limit_keeps_the_first_n_but_counts_all(tmp_path: Path) -> None:
    src = source(tmp_path)
    sink = RejectSink(src, Policy.QUARANTINE, issue_limit=3)
    for line in range(1, 11):
        sink.reject(line, f"row {line}", [Issue(line, "amount", f"bad {line}")])
    report, error = sink.finish(HEADER, 20, {}, None, good_total=D("0"))
    assert error is None
    assert [i.line for i in report.issues] == [1, 2, 3]
    assert report.issue_count == 10
    assert report.rejected == 10
    assert report.rejects_path is not None
    assert len(read_rejects(report.rejects_path)) == 1 + 10  # the file keeps every one


def test_issue_limit_under_strict(tmp_path: Path) -> None:
    sink = RejectSink(source(tmp_path), Policy.STRICT, issue_limit=2)
    for line in range(1, 6):
        sink.reject(line, "", [Issue(line, "a", "x"), Issue(line, "b", "y")])
    _, error = sink.finish(HEADER, 5, {}, None, good_total=D("0"))
    assert error is not None
    assert len(error.issues) == 2 and error.issue_count == 10
    assert "10 problems found" in str(error)


def test_refuse_drops_the_rejects_file(tmp_path: Path) -> None:
    src = source(tmp_path)
    sink = RejectSink(src, Policy.QUARANTINE)
    sink.reject(1, "x", [Issue(1, "amount", "bad")])
    error = sink.refuse("cannot decode as cp1251", line=9)
    assert isinstance(error, RegistryRefused)
    assert str(error) == f"{src}: line 9: cannot decode as cp1251"
    assert error.issues[-1] == Issue(9, "", "cannot decode as cp1251")
    assert error.issue_count == 2
    assert leftovers(tmp_path) == [src.name]


def test_in_memory_source_has_no_rejects_file() -> None:
    sink = RejectSink(None, Policy.QUARANTINE)
    sink.reject(1, "x", [Issue(1, "amount", "bad")])
    report, error = sink.finish(HEADER, 1, {}, None, good_total=D("0"))
    assert error is None and report.rejects_path is None and report.rejected == 1


def test_unknown_policy_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RejectSink(source(tmp_path), "lenient")  # type: ignore[arg-type]
