"""Personal data (ФИО, phone) in partners' registries: read, checked if asked, dropped.

A name is followed from the file through every place the kit puts what it read: the
records, the report and its issues, the rejects file, error messages, ``pes validate`` and
``pes convert`` output, the converted file and the logs. It is found in none of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from pes_sdk_csv.dialect import ColumnType, parse_dialect
from pes_sdk_csv.engine import DialectFormat

from pes_sdk.cli.main import cli
from pes_sdk.errors import PesError
from pes_sdk.formats import Policy
from pes_sdk.plugins import PluginHost, get_host

NAME = "Хабибуллина Зульфия Рашитовна"
PHONE = "+7 (342) 212-85-06"
SECRETS = ("Хабибуллина", "Зульфия", "Рашитовна", "212-85-06")
FILE = "7707083893_40702810900000000001_003_1126.txt"


def _write(path: Path, lines: list[str], encoding: str = "cp1251") -> Path:
    path.write_bytes("".join(line + "\r\n" for line in lines).encode(encoding))
    return path


def _assert_clean(*texts: object) -> None:
    for text in texts:
        shown = str(text)
        for secret in SECRETS:
            assert secret not in shown, f"{secret!r} leaked into {shown[:300]!r}"


def _files_text(folder: Path) -> str:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            raw = p.read_bytes()
            for enc in ("utf-8", "cp1251", "koi8-r"):
                out.append(raw.decode(enc, errors="replace"))
    return "\n".join(out)


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, obj=PluginHost(disabled=()))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_a_name_reaches_no_record_rejects_file_message_or_converted_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "in"
    src.mkdir()
    path = _write(
        src / FILE,
        [
            f"000123;{NAME};г. Пермь, ул. Ленина, д. 10, кв. 5;112026;1272,26;Электроснабжение",
            f"0045;{NAME};Пермь,Ленина,10,12а;112026;12,345;Вывоз ТКО",  # bad amount
            f"0046;{NAME};Пермь,Ленина,10,12а;132026;1,00;Вывоз ТКО",  # bad period
            f"0047;{NAME};Пермь,Ленина,10,12а;112026;1,00;Вывоз ТКО;{NAME}",  # an extra cell
            f"{'9' * 40};{NAME};;112026;1,00;",  # an account too long
            f"0048;Пермь,Ленина,10,12а;112026;{NAME};1,00;",  # the name out of place
        ],
    )
    fmt = get_host().format("sber-ls-fio-address")
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    with fmt.open(path, policy=Policy.QUARANTINE, rejects_path=rejects) as reader:
        records = list(reader)
    assert [r.account for r in records] == ["000123"]
    _assert_clean(*(attrs.asdict(r) for r in records), reader.report)
    assert reader.report.rejected == 5
    text = rejects.read_text(encoding="utf-8")
    # The line is kept, its name masked, and so is a value that failed its check.
    assert '"0045;***;Пермь,Ленина,10,12а;112026;***;Вывоз ТКО"' in text
    assert "0048;***;112026;***;1,00;" in text
    _assert_clean(text)

    # Strict: the refusal's message and every issue.
    with pytest.raises(PesError) as caught, fmt.open(path) as reader:
        list(reader)
    _assert_clean(caught.value, reader.report)

    # The command line: validate and convert (to the kit's own dialect, and to this one).
    code, out = _run(["validate", "--format", "sber-ls-fio-address", str(path)])
    assert code == 1
    _assert_clean(out)
    for target in ("sber-ls-fio-address", "sber-ls-fio-sum"):
        dest = tmp_path / "out" / target
        dest.mkdir()
        args = ["convert", "--from", "sber-ls-fio-address", "--to", target, "--policy"]
        rejects_arg = ["--rejects", str(dest / "r.csv")]
        code, out = _run([*args, "quarantine", *rejects_arg, str(path), str(dest)])
        assert code == 0, out
        assert len(list(dest.iterdir())) == 2  # the converted file and the rejects
        _assert_clean(out)
    _assert_clean(_files_text(tmp_path / "out"), caplog.text)


def test_a_name_in_the_wrong_encoding_is_not_quoted(tmp_path: Path) -> None:
    """The encoding rule quotes the line that shows the wrong encoding: most likely the
    name. With personal columns, the message names the encodings and the line only."""
    path = _write(tmp_path / FILE, [f"000123;{NAME};1272,26"] * 20, encoding="cp866")
    with pytest.raises(PesError) as caught, get_host().format("sber-ls-fio-sum").open(path) as r:
        list(r)
    assert "line 1" in str(caught.value)
    _assert_clean(caught.value)


def test_a_personal_column_is_checked_for_shape_without_showing_it(tmp_path: Path) -> None:
    dialect = parse_dialect(
        {
            "name": "with-phone",
            "kind": "debts",
            "encoding": "utf-8",
            "columns": [
                {"name": "ls", "field": "account", "type": "account"},
                {"name": "fio", "type": "personal", "check": "name"},
                {"name": "tel", "type": "personal", "check": "phone"},
                {"name": "sum", "field": "amount", "type": "amount"},
            ],
        }
    )
    assert [c.type for c in dialect.columns[1:3]] == [ColumnType.PERSONAL] * 2
    path = _write(
        tmp_path / "r.txt",
        [f"1;{NAME};{PHONE};1.00", f"2;{PHONE};{NAME};2.00", "3;;;3.00"],
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    with DialectFormat(dialect).open(path, policy=Policy.QUARANTINE, rejects_path=rejects) as r:
        records = list(r)
    assert [x.account for x in records] == ["1", "3"]
    issues = {(i.line, i.field): i.message for i in r.report.issues}
    assert issues[(2, "fio")].startswith("does not look like a name")
    assert issues[(2, "tel")].startswith("does not look like a phone number")
    _assert_clean(r.report, rejects.read_text(encoding="utf-8"))
    assert "2;***;***;2.00" in rejects.read_text(encoding="utf-8")
