"""Dialects as data: the TOML schema, PES_DIALECT_PATH, the example dialect, file names."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pes_sdk_csv import (
    DIALECT_PATH_ENV,
    ColumnType,
    DialectFormat,
    FileNameTemplate,
    builtin_dialect_dir,
    find_dialects,
    load_dialect,
    parse_dialect,
)

from pes_sdk.cli.main import cli
from pes_sdk.errors import ConfigError, FormatError
from pes_sdk.models import DebtRecord, PaymentRecord, RegistryHeader
from pes_sdk.period import Period
from pes_sdk.plugins import PluginHost

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
EXAMPLES = HERE.parents[2] / "examples" / "dialects"
H1 = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
H2 = "5d6e7f80-91a2-43b4-85c6-d7e8f9a0b1c2"


def test_builtin_dialects_are_exactly_these():
    names = sorted(d.name for d in find_dialects([builtin_dialect_dir()]))
    assert names == [
        "excel-debts", "excel-debts-cp1251", "excel-payments", "excel-payments-cp1251",
        "gorod-debts", "pes-debts", "pes-payments", "sber-debts", "sber-els-guid",
        "sber-ls-fio-address", "sber-ls-fio-sum", "sber-payments",
    ]  # fmt: skip


def test_sber_debts_dialect_is_as_documented():
    d = load_dialect(builtin_dialect_dir() / "sber-debts.toml")
    assert d.encoding == "cp1251" and d.delimiter == ";" and d.header is None
    assert [c.field for c in d.columns] == [
        "account", "house_id", "premises", "amount", "period", "service",
    ]  # fmt: skip
    assert d.columns[3].type is ColumnType.AMOUNT
    assert d.decimal_separator == "," and set(d.read_decimal_separators) == {",", "."}
    assert d.footer is not None and not d.footer.required
    assert d.filename == "{inn}_{account}_{number:03}_{period:MMYY}.txt"


def test_pes_debts_header_row():
    d = load_dialect(builtin_dialect_dir() / "pes-debts.toml")
    assert d.header == "account;house_id;premises;amount;period;service"


def _host_with(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> PluginHost:
    monkeypatch.setenv(DIALECT_PATH_ENV, ":".join(str(f) for f in folders))
    return PluginHost()


def test_user_dialect_from_pes_dialect_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    folder = tmp_path / "dialects"
    folder.mkdir()
    shutil.copy(EXAMPLES / "example-koi8-debts.toml", folder)
    host = _host_with(monkeypatch, folder)
    fmt = host.format("example-koi8-debts")
    assert [f for f in host.failures if f.name == "csv"] == []
    assert "sber-debts" in host.formats()  # the built-in ones are still there
    path = GOLDEN / "7707083893_202611_3.txt"
    with fmt.open(path) as reader:
        records = list(reader)
    assert records == [
        DebtRecord("000123", H1, "12а", Decimal("1272.26"), Period(2026, 11), "Электроснабжение"),
        DebtRecord("0045", H2, "", Decimal("-10.50"), Period(2026, 11), "Вывоз ТКО"),
    ]
    header = reader.report.header
    assert (header.partner_inn, header.period, header.number) == ("7707083893", Period(2026, 11), 3)
    out = tmp_path / "out.txt"
    fmt.write(out, header, records)
    assert out.read_bytes() == path.read_bytes()
    assert "Электроснабжение".encode("koi8-r") in out.read_bytes()


def test_example_dialect_file_is_valid():
    d = load_dialect(EXAMPLES / "example-koi8-debts.toml")
    assert d.encoding == "koi8-r" and d.delimiter == "|"
    assert d.columns[0].field == "period"


def test_a_bad_dialect_file_leaves_out_only_itself_with_file_and_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # One typo in one partner's dialect removed every CSV format, and `pes runner serve`
    # stayed down (issue 13): now that file alone is left out, and said so.
    (tmp_path / "bad.toml").write_text(_minimal(delimeter='";"'), encoding="utf-8")
    (tmp_path / "good.toml").write_text(_minimal(name='"good"'), encoding="utf-8")
    host = _host_with(monkeypatch, tmp_path)
    assert {"sber-debts", "good"} <= set(host.formats())
    assert [f for f in host.failures if f.name == "csv"] == []
    [warning] = host.warnings
    assert warning.name == "csv"
    assert "bad.toml" in warning.error and "delimeter" in warning.error
    assert warning.error.endswith("that dialect is left out")


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_dialect_path_entry_that_is_no_folder_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, what: str
):
    entry = tmp_path / "dialects"
    if what == "file":
        entry.write_text("", encoding="utf-8")
    host = _host_with(monkeypatch, entry)
    assert "sber-debts" in host.formats()
    [warning] = host.warnings
    expected = "is a file, not a folder" if what == "file" else "does not exist"
    assert str(entry) in warning.error and expected in warning.error


def test_every_pes_command_that_uses_formats_prints_the_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    folder = tmp_path / "dialects"
    folder.mkdir()
    (folder / "bad.toml").write_text(_minimal(delimeter='";"'), encoding="utf-8")
    host = _host_with(monkeypatch, folder)
    registry = GOLDEN / "7707083893_40702810900000000001_001_1126.txt"
    for args in (["formats"], ["validate", "--format", "sber-debts", str(registry)]):
        result = CliRunner().invoke(cli, args, obj=host)
        lines = [ln for ln in result.stderr.splitlines() if "bad.toml" in ln]
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("pes: warning: csv: ") and "delimeter" in lines[0]


def test_a_missing_dialect_folder_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        find_dialects([tmp_path / "nope"])


def test_two_files_with_one_name_are_a_config_error(tmp_path: Path):
    (tmp_path / "a.toml").write_text(_minimal(), encoding="utf-8")
    (tmp_path / "b.toml").write_text(_minimal(), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b\.toml: name: .*already defined"):
        find_dialects([tmp_path])


def _minimal(**over: str) -> str:
    top = {
        "name": '"mine"',
        "kind": '"debts"',
        "encoding": '"utf-8"',
    }
    top.update(over)
    text = "".join(f"{k} = {v}\n" for k, v in top.items())
    for name, field, typ in (
        ("account", "account", "account"),
        ("house_id", "house_id", "guid"),
        ("amount", "amount", "amount"),
    ):
        text += f'[[columns]]\nname = "{name}"\nfield = "{field}"\ntype = "{typ}"\n'
    return text


def _load(text: str, tmp_path: Path) -> object:
    path = tmp_path / "d.toml"
    path.write_text(text, encoding="utf-8")
    return load_dialect(path)


def test_minimal_dialect_loads(tmp_path: Path):
    d = _load(_minimal(), tmp_path)
    assert DialectFormat(d).name == "mine"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (_minimal(extra="1"), "extra"),
        (_minimal(encoding='"latin-1"'), "encoding"),
        (_minimal(kind='"readings"'), "kind"),
        (_minimal(delimiter='","', decimal_separator='","'), "delimiter"),
        (_minimal(decimal_separator='","', read_decimal_separators='["."]'),
         "read_decimal_separators"),
        (_minimal(delimiter='"ab"'), "delimiter"),
        (_minimal(period_format='"YY"'), "period_format"),
        (_minimal(date_format='"%d.%m.%y"'), "date_format"),
        (_minimal(time_format='"%d"'), "time_format"),
        (_minimal(header="1"), "header"),
        (_minimal(max_line_length="10"), "max_line_length"),
        (_minimal(name='"Has Space"'), "name"),
        (_minimal(filename='"{inn}_{nope}.txt"'), "filename"),
        (_minimal(filename='"{period:MM}.txt"'), "filename"),
        (_minimal().replace('type = "guid"', 'type = "amount"'), "columns[1].type"),
        (_minimal().replace('field = "house_id"', 'field = "colour"'), "columns[1].field"),
        (_minimal().replace('name = "amount"\n', 'name = "amount"\nwidth = 3\n'),
         "columns[2].width"),
        (_minimal().replace('name = "amount"\n', 'name = "amount"\nrequired = false\n'), "columns"),
        (_minimal().replace('name = "amount"\n', 'name = "amount"\nrequired = "no"\n'),
         "columns[2].required"),
        (_minimal() + '[footer]\nfields = ["count", "service"]\n', "footer.fields"),
        (_minimal() + '[footer]\nfields = ["count", "count"]\n', "footer.fields"),
        (_minimal() + '[footer]\nfields = ["count"]\nprefix = ""\n', "footer.prefix"),
        (_minimal() + '[footer]\nfields = ["count"]\nlines = 2\n', "footer.lines"),
        (_minimal() + "[footer]\n", "footer.fields"),
        (_minimal().replace('name = "mine"\n', ""), "name"),
        # issue 12: personal and ignored columns, encodings, header blocks, GUID,кв
        (_minimal() + '[[columns]]\nname = "fio"\ntype = "personal"\nfield = "service"\n',
         "columns[3].field"),
        (_minimal() + '[[columns]]\nname = "fio"\ntype = "personal"\ncheck = "age"\n',
         "columns[3].check"),
        (_minimal() + '[[columns]]\nname = "x"\ntype = "ignored"\ncheck = "name"\n',
         "columns[3].check"),
        (_minimal(encodings='["koi8-r", "latin-1"]'), "encodings"),
        (_minimal(encodings='["koi8-r"]'), "encodings"),
        (_minimal(encodings='["utf-8", "utf8"]'), "encodings"),
        (_minimal(delimiter='","').replace('type = "guid"', 'type = "guid_premises"'),
         "columns[1].type"),
        (_minimal().replace('type = "guid"', 'type = "guid_premises"')
         + '[[columns]]\nname = "kv"\nfield = "premises"\ntype = "premises"\n', "columns"),
        (_minimal() + "[header_block]\nkeys = {}\n", "header_block.keys"),
        (_minimal() + '[header_block]\nkeys = { SUM = "account" }\n', "header_block.keys"),
        (_minimal() + '[header_block]\nkeys = { A = "amount", B = "amount" }\n',
         "header_block.keys"),
        (_minimal() + '[header_block]\nprefix = "# "\nkeys = { A = "amount" }\n',
         "header_block.prefix"),
        (_minimal() + '[header_block]\nkeys = { A = "amount" }\n[footer]\nfields = ["count"]\n',
         "footer"),
    ],
)  # fmt: skip
def test_bad_dialect_names_the_file_and_the_key(tmp_path: Path, text: str, key: str):
    with pytest.raises(ConfigError) as err:
        _load(text, tmp_path)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "d.toml") + ": ")
    assert f": {key}: " in message


def test_toml_syntax_error_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"d\.toml: not valid TOML"):
        _load("name = [unclosed\n", tmp_path)


def test_parse_dialect_accepts_encoding_aliases():
    data = tomllib.loads(_minimal(encoding='"windows-1251"'))
    assert parse_dialect(data).encoding == "cp1251"


# -- file names ---------------------------------------------------------------------------

SBER = FileNameTemplate("{inn}_{account}_{number:03}_{period:MMYY}.txt")


def test_file_name_format_and_parse_round_trip():
    header = RegistryHeader(
        "debts", partner_inn="7707083893", partner_account="40702810900000000001",
        period=Period(2026, 1), number=7,
    )  # fmt: skip
    name = SBER.format(header)
    assert name == "7707083893_40702810900000000001_007_0126.txt"
    assert SBER.parse(name) == {
        "partner_inn": "7707083893",
        "partner_account": "40702810900000000001",
        "number": 7,
        "period": Period(2026, 1),
    }


@pytest.mark.parametrize(
    "name",
    [
        "7707083894_40702810900000000001_001_1126.txt",  # ИНН check digit wrong
        "7707083893_4070281090000000001_001_1126.txt",  # 19-digit account
        "7707083893_40702810900000000001_01_1126.txt",  # 2-digit number
        "7707083893_40702810900000000001_001_1326.txt",  # month 13
        "7707083893_40702810900000000001_000_1126.txt",  # number 0
        "registry.txt",
    ],
)
def test_file_names_that_do_not_fit(name: str):
    assert SBER.parse(name) is None


def test_file_name_needs_every_fact():
    assert SBER.format(RegistryHeader("debts", partner_inn="7707083893")) is None


def test_file_name_number_must_fit_its_width():
    header = RegistryHeader(
        "debts", partner_inn="7707083893", partner_account="40702810900000000001",
        period=Period(2026, 1), number=1000,
    )  # fmt: skip
    with pytest.raises(FormatError, match="does not fit 3 digits"):
        SBER.format(header)


def test_file_name_with_a_date():
    import datetime as dt

    t = FileNameTemplate("pay_{inn}_{date:%Y%m%d}.csv")
    header = RegistryHeader("payments", partner_inn="7707083893", date=dt.date(2026, 11, 27))
    assert t.format(header) == "pay_7707083893_20261127.csv"
    assert t.parse("pay_7707083893_20261127.csv") == {
        "partner_inn": "7707083893",
        "date": dt.date(2026, 11, 27),
    }
    assert t.parse("pay_7707083893_20261131.csv") is None


@pytest.mark.parametrize(
    "template", ["{inn", "{inn:x}.txt", "{number:3}.txt", "{date}.txt", "a/{inn}.txt", "{x}"]
)
def test_bad_templates(template: str):
    with pytest.raises(ValueError):
        FileNameTemplate(template)


def _payment_at(moment: dt.datetime) -> PaymentRecord:
    return PaymentRecord(
        moment, "77", "0000001", Decimal("10.00"), Decimal("9.86"), Decimal("0.14")
    )


def _written(tmp_path: Path, dialect: str, zone: str | None, moment: dt.datetime) -> str:
    with open(builtin_dialect_dir() / f"{dialect}.toml", "rb") as fh:
        data = tomllib.load(fh)
    if zone is not None:
        data["time_zone"] = zone
    fmt = DialectFormat(parse_dialect(data))
    out = tmp_path / "p.txt"
    fmt.write(out, RegistryHeader("payments", extra=[("order_number", "1")]), [_payment_at(moment)])
    return out.read_bytes().decode(fmt.dialect.encoding)


@pytest.mark.timezone
@pytest.mark.parametrize(
    ("dialect", "zone", "written"),
    [
        ("pes-payments", "Europe/Moscow", "2026-01-01T02:45:00"),
        ("pes-payments", "Asia/Yekaterinburg", "2026-01-01T04:45:00"),
        ("sber-payments", "Europe/Moscow", "01.01.2026;02-45-00"),
        # no zone fixed by the layout: the wall time of the zone the time carries
        ("pes-payments", None, "2025-12-31T23:45:00"),
    ],
)
def test_a_time_with_a_zone_is_written_as_the_dialects_wall_time(
    tmp_path: Path, dialect: str, zone: str | None, written: str
) -> None:
    # The files' times carry no offset. A layout that fixes a zone (time_zone) gets every
    # time in it: 31.12.2025 23:45 UTC is a payment of 1 January in Moscow.
    utc = dt.datetime(2025, 12, 31, 23, 45, tzinfo=dt.UTC)
    assert written in _written(tmp_path, dialect, zone, utc)


@pytest.mark.timezone
@pytest.mark.parametrize(
    ("dialect", "written"),
    [("pes-payments", "2025-12-31T23:45:00"), ("sber-payments", "31.12.2025;23-45-00")],
)
def test_a_time_without_a_zone_is_written_as_it_is(
    tmp_path: Path, dialect: str, written: str
) -> None:
    # a naive time is already the file's wall time, whatever the host's zone
    wall = dt.datetime(2025, 12, 31, 23, 45)
    assert written in _written(tmp_path, dialect, "Asia/Yekaterinburg", wall)


def test_an_unknown_dialect_time_zone_names_the_key() -> None:
    with open(builtin_dialect_dir() / "pes-payments.toml", "rb") as fh:
        data = tomllib.load(fh)
    data["time_zone"] = "Mars/Olympus"
    with pytest.raises(ConfigError, match="time_zone: unknown time zone 'Mars/Olympus'"):
        parse_dialect(data)


def test_new_dialect_keys_load(tmp_path: Path):
    """A partner's own dialect describes the issue-12 layouts without code."""
    text = _minimal(encodings='["cp1251", "koi8-r", "utf-8"]', period_format='"MM.YYYY"').replace(
        'type = "guid"', 'type = "guid_premises"'
    )
    text += '[[columns]]\nname = "fio"\ntype = "personal"\ncheck = "name"\n'
    text += '[[columns]]\nname = "els"\ntype = "ignored"\n'
    text += '[header_block]\nkeys = { FILESUM = "amount", TYPE = "type", PERIOD = "period" }\n'
    d = _load(text, tmp_path)
    # The written encoding (``encoding``) comes first; the others in the order listed.
    assert d.encoding == "utf-8" and d.read_encodings == ("utf-8", "cp1251", "koi8-r")  # type: ignore[attr-defined]
    assert [c.field for c in d.columns] == ["account", "house_id", "amount", "", ""]  # type: ignore[attr-defined]
    assert d.header_block.fact("PERIOD") == "period"  # type: ignore[attr-defined]
    fmt = DialectFormat(d)  # type: ignore[arg-type]
    assert fmt.capabilities.encodings == ("utf-8", "cp1251", "koi8-r")
    assert fmt.capabilities.control_totals and fmt.sum_fields == ("amount",)


def test_a_debt_dialect_needs_no_house_column(tmp_path: Path):
    text = _minimal().replace(
        '[[columns]]\nname = "house_id"\nfield = "house_id"\ntype = "guid"\n', ""
    )
    d = _load(text, tmp_path)
    assert [c.field for c in d.columns] == ["account", "amount"]  # type: ignore[attr-defined]
