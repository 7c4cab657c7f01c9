"""The built-in dialects of partners' real layouts (issue 12): golden files read and written.

Each layout has a golden file as a partner writes it (``partner/``, with the payers' names)
and as the kit writes it (``kit/``: personal cells empty, since the kit never holds them).
Reading either gives the same records; writing them gives the ``kit/`` file byte for byte.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pes_sdk.errors import RegistryRefused
from pes_sdk.models import DebtRecord
from pes_sdk.period import Period
from pes_sdk.plugins import get_host

LAYOUTS = Path(__file__).parent / "golden" / "layouts"
SBER_NAME = "7707083893_40702810900000000001_003_1126.txt"
H1 = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
H2 = "5d6e7f80-91a2-43b4-85c6-d7e8f9a0b1c2"
NOV = Period(2026, 11)
OCT = Period(2026, 10)
ADDR = "г. Пермь, ул. Ленина, д. 10, кв. 5"
NAMES = ("Иванов", "Петрова", "Сидоров")  # every payer's surname in the partner files


def D(text: str) -> Decimal:
    return Decimal(text)


def debt(account: str, amount: str, **kw: object) -> DebtRecord:
    return DebtRecord(account, kw.pop("house_id", None), kw.pop("premises", ""), D(amount), **kw)  # type: ignore[arg-type]


CASES = {
    "sber-ls-fio-sum": (
        SBER_NAME,
        [debt("000123", "1272.26"), debt("0045", "-150.40"), debt("ЛС-7/15", "0.00"),
         debt("00000078", "350.00")],
        {"amount": D("1471.86")},
    ),
    "sber-ls-fio-address": (
        SBER_NAME,
        [debt("000123", "1272.26", period=NOV, service="Электроснабжение", address=ADDR),
         debt("000123", "350.00", period=NOV, service="Вывоз ТКО", address=ADDR),
         debt("0045", "-150.40", period=OCT, address="Пермь,Ленина,10,12а"),
         debt("00000078", "0.00", period=NOV, service="Отопление")],
        {"amount": D("1471.86")},
    ),
    "gorod-debts": (
        "gorod-130137.txt",
        [debt("00-000123", "1272.26", service="Водоснабжение", address="Поспелиха,8 Марта,35,1"),
         debt("00-000045", "-150.40", service="Водоснабжение",
              address="12 лет Октября пос,Западная ул,1,2"),
         debt("00-000078", "350.00", service="Водоотведение", address="Поспелиха,Мира,3,")],
        {"amount": D("1471.86")},
    ),
    "sber-els-guid": (
        SBER_NAME,
        [debt("000123", "1272.26", house_id=H1, premises="12а", period=NOV,
              service="Электроснабжение"),
         debt("000123", "350.00", house_id=H1, premises="12а", period=NOV, service="Вывоз ТКО"),
         debt("0045", "-150.40", house_id=H1, premises="кв. 5, ком. 2", period=OCT),
         debt("00000078", "0.00", house_id=H2, period=NOV, service="Отопление")],
        {"amount": D("1471.86")},
    ),
}  # fmt: skip


def read(name: str, path: Path) -> tuple[list[object], object]:
    with get_host().format(name).open(path) as reader:
        records = list(reader)
    return records, reader.report


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("side", ["partner", "kit"])
def test_golden_layout_reads(name: str, side: str) -> None:
    filename, expected, sums = CASES[name]
    records, report = read(name, LAYOUTS / name / side / filename)
    assert records == expected
    assert report.valid and report.records == len(expected)  # type: ignore[attr-defined]
    control = report.header.control  # type: ignore[attr-defined]
    # The minimal layout's partner file has no control line (Sberbank's page shows none).
    if side == "kit" or name != "sber-ls-fio-sum":
        assert control is not None and control.sums == sums and control.count == len(expected)
    else:
        assert control is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_layout_writes_the_kit_file(tmp_path: Path, name: str) -> None:
    filename, expected, _ = CASES[name]
    fmt = get_host().format(name)
    records, report = read(name, LAYOUTS / name / "partner" / filename)
    out = tmp_path / filename
    fmt.write(out, report.header, records)  # type: ignore[attr-defined, arg-type]
    assert out.read_bytes() == (LAYOUTS / name / "kit" / filename).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [filename]  # no temporary left
    assert read(name, out)[0] == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_partner_files_carry_names_the_kit_drops(name: str) -> None:
    """The golden files do hold the payers' names (else the drop tests prove nothing)."""
    filename = CASES[name][0]
    enc = get_host().format(name).capabilities.encodings[0]
    text = (LAYOUTS / name / "partner" / filename).read_bytes().decode(enc)
    assert all(n in text for n in NAMES)
    kit = (LAYOUTS / name / "kit" / filename).read_bytes().decode(enc)
    assert not any(n in kit for n in NAMES)


def test_minimal_layout_takes_its_period_from_the_file_name() -> None:
    _, report = read("sber-ls-fio-sum", LAYOUTS / "sber-ls-fio-sum" / "partner" / SBER_NAME)
    h = report.header  # type: ignore[attr-defined]
    assert (h.partner_inn, h.number, h.period) == ("7707083893", 3, NOV)


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "utf-8", "utf-8-sig"])
def test_minimal_layout_reads_each_encoding_sberbank_accepts(tmp_path: Path, encoding: str) -> None:
    """Sberbank takes WIN-1251, KOI8-R and UTF-8: the dialect lists them, the reader tells
    them apart with the kit's rule and reads each right."""
    src = LAYOUTS / "sber-ls-fio-sum" / "partner" / SBER_NAME
    path = tmp_path / SBER_NAME
    path.write_bytes(src.read_bytes().decode("cp1251").encode(encoding))
    records, _ = read("sber-ls-fio-sum", path)
    assert records == CASES["sber-ls-fio-sum"][1]
    assert records[2].account == "ЛС-7/15"  # type: ignore[attr-defined]


def test_an_encoding_the_dialect_does_not_list_is_refused_without_the_names(
    tmp_path: Path,
) -> None:
    path = tmp_path / SBER_NAME
    text = (LAYOUTS / "gorod-debts" / "partner" / "gorod-130137.txt").read_bytes()
    path.write_bytes(text.decode("cp1251").encode("koi8-r"))  # «Город» lists cp1251, UTF-8
    with pytest.raises(RegistryRefused) as caught:
        read("gorod-debts", path)
    message = str(caught.value)
    assert "koi8-r" in message.lower()
    assert not any(n in message for n in NAMES)


def test_header_block_facts() -> None:
    _, report = read("gorod-debts", LAYOUTS / "gorod-debts" / "partner" / "gorod-130137.txt")
    header = report.header  # type: ignore[attr-defined]
    assert header.extra == (("type", "7"), ("service", "130137"))
    assert header.control.sums == {"amount": D("1471.86")}


# -- a partner's own dialects (examples/dialects) ------------------------------------------

EXAMPLES = Path(__file__).parents[3] / "examples" / "dialects"
PARTNER_ROWS = [
    "#FILESUM 1622,26",
    "#COUNT 2",
    "#PERIOD 11.2026",
    "#SERVICE 0042",
    f"Иванов Иван Иванович;+7 912 000-00-00;{ADDR};25АБ123456;000123;1272,26;Электроснабжение",
    "Петрова Анна;;Пермь,Ленина,10,12а;;0045;350,00;",
]


def _partner_debts(tmp_path: Path, rows: list[str], encoding: str = "koi8-r") -> Path:
    path = tmp_path / "partner.txt"
    path.write_bytes("".join(r + "\r\n" for r in rows).encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r", "utf-8"])
def test_a_partner_dialect_describes_its_layout_without_code(tmp_path: Path, encoding: str) -> None:
    from pes_sdk_csv import DialectFormat, load_dialect

    fmt = DialectFormat(load_dialect(EXAMPLES / "example-partner-debts.toml"))
    with fmt.open(_partner_debts(tmp_path, PARTNER_ROWS, encoding)) as reader:
        records = list(reader)
    assert records == [
        debt("000123", "1272.26", service="Электроснабжение", address=ADDR),
        debt("0045", "350.00", address="Пермь,Ленина,10,12а"),
    ]
    header = reader.report.header
    assert header.period == NOV and header.extra == (("service", "0042"),)
    assert header.control is not None and header.control.count == 2


@pytest.mark.parametrize(
    ("line", "text", "says"),
    [
        (0, "#FILESUM 1622,27", "control sum of amount is 1622.27"),
        (1, "#COUNT 3", "control count is 3"),
        (2, "#PERIOD 13.2026", "not a period MM.YYYY"),
        (1, "#FILESUM 1,00", "appears twice"),
    ],
)
def test_a_registry_failing_its_header_block_is_refused_whole(
    tmp_path: Path, line: int, text: str, says: str
) -> None:
    from pes_sdk_csv import DialectFormat, load_dialect

    rows = list(PARTNER_ROWS)
    rows[line] = text
    fmt = DialectFormat(load_dialect(EXAMPLES / "example-partner-debts.toml"))
    with pytest.raises(RegistryRefused) as caught, fmt.open(_partner_debts(tmp_path, rows)) as r:
        list(r)
    assert says in str(caught.value) and f"line {line + 1}" in str(caught.value)
    assert not any(n in str(caught.value) for n in NAMES)


def test_payments_are_written_in_the_layout_the_partner_loads(tmp_path: Path) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from pes_sdk_csv import DialectFormat, load_dialect

    from pes_sdk.models import PaymentRecord, RegistryHeader

    fmt = DialectFormat(load_dialect(EXAMPLES / "example-partner-payments.toml"))
    msk = ZoneInfo("Europe/Moscow")
    records = [
        PaymentRecord(
            dt.datetime(2026, 11, 27, 7, 15, tzinfo=msk), "100001", "000123",
            D("1272.26"), D("1254.96"), D("17.30"), H1, "12а", NOV, "Электроснабжение",
            service_code="01",
        ),
        PaymentRecord(
            dt.datetime(2026, 11, 27, 22, 40, tzinfo=msk), "100002", "0045",
            D("100.00"), D("98.64"), D("1.36"), service="Вывоз ТКО",
        ),
    ]  # fmt: skip
    out = tmp_path / "payments.txt"
    fmt.write(out, RegistryHeader(fmt.kind), records)
    assert out.read_bytes().decode("cp1251").split("\r\n") == [
        "#FILESUM 1372,26",
        "#COUNT 2",
        # The loader's zone is Yekaterinburg (MSK+2): 07:15 MSK is 09:15 there, and
        # 22:40 MSK on the 27th is 00:40 on the 28th.
        "27.11.2026;09:15;000123;;11.2026;01;Электроснабжение;1272,26;1254,96;17,30;100001",
        "28.11.2026;00:40;0045;;;;Вывоз ТКО;100,00;98,64;1,36;100002",
        "",
    ]
    with fmt.open(out) as reader:
        back = list(reader)
    assert [(r.account, r.amount, r.service_code) for r in back] == [  # type: ignore[attr-defined]
        ("000123", D("1272.26"), "01"),
        ("0045", D("100.00"), ""),
    ]
    assert reader.report.header.control.sums == {  # type: ignore[union-attr]
        "amount": D("1372.26"),
    }


def test_validate_keeps_an_address_as_text_without_a_house_directory() -> None:
    from click.testing import CliRunner

    from pes_sdk.cli.main import cli
    from pes_sdk.plugins import PluginHost

    path = LAYOUTS / "sber-ls-fio-address" / "partner" / SBER_NAME
    result = CliRunner().invoke(
        cli, ["validate", "--format", "sber-ls-fio-address", str(path)], obj=PluginHost()
    )
    assert result.exit_code == 0, result.output
    assert not any(n in result.output for n in NAMES)


def test_guid_and_premises_in_one_cell_in_a_six_column_layout(tmp_path: Path) -> None:
    """A layout with the six debt columns of the fast path, but "GUID,кв" in one cell
    (and so no premises column): read by the careful path, the cell split."""
    from pes_sdk_csv import DialectFormat, parse_dialect

    cols = [
        ("ls", "account", "account"), ("dom", "house_id", "guid_premises"),
        ("sum", "amount", "amount"), ("per", "period", "period"),
        ("usl", "service", "text"), ("kod", "service_code", "text"),
    ]  # fmt: skip
    dialect = parse_dialect(
        {
            "name": "six",
            "kind": "debts",
            "encoding": "cp1251",
            "period_format": "MMYY",
            "columns": [{"name": n, "field": f, "type": t} for n, f, t in cols],
        }
    )
    fmt = DialectFormat(dialect)
    assert fmt.fast_rows is None
    path = tmp_path / "r.txt"
    rows = [f"{i:04d};{H1},{i}а;{i}.00;1126;Электроснабжение;01\r\n" for i in range(1, 2000)]
    path.write_bytes("".join(rows).encode("cp1251"))
    with fmt.open(path) as reader:
        records = list(reader)
    assert len(records) == 1999
    assert (records[4].house_id, records[4].premises.text, records[4].period) == (H1, "5а", NOV)


def test_a_header_block_without_a_period_round_trips(tmp_path: Path) -> None:
    from pes_sdk_csv import DialectFormat, load_dialect

    from pes_sdk.models import RegistryHeader

    fmt = DialectFormat(load_dialect(EXAMPLES / "example-partner-debts.toml"))
    out = tmp_path / "r.txt"
    records = [debt("000123", "1.00", address=ADDR)]
    fmt.write(out, RegistryHeader(fmt.kind), records)
    assert out.read_bytes().startswith(b"#FILESUM 1,00\r\n#COUNT 1\r\n#PERIOD \r\n#SERVICE \r\n")
    with fmt.open(out) as reader:
        assert list(reader) == records
    assert reader.report.header.period is None
